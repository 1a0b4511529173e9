"""LMI's own ahead-of-time compiler as the build step: ``/opt/djl/partition/trt_llm_partition.py``.

For architectures LMI can compile itself (JIT), the container's partition script builds the engines.
Its arguments changed over LMI versions (verified from djl-serving's ``serving/docker/partition/
trt_llm_partition.py`` and the Java side that calls it):

* LMI 0.26–0.28: ``--properties_dir --trt_llm_model_repo --tensor_parallel_degree`` (required) and
  ``--model_path`` (optional; without it the script falls back to ``option.model_id`` in the properties).
* LMI 0.29+: also ``--pipeline_parallel_degree`` (required: the script exits with a usage error without it).
* LMI 0.33: builds through the LLM API and copies ``serving.properties`` (minus ``option.model_id``) into
  the output folder, which is then a flat engine folder.
* The earliest script (LMI 0.25) took no degree flags: the tensor parallel degree came from
  ``option.tensor_parallel_degree`` in ``serving.properties``, which the wizard always writes.

The script never reads ``HF_MODEL_ID``; the wizard always passes ``--model_path``. ``serving.properties`` is
written into the properties folder, which must be visible inside the container (mount it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from ..base.fsutil import atomic_write_text
from .render import BuildPlan, Step
from ..facts.versions import release_tuple

SCRIPT = "/opt/djl/partition/trt_llm_partition.py"


@dataclass
class PartitionArgs:
    properties_dir: str            # as seen inside the container
    output_dir: str                # --trt_llm_model_repo, as seen inside the container
    model_path: str                # local path (inside the container) or HF id
    tensor_parallel_degree: int = 1
    pipeline_parallel_degree: int = 1
    properties: dict = field(default_factory=dict)   # extra option.* settings (max_input_len, dtype, …)


def _lmi(v: str) -> tuple[int, int, int]:
    pv = release_tuple(v)
    if pv is None:
        raise WizardError(f"not an LMI version: {v!r}", "give it like 0.29.0")
    return pv


def supports_flag(lmi_version: str, flag: str) -> bool:
    """Whether the partition script of that LMI version accepts ``flag``."""
    v = _lmi(lmi_version)
    if flag in ("--properties_dir", "--trt_llm_model_repo", "--model_path"):
        return True
    if flag == "--tensor_parallel_degree":
        return v >= (0, 26, 0)
    if flag == "--pipeline_parallel_degree":
        return v >= (0, 29, 0)
    return False


def copies_properties(lmi_version: str) -> bool:
    """LMI 0.33+ copies serving.properties into the compiled output."""
    return _lmi(lmi_version) >= (0, 33, 0)


def serving_properties_text(args: PartitionArgs, lmi_version: str) -> str:
    lines = ["engine=Python", "option.rolling_batch=trtllm", f"option.model_id={args.model_path}",
             f"option.tensor_parallel_degree={args.tensor_parallel_degree}"]
    if args.pipeline_parallel_degree != 1 or _lmi(lmi_version) >= (0, 29, 0):
        lines.append(f"option.pipeline_parallel_degree={args.pipeline_parallel_degree}")
    for k, v in args.properties.items():
        key = k if k.startswith("option.") or k == "engine" else f"option.{k}"
        if any(line.startswith(key + "=") for line in lines):
            lines = [line for line in lines if not line.startswith(key + "=")]
        lines.append(f"{key}={v}")
    return "\n".join(lines) + "\n"


def partition_argv(args: PartitionArgs, lmi_version: str, *, python: str = "python") -> list[str]:
    """The partition command for that LMI version. Raises WizardError when the version cannot express it."""
    tp, pp = args.tensor_parallel_degree, args.pipeline_parallel_degree
    for name, v in (("tensor parallel degree", tp), ("pipeline parallel degree", pp)):
        if not isinstance(v, int) or v < 1:
            raise WizardError(f"{name} must be a positive whole number (got {v})", "use 1, 2, 4 or 8")
    if not args.model_path:
        raise WizardError("no model path for the partition tool",
                          "give the model folder (as the container sees it) or a Hugging Face id; "
                          "the script does not read HF_MODEL_ID")
    argv = [python, SCRIPT, "--properties_dir", args.properties_dir, "--trt_llm_model_repo", args.output_dir]
    if supports_flag(lmi_version, "--tensor_parallel_degree"):
        argv += ["--tensor_parallel_degree", str(tp)]
    if supports_flag(lmi_version, "--pipeline_parallel_degree"):
        argv += ["--pipeline_parallel_degree", str(pp)]
    elif pp != 1:
        raise WizardError(f"LMI {lmi_version}'s partition tool has no pipeline parallelism (PP {pp})",
                          "use PP 1, or LMI 0.29 or newer")
    argv += ["--model_path", args.model_path]
    return argv


def write_properties(properties_dir: str | os.PathLike, args: PartitionArgs, lmi_version: str, *,
                     force: bool = False) -> Path:
    """Write ``serving.properties`` into ``properties_dir`` (atomically). An existing different file is
    kept unless ``force``."""
    d = Path(properties_dir)
    if not d.is_dir():
        what = f"{d} is a file, not a properties folder" if d.exists() else f"properties folder not found: {d}"
        raise WizardError(what, "create the folder and mount it into the container")
    p = d / "serving.properties"
    if p.is_dir():
        raise WizardError(f"{p} is a folder", "move it away: serving.properties must be a file")
    text = serving_properties_text(args, lmi_version)
    if p.exists() and not force:
        try:
            same = p.read_text(encoding="utf-8") == text
        except OSError:
            same = False
        if not same:
            raise WizardError(f"{p} exists with other settings", "move it away or confirm overwriting (force)")
        return p
    atomic_write_text(p, text)
    return p


def partition_plan(host_properties_dir: str | os.PathLike, args: PartitionArgs, lmi_version: str, *,
                   host_output_dir: Optional[str | os.PathLike] = None, python: str = "python",
                   wrapper: tuple[str, ...] = ()) -> BuildPlan:
    """A one-step plan running the partition tool. ``wrapper`` prefixes the argv (e.g. a ``docker run …``
    line) when the wizard runs outside the container. Nothing is written here: see write_properties."""
    argv = [*wrapper, *partition_argv(args, lmi_version, python=python)]
    out = Path(host_output_dir) if host_output_dir else Path(args.output_dir)
    notes = [f"serving.properties goes into {host_properties_dir} (mounted at {args.properties_dir} in the container)"]
    if copies_properties(lmi_version):
        notes.append(f"LMI {lmi_version} copies serving.properties (without option.model_id) into {args.output_dir}")
    step = Step("partition", argv, Path(host_properties_dir), None, out)
    layout_engine_dir = out if copies_properties(lmi_version) else out / "tensorrt_llm" / "1"
    return BuildPlan([step], layout_engine_dir, args.tensor_parallel_degree * args.pipeline_parallel_degree,
                     args.tensor_parallel_degree, args.pipeline_parallel_degree, "partition", notes=notes)
