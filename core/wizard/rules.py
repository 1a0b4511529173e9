"""The wizard's rules: each field's validator and each step's cross-field checks and gates, all returning
:class:`~lmi_wizard.core.base.findings.Finding` (the fix in ``Finding.fix``, the field in ``Finding.key``).

Validators take ``(value, answers)`` and return a Finding or None (:meth:`Field.check` keys it to the field);
checks and gates take ``answers`` and yield Findings. Gates are the rules a screen used to apply alone
(the checkout plan's refusal, a Triton config that would keep a blocking ``${…}``): as rules of the schema,
the Textual screens, ``--plain`` and ``run``/``plan`` apply them before anything runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from ..base.errors import WizardError
from ..base.findings import SEVERITIES, Finding, error, warning
from ..facts.versions import release_tuple, try_parse_version
from .answers import (Answers, build_intent, build_method, builds_here, checkout_args, checkout_dir, gpu_facts,
                      model_ref, needs_checkout, not_prebuilt, resolve_layout, trtllm_version, work_path, local_source)


def is_hf_id(value: str) -> bool:
    """``core.models.is_hf_id`` (the one rule), imported on first use: the first screen does not need
    ``core.models`` and its tables (bench/bench_tui.py)."""
    from ..models import is_hf_id as rule

    return rule(value)


HF_ID_FIX = "write a Hugging Face repo id (owner/name or name), or the path of an existing folder"


def invalid(problem: str, fix: Optional[str] = None, *, code: str = "invalid-value") -> Finding:
    """A validator's finding (:meth:`Field.check` adds the field's key)."""
    return Finding("error", code, problem, fix)


# --------------------------------------------------------------------------------------------------
# field validators


def validate_tokenizer_source(value: str, answers: Answers) -> Optional[Finding]:
    p = local_source(answers, value)
    if p is not None:
        if not p.is_dir():
            return invalid(f"local folder {value} does not exist" if not p.exists() else f"{value} is a file, not a folder")
        if not any((p / n).is_file() for n in ("tokenizer_config.json", "tokenizer.json", "tokenizer.model")) \
                and not any(p.glob("*.tiktoken")):
            return invalid(f"{value} holds no tokenizer (tokenizer_config.json, tokenizer.json, tokenizer.model or *.tiktoken)")
        return None
    if not is_hf_id(value):
        return invalid(f"{value!r} is neither a Hugging Face repo id (owner/name) nor an existing local folder",
                       HF_ID_FIX, code="not-a-source")
    return None


def validate_model_source(value: str, answers: Answers) -> Optional[Finding]:
    p = local_source(answers, value)
    if p is not None:
        if not p.exists():
            return invalid(f"local folder {value} does not exist" + (f" ({p})" if str(p) != value else ""))
        if not p.is_dir():
            return invalid(f"{value} is a file; a local model is a folder holding config.json")
        if not (p / "config.json").is_file():
            return invalid(f"{value} has no config.json; it is not a Hugging Face model folder")
        return None
    if not is_hf_id(value):
        return invalid(f"{value!r} is neither a Hugging Face repo id (owner/name, e.g. baichuan-inc/Baichuan-13B-Chat) "
                       "nor an existing local folder", HF_ID_FIX, code="not-a-source")
    missing = answers.ctx.model_missing(value)  # the Hub answered 404 (offline says nothing here: a warning there)
    if missing:
        return invalid(missing[0], missing[1], code="hf-not-found")
    return None


def validate_tp(value: int, answers: Answers) -> Optional[Finding]:
    if value < 1:
        return invalid("must be at least 1")
    # the one TP rule (core.sizing.tp_fits, through ModelConfig.tp_problem): heads divisible by TP; TensorRT-LLM
    # has no power-of-two rule
    cfg = answers.ctx.model_config(model_ref(answers)) if answers["model.source"] else None
    fn = getattr(cfg, "tp_problem", None)
    if callable(fn):
        found = fn(value)
        return invalid(found) if found else None
    return None


def validate_destination(value: str, answers: Answers) -> Optional[Finding]:
    from .. import layout as layout_mod

    if not value.lower().startswith("s3://"):
        value = str(work_path(answers, value)) if "://" not in value else value
    try:
        _, findings = layout_mod.destination_findings(value, resolve_layout(answers))
    except WizardError as exc:
        return invalid(exc.problem, exc.fix)
    errs = [f for f in findings if f.blocking]
    if not errs:
        return None
    return invalid(errs[0].problem, errs[0].fix, code=getattr(errs[0], "code", None) or "invalid-value")


def folder_problem(p: Optional[Path]) -> Optional[Finding]:
    """A folder the run creates or fills: it, or the first part of its path that exists, must be a folder."""
    if p is None:
        return None
    for part in (p, *p.parents):
        if part.exists():
            if not part.is_dir():
                return invalid(f"{part} is a file, not a folder" + (f" (on the way to {p})" if part != p else ""))
            return None
    return None


def validate_work_dir(value: str, answers: Answers) -> Optional[Finding]:
    return folder_problem(Path(os.path.abspath(os.path.expanduser(value))))


def validate_out_folder(value: str, answers: Answers) -> Optional[Finding]:
    """An output folder (relative to the work folder)."""
    return folder_problem(work_path(answers, value))


#: parameters blocks Triton cannot load without (core.pbtxt.LOAD_FATAL_PARAMS) or that hold the engine path
#: (core.pbtxt.ENGINE_PATH_KEYS): never deleted, they must be filled
_UNDELETABLE_PARAMS = ("gpt_model_path", "gpt_model_type", "engine_dir")
_PARAM_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def validate_delete_params(value: list, answers: Answers) -> Optional[Finding]:
    """``triton.delete_params``: parameter keys (any name is accepted; one the template lacks is reported by
    the config step), but not a block Triton needs."""
    for key in value or ():
        if not _PARAM_KEY_RE.match(key):
            return invalid(f"{key!r} is not a parameters key (letters, digits, _ . -)", "write key,key2")
        if key in _UNDELETABLE_PARAMS:
            return invalid(f"the parameters block {key} cannot be deleted: Triton needs it to load the engine",
                           f"remove {key} from the list and fill it instead")
    return None


def validate_url(value: str, answers: Answers) -> Optional[Finding]:
    if not re.match(r"^(https?|file|ssh|git)://", value) and not re.match(r"^[\w.-]+@[\w.-]+:", value) \
            and not Path(value).is_absolute():
        return invalid(f"{value!r} is not a git URL (https://…, file://…, git@host:…) or an absolute path")
    return None


def validate_endpoint(value: str, answers: Answers) -> Optional[Finding]:
    if not re.match(r"^https?://[^\s/]+", value):
        return invalid(f"{value!r} is not an http(s) URL")
    return None


_VERSION_HINT = "such as 0.12.0, 0.21.0rc1 or 0.17.0.post1"


def validate_version(value: str, answers: Answers) -> Optional[Finding]:
    v = try_parse_version(str(value))
    if v is None or len(v.release) < 2:
        return invalid(f"{value!r} is not a version {_VERSION_HINT}")
    if not answers.is_set("env.tag"):  # the tag is derived from this value: a bad one is this value's problem
        from .answers import tag_for_version

        tag = tag_for_version(str(value))
        if tag is None or not _TAG_RE.fullmatch(tag):
            return invalid(f"{value!r} is not a full release version {_VERSION_HINT} (the git tag is derived "
                           f"from it: {tag or 'none'})")
    return None


def validate_lmi_version(value: str, answers: Answers) -> Optional[Finding]:
    """An LMI (DJL Serving) release: a version, also DJL's nightly spelling ``0.33.0-SNAPSHOT``."""
    from ..facts.target import parse_lmi_version

    try:
        v = parse_lmi_version(str(value))
    except WizardError:
        v = None
    if v is None or len(v.release) < 2:
        return invalid(f"{value!r} is not an LMI version such as 0.30.0 or 0.33.0-SNAPSHOT")
    from ..facts import target

    layout = answers["env.lmi_layout"] or "auto"
    try:  # 0.34+ published no TensorRT-LLM image: a target only with the layout named (a self-built image)
        target.require_published(str(value), None if layout == "auto" else layout)
    except WizardError as exc:
        return invalid(exc.problem, exc.fix.replace("--layout", "LMI artifact layout ="), code="lmi-no-trtllm-image")
    return None


