"""Helpers for the TUI/plain tests and scripts/make_screenshots.py: a prepared environment (real core detection
over a stand-in NVML and a fake site-packages with tensorrt-llm's metadata), a sync wrapper for Pilot tests, the
prepared screens for snapshots/screenshots, and what a screen shows as text.

The only stand-in is NVML (needs a GPU), answered with the values a real H200 returned
(tests/data/fixtures/nvml/h200-nvml.json, the same record as fixtures/nvml); everything else is core's real code."""

from __future__ import annotations

import asyncio
import functools
import types
from pathlib import Path

from tests.support import nvml as nvml_stand_in

ROOT = Path(__file__).resolve().parents[2]


def async_test(fn):
    """Run an ``async def`` test without a pytest asyncio plugin."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return run


def fake_nvml(gpus: int = 2) -> types.ModuleType:
    """The ``pynvml`` stand-in (tests/support/nvml.py) with ``gpus`` copies of the recorded H200."""
    record = nvml_stand_in.h200_record()
    return nvml_stand_in.fake_nvml(record, gpus=[dict(record["gpus"][0], index=i) for i in range(gpus)])


def fake_site(root: Path, packages: dict[str, str]) -> Path:
    """A site-packages folder holding only ``*.dist-info/METADATA`` for ``packages`` (name → version)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, version in packages.items():
        d = root / f"{name.replace('-', '_')}-{version}.dist-info"
        d.mkdir(exist_ok=True)
        (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return root


def environment_report(tmp: Path, *, trtllm: str | None = "0.12.0", gpus: int = 2):
    """A real ``core.environment.gather()`` report over the stand-in NVML (``gpus=0``: none visible)."""
    from lmi_wizard.core.facts import environment

    pkgs = {"tensorrt_llm": trtllm, "tensorrt": "10.3.0"} if trtllm else {}
    site = fake_site(tmp / "site", pkgs)
    nvml = fake_nvml(gpus) if gpus else types.SimpleNamespace(
        NVMLError=nvml_stand_in._NVMLError, nvmlInit=lambda: (_ for _ in ()).throw(nvml_stand_in._NVMLError(9, "Driver Not Loaded")))
    return environment.gather(lookup_tags=False, nvml=nvml, metadata_path=[site], telemetry_file=None,
                              install_root=None)


# --------------------------------------------------------------------------------------------------
# one prepared environment for snapshots and screenshots (scripts/make_screenshots.py uses it too)

SCREENS = ["environment", "environment-no-gpu", "checkout", "model", "build", "triton", "destination", "review",
           "run", "done"]


def make_remotes(base: Path) -> dict:
    """The tutorial's upstream repos (tensorrtllm_backend v0.5.0 + TensorRT-LLM v0.5.0 with the stand-in
    build.py), as bare git repositories with real tags."""
    from tests.gitfixtures import BACKEND_GITLINKS, backend_tree, file_url, make_repo, trtllm_tree
    from tests.support.pipeline import LEGACY_BUILD

    backend = make_repo(base / "tensorrtllm_backend", {"v0.5.0": backend_tree("v0.5.0")},
                        gitlinks=BACKEND_GITLINKS, bare=True)
    trt_old = make_repo(base / "TensorRT-LLM-old", {"v0.5.0": trtllm_tree(
        "v0.5.0", {"baichuan": "flat", "llama": "flat"}, extra={"examples/baichuan/build.py": LEGACY_BUILD})},
        bare=True)
    return {"backend": file_url(backend), "trt_old": file_url(trt_old)}


def prepare_screens(base: Path, remotes: dict, hub) -> dict:
    """Clone the checkout, run the pipeline once (local destination), make the Triton template variant
    with a blocking placeholder; everything under ``base`` (a fixed path for deterministic images)."""
    import shutil as _sh

    from lmi_wizard.core import checkout as core_checkout
    from lmi_wizard.core import wizard as S
    from lmi_wizard.core.pipeline import engine as pipeline
    from tests.support.pipeline import tutorial_recipe

    work = base / "work"
    answers = tutorial_recipe(remotes, work, "lmi-llm/baichuan-13b-tp2/baichuan-13b-chat/")
    co = S.work_path(answers, answers["checkout.dir"])
    core_checkout.checkout(S.resolve_tag(answers), co, backend_url=answers["checkout.backend_url"],
                           trtllm_url=answers["checkout.trtllm_url"])
    report = pipeline.build_pipeline(answers, hf_endpoint=hub.endpoint).run()
    assert report.ok, report.error
    variant = base / "triton-variant"
    _sh.copytree(co / "all_models", variant / "all_models")
    tmpl = variant / "all_models" / "inflight_batcher_llm" / "tensorrt_llm" / "config.pbtxt"
    tmpl.write_text(tmpl.read_text() + "version_policy: { latest: { num_versions: ${num_versions} } }\n")
    return {"base": base, "answers": answers, "report": report, "hub": hub, "variant": variant,
            "env": environment_report(base, trtllm="0.5.0"),
            "env_none": environment_report(base / "nogpu", trtllm=None, gpus=0)}


def screen_app(prep: dict, screen: str):
    """A WizardApp showing ``screen`` over the prepared environment (fixed clock, masked times)."""
    from lmi_wizard.core.wizard import recipe as R
    from lmi_wizard.tui.app import WizardApp

    start = {"environment-no-gpu": "environment"}.get(screen, screen)
    a = prep["answers"].copy()
    if screen == "triton":
        a["triton.optional_placeholders"] = "keep"
        a["checkout.dir"] = str(prep["variant"])
    state = prep["base"] / f"state-{screen}.toml"
    R.save_state(R.WizardState(a, start, None, state))
    env = prep["env_none"] if screen == "environment-no-gpu" else prep["env"]
    app = WizardApp(state_path=state, environment=env, start_at=start,
                    pipeline_options={"hf_endpoint": prep["hub"].endpoint})
    app.clock = lambda: 0.0
    app.mask_times = True
    if screen == "done":
        app.session.run_result = prep["report"]
    return app


def _pending_timers(app) -> bool:
    """A one-shot timer (``set_timer``: a debounced load, a delayed refresh) of the screen or its widgets that
    has not fired yet; repeating ones (cursor blink, progress ticks) never end and are not waited for."""
    nodes = [app.screen, *app.screen.walk_children()]
    return any(t._repeat == 0 and t._task is not None and not t._task.done() for n in nodes for t in list(n._timers))


async def settle(pilot) -> None:
    """Wait until the app is quiet: no worker running (plans, previews, look-ups), no one-shot timer of the
    screen pending (debounced loads), no scheduled animation, the message queue idle. A condition wait, never a
    fixed time (the bound only stops a hang)."""
    from textual.worker import WorkerCancelled, WorkerFailed

    app = pilot.app
    for _ in range(1000):  # a timer or a finished worker may start another (debounced load, preview after plan)
        try:
            await app.workers.wait_for_complete()
        except (WorkerCancelled, WorkerFailed):  # superseded by an exclusive worker, or the screen shows the error
            pass
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        if not any(w.is_running for w in app.workers) and not _pending_timers(app):
            return
        await pilot.pause(0.02)


async def settle_screen(pilot) -> None:
    """Wait until the screen is quiet (its run, if any, ended; then ``settle``); then no cursor blink and the
    same scroll position every time, for deterministic snapshots."""
    from textual.widgets import Input

    app = pilot.app
    for _ in range(2000):
        if not getattr(app.screen, "running", False):
            break
        await pilot.pause(0.01)
    await settle(pilot)
    for inp in app.screen.query(Input):
        inp.cursor_blink = False
    name = type(app.screen).__name__
    if name == "BuildScreen":
        app.screen.query_one("#build-preview").scroll_visible(animate=False)
    if name == "TritonScreen":
        app.screen.query_one("#placeholders").scroll_visible(animate=False, top=True)
    await pilot.pause()


async def wait_for(pilot, cond, timeout: float = 60.0) -> None:
    """Let the app run until ``cond()`` holds (checked every 50 ms); the bound only stops a hang."""
    import time

    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        await pilot.pause(0.05)


def app_at(tmp_path: Path, work: Path, step: str, **values):
    """A WizardApp opened at ``step`` over the checkout-shaped ``work`` folder (the ``workdir`` fixture of
    tests/conftest.py), TensorRT-LLM 0.5.0 installed, answers ``values`` (dotted keys) set."""
    from lmi_wizard.core.wizard import recipe as R
    from lmi_wizard.tui.app import WizardApp

    a = R.loads_recipe(f'[env]\ntrtllm_version = "0.5.0"\n[checkout]\nwork_dir = "{work}"\n', require=False)
    for k, v in values.items():
        a[k] = v
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, step, None, state))
    return WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.5.0"), start_at=step)


def text_of(app, selector: str) -> str:
    """The rendered text of one Static on the current screen."""
    from textual.widgets import Static

    return str(app.screen.query_one(selector, Static).render())


def screen_text(app) -> str:
    """Everything the current screen shows, as plain text (what a user reads, cell for cell)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None,
                      force_terminal=False, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def painted(app) -> list[str]:
    """The rows the terminal shows (the screen composed as ``export_screenshot`` does), as text."""
    import io

    from rich.console import Console

    w, h = app.size
    console = Console(width=w, height=h, file=io.StringIO(), record=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def screen_words(app) -> str:
    """``screen_text`` as one line of words: box borders dropped and wrapped lines joined, so a phrase the
    screen wraps still reads as the phrase."""
    import re

    return " ".join(re.sub(r"[│┃╭╮╰╯─━]", " ", screen_text(app)).split())
