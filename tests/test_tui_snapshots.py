"""Snapshot tests (pytest-textual-snapshot) of every screen at 80×24, deterministic: a fixed environment
report (stand-in NVML, fake site-packages), fixed folder names under /tmp/lmi-wizard-snap, a fixed clock
on the Run screen and masked times in listings. Update with ``pytest --snapshot-update``.

The environment is prepared once per module: real tagged git repositories, a real clone, and one real
pipeline run (stand-in builder, fake Hub, local destination) whose report the Done screen shows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lmi_wizard.core import checkout as core_checkout
from lmi_wizard.core import recipe as R
from lmi_wizard.core import steps as S
from lmi_wizard.tui.app import WizardApp
from tests.hubserver import FakeHub, baichuan_repo
from tests.test_pipeline import remotes, tutorial_recipe  # noqa: F401  (pytest fixture)
from tests.test_tui_support import environment_report

SNAP = Path("/tmp/lmi-wizard-snap")
SIZE = (80, 24)


@pytest.fixture(scope="module")
def snapenv(remotes):  # noqa: F811
    shutil.rmtree(SNAP, ignore_errors=True)
    SNAP.mkdir(parents=True)
    work = SNAP / "work"
    answers = tutorial_recipe(remotes, work, "lmi-llm/baichuan-13b-tp2/baichuan-13b-chat/")
    core_checkout.checkout(S.resolve_tag(answers), S.work_path(answers, answers["checkout.dir"]),
                           backend_url=answers["checkout.backend_url"], trtllm_url=answers["checkout.trtllm_url"])
    env = environment_report(SNAP, trtllm="0.5.0")
    hub = FakeHub([baichuan_repo()]).__enter__()
    from lmi_wizard.core import pipeline

    report = pipeline.build_pipeline(answers, hf_endpoint=hub.endpoint).run()
    assert report.ok, report.error
    yield {"answers": answers, "env": env, "report": report, "hub": hub, "remotes": remotes}
    hub.__exit__(None, None, None)


def make_app(snapenv, start_at: str, name: str, *, env=None, **answers) -> WizardApp:
    state = SNAP / f"state-{name}.toml"
    a = snapenv["answers"].copy()
    for k, v in answers.items():
        a[k] = v
    R.save_state(R.WizardState(a, start_at, None, state))
    app = WizardApp(state_path=state, environment=env or snapenv["env"], start_at=start_at,
                    pipeline_options={"hf_endpoint": snapenv["hub"].endpoint})
    app.clock = lambda: 0.0
    app.mask_times = True
    return app


async def settle(pilot) -> None:
    """Let the screen's workers (plans, previews) finish and the debounce timers fire; no cursor blink."""
    from textual.widgets import Input

    for _ in range(3):
        await pilot.pause(0.5)
        await pilot.app.workers.wait_for_complete()
    for inp in pilot.app.screen.query(Input):
        inp.cursor_blink = False
    await pilot.pause()


def test_environment(snap_compare, snapenv):
    assert snap_compare(make_app(snapenv, "environment", "env"), terminal_size=SIZE, run_before=settle)


def test_environment_no_gpu_no_trtllm(snap_compare, snapenv):
    env = environment_report(SNAP / "nogpu", trtllm=None, gpus=0)
    app = make_app(snapenv, "environment", "nogpu", env=env)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_checkout_existing(snap_compare, snapenv):
    assert snap_compare(make_app(snapenv, "checkout", "checkout"), terminal_size=SIZE, run_before=settle)


def test_model(snap_compare, snapenv):
    assert snap_compare(make_app(snapenv, "model", "model"), terminal_size=SIZE, run_before=settle)


def test_build_flags(snap_compare, snapenv):
    async def scroll(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#build-preview").scroll_visible(animate=False)
        await pilot.pause()
    assert snap_compare(make_app(snapenv, "build", "build"), terminal_size=SIZE, run_before=scroll)


def test_triton_placeholder_review_with_blocking_rows(snap_compare, snapenv):
    # keep optional placeholders and leave an unquoted one unfilled: the review lists both, Next is disabled
    async def to_table(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#placeholders").scroll_visible(animate=False, top=True)
        await pilot.pause()
        assert pilot.app.screen.query_one("#next").disabled
    variant = SNAP / "triton-variant"
    if not variant.exists():
        src = S.work_path(snapenv["answers"], snapenv["answers"]["checkout.dir"])
        shutil.copytree(src / "all_models", variant / "all_models")
        tmpl = variant / "all_models" / "inflight_batcher_llm" / "tensorrt_llm" / "config.pbtxt"
        tmpl.write_text(tmpl.read_text() + "version_policy: { latest: { num_versions: ${num_versions} } }\n")
    app = make_app(snapenv, "triton", "triton", **{"triton.optional_placeholders": "keep",
                                                   "checkout.dir": str(variant)})
    assert snap_compare(app, terminal_size=SIZE, run_before=to_table)


def test_destination(snap_compare, snapenv):
    assert snap_compare(make_app(snapenv, "destination", "dest"), terminal_size=SIZE, run_before=settle)


def test_review(snap_compare, snapenv):
    assert snap_compare(make_app(snapenv, "review", "review"), terminal_size=SIZE, run_before=settle)


def test_run_resumed_all_steps_still_valid(snap_compare, snapenv):
    async def finished(pilot):
        for inp in pilot.app.screen.query("Input"):
            inp.cursor_blink = False
        for _ in range(200):
            await pilot.pause(0.1)
            if not pilot.app.screen.running and pilot.app.screen.report is not None:
                break
        await pilot.pause(0.3)
    assert snap_compare(make_app(snapenv, "run", "run"), terminal_size=SIZE, run_before=finished)


def test_done(snap_compare, snapenv):
    app = make_app(snapenv, "done", "done")
    app.session.run_result = snapenv["report"]
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
