"""The schema's gates (issue 10): what only a Textual screen checked before — a Triton config that would keep a
blocking ``${…}``, a checkout folder the checkout would refuse — are rules of the schema, so ``run``/``plan``
and ``--plain`` refuse them BEFORE anything runs (the builder stand-in never starts); and
``tokenizer.extra_patterns`` is applied by ``run`` exactly as ``plan`` prints it.

Real components: git remotes with real tags over file:// (one whose tensorrt_llm template has a blocking
placeholder added), the real huggingface_hub client against the fake Hub.
"""

from __future__ import annotations

import io
import shlex
import types
from pathlib import Path

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from lmi_wizard.core import checkout as core_checkout
from lmi_wizard.core import wizard as W
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.pipeline import engine as P
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.tui import plain
from lmi_wizard.tui.cli import main as cli
from tests.gitfixtures import BACKEND_GITLINKS, backend_tree, file_url, make_repo
from tests.support.pipeline import tutorial_recipe

BLOCKING = "version_policy: { latest: { num_versions: ${num_versions} } }\n"
TEMPLATE = "all_models/inflight_batcher_llm/tensorrt_llm/config.pbtxt"


@pytest.fixture(scope="module")
def blocking_remotes(remotes, tmp_path_factory):  # noqa: F811
    """The tutorial's remotes, but tensorrtllm_backend v0.5.0's tensorrt_llm template has a placeholder in a
    field Triton needs (nothing the wizard fills): the config step could only refuse it."""
    files = backend_tree("v0.5.0")
    files[TEMPLATE] = files[TEMPLATE] + BLOCKING
    base = tmp_path_factory.mktemp("blocking-remotes")
    backend = make_repo(base / "tensorrtllm_backend", {"v0.5.0": files}, gitlinks=BACKEND_GITLINKS, bare=True)
    return {**remotes, "backend": file_url(backend)}


def _cloned(answers: W.Answers) -> Path:
    args = W.checkout_args(answers)
    core_checkout.checkout(**args)
    return args["dest"]


def _engines(work: Path) -> list[Path]:
    return [p for p in work.rglob("*.engine")]


def test_run_refuses_a_blocking_placeholder_before_the_build_starts(blocking_remotes, hub, tmp_path):  # noqa: F811
    """Fresh work folder: nothing can be known before the checkout exists; the run clones, then the schema's
    Triton gate stops it before the build step's builder is started (no engine, no builder output)."""
    work = tmp_path / "work"
    a = tutorial_recipe(blocking_remotes, work, "out/baichuan-13b-tp2/baichuan-13b-chat/")
    pipe = P.build_pipeline(a, hf_endpoint=hub.endpoint)
    pipe.check()  # no checkout yet: no refusal
    events = []
    report = pipe.run(progress=events.append)
    assert not report.ok and report.stopped_at == "build", report.error
    assert "num_versions" in report.error and "blocking placeholder" in report.error
    assert "substitutions" in (report.fix or "")
    statuses = {r.name: r.status for r in report.steps}
    assert statuses["checkout"] == "done" and statuses["config"] == "pending"
    assert not any("stand-in build.py" in (e.message or "") for e in events)
    assert _engines(work) == []
    # the checkout is there now: the same recipe is refused before anything runs, by plan and run alike
    with pytest.raises(WizardError) as ei:
        P.build_pipeline(a, hf_endpoint=hub.endpoint).check()
    assert "num_versions" in ei.value.problem and "substitutions" in ei.value.fix
    # filled: nothing blocks any more
    a["triton.substitutions"] = {"num_versions": "1"}
    P.build_pipeline(a, hf_endpoint=hub.endpoint).check()


