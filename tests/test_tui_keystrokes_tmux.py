"""No lost keystroke (issue 13 item 3), in a real terminal: ``lmi-wizard`` in tmux at 80x24, keys sent with
``tmux send-keys`` without any delay, a paste sent as a bracketed paste; what the field shows and what the state
file holds must be exactly what was typed. Covers the keys typed before screen 1's fields exist (replayed into the
first field), Ctrl+U racing the characters after it (a field's own editing keys run in typing order), the focused
field kept visible at 80x24, and Ctrl+Q right after the last key (the fields are committed before quitting)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmi_wizard.core.wizard import recipe as R

TMUX = shutil.which("tmux")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(TMUX is None, reason="tmux is not installed")]
LMI_WIZARD = Path(sys.executable).with_name("lmi-wizard")
REPS = 20


class Term:
    def __init__(self, sock: str) -> None:
        self.sock = sock

    def tmux(self, *args: str) -> str:
        return subprocess.run([TMUX, "-L", self.sock, *args], capture_output=True, text=True, timeout=20).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "k")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "k", *keys)

    def paste(self, text: str) -> None:
        self.tmux("set-buffer", text)
        self.tmux("paste-buffer", "-p", "-t", "k")  # -p: bracketed, as a terminal pastes

    def field_line(self, label: str) -> str:
        return next((ln for ln in self.screen().splitlines() if ln.lstrip().startswith(label)), "")

    def wait_field(self, label: str, value: str, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            line = self.field_line(label)
            if line[len(line) - len(line.lstrip()) + len(label):].strip() == value:
                return
            time.sleep(0.05)
        raise AssertionError(f"{label} does not show exactly {value!r}; screen:\n{self.screen()}")


def start(tmp_path: Path, state: Path, name: str) -> tuple[Term, Path]:
    rc = tmp_path / f"rc-{name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "AWS_", "HF_"))}
    env.update(TERM="xterm-256color", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    term = Term(f"lmiwk-{os.getpid()}-{name}")
    subprocess.run([TMUX, "-L", term.sock, "-f", os.devnull, "new-session", "-d", "-s", "k", "-x", "80", "-y", "24",
                    "bash", "--norc", "--noprofile", "-c", f"{LMI_WIZARD} --state {state}; echo $? > {rc}"],
                   env=env, check=True, timeout=20)
    return term, rc


def quit_and_wait(term: Term, rc: Path) -> None:
    term.keys("C-q")
    end = time.monotonic() + 30
    while not rc.exists() and time.monotonic() < end:
        time.sleep(0.1)
    term.tmux("kill-server")
    assert rc.exists() and rc.read_text().strip() == "0"


def test_version_typed_at_full_speed_is_exactly_what_was_typed(tmp_path):
    state = tmp_path / "state.toml"
    a = R.loads_recipe('[env]\ntrtllm_version = "0.12.0"\n', require=False)
    R.save_state(R.WizardState(a, "environment", None, state))
    term, rc = start(tmp_path, state, "v")
    try:
        # as soon as the app has painted (before the terminal is raw, the tty itself would eat Ctrl+U), with no
        # wait for the first screen's fields: kept and typed into the first field when it exists
        end = time.monotonic() + 60
        while "Step 1/" not in term.screen() and time.monotonic() < end:
            time.sleep(0.02)
        term.keys("C-u", "0.21.0rc1")
        term.wait_field("TensorRT-LLM version*", "0.21.0rc1", 60)  # and the focused field is on screen at 80x24
        last = "0.21.0rc1"
        for i in range(REPS):
            last = f"0.{10 + i}.{i}rc{i + 1}" if i % 2 else f"0.{10 + i}.0"
            term.keys("C-u", last)  # clear and type, no delay
            term.wait_field("TensorRT-LLM version*", last)
        term.keys("BSpace", "BSpace", "7")  # quick edits, then quit right away
        last = last[:-2] + "7"
        quit_and_wait(term, rc)
    finally:
        term.tmux("kill-server")
    assert R.load_state(state).answers["env.trtllm_version"] == last


def test_paste_after_ctrl_u_is_never_dropped(tmp_path):
    state = tmp_path / "state.toml"
    a = R.loads_recipe('[env]\ntrtllm_version = "0.12.0"\n[checkout]\nwork_dir = "/tmp/lmiw-start"\n', require=False)
    R.save_state(R.WizardState(a, "checkout", None, state))
    term, rc = start(tmp_path, state, "p")
    try:
        term.wait_field("Work folder*", "/tmp/lmiw-start", 60)
        last = ""
        for i in range(REPS):
            last = f"/tmp/lmiw-p/{i}-https:--m{i}.ex/b.git"  # fits the field at 80 columns
            term.keys("C-u")
            term.paste(last)  # right after Ctrl+U, no delay
            term.wait_field("Work folder*", last)
        # Tab to the next field and type at once: every key lands in the field Tab moved to
        term.keys("Tab", "C-u", "my-checkout")
        term.wait_field("Checkout folder*", "my-checkout")
        quit_and_wait(term, rc)
    finally:
        term.tmux("kill-server")
    saved = R.load_state(state).answers
    assert saved["checkout.work_dir"] == last and saved["checkout.dir"] == "my-checkout"
