"""The files beside the engines that LMI reads: ``config.pbtxt`` (placeholders, decoupled, engine path, max
batch), the tokenizer files (vocabulary, ``auto_map`` custom code) and ``serving.properties``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from .report import (
    CONTAINER_ROOT,
    MAX_PBTXT_BYTES,
    MAX_SMALL_DOWNLOAD,
    VOCAB_FILES,
    _Ctx,
    _read_json,
    _read_properties,
)

# --------------------------------------------------------------------------------------------- pbtxt
_MAX_BATCH_RE = re.compile(r"^max_batch_size\s*:\s*(\d+)", re.M)


def _pbtxt_checks(ctx: _Ctx, mdir: Path, facts: dict, lmi=None, edir: Optional[Path] = None) -> None:
    """``lmi``: the LmiTarget (its release decides the /tmp engine path rule and the backend tag of the value
    rules); ``edir``: the engine folder (its config.json sizes the KV-cache rule)."""
    from .. import triton
    from ..facts import target as target_mod

    path = mdir / "config.pbtxt"
    try:
        size = path.stat().st_size
    except OSError:
        return  # the layout finding says it is missing
    if size > MAX_PBTXT_BYTES:
        ctx.add("error", "pbtxt-too-large", f"{ctx.show(path)} is {size // (1024 * 1024)} MiB: a model configuration "
                "is a few KB; this is not one", "put the tensorrt_llm config.pbtxt of the tensorrtllm_backend tag "
                "there (lmi-wizard pbtxt fill)", path, "pbtxt")
        return
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        ctx.add("error", "pbtxt-not-text", f"{ctx.show(path)} is not UTF-8 text", "regenerate config.pbtxt", path,
                "pbtxt")
        return
    except OSError as exc:
        ctx.add("error", "pbtxt-unreadable", f"cannot read {ctx.show(path)}: {exc.strerror}", "check permissions",
                path, "pbtxt")
        return
    expected = f"{CONTAINER_ROOT}/{mdir.name}/1"
    rep = triton.check_text(text, "config.pbtxt", expected_engine_path=expected)
    for f in rep.findings:
        where = f"{ctx.show(path)}:{f.line}"
        if f.kind == "blocking":
            ctx.add("error", "pbtxt-placeholder", f"line {f.line}: ${{{f.name}}} in {f.field} is not filled: {f.reason}",
                    f.fix, where, "pbtxt")
        else:
            ctx.add("warning", "pbtxt-placeholder-optional", f"line {f.line}: ${{{f.name}}} in {f.field}: {f.reason}",
                    f.fix, where, "pbtxt")
    if rep.parses is False:
        ctx.add("error", "pbtxt-parse", f"config.pbtxt does not parse as Triton's ModelConfig: {rep.parse_error}",
                "fill every placeholder (lmi-wizard pbtxt check shows them) and fix the syntax", path, "pbtxt")
    dec = rep.decoupled
    state = dec.get("state")
    if state == "invalid":
        ctx.add("error", "pbtxt-decoupled", f"decoupled has the value {dec.get('value')!r}, not a boolean",
                "set model_transaction_policy { decoupled: True }", path, "pbtxt")
    elif state in ("false", "missing"):
        ctx.add("warning", "pbtxt-decoupled",
                "decoupled mode is off" + (" (no model_transaction_policy)" if state == "missing" else "")
                + ": LMI streams tokens through the decoupled tensorrtllm model",
                "set model_transaction_policy { decoupled: True } as the tutorial does", path, "pbtxt")
    eng = rep.engine_path
    est = eng.get("state")
    msg_val = eng.get("value")
    known = lmi is not None and lmi.version and lmi.source in ("override", "image")
    row = target_mod.release_facts(lmi.version) if known else None
    if est == "host_path" and str(msg_val).rstrip("/") == "/tmp" and (row is None or row.get("tutorial_tmp_engine_path")):
        # LMI 0.26–0.29's tutorial: "LMI will change this value in runtime to correct the model path after
        # download"; djl-serving's source never touches gpt_model_path (the closed toolkit would), so: a warning
        who = f"LMI {lmi.version}'s" if row else "The LMI 0.26–0.29"
        ctx.add("warning", "pbtxt-engine-path-tmp",
                f"the engine path is /tmp: {who} tutorial says LMI rewrites it after downloading the model from S3 "
                "(done by the closed tensorrt_llm_toolkit, which cannot be checked here; djl-serving's own source "
                f"never reads gpt_model_path); for artifacts mounted at /opt/ml/model it must be {expected}",
                f"set gpt_model_path to {expected}: right in every case", path, "pbtxt")
        est = "ok"
    if est in ("placeholder", "empty", "relative", "host_path", "missing"):
        what = {"placeholder": "is still a placeholder", "empty": "is empty", "relative": f"{msg_val!r} is relative",
                "host_path": f"{msg_val!r} is a path on the build machine",
                "missing": "is not set (no gpt_model_path parameter)"}[est]
        ctx.add("error", "pbtxt-engine-path",
                f"the engine path {what}: inside the LMI container the engines are at {expected}",
                f"set gpt_model_path to {expected} (lmi-wizard pbtxt fill … -i)", path, "pbtxt")
    elif est == "other_container_path":
        ctx.add("warning", "pbtxt-engine-path",
                f"the engine path {msg_val!r} differs from {expected}, where this folder's 1/ is inside the container",
                f"set gpt_model_path to {expected} unless the engines really are at {msg_val}", path, "pbtxt")
    info = facts.get("info")
    m = _MAX_BATCH_RE.search(text)
    if m and info is not None and info.max_batch_size and int(m.group(1)) > info.max_batch_size:
        ctx.add("error", "pbtxt-max-batch",
                f"config.pbtxt max_batch_size {m.group(1)} exceeds the engine's max batch size {info.max_batch_size}",
                f"set max_batch_size to {info.max_batch_size} or less (triton_max_batch_size)", path, "pbtxt")
    for n in rep.notes:
        if "untouched" in n or "every placeholder of the upstream template" in n:
            ctx.add("info", "pbtxt-untouched", n, "run lmi-wizard pbtxt fill … -i", path, "pbtxt")
    # values the backend rejects or ignores (one rule set: core.triton.values)
    trt = lmi.trtllm_version if lmi is not None and lmi.trtllm_version else None
    tag = f"v{trt}" if trt else None
    for f in triton.value_findings(triton.parameter_blocks(text), tag, engine_config=edir):
        ctx.add(f.severity, f.code, f.problem, f.fix, path, "pbtxt")


def _other_models_checks(ctx: _Ctx, root: Path, mdir: Path) -> None:
    """The other model folders of a Triton repository (ensemble, preprocessing, postprocessing, bls): LMI loads
    only the sub-folder with config.pbtxt + tokenizer_config.json (LmiUtils.isValidTrtLlmModelRepo) and
    tokenizes itself, so it never reads them; a tritonserver pointed at the same repository loads every one, and
    fails on what is left unfilled. Reported as warnings."""
    from .. import triton

    try:
        others = sorted(p for p in root.iterdir() if p.is_dir() and p != mdir and (p / "config.pbtxt").is_file())
    except OSError:
        return
    for other in others:
        path = other / "config.pbtxt"
        try:
            if path.stat().st_size > MAX_PBTXT_BYTES:
                continue
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        rep = triton.check_text(text, f"{other.name}/config.pbtxt")
        blocking = sorted({f.name for f in rep.findings if f.kind == "blocking"})
        if blocking:
            names = ", ".join("${" + n + "}" for n in blocking[:8]) + (" …" if len(blocking) > 8 else "")
            ctx.add("warning", "other-model-placeholder",
                    f"{other.name}/config.pbtxt still has {len(blocking)} unfilled placeholder(s) ({names}): LMI "
                    "does not read this model (it loads only the folder with tokenizer_config.json), but Triton "
                    "does, and fails to load it", f"fill them (lmi-wizard pbtxt fill {other.name}/config.pbtxt …) "
                    f"or remove {other.name}/ if only LMI serves this repository", path, "pbtxt")


# --------------------------------------------------------------------------------------------- tokenizer
def _tokenizer_checks(ctx: _Ctx, mdir: Path, layout: str) -> Optional[bool]:
    """Returns whether the tokenizer needs trust_remote_code (None: no tokenizer_config.json)."""
    from ..tokenizer import _auto_map_refs, _relative_imports, safe_name

    tc_path = mdir / "tokenizer_config.json"
    if not tc_path.exists():
        return None  # the layout finding reports it
    tc, err = _read_json(tc_path)
    if tc is None:
        ctx.add("error", "tokenizer-config-bad", f"tokenizer_config.json is not readable JSON ({err})",
                "download the tokenizer files again (lmi-wizard tokenizer)", tc_path, "tokenizer")
        tc = {}
    try:
        names = {p.name for p in mdir.iterdir()}
    except OSError:
        names = set()
    if not any(n in names for n in VOCAB_FILES) and not any(n.endswith((".tiktoken", ".model")) for n in names):
        ctx.add("warning", "tokenizer-vocab-missing",
                "no tokenizer vocabulary file (tokenizer.json, tokenizer.model, vocab.*, *.tiktoken) beside "
                "tokenizer_config.json", "download the tokenizer files (lmi-wizard tokenizer)", mdir, "tokenizer")
    needs = False
    sources = [("tokenizer_config.json", tc)]
    for extra in ("config.json", "hf_config.json"):
        p = mdir / extra
        if p.is_file():
            cfg, _ = _read_json(p)
            if cfg is not None and "build_config" not in cfg:
                sources.append((extra, cfg))
    wanted: dict[str, str] = {}
    for fname, obj in sources:
        amap = obj.get("auto_map")
        if not isinstance(amap, dict):
            continue
        for cls, value in amap.items():
            if fname != "tokenizer_config.json" and cls not in ("AutoTokenizer", "AutoConfig"):
                continue  # model code (AutoModel…) is not loaded for an engine
            for ref in _auto_map_refs(value):
                if cls == "AutoTokenizer" or fname == "tokenizer_config.json":
                    needs = True
                if "--" in ref:
                    repo, _, rest = ref.partition("--")
                    ctx.add("warning", "custom-code-remote",
                            f"{fname} auto_map {cls} loads code from another repository ({repo}) at load time",
                            "make sure the endpoint can reach the Hugging Face Hub, or copy that code here", mdir,
                            "tokenizer")
                    continue
                module = ref.rsplit(".", 1)[0]
                wanted.setdefault(module.replace(".", "/") + ".py", f"{fname} auto_map {cls}")
    # relative imports of the custom code files that are here
    seen = set()
    queue = list(wanted)
    while queue:
        py = queue.pop()
        if py in seen or len(seen) > 200:
            continue
        seen.add(py)
        p = mdir / py
        if p.is_file() and p.stat().st_size <= MAX_SMALL_DOWNLOAD[".py"]:
            try:
                src = p.read_bytes()
            except OSError:
                continue
            for mod in _relative_imports(src):
                dep = f"{mod}.py"
                if dep not in wanted:
                    wanted[dep] = f"imported by {py}"
                    queue.append(dep)
    for py, why in sorted(wanted.items()):
        if not safe_name(py.split("/")[-1]) or ".." in py.split("/"):
            ctx.add("error", "custom-code-unsafe", f"{why} names {py!r}, which is not a file name",
                    "fix auto_map in the tokenizer files", mdir, "tokenizer")
            continue
        if not (mdir / py).is_file():
            ctx.add("error", "custom-code-missing",
                    f"{py} is missing ({why}): the tokenizer ships custom code that LMI cannot load without it",
                    f"download {py} beside tokenizer_config.json (lmi-wizard tokenizer fetches it)", mdir / py,
                    "tokenizer")
    return needs


# --------------------------------------------------------------------------------------------- serving.properties
def _lmi_checks(ctx: _Ctx, props_path: Optional[Path], layout: str, facts: dict, needs_trust: Optional[bool],
                lmi_version: Optional[str], mdir: Path) -> None:
    from .. import lmi

    if props_path is None:
        ctx.add("info", "no-serving-properties",
                "no serving.properties here: TP and batch size are checked when LMI's configuration is known",
                "cross-check with `lmi-wizard lmi-config --engine-dir … --tp N`", None, "lmi")
        return
    props = _read_properties(props_path)
    info = facts.get("info")
    tp_raw = props.get("option.tensor_parallel_degree") or props.get("tensor_parallel_degree")
    if tp_raw is not None and tp_raw.strip().lower() == "max":
        ctx.add("warning", "properties-tp-max", "option.tensor_parallel_degree=max: LMI uses every GPU of the "
                "instance, which must equal the engine's TP", f"write the engine's TP ({getattr(info, 'tp', '?')})",
                props_path, "lmi")
        tp_raw = None
    trust_raw = props.get("option.trust_remote_code")
    if trust_raw is not None and trust_raw.strip().lower() != "true" and layout == "flat":
        ctx.add("warning", "properties-trust-false",
                f"option.trust_remote_code={trust_raw}: LMI 0.33+ passes it to TensorRT-LLM as a raw string, where "
                "any non-empty value reads as true", "remove the key when no custom code is needed", props_path, "lmi")
    model_id = props.get("option.model_id") or props.get("model_id") or (
        f"{CONTAINER_ROOT}" if layout == "flat" else f"{CONTAINER_ROOT}/")
    try:
        a = lmi.LmiAnswers(
            model_id=model_id, tp=tp_raw or (info.tp if info and info.tp else 1),
            pp=props.get("option.pipeline_parallel_degree") or (info.pp if info and info.pp else 1),
            max_rolling_batch_size=props.get("option.max_rolling_batch_size") or None,
            dtype=props.get("option.dtype") or (info.dtype if info and info.dtype else "fp16"),
            layout=layout, trust_remote_code=(trust_raw or "").strip().lower() == "true",
            engine_tp=info.tp if info else None, engine_pp=info.pp if info else None,
            engine_max_batch_size=info.max_batch_size if info else None,
            tokenizer_needs_trust=needs_trust, lmi_version=lmi_version, subfolder=mdir.name)
        found = lmi.check_answers(a)
    except WizardError as exc:
        ctx.add("error", "properties-invalid", f"serving.properties: {exc.problem}", exc.fix, props_path, "lmi")
        return
    # the fix, spelled for the file at hand (lmi.py's fixes name lmi-config's options)
    fixes = {
        "tp-mismatch": f"set option.tensor_parallel_degree={a.engine_tp}, or rebuild the engine with TP {a.tp}",
        "pp-mismatch": f"set option.pipeline_parallel_degree={a.engine_pp}",
        "batch-over-engine": f"set option.max_rolling_batch_size={a.engine_max_batch_size} or less, or rebuild with "
                             "a larger --max_batch_size",
        "trust-remote-code": "add option.trust_remote_code=true",
        "trust-not-needed": "remove option.trust_remote_code",
    }
    for f in found:
        if f.code.startswith("model-id") and "option.model_id" not in props:
            continue
        if f.code == "batch-unset":
            continue
        ctx.add(f.severity, f.code, f"serving.properties: {f.problem}", fixes.get(f.code, f.fix),
                props_path, "lmi")
