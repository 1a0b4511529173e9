"""End to end in a real terminal: ``lmi-wizard`` runs inside tmux (a private server socket), keys are
sent with ``tmux send-keys``, the screen is read with ``capture-pane``; the final files are checked on
disk. Same prepared environment as the Pilot tests (git fixtures over file://, fake Hub via HF_ENDPOINT,
stand-in builder)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmi_wizard.core.wizard import recipe as R
from tests.support.pipeline import tutorial_recipe

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
LMI_WIZARD = Path(sys.executable).with_name("lmi-wizard")


class Term:
    def __init__(self, sock: str, name: str) -> None:
        self.sock, self.name = sock, name

    def tmux(self, *args: str) -> str:
        return subprocess.run([TMUX, "-L", self.sock, *args], capture_output=True, text=True, timeout=20).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; screen:\n{self.screen()}")

    def alive(self) -> bool:
        return self.name in self.tmux("list-sessions", "-F", "#{session_name}")


def test_wizard_in_tmux_from_first_screen_to_done(remotes, hub, tmp_path):  # noqa: F811
    work = tmp_path / "work"
    answers = tutorial_recipe(remotes, work, "lmi-llm/baichuan-13b-tp2/baichuan-13b-chat/")
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(answers, None, None, state))
    rc_file = tmp_path / "rc"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "AWS_", "HF_"))}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_TELEMETRY="1", TERM="xterm-256color",
               HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    sock = f"lmiw-{os.getpid()}"
    term = Term(sock, "wiz")
    cmd = f"{LMI_WIZARD} --state {state}; echo $? > {rc_file}"
    subprocess.run([TMUX, "-L", sock, "-f", os.devnull, "new-session", "-d", "-s", "wiz", "-x", "100", "-y", "32",
                    "bash", "--norc", "--noprofile", "-c", cmd], env=env, check=True, timeout=20)
    try:
        term.wait_for("Step 1/9", 30)
        term.wait_for("tensorrt-llm")  # the detection report is on screen
        steps = ["Checkout", "Model", "Build flags", "Triton config", "Tokenizer & destination", "Review"]
        for i, title in enumerate(steps, start=2):
            term.keys("C-n")
            term.wait_for(f"Step {i}/9  {title}", 30)
        term.wait_for("lmi-wizard plan", 30)  # the script is shown
        term.keys("C-n")  # Run
        term.wait_for("Step 8/9", 30)
        term.wait_for("✓ finished", 120)  # the Run screen's own status (Review also says "finished")
        term.keys("C-n")
        term.wait_for("Step 9/9  Done", 30)
        assert "LMI model_id" in term.screen()
        term.keys("C-n")  # Quit
        end = time.monotonic() + 20
        while not rc_file.exists() and time.monotonic() < end:
            time.sleep(0.1)
        assert rc_file.read_text().strip() == "0"
    finally:
        if term.alive():
            term.tmux("kill-session", "-t", "wiz")
        term.tmux("kill-server")
    dest = work / "lmi-llm/baichuan-13b-tp2/baichuan-13b-chat"
    for name in ("config.pbtxt", "tokenizer_config.json", "tokenization_baichuan.py",
                 "1/baichuan_float16_tp2_rank0.engine", "1/baichuan_float16_tp2_rank1.engine"):
        assert (dest / name).is_file(), name
    pbtxt = (dest / "config.pbtxt").read_text()
    assert "decoupled: True" in pbtxt and "/opt/ml/model/tensorrt_llm/1" in pbtxt
    assert (work / "lmi-configs" / "serving.properties").is_file()
    assert R.load_state(state).last_step == "done"


def test_plain_mode_in_tmux_enter_through_saved_answers(remotes, hub, tmp_path):  # noqa: F811
    """``lmi-wizard --plain`` in a real terminal: questionary prompts show the saved answers as defaults;
    Enter through them, confirm the run, and the model repository lands on disk."""
    work = tmp_path / "work"
    answers = tutorial_recipe(remotes, work, "lmi-llm/baichuan-13b-tp2/baichuan-13b-chat/")
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(answers, None, None, state))
    rc_file = tmp_path / "rc"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "AWS_", "HF_"))}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_PROGRESS_BARS="1", TERM="xterm-256color",
               HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    sock = f"lmiwp-{os.getpid()}"
    term = Term(sock, "plain")
    cmd = f"{LMI_WIZARD} --plain --state {state}; echo $? > {rc_file}"
    subprocess.run([TMUX, "-L", sock, "-f", os.devnull, "new-session", "-d", "-s", "plain", "-x", "120", "-y", "40",
                    "bash", "--norc", "--noprofile", "-c", cmd], env=env, check=True, timeout=20)
    try:
        term.wait_for("TensorRT-LLM version", 30)
        end = time.monotonic() + 120
        last, still = "", 0
        while not rc_file.exists() and time.monotonic() < end:
            screen = term.screen()
            still = still + 1 if screen == last else 0
            last = screen
            if still >= 2 and "== Run ==" not in screen:  # a prompt waits: accept its default
                term.keys("Enter")
                still = 0
            time.sleep(0.15)
        assert rc_file.exists(), term.screen()
        assert rc_file.read_text().strip() == "0", term.screen()
    finally:
        term.tmux("kill-server")
    dest = work / "lmi-llm/baichuan-13b-tp2/baichuan-13b-chat"
    assert (dest / "config.pbtxt").is_file() and (dest / "1" / "baichuan_float16_tp2_rank0.engine").is_file()
    assert R.load_state(state).last_step == "done"
