"""Snapshot tests (pytest-textual-snapshot) of every screen at 80×24, deterministic: a fixed environment
report (stand-in NVML, fake site-packages), a fixed clock on the Run screen and masked times in listings.
Each run prepares its files in its OWN folder (``/tmp/lmi-snap-XXXXXX``, the same length as the
``/tmp/lmi-wizard-snap`` the images show, so the layout is identical) and the recorded screen text is mapped
back to the shown name before the image is made: parallel runs never share a folder. Update with
``pytest --snapshot-update`` and READ each regenerated image before committing it: every snapshot here also
asserts what its screen must say, so an image approved with the wrong words fails.

The environment is prepared once per module (tests/support/tui.py, shared with scripts/make_screenshots.py):
real tagged git repositories, a real clone, one real pipeline run (stand-in builder, fake Hub, local
destination) whose report the Done screen shows, and a Triton template with an unfilled unquoted placeholder
for the review with a blocking row."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from rich.segment import Segment

from tests.hubserver import FakeHub, baichuan_repo
from tests.support.tui import (
    async_test,
    environment_report,
    make_remotes,
    prepare_screens,
    screen_app,
    screen_text,
    screen_words,
    settle_screen,
)

pytestmark = [pytest.mark.tui, pytest.mark.slow]

SHOWN = "/tmp/lmi-wizard-snap"  # the folder name the committed images show
SIZE = (80, 24)

# What each screen must say (the words a user reads), checked on the same state the image records.
MUST_SAY = {
    "environment": ["0: NVIDIA H200", "sm90", "tag v0.5.0", "LMI 0.25.0 → Triton layout", "loads the Triton layout"],
    "environment-no-gpu": ["no NVIDIA GPU visible", "tensorrt-llm not installed"],
    "checkout": ["existing checkout found", "already at v0.5.0, no local changes"],
    "model": ["BaichuanForCausalLM", "example folder for this architecture: baichuan", "12.4 GiB per GPU at TP 2"],
    "build": ["python3 build.py", "--world_size 2", "--max_output_len 512", "--use_inflight_batching"],
    "triton": ["1 blocking, 1 optional", "${num_versions} (line 209) blocks", "+ decoupled: True",
               "lowered to the engine's 64", "+max_batch_size: 64"],
    "destination": ["LMI model_id", "two-folder rule"],
    "review": ["Where to run", "an earlier run finished every step", "layout: triton", "set -euo pipefail"],
    "run": ["Build engines", "finished: LMI model_id"],
    "done": ["✓ LMI model_id", "config.pbtxt", "tokenizer_config.json"],
}


def _per_run_base() -> Path:
    for _ in range(100):
        base = Path(f"/tmp/lmi-snap-{secrets.token_hex(3)}")
        assert len(str(base)) == len(SHOWN)
        try:
            base.mkdir()
        except FileExistsError:
            continue
        return base
    raise AssertionError("no free /tmp/lmi-snap-* folder")


@pytest.fixture(scope="module")
def prep():
    base = _per_run_base()
    mp = pytest.MonkeyPatch()
    export_svg = Console.export_svg

    def shown_svg(self, *args, **kwargs):  # the recorded text as the committed images name the folder
        with self._record_buffer_lock:
            self._record_buffer[:] = [Segment(s.text.replace(str(base), SHOWN), s.style, s.control)
                                      for s in self._record_buffer]
        return export_svg(self, *args, **kwargs)

    mp.setattr(Console, "export_svg", shown_svg)
    try:
        remotes = make_remotes(base / "remotes")
        with FakeHub([baichuan_repo()]) as hub:
            yield prepare_screens(base, remotes, hub)
    finally:
        mp.undo()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("screen", list(MUST_SAY))
def test_screen(snap_compare, prep, screen):
    app = screen_app(prep, screen)
    said: dict[str, str] = {}

    async def before(pilot):
        await settle_screen(pilot)
        said["text"] = screen_text(pilot.app)
        said["words"] = screen_words(pilot.app)
        if screen == "triton":  # the placeholder review with a blocking row keeps Next disabled
            assert pilot.app.screen.query_one("#next").disabled
    assert snap_compare(app, terminal_size=SIZE, run_before=before)
    missing = [w for w in MUST_SAY[screen] if w not in said["words"]]
    assert not missing, f"the {screen} screen does not say {missing}:\n{said['text']}"


@pytest.mark.parametrize("screen", ["environment", "environment-no-gpu"])  # (issue 13 item 1: the card follows the answers)
def test_environment_layout_line_agrees_with_its_explanation(prep, screen):
    """The 'LMI target … → X layout' line and the sentence under it ('it loads the Y layout') name one layout."""
    import re

    @async_test
    async def body():
        app = screen_app(prep, screen)
        async with app.run_test(size=(100, 40)) as pilot:
            await settle_screen(pilot)
            return screen_words(app)
    text = body()
    head = re.search(r"LMI target LMI [\d.]+ → (\w+) layout", text)
    said = re.search(r"it loads the (\w+) layout", text)
    assert head and said, text
    assert head.group(1).lower() == said.group(1).lower(), (head.group(0), said.group(0))


def test_environment_light_theme(snap_compare, prep):
    app = screen_app(prep, "environment")

    async def before(pilot):
        pilot.app.theme = "textual-light"
        await settle_screen(pilot)
    assert snap_compare(app, terminal_size=SIZE, run_before=before)


@pytest.mark.parametrize("trtllm,layout,other", [("0.12.0", "Triton layout", "flat"),
                                                 ("0.21.0", "flat", "Triton layout")])
def test_environment_names_the_layout_of_its_release(tmp_path, trtllm, layout, other):
    """TRT-LLM 0.12 (LMI 0.30–0.32) loads the Triton layout; 0.21 (LMI 0.33) only the flat folder: the
    Environment screen's layout line says which, and not the other."""
    from lmi_wizard.tui.app import WizardApp

    @async_test
    async def body():
        app = WizardApp(state_path=tmp_path / "state.toml", environment=environment_report(tmp_path, trtllm=trtllm),
                        start_at="environment")
        async with app.run_test(size=(100, 40)) as pilot:
            await settle_screen(pilot)
            return screen_text(app)
    text = body()
    line = next((ln for ln in text.splitlines() if "LMI target" in ln), "")
    assert layout in line and other not in line, text


def test_ctrl_t_toggles_light_dark(prep):
    @async_test
    async def body():
        app = screen_app(prep, "review")
        async with app.run_test(size=SIZE) as pilot:
            dark = app.theme
            await pilot.press("ctrl+t")
            assert app.theme != dark and "light" in app.theme
    body()
