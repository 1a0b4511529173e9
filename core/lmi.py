"""The LMI (DJL Serving) configuration that loads the compiled model, in the tutorial's three styles.

From one set of answers (:class:`LmiAnswers`):

1. **environment variables** (SageMaker ``Environment``): ``HF_MODEL_ID``, ``OPTION_TENSOR_PARALLEL_DEGREE``,
   ``OPTION_MAX_ROLLING_BATCH_SIZE`` … (LMI maps ``OPTION_<X>`` to ``option.<x>``);
2. **serving.properties with the S3 model_id**: ``engine=Python``, ``option.mpi_mode=true``,
   ``option.model_id=s3://…`` …;
3. **extracted artifacts** mounted at ``/opt/ml/model/``: ``serving.properties`` with
   ``option.rolling_batch=trtllm``, ``option.dtype`` and ``option.tensor_parallel_degree`` beside the model
   folder. Triton layout: ``/opt/ml/model/{serving.properties, tensorrt_llm/{config.pbtxt, tokenizer…, 1/}}``
   with ``gpt_model_path`` = ``/opt/ml/model/tensorrt_llm/1``. Flat layout:
   ``/opt/ml/model/{serving.properties, config.json, rank*.engine, tokenizer…}`` (``/opt/ml/model`` is the
   model itself, so no ``model_id``).

The values reproduce the tutorial's exactly for its Baichuan example. Rules beyond it, per LMI release (the
facts and their djl-serving sources are in ``data/lmi_releases.json``):

* ``option.trust_remote_code`` is written **only when needed**, and only as ``true``. The runtime parses it as
  a bool (``properties_manager/properties.py``: ``trust_remote_code: bool``), but the raw string reaches the
  AOT partition script (0.33: ``LLM(trust_remote_code="false")``, a non-empty string, so true) and, up to
  0.32, the closed ``tensorrt_llm_toolkit``: leaving the key out is the one spelling every reader takes as off.
* Pipeline parallelism: nothing before 0.30 starts TP × PP ranks on one node (``mpirun -np`` TP), so PP > 1
  is refused there; 0.30–0.32 read ``option.pipeline_parallel_degree``; from 0.33 the TensorRT-LLM runtime
  reads ``option.pipeline_parallel_size`` (the ``…_degree`` key still sets the world size), so both are
  written. Neither is written when PP is 1.
* LMI 0.25 with no ``config.json`` at the model root (the Triton layout) picks engine ``Python`` without MPI:
  the env style adds ``OPTION_MPI_MODE=true``, and the serving.properties styles write ``engine=MPI`` (at 0.25
  ``engine=Python`` + ``mpi_mode`` loads one model copy per TP GPUs when TP < GPUs). ``OPTION_ENGINE`` maps to
  ``engine`` from 0.27 (earlier it becomes an unread ``option.engine``).
* In the extracted style the triton layout leaves the batch size to ``config.pbtxt`` (as the tutorial
  does); the flat layout has no config.pbtxt, so ``option.max_rolling_batch_size`` is written there.

Cross-checks (:func:`check_answers`) return findings with fixes: tensor parallel degree equal to the
engine's TP (and PP; ``--option tensor_parallel_degree=N`` is the same answer as ``--tp N``; ``--option
model_id=…`` may not contradict the model_id), ``max_rolling_batch_size`` within the engine's max batch size, ``trust_remote_code``
when the tokenizer ships code, the layout matching the LMI version, a usable dtype and model_id.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from .base.errors import WizardError
from .base.fsutil import atomic_write_text
from .base.findings import Finding  # severity "error" (LMI will not load it) or "warning"

LAYOUTS = ("triton", "flat")
STYLES = ("env", "properties", "extracted")
OPT_ML_MODEL = "/opt/ml/model"
TRITON_SUBFOLDER = "tensorrt_llm"
DTYPES = {"fp16": "fp16", "float16": "fp16", "half": "fp16", "bf16": "bf16", "bfloat16": "bf16",
          "fp32": "fp32", "float32": "fp32", "float": "fp32", "auto": "auto"}


@dataclass
class EngineInfo:
    """What the engine's own config.json says (TensorRT-LLM ≥ 0.8 ``trtllm-build`` or the older build.py)."""

    tp: Optional[int] = None
    pp: Optional[int] = None
    max_batch_size: Optional[int] = None
    dtype: Optional[str] = None  # LMI spelling (fp16, bf16, fp32)
    has_build_config: bool = False
    source: str = ""


