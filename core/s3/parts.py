"""Multipart uploads that resume by part.

* Part size like ``aws s3`` (s3transfer's rule): 8 MiB, doubled only while the file would need more than
  10,000 parts.
* What a resume needs is kept locally (:class:`StateStore`, one small JSON file per object, written
  atomically): the upload id, the part size, the file's size and modification time, and the ETag of each
  part sent. A re-run finds the pending upload of the key (``ListMultipartUploads``), keeps the parts that
  are stored with the right size and the MD5 of the local byte range (``ListParts``; the recorded ETags
  spare the hashing), sends the others and completes. Only an upload that cannot match the local file (its
  size or modification time changed, or its parts have another size) is aborted. Without the local record
  (another machine, a wiped cache) the pending upload is still found and its parts verified by hashing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

MiB = 1024 * 1024
BASE_PART = 8 * MiB
MAX_PARTS = 10_000
MAX_PART = 5 * 1024 * MiB
STATE_ENV = "LMI_WIZARD_STATE_DIR"


def part_size_for(size: int, base: int = BASE_PART) -> int:
    """``aws s3``'s part size for a file of ``size`` bytes: ``base``, doubled while it needs > 10,000 parts."""
    ps = base
    while ps < MAX_PART and -(-size // ps) > MAX_PARTS:
        ps *= 2
    return min(ps, MAX_PART)


def part_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, offset, length) of every part; a 0-byte file has one empty part."""
    if size == 0:
        return [(1, 0, 0)]
    return [(i // part_size + 1, i, min(part_size, size - i)) for i in range(0, size, part_size)]


def multipart_etag(path: Path, size: int, part_size: int) -> str:
    """The ETag S3 gives an object uploaded in parts of ``part_size``: MD5 of the parts' MD5s, "-n"."""
    digests = []
    with open(path, "rb") as fh:
        for _n, _off, length in part_ranges(size, part_size):
            md5 = hashlib.md5(usedforsecurity=False)
            left = length
            while left > 0:
                chunk = fh.read(min(left, MiB))
                if not chunk:
                    break
                md5.update(chunk)
                left -= len(chunk)
            digests.append(md5.digest())
    return hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest() + f"-{len(digests)}"


# --------------------------------------------------------------------------- the local record
@dataclass
class UploadState:
    endpoint: str
    bucket: str
    key: str
    upload_id: str
    part_size: int
    size: int
    mtime_ns: int
    parts: dict = field(default_factory=dict)  # part number (int) → ETag sent
    crc32: dict = field(default_factory=dict)  # part number (int) → its CRC32 checksum (base64), for completing

    def to_json(self) -> dict:
        return {"version": 1, "endpoint": self.endpoint, "bucket": self.bucket, "key": self.key,
                "upload_id": self.upload_id, "part_size": self.part_size, "size": self.size,
                "mtime_ns": self.mtime_ns, "parts": {str(k): v for k, v in sorted(self.parts.items())},
                "crc32": {str(k): v for k, v in sorted(self.crc32.items())}}

    @classmethod
    def from_json(cls, doc: dict) -> "UploadState":
        return cls(str(doc["endpoint"]), str(doc["bucket"]), str(doc["key"]), str(doc["upload_id"]),
                   int(doc["part_size"]), int(doc["size"]), int(doc["mtime_ns"]),
                   {int(k): str(v) for k, v in (doc.get("parts") or {}).items()},
                   {int(k): str(v) for k, v in (doc.get("crc32") or {}).items()})


