"""Secrets (AWS keys, Hugging Face tokens) set in the environment never reach logs, recipes, scripts, state
files, published objects, terminal output or screenshots.

A full headless run (``lmi-wizard run RECIPE`` as a subprocess) where the secrets are really used: the model is
a *gated* repo on the fake Hub (the download fails without the token), the upload goes to the moto S3 server
with the AWS keys from the environment, and the stand-in builder prints the secrets it can see (a builder
that logs its environment) and fails once with a URL carrying the token (an error message that quotes it).
Everything produced is then grepped for every secret value, and for the shapes of tokens and key ids.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lmi_wizard.core.wizard import recipe as R
from tests.hubserver import GOOD_TOKEN, FakeHub, baichuan_repo
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.pipeline import LEGACY_BUILD, tutorial_recipe
from tests.gitfixtures import BACKEND_GITLINKS, backend_tree, file_url, make_repo, trtllm_tree

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent
CLI = [PY, "-m", "lmi_wizard.tui.main"]

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAZ7LMIWIZARDTEST1",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/lmiWizardSECRETkey0042",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzLMIWIZARDsessionTOKENsecret0042==",
    "HF_TOKEN": GOOD_TOKEN,  # the fake Hub's valid token: the gated download needs it
}
SHAPES = [re.compile(rb"hf_test_good_token"), re.compile(rb"AKIA[A-Z0-9]{16}"), re.compile(rb"wJalrXUtnFEMI")]

LEAKY = '''
    if os.environ.get("STANDIN_LEAK"):
        for k in ("HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"):
            print(f"[stand-in build.py] env {k}={os.environ.get(k)}", flush=True)
        print(f"downloading https://user:{os.environ.get('HF_TOKEN')}@huggingface.co/x hf_token={os.environ.get('HF_TOKEN')}",
              file=sys.stderr, flush=True)
        if os.environ.get("STANDIN_LEAK") == "fail":
            print(f"HTTPError: 401 for https://huggingface.co/api?token={os.environ.get('HF_TOKEN')}", file=sys.stderr)
            sys.exit(3)
'''
BUILD = LEGACY_BUILD.replace("    args = parse_arguments()\n", "    args = parse_arguments()\n" + LEAKY, 1)


@pytest.fixture(scope="module")
def remotes(tmp_path_factory):
    base = tmp_path_factory.mktemp("secret-remotes")
    backend = make_repo(base / "tensorrtllm_backend", {"v0.5.0": backend_tree("v0.5.0")},
                        gitlinks=BACKEND_GITLINKS, bare=True)
    trt = make_repo(base / "TensorRT-LLM", {"v0.5.0": trtllm_tree(
        "v0.5.0", {"baichuan": "flat"}, extra={"examples/baichuan/build.py": BUILD})}, bare=True)
    return {"backend": file_url(backend), "trt_old": file_url(trt)}


def _grep(data: bytes, where: str, found: list) -> None:
    for name, value in SECRETS.items():
        if value.encode() in data:
            found.append(f"{name} in {where}")
    for rx in SHAPES:
        m = rx.search(data)
        if m:
            found.append(f"{m.group(0)!r} in {where}")


def _grep_tree(root: Path, found: list) -> int:
    n = 0
    for p in root.rglob("*"):
        if p.is_file() and ".git" not in p.parts:
            _grep(p.read_bytes(), str(p), found)
            n += 1
    return n


def test_full_headless_run_leaks_no_secret(remotes, tmp_path, s3):
    s3.make_bucket("lmi-llm")
    with FakeHub([baichuan_repo(gated=True)]) as hub:
        work = tmp_path / "work"
        a = tutorial_recipe(remotes, work, "s3://lmi-llm/trtllm/baichuan-13b-tp2/baichuan-13b-chat/")
        a["destination.endpoint_url"] = s3.endpoint_url
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(R.dumps_recipe(a))
        env = {**os.environ, **s3.env, **SECRETS, "HF_ENDPOINT": hub.endpoint, "STANDIN_LEAK": "fail"}
        found: list[str] = []

        # 1. a run whose builder prints the secrets and fails quoting the token
        first = subprocess.run(CLI + ["run", str(recipe)], env=env, cwd=ROOT, capture_output=True, timeout=300)
        assert first.returncode != 0
        assert b"build: FAILED" in first.stdout + first.stderr
        _grep(first.stdout + first.stderr, "run output (failed run)", found)

        # 2. resumed to the end (the builder still prints them), as JSON
        env["STANDIN_LEAK"] = "1"
        second = subprocess.run(CLI + ["run", str(recipe), "--resume", "--json"], env=env, cwd=ROOT,
                                capture_output=True, timeout=300)
        assert second.returncode == 0, second.stderr[-3000:].decode(errors="replace")
        doc = json.loads(second.stdout)
        assert doc["ok"] and doc["model_id"] == "s3://lmi-llm/trtllm/baichuan-13b-tp2/"
        _grep(second.stdout + second.stderr, "run output", found)
        # the secrets were really in play: the builder saw them (its output was masked), the gated files came
        log = (work / ".lmi-wizard" / "run.log").read_text()
        assert "[stand-in build.py] env HF_TOKEN=***" in log
        assert hub.fetched("tokenizer.model")
        objs = s3.objects("lmi-llm", "trtllm/")
        assert any(k.endswith("tokenizer.model") for k in objs)

        # 3. the plan script of the same recipe, and a saved one
        plan = subprocess.run(CLI + ["plan", str(recipe)], env=env, cwd=ROOT, capture_output=True, timeout=120)
        assert plan.returncode == 0 and b"trtllm" in plan.stdout
        _grep(plan.stdout + plan.stderr, "plan script", found)
        script = tmp_path / "plan.sh"
        assert subprocess.run(CLI + ["plan", str(recipe), "-o", str(script)], env=env, cwd=ROOT,
                              capture_output=True, timeout=120).returncode == 0

        # 4. every file the runs wrote (logs, run state, recipe copy, build log, build record, LMI configs, …)
        n = _grep_tree(work, found) + _grep_tree(tmp_path, found)
        assert n > 20
        # 5. what was published
        for key in objs:
            body = s3.client.get_object(Bucket="lmi-llm", Key=key)["Body"].read()
            _grep(body, f"s3://lmi-llm/{key}", found)
    assert found == []


def test_recipe_never_stores_a_typed_token(tmp_path):
    from lmi_wizard.core import wizard as S

    a = R.loads_recipe('[model]\nsource = "org/m"\n', ctx=S.Context(installed_trtllm=None, gpus=[]), require=False)
    a["tokenizer.hf_token"] = "hf_TypedIntoTheWizard0123456789abcd"
    assert a.secret("tokenizer.hf_token") == "hf_TypedIntoTheWizard0123456789abcd"
    text = R.dumps_recipe(a)
    assert "TypedIntoTheWizard" not in text
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "destination", None, state))
    assert "TypedIntoTheWizard" not in state.read_text()


@pytest.mark.slow
@pytest.mark.tui
def test_screenshots_of_every_screen_show_no_secret(tmp_path, monkeypatch):
    """The Textual app with the secrets in the environment and a token typed into the wizard, over a prepared
    run (real checkout, one real pipeline run: every screen can open): an SVG screenshot of EVERY step's screen
    (each one asserted opened) holds none of them, and neither does the saved state."""
    pytest.importorskip("textual")
    from lmi_wizard.tui.screens import registry
    from tests.support.tui import async_test, make_remotes, prepare_screens, screen_app, settle_screen

    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    typed = "hf_TypedIntoTheWizard0123456789abcd"
    shots: dict[str, str] = {}
    remotes = make_remotes(tmp_path / "remotes")
    with FakeHub([baichuan_repo()]) as hub:
        prep = prepare_screens(tmp_path / "prep", remotes, hub)
        prep["answers"]["tokenizer.hf_token"] = typed
        prep["answers"]["destination.uri"] = "s3://lmi-llm/trtllm/m/tensorrt_llm/"
        steps = screen_app(prep, "environment").steps()
        assert len(steps) == 9, steps

        @async_test
        async def drive(step):
            app = screen_app(prep, step)
            async with app.run_test(size=(120, 40)) as pilot:
                await settle_screen(pilot)
                want = type(registry.screen_for(step))
                assert type(app.screen) is want, (step, type(app.screen).__name__)  # the step's screen opened
                shots[step] = app.export_screenshot()

        for step in steps:
            drive(step)
    assert sorted(shots) == sorted(steps) and all(s.startswith("<svg") for s in shots.values())
    for step, svg in shots.items():
        for name, value in list(SECRETS.items()) + [("typed token", typed)]:
            assert value not in svg, f"{name} on the {step} screen"
    for state in (tmp_path / "prep").glob("state-*.toml"):
        assert typed not in state.read_text(), state.name


def test_committed_screenshots_hold_no_token_or_key():
    """The README's screenshots (regenerated by the TUI's script) hold nothing shaped like a token or a key."""
    shots = sorted((ROOT / "screenshots").glob("*.svg"))
    if not shots:
        pytest.skip("no screenshots/ in this checkout")
    shapes = [re.compile(rb"hf_[A-Za-z0-9]{20,}"), re.compile(rb"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")]
    for p in shots:
        data = p.read_bytes()
        for rx in shapes:
            assert not rx.search(data), f"{rx.pattern!r} in {p.name}"



def test_one_redaction_path_covers_every_output(remotes, tmp_path, monkeypatch):
    """Every output goes through core.base.secrets: with its marker changed, the run log, the builder's log,
    run-state.json, the saved recipe, the run report (``--json``), the plan script (a git URL carrying a
    token), an S3 error text and the build module's own redaction all show the new marker where a secret
    was, and no other marker (``***`` / ``<redacted>``) is left anywhere: no second implementation exists."""
    from lmi_wizard.core import checkout, s3 as core_s3
    from lmi_wizard.core import pipeline as P
    from lmi_wizard.core.base import secrets
    from lmi_wizard.core.build import run as build_run

    mark = "<<SECRET-GONE>>"
    monkeypatch.setattr(secrets, "MARKER", mark)
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("STANDIN_LEAK", "fail")  # the builder prints the secrets, then fails quoting the token
    typed = "typed-into-the-wizard-0042"
    work = tmp_path / "work"
    a = tutorial_recipe(remotes, work, "out/b/c/")
    a["tokenizer.hf_token"] = typed
    pipe = P.Pipeline(a, recipe_source=str(tmp_path / "recipe.toml"))
    report = pipe.run()
    assert not report.ok and report.stopped_at == "build"

    run_dir = work / P.RUN_DIR
    outputs = {
        "run.log": (run_dir / P.LOG_NAME).read_text(),
        "build.log": (run_dir / "build.log").read_text(),
        "run-state.json": (run_dir / P.STATE_NAME).read_text(),
        "recipe.toml": (run_dir / P.RECIPE_NAME).read_text(),
        "--json": json.dumps(report.to_dict()),
        "S3 error": core_s3.redact(f"denied for {SECRETS['AWS_ACCESS_KEY_ID']} x-amz-security-token:"
                                   f"{SECRETS['AWS_SESSION_TOKEN']}"),
        "build redact": build_run.redact(f"HF_TOKEN={SECRETS['HF_TOKEN']}"),
        "git URL": checkout.redact_url("https://user:tok3n@mirror.example/x.git"),
        "typed": pipe.ctx.redact(f"token {typed}"),
    }
    planned = tutorial_recipe(remotes, tmp_path / "not-yet-cloned", "out/b/c/")
    planned["checkout.backend_url"] = "https://user:tok3n-secret@mirror.example/tensorrtllm_backend.git"
    outputs["plan script"] = P.plan_script(planned)

    for where, text in outputs.items():
        for name, value in list(SECRETS.items()) + [("typed token", typed), ("URL token", "tok3n")]:
            assert value not in text, f"{name} in {where}"
        assert "***" not in text and "<redacted>" not in text, f"another redaction marker in {where}"
    for where in ("run.log", "build.log", "run-state.json", "--json", "S3 error", "build redact", "git URL",
                  "typed", "plan script"):
        assert mark in outputs[where], where  # a secret was there, hidden by the one Redactor
    assert f"env HF_TOKEN={mark}" in outputs["run.log"]