_TAG_RE = re.compile(r"v?\d+\.\d+\.\d+[\w.+-]*")


def validate_tag(value: str, answers: Answers) -> Optional[Finding]:
    if not answers.is_set("env.tag"):
        return None  # derived from [env] trtllm_version: its validator reports a bad one there
    if not _TAG_RE.fullmatch(value):
        return invalid(f"{value!r} is not a release tag such as v0.12.0")
    return None


def validate_extra_flags(value: Mapping[str, Any], answers: Answers) -> Optional[Finding]:
    for k in value:
        if not re.fullmatch(r"--?[A-Za-z][\w-]*", k):
            return invalid(f"{k!r} is not a command-line flag (write it as --name)")
    return None


# --------------------------------------------------------------------------------------------------
# cross-field checks


def same_release(a: str, b: str) -> bool:
    """Whether two TensorRT-LLM versions are the same release for an engine: numbers and pre-release
    (``0.12.0.dev2024`` / ``0.12.0+local`` / ``v0.12.0`` are 0.12.0; ``1.2.0rc6`` is not ``1.2.0``)."""
    va, vb = try_parse_version(str(a)), try_parse_version(str(b))
    if va is None or vb is None:
        return str(a).strip() == str(b).strip()

    def key(v):
        return tuple(v.release) + (0,) * (3 - len(v.release)), v.pre

    return key(va) == key(vb)


