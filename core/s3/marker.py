"""An S3 folder (or a local destination folder) holds one model: the ownership marker ``.lmi-wizard-model.json``
that ``publish`` keeps there.

It records the model (its name and the source it was published from), the engine digest, the layout and
the times. It is written before the first file (``status: publishing`` — a claim) and completed after the
last (``status: complete``). A folder holding another model's files, or files not written by lmi-wizard,
is refused every time until ``force``; the same model (same name and source) continues a killed publish
and replaces its own older engine without ``force`` (the marker then records the new digest).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ..base.errors import Refused
from ..base.fsutil import MODEL_MARKER

MARKER_NAME = MODEL_MARKER  # ".lmi-wizard-model.json"
MAX_MARKER = 64 * 1024


@dataclass
class Owner:
    """Who publishes: ``name`` (the model), ``source`` (host:folder it is published from), ``digest`` (of the
    engine), ``layout``."""

    name: str
    source: str
    digest: str
    layout: str = ""
    extra: dict = field(default_factory=dict)

    def same_model(self, marker: dict) -> bool:
        return marker.get("model") == self.name and marker.get("source") == self.source

    def document(self, status: str, previous: Optional[dict] = None) -> dict:
        """The marker; ``previous``: this model's earlier marker (its claim time is kept)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        doc = {"tool": "lmi-wizard", "version": 1, "model": self.name, "source": self.source,
               "engine_digest": self.digest, "layout": self.layout, "status": status,
               "claimed": (previous or {}).get("claimed") or now, "updated": now}
        doc.update(self.extra)
        return doc


def _model_name(src: Path) -> str:
    for rel, keys in (("tokenizer_config.json", ("name_or_path", "_name_or_path")),
                      ("config.json", ("_name_or_path", "name_or_path"))):
        try:
            doc = json.loads((src / rel).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            for k in keys:
                v = doc.get(k)
                if isinstance(v, str) and v.strip():
                    return v.strip()
    return src.name


def engine_digest(files) -> str:
    """A digest of the engine: names, sizes and modification times of the engine files and the
    ``config.json`` files (cheap: a rebuild changes it, a re-run does not). ``files``: LocalFile items."""
    h = hashlib.sha256()
    chosen = [f for f in files if f.rel.endswith(".engine") or f.rel.rsplit("/", 1)[-1] == "config.json"] or list(files)
    for f in sorted(chosen, key=lambda f: f.rel):
        h.update(f"{f.rel}\0{f.size}\0{f.mtime_ns or int(f.mtime * 1e9)}\n".encode("utf-8", "surrogatepass"))
    return "sha256:" + h.hexdigest()


def owner_for(src: "str | os.PathLike", files, *, layout: str = "", name: Optional[str] = None) -> Owner:
    """The owner a publish of ``src`` claims: model name (``name``, else the tokenizer's/config's
    ``name_or_path``, else the folder's name), host:absolute folder, engine digest."""
    src = Path(os.path.abspath(src))
    return Owner(name or _model_name(src), f"{socket.gethostname()}:{src}", engine_digest(files), layout)


def parse_marker(body: bytes) -> Optional[dict]:
    try:
        doc = json.loads(body[:MAX_MARKER].decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) and doc.get("tool") == "lmi-wizard" else None


def describe(marker: dict) -> str:
    """One line: who owns the folder."""
    state = "complete" if marker.get("status") == "complete" else "publish in progress or interrupted"
    return (f"model {marker.get('model')!r} from {marker.get('source')} ({marker.get('layout') or '?'} layout, "
            f"engine {str(marker.get('engine_digest', ''))[:19]}…, {state}, updated {marker.get('updated')})")


def ownership(where: str, owner: Owner, marker: Optional[dict], marker_present: bool, others: list[str], *,
              force: bool) -> str:
    """What a publish may do at ``where``: ``"new"`` (empty), ``"same"`` (our model), ``"forced"``.
    Raises :class:`~core.base.errors.Refused` (a WizardError) for a folder owned by another model or holding files not written by lmi-wizard."""
    if marker is not None and owner.same_model(marker):
        return "same"
    if marker is None and not others and not marker_present:
        return "new"
    if force:
        return "forced"
    if marker is not None:
        raise Refused(f"{where} holds another model: {describe(marker)}",
                          "publish to another folder, or replace that model with --force")
    shown = ", ".join(sorted(others)[:3]) + (" …" if len(others) > 3 else "")
    what = f"{len(others)} file(s) not written by lmi-wizard ({shown})" if others else \
        f"an unreadable {MARKER_NAME}"
    raise Refused(f"{where} holds {what}", "publish to an empty folder, or publish over them with --force")
