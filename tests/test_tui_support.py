"""Shared helpers for the TUI/plain tests: a prepared environment (real core detection over a stand-in
NVML and a fake site-packages with tensorrt-llm's metadata), and a sync wrapper for Pilot tests.

The only stand-in is NVML (needs a GPU); everything else is core's real code."""

from __future__ import annotations

import asyncio
import functools
import json
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NVML_FIXTURE = ROOT.parent / "shared" / "fixtures" / "nvml" / "h200-nvml.json"


def async_test(fn):
    """Run an ``async def`` test without a pytest asyncio plugin."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return run


class _NVMLError(Exception):
    pass


def fake_nvml(gpus: int = 2) -> types.ModuleType:
    """The few ``pynvml`` calls core/gpu.py makes, answered with a real H200's values."""
    record = json.loads(NVML_FIXTURE.read_text())
    devices = [dict(record["gpus"][0], index=i) for i in range(gpus)]
    m = types.ModuleType("pynvml")
    m.NVMLError = _NVMLError
    m.NVMLError_NotSupported = type("NVMLError_NotSupported", (_NVMLError,), {})
    m.nvmlInit = lambda: None
    m.nvmlShutdown = lambda: None
    m.nvmlSystemGetDriverVersion = lambda: record["driver_version"]
    m.nvmlSystemGetCudaDriverVersion = lambda: record["cuda_driver_version"]
    m.nvmlDeviceGetCount = lambda: len(devices)
    m.nvmlDeviceGetHandleByIndex = lambda i: devices[i]
    m.nvmlDeviceGetName = lambda h: h["name"]
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=h["memory_total"], free=h["memory_free"],
                                                                used=h["memory_used"])
    m.nvmlDeviceGetCudaComputeCapability = lambda h: tuple(h["compute_capability"])
    m.nvmlDeviceGetMigMode = lambda h: [0, 0]
    return m


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
    from lmi_wizard.core import environment

    pkgs = {"tensorrt_llm": trtllm, "tensorrt": "10.3.0"} if trtllm else {}
    site = fake_site(tmp / "site", pkgs)
    nvml = fake_nvml(gpus) if gpus else types.SimpleNamespace(
        NVMLError=_NVMLError, nvmlInit=lambda: (_ for _ in ()).throw(_NVMLError("Driver Not Loaded")))
    return environment.gather(lookup_tags=False, nvml=nvml, metadata_path=[site], telemetry_file=None,
                              install_root=None)


def test_stand_in_report_is_core_shaped(tmp_path):
    rep = environment_report(tmp_path)
    assert rep.gpu.available and rep.gpu.count == 2 and rep.gpu.gpus[0].arch == "sm90"
    assert rep.tensorrt_llm.version == "0.12.0" and rep.lmi.layout == "triton"
    none = environment_report(tmp_path / "b", trtllm=None, gpus=0)
    assert not none.gpu.available and not none.tensorrt_llm.installed
    assert any("no NVIDIA GPU" in s for s in none.cannot_do())