def installed_mismatch(answers: Answers, installed: Optional[str] = None) -> Optional[Finding]:
    """Building here for another TensorRT-LLM than the installed one: the run's environment step stops on it, so
    it blocks Next on the Environment screen with the same words (one rule, two callers)."""
    version = trtllm_version(answers)
    installed = installed if installed is not None else answers.ctx.installed_trtllm
    if not (installed and version and builds_here(answers)) or runs_remote(answers) or \
            same_release(version, installed):
        return None  # (a SageMaker compile runs in the LMI image of the version, not on this machine)
    return error("trtllm-version-differs", f"building for TensorRT-LLM {version}, but {installed} is installed here: "
                 "the engines would only load on the installed version",
                 f"set trtllm_version under [env] to {installed}, or run in the LMI container that has "
                 f"tensorrt-llm {version}", key="env.trtllm_version")


def lmi_combination(answers: Answers) -> Iterable[Finding]:
    """A combination no LMI image has (``core/data/lmi_releases.json``): the chosen LMI release ships another
    TensorRT-LLM than the version built for, or the chosen layout is not the one the LMI image for this version
    loads. Blocking: the engine would not load anywhere."""
    from ..facts import target

    version = trtllm_version(answers)
    lmi = answers["env.lmi_version"]
    chosen = answers["env.lmi_layout"] or "auto"
    ver_ok = bool(version) and try_parse_version(str(version)) is not None
    row = None
    if lmi:
        try:
            row = target.release_for_lmi(str(lmi))
        except WizardError:
            row = None
    shipping: list = []
    if ver_ok:
        try:
            shipping, _ = target.releases_for_trtllm(str(version))
        except WizardError:
            shipping = []
    if row is not None and ver_ok and not same_release(row["trtllm"], version):
        alt = " or ".join(r["lmi"] for r in shipping)
        fix = (f"set lmi_version under [env] to {alt} (they ship {version}), or trtllm_version under [env] to "
               f"{row['trtllm']}" if alt else f"set trtllm_version under [env] to {row['trtllm']}, or leave "
               "lmi_version under [env] empty")
        yield error("lmi-trtllm-mismatch", f"LMI {row['lmi']} ships TensorRT-LLM {row['trtllm']}, not {version}: an "
                    f"engine built for {version} will not load in it", fix, key="env.lmi_version")
        return
    if chosen == "auto":
        return
    natural, who = None, None
    if lmi:
        try:
            natural, who = target.layout_for_lmi(str(lmi)), f"LMI {lmi}"
        except WizardError:
            natural = None
    elif shipping:
        layouts = {r["layout"] for r in shipping}
        if len(layouts) == 1:
            natural = layouts.pop()
            who = "LMI " + " / ".join(r["lmi"] for r in shipping)
    if natural and chosen != natural:
        name = {"triton": "Triton", "flat": "flat"}
        yield error("layout-no-image", f"no LMI image loads the {name.get(chosen, chosen)} layout with TensorRT-LLM "
                    f"{version}: {who} {'load' if ' / ' in who else 'loads'} the {name.get(natural, natural)} "
                    "layout", f"set lmi_layout under [env] to auto (or {natural})", key="env.lmi_layout")


