"""SageMaker training instance types: which exist (botocore's own enum: neither botocore nor the API rejects a
bad one before the job starts), their GPU architecture (``data/instance_families.json``) and GPU count
(``data/sagemaker.json``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from ..base.errors import WizardError
from ..data import load as load_table
from ..facts.gpu import load_instance_table

__all__ = ["Instance", "training_instance_types", "sagemaker_model", "describe", "check_instance", "propose"]


@lru_cache(maxsize=1)
def sagemaker_model():
    """botocore's SageMaker service model (the shapes the request is checked against)."""
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


@lru_cache(maxsize=1)
def training_instance_types() -> tuple[str, ...]:
    return tuple(sagemaker_model().shape_for("TrainingInstanceType").enum)


@dataclass(frozen=True)
class Instance:
    type: str  # ml.p5.48xlarge
    family: str  # p5
    size: str  # 48xlarge
    arch: Optional[str]  # sm90, None when the family has no known GPU
    gpus: int  # 0 when unknown / no GPU
    gpu: Optional[str] = None  # H100
    gpu_memory_gib: Optional[int] = None

    @property
    def quota_name(self) -> str:
        return f"{self.type} for training job usage"


def _family_row(family: str) -> tuple[Optional[str], Optional[dict]]:
    for arch, entry in load_instance_table().items():
        for row in entry["families"]:
            if row["family"] == family:
                return arch, row
    return None, None


def describe(instance_type: str) -> Instance:
    """What is known of ``instance_type``; WizardError when botocore does not list it for training."""
    known = training_instance_types()
    if instance_type not in known:
        near = difflib.get_close_matches(instance_type, known, n=1)
        raise WizardError(f"{instance_type!r} is not a SageMaker training instance type (botocore lists "
                          f"{len(known)})", f"did you mean {near[0]}?" if near else
                          "write it like ml.p5.48xlarge (see `aws sagemaker create-training-job help`)")
    _, family, size = instance_type.split(".", 2)
    arch, row = _family_row(family)
    gpus = load_table("sagemaker.json")["gpus"].get(family, {}).get(size, 0) if arch else 0
    return Instance(instance_type, family, size, arch, gpus, (row or {}).get("gpu"), (row or {}).get("gpu_memory_gib"))


def candidates(arch: str, gpus: int = 1) -> list[Instance]:
    """Training instance types of ``arch`` with at least ``gpus`` GPUs, fewest GPUs first."""
    out = []
    for t in training_instance_types():
        parts = t.split(".", 2)
        if len(parts) != 3:
            continue
        a, _ = _family_row(parts[1])
        if a != arch:
            continue
        inst = describe(t)
        if inst.gpus >= gpus:
            out.append(inst)
    order = {s: i for i, s in enumerate(("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
                                         "24xlarge", "48xlarge"))}
    return sorted(out, key=lambda i: (i.gpus, order.get(i.size, 99), i.family))


def propose(arch: Optional[str], gpus: int = 1) -> Optional[str]:
    """The smallest training instance type of ``arch`` with ``gpus`` GPUs (what the wizard proposes)."""
    found = candidates(arch, gpus) if arch else []
    return found[0].type if found else None


def check_instance(instance_type: str, target_arch: Optional[str], gpus_needed: int) -> Instance:
    """The instance, when it exists, has the deployment's architecture and enough GPUs; else WizardError."""
    inst = describe(instance_type)
    if not target_arch:
        raise WizardError("the recipe does not say which GPU architecture it deploys to (no GPU visible here)",
                          "add `target_arch = \"sm90\"` (or sm80, sm86, sm89) under [env]")
    if inst.arch is None:
        raise WizardError(f"{instance_type} has no NVIDIA GPU known to lmi-wizard",
                          f"use a GPU instance of {target_arch}: " + ", ".join(i.type for i in candidates(target_arch)[:4]))
    if inst.arch != target_arch:
        raise WizardError(f"{instance_type} has {inst.gpu} GPUs ({inst.arch}); the recipe deploys to {target_arch}: "
                          "an engine runs only on the architecture it was built on",
                          "use " + (", ".join(i.type for i in candidates(target_arch, gpus_needed)[:4]) or
                                    f"an instance of {target_arch}") + f", or change [env] target_arch")
    if inst.gpus < gpus_needed:
        bigger = candidates(target_arch, gpus_needed)
        raise WizardError(f"{instance_type} has {inst.gpus} GPU(s); the engine needs TP × PP = {gpus_needed}",
                          f"use {bigger[0].type}" if bigger else "lower tp/pp under [build]")
    return inst