def default_state_dir() -> Path:
    """``LMI_WIZARD_STATE_DIR``, else ``$XDG_STATE_HOME/lmi-wizard/uploads`` (``~/.local/state/…``)."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "lmi-wizard" / "uploads"


class StateStore:
    """One JSON file per (endpoint, bucket, key), written atomically. Best effort: a folder that cannot be
    written only makes the next resume verify by hashing instead of by the record."""

    def __init__(self, root: "Optional[os.PathLike | str]"):
        self.root = Path(root) if root is not None else None
        self._lock = threading.Lock()

    def _path(self, endpoint: str, bucket: str, key: str) -> Optional[Path]:
        if self.root is None:
            return None
        h = hashlib.sha256(f"{endpoint}\0{bucket}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return self.root / f"{h}.json"

    def load(self, endpoint: str, bucket: str, key: str) -> Optional[UploadState]:
        p = self._path(endpoint, bucket, key)
        if p is None:
            return None
        try:
            st = UploadState.from_json(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return st if (st.endpoint, st.bucket, st.key) == (endpoint, bucket, key) else None

    def save(self, st: UploadState, doc: Optional[dict] = None) -> None:
        """Write ``st`` (or ``doc``, a snapshot of it taken under the caller's lock) atomically."""
        p = self._path(st.endpoint, st.bucket, st.key)
        if p is None:
            return
        if doc is None:
            doc = st.to_json()
        with self._lock:
            data = json.dumps(doc, separators=(",", ":")).encode()
            tmp = p.with_name(f".{p.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, p)
            except OSError:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def drop(self, endpoint: str, bucket: str, key: str) -> None:
        p = self._path(endpoint, bucket, key)
        if p is not None:
            try:
                p.unlink()
            except OSError:
                pass


# --------------------------------------------------------------------------- pending uploads
def pending_uploads(client, bucket: str, prefix: str) -> dict[str, list[str]]:
    """Key → upload ids of the unfinished multipart uploads under ``prefix`` (oldest first). Empty when
    the listing is not allowed (s3:ListBucketMultipartUploads): the upload then starts afresh."""
    out: dict[str, list[tuple]] = {}
    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix):
            for up in page.get("Uploads", []) or []:
                out.setdefault(up["Key"], []).append((up.get("Initiated"), up["UploadId"]))
    except Exception:  # noqa: BLE001 — a missing permission must not stop the upload
        return {}
    return {k: [u for _t, u in sorted(v, key=lambda x: (str(x[0]), x[1]))] for k, v in out.items()}


def list_parts(client, bucket: str, key: str, upload_id: str) -> dict[int, tuple[int, str, str]]:
    """Part number → (size, ETag, CRC32 checksum or "") of the parts stored for an upload."""
    out: dict[int, tuple[int, str, str]] = {}
    for page in client.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
        for p in page.get("Parts", []) or []:
            out[int(p["PartNumber"])] = (int(p["Size"]), str(p.get("ETag", "")).strip('"'),
                                         str(p.get("ChecksumCRC32") or ""))
    return out


@dataclass
class Resume:
    """What the upload of one large file starts from."""

    upload_id: Optional[str] = None  # None: start a new multipart upload
    stored: dict = field(default_factory=dict)  # part number → (size, ETag, CRC32) already at S3
    known: dict = field(default_factory=dict)  # part number → ETag this machine sent for the same file
    crc32: dict = field(default_factory=dict)  # part number → CRC32 this machine sent (S3 lists it too)
    aborted: list = field(default_factory=list)  # upload ids aborted (cannot match the file)


def _fits(stored: dict, size: int, part_size: int) -> bool:
    ranges = {n: length for n, _o, length in part_ranges(size, part_size)}
    return all(n in ranges and v[0] == ranges[n] for n, v in stored.items())


def plan_resume(client, bucket: str, key: str, size: int, mtime_ns: int, part_size: int,
                candidates: list[str], record: Optional[UploadState]) -> Resume:
    """Pick the pending upload of ``key`` that can continue (the one recorded for this very file, else one
    whose stored parts have this file's part sizes); abort those that cannot match it."""
    out = Resume()
    for upload_id in candidates:
        if out.upload_id is not None:
            keep = False  # one upload per key is continued; a second one is an orphan
        elif record is not None and record.upload_id == upload_id:
            keep = (record.size, record.mtime_ns, record.part_size) == (size, mtime_ns, part_size)
            if keep:
                try:
                    out.stored = list_parts(client, bucket, key, upload_id)
                except Exception:  # noqa: BLE001 — gone meanwhile: start afresh
                    out.stored, keep = {}, False
                keep = keep and _fits(out.stored, size, part_size)
                if keep:
                    out.known, out.crc32 = dict(record.parts), dict(record.crc32)
        else:
            try:
                stored = list_parts(client, bucket, key, upload_id)
            except Exception:  # noqa: BLE001
                continue
            keep = bool(stored) and _fits(stored, size, part_size)
            if keep:
                out.stored = stored
        if keep:
            out.upload_id = upload_id
            continue
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            out.aborted.append(upload_id)
        except Exception:  # noqa: BLE001 — best effort (already gone, or not allowed)
            pass
    return out
