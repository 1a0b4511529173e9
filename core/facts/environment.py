"""One call for front ends: what this machine can do (GPUs, TensorRT-LLM, LMI target).

``gather()`` is what ``lmi-wizard doctor`` prints and what the wizard's first screen shows. It never
raises for a missing GPU, driver, package or network; only a bad user override is a WizardError.
Stdlib (+ pynvml, imported lazily) only.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import gpu as gpu_mod
from . import target as target_mod
from . import versions as versions_mod
from ..base.progress import CancelToken, ProgressFn, emit


@dataclass
class EnvironmentReport:
    gpu: gpu_mod.GpuState
    tensorrt_llm: versions_mod.InstalledPackage
    tensorrt: versions_mod.InstalledPackage
    tag: versions_mod.TagResolution | None
    lmi: target_mod.LmiTarget
    deploy_instance_families: list[str]
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def can_build(self) -> bool:
        """Engines can be built here: a GPU is visible and a tensorrt-llm with the engine backend is installed."""
        return (self.gpu.available and self.tensorrt_llm.installed
                and not target_mod.engine_backend_removed(self.tensorrt_llm.version))

    def cannot_do(self, lmi: "target_mod.LmiTarget | None" = None) -> list[str]:
        """Plain sentences: what this machine cannot do, and what still works (``lmi``: the target of the current
        answers, when a front end has one; else the detected one)."""
        out: list[str] = []
        if not self.gpu.available:
            out.append("no NVIDIA GPU visible: engines cannot be built or tested here "
                       "(configs, uploads and recipes still work)")
        if not self.tensorrt_llm.installed:
            lmi = lmi or self.lmi
            want = lmi.trtllm_version
            hint = f" (LMI {lmi.version} needs tensorrt-llm {want})" if want else ""
            out.append(f"tensorrt-llm is not installed: checkpoint conversion and trtllm-build cannot run here{hint}")
        elif target_mod.engine_backend_removed(self.tensorrt_llm.version):
            out.append(target_mod.engine_backend_text(self.tensorrt_llm.version))
        return out

    def all_notes(self) -> list[str]:
        """``notes`` plus the tag lookup's notes (prefixed with the tag)."""
        tag_notes = [f"tag {self.tag.tag or '?'}: {n}" for n in self.tag.notes] if self.tag else []
        return list(self.notes) + tag_notes

    def to_json(self) -> dict[str, Any]:
        trt_llm = self.tensorrt_llm.to_json()
        trt_llm["tag"] = self.tag.tag if self.tag else None
        trt_llm["template_repo"] = self.tag.template_repo.github if self.tag else None
        trt_llm["template_subdir"] = self.tag.template_repo.subdir if self.tag else None
        trt_llm["tag_resolution"] = self.tag.to_json() if self.tag else None
        return {
            "gpus": [g.to_json() for g in self.gpu.gpus],
            "gpu_available": self.gpu.available,
            "gpu_reason": self.gpu.reason,
            "driver_version": self.gpu.driver_version,
            "cuda_driver_version": self.gpu.cuda_driver_version,
            "tensorrt_llm": trt_llm,
            "tensorrt": self.tensorrt.to_json(),
            "deploy_instance_families": list(self.deploy_instance_families),
            "lmi": self.lmi.to_json(),
            "can_build": self.can_build,
            "cannot_do": self.cannot_do(),
            "notes": self.all_notes(),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def gather(*, lookup_tags: bool = True, offline: bool = False, checkout: str | os.PathLike | None = None,
           backend_url: str = versions_mod.BACKEND_URL, trtllm_url: str = versions_mod.TRTLLM_URL,
           timeout: float = versions_mod.DEFAULT_TIMEOUT, lmi_override: str | None = None,
           layout_override: str | None = None, nvml: Any = None,
           metadata_path: Sequence[str | os.PathLike] | None = None,
           telemetry_file: str | os.PathLike | None = target_mod.TELEMETRY_FILE,
           install_root: str | os.PathLike | None = target_mod.DJL_INSTALL_ROOT,
           progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> EnvironmentReport:
    """Detect everything. ``lookup_tags=False`` (first screen) or ``offline=True`` never touches the
    network; otherwise ``git ls-remote`` runs once with ``timeout`` seconds, only when tensorrt-llm is
    installed. ``nvml``/``metadata_path``/``telemetry_file``/``install_root`` exist for tests."""
    start = time.monotonic()
    total = 4
    emit(progress, "doctor", "looking for GPUs", done=0, total=total)
    state = gpu_mod.detect_gpus(nvml)
    if cancel is not None:
        cancel.raise_if_cancelled()
    emit(progress, "doctor", "reading installed versions", done=1, total=total)
    trt_llm = versions_mod.detect_tensorrt_llm(metadata_path)
    trt = versions_mod.detect_tensorrt(metadata_path)
    notes: list[str] = list(state.notes)
    tag = None
    if trt_llm.installed and trt_llm.version:
        emit(progress, "doctor", "matching the release tag", done=2, total=total)
        if versions_mod.try_parse_version(trt_llm.version) is None:
            notes.append(f"tensorrt-llm version {trt_llm.version!r} is not a PEP 440 version; no tag")
        elif lookup_tags:
            tag = versions_mod.find_tag(trt_llm.version, offline=offline, checkout=checkout,
                                        backend_url=backend_url, trtllm_url=trtllm_url,
                                        timeout=timeout, cancel=cancel)
        else:
            tag = versions_mod.resolve_tag(trt_llm.version, None, backend_url=backend_url, trtllm_url=trtllm_url)
    if trt_llm.installed and not trt.installed:
        notes.append("tensorrt-llm is installed but no tensorrt distribution was found")
    emit(progress, "doctor", "choosing the LMI target", done=3, total=total)
    lmi = target_mod.determine_target(trtllm_version=trt_llm.version, lmi_override=lmi_override,
                                      layout_override=layout_override, telemetry_file=telemetry_file,
                                      install_root=install_root)
    notes.extend(lmi.notes)
    families, fam_notes = gpu_mod.deploy_families(state)
    notes.extend(fam_notes)
    emit(progress, "doctor", "done", done=total, total=total)
    return EnvironmentReport(state, trt_llm, trt, tag, lmi, families, notes, time.monotonic() - start)
