"""Constants, data and small helpers of the tokenizer step (see the package docstring)."""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import json
import os
import re

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from ..base.errors import WizardError


LAYOUTS = ("triton", "flat")
BASE_PATTERNS = ("*.json", "*.txt", "*.model")  # the tutorial's build_tokenizer.py
WIDENED_PATTERNS = {
    "*.tiktoken": "tiktoken vocabulary (Qwen-style tokenizers load it by name)",
    "*.spm": "SentencePiece model under another suffix",
}
WEIGHT_SUFFIXES = (".bin", ".safetensors", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".ckpt", ".onnx",
                   ".ot", ".tflite", ".npz")
MAX_META_BYTES = 4 * 1024 * 1024  # tokenizer_config.json / config.json / *.py read for planning
STEP = "tokenizer"
STAGING_PREFIX = ".lmi-wizard-staging-"  # where versions before 0.x staged: inside dest_dir (cleaned when seen)
# staging now lives BESIDE dest_dir (same file system, so the final moves are renames), never inside the model
# folder: a killed download's partial file is never in what publish uploads. Named by fsutil.temp_name, so
# publish and check recognise it (fsutil.is_our_temp), with the pid of the wizard that owns it.
STAGING_KIND = "staging"


# --------------------------------------------------------------------------------------------- data
@dataclass
class PlannedFile:
    path: str  # name in the source (repo path or file in the local folder)
    dest: str  # name in the destination folder
    size: Optional[int]
    reason: str  # why it is taken ("tutorial pattern *.json", "auto_map AutoTokenizer", …)
    status: str = "new"  # new | changed | unchanged
    symlink: bool = False  # local source: a symlink, copied as content


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class TokenizerPlan:
    source: str
    kind: str  # "hub" | "local"
    dest_dir: str
    layout: str
    revision: Optional[str]
    commit: Optional[str]
    files: list[PlannedFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    patterns: list[dict] = field(default_factory=list)  # [{pattern, reason}] base + widened, explained
    trust_remote_code: bool = False
    trust_reason: str = ""
    patches: list[str] = field(default_factory=list)  # edits made to downloaded files (flat layout)
    warnings: list[str] = field(default_factory=list)
    endpoint: Optional[str] = None
    # contents already read while planning (tokenizer_config.json, config.json, *.py): not serialised
    _contents: dict = field(default_factory=dict, repr=False)

    @property
    def total_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_contents", None)
        d["total_bytes"] = self.total_bytes
        return d


@dataclass
class TokenizerResult:
    plan: TokenizerPlan
    written: list[str]  # destination names written
    unchanged: list[str]  # destination names already identical
    bytes: int
    trust_remote_code: bool
    dest_dir: str
    skipped: list[SkippedFile] = field(default_factory=list)  # files the fetch could not write (name too long)

    def to_dict(self) -> dict:
        return {"dest_dir": self.dest_dir, "written": self.written, "unchanged": self.unchanged,
                "skipped": [asdict(s) for s in self.skipped],
                "bytes": self.bytes, "trust_remote_code": self.trust_remote_code, "plan": self.plan.to_dict()}


# --------------------------------------------------------------------------------------------- helpers
def safe_name(name: str) -> bool:
    """A plain file name at the folder root: no separators, no ``..``, not absolute, no NUL."""
    if not name or name in (".", "..") or "\0" in name:
        return False
    if "/" in name or "\\" in name or name.startswith(("~",)):
        return False
    if os.path.isabs(name) or re.match(r"^[A-Za-z]:", name):
        return False
    return True


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing anything that would land outside ``folder``."""
    if not safe_name(name):
        raise WizardError(f"refusing unsafe file name {name!r}", "the source lists a file outside its folder")
    target = (folder / name)
    if os.path.commonpath([os.path.abspath(target), os.path.abspath(folder)]) != os.path.abspath(folder):
        raise WizardError(f"refusing unsafe file name {name!r}", "the source lists a file outside its folder")
    return target


def is_weight(name: str) -> bool:
    low = name.lower()
    return low.endswith(WEIGHT_SUFFIXES)


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _load_json(data: bytes | None, what: str, warnings: list[str]) -> dict:
    if data is None:
        return {}
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        warnings.append(f"{what} is not valid JSON ({exc}); its auto_map is ignored")
        return {}
    return obj if isinstance(obj, dict) else {}


def has_build_config(config_path: Path) -> bool:
    """True if ``config_path`` is an engine config (a JSON object with top-level ``build_config``)."""
    try:
        if config_path.is_file() and config_path.stat().st_size <= MAX_META_BYTES:
            obj = json.loads(config_path.read_text("utf-8"))
            return isinstance(obj, dict) and "build_config" in obj
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return False


def _auto_map_refs(value) -> list[str]:
    """``auto_map`` values: "mod.Class", ["mod.Class", None] or "other/repo--mod.Class"."""
    refs = value if isinstance(value, (list, tuple)) else [value]
    return [r for r in refs if isinstance(r, str) and r]


def _relative_imports(source: bytes) -> list[str]:
    """Modules a custom-code file imports relatively (``from .x import y`` / ``from . import x``)."""
    try:
        tree = ast.parse(source.decode("utf-8", "replace"))
    except SyntaxError:
        text = source.decode("utf-8", "replace")
        return re.findall(r"^\s*from\s+\.(\w+)\s+import", text, flags=re.M)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.append(node.module.split(".")[0])
            else:
                out.extend(a.name for a in node.names)
    return out


EXTRA_REASON = "extra pattern (tokenizer.extra_patterns)"
PATTERN_FIX = "give glob patterns of file names at the folder root, e.g. *.py or README.md"


def pattern_problem(pattern: str) -> Optional[str]:
    """Why ``pattern`` cannot be an extra tokenizer file pattern (None: it can). Files are taken from the folder
    root only, so a pattern naming a sub-folder would never match."""
    if not isinstance(pattern, str) or not pattern.strip():
        return f"extra tokenizer pattern {pattern!r} is empty"
    if "/" in pattern or "\\" in pattern:
        return f"extra tokenizer pattern {pattern!r} names a sub-folder; only files at the folder root are fetched"
    return None


def _match_reason(name: str, extra_patterns: Sequence[str] = ()) -> Optional[str]:
    for pat in BASE_PATTERNS:
        if fnmatch.fnmatchcase(name, pat):
            return f"tutorial pattern {pat}"
    for pat, why in WIDENED_PATTERNS.items():
        if fnmatch.fnmatchcase(name, pat):
            return f"{pat}: {why}"
    for pat in extra_patterns:
        if fnmatch.fnmatchcase(name, pat):
            return f"{pat}: {EXTRA_REASON}"
    return None


def looks_like_repo_id(text: str) -> bool:
    from ..models import is_hf_id

    return is_hf_id(text)


def _patched_tokenizer_config(data: bytes, hf_cfg: dict) -> bytes:
    obj = json.loads(data.decode("utf-8"))
    if hf_cfg.get("tokenizer_class") and not obj.get("tokenizer_class"):
        obj["tokenizer_class"] = hf_cfg["tokenizer_class"]
    amap = hf_cfg.get("auto_map") if isinstance(hf_cfg.get("auto_map"), dict) else {}
    if amap.get("AutoTokenizer"):
        obj.setdefault("auto_map", {})
        if isinstance(obj["auto_map"], dict):
            obj["auto_map"].setdefault("AutoTokenizer", amap["AutoTokenizer"])
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
