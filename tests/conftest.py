"""Shared test fixtures. Real components only; stand-ins only at the GPU boundary.

- Upstream fixtures (real upstream files): ``fixtures_dir`` / ``FIXTURES`` / marker ``needs_fixtures``; when none
  is reachable those tests SKIP with one line saying how to get them (tests/support/fixtures.py).
- S3: ``s3_server`` (a moto ThreadedMotoServer on 127.0.0.1, random port) and ``s3`` (tests/s3server.py).
- Processes: ``alive`` (pid → still running, zombies count as gone) from tests/support/procs.py.
- TUI: ``environment_report`` / ``text_of`` helpers live in tests/support/tui.py.
Markers (pyproject): ``slow``, ``e2e``, ``tui``, ``needs_fixtures``; ``pytest -m "not slow"`` is the fast loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures, shared by every module)
from tests.support import procs
from tests.support.fixtures import FIXTURES, HOW, available, fixtures_root  # noqa: F401  (FIXTURES re-exported)

ROOT = Path(__file__).resolve().parent.parent

# modules whose every test is slow on a 2-core box (whole runs, subprocess CLIs, Pilot flows, tmux, oracles)
SLOW_MODULES = {"test_tutorial_e2e", "test_tui_e2e_tmux", "test_faults", "test_pbtxt_oracle", "test_tui_flow",
                "test_tui_snapshots", "test_run_cli", "test_pipeline", "test_publish_cli", "test_hostile"}
TUI_MODULES = {"test_tui_app", "test_tui_flow", "test_tui_logpane", "test_tui_screens", "test_tui_snapshots",
               "test_tui_e2e_tmux", "test_plain"}
E2E_MODULES = {"test_tutorial_e2e", "test_tui_e2e_tmux"}


def pytest_collection_modifyitems(config, items):
    """Markers by module (test files stay where they are): slow / tui / e2e."""
    for item in items:
        mod = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if mod in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if mod in TUI_MODULES:
            item.add_marker(pytest.mark.tui)
        if mod in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_fixtures") is not None and not available():
        pytest.skip(HOW)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The upstream fixtures folder; the test is skipped (one line, how to get them) when none is reachable."""
    return fixtures_root()


@pytest.fixture
def alive():
    """``alive(pid)``: the process still runs (a zombie counts as gone)."""
    return procs.alive


@pytest.fixture(autouse=True)
def _no_secrets_leak_from_env(monkeypatch):
    """Tests never see the developer's real cloud credentials or HF token."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
