"""Snapshot tests (pytest-textual-snapshot) of every screen at 80×24, deterministic: a fixed environment
report (stand-in NVML, fake site-packages), fixed folder names under /tmp/lmi-wizard-snap, a fixed clock
on the Run screen and masked times in listings. Update with ``pytest --snapshot-update``.

The environment is prepared once per module (tests/test_tui_support.py, shared with
scripts/make_screenshots.py): real tagged git repositories, a real clone, one real pipeline run (stand-in
builder, fake Hub, local destination) whose report the Done screen shows, and a Triton template with an
unfilled unquoted placeholder for the review with a blocking row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.hubserver import FakeHub, baichuan_repo
from tests.test_tui_support import make_remotes, prepare_screens, screen_app, settle_screen

SNAP = Path("/tmp/lmi-wizard-snap")
SIZE = (80, 24)


@pytest.fixture(scope="module")
def prep():
    shutil.rmtree(SNAP, ignore_errors=True)
    SNAP.mkdir(parents=True)
    remotes = make_remotes(SNAP / "remotes")
    with FakeHub([baichuan_repo()]) as hub:
        yield prepare_screens(SNAP, remotes, hub)


@pytest.mark.parametrize("screen", ["environment", "environment-no-gpu", "checkout", "model", "build", "triton",
                                    "destination", "review", "run", "done"])
def test_screen(snap_compare, prep, screen):
    app = screen_app(prep, screen)

    async def before(pilot):
        await settle_screen(pilot)
        if screen == "triton":  # the placeholder review with a blocking row keeps Next disabled
            assert pilot.app.screen.query_one("#next").disabled
    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_environment_light_theme(snap_compare, prep):
    app = screen_app(prep, "environment")

    async def before(pilot):
        pilot.app.theme = "textual-light"
        await settle_screen(pilot)
    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_ctrl_t_toggles_light_dark(prep):
    from tests.test_tui_support import async_test

    @async_test
    async def body():
        app = screen_app(prep, "review")
        async with app.run_test(size=SIZE) as pilot:
            dark = app.theme
            await pilot.press("ctrl+t")
            assert app.theme != dark and "light" in app.theme
    body()
