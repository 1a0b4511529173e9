#!/usr/bin/env python3
"""TUI benchmarks (figures printed, nothing asserted):

1. start-up: time from launching ``lmi-wizard`` in a pseudo-terminal until the first screen's text is on
   the terminal, as a ratio to a minimal Textual app (one Static + Footer) launched the same way in the
   same round (paired rounds; the median of the per-round ratios; target <= 1.5x);
2. log pane: lines per second the LogPane renders when a thread pushes 1,000,000 lines as fast as it
   can, the memory it holds afterwards (bounded by ``max_lines``), and whether it keeps up with a builder
   printing 10,000 lines per second (the backlog never grows).

    .venv/bin/python bench/bench_tui.py [--runs 5] [--lines 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIZARD = Path(sys.executable).with_name("lmi-wizard")
WIZARD_CMD = [str(WIZARD)] if WIZARD.exists() else [sys.executable, "-m", "lmi_wizard.tui.main"]


def time_python_pass(runs: int) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


MINIMAL_APP = ("from textual.app import App\nfrom textual.widgets import Static, Footer\n"
               "class A(App):\n    def compose(self):\n        yield Static('Step 1/1 minimal')\n"
               "        yield Footer()\nA().run()\n")


def time_first_screen(runs: int, marker: bytes = b"Step 1/", argv: list[str] | None = None,
                      pythonpath: str | None = None) -> float:
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", LINES="32", HOME=tmp,
                       XDG_CONFIG_HOME=tmp)
            if pythonpath:
                env["PYTHONPATH"] = pythonpath
            master, slave = pty.openpty()
            t = time.perf_counter()
            cmd = argv or WIZARD_CMD + ["--state", os.path.join(tmp, "state.toml")]
            proc = subprocess.Popen(cmd, stdin=slave,
                                    stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True)
            os.close(slave)
            buf = b""
            seen = None
            while time.perf_counter() - t < 20:
                r, _, _ = select.select([master], [], [], 0.05)
                if r:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    buf += chunk
                    if marker in buf:
                        seen = time.perf_counter() - t
                        break
            try:
                os.write(master, b"\x11")  # Ctrl+Q
                proc.wait(timeout=5)
            except Exception:
                proc.kill()
                proc.wait()
            os.close(master)
            if seen is None:
                raise SystemExit(f"first screen did not appear; output tail: {buf[-400:]!r}")
            out.append(seen)
    return statistics.median(out)


def time_first_screen_tmux(runs: int, marker: str = "Step 1/", argv: list[str] | None = None) -> float | None:
    """Same, inside tmux (a real terminal emulator that answers Textual's terminal queries): the time
    from ``new-session`` until the marker is on the tmux screen (polled every 5 ms)."""
    import shlex
    import shutil

    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    out = []
    sock = f"bench-{os.getpid()}-{len(argv or [])}"
    # one long-lived session keeps the tmux server up between runs
    subprocess.run([tmux, "-L", sock, "-f", os.devnull, "new-session", "-d", "-s", "keep", "sleep 600"], check=True)
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = argv or WIZARD_CMD + ["--state", os.path.join(tmp, "state.toml")]
            env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp)
            t = time.perf_counter()
            subprocess.run([tmux, "-L", sock, "-f", os.devnull, "new-session", "-d", "-s", f"b{i}", "-x", "100",
                            "-y", "32", shlex.join(cmd)], env=env, check=True)
            seen = None
            while time.perf_counter() - t < 20:
                screen = subprocess.run([tmux, "-L", sock, "capture-pane", "-p", "-t", f"b{i}"],
                                        capture_output=True, text=True).stdout
                if marker in screen:
                    seen = time.perf_counter() - t
                    break
                time.sleep(0.005)
            subprocess.run([tmux, "-L", sock, "kill-session", "-t", f"b{i}"], capture_output=True)
            if seen is not None:
                out.append(seen)
    subprocess.run([tmux, "-L", sock, "kill-server"], capture_output=True)
    return statistics.median(out) if out else None


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def log_pane(lines: int, max_lines: int) -> dict:
    from textual.app import App

    sys.path.insert(0, str(ROOT))
    from lmi_wizard.tui.widgets.logpane import LogPane

    class Bench(App):
        def compose(self):
            yield LogPane(max_lines=max_lines)

    app = Bench()
    res: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        rss0 = _rss_mib()
        line = "[TensorRT-LLM][INFO] building layer 17/40: fused attention plugin, 4096x4096 fp16 tactic 0x1f"

        def flood():
            batch = 1000
            for i in range(0, lines, batch):
                pane.push_many(f"{line} #{j}" for j in range(i, min(i + batch, lines)))

        t = time.perf_counter()
        th = threading.Thread(target=flood)
        th.start()
        while th.is_alive() or pane._pending:
            await pilot.pause(0.02)
        res["flood_s"] = time.perf_counter() - t
        res["flood_lines_per_s"] = lines / res["flood_s"]
        res["shown"] = pane.log_widget.line_count
        res["rss_growth_mib"] = _rss_mib() - rss0
        res["last_line_ok"] = pane.log_widget.lines[-1].endswith(f"#{lines - 1}")

        # a builder printing 10,000 lines per second for 3 s: does the backlog stay small?
        stop = threading.Event()
        backlog = []

        def paced():
            n = 0
            t0 = time.perf_counter()
            while not stop.is_set():
                due = int((time.perf_counter() - t0) * 10_000)
                if due > n:
                    pane.push_many(f"paced {k}" for k in range(n, due))
                    n = due
                time.sleep(0.005)

        th = threading.Thread(target=paced)
        th.start()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 3.0:
            await pilot.pause(0.05)
            backlog.append(len(pane._pending))
        stop.set()
        th.join()
        res["paced_max_backlog_lines"] = max(backlog)
        res["paced_mean_backlog_lines"] = statistics.mean(backlog)
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="TUI benchmarks")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--max-lines", type=int, default=20_000)
    p.add_argument("--no-log", action="store_true", help="start-up figures only")
    p.add_argument("--before", metavar="DIR",
                   help="also time another copy of the code in the same rounds: DIR on PYTHONPATH holds an "
                        "lmi_wizard package (e.g. `git archive` of an older commit, core/ and tui/ linked into it)")
    p.add_argument("--no-tmux", action="store_true", help="skip the start-up rounds inside tmux")
    args = p.parse_args(argv)
    # paired rounds: python -c pass, the minimal Textual app and the wizard one after another in each round,
    # the ratio taken within a round (the machine's load moves between rounds), then the median of rounds
    rounds = []
    minimal_argv = [sys.executable, "-c", MINIMAL_APP]
    for _ in range(args.runs):
        base = time_python_pass(1)
        floor = time_first_screen(1, argv=minimal_argv)
        first = time_first_screen(1)
        before = time_first_screen(1, pythonpath=args.before) if args.before else None
        rounds.append((base, floor, first, before))
    base = statistics.median(r[0] for r in rounds)
    floor = statistics.median(r[1] for r in rounds)
    first = statistics.median(r[2] for r in rounds)
    ratios = sorted(r[2] / r[1] for r in rounds)
    fastest = min(r[2] for r in rounds) / min(r[1] for r in rounds)  # the least disturbed round of each
    print(f"start-up ({args.runs} paired rounds): python -c pass {base * 1000:.0f} ms; a minimal Textual app "
          f"(one Static + Footer) {floor * 1000:.0f} ms; lmi-wizard first screen {first * 1000:.0f} ms; "
          f"ratio to the minimal app: median {statistics.median(ratios):.2f}x "
          f"(rounds {', '.join(f'{x:.2f}' for x in ratios)}; fastest/fastest {fastest:.2f}x; target <= 1.5x)")
    if args.before:
        bratios = sorted(r[3] / r[1] for r in rounds)
        bfastest = min(r[3] for r in rounds) / min(r[1] for r in rounds)
        print(f"  the same rounds, the code in {args.before} (before): first screen "
              f"{statistics.median(r[3] for r in rounds) * 1000:.0f} ms; ratio median {statistics.median(bratios):.2f}x "
              f"(rounds {', '.join(f'{x:.2f}' for x in bratios)}; fastest/fastest {bfastest:.2f}x)")
    if not args.no_tmux:
        tround = []
        for _ in range(max(1, args.runs // 2)):
            tfloor = time_first_screen_tmux(1, argv=minimal_argv)
            tfirst = time_first_screen_tmux(1)
            if tfloor and tfirst:
                tround.append((tfloor, tfirst))
        if tround:
            print(f"start-up in tmux (answers terminal queries): minimal Textual app "
                  f"{statistics.median(t[0] for t in tround) * 1000:.0f} ms; lmi-wizard first screen "
                  f"{statistics.median(t[1] for t in tround) * 1000:.0f} ms; ratio median "
                  f"{statistics.median(t[1] / t[0] for t in tround):.2f}x")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.no_log:
        return 0
    r = asyncio.run(log_pane(args.lines, args.max_lines))
    print(f"log pane: {args.lines:,} lines in {r['flood_s']:.2f} s = {r['flood_lines_per_s']:,.0f} lines/s rendered; "
          f"{r['shown']:,} kept (max_lines {args.max_lines:,}); RSS growth {r['rss_growth_mib']:.1f} MiB; "
          f"last line correct: {r['last_line_ok']}")
    print(f"log pane at 10,000 lines/s for 3 s: backlog max {r['paced_max_backlog_lines']:,} lines, "
          f"mean {r['paced_mean_backlog_lines']:,.0f} (bounded ⇒ it keeps up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
