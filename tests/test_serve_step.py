"""The ``serve_test`` pipeline step (issue 14): the load test before publish, in a real run.

Real components: the pipeline with a prebuilt flat engine folder (no checkout, no build), the real tokenizer
step on a local folder, boto3 against moto's S3 server on 127.0.0.1 (tests/s3server.py), and the djl-serving
STAND-IN (tests/stand_ins/djl_serving_standin.py, which keeps djl-serving's observable contract and fails on
purpose) installed as ``djl-serving`` on PATH. The schema part uses the real recipe loader/writer.
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pytest

from lmi_wizard.core import pipeline as P
from lmi_wizard.core import wizard as S
from lmi_wizard.core.base.events import StepEvent
from lmi_wizard.core.serve.server import DEFAULT_COMMANDS
from lmi_wizard.core.wizard import recipe as R
from tests.hubserver import qwen_repo
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.stand_ins.layout import install_console_script
from tests.support.serve import SERVE, assert_nothing_left

BUCKET, PREFIX = "lmi-llm", "trtllm/qwen-tp1/"


@pytest.fixture
def djl(tmp_path, monkeypatch):
    """``djl-serving`` (the stand-in) first on PATH, flat-layout LMI (0.33), its record file."""
    bindir = tmp_path / "bin"
    install_console_script(bindir, "djl-serving", "djl_serving_standin.py", sys.executable)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    rec = tmp_path / "standin-record.json"
    monkeypatch.setenv("STANDIN_RECORD", str(rec))
    monkeypatch.setenv("STANDIN_LOAD_DELAY", "0.2")
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    for k in ("STANDIN_FAIL", "STANDIN_WORKERS", "STANDIN_LEADER_IGNORES_TERM"):
        monkeypatch.delenv(k, raising=False)
    return types.SimpleNamespace(rec=rec, read=lambda: json.loads(rec.read_text()))


def prebuilt_flat(tmp_path: Path, uri: str, serve: str = "enabled = true", extra: str = "") -> S.Answers:
    """A prebuilt flat engine folder (trtllm-build output, TP 1) + a local tokenizer folder, to ``uri``."""
    return R.loads_recipe(flat_text(tmp_path, uri, serve, extra), ctx=S.Context(installed_trtllm=None, gpus=[]))


def flat_text(tmp_path: Path, uri: str, serve: str = "enabled = true", extra: str = "") -> str:
    """The recipe of :func:`prebuilt_flat` (its engine and tokenizer folders made under ``tmp_path``)."""
    edir = tmp_path / "engines"
    edir.mkdir(parents=True, exist_ok=True)
    (edir / "rank0.engine").write_bytes(b"E" * 100)
    (edir / "config.json").write_text(json.dumps({
        "version": "0.21.0rc1",
        "pretrained_config": {"architecture": "QWenForCausalLM", "dtype": "bfloat16",
                              "mapping": {"world_size": 1, "tp_size": 1, "pp_size": 1}},
        "build_config": {"max_batch_size": 16, "max_input_len": 1024, "max_seq_len": 2048}}))
    tok = tmp_path / "qwen"
    if not tok.exists():
        for name, data in qwen_repo().files.items():
            (tok / name).parent.mkdir(parents=True, exist_ok=True)
            (tok / name).write_bytes(data)
    return f'''
[env]
trtllm_version = "0.21.0rc1"
[checkout]
work_dir = "{tmp_path / 'work'}"
[model]
source = "Qwen/Qwen-7B-Chat"
[build]
method = "prebuilt"
engine_dir = "{edir}"
[tokenizer]
source = "{tok}"
[destination]
uri = "{uri}"
{extra}
[serve_test]
{serve}
'''


def s3_recipe(tmp_path, s3, serve="enabled = true\nprompt = \"Hello there\"\nmax_new_tokens = 4") -> S.Answers:
    return prebuilt_flat(tmp_path, f"s3://{BUCKET}/{PREFIX}", serve,
                         extra=f'endpoint_url = "{s3.endpoint_url}"')


def names(pipe) -> list[str]:
    return [s.name for s in pipe.steps]


# ------------------------------------------------------------------------------------------- the run
def test_enabled_loads_answers_then_publishes_to_s3(tmp_path, s3, djl):
    s3.make_bucket(BUCKET)
    a = s3_recipe(tmp_path, s3)
    pipe = P.Pipeline(a, serve_options=SERVE)
    # the last word before Publish: after the tokenizer files, before the upload
    assert names(pipe) == ["environment", "build", "tokenizer", "serve_test", "publish", "lmi", "final"]
    events = []
    rep = pipe.run(progress=events.append)
    assert rep.ok, (rep.error, rep.fix)
    edir = tmp_path / "engines"
    rec = djl.read()
    # djl-serving loaded the folder that was then uploaded (flat: as it is), with the tokenizer files in it
    assert rec["argv"] == ["-m", f"model=file:{edir}"]
    assert rec["request"]["inputs"] == "Hello there" and rec["request"]["parameters"]["max_new_tokens"] == 4
    # the LMI options are the LMI step's (the env style it writes for publish), minus HF_MODEL_ID
    env_file = (tmp_path / "work" / "lmi-configs" / "lmi.env").read_text()
    written = dict(ln.split("=", 1) for ln in env_file.splitlines())
    assert {k: v for k, v in rec["env"].items() if k.startswith("OPTION_")} == \
        {k: v for k, v in written.items() if k.startswith("OPTION_")}
    assert "HF_MODEL_ID" in written and "HF_MODEL_ID" not in rec["env"]
    assert_nothing_left(rec)
    # then published: the upload happened after the load test, and holds what was loaded
    keys = set(s3.objects(BUCKET, PREFIX))
    assert {f"{PREFIX}rank0.engine", f"{PREFIX}config.json", f"{PREFIX}tokenizer_config.json"} <= keys
    order = [(e.step, e.status) for e in events if isinstance(e, StepEvent)]
    assert order.index(("serve_test", "done")) < order.index(("publish", "running"))
    # the result: ready time, latency, tokens/s and the text, for Done (the report's outputs)
    doc = rep.outputs["serve_test"]
    assert doc["ok"] and doc["text"] == "w0 w1 w2 w3" and doc["tokens_per_s"] > 0
    assert doc["ready_s"] >= 0.2 and doc["latency_s"] > 0 and doc["model_dir"] == str(edir)
    step = next(s for s in rep.steps if s.name == "serve_test")
    assert step.status == "done" and step.summary.startswith("LMI loaded the model in ")
    assert "answer: w0 w1 w2 w3" in step.notes
    # djl-serving's own log: its own section in the log pane (header/end lines) and in run.log
    msgs = [e.message for e in events if not isinstance(e, StepEvent) and e.step == "serve_test"]
    head = msgs.index("── djl-serving log ──")
    end = next(i for i, m in enumerate(msgs) if m.startswith("── end of djl-serving log"))
    assert head < end and any("API bind to" in m for m in msgs[head:end])
    log = Path(rep.log_path).read_text()
    assert "[serve_test:djl-serving]" in log and "API bind to" in log
    assert all("[serve_test:djl-serving]" in ln for ln in log.splitlines() if "API bind to" in ln)


def test_failed_load_stops_before_publish_and_uploads_nothing(tmp_path, s3, djl, monkeypatch):
    s3.make_bucket(BUCKET)
    monkeypatch.setenv("STANDIN_FAIL", "arch")
    events = []
    rep = P.Pipeline(s3_recipe(tmp_path, s3), serve_options=SERVE).run(progress=events.append)
    assert not rep.ok and rep.stopped_at == "serve_test"
    # the explanation (from djl-serving's log) and its fix, in one line each
    assert "did not load" in rep.error and "compute 8.6" in rep.error and "nothing was uploaded" in rep.error
    assert rep.fix and "\n" not in rep.error
    status = {s.name: s.status for s in rep.steps}
    assert status["serve_test"] == "failed" and status["publish"] == "pending"
    assert s3.objects(BUCKET, "") == {} and s3.log.count("PutObject") == 0 and s3.log.count("UploadPart") == 0
    failed = [e for e in events if isinstance(e, StepEvent) and e.status == "failed"]
    assert [e.step for e in failed] == ["serve_test"] and failed[0].fix == rep.fix
    assert_nothing_left(djl.read())


def test_absent_djl_serving_is_one_skipped_line_then_publish(tmp_path, monkeypatch):
    if any(os.access(c, os.X_OK) for c in DEFAULT_COMMANDS if c.startswith("/")):
        pytest.skip("this machine has djl-serving")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    events = []
    a = prebuilt_flat(tmp_path, "published/qwen")
    rep = P.Pipeline(a, serve_options=SERVE).run(progress=events.append)
    assert rep.ok, rep.error
    step = next(s for s in rep.steps if s.name == "serve_test")
    assert step.status == "skipped" and "djl-serving not found" in step.summary and "LMI container image" in step.summary
    lines = [e for e in events if getattr(e, "step", None) == "serve_test"]
    assert [(e.status, "\n" in e.message) for e in lines if isinstance(e, StepEvent)] == [("running", False),
                                                                                         ("skipped", False)]
    assert lines[-1].message.startswith("Load test (djl-serving): skipped — djl-serving not found")
    assert not [e for e in lines if not isinstance(e, StepEvent)]  # nothing else was said or run
    assert (tmp_path / "work" / "published" / "qwen" / "rank0.engine").is_file()  # published all the same


def test_run_verb_says_the_skip_in_one_line(tmp_path, monkeypatch, capsys):
    from lmi_wizard.tui.cli import main as cli

    if any(os.access(c, os.X_OK) for c in DEFAULT_COMMANDS if c.startswith("/")):
        pytest.skip("this machine has djl-serving")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    recipe = tmp_path / "r.toml"
    recipe.write_text(flat_text(tmp_path, "published/qwen"))
    assert cli.main(["run", str(recipe)]) == 0
    out = capsys.readouterr().out
    line, = [ln for ln in out.splitlines() if "serve_test:" in ln and "skipped" in ln]
    assert "skipped — djl-serving not found" in line and "still valid" not in line


def test_resume_skips_it_until_the_model_folder_changes(tmp_path, djl):
    a = prebuilt_flat(tmp_path, "published/qwen")
    assert P.Pipeline(a, serve_options=SERVE).run().ok
    again = P.Pipeline(a, serve_options=SERVE, resume=True).run()
    assert {s.name: s.status for s in again.steps}["serve_test"] == "skipped"
    # another destination is published again, but loads the same folder: no second load test
    a["destination.uri"] = "published/qwen-2"
    moved = P.Pipeline(a, serve_options=SERVE, resume=True).run()
    assert {s.name: s.status for s in moved.steps}["serve_test"] == "skipped" and moved.ok
    assert {s.name: s.status for s in moved.steps}["publish"] == "done"
    # a file added to the model folder (it would be uploaded): the load test is redone
    (tmp_path / "engines" / "generation_config.json").write_text("{}")
    djl.rec.unlink()
    third = P.Pipeline(a, serve_options=SERVE, resume=True).run()
    assert third.ok and {s.name: s.status for s in third.steps}["serve_test"] == "done" and djl.rec.exists()
    # its own answers are its inputs: another prompt is another load test
    djl.rec.unlink()
    a["serve_test.prompt"] = "Another one"
    fourth = P.Pipeline(a, serve_options=SERVE, resume=True).run()
    assert {s.name: s.status for s in fourth.steps}["serve_test"] == "done"
    assert djl.read()["request"]["inputs"] == "Another one"


def test_disabled_is_not_in_the_run(tmp_path):
    a = prebuilt_flat(tmp_path, "published/qwen", serve="enabled = false")
    assert "serve_test" not in names(P.Pipeline(a))
    assert "serve-test" not in P.plan_script(a)


def test_plan_script_shows_the_equivalent_verb(tmp_path):
    a = prebuilt_flat(tmp_path, "published/qwen", serve='enabled = true\nprompt = "Say \'hi\'"\ntimeout = 600')
    script = P.plan_script(a)
    body = script.split("Load test (djl-serving)", 1)[1].split("# ----", 1)[0]
    assert f"lmi-wizard serve-test {tmp_path / 'engines'} --timeout 600 --prompt 'Say '\"'\"'hi'\"'\"'' " \
           f"--max-new-tokens 32" in body
    assert "command -v djl-serving /usr/bin/djl-serving" in body and "load test skipped" in body
    assert script.index("serve-test") < script.index("# ---- 5. Publish")


# ------------------------------------------------------------------------------------------- the schema
def test_default_on_in_the_wizard_with_djl_serving_and_gpus_off_in_recipes():
    gpu = object()
    wiz = S.Context(wizard=True, gpus=[gpu], djl_serving="/usr/bin/djl-serving")
    assert S.Answers(ctx=wiz)["serve_test.enabled"] is True
    assert S.Answers(ctx=S.Context(wizard=True, gpus=[], djl_serving="/usr/bin/djl-serving"))[
        "serve_test.enabled"] is False  # no GPU visible
    assert S.Answers(ctx=S.Context(wizard=True, gpus=[gpu], djl_serving=None))["serve_test.enabled"] is False
    # a recipe (not the wizard's context): off unless it says so, whatever the machine
    rec = S.Context(gpus=[gpu], djl_serving="/usr/bin/djl-serving")
    assert S.Answers(ctx=rec)["serve_test.enabled"] is False
    # the wizard's "on" is written into the recipe it saves (so the run replays it); "off" stays a comment
    a = S.Answers({"model.source": "Qwen/Qwen-7B-Chat", "env.trtllm_version": "0.21.0rc1"}, ctx=wiz)
    text = R.dumps_recipe(a)
    assert "\n[serve_test]\nenabled = true" in text
    assert R.loads_recipe(text, ctx=rec)["serve_test.enabled"] is True
    off = R.dumps_recipe(S.Answers({"model.source": "Qwen/Qwen-7B-Chat", "env.trtllm_version": "0.21.0rc1"},
                                   ctx=rec))
    assert "# enabled = false" in off and "\nenabled = " not in off


def test_fields_come_from_the_schema_for_every_front_end():
    from lmi_wizard.core.wizard.session import Session

    st = S.step("destination")
    keys = [f.key for f in st.fields if f.section == "serve_test"]
    assert keys == ["serve_test.enabled", "serve_test.prompt", "serve_test.max_new_tokens", "serve_test.timeout"]
    assert all(S.field(k).advanced for k in keys)
    on = S.Answers({"serve_test.enabled": True}, ctx=S.Context(gpus=[]))
    off = S.Answers(ctx=S.Context(gpus=[]))
    assert [f.key for f in st.visible_fields(on) if f.section == "serve_test"] == keys
    assert [f.key for f in st.visible_fields(off) if f.section == "serve_test"] == ["serve_test.enabled"]
    assert [f.key for f in st.visible_fields(on, advanced=False) if f.section == "serve_test"] == []
    # checked like every field: an empty prompt, a zero token count
    on["serve_test.prompt"] = ""
    probs = {p.key: p for p in S.validate_step(st, on)}
    assert "serve_test.prompt" in probs and probs["serve_test.prompt"].blocking
    with pytest.raises(S.FieldError):
        on["serve_test.max_new_tokens"] = 0
    # the template `lmi-wizard init` writes documents the section
    tmpl = R.template_recipe()
    assert "\n[serve_test]\n" in tmpl and "# enabled = false" in tmpl and "# max_new_tokens = 32" in tmpl
    assert "# timeout = 1200.0" in tmpl
    # the wizard's session context is the one whose default follows the machine
    assert Session(state_path="/nonexistent/state.toml").ctx.interactive


# ------------------------------------------------------------------------------------------- the Textual front end
def test_wizard_runs_it_by_default_here_and_done_shows_the_answer(tmp_path, djl):
    """The wizard on a machine with GPUs (stand-in NVML) and djl-serving (the stand-in on PATH): the load test is
    on without being asked, the Run screen lists it with djl-serving's log as its own section, and Done shows
    the ready time, latency, tokens/s and the answer."""
    from textual.widgets import DataTable, Static

    from lmi_wizard.tui.app import WizardApp
    from tests.support.tui import async_test, environment_report

    a = prebuilt_flat(tmp_path, "published/qwen", serve="")  # nothing said about the load test
    assert not a.is_set("serve_test.enabled")
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "run", None, state))

    @async_test
    async def body():
        import asyncio
        import time

        app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.21.0rc1"),
                        start_at="run", pipeline_options={"serve_options": SERVE})
        async with app.run_test(size=(100, 32)) as pilot:
            end = time.monotonic() + 60
            while app.screen.running or app.screen.report is None:
                assert time.monotonic() < end, "the run did not finish"
                await pilot.pause(0.05)
            rep = app.screen.report
            assert rep.ok, (rep.error, rep.fix)
            table = app.screen.query_one("#run-steps", DataTable)
            rows = [tuple(table.get_row_at(i)[:2]) for i in range(table.row_count)]
            titles = [t for _, t in rows]
            assert ("✓", "Load test (djl-serving)") in rows
            assert titles.index("Load test (djl-serving)") == titles.index("Publish") - 1
            await pilot.pause(0.3)
            lines = list(app.screen.query_one("#run-log").log_widget.lines)
            head = lines.index("── djl-serving log ──")
            assert any("API bind to" in ln for ln in lines[head:])
            await pilot.press("ctrl+n")
            await asyncio.sleep(0)
            await pilot.pause(0.3)
            assert type(app.screen).__name__ == "DoneScreen"
            text = str(app.screen.query_one("#done-summary", Static).render())
            assert "load test: LMI loaded the model, ready in" in text and "tokens/s" in text
            assert "answer: w0 w1" in text
    body()


def test_destination_screen_renders_the_fields_from_the_schema(tmp_path, djl):
    """The Tokenizer & destination screen's advanced settings: the load test switch (on here: GPUs and
    djl-serving), its prompt/tokens/timeout shown only while it is on."""
    from lmi_wizard.tui.app import WizardApp
    from tests.support.tui import async_test, environment_report

    a = prebuilt_flat(tmp_path, "published/qwen", serve="")
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "destination", None, state))

    @async_test
    async def body():
        app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.21.0rc1"),
                        start_at="destination")
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause(0.3)
            q = app.screen.query_one
            assert not q("#row-serve_test--enabled").display  # advanced: hidden until asked for
            q("#advanced-toggle").toggle()
            await pilot.pause(0.3)
            assert q("#row-serve_test--enabled").display and q("#f-serve_test--enabled").value is True
            assert q("#row-serve_test--prompt").display and q("#row-serve_test--timeout").display
            q("#f-serve_test--enabled").toggle()
            await pilot.pause(0.3)
            assert not q("#row-serve_test--prompt").display
            assert app.answers["serve_test.enabled"] is False and app.answers.is_set("serve_test.enabled")
    body()


def test_done_lines_from_the_report_outputs():
    from lmi_wizard.core.serve import done_lines

    assert done_lines(None) == [] and done_lines({}) == []
    assert done_lines({"ok": False, "status": "skipped"}) == ["load test: skipped (djl-serving not found here)"]
    ok = {"ok": True, "status": "ok", "ready_s": 61.234, "latency_s": 1.5, "tokens_per_s": 21.33,
          "text": " Deep learning\nis a", "model_dir": "/m"}
    assert done_lines(ok) == ["load test: LMI loaded the model, ready in 61.2 s, answered in 1.50 s, 21.33 tokens/s",
                              "answer: Deep learning is a"]
    del ok["tokens_per_s"]  # the answer did not say how many tokens
    assert done_lines(ok)[0].endswith("answered in 1.50 s")
