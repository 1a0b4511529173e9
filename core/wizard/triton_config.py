"""The Triton config the run writes, from the answers and the checkout's template: the substitutions the wizard
fills (:func:`wanted_substitutions`), the fill itself (:func:`fill_config`: the tag's fill_template.py semantics,
decoupled, the engine path, deleted blocks) and the gate on its result (:func:`config_findings`: a blocking
``${…}`` or a file that does not parse). The Triton screen's preview, the schema's rule and the pipeline's
config step all use these, so what the screen shows is what the run writes and what ``run`` refuses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..base.errors import WizardError
from ..base.findings import Finding, error
from .answers import Answers, resolve_tag, work_path

__all__ = ["wanted_substitutions", "ConfigFill", "fill_config", "fill_pairs", "known_template_keys",
           "template_path", "config_findings", "value_findings", "planned_engine_config"]

TEMPLATE_SUBDIRS = ("all_models/inflight_batcher_llm", "triton_backend/all_models/inflight_batcher_llm")


_DATA_TYPES = {"float16": "TYPE_FP16", "bfloat16": "TYPE_BF16", "float32": "TYPE_FP32"}


def wanted_substitutions(a: Answers) -> dict[str, str]:
    """Every placeholder the wizard knows how to fill from the answers (only those present in the template
    are requested), then the user's own ``[triton] substitutions`` (always requested)."""
    mb = str(a["build.max_batch_size"] or 64)
    want = {
        "triton_backend": "tensorrtllm",
        "triton_max_batch_size": mb,
        "max_batch_size": mb,
        "decoupled_mode": "True" if a["triton.decoupled"] else "False",
        "max_beam_width": "1",
        "engine_dir": a["triton.engine_path"],
        "gpt_model_path": a["triton.engine_path"],
        "batching_strategy": "inflight_fused_batching",
        "batch_scheduler_policy": a["triton.batch_scheduler_policy"],
        "kv_cache_free_gpu_mem_fraction": f"{a['triton.kv_cache_free_gpu_mem_fraction']:g}",
        "max_queue_delay_microseconds": "0",
        "logits_datatype": "TYPE_FP32",
        "encoder_input_features_data_type": _DATA_TYPES.get(a["build.dtype"], "TYPE_FP16"),
        "prompt_embedding_table_data_type": _DATA_TYPES.get(a["build.dtype"], "TYPE_FP16"),
        # the tutorial's own string, for the old templates that still have these keys
        "enable_trt_overlap": "False",
        "max_num_sequences": mb,
    }
    return want


@dataclass
class ConfigFill:
    text: str  # what the config step writes
    report: Any  # core.pbtxt.CheckReport of ``text``
    pairs: dict  # the substitutions requested
    deleted: list  # optional parameter blocks deleted
    notes: list


