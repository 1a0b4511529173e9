"""LMI's own ahead-of-time compiler as the build step: ``/opt/djl/partition/trt_llm_partition.py``.

For architectures LMI can compile itself (JIT), the container's partition script builds the engines. What each
release's script takes and reads is in ``data/lmi_releases.json`` (read from djl-serving's
``serving/docker/partition/trt_llm_partition.py`` at each tag/branch; tests run those scripts' own argparse on
the argv built here, from a mirror of djl-serving when present):

* every release 0.25–0.36: ``--properties_dir --trt_llm_model_repo --tensor_parallel_degree`` (the degree is
  ``required=True`` from 0.25 on: without it the script exits 2) and ``--model_path`` (optional; without it
  the script falls back to ``option.model_id``);
* from 0.29: also ``--pipeline_parallel_degree`` (``required=True``); before 0.29 there is no PP flag;
* 0.33: builds through the LLM API and copies ``serving.properties`` (minus ``option.model_id``) into the
  output folder, which is then a flat engine folder; 0.35/0.36's script crashes (no AOT there);
* length keys (``aot_length_properties``): ≤ 0.29 ``option.max_input_len`` + ``option.max_output_len`` (output
  tokens); 0.30–0.32 the same keys but ``max_output_len`` "now maps to max_seq_len" (input + output);
  0.33+ ``max_input_len`` + ``max_seq_len`` (the script hands every property to trtllm-build's own parser,
  which has no ``--max_output_len``).

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
from ..facts import target
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


def _row(lmi_version: str) -> dict:
    _lmi(lmi_version)
    row = target.release_facts(lmi_version)
    if row is None:
        raise WizardError(f"LMI {lmi_version} has no TensorRT-LLM partition tool",
                          f"use LMI {target.load_release_table()['first_lmi_with_trtllm']} or later")
    return row


def supports_flag(lmi_version: str, flag: str) -> bool:
    """Whether the partition script of that LMI version accepts ``flag``."""
    row = _row(lmi_version)
    if flag in ("--properties_dir", "--trt_llm_model_repo", "--model_path", "--tensor_parallel_degree"):
        return True
    if flag == "--pipeline_parallel_degree":
        return bool(row.get("partition_pp_flag"))
    return False


def require_aot(lmi_version: str) -> None:
    """WizardError where that release's partition tool cannot build (0.35/0.36: it crashes)."""
    row = _row(lmi_version)
    if not row.get("aot"):
        raise WizardError(f"LMI {lmi_version}'s trt_llm_partition.py cannot build: it reads "
                          "trtllm_engine_configs.llm_kwargs of a dict ('dict' object has no attribute 'llm_kwargs') "
                          "and drops the pipeline degree",
                          "build with the checkout's builders (trtllm-build) instead of --aot, or use LMI 0.33")


def aot_length_properties(lmi_version: str, max_input_len: Optional[int], max_output_len: Optional[int] = None,
                          max_seq_len: Optional[int] = None) -> dict:
    """The ``option.*`` length keys that release's AOT path reads, from input/output (or total) lengths."""
    row = _row(lmi_version)
    seq = max_seq_len or (max_input_len + max_output_len if max_input_len and max_output_len else None)
    out: dict = {}
    if max_input_len:
        out["max_input_len"] = max_input_len
    if row["aot_seq_key"] == "max_seq_len":
        if seq:
            out["max_seq_len"] = seq
    elif row.get("aot_output_is_seq_len"):  # 0.30–0.34: option.max_output_len "now maps to max_seq_len"
        if seq:
            out["max_output_len"] = seq
    else:  # ≤ 0.29: output tokens
        mo = max_output_len or (seq - max_input_len if seq and max_input_len and seq > max_input_len else None)
        if mo:
            out["max_output_len"] = mo
    return out


def copies_properties(lmi_version: str) -> bool:
    """The flat-layout releases' script (0.33, 0.35, 0.36) copies serving.properties into the compiled output
    (0.34's script is 0.29's: Triton layout, no copy)."""
    return _row(lmi_version)["layout"] == "flat"


def serving_properties_text(args: PartitionArgs, lmi_version: str) -> str:
    lines = ["engine=Python", "option.rolling_batch=trtllm", f"option.model_id={args.model_path}",
             f"option.tensor_parallel_degree={args.tensor_parallel_degree}"]
    if args.pipeline_parallel_degree != 1 or supports_flag(lmi_version, "--pipeline_parallel_degree"):
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
    require_aot(lmi_version)
    argv = [python, SCRIPT, "--properties_dir", args.properties_dir, "--trt_llm_model_repo", args.output_dir,
            "--tensor_parallel_degree", str(tp)]  # required=True in every release (0.25 included)
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
