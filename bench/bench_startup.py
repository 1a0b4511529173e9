"""Benchmark: start-up of the headless CLI — ``lmi-wizard --version`` and ``lmi-wizard doctor --offline`` — as a
ratio to ``python -c pass`` (same interpreter, measured in the same run), and the heavy modules each one
imports (none of tensorrt_llm, tensorrt, torch, boto3, textual, huggingface_hub, questionary may be loaded
by --version or doctor).

    .venv/bin/python bench/bench_startup.py            # 15 runs each, median
    .venv/bin/python bench/bench_startup.py --runs 5

Prints figures; asserts nothing (exit status 0 even when a heavy module shows up: the line says so).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("tensorrt_llm", "tensorrt", "torch", "boto3", "botocore", "s3transfer", "textual", "rich",
         "huggingface_hub", "questionary", "prompt_toolkit", "numpy", "moto", "tritonclient", "google.protobuf",
         "grpc", "requests", "urllib3")

# runs the console script's entry point like the installed `lmi-wizard` does, then reports sys.modules
PROBE = r"""
import sys, json, io, contextlib
argv = json.loads(sys.argv[1])
from lmi_wizard.tui.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
print(json.dumps({"rc": rc, "modules": sorted(sys.modules)}))
"""


def heavy_imports(argv: list[str], env: dict) -> tuple[list[str], int]:
    res = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True, env=env)
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    mods = set(doc["modules"])
    found = [h for h in HEAVY if h in mods or any(m.startswith(h + ".") for m in mods)]
    return found, len(mods)


def import_time_top(argv: list[str], env: dict, n: int = 8) -> list[tuple[int, str]]:
    """The slowest imports (cumulative µs) of the lmi_wizard packages and the top-level third-party ones."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE, json.dumps(argv)], capture_output=True,
                         text=True, env=env)
    rows = []
    for line in res.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        name = name.strip()
        if depth <= 1 or name.startswith("lmi_wizard"):
            rows.append((int(parts[1]), name))
    return sorted(rows, reverse=True)[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    env = dict(os.environ)
    script = Path(sys.executable).with_name("lmi-wizard")
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "lmi_wizard.tui.main"]
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("lmi-wizard --version", cli + ["--version"], ["--version"]),
        ("lmi-wizard doctor --offline", cli + ["doctor", "--offline"], ["doctor", "--offline"]),
        ("lmi-wizard doctor --offline --json", cli + ["doctor", "--offline", "--json"],
         ["doctor", "--offline", "--json"]),
        ("lmi-wizard --help", cli + ["--help"], ["--help"]),
    ]
    print(f"interpreter {sys.version.split()[0]}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; "
          f"median of {args.runs} runs; entry: {' '.join(cli)}")
    timings: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for _ in range(args.runs):  # round-robin: load from other processes hits every case alike
        for name, argv, _ in cases:
            t = time.perf_counter()
            res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            timings[name].append(time.perf_counter() - t)
            if res.returncode not in (0, 1):
                raise SystemExit(f"{argv} exited {res.returncode}")
    base = statistics.median(timings[cases[0][0]])
    print(f"\n{'command':<36} {'median s':>9} {'min s':>7} {'ratio':>6}  heavy modules imported")
    for name, argv, probe in cases:
        med, best = statistics.median(timings[name]), min(timings[name])
        heavy = ""
        if probe is not None:
            found, n = heavy_imports(probe, env)
            heavy = (", ".join(found) if found else "none") + f"  ({n} modules)"
        print(f"{name:<36} {med:>9.3f} {best:>7.3f} {med / base:>6.2f}  {heavy}")
    print("\nslowest top-level imports of `doctor --offline` (cumulative µs):")
    for cum, mod in import_time_top(["doctor", "--offline"], env):
        print(f"  {cum:>8}  {mod}")
    print("\nwhere `doctor --offline` spends its time after start-up (in-process cProfile, cumulative s):")
    for cum, name in doctor_profile(env):
        print(f"  {cum:>7.3f}  {name}")
    return 0


PROFILE = r"""
import cProfile, pstats, io, contextlib, json
from lmi_wizard.tui.main import main
prof = cProfile.Profile()
with contextlib.redirect_stdout(io.StringIO()):
    prof.runcall(main, ["doctor", "--offline"])
st = pstats.Stats(prof)
rows = []
for (fn, line, name), (cc, nc, tt, ct, callers) in st.stats.items():
    if fn.startswith(ROOT) or name in ("distribution", "distributions", "nvmlInit", "_load_library"):
        rows.append((ct, f"{fn.split('/')[-1]}:{line} {name}"))
print(json.dumps(sorted(rows, reverse=True)[:10]))
"""


def doctor_profile(env: dict) -> list[tuple[float, str]]:
    code = "ROOT = " + repr(str(ROOT)) + "\n" + PROFILE
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    try:
        return [tuple(r) for r in json.loads(res.stdout.strip().splitlines()[-1])]
    except (ValueError, IndexError):
        return [(0.0, f"profile failed: {res.stderr[-300:]}")]


if __name__ == "__main__":
    raise SystemExit(main())
