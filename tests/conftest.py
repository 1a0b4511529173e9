"""Shared test fixtures. Real components only; stand-ins only at the GPU boundary.

- Upstream fixtures (real upstream files): ``fixtures_dir`` / ``FIXTURES`` / marker ``needs_fixtures``; when none
  is reachable those tests SKIP with one line saying how to get them (tests/support/fixtures.py).
- S3: ``s3_server`` (a moto ThreadedMotoServer on 127.0.0.1, random port) and ``s3`` (tests/s3server.py).
- Upstream stand-ins: ``remotes`` (bare git repos with real tags), ``fault_remotes`` (the tutorial's two only),
  ``local_tok``, ``hub`` (fake Hub on 127.0.0.1), ``aws`` (moto + the SageMaker stand-in).
- TUI: ``workdir`` (a checkout-shaped work folder for ``tests.support.tui.app_at``).
- Processes: ``alive`` (pid → still running, zombies count as gone) from tests/support/procs.py.
- Plain helpers shared by several modules live in tests/support/<topic>.py (tui, pipeline, engines, serve, remote,
  builders, layouts, procs, fixtures, nvml, repos); a test module never imports another (test_architecture).
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
def fault_remotes(tmp_path_factory):
    """The tutorial's upstreams only (tensorrtllm_backend v0.5.0 + TensorRT-LLM v0.5.0 with the legacy build.py
    stand-in, which HANG_PIDS_FILE makes hang with a worker child), as bare git repositories: test_faults and
    test_orphans kill and resume its builds."""
    from tests.gitfixtures import BACKEND_GITLINKS, backend_tree, file_url, make_repo, trtllm_tree
    from tests.support.pipeline import LEGACY_BUILD

    base = tmp_path_factory.mktemp("fault-remotes")
    backend = make_repo(base / "tensorrtllm_backend", {"v0.5.0": backend_tree("v0.5.0")},
                        gitlinks=BACKEND_GITLINKS, bare=True)
    trt = make_repo(base / "TensorRT-LLM", {"v0.5.0": trtllm_tree(
        "v0.5.0", {"baichuan": "flat"}, extra={"examples/baichuan/build.py": LEGACY_BUILD})}, bare=True)
    return {"backend": file_url(backend), "trt_old": file_url(trt)}


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
def aws(s3):
    """The moto server with the SageMaker stand-in (tests/sagemaker_standin.py) hooked in, a bucket
    ``models``, and boto3 clients for SageMaker, CloudWatch Logs and Secrets Manager on it."""
    import boto3

    from tests.sagemaker_standin import SageMakerJobStandIn

    standin = SageMakerJobStandIn()
    s3.server.hooks.append(standin)
    s3.make_bucket("models")
    kw = dict(endpoint_url=s3.endpoint_url, region_name="us-east-1")
    s3.sm = boto3.client("sagemaker", **kw)
    s3.logs = boto3.client("logs", **kw)
    s3.secrets = boto3.client("secretsmanager", **kw)
    s3.standin = standin
    return s3


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A checkout-shaped work folder (tensorrtllm_backend v0.5.0 with TensorRT-LLM's baichuan/llama/gpt examples,
    the real upstream files the git fixtures use, written to disk) and a local Llama-2-7b model folder next to
    it (``tmp_path/models/Llama-2-7b``); for single-screen Pilot tests with ``tests.support.tui.app_at``."""
    import json

    from tests.gitfixtures import backend_tree, trtllm_tree
    from tests.support.pipeline import LEGACY_BUILD

    work = tmp_path / "work"
    co = work / "tensorrtllm_backend"
    for rel, content in backend_tree("v0.5.0").items():
        (co / rel).parent.mkdir(parents=True, exist_ok=True)
        (co / rel).write_text(content)
    files = trtllm_tree("v0.5.0", {"baichuan": "flat", "llama": "flat", "gpt": "flat"},
                        extra={"examples/baichuan/build.py": LEGACY_BUILD})
    for rel, content in files.items():
        p = co / "tensorrt_llm" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content) if isinstance(content, str) else p.write_bytes(content)
    model = tmp_path / "models" / "Llama-2-7b"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
        "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 32000, "intermediate_size": 11008,
        "torch_dtype": "float16"}))
    (model / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    (model / "tokenizer.model").write_bytes(b"\x00sentencepiece")
    (model / "special_tokens_map.json").write_text("{}")
    (model / "model-00001-of-00002.safetensors").write_bytes(b"\0" * 64)  # weights: never taken
    return work


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