def fill_config(a: Answers, template: str, *, path: str | os.PathLike = "config.pbtxt",
                tag: str | None = None) -> ConfigFill:
    """What the config step makes of ``template`` (the tag's tensorrt_llm/config.pbtxt), in memory: fill like
    the tag's fill_template.py, set decoupled and the engine path, delete the parameters blocks named in
    ``triton.delete_params`` and (``triton.optional_placeholders = "delete"``) every unfilled optional one, check. The TUI's live preview and the run use this same function."""
    from .. import triton as pbtxt

    tag = tag or resolve_tag(a)
    text = template
    pairs = fill_pairs(a, text)
    notes: list[str] = []
    live = pbtxt.placeholder_names(text)[0]
    for key, name in (("triton.batch_scheduler_policy", "batch_scheduler_policy"),
                      ("triton.kv_cache_free_gpu_mem_fraction", "kv_cache_free_gpu_mem_fraction")):
        if a.is_set(key) and name not in live:
            notes.append(f"{key} has no effect: the {tag} template has no ${{{name}}}")
    if pairs:
        res = pbtxt.fill_text(text, pairs, tag=tag, path=path)  # a Mapping: every value verbatim, any tag
        text = res.text
        notes += res.notes
    text = pbtxt.set_decoupled(text, bool(a["triton.decoupled"]))
    engine_max = a["build.max_batch_size"]
    if engine_max:
        text, old = pbtxt.cap_max_batch_size(text, int(engine_max))
        if old is not None:
            notes.append(f"max_batch_size {old} of the {tag} template lowered to the engine's {engine_max} "
                         "(build.max_batch_size)")
    keys = pbtxt.parameter_keys(text)
    for param in pbtxt.ENGINE_PATH_KEYS:
        if param in keys:
            text = pbtxt.set_engine_path(text, a["triton.engine_path"], param=param)
    deleted: list[str] = []
    # the blocks named one by one (the placeholder review's Delete), whatever the policy for the rest
    present = set(pbtxt.parameter_keys(text))
    missing = []
    for param in dict.fromkeys(a["triton.delete_params"] or ()):
        if param in present:
            text = pbtxt.delete_parameter(text, param)
            deleted.append(param)
        else:
            missing.append(param)
    if deleted:
        notes.append("deleted as asked (triton.delete_params): " + ", ".join(deleted))
    if missing:
        notes.append(f"triton.delete_params: no parameters block {', '.join(missing)} in this template "
                     "(nothing deleted)")
    report = pbtxt.check_text(text, path, expected_engine_path=a["triton.engine_path"])
    if a["triton.optional_placeholders"] == "delete":
        dropped: list[str] = []
        for f in report.optional:
            if f.param and f.param not in deleted:
                text = pbtxt.delete_parameter(text, f.param)
                deleted.append(f.param)
                dropped.append(f.param)
        if dropped:
            notes.append("deleted unfilled optional parameters: " + ", ".join(dropped))
            report = pbtxt.check_text(text, path, expected_engine_path=a["triton.engine_path"])
    return ConfigFill(text, report, pairs, deleted, notes)


def fill_pairs(a: Answers, text: str) -> dict[str, str]:
    """The substitutions the config step requests for this template text: the wizard's known keys that are
    live placeholders of it, then ``[triton] substitutions`` (always requested, so a typo is an error)."""
    from .. import triton as pbtxt

    live = pbtxt.placeholder_names(text)[0]
    pairs = {k: v for k, v in wanted_substitutions(a).items() if k in live}
    for k, v in (a["triton.substitutions"] or {}).items():
        pairs[k] = v if isinstance(v, str) else ("True" if v is True else "False" if v is False else str(v))
    return pairs


def known_template_keys(tag: str | None):
    """(template tag, live placeholder names) of the newest known upstream tensorrt_llm template at or before
    ``tag`` (from core.pbtxt's data), or None."""
    import re

    from .. import triton as pbtxt

    def ver(t: str):
        m = re.search(r"(\d+)\.(\d+)\.(\d+)", t or "")
        return tuple(int(x) for x in m.groups()) if m else None

    want = ver(tag or "")
    if want is None:
        return None
    try:
        table = pbtxt.placeholder_table().get("tensorrt_llm", {})
    except (KeyError, OSError, ValueError, AttributeError):
        return None
    best = None
    for t, v in table.items():
        tv = ver(t)
        if tv is not None and tv <= want and (best is None or tv > best[0]):
            best = (tv, t, set(v.get("live", ())))
    return (best[1], best[2]) if best else None


def template_path(answers: Answers) -> Optional[Path]:
    """The checkout's tensorrt_llm/config.pbtxt template (None before the checkout exists)."""
    root = work_path(answers, answers["checkout.dir"])
    if root is None:
        return None
    for sub in TEMPLATE_SUBDIRS:
        p = root / sub / "tensorrt_llm" / "config.pbtxt"
        if p.is_file():
            return p
    return None


