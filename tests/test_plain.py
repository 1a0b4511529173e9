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
from lmi_wizard.core.base.errors import WizardError
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
    # advanced settings: no; checkout: work folder, then Ctrl-C on the next prompt
    keys = (CLEAR + "not-a-version\r" + CLEAR + "0.21.0\r" + "\r" + "\r" + CLEAR + str(tmp_path / "w") + "\r"
            + "\x03")
    rc, text = run_plain(state, keys)
    assert rc == 130
    saved = R.load_state(state)
    # the refusal is printed whole: the field, the problem and its fix (never cut to the prompt's one line)
    field = S.FIELDS["env.trtllm_version"]
    try:
        whole = field.check(field.parse("not-a-version"), saved.answers).text()
    except WizardError as exc:
        whole = str(exc)
    assert f"✗ {field.label}: {whole}" in text.splitlines()
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
    # Done prints the three LMI configurations, as the Done screen's tabs show them
    for title in ("lmi.env", "serving.properties (S3 model_id)", "/opt/ml/model/serving.properties"):
        assert title in text
    props = (work / "lmi-configs/serving.properties").read_text()
    assert props.strip() in text
    assert R.load_state(state).last_step == "done"


def test_every_visible_field_of_every_step_is_asked_as_the_full_screen_app_does(remotes, tmp_path, monkeypatch):  # noqa: F811
    """Issue 13 §9: plain mode is the same wizard — the fields of each step that the schema makes visible for
    these answers (advanced ones included: mirror URLs, builder flags, S3 endpoint/profile …) are all asked.
    The expected list comes from the schema (``Step.fields`` and ``Field.is_visible``), not from plain.py."""
    from lmi_wizard.core.wizard.session import FORM_STEPS_END

    work = tmp_path / "work"
    answers = tutorial_recipe(remotes, work, "s3://lmi-llm/trtllm/baichuan/")
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(answers, None, None, state))
    asked: dict[str, list[str]] = {}
    current = {"step": None}
    real_step, real_field = plain.PlainWizard.ask_step, plain.PlainWizard.ask_field

    def ask_step(self, step):
        current["step"] = step.key
        asked.setdefault(step.key, [])
        return real_step(self, step)

    def ask_field(self, f):
        asked[current["step"]].append(f.key)
        return real_field(self, f)

    monkeypatch.setattr(plain.PlainWizard, "ask_step", ask_step)
    monkeypatch.setattr(plain.PlainWizard, "ask_field", ask_field)
    monkeypatch.setattr(plain.PlainWizard, "review_and_run", lambda self: 0)
    rc, text = run_plain(state, "\r" * 200, advanced=True)
    assert rc == 0, text[-2000:]
    final = R.load_state(state).answers
    expected = {s.key: [f.key for f in s.fields if f.is_visible(final)]
                for s in S.steps_for(final) if s.key not in FORM_STEPS_END}
    assert set(asked) == set(expected)
    for step, keys in expected.items():
        assert keys and set(keys) <= set(asked[step]), (step, sorted(set(keys) - set(asked[step])))
    advanced = {f.key for s in S.steps_for(final) for f in s.fields if f.advanced and f.is_visible(final)}
    assert {"checkout.backend_url", "checkout.trtllm_url"} <= advanced  # the mirror URLs are among them
    assert advanced <= {k for keys in asked.values() for k in keys}
