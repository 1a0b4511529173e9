"""Values in ``tensorrt_llm/config.pbtxt`` that the TensorRT-LLM backend rejects or silently ignores.

ONE function, :func:`value_findings`, used by ``pbtxt check``, ``check`` and the recipe (``[triton]
substitutions`` and filled values alike). Each rule below cites the source it was read from:

* ``batch_scheduler_policy``: tensorrtllm_backend accepts exactly ``max_utilization`` and
  ``guaranteed_no_evict`` at every release tag v0.5.0 … v0.19.0 (``inflight_batcher_llm/src/libtensorrtllm.cc``
  at v0.5.0/v0.6.1, ``model_instance_state.cc`` from v0.7.0: ``if (schedulerPolicyStr == "max_utilization") …
  else if (… == "guaranteed_no_evict") … else throw`` — the throw is caught and logged as a WARNING and
  ``guaranteed_no_evict`` is used). ``guaranteed_completion`` never was a backend value: it is the name in
  TensorRT-LLM 0.5.0's batch-manager docs (``docs/source/batch_manager.md``, "GUARANTEED_COMPLETION"), which
  the backend ignores in the same way. Ignored means the model runs with another policy than the one asked
  for, so it blocks.
* ``kv_cache_free_gpu_mem_fraction``: read with ``GetParameter<float>`` (a non-number is caught, logged, and
  the default 0.9 used). From tensorrtllm_backend v0.10.0 the backend builds ``executor::KvCacheConfig``
  (``model_instance_state.cc`` ``getKvCacheConfigFromParams``), whose ``setFreeGpuMemoryFraction`` does
  ``TLLM_CHECK(freeGpuMemoryFraction > 0.f); TLLM_CHECK(freeGpuMemoryFraction < 1.f)`` (TensorRT-LLM
  ``cpp/tensorrt_llm/executor/kvCacheConfig.cpp``): 1.0 fails the model load. Before v0.10.0 the value went
  into ``batch_manager::kv_cache_manager::KvCacheConfig`` unchecked: 1.0 is accepted there, more than 1 asks
  for more memory than is free and 0 or less leaves no KV cache.
* ``max_tokens_in_paged_kv_cache``: read with ``GetParameter<int32_t>``; ``executor::KvCacheConfig::setMaxTokens``
  checks ``maxTokens > 0`` (v0.10.0 on). A cache smaller than one full sequence (the engine's ``max_seq_len``
  × ``max_beam_width``) cannot hold the longest request the engine was built for: TensorRT-LLM shrinks the
  attention window to the cache (outputs of long prompts change) or never schedules such a request.

Placeholders still in the text (``${…}``) and empty values are not judged here (the placeholder report owns
them; an empty value is "not set", the backend's default).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from ..base.errors import WizardError
from ..base.findings import Finding

__all__ = ["value_findings", "engine_limits", "SCHEDULER_POLICIES", "EXECUTOR_FROM_TAG"]

SCHEDULER_POLICIES = ("max_utilization", "guaranteed_no_evict")  # tensorrtllm_backend v0.5.0 … v0.19.0
EXECUTOR_FROM_TAG = (0, 10, 0)  # backend tag from which KvCacheConfig is the executor's (checks 0 < f < 1)


def _tag_tuple(tag: Optional[str]) -> Optional[tuple[int, int, int]]:
    if not tag:
        return None
    from .semantics import parse_tag

    try:
        return parse_tag(tag)
    except WizardError:
        return None


def _pairs(params: Any) -> list[tuple[str, str]]:
    """(key, value) pairs from a mapping, an iterable of pairs, or ``triton.ParamBlock``-like objects."""
    if params is None:
        return []
    if isinstance(params, Mapping):
        return [(str(k), "" if v is None else str(v)) for k, v in params.items()]
    out: list[tuple[str, str]] = []
    for item in params:
        if isinstance(item, tuple) and len(item) == 2:
            out.append((str(item[0]), "" if item[1] is None else str(item[1])))
        elif hasattr(item, "key") and hasattr(item, "value"):
            out.append((str(item.key), "" if item.value is None else str(item.value)))
    return out


def engine_limits(engine_config: Any) -> tuple[Optional[int], Optional[int]]:
    """(max_seq_len, max_beam_width) from an engine's ``config.json`` (a parsed dict, the file, or its folder).

    ``trtllm-build`` (TensorRT-LLM ≥ 0.8) writes ``build_config.max_seq_len`` (0.11+) or ``max_input_len`` +
    ``max_output_len`` (0.8/0.9); the legacy ``build.py`` (≤ 0.7) writes ``builder_config.max_input_len`` +
    ``max_output_len``. None where it is not known."""
    data = engine_config
    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if p.is_dir():
            p = p / "config.json"
        try:
            data = json.loads(p.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None, None
    if not isinstance(data, dict):
        return None, None

    def _int(v) -> Optional[int]:
        return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None

    for section in ("build_config", "builder_config"):
        bc = data.get(section)
        if not isinstance(bc, dict):
            continue
        seq = _int(bc.get("max_seq_len"))
        if seq is None and _int(bc.get("max_input_len")) and _int(bc.get("max_output_len")):
            seq = bc["max_input_len"] + bc["max_output_len"]
        beam = _int(bc.get("max_beam_width"))
        if seq is not None or beam is not None:
            return seq, beam
    return None, None


def _num(text: str, kind):
    try:
        return kind(text.strip())
    except (TypeError, ValueError):
        return None


def value_findings(params: Any, tag: Optional[str], engine_config: Any = None, *,
                   path: Optional[str] = None) -> list[Finding]:
    """Blocking findings for values the backend of ``tag`` rejects or ignores.

    ``params``: the ``tensorrt_llm`` model's parameters — a mapping key → value (e.g. ``[triton]
    substitutions``), (key, value) pairs, or ``triton.parameter_blocks(...)``. ``tag``: the tensorrtllm_backend
    tag (``v0.12.0``; None: rules common to all tags). ``engine_config``: the engine's ``config.json`` (dict,
    file or folder) when known, for the KV-cache size rule."""
    t = _tag_tuple(tag)
    out: list[Finding] = []
    seen: set[str] = set()
    for key, raw in _pairs(params):
        value = raw.strip()
        if key in seen or not value or "${" in value:
            continue
        seen.add(key)
        if key == "batch_scheduler_policy":
            if value not in SCHEDULER_POLICIES:
                why = (" (guaranteed_completion is the name in TensorRT-LLM 0.5.0's batch-manager docs; no "
                       "tensorrtllm_backend release accepts it)" if value == "guaranteed_completion" else "")
                out.append(Finding(
                    "error", "bad-scheduler-policy",
                    f"batch_scheduler_policy={value!r} is not a value the TensorRT-LLM backend accepts{why}: it "
                    "logs a warning and runs with guaranteed_no_evict instead",
                    "use max_utilization or guaranteed_no_evict", key=key, path=path))
        elif key == "kv_cache_free_gpu_mem_fraction":
            f = _num(value, float)
            executor = t is None or t >= EXECUTOR_FROM_TAG
            if f is None or f != f:  # not a number (or NaN)
                out.append(Finding("error", "bad-kv-fraction",
                                   f"kv_cache_free_gpu_mem_fraction={value!r} is not a number: the backend ignores "
                                   "it and uses its default 0.9",
                                   "give a fraction such as 0.9", key=key, path=path))
            elif f <= 0 or (f >= 1 if executor else f > 1):
                rng = "0 < fraction < 1" if executor else "0 < fraction ≤ 1"
                who = (f"the backend{f' {tag}' if tag else ''} builds TensorRT-LLM's executor KvCacheConfig, which "
                       "checks 0 < fraction < 1 and fails the model load" if executor else
                       "the KV cache would get no memory or more than is free")
                out.append(Finding("error", "bad-kv-fraction",
                                   f"kv_cache_free_gpu_mem_fraction={value} is outside {rng}: {who}",
                                   "use a fraction such as 0.9", key=key, path=path))
        elif key == "max_tokens_in_paged_kv_cache":
            n = _num(value, int)
            if n is None or n <= 0 or n > 2**31 - 1:
                out.append(Finding("error", "bad-kv-tokens",
                                   f"max_tokens_in_paged_kv_cache={value!r} is not a positive whole number "
                                   "(an int32): the backend ignores it or fails the load",
                                   "give a token count, or delete the parameter to size the cache by "
                                   "kv_cache_free_gpu_mem_fraction", key=key, path=path))
                continue
            seq, beam = engine_limits(engine_config) if engine_config is not None else (None, None)
            if seq is not None:
                need = seq * (beam or 1)
                if n < need:
                    out.append(Finding(
                        "error", "kv-tokens-below-sequence",
                        f"max_tokens_in_paged_kv_cache={n} is smaller than one full sequence of the engine "
                        f"(max_seq_len {seq}" + (f" × max_beam_width {beam} = {need}" if beam and beam > 1 else "")
                        + " tokens): the longest request the engine was built for cannot fit in the "
                        "KV cache (TensorRT-LLM shrinks the attention window or never schedules it)",
                        f"set max_tokens_in_paged_kv_cache to at least {need}, or delete the parameter",
                        key=key, path=path))
    return out