@dataclass
class LmiAnswers:
    model_id: str  # the S3 URI (or local path) LMI loads: triton → parent prefix, flat → the folder itself
    tp: int = 1
    pp: int = 1
    max_rolling_batch_size: Optional[int] = None
    dtype: str = "fp16"
    layout: str = "triton"
    trust_remote_code: bool = False
    engine_tp: Optional[int] = None
    engine_pp: Optional[int] = None
    engine_max_batch_size: Optional[int] = None
    tokenizer_needs_trust: Optional[bool] = None  # from the tokenizer plan / folder
    lmi_version: Optional[str] = None
    subfolder: str = TRITON_SUBFOLDER  # triton layout: the uploaded model folder's name
    extra: dict = field(default_factory=dict)  # more option.* keys (without the "option." prefix)

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------------------------- inputs
def _positive_int(value, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise WizardError(f"{what} must be a whole number, not {value!r}", f"give {what} as e.g. 2") from None
    if n < 1:
        raise WizardError(f"{what} must be at least 1, not {n}", f"give {what} ≥ 1")
    return n


def normalise(a: LmiAnswers) -> LmiAnswers:
    """Validate and normalise in place (dtype spelling, integers); raise WizardError for bad input."""
    if a.layout not in LAYOUTS:
        raise WizardError(f"unknown layout {a.layout!r}", "use triton (LMI 0.25–0.32) or flat (LMI 0.33+)")
    if not a.model_id or not str(a.model_id).strip():
        raise WizardError("no model_id given", "give the S3 URI LMI loads, e.g. s3://bucket/prefix/")
    if any(c in a.model_id for c in "\n\r\0"):
        raise WizardError("model_id contains a line break", "give the S3 URI on one line")
    for what, value in [("model_id", a.model_id), *((f"option {k}", f"{k}={v}") for k, v in a.extra.items())]:
        try:
            str(value).encode("utf-8")
        except UnicodeEncodeError:
            raise WizardError(f"{what} is not valid UTF-8 text (bytes the terminal could not decode)",
                              "type it again as plain text") from None
    a.model_id = a.model_id.strip()
    a.tp = _positive_int(a.tp, "tensor parallel degree")
    a.pp = _positive_int(a.pp, "pipeline parallel degree")
    if a.max_rolling_batch_size is not None:
        a.max_rolling_batch_size = _positive_int(a.max_rolling_batch_size, "max rolling batch size")
    d = DTYPES.get(str(a.dtype).strip().lower())
    if d is None:
        raise WizardError(f"unknown dtype {a.dtype!r}", "use fp16, bf16 or fp32")
    a.dtype = d
    for k, v in a.extra.items():
        if not re.fullmatch(r"[A-Za-z0-9_.]+", str(k)) or any(c in str(v) for c in "\n\r\0"):
            raise WizardError(f"bad extra option {k!r}={v!r}", "use name=value on one line, e.g. max_input_len=1024")
    _fold_extra(a)
    if a.lmi_version:
        from .facts.target import layout_for_lmi

        try:
            layout_for_lmi(a.lmi_version)
        except (WizardError, ValueError, TypeError):
            raise WizardError(f"LMI version {a.lmi_version!r} is not a version", "give e.g. 0.30.0 or 0.33.0") from None
    return a


_ANSWER_KEYS = {"tensor_parallel_degree": ("tp", "--tp"), "pipeline_parallel_degree": ("pp", "--pp"),
                "pipeline_parallel_size": ("pp", "--pp")}


def _fold_extra(a: LmiAnswers) -> None:
    """``option.tensor_parallel_degree`` / ``pipeline_parallel_*`` given as extra options are the same answers as
    ``--tp`` / ``--pp`` (so they are cross-checked against the engine, and written once); ``option.model_id``
    may only repeat the model_id. A contradiction is a WizardError."""
    for raw in list(a.extra):
        k = str(raw)[len("option."):] if str(raw).startswith("option.") else str(raw)
        v = str(a.extra[raw]).strip()
        if k == "model_id":
            if v.rstrip("/") != a.model_id.rstrip("/"):
                raise WizardError(f"--option model_id={v} contradicts the model_id {a.model_id}",
                                  "give the S3 URI once, as --model-id (drop the model_id option)")
            del a.extra[raw]
        elif k in _ANSWER_KEYS:
            attr, flag = _ANSWER_KEYS[k]
            n = _positive_int(v, k)
            if getattr(a, attr) not in (1, n):
                raise WizardError(f"--option {k}={n} contradicts {flag} {getattr(a, attr)}",
                                  f"give the degree once, as {flag}")
            setattr(a, attr, n)
            del a.extra[raw]


def engine_info(folder: str | os.PathLike) -> EngineInfo:
    """Read TP/PP/max batch size/dtype from an engine folder's ``config.json`` (either format)."""
    path = Path(folder) / "config.json"
    info = EngineInfo(source=str(path))
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return info
    if not isinstance(data, dict):
        return info
    bc = data.get("build_config")
    pc = data.get("pretrained_config")
    if isinstance(bc, dict):  # trtllm-build (TensorRT-LLM ≥ 0.8)
        info.has_build_config = True
        info.max_batch_size = bc.get("max_batch_size")
        if isinstance(pc, dict):
            mapping = pc.get("mapping") or {}
            info.tp = mapping.get("tp_size")
            info.pp = mapping.get("pp_size")
            if info.tp is None and mapping.get("world_size"):
                info.tp = mapping["world_size"] // (info.pp or 1)
            info.dtype = DTYPES.get(str(pc.get("dtype", "")).lower())
    builder = data.get("builder_config")
    if isinstance(builder, dict):  # older build.py engines (the tutorial's baichuan build)
        info.tp = info.tp or builder.get("tensor_parallel")
        info.pp = info.pp or builder.get("pipeline_parallel")
        info.max_batch_size = info.max_batch_size or builder.get("max_batch_size")
        info.dtype = info.dtype or DTYPES.get(str(builder.get("precision", "")).lower())
    for attr in ("tp", "pp", "max_batch_size"):
        v = getattr(info, attr)
        setattr(info, attr, v if isinstance(v, int) and v > 0 else None)
    return info


def answers_from_engine(model_id: str, engine_dir: str | os.PathLike, *, layout: str,
                        tokenizer_dir: str | os.PathLike | None = None,
                        max_rolling_batch_size: Optional[int] = None, **kw) -> LmiAnswers:
    """Fill the answers from what is on disk: TP/PP/dtype/max batch from the engine config, and whether
    the tokenizer ships code (``auto_map.AutoTokenizer``) from the tokenizer folder."""
    from .tokenizer import tokenizer_needs_trust_remote_code

    e = engine_info(engine_dir)
    needs = tokenizer_needs_trust_remote_code(tokenizer_dir) if tokenizer_dir else None
    a = LmiAnswers(model_id=model_id, layout=layout, tp=kw.pop("tp", None) or e.tp or 1,
                   pp=kw.pop("pp", None) or e.pp or 1,
                   max_rolling_batch_size=max_rolling_batch_size or e.max_batch_size,
                   dtype=kw.pop("dtype", None) or e.dtype or "fp16",
                   trust_remote_code=kw.pop("trust_remote_code", None) or bool(needs),
                   engine_tp=e.tp, engine_pp=e.pp, engine_max_batch_size=e.max_batch_size,
                   tokenizer_needs_trust=needs, **kw)
    return normalise(a)


# --------------------------------------------------------------------------------------------- styles
def _facts(a: LmiAnswers) -> dict:
    """The release row of ``a.lmi_version`` (data/lmi_releases.json); without a version, what the layout's
    releases read (triton: 0.30–0.32, flat: 0.33)."""
    from .facts.target import release_facts

    row = release_facts(a.lmi_version) if a.lmi_version else None
    if row is None:
        row = release_facts("0.33.0" if a.layout == "flat" else "0.32.0")
    return row or {}


def pp_keys(a: LmiAnswers) -> list[str]:
    """The option.* keys carrying PP for that release ([] where single-node LMI ignores PP: ≤ 0.29)."""
    return list(_facts(a).get("pp_keys", ["pipeline_parallel_degree"]))


def _options(a: LmiAnswers, *, with_batch: bool = True) -> list[tuple[str, str]]:
    """The option.* keys shared by every style, in the tutorial's order."""
    opts = [("tensor_parallel_degree", str(a.tp))]
    if a.pp != 1:
        opts += [(k, str(a.pp)) for k in pp_keys(a)]
    if with_batch and a.max_rolling_batch_size is not None:
        opts.append(("max_rolling_batch_size", str(a.max_rolling_batch_size)))
    if a.trust_remote_code:
        # never "false": the runtime parses a bool, but the partition script (0.33) and the <= 0.32 toolkit get
        # the raw string, where "false" is non-empty and so true; leaving the key out is off everywhere
        opts.append(("trust_remote_code", "true"))
    return opts


def _with_extra(a: LmiAnswers, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Apply the user's extra ``option.*`` keys: replace a generated key of the same name, else append."""
    out = list(pairs)
    for k, v in a.extra.items():
        k = str(k)
        key = k if k.startswith("option.") or k in ("engine",) else f"option.{k}"
        if key == "option.trust_remote_code" and str(v).strip().lower() in ("false", "0", "no", "off", ""):
            out = [(pk, pv) for pk, pv in out if pk != key]  # "off" means: leave the key out
            continue
        for i, (pk, _) in enumerate(out):
            if pk == key:
                out[i] = (key, str(v))
                break
        else:
            out.append((key, str(v)))
    return out


def env_vars(a: LmiAnswers) -> dict[str, str]:
    """Style 1: ``HF_MODEL_ID`` + ``OPTION_*`` (insertion-ordered)."""
    normalise(a)
    env = {"HF_MODEL_ID": a.model_id}
    facts = _facts(a)
    base = [(f"option.{k}", v) for k, v in _options(a)]
    if facts.get("env_mpi_mode"):  # 0.25: no config.json at the root → engine Python without MPI
        base.insert(1, ("option.mpi_mode", "true"))
    for k, v in _with_extra(a, base):
        if k.startswith("option."):
            env["OPTION_" + k[len("option."):].upper().replace(".", "_")] = v
        elif k == "engine" and facts.get("option_engine_env", True):  # OPTION_ENGINE → engine from 0.27
            env["OPTION_ENGINE"] = v
    return env


def env_text(a: LmiAnswers) -> str:
    return "".join(f"{k}={v}\n" for k, v in env_vars(a).items())


def _properties_text(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{k}={v}\n" for k, v in pairs)


def _engine(a: LmiAnswers) -> str:
    """The tutorial's ``engine=Python`` (+ mpi_mode); ``MPI`` at 0.25, where Python + mpi_mode loads one model
    copy per TP GPUs when TP < GPUs (ModelInfo.getLoadOnDevices at v0.25.0)."""
    return "MPI" if _facts(a).get("engine_mpi_differs") else "Python"


def serving_properties(a: LmiAnswers) -> str:
    """Style 2: ``serving.properties`` loading the model from ``option.model_id`` (S3)."""
    normalise(a)
    pairs = [("engine", _engine(a)), ("option.mpi_mode", "true"), ("option.model_id", a.model_id)]
    pairs += [(f"option.{k}", v) for k, v in _options(a)]
    return _properties_text(_with_extra(a, pairs))


def gpt_model_path(a: LmiAnswers) -> Optional[str]:
    """Triton layout: where the engines are inside the container (``/opt/ml/model/tensorrt_llm/1``)."""
    return f"{OPT_ML_MODEL}/{a.subfolder}/1" if a.layout == "triton" else None


def extracted_properties(a: LmiAnswers) -> str:
    """Style 3: ``serving.properties`` for artifacts extracted to ``/opt/ml/model`` (no model_id)."""
    normalise(a)
    pairs = [("engine", _engine(a)), ("option.mpi_mode", "true"), ("option.rolling_batch", "trtllm"),
             ("option.dtype", a.dtype)]
    pairs += [(f"option.{k}", v) for k, v in _options(a, with_batch=a.layout == "flat")]
    return _properties_text(_with_extra(a, [(k, v) for k, v in pairs if k != "option.model_id"]))


def extracted_layout(a: LmiAnswers) -> list[str]:
    """The paths expected under ``/opt/ml/model`` (engines as globs), for display and checks."""
    if a.layout == "triton":
        s = a.subfolder
        return ["serving.properties", f"{s}/config.pbtxt", f"{s}/tokenizer_config.json", f"{s}/1/config.json",
                f"{s}/1/rank*.engine (or *_rank*.engine)"]
    return ["serving.properties", "config.json (engine, with build_config)", "rank*.engine",
            "tokenizer_config.json (+ tokenizer files)"]


def render(a: LmiAnswers, style: str) -> str:
    """One style as text (what the TUI previews and the verb prints)."""
    if style == "env":
        return env_text(a)
    if style == "properties":
        return serving_properties(a)
    if style == "extracted":
        return extracted_properties(a)
    raise WizardError(f"unknown style {style!r}", "use env, properties, extracted or all")


def all_styles(a: LmiAnswers) -> dict:
    """Everything, as data (for ``--json`` and the TUI)."""
    normalise(a)
    return {
        "layout": a.layout,
        "model_id": a.model_id,
        "env": env_vars(a),
        "serving_properties": serving_properties(a),
        "extracted": {"serving_properties": extracted_properties(a), "mount": OPT_ML_MODEL + "/",
                      "layout": extracted_layout(a), "gpt_model_path": gpt_model_path(a)},
        "findings": [f.to_json() | {"level": f.severity} for f in check_answers(a)],
    }


# --------------------------------------------------------------------------------------------- checks
def check_answers(a: LmiAnswers) -> list[Finding]:
    normalise(a)
    out: list[Finding] = []
    if a.engine_tp is not None and a.engine_tp != a.tp:
        out.append(Finding("error", "tp-mismatch",
                           f"option.tensor_parallel_degree={a.tp} but the engine was built for TP {a.engine_tp} "
                           f"(one rank*.engine per GPU)",
                           f"set the tensor parallel degree to {a.engine_tp} (--tp {a.engine_tp}) or rebuild "
                           f"the engine with --tp_size {a.tp}"))
    if a.engine_pp is not None and a.engine_pp != a.pp:
        out.append(Finding("error", "pp-mismatch",
                           f"pipeline parallel degree {a.pp} but the engine was built for PP {a.engine_pp}",
                           f"set --pp {a.engine_pp}"))
    if (a.max_rolling_batch_size is not None and a.engine_max_batch_size is not None
            and a.max_rolling_batch_size > a.engine_max_batch_size):
        out.append(Finding("error", "batch-over-engine",
                           f"max_rolling_batch_size={a.max_rolling_batch_size} exceeds the engine's max batch size "
                           f"{a.engine_max_batch_size}",
                           f"set --max-rolling-batch-size {a.engine_max_batch_size} or less, or rebuild with a "
                           f"larger --max_batch_size"))
    if a.tokenizer_needs_trust and not a.trust_remote_code:
        out.append(Finding("error", "trust-remote-code",
                           "the tokenizer ships its own code (auto_map) but trust_remote_code is off: LMI will "
                           "fail to load the tokenizer",
                           "turn trust_remote_code on (--trust-remote-code); it is written as "
                           "option.trust_remote_code=true"))
    if a.trust_remote_code and a.tokenizer_needs_trust is False:
        out.append(Finding("warning", "trust-not-needed",
                           "trust_remote_code is on but the tokenizer has no custom code",
                           "leave it off (no option.trust_remote_code key is written then)"))
    facts = _facts(a)
    if a.pp != 1 and not pp_keys(a):
        out.append(Finding("error", "pp-not-read",
                           f"pipeline parallel degree {a.pp}: LMI {a.lmi_version} starts tensor_parallel_degree "
                           "ranks only on one node (mpirun -np TP; TP × PP from 0.30), so a PP engine cannot load",
                           f"rebuild with --pp_size 1 (TP {a.tp * a.pp}), or target LMI 0.30 or newer"))
    if facts.get("engine_mpi_differs"):
        out.append(Finding("warning", "env-engine-025",
                           f"LMI {a.lmi_version}: the environment cannot choose the engine (OPTION_ENGINE is read "
                           "from 0.27), so the env style runs engine=Python with OPTION_MPI_MODE=true, which loads "
                           "one model copy per TP GPUs when TP is less than the instance's GPUs",
                           "use the serving.properties styles (engine=MPI) on instances with more GPUs than TP"))
    if any(str(k) == "engine" for k in a.extra) and not facts.get("option_engine_env", True):
        out.append(Finding("warning", "option-engine-not-read",
                           f"LMI {a.lmi_version} does not map OPTION_ENGINE to engine (from 0.27 on): the env "
                           "style leaves it out", "set engine in serving.properties"))
    if a.lmi_version:
        from .facts.target import layout_for_lmi

        want = layout_for_lmi(a.lmi_version)  # normalise() made sure it parses
        if want is None:
            out.append(Finding("error", "lmi-too-old", f"LMI {a.lmi_version} has no TensorRT-LLM support",
                               "use LMI 0.25 or later"))
        elif want in LAYOUTS and want != a.layout:
            out.append(Finding("error", "layout-mismatch",
                               f"LMI {a.lmi_version} loads the {want} layout, not {a.layout}",
                               f"use --layout {want} or another LMI version"))
    mid = a.model_id
    if mid.startswith("s3://"):
        rest = mid[5:]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            out.append(Finding("error", "model-id", f"{mid} has no bucket", "give s3://bucket/prefix/"))
        elif a.layout == "triton" and not prefix.strip("/"):
            out.append(Finding("error", "model-id-bucket-root",
                               "triton layout: model_id is a bucket root; LMI needs the parent prefix of the "
                               f"uploaded {a.subfolder}/ folder",
                               "upload to s3://bucket/folder1/folder2/ and use s3://bucket/folder1/"))
        elif a.layout == "triton" and prefix.rstrip("/").split("/")[-1] == a.subfolder:
            out.append(Finding("warning", "model-id-too-deep",
                               f"model_id ends in /{a.subfolder}/: LMI lists the sub-folders of model_id, so this "
                               "points one level too deep",
                               "give the parent prefix (the tutorial's two-folder rule)"))
    elif "://" in mid and not mid.startswith(("http://", "https://")):
        out.append(Finding("warning", "model-id-scheme", f"model_id {mid} is neither s3:// nor a local path",
                           "give s3://bucket/prefix/"))
    if a.layout == "flat" and a.max_rolling_batch_size is None and a.engine_max_batch_size:
        out.append(Finding("warning", "batch-unset",
                           "no max_rolling_batch_size: LMI uses its default, not the engine's max batch size",
                           f"set --max-rolling-batch-size {a.engine_max_batch_size}"))
    return out


# --------------------------------------------------------------------------------------------- pbtxt
def read_gpt_model_path(pbtxt_text: str) -> Optional[str]:
    """The ``gpt_model_path`` parameter's string_value (None without one). core.triton's scanner: comments,
    ``<>`` brackets, list-form parameters and escaped quotes are all read right."""
    from . import triton

    return next((p.value for p in triton.parameter_blocks(pbtxt_text) if p.key == "gpt_model_path"), None)


def set_gpt_model_path(pbtxt_text: str, path: str) -> str:
    """Set the ``gpt_model_path`` parameter's string_value (the tutorial's last manual edit)."""
    from . import triton

    if "\n" in path or "\0" in path:
        raise WizardError(f"bad gpt_model_path {path!r}", "give a plain path")
    if not any(p.key == "gpt_model_path" and p.value_span for p in triton.parameter_blocks(pbtxt_text)):
        raise WizardError("config.pbtxt has no gpt_model_path parameter",
                          "use the tensorrt_llm/config.pbtxt of the tensorrtllm_backend tag")
    return triton.set_engine_path(pbtxt_text, path, param="gpt_model_path")


# --------------------------------------------------------------------------------------------- write
def _write(path: Path, text: str, force: bool, written: list[str]) -> None:
    if path.is_dir():
        raise WizardError(f"{path} is a folder", "remove it or choose another folder")
    if path.exists():
        try:
            same = path.read_text("utf-8") == text
        except (OSError, UnicodeDecodeError):
            same = False
        if same:
            return
        if not force:
            raise WizardError(f"{path} already exists with other content",
                              "pass --force to replace it, or write to another folder")
    # a symlinked config.pbtxt (e.g. into a checkout) is written through, like an editor would; the link stays
    atomic_write_text(os.path.realpath(path) if path.is_symlink() else path, text)
    written.append(str(path))


def write_configs(a: LmiAnswers, out_dir: str | os.PathLike, style: str = "all", *, force: bool = False,
                  fix_gpt_model_path: bool = True) -> list[str]:
    """Write the chosen style(s) into ``out_dir``; return the paths written.

    * ``env`` → ``lmi.env``; ``properties`` → ``serving.properties`` (S3 model_id);
    * ``extracted`` → ``serving.properties`` at the ``/opt/ml/model`` root (``out_dir`` is the model repo
      root: triton → the folder holding ``tensorrt_llm/``; flat → the engine folder) and, triton layout,
      ``gpt_model_path`` in ``tensorrt_llm/config.pbtxt`` set to ``/opt/ml/model/tensorrt_llm/1`` when that
      file is there;
    * ``all`` → ``lmi.env``, ``serving.properties`` (S3 style) and ``extracted/serving.properties``.

    An existing file with other content is replaced only with ``force``; all writes are atomic."""
    normalise(a)
    out = Path(out_dir).expanduser()
    if style not in STYLES + ("all",):
        raise WizardError(f"unknown style {style!r}", "use env, properties, extracted or all")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WizardError(f"cannot create {out}: {exc.strerror or exc}", "choose a writable folder") from None
    # decide everything before writing anything (no half-written set)
    jobs: list[tuple[Path, str]] = []
    if style in ("env", "all"):
        jobs.append((out / "lmi.env", env_text(a)))
    if style in ("properties", "all"):
        jobs.append((out / "serving.properties", serving_properties(a)))
    if style == "extracted":
        jobs.append((out / "serving.properties", extracted_properties(a)))
        pbtxt = out / a.subfolder / "config.pbtxt"
        if a.layout == "triton" and fix_gpt_model_path and pbtxt.is_file():
            text = pbtxt.read_text("utf-8")
            want = gpt_model_path(a)
            if read_gpt_model_path(text) != want:
                jobs.append((pbtxt, set_gpt_model_path(text, want)))
    if style == "all":
        (out / "extracted").mkdir(exist_ok=True)
        jobs.append((out / "extracted" / "serving.properties", extracted_properties(a)))
    for path, text in jobs:
        if path.exists() and not force and path.name != "config.pbtxt":
            try:
                same = path.read_text("utf-8") == text
            except (OSError, UnicodeDecodeError):
                same = False
            if not same:
                raise WizardError(f"{path} already exists with other content",
                                  "pass --force to replace it, or write to another folder")
    written: list[str] = []
    for path, text in jobs:
        _write(path, text, force or path.name == "config.pbtxt", written)
    return written
