"""lmi-wizard and a builder as real processes (test_faults, test_orphans): the CLI's argv, the folder it runs
in, and a two-step build whose converter hangs (ignoring SIGTERM) with a worker child, recording its pids."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.hubserver import llama_repo
from tests.stand_ins.layout import install_console_script, install_stand_in, make_checkout

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]  # the project folder: the CLI subprocesses run there
CLI = [PY, "-m", "lmi_wizard.tui.main"]


def hanging_build(fixtures_dir: Path, tmp_path: Path, extra=()):
    """``lmi-wizard build`` over a checkout whose convert_checkpoint.py is the hang stand-in (pids into
    ``HANG_PIDS_FILE``); returns (example folder, pids file, env, argv)."""
    ex = make_checkout(fixtures_dir, tmp_path / "co", "main")
    install_stand_in("hang.py", ex / "convert_checkpoint.py")
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_bytes(llama_repo().files["config.json"])
    bindir = tmp_path / "bin"  # the second step's program must exist before the first runs
    install_console_script(bindir, "trtllm-build", "fake_trtllm_build.py", PY)
    pids = tmp_path / "pids"
    env = dict(os.environ, HANG_PIDS_FILE=str(pids), HANG_IGNORE_TERM="1",
               PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    argv = CLI + ["build", "--example-dir", str(ex), "--model-dir", str(tmp_path / "hf"), "--tp", "2",
                  "--output-dir", "engines", "--python", PY, "--log", str(tmp_path / "build.log"), *extra]
    return ex, pids, env, argv