def test_run_and_plan_verbs_refuse_a_blocking_placeholder_up_front(blocking_remotes, tmp_path, capsys):
    work = tmp_path / "work"
    a = tutorial_recipe(blocking_remotes, work, "out/baichuan-13b-tp2/baichuan-13b-chat/")
    _cloned(a)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(R.dumps_recipe(a))
    for verb in ("run", "plan"):
        assert cli.main([verb, str(recipe)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("lmi-wizard: error: ") and "num_versions" in err and "substitutions" in err, err
        assert "Traceback" not in err
    assert not (work / ".lmi-wizard" / "run-state.json").exists() and _engines(work) == []


def test_triton_gate_is_a_rule_of_the_schema(blocking_remotes, tmp_path):
    a = tutorial_recipe(blocking_remotes, tmp_path / "work", "out/m/n/")
    assert not [p for p in W.validate_step("triton", a) if p.code == "blocking-placeholder"]  # no checkout yet
    _cloned(a)
    found = [p for p in W.validate_step("triton", a) if p.blocking]
    assert [p.code for p in found] == ["blocking-placeholder"] and found[0].key == "triton"
    assert "num_versions" in found[0].problem and "substitutions" in found[0].fix
    assert " — fix: " not in found[0].problem
    a["triton.substitutions"] = {"num_versions": "1"}
    assert not [p for p in W.validate_step("triton", a) if p.blocking]
    # the flat layout writes no config.pbtxt: the gate has nothing to say
    a["triton.substitutions"] = {}
    a["env.lmi_layout"] = "flat"
    assert not [p for p in W.validate_all(a) if p.code == "blocking-placeholder"]


def test_checkout_gate_refuses_a_folder_that_is_not_a_checkout(remotes, tmp_path):  # noqa: F811
    work = tmp_path / "work"
    a = tutorial_recipe(remotes, work, "out/m/n/")
    assert not [p for p in W.validate_step("checkout", a) if p.blocking]  # nothing there: it would clone
    (work / "tensorrtllm_backend").mkdir(parents=True)
    (work / "tensorrtllm_backend" / "notes.txt").write_text("mine")
    found = [p for p in W.validate_step("checkout", a) if p.blocking]
    assert found and found[0].code == "checkout-refused" and found[0].key == "checkout.dir", found
    with pytest.raises(WizardError) as ei:
        P.build_pipeline(a).check()
    assert "[checkout] dir" in ei.value.problem
    assert (work / "tensorrtllm_backend" / "notes.txt").read_text() == "mine"


def test_plain_refuses_a_blocking_placeholder_and_never_runs(blocking_remotes, hub, tmp_path):  # noqa: F811
    """--plain: the Triton step's gate blocks; Enter (answers unchanged) stops with the problem and its fix,
    answers saved — nothing is run."""
    work = tmp_path / "work"
    a = tutorial_recipe(blocking_remotes, work, "out/baichuan-13b-tp2/baichuan-13b-chat/")
    _cloned(a)
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, None, None, state))
    out = io.StringIO()
    with create_pipe_input() as inp:
        inp.send_text("\r" * 80)
        rc = plain.main(types.SimpleNamespace(state=str(state), plain=True), input=inp, output=DummyOutput(),
                        out=out, pipeline_options={"hf_endpoint": hub.endpoint})
    text = out.getvalue()
    assert rc == 2, text[-2000:]
    assert "num_versions" in text and "substitutions" in text
    assert "== Run ==" not in text and "== Review ==" not in text
    assert _engines(work) == [] and not (work / ".lmi-wizard").exists()
    assert R.load_state(state).last_step == "triton"


# --------------------------------------------------------------------------------------------------
# tokenizer.extra_patterns: applied by run exactly as plan prints it


def test_extra_tokenizer_patterns_are_fetched_by_run_as_plan_prints_them(remotes, hub, tmp_path):  # noqa: F811
    work = tmp_path / "work"
    a = tutorial_recipe(remotes, work, "out/baichuan-13b-tp2/baichuan-13b-chat/")
    a["tokenizer.extra_patterns"] = ["README.md", "LICENSE", "*.bin"]
    script = P.build_pipeline(a, hf_endpoint=hub.endpoint).plan_script()
    verb = [shlex.split(line) for line in script.splitlines() if line.startswith("lmi-wizard tokenizer ")]
    assert len(verb) == 1 and verb[0].count("--pattern") == 3
    assert [verb[0][i + 1] for i, w in enumerate(verb[0]) if w == "--pattern"] == ["README.md", "LICENSE", "*.bin"]
    report = P.build_pipeline(a, hf_endpoint=hub.endpoint).run()
    assert report.ok, report.error
    files = set(report.outputs["tokenizer_files"])
    assert {"README.md", "LICENSE", "tokenizer_config.json", "tokenizer.model"} <= files
    assert not [f for f in files if f.endswith(".bin")]  # weights never, whatever the pattern
    # without the patterns those files are not fetched: the setting does something
    b = tutorial_recipe(remotes, tmp_path / "work2", "out/baichuan-13b-tp2/baichuan-13b-chat/")
    rep = P.build_pipeline(b, hf_endpoint=hub.endpoint).run()
    assert rep.ok and "README.md" not in rep.outputs["tokenizer_files"]


def test_extra_pattern_naming_a_subfolder_is_refused_by_the_schema():
    a = W.Answers({"env.trtllm_version": "0.12.0", "model.source": "a/b"})
    assert "sub-folder" in W.validate_field("tokenizer.extra_patterns", ["assets/*.jpg"], a)
    assert W.validate_field("tokenizer.extra_patterns", ["*.py", "README.md"], a) is None
