"""Why djl-serving did not load the model, read from its log, with the fix.

Each pattern is a line djl-serving, LMI or TensorRT(-LLM) really prints (sources named beside each rule):

* ``Converting model to TensorRT-LLM artifacts`` — djl-serving ``wlm/.../LmiUtils.java``
  (``buildTrtLlmArtifacts``), logged when LMI did not take the folder as a prebuilt model and starts
  ``/opt/djl/partition/trt_llm_partition.py`` on it: the layout rule.
* ``no file named pytorch_model.bin …`` — transformers' ``from_pretrained`` on a folder that holds no
  weights: LMI took the folder for a Hugging Face checkpoint (the S3 ``model_id`` one folder off).
* ``generated on an incompatible device, expecting compute X got compute Y`` — TensorRT's engine
  deserialisation on another GPU architecture.
* ``Version tag does not match`` / ``not compatible with this version of TensorRT`` — TensorRT's engine
  header written by another TensorRT (-LLM) release.
* ``mpiSize == tp * pp`` — TensorRT-LLM's ``WorldConfig`` assertion: the MPI ranks LMI started are not
  the engine's TP × PP.
* CUDA out of memory (``CUDA out of memory``, ``CUDA_ERROR_OUT_OF_MEMORY``, ``cudaErrorMemoryAllocation``,
  ``OutOfMemory``) — the KV cache share, or another process on the GPU (named from NVML).
* ``Failed register workflow`` — djl-serving ``ModelServer.loadModels`` after any load failure (then
  the process exits 1): the generic explanation, with the last error lines.

Pure functions: no process, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

FAILED_REGISTER = "Failed register workflow"  # djl-serving ModelServer.loadModels


@dataclass(frozen=True)
class Diagnosis:
    code: str  # stable slug: layout, one-folder-off, gpu-arch, trt-version, world-size, oom, load-failed, …
    problem: str
    fix: str
    evidence: Optional[str] = None  # the log line that told

    def to_dict(self) -> dict:
        return {"code": self.code, "problem": self.problem, "fix": self.fix, "evidence": self.evidence}


_CONVERT = re.compile(r"Converting model to TensorRT-LLM artifacts|trt_llm_partition\.py")
_PYTORCH_BIN = re.compile(r"no file named pytorch_model\.bin", re.I)
_ARCH = re.compile(r"incompatible device,?\s*expecting compute\s*([0-9.]+?)\.?\s+got compute\s*([0-9.]+?)\.?(?=[\s,]|$)",
                   re.I)
_VERSION = re.compile(r"Version tag does not match|not compatible with this version of TensorRT", re.I)
_WORLD = re.compile(r"mpiSize\s*==\s*tp\s*\*\s*pp")
_OOM = re.compile(r"CUDA out of memory|CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation|OutOfMemory|"
                  r"out of memory", re.I)
_ERRORISH = re.compile(r"\bERROR\b|Error\b|Exception\b|Traceback|Assertion failed|\bFAILED\b")


def _first(lines: Sequence[str], rx: re.Pattern) -> Optional[tuple[str, re.Match]]:
    for line in lines:
        m = rx.search(line)
        if m:
            return line.strip(), m
    return None


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def last_error_lines(lines: Sequence[str], n: int = 3) -> list[str]:
    """The last ``n`` lines that look like errors (djl-serving's ERROR lines, Python exceptions)."""
    found = [ln.strip() for ln in lines if _ERRORISH.search(ln) and FAILED_REGISTER not in ln]
    return found[-n:]


def oom_fix(layout: str, others: Iterable[tuple[int, int, Optional[int], Optional[str]]] = ()) -> tuple[str, str]:
    """(problem suffix, fix) for a CUDA out-of-memory. ``others``: (gpu, pid, used bytes, name) of processes
    that held GPU memory before the server started (from NVML)."""
    others = [o for o in others if o[2]]
    if others:
        gpu, pid, used, name = max(others, key=lambda o: o[2] or 0)
        who = f"pid {pid}" + (f" ({name})" if name else "")
        return (f"; another process held GPU memory before the server started: {who} used {_gib(used)} on GPU {gpu}",
                f"stop {who} (nvidia-smi lists it) and run the load test again")
    where = ("kv_cache_free_gpu_mem_fraction in tensorrt_llm/config.pbtxt" if layout == "triton"
             else "option.kv_cache_free_gpu_mem_fraction")
    return ("", f"lower {where} (e.g. 0.8), or max_rolling_batch_size / the engine's max_batch_size and "
                "max_seq_len, or use a GPU with more memory")


def explain(lines: Sequence[str], *, layout: str = "triton, flat", exit_code: Optional[int] = None,
            gpu_others: Iterable[tuple[int, int, Optional[int], Optional[str]]] = ()) -> Optional[Diagnosis]:
    """The explanation of a failed load from djl-serving's log lines, or None when nothing in them tells."""
    lines = list(lines)
    hit = _first(lines, _ARCH)
    if hit:
        line, m = hit
        built, here = m.group(1).rstrip("."), m.group(2).rstrip(".")
        return Diagnosis("gpu-arch", f"the engine was built for compute {built} but this GPU is compute {here}: "
                         "an engine loads only on the GPU architecture it was built on",
                         f"build on a GPU of compute {built}'s architecture for that deployment, or rebuild here for "
                         f"instances of compute {here}", line)
    hit = _first(lines, _VERSION)
    if hit:
        return Diagnosis("trt-version", "the engine was built with another TensorRT / TensorRT-LLM release than the "
                         "one this LMI image runs", "rebuild with the tensorrt-llm of this image (pip show "
                         "tensorrt-llm), or deploy to the LMI release that ships the builder's version", hit[0])
    hit = _first(lines, _WORLD)
    if hit:
        return Diagnosis("world-size", "the number of ranks LMI started is not the engine's TP × PP (mpiSize == tp * "
                         "pp failed)", "set option.tensor_parallel_degree (and pipeline_parallel_degree) to the "
                         "engine's values, and give the server that many GPUs (CUDA_VISIBLE_DEVICES)", hit[0])
    hit = _first(lines, _OOM)
    if hit:
        suffix, fix = oom_fix(layout, gpu_others)
        return Diagnosis("oom", "CUDA ran out of GPU memory while loading the model" + suffix, fix, hit[0])
    hit = _first(lines, _CONVERT)
    if hit:
        also = " (then looked for Hugging Face weights: no file named pytorch_model.bin …)" \
            if _first(lines, _PYTORCH_BIN) else ""
        if layout == "flat":
            fix = ("LMI 0.33+ takes a folder as prebuilt only when its root config.json is the engine's (with "
                   "build_config): put trtllm-build's config.json back (lmi-wizard check PATH)")
        elif layout == "triton":
            fix = ("LMI 0.25–0.32 takes a folder as prebuilt only when a sub-folder holds config.pbtxt and "
                   "tokenizer_config.json (the two-folder rule): lay it out as tensorrt_llm/ one level below "
                   "model_id (lmi-wizard check PATH)")
        else:
            fix = "lay the folder out as the LMI release expects (lmi-wizard check PATH says how)"
        return Diagnosis("layout", "LMI did not recognise the folder as a prebuilt TensorRT-LLM model and started "
                         "compiling it with trt_llm_partition.py" + also, fix, hit[0])
    hit = _first(lines, _PYTORCH_BIN)
    if hit:
        return Diagnosis("one-folder-off", "LMI took the folder for a Hugging Face checkpoint (no file named "
                         "pytorch_model.bin …): model_id points one folder off",
                         "give LMI the parent prefix of the folder holding config.pbtxt (s3://bucket/folder1/ for "
                         "…/folder1/folder2/config.pbtxt); lmi-wizard check s3://… says which", hit[0])
    hit = _first(lines, re.compile(re.escape(FAILED_REGISTER)))
    if hit or exit_code not in (None, 0):
        last = last_error_lines(lines)
        detail = (": " + " | ".join(last)) if last else ""
        what = "djl-serving failed to load the model" if hit else f"djl-serving exited with code {exit_code}"
        return Diagnosis("load-failed", what + detail, "read the server log above (the first ERROR line names the "
                         "cause); lmi-wizard check PATH finds most layout and version problems",
                         hit[0] if hit else (last[-1] if last else None))
    return None
