"""GPU detection through NVML (package ``nvidia-ml-py``, module ``pynvml``).

:func:`detect_gpus` never raises: no library, no driver or any NVML error gives a :class:`GpuState`
with ``available=False`` and a ``reason`` ("no NVIDIA GPU visible: …"). ``pynvml`` is imported inside
the function, and this module imports only the standard library, so the detection path also runs on
a GPU machine that has nothing but Python and nvidia-ml-py.

The architecture → SageMaker instance family table lives in ``data/instance_families.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..data import load as load_table

NO_GPU = "no NVIDIA GPU visible"


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_total_bytes: int
    compute_capability: tuple[int, int]
    arch: str
    mig_enabled: bool | None = None  # None: not supported / not asked

    @property
    def memory_gib(self) -> float:
        return self.memory_total_bytes / 2**30

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "memory_total_bytes": self.memory_total_bytes,
            "compute_capability": list(self.compute_capability),
            "arch": self.arch,
            "mig_enabled": self.mig_enabled,
        }


@dataclass(frozen=True)
class GpuState:
    available: bool
    gpus: tuple[GpuInfo, ...] = ()
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # "13.0"
    reason: str | None = None  # why no GPU is usable (when not available)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def count(self) -> int:
        return len(self.gpus)

    @property
    def archs(self) -> list[str]:
        seen: list[str] = []
        for g in self.gpus:
            if g.arch not in seen:
                seen.append(g.arch)
        return seen

    def summary(self) -> str:
        if not self.available:
            return self.reason or NO_GPU
        groups: dict[tuple[str, int, str], int] = {}
        for g in self.gpus:
            key = (g.name, round(g.memory_gib), g.arch)
            groups[key] = groups.get(key, 0) + 1
        parts = [f"{n} × {name} ({gib} GiB, {arch})" for (name, gib, arch), n in groups.items()]
        drv = []
        if self.driver_version:
            drv.append(f"driver {self.driver_version}")
        if self.cuda_driver_version:
            drv.append(f"CUDA {self.cuda_driver_version}")
        return ", ".join(parts) + (f" — {', '.join(drv)}" if drv else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "count": self.count,
            "gpus": [g.to_json() for g in self.gpus],
            "driver_version": self.driver_version,
            "cuda_driver_version": self.cuda_driver_version,
            "reason": self.reason,
            "notes": list(self.notes),
        }


def arch_of(cc: tuple[int, int] | list[int]) -> str:
    """(9, 0) → "sm90"; (10, 0) → "sm100"; (8, 6) → "sm86"."""
    major, minor = int(cc[0]), int(cc[1])
    return f"sm{major}{minor}"


def cuda_version_string(v: int | None) -> str | None:
    """NVML's CUDA driver version integer → "major.minor": 13000 → "13.0", 12040 → "12.4"."""
    if v is None:
        return None
    try:
        v = int(v)
    except (TypeError, ValueError):
        return None
    if v <= 0:
        return None
    return f"{v // 1000}.{(v % 1000) // 10}"


def _text(v: Any) -> str:
    if isinstance(v, bytes):  # old pynvml returned bytes
        return v.decode("utf-8", errors="replace")
    return str(v)


def _nvml_error_text(exc: BaseException) -> str:
    name = type(exc).__name__
    msg = str(exc) or name
    if name == "NVMLError_LibraryNotFound":
        return f"the NVIDIA driver library (libnvidia-ml.so) was not found ({msg}); install the NVIDIA driver or run on a GPU machine"
    if name == "NVMLError_DriverNotLoaded":
        return f"the NVIDIA driver is not loaded ({msg}); check `nvidia-smi` and the kernel module"
    if name == "NVMLError_NoPermission":
        return f"no permission to query the GPU ({msg}); in a container, pass --gpus all / --runtime=nvidia"
    if name == "NVMLError_LibRmVersionMismatch":
        return f"driver/library version mismatch ({msg}); reboot or reload the NVIDIA driver"
    return f"NVML error: {msg}"


