"""``lmi-wizard --plain``: questionary prompts rendered from core.wizard, driven with piped keystrokes
(prompt_toolkit's create_pipe_input + DummyOutput), over the same prepared environment as the TUI tests."""

from __future__ import annotations

import io
import types
from pathlib import Path

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.core import wizard as S
from lmi_wizard.tui import plain
from tests.support.pipeline import tutorial_recipe

CLEAR = "\x15"  # Ctrl-U: clear the pre-filled default of a text prompt


def run_plain(state: Path, keys: str, **kw) -> tuple[int, str]:
    out = io.StringIO()
    with create_pipe_input() as inp:
        inp.send_text(keys)
        rc = plain.main(types.SimpleNamespace(state=str(state), plain=True), input=inp, output=DummyOutput(),
                        out=out, **kw)
    return rc, out.getvalue()


def test_ctrl_c_saves_and_exits_130(tmp_path):
    state = tmp_path / "state.toml"
    rc, text = run_plain(state, CLEAR + "0.12.0\x03")
    assert rc == 130 and "answers saved" in text
    assert state.exists()


def test_validation_rejects_then_accepts_and_answers_are_saved_per_step(tmp_path):
    state = tmp_path / "state.toml"
    # environment: a bad version is refused by the field's validator, then a good one; layout: default;
    # checkout: work folder, then Ctrl-C on the next prompt
    keys = CLEAR + "not-a-version\r" + CLEAR + "0.21.0\r" + "\r" + CLEAR + str(tmp_path / "w") + "\r" + "\x03"
    rc, text = run_plain(state, keys)
    assert rc == 130
    saved = R.load_state(state)
    assert saved.answers["env.trtllm_version"] == "0.21.0"
    assert saved.last_step == "environment"


def test_whole_flow_with_piped_input_runs_the_pipeline(remotes, hub, tmp_path):  # noqa: F811
    work = tmp_path / "work"
    answers = tutorial_recipe(remotes, work, "lmi-llm/trtllm/baichuan-13b-tp2/baichuan-13b-chat/")
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(answers, None, None, state))
    # every prompt shows the saved answer as its default: Enter through all of them, then "Run it now?" yes
    rc, text = run_plain(state, "\r" * 60, pipeline_options={"hf_endpoint": hub.endpoint})
    assert rc == 0, text[-2000:]
    assert "== Review ==" in text and "fill_template.py" in text
    assert "[done] Build engines" in text
    dest = work / "lmi-llm/trtllm/baichuan-13b-tp2/baichuan-13b-chat"
    assert (dest / "config.pbtxt").is_file() and (dest / "tokenizer_config.json").is_file()
    assert (dest / "1" / "baichuan_float16_tp2_rank1.engine").is_file()
    assert f"LMI model_id: {work / 'lmi-llm/trtllm/baichuan-13b-tp2'}" in text
    assert R.load_state(state).last_step == "done"
