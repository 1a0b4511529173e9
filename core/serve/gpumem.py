"""GPU memory through NVML (``pynvml``): who holds memory before the server starts, and whether the memory
the server used is free again after it stopped.

Memory is compared per GPU (used bytes), not by process id: inside a container NVML reports host pids.
Never raises: without NVML every function answers "not checked" with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

from ..base.progress import CancelToken

DEFAULT_TOLERANCE = 512 * 2**20  # allocator caches, another tenant's small changes


@dataclass
class GpuProcess:
    gpu: int
    pid: int
    used_bytes: Optional[int]
    name: Optional[str] = None


@dataclass
class MemSnapshot:
    used: dict[int, int] = field(default_factory=dict)  # GPU index → bytes in use
    total: dict[int, int] = field(default_factory=dict)
    processes: list[GpuProcess] = field(default_factory=list)

    def others(self) -> list[tuple[int, int, Optional[int], Optional[str]]]:
        return [(p.gpu, p.pid, p.used_bytes, p.name) for p in self.processes]


def _load(nvml: Any):
    if nvml is False:
        return None, "GPU memory not checked: NVML use turned off"
    if nvml is None:
        try:
            import pynvml as nvml  # type: ignore[no-redef]
        except ImportError:
            return None, "GPU memory not checked: the NVML binding is not installed (pip install nvidia-ml-py)"
    return nvml, None


def _proc_name(pid: int) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def snapshot(nvml: Any = None) -> tuple[Optional[MemSnapshot], Optional[str]]:
    """(snapshot, None) or (None, why not)."""
    nvml, why = _load(nvml)
    if nvml is None:
        return None, why
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_* (no driver, no GPU)
        return None, f"GPU memory not checked: NVML unavailable ({exc or type(exc).__name__})"
    snap = MemSnapshot()
    try:
        for i in range(int(nvml.nvmlDeviceGetCount())):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            mem = nvml.nvmlDeviceGetMemoryInfo(h)
            snap.used[i], snap.total[i] = int(mem.used), int(mem.total)
            try:
                procs = nvml.nvmlDeviceGetComputeRunningProcesses(h) or []
            except Exception:  # NotSupported on some boards / MIG
                procs = []
            for p in procs:
                pid = int(getattr(p, "pid", 0) or 0)
                used = getattr(p, "usedGpuMemory", None)
                snap.processes.append(GpuProcess(i, pid, int(used) if isinstance(used, int) else None,
                                                 _proc_name(pid)))
    except Exception as exc:
        return None, f"GPU memory not checked: NVML error ({exc or type(exc).__name__})"
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass
    return snap, None


def wait_freed(before: MemSnapshot, *, nvml: Any = None, timeout: float = 30.0, interval: float = 0.5,
               tolerance: int = DEFAULT_TOLERANCE, cancel: CancelToken | None = None) -> tuple[Optional[bool], str]:
    """Wait until every GPU uses no more than it did ``before`` (+ ``tolerance``). (True, note) when freed,
    (False, which GPU still holds how much) after ``timeout``, (None, why) when NVML cannot tell."""
    deadline = time.monotonic() + timeout
    while True:
        now, why = snapshot(nvml)
        if now is None:
            return None, why or "GPU memory not checked"
        over = {i: now.used[i] - before.used.get(i, 0) for i in now.used
                if now.used[i] > before.used.get(i, 0) + tolerance}
        if not over:
            return True, "GPU memory free again (" + ", ".join(
                f"GPU {i}: {now.used[i] / 2**30:.1f} GiB used" for i in sorted(now.used)) + ")"
        if time.monotonic() >= deadline or (cancel is not None and cancel.cancelled):
            held = ", ".join(f"GPU {i}: {n / 2**30:.1f} GiB more than before the server started"
                             for i, n in sorted(over.items()))
            return False, f"GPU memory still in use {timeout:g} s after the server stopped ({held})"
        if cancel is not None:
            cancel.wait(interval)
        else:
            time.sleep(interval)