def detect_gpus(nvml: Any = None, *, mig: bool = True) -> GpuState:
    """Ask NVML for the GPUs of this machine. Never raises (except KeyboardInterrupt).

    ``nvml`` is the ``pynvml`` module; by default it is imported here (lazily)."""
    if nvml is None:
        try:
            import pynvml as nvml  # type: ignore[no-redef]
        except ImportError as exc:
            return GpuState(False, reason=f"{NO_GPU}: the NVML Python binding is not installed "
                                          f"({exc}); pip install nvidia-ml-py")
    nvml_error = getattr(nvml, "NVMLError", None)
    catch: tuple[type[BaseException], ...] = (OSError, AttributeError, TypeError, ValueError)
    if isinstance(nvml_error, type) and issubclass(nvml_error, BaseException):
        catch = (nvml_error,) + catch
    try:
        nvml.nvmlInit()
    except catch as exc:
        return GpuState(False, reason=f"{NO_GPU}: {_nvml_error_text(exc)}")
    notes: list[str] = []
    try:
        try:
            driver = _text(nvml.nvmlSystemGetDriverVersion())
        except catch as exc:
            driver = None
            notes.append(f"driver version unknown: {_nvml_error_text(exc)}")
        try:
            cuda = cuda_version_string(nvml.nvmlSystemGetCudaDriverVersion())
        except catch as exc:
            cuda = None
            notes.append(f"CUDA driver version unknown: {_nvml_error_text(exc)}")
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except catch as exc:
            return GpuState(False, driver_version=driver, cuda_driver_version=cuda,
                            reason=f"{NO_GPU}: {_nvml_error_text(exc)}", notes=tuple(notes))
        gpus: list[GpuInfo] = []
        for i in range(count):
            try:
                h = nvml.nvmlDeviceGetHandleByIndex(i)
                name = _text(nvml.nvmlDeviceGetName(h))
                total = int(nvml.nvmlDeviceGetMemoryInfo(h).total)
                cc = tuple(int(x) for x in nvml.nvmlDeviceGetCudaComputeCapability(h))
            except catch as exc:
                notes.append(f"GPU {i} skipped: {_nvml_error_text(exc)}")
                continue
            mig_enabled: bool | None = None
            if mig and hasattr(nvml, "nvmlDeviceGetMigMode"):
                try:
                    current = nvml.nvmlDeviceGetMigMode(h)[0]
                    mig_enabled = bool(current)
                except catch:
                    mig_enabled = None  # not a MIG-capable GPU
            if mig_enabled:
                notes.append(f"GPU {i} is in MIG mode: engines built on a MIG slice see only its memory")
            gpus.append(GpuInfo(i, name, total, (cc[0], cc[1]), arch_of(cc), mig_enabled))
    finally:
        try:
            nvml.nvmlShutdown()
        except catch:
            pass
    if not gpus:
        why = "the driver is loaded but reports no usable GPU" if count == 0 else "no GPU could be queried"
        if count == 0:
            why += " (check CUDA_VISIBLE_DEVICES / --gpus in a container)"
        return GpuState(False, (), driver, cuda, reason=f"{NO_GPU}: {why}", notes=tuple(notes))
    return GpuState(True, tuple(gpus), driver, cuda, None, tuple(notes))


# --- architecture → SageMaker instance families -------------------------------------------------


@lru_cache(maxsize=1)
def load_instance_table() -> dict[str, Any]:
    """The arch table from ``data/instance_families.json`` (``{"sm90": {"name", "families": [...]}}``)."""
    return load_table("instance_families.json")["archs"]


def instance_families_for(arch: str) -> list[str]:
    """"sm90" → ["p5", "p5e", "p5en"]; unknown arch → []."""
    entry = load_instance_table().get(arch)
    return [f["family"] for f in entry["families"]] if entry else []


def instance_targets_for(arch: str) -> list[dict[str, Any]]:
    """Rows ``{family, gpu, gpu_memory_gib}`` for ``arch`` (copies)."""
    entry = load_instance_table().get(arch)
    return [dict(f) for f in entry["families"]] if entry else []


def deploy_families(state: GpuState) -> tuple[list[str], list[str]]:
    """SageMaker families an engine built on this machine can be deployed to, plus notes.

    Engines are built on (and only run on) one GPU architecture; with mixed GPUs the first GPU's
    architecture is used and a note says so."""
    notes: list[str] = []
    if not state.available or not state.gpus:
        return [], notes
    archs = state.archs
    arch = state.gpus[0].arch
    if len(archs) > 1:
        notes.append(f"GPUs of different architectures ({', '.join(archs)}): an engine runs only on the "
                     f"architecture it was built on; families shown are for GPU 0 ({arch})")
    rows = instance_targets_for(arch)
    if not rows:
        notes.append(f"no SageMaker instance family known for {arch}; the table is core/data/instance_families.json")
        return [], notes
    local_gib = min(g.memory_gib for g in state.gpus if g.arch == arch)
    smaller = [f"{r['family']} ({r['gpu']}, {r['gpu_memory_gib']} GiB)" for r in rows
               if r["gpu_memory_gib"] < local_gib * 0.95]
    if smaller:
        notes.append(f"this GPU has {local_gib:.0f} GiB; {', '.join(smaller)} per GPU is less: "
                     "size batch, sequence lengths and KV cache for the smallest family you deploy to")
    return [r["family"] for r in rows], notes