def check_environment(answers: Answers) -> Iterable[Finding]:
    version = trtllm_version(answers)
    installed = answers.ctx.installed_trtllm
    if not version:
        yield error("no-trtllm-version", "tensorrt-llm is not installed here and no version is given; set the "
                    "TensorRT-LLM version the engine is for (it picks the git tag and the LMI layout)",
                    key="env.trtllm_version")
    else:
        mismatch = installed_mismatch(answers, installed)
        if mismatch is not None:
            yield mismatch
        elif not installed and builds_here(answers) and not runs_remote(answers):
            yield warning("trtllm-not-installed", "tensorrt-llm is not installed here: the build step cannot run "
                          "on this machine (plan and review still work)", key="env.trtllm_version")
    yield from lmi_combination(answers)
    if answers.ctx.gpu_count == 0 and builds_here(answers) and not runs_remote(answers):
        yield warning("no-gpu", "no NVIDIA GPU visible: engines can only be built on a GPU of the deployment's "
                      "architecture", key="env")


# where a core.build finding belongs in the form
_FINDING_KEYS = {
    "parallel_size": "build.tp", "tp_pp_world": "build.tp", "world_gt_gpus": "build.tp", "tp_heads": "build.tp",
    "tp_kv_heads": "build.tp", "weights_memory": "build.tp", "pp_layers": "build.pp", "dtype": "build.dtype",
    "max_batch_size": "build.max_batch_size", "max_input_len": "build.max_input_len",
    "max_output_len": "build.max_output_len", "max_seq_len": "build.max_output_len",
    "workers": "build.parallel_build", "ifb_paged": "build.paged_kv_cache", "ifb_plugins": "build.inflight_batching",
    "context_fmha_sm": "build.context_fmha", "sm75_unsupported": "env.trtllm_version", "sm_too_old": "env",
}


def check_build(answers: Answers) -> Iterable[Finding]:
    method = build_method(answers)
    if method == "prebuilt":
        if not answers["build.engine_dir"]:
            yield error("required", "required when the build method is 'prebuilt'", key="build.engine_dir")
        return
    mi, mo = answers["build.max_input_len"], answers["build.max_output_len"]
    if mi and mo and mi + mo > 1_048_576:
        yield error("implausible-length", "max input + output length is implausibly large", key="build.max_output_len")
    if method == "checkout" and not answers["model.example"]:
        yield error("no-example", "pick the example folder whose builder fits this model", key="model.example")
    # the version/GPU/model-aware rules live in core.build
    from ..build import validate_intent

    model = answers.ctx.model_config(model_ref(answers)) if answers["model.source"] else None
    try:
        findings = validate_intent(build_intent(answers), gpu=build_gpu(answers), model=model,
                                   trtllm_version=trtllm_version(answers), purpose="build")
    except (WizardError, TypeError, ValueError):
        findings = []
    for f in findings:
        yield Finding(f.level if f.level in SEVERITIES else "info", f.code, f.message, f.fix,
                      key=_FINDING_KEYS.get(f.code, "build"))
    if method == "checkout":
        yield from check_extra_flags(answers)


def check_extra_flags(answers: Answers) -> Iterable[Finding]:
    """``build.convert_flags`` / ``build.build_flags`` against the builders of the checkout's example folder
    (``core.build.place_flags``: a flag moves to the one builder that defines it, with a warning; a flag none
    defines is refused here, not at Run). Nothing to say while the checkout or the example is not there yet:
    the build step applies the same rule when it renders the command."""
    convert, build = answers["build.convert_flags"] or {}, answers["build.build_flags"] or {}
    root, name = checkout_dir(answers), answers["model.example"]
    if not (convert or build) or not name or root is None or not root.is_dir():
        return
    from .. import models
    from ..build import extra_flag_findings

    try:
        ex = models.find_example(root, name)
        yield from extra_flag_findings(ex.path, convert, build)
    except (WizardError, OSError):
        return  # no such example / no builder: other rules say so