def config_findings(answers: Answers, template: Optional[str] = None) -> list[Finding]:
    """What blocks the Triton config the run would write: a ``${…}`` left where Triton cannot load it, a file
    that does not parse, a fill that fails. ``template`` is the template text (default: the checkout's, see
    :func:`template_path`; nothing is said while there is none), and the values the tag's backend rejects or
    ignores (:func:`value_findings`, also without a template). Blocking findings, keyed by the step or field."""
    from .answers import is_triton

    if not is_triton(answers) or answers["build.method"] == "lmi-partition":
        return []  # no config.pbtxt is written (flat layout, or LMI's own tool makes the repository)
    # the values themselves (known before any template), then what the fill of the template leaves
    return value_findings(answers) + _template_findings(answers, template)


def _template_findings(answers: Answers, template: Optional[str]) -> list[Finding]:
    if template is None:
        path = template_path(answers)
        if path is None:
            return []
        try:
            template = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return []  # the config step says what is wrong with the file itself
    try:
        filled = fill_config(answers, template, path="tensorrt_llm/config.pbtxt")
    except WizardError as exc:
        return [error("triton-fill", exc.problem, exc.fix, key="triton")]
    report = filled.report
    if report.blocking:
        names = sorted({f.name for f in report.blocking})
        f0 = report.blocking[0]
        return [error("blocking-placeholder",
                      f"config.pbtxt would keep blocking placeholders: {', '.join(names)} (line {f0.line}, {f0.field})",
                      f"add them under [triton] substitutions, e.g. substitutions = {{ {names[0]} = \"…\" }}",
                      key="triton")]
    if report.parses is False:
        return [error("pbtxt-parse", f"the filled config.pbtxt does not parse as a Triton model config: "
                      f"{report.parse_error}", "check [triton] substitutions for a value of the wrong type", key="triton")]
    return []


# where a value the backend judges comes from when [triton] substitutions does not set it
_VALUE_FIELDS = {"batch_scheduler_policy": "triton.batch_scheduler_policy",
                 "kv_cache_free_gpu_mem_fraction": "triton.kv_cache_free_gpu_mem_fraction"}


def planned_engine_config(a: Answers) -> Optional[dict]:
    """The engine's limits as the build step will make them (``{"build_config": {max_seq_len, max_beam_width}}``,
    the shape of the engine's config.json), for the KV-cache size rule; None for a prebuilt engine."""
    from .answers import not_prebuilt

    if not not_prebuilt(a):
        return None
    try:
        seq = int(a["build.max_input_len"]) + int(a["build.max_output_len"])
    except (TypeError, ValueError):
        return None
    beam = 1
    for flags in (a["build.build_flags"] or {}, a["build.convert_flags"] or {}):
        v = flags.get("--max_beam_width", flags.get("max_beam_width"))
        if v is not None:
            try:
                beam = int(v)
            except (TypeError, ValueError):
                pass
    return {"build_config": {"max_seq_len": seq, "max_beam_width": beam}}


def value_findings(a: Answers) -> list[Finding]:
    """Values the config step would write that the tag's backend rejects or ignores (``core.triton.value_findings``:
    scheduler policy, KV-cache fraction per tag, KV-cache tokens against the planned engine) — from the Triton
    fields and ``[triton] substitutions`` (which wins, as in :func:`fill_pairs`). Blocking, keyed by where the
    value was given."""
    from .. import triton as pbtxt

    user = {k: (v if isinstance(v, str) else str(v)) for k, v in (a["triton.substitutions"] or {}).items()}
    wanted = wanted_substitutions(a)
    params = {k: wanted[k] for k in _VALUE_FIELDS if wanted.get(k) not in (None, "None")}
    params.update(user)
    out = []
    for f in pbtxt.value_findings(params, resolve_tag(a), planned_engine_config(a)):
        key = "triton.substitutions" if f.key in user else _VALUE_FIELDS.get(f.key, "triton")
        fix = f.fix if key != "triton.substitutions" else f"{f.fix} (under [triton] substitutions)"
        out.append(f.with_(key=key, fix=fix))
    return out
