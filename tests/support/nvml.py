"""A stand-in for the ``pynvml`` module (NVML needs a GPU), answering with the values a real H200 returned
(tests/data/fixtures/nvml/h200-nvml.json, the same record as fixtures/nvml; the real path ran on the device
machine). One copy for the GPU, doctor and TUI tests."""

from __future__ import annotations

import json
import types
from pathlib import Path

H200_RECORD = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "nvml" / "h200-nvml.json"


def h200_record() -> dict:
    """What NVML reported on a real H200 (driver, CUDA, one GPU's name, memory, compute capability, MIG)."""
    return json.loads(H200_RECORD.read_text())


class _NVMLError(Exception):
    def __init__(self, value: int = 999, text: str = "Unknown Error"):
        super().__init__(text)
        self.value = value


def fake_nvml(record: dict, *, init_error: str | None = None, gpus: list[dict] | None = None,
              mig_not_supported: bool = False, device_error_at: int | None = None) -> types.ModuleType:
    """A minimal stand-in for the ``pynvml`` module (only the calls gpu.py makes)."""
    m = types.ModuleType("pynvml")
    m.NVMLError = _NVMLError
    errors = {"NVMLError_LibraryNotFound": (12, "NVML Shared Library Not Found"),
              "NVMLError_DriverNotLoaded": (9, "Driver Not Loaded"),
              "NVMLError_NotSupported": (3, "Not Supported"),
              "NVMLError_GpuIsLost": (15, "GPU is lost")}
    for name, (code, text) in errors.items():
        setattr(m, name, type(name, (_NVMLError,), {"__init__": lambda self, c=code, t=text: _NVMLError.__init__(self, c, t)}))
    devices = gpus if gpus is not None else record["gpus"]
    m.calls = []

    def init():
        m.calls.append("init")
        if init_error:
            raise getattr(m, init_error)()

    def handle(i):
        if device_error_at == i:
            raise m.NVMLError_GpuIsLost()
        return devices[i]

    def mig_mode(h):
        if mig_not_supported:
            raise m.NVMLError_NotSupported()
        return json.loads(h["nvmlDeviceGetMigMode"]) if isinstance(h.get("nvmlDeviceGetMigMode"), str) else [0, 0]

    m.nvmlInit = init
    m.nvmlShutdown = lambda: m.calls.append("shutdown")
    m.nvmlSystemGetDriverVersion = lambda: record["driver_version"]
    m.nvmlSystemGetCudaDriverVersion = lambda: record["cuda_driver_version"]
    m.nvmlDeviceGetCount = lambda: len(devices)
    m.nvmlDeviceGetHandleByIndex = handle
    m.nvmlDeviceGetName = lambda h: h["name"]
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=h["memory_total"], free=h["memory_free"],
                                                                used=h["memory_used"])
    m.nvmlDeviceGetCudaComputeCapability = lambda h: tuple(h["compute_capability"])
    m.nvmlDeviceGetMigMode = mig_mode
    return m