def check_destination(answers: Answers) -> Iterable[Finding]:
    dest = str(answers["destination.uri"] or "")
    if dest.lower().startswith("s3://"):
        bucket = dest[5:].split("/", 1)[0]
        missing = answers.ctx.bucket_missing(bucket)  # one HeadBucket by a front end (credentials here)
        if missing:
            yield error("no-such-bucket", missing[0], missing[1], key="destination.uri")
    yield from _check_rolling_batch(answers)


def _check_rolling_batch(answers: Answers) -> Iterable[Finding]:
    mbs = answers["lmi.max_rolling_batch_size"]
    bmax = answers["build.max_batch_size"]
    if mbs and bmax and mbs > bmax and not_prebuilt(answers):
        yield error("rolling-batch-too-big", f"{mbs} is above the engine's max batch size {bmax}",
                    key="lmi.max_rolling_batch_size")


# --------------------------------------------------------------------------------------------------
# gates: what a screen showed alone, now applied by every front end and by run/plan before anything runs


def check_checkout(answers: Answers) -> Iterable[Finding]:
    """The checkout folder ``core.checkout.plan_checkout`` would refuse (another tag, local changes, a folder
    that is not a checkout): a blocking finding before anything runs (the checkout screen shows the same plan).
    Cached per folder/tag in the context; ``Context.forget_checkout_plan`` after a clone."""
    if not needs_checkout(answers):
        return
    args = checkout_args(answers)
    if args is None:
        return
    try:
        plan = answers.ctx.checkout_plan(args)
    except WizardError as exc:
        yield error("checkout-plan", exc.problem, exc.fix, key="checkout.dir")
        return
    if plan is not None and plan.error is not None:
        yield error("checkout-refused", plan.error.problem, plan.error.fix, key="checkout.dir")


def check_triton(answers: Answers) -> Iterable[Finding]:
    """The Triton config the run would write from the checkout's template keeps a blocking ``${…}`` or does not
    parse (``triton_config.config_findings``); nothing to say while the checkout is not there yet."""
    from .triton_config import config_findings

    yield from config_findings(answers)


def validate_short_name(value: str, answers: Answers) -> Optional[Finding]:
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*", value):
        return None
    return invalid("use letters, digits, '.', '_' and '-' only")


def validate_file_patterns(value: list, answers: Answers) -> Optional[Finding]:
    """``tokenizer.extra_patterns``: file-name globs the tokenizer step fetches too (``core.tokenizer``'s rule)."""
    from ..tokenizer import PATTERN_FIX, pattern_problem

    for pat in value or ():
        bad = pattern_problem(pat)
        if bad:
            return invalid(bad, PATTERN_FIX)
    return None


# --------------------------------------------------------------------------------------------------
# where the run happens: the facts the checks above need (the Review rules are in ``where``)


def runs_remote(answers: Answers) -> bool:
    return answers["run.where"] == "sagemaker"


def gpus_needed(answers: Answers) -> int:
    """TP × PP: the GPUs the engine is built for (and a remote compile's instance must have)."""
    return int(answers["build.tp"] or 1) * int(answers["build.pp"] or 1)


def build_gpu(answers: Answers):
    """``core.build.GpuFacts`` of the GPUs the engine is built on: the SageMaker instance's when the run is
    remote (its architecture, GPU memory and count), else this machine's (``gpu_facts``)."""
    if runs_remote(answers) and answers["remote.instance_type"]:
        from ..build import GpuFacts
        from ..remote import instances

        try:
            inst = instances.describe(answers["remote.instance_type"])
        except WizardError:
            return None
        if not inst.arch:
            return None
        mem = inst.gpu_memory_gib * (1 << 30) if inst.gpu_memory_gib else None
        return GpuFacts(inst.gpu or "", int(inst.arch[2:]), mem, inst.gpus)
    return gpu_facts(answers.ctx)
