"""Decide which tokenizer files to fetch and why, without writing anything."""

from __future__ import annotations

import hashlib
import os
import re

from pathlib import Path
from typing import Optional, Sequence

from ..base.errors import WizardError
from ..base.progress import CancelToken, ProgressFn, emit
from .common import (
    _auto_map_refs, BASE_PATTERNS, EXTRA_REASON, _git_blob_sha1, has_build_config, is_weight, LAYOUTS,
    _load_json, looks_like_repo_id, _match_reason, MAX_META_BYTES, _patched_tokenizer_config, PATTERN_FIX,
    pattern_problem, PlannedFile, _relative_imports, safe_name, SkippedFile, STEP, TokenizerPlan,
    WIDENED_PATTERNS)
from .sources import _HubSource, _LocalSource, _Source


# --------------------------------------------------------------------------------------------- plan
def _check_dest(dest: Path) -> None:
    """The destination is a folder, or can become one: not a file, and no file on the way to it."""
    if dest.exists() and not dest.is_dir():
        raise WizardError(f"{dest} is a file, not a folder", "give the folder the tokenizer files go to")
    for parent in dest.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WizardError(f"{parent} is a file, so {dest} cannot be created",
                                  "give a folder path that does not go through a file")
            break


def plan_tokenizer(source: str, dest_dir: str | os.PathLike, *, layout: str = "triton",
                   revision: Optional[str] = None, endpoint: Optional[str] = None, token=None,
                   extra_patterns: Sequence[str] = (),
                   progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> TokenizerPlan:
    """Decide which files to fetch and why, without writing into ``dest_dir``.

    ``extra_patterns``: more glob patterns (``fnmatch``, over the names at the folder root) whose files are
    fetched too (the wizard's ``tokenizer.extra_patterns``); weights never are, whatever the pattern.

    ``source`` is a local folder or a Hub repo id (``owner/name``). For a Hub repo this reads the file list
    and the small files that decide the widening (``tokenizer_config.json``, ``config.json``, custom-code
    ``*.py``); nothing else is downloaded."""
    if layout not in LAYOUTS:
        raise WizardError(f"unknown layout {layout!r}", "use --layout triton (LMI 0.25–0.32) or flat (LMI 0.33+)")
    if not str(source or "").strip():
        raise WizardError("no tokenizer source given",
                          "give a local folder or a Hub repo id (owner/name, e.g. baichuan-inc/Baichuan-13B-Chat)")
    if not str(dest_dir or "").strip():
        raise WizardError("no destination folder given", "give the folder the tokenizer files go to, e.g. "
                          "triton_model_repo/tensorrt_llm/")
    dest = Path(dest_dir).expanduser()
    _check_dest(dest)
    if endpoint is not None and not re.match(r"^https?://[^/\s]+", str(endpoint)):
        raise WizardError(f"Hub endpoint {endpoint!r} is not an http(s) URL",
                          "give e.g. --endpoint https://huggingface.co (or leave it out)")
    src_path = Path(os.path.expanduser(str(source)))
    if src_path.is_dir():
        src: _Source = _LocalSource(src_path.resolve())
        kind = "local"
        if dest.exists() and src_path.resolve() == dest.resolve():
            raise WizardError("the source folder and the destination are the same folder",
                              "give the folder the tokenizer files come from, or a Hub repo id")
    elif src_path.exists():
        raise WizardError(f"{source} is a file, not a folder or a Hub repo id",
                          "give the folder that holds tokenizer_config.json, or owner/name of a Hub repo")
    elif looks_like_repo_id(str(source)):
        emit(progress, STEP, f"listing {source} on the Hub")
        src = _HubSource(str(source), revision, endpoint, token)
        kind = "hub"
    else:
        raise WizardError(f"{source}: no such folder, and not a Hub repo id",
                          "give a local folder or owner/name (e.g. baichuan-inc/Baichuan-13B-Chat)")
    extra = list(dict.fromkeys(extra_patterns or ()))
    for pat in extra:
        bad = pattern_problem(pat)
        if bad:
            raise WizardError(bad, PATTERN_FIX)
    try:
        return _plan(src, kind, str(source), dest, layout, revision, endpoint, progress, cancel, extra)
    finally:
        if isinstance(src, _HubSource):
            src.close()


def _name_max(dest: Path) -> int:
    """The longest file name (bytes) the file system of ``dest`` (or its nearest existing parent) holds."""
    for p in (dest, *dest.parents):
        try:
            if p.is_dir():
                return int(os.pathconf(p, "PC_NAME_MAX"))
        except (OSError, ValueError):
            break
    return 255


def _skipped(name: str, extra: dict, name_max: int, dest: Path) -> Optional[SkippedFile]:
    """Why a listed entry cannot be a tokenizer file, or None when it can."""
    if not safe_name(name):
        return SkippedFile(name, "unsafe file name (outside the folder): refused")
    if extra.get("dir"):
        return SkippedFile(name + "/", "sub-folder: the tokenizer reads only the folder root")
    if extra.get("dangling"):
        return SkippedFile(name, "broken symlink")
    if extra.get("special"):
        return SkippedFile(name, "not a regular file (pipe, device or socket)")
    length = len(name.encode("utf-8", "surrogateescape"))
    if length > name_max:
        return SkippedFile(name, f"file name is {length} bytes; the file system of {dest} holds names up to {name_max}")
    return None


def _usable_names(plan: TokenizerPlan, listing, dest: Path) -> dict[str, tuple]:
    """The listing's files that can be fetched (name -> (size, extra)); the others go to ``plan.skipped``."""
    name_max = _name_max(dest)
    names = {}
    for name, size, extra in listing:
        skipped = _skipped(name, extra, name_max, dest)
        if skipped is None:
            names[name] = (size, extra)
        else:
            plan.skipped.append(skipped)
    return names


class _Reader:
    """Reads the small files that decide the plan once each, keeping them in ``plan._contents``."""

    def __init__(self, plan: TokenizerPlan, src: _Source, names: dict, cancel: CancelToken | None) -> None:
        self.plan, self.src, self.names, self.cancel = plan, src, names, cancel

    def __call__(self, name: str) -> Optional[bytes]:
        if name not in self.names:
            return None
        size = self.names[name][0]
        if size is not None and size > MAX_META_BYTES:
            self.plan.warnings.append(f"{name} is {size} bytes; too large to inspect")
            return None
        if self.cancel is not None:
            self.cancel.raise_if_cancelled("tokenizer plan")
        if name not in self.plan._contents:
            self.plan._contents[name] = self.src.read(name)
        return self.plan._contents[name]


def _auto_map(cfg: dict) -> dict:
    return cfg.get("auto_map") if isinstance(cfg.get("auto_map"), dict) else {}


def _auto_map_code(tok_map: dict, cfg_map: dict, names: dict, warnings: list[str]) -> tuple[dict[str, str], list[str]]:
    """The custom-code files auto_map names (file -> reason), and its references into other repositories."""
    code: dict[str, str] = {}
    remote_refs: list[str] = []
    wanted = [("tokenizer_config.json", k, v) for k, v in tok_map.items() if k in ("AutoTokenizer", "AutoConfig")]
    wanted += [("config.json", k, v) for k, v in cfg_map.items() if k in ("AutoTokenizer", "AutoConfig")]
    for origin, key, value in wanted:
        for ref in _auto_map_refs(value):
            if "--" in ref:
                remote_refs.append(f"{origin} auto_map {key} → {ref}")
                continue
            fname = ref.rsplit(".", 1)[0].replace(".", "/") + ".py"
            if fname not in names:
                warnings.append(f"{origin} auto_map {key} names {ref}, but {fname} is not in the source")
                continue
            code.setdefault(fname, f"auto_map {key} in {origin} ({ref})")
    return code, remote_refs


def _add_relative_imports(code: dict[str, str], names: dict, read: _Reader) -> None:
    """Adds to ``code`` the modules its files import relatively, transitively."""
    todo = list(code)
    while todo:
        fname = todo.pop()
        data = read(fname)
        if data is None:
            continue
        for mod in _relative_imports(data):
            dep = mod + ".py"
            if dep in names and dep not in code:
                code[dep] = f"imported by {fname}"
                todo.append(dep)


def _trust_reasons(tok_cfg: dict, tok_map: dict, cfg_map: dict, layout: str) -> list[str]:
    """Why LMI needs option.trust_remote_code=true to load this tokenizer (empty: it does not)."""
    tokenizer_code = tok_map.get("AutoTokenizer") or cfg_map.get("AutoTokenizer")
    if tokenizer_code:
        src_name = "tokenizer_config.json" if tok_map.get("AutoTokenizer") else "config.json"
        return [f"the tokenizer is custom code ({src_name} auto_map AutoTokenizer → "
                f"{', '.join(_auto_map_refs(tokenizer_code))})"]
    if not tok_cfg.get("tokenizer_class") and cfg_map.get("AutoConfig") and layout == "triton":
        return ["tokenizer_config.json names no tokenizer_class, so AutoTokenizer loads the "
                f"custom config class {cfg_map['AutoConfig']}"]
    return []


def _plan_custom_code(plan: TokenizerPlan, tok_cfg: dict, hf_cfg: dict, names: dict, read: _Reader) -> dict[str, str]:
    """Custom code named by auto_map and what it imports (file -> reason); sets trust_remote_code when needed."""
    tok_map, cfg_map = _auto_map(tok_cfg), _auto_map(hf_cfg)
    code, remote_refs = _auto_map_code(tok_map, cfg_map, names, plan.warnings)
    _add_relative_imports(code, names, read)
    trust_reasons = _trust_reasons(tok_cfg, tok_map, cfg_map, plan.layout)
    if remote_refs:
        plan.warnings.append("auto_map points at code in another repository (" + "; ".join(remote_refs) + "); "
                             "LMI would download it at load time — copy that code into this folder or make "
                             "sure the endpoint can reach the Hub")
    if trust_reasons:
        plan.trust_remote_code = True
        plan.trust_reason = "; ".join(trust_reasons)
        plan.patterns.append({"pattern": ", ".join(sorted(code)) or "(auto_map)",
                              "reason": "custom tokenizer code named by auto_map: LMI needs "
                                        "option.trust_remote_code=true"})
    elif code:
        plan.patterns.append({"pattern": ", ".join(sorted(code)), "reason": "custom code named by auto_map"})
    return code


def _choose_files(plan: TokenizerPlan, names: dict, code: dict[str, str], extra_patterns: Sequence[str],
                  dest: Path, engine_cfg_here: bool) -> None:
    """Each usable file is either planned (with its destination name and reason) or skipped with why."""
    for name in sorted(names):
        size, extra = names[name]
        if is_weight(name):
            plan.skipped.append(SkippedFile(name, "weights: never needed beside a compiled engine"))
            continue
        reason = code.get(name) or _match_reason(name, extra_patterns)
        if reason is None:
            plan.skipped.append(SkippedFile(name, "not part of the tokenizer"))
            continue
        dest_name = name
        if name == "config.json" and (plan.layout == "flat" or engine_cfg_here):
            why = ("flat layout: config.json is the engine's (its build_config is how LMI 0.33 "
                   "recognises a prebuilt model)" if plan.layout == "flat" else
                   f"{dest / 'config.json'} is an engine config (build_config); it is never replaced")
            dest_name = "hf_config.json"
            reason = f"HF config kept for reference as hf_config.json — {why}"
        plan.files.append(PlannedFile(name, dest_name, size, reason, symlink=bool(extra.get("symlink"))))


def _plan_flat_patch(plan: TokenizerPlan, tok_cfg: dict, hf_cfg: dict) -> None:
    """Flat layout: AutoTokenizer must not need config.json (the engine's): patch tokenizer_config.json or warn."""
    cls = hf_cfg.get("tokenizer_class")
    cfg_auto = _auto_map(hf_cfg).get("AutoTokenizer")
    if cls or cfg_auto:
        parts = []
        if cls:
            parts.append(f'"tokenizer_class": "{cls}"')
        if cfg_auto:
            parts.append('"auto_map": {"AutoTokenizer": …} from config.json')
        plan.patches.append("tokenizer_config.json: add " + " and ".join(parts) + " (AutoTokenizer would "
                            "otherwise read the engine's config.json, which has no model_type)")
    else:
        plan.warnings.append("tokenizer_config.json names no tokenizer_class; in the flat layout "
                             "AutoTokenizer would read the engine's config.json (no model_type) and fail — "
                             "fix: add \"tokenizer_class\" (e.g. \"LlamaTokenizerFast\") to "
                             "tokenizer_config.json")


def _layout_warnings(plan: TokenizerPlan, dest: Path, engine_cfg_here: bool) -> None:
    if plan.layout == "triton" and engine_cfg_here:
        plan.warnings.append(f"{dest} holds an engine config.json: with the triton layout the tokenizer goes in "
                             "tensorrt_llm/ and the engines in tensorrt_llm/1/")
    if plan.layout == "flat" and not engine_cfg_here:
        plan.warnings.append(f"{dest / 'config.json'} with build_config not found yet: the flat layout needs the "
                             "engines (and their config.json) in this folder before upload")


def _same_content(plan: TokenizerPlan, f: PlannedFile, data: bytes, extra: dict, patched: bool,
                  src: _Source, hf_cfg: dict) -> bool:
    """Whether ``data`` (the file at the destination) is what fetching ``f`` would write."""
    if patched and f.path in plan._contents:
        try:
            return _patched_tokenizer_config(plan._contents[f.path], hf_cfg) == data
        except (UnicodeDecodeError, ValueError):
            return False
    if f.path in plan._contents:
        return plan._contents[f.path] == data
    if extra.get("sha256"):
        return hashlib.sha256(data).hexdigest() == extra["sha256"]
    if extra.get("blob_id"):
        return _git_blob_sha1(data) == extra["blob_id"]
    if plan.kind == "local":
        try:
            return src.read(f.path) == data
        except WizardError:
            return False
    return False


def _file_status(plan: TokenizerPlan, f: PlannedFile, names: dict, dest: Path, src: _Source, hf_cfg: dict) -> str:
    """new / changed / unchanged: the planned file against what the destination holds already."""
    target = dest / f.dest
    if not target.is_file() or target.is_symlink():
        return "new" if not target.exists() else "changed"
    size, extra = names[f.path]
    patched = f.dest == "tokenizer_config.json" and bool(plan.patches)
    try:
        if size is not None and not patched and target.stat().st_size != size:
            return "changed"
        data = target.read_bytes()
    except OSError:
        return "changed"
    return "unchanged" if _same_content(plan, f, data, extra, patched, src, hf_cfg) else "changed"


def _plan(src: _Source, kind: str, source: str, dest: Path, layout: str, revision, endpoint,
          progress, cancel, extra_patterns: Sequence[str] = ()) -> TokenizerPlan:
    plan = TokenizerPlan(source=source, kind=kind, dest_dir=str(dest), layout=layout,
                         revision=revision if kind == "hub" else None, commit=src.commit,
                         endpoint=endpoint if kind == "hub" else None)
    plan.patterns = [{"pattern": p, "reason": "the tutorial's build_tokenizer.py"} for p in BASE_PATTERNS]
    plan.patterns += [{"pattern": p, "reason": why} for p, why in WIDENED_PATTERNS.items()]
    plan.patterns += [{"pattern": p, "reason": EXTRA_REASON} for p in extra_patterns]
    names = _usable_names(plan, src.listing(), dest)
    read = _Reader(plan, src, names, cancel)
    tok_cfg = _load_json(read("tokenizer_config.json"), "tokenizer_config.json", plan.warnings)
    hf_cfg = _load_json(read("config.json"), "config.json", plan.warnings)
    if "tokenizer_config.json" not in names:
        plan.warnings.append("no tokenizer_config.json in the source: LMI will not take the folder as a "
                             "prebuilt TensorRT-LLM model (it looks for it beside config.pbtxt / the engines)")
    code = _plan_custom_code(plan, tok_cfg, hf_cfg, names, read)
    engine_cfg_here = has_build_config(dest / "config.json")
    _choose_files(plan, names, code, extra_patterns, dest, engine_cfg_here)
    if layout == "flat" and "tokenizer_config.json" in names and not tok_cfg.get("tokenizer_class"):
        _plan_flat_patch(plan, tok_cfg, hf_cfg)
    _layout_warnings(plan, dest, engine_cfg_here)
    for f in plan.files:
        f.status = _file_status(plan, f, names, dest, src, hf_cfg)
    emit(progress, STEP, f"plan: {len(plan.files)} files, {len(plan.skipped)} skipped",
         done=0, total=len(plan.files), unit="files")
    return plan
