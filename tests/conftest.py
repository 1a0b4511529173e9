"""Shared test fixtures. Real components only; stand-ins only at the GPU boundary.

- Upstream fixtures (real upstream files): ``fixtures_dir`` / ``FIXTURES`` / marker ``needs_fixtures``; when none
  is reachable those tests SKIP with one line saying how to get them (tests/support/fixtures.py).
- S3: ``s3_server`` (a moto ThreadedMotoServer on 127.0.0.1, random port) and ``s3`` (tests/s3server.py).
- Upstream stand-ins: ``remotes`` (bare git repos with real tags), ``local_tok``, ``hub`` (fake Hub on 127.0.0.1).
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
# (chosen with --durations; `-m "not slow"` took 37–61 s on the shared 2-core box at load 2–4.5)
SLOW_MODULES = {"test_tutorial_e2e", "test_tui_e2e_tmux", "test_faults", "test_pbtxt_oracle", "test_tui_flow",
                "test_tui_snapshots", "test_run_cli", "test_pipeline", "test_publish_cli", "test_hostile",
                "test_tui_app", "test_tui_screens", "test_plain", "test_wizard_gates", "test_remote", "test_orphans",
                "test_serve", "test_remote_wizard", "test_publish_step", "test_net_waits"}
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


@pytest.fixture(scope="module")
def remotes(tmp_path_factory):
    """Bare 'upstream' repositories: tensorrtllm_backend v0.5.0 (real templates and fill_template.py of
    that tag) with TensorRT-LLM v0.5.0 (baichuan's legacy build.py stand-in), and TensorRT-LLM v0.21.0rc1
    (0.20+ layout, qwen with convert_checkpoint.py, real trtllm-build and plugin sources); ``bin`` holds a
    trtllm-build stand-in."""
    import sys

    from tests.gitfixtures import BACKEND_GITLINKS, backend_tree, file_url, make_repo, trtllm_tree
    from tests.support.pipeline import CONVERT, LEGACY_BUILD, TRTLLM_BUILD

    base = tmp_path_factory.mktemp("remotes")
    backend = make_repo(base / "tensorrtllm_backend", {"v0.5.0": backend_tree("v0.5.0")},
                        gitlinks=BACKEND_GITLINKS, bare=True)
    trt_old = make_repo(base / "TensorRT-LLM-old", {"v0.5.0": trtllm_tree(
        "v0.5.0", {"baichuan": "flat", "llama": "flat"}, extra={"examples/baichuan/build.py": LEGACY_BUILD})},
        bare=True)
    plugin = (FIXTURES / "trtllm-src" / "0.11.0.dev2024060400" / "tensorrt_llm" / "plugin" / "plugin.py").read_text()
    trt_new = make_repo(base / "TensorRT-LLM-new", {"v0.21.0rc1": trtllm_tree(
        "v0.21.0rc1", {"qwen": "core", "llama": "core"},
        extra={"examples/models/core/qwen/convert_checkpoint.py": CONVERT, "tensorrt_llm/plugin/plugin.py": plugin})},
        bare=True)
    bindir = base / "bin"
    bindir.mkdir()
    tb = bindir / "trtllm-build"
    tb.write_text(TRTLLM_BUILD.replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1))
    tb.chmod(0o755)
    return {"backend": file_url(backend), "trt_old": file_url(trt_old), "trt_new": file_url(trt_new),
            "bin": str(bindir)}


@pytest.fixture(scope="module")
def local_tok(tmp_path_factory):
    """The Baichuan repo's files as a local folder (weights included: they must never be copied)."""
    from tests.hubserver import baichuan_repo

    d = tmp_path_factory.mktemp("baichuan-local")
    for name, data in baichuan_repo().files.items():
        (d / name).write_bytes(data)
    return str(d)


@pytest.fixture
def hub():
    """A small Hugging Face Hub on 127.0.0.1 (the real huggingface_hub client talks to it): Baichuan and Qwen."""
    from tests.hubserver import FakeHub, baichuan_repo, qwen_repo

    with FakeHub([baichuan_repo(), qwen_repo()]) as h:
        yield h


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
