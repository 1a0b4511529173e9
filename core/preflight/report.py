"""The preflight's report: :class:`CheckReport` of :class:`~..base.findings.Finding` s (grouped), its limits
and constants, and the small shared helpers every check uses (:class:`_Ctx` adds findings once each)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..base.findings import Finding

SEVERITIES = ("error", "warning", "info")
GROUPS = ("layout", "engine", "version", "gpu", "pbtxt", "tokenizer", "lmi", "files")
GROUP_TITLES = {"layout": "Layout (what LMI looks for)", "engine": "Engine folder", "version": "Engine version",
                "gpu": "GPU architecture", "pbtxt": "config.pbtxt", "tokenizer": "Tokenizer",
                "lmi": "LMI configuration (serving.properties)", "files": "Files"}
MAX_PBTXT_BYTES = 4 * 1024 * 1024  # real config.pbtxt files are ~10 KB; beyond this it is not one
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_SMALL_DOWNLOAD = {".json": MAX_JSON_BYTES, ".pbtxt": MAX_PBTXT_BYTES, ".properties": 1024 * 1024,
                      ".py": 1024 * 1024}
MAX_OBJECTS = 100_000
VOCAB_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model", "merges.txt",
               "sentencepiece.bpe.model", "qwen.tiktoken", "tokenizer.tiktoken")
CONTAINER_ROOT = "/opt/ml/model"


# --------------------------------------------------------------------------------------------- data
def _finding_json(f: Finding) -> dict:
    """check's --json keys (severity/code/message/fix/path/group), ``path`` even when None."""
    return f.to_json() | {"path": f.path, "group": f.group}


@dataclass
class CheckReport:
    target: str
    layout: Optional[str]
    findings: list[Finding] = field(default_factory=list)
    model_id: Optional[str] = None
    model_dir: Optional[str] = None  # the folder holding config.pbtxt (triton) / the engines (flat)
    engine_dir: Optional[str] = None
    lmi: Optional[dict] = None  # the LMI target used for the layout / version rules
    downloaded: list[str] = field(default_factory=list)  # s3: keys fetched (small files only)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict:
        return {"target": self.target, "layout": self.layout, "model_id": self.model_id,
                "model_dir": self.model_dir, "engine_dir": self.engine_dir, "lmi": self.lmi,
                "findings": [_finding_json(f) for f in self.findings], "ok": self.ok,
                "errors": len(self.errors), "warnings": len(self.warnings), "downloaded": self.downloaded}


# --------------------------------------------------------------------------------------------- helpers
def _read_json(path: Path, limit: int = MAX_JSON_BYTES) -> tuple[Optional[dict], Optional[str]]:
    try:
        if path.stat().st_size > limit:
            return None, f"larger than {limit // (1024 * 1024)} MiB"
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, str(exc)[:200]
    if not isinstance(data, dict):
        return None, "not a JSON object"
    return data, None


def _read_properties(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith(("#", "!")):
            continue
        m = re.match(r"^([^=:\s]+)\s*[=:]\s*(.*)$", s)
        if m:
            out[m.group(1).strip()] = m.group(2).strip()
    return out


def _version_public(text: str):
    from ..facts.versions import try_parse_version

    v = try_parse_version(text)
    return v


class _Ctx:
    """Collects findings; maps local paths (of the S3 mirror) back to what the user named."""

    def __init__(self, report: CheckReport, root: Path, shown_root: str):
        self.report = report
        self.root = root
        self.shown_root = shown_root.rstrip("/") if shown_root != "/" else shown_root
        self._seen: set[tuple[str, str, Optional[str]]] = set()

    def show(self, p: "Path | str | None") -> Optional[str]:
        if p is None:
            return None
        p = Path(p)
        try:
            rel = p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)
        if rel == ".":
            return self.shown_root + ("/" if self.shown_root.startswith("s3://") else "")
        return f"{self.shown_root}/{rel}"

    def text(self, s: Optional[str]) -> Optional[str]:
        if s is None:
            return None
        root = str(self.root)
        if self.shown_root != root and root in s:
            s = s.replace(root, self.shown_root)
        return s

    def add(self, severity: str, code: str, message: str, fix: Optional[str] = None, path=None,
            group: str = "files") -> None:
        shown = self.show(path) if not isinstance(path, str) or not path.startswith("s3://") else path
        key = (code, self.text(message) or "", shown)
        if key in self._seen:
            return
        self._seen.add(key)
        self.report.findings.append(Finding(severity, code, self.text(message) or "", self.text(fix),
                                            path=shown, group=group))

    def has(self, *codes: str) -> bool:
        return any(f.code in codes for f in self.report.findings)
