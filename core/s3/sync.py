"""``aws s3 sync`` for a model folder, to S3 or to a local folder.

* Only what is new or changed goes up. Small files (below ``compare_threshold``) are compared by content:
  their MD5 against the object's ETag (or the multipart ETag for the part size we use), then (for buckets
  whose ETags are not MD5s, e.g. SSE-KMS) against the ``sha256`` kept in the object's metadata — so a
  regenerated ``config.pbtxt`` of the same size is never skipped. Large files (engines) follow
  ``aws s3 sync``'s rule: size differs, or the local file is newer than the object. A second run with
  nothing changed sends no PUT at all.
* Files from ``threshold`` (8 MiB) up go in parts of 8 MiB (grown only to stay under 10,000 parts), with
  ``concurrency`` parts in flight, and resume by part (:mod:`.parts`, :mod:`.transfer`).
* With an ``owner``, the folder (S3, or a local folder: a file in it) is claimed by the ownership marker
  (:mod:`.marker`) before the first file and the marker completed after the last.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from ..base.progress import CancelToken, ProgressFn
from ..layout import Destination, parse_destination
from .client import CONCURRENCY, explain, make_client
from ..base.fsutil import atomic_write_bytes
from .local import PARTIAL_SUFFIX, LocalFile, check_local_destination, copy_local, hashes, scan_local
from .marker import MARKER_NAME, MAX_MARKER, Owner, ownership, parse_marker
from .parts import BASE_PART, StateStore, default_state_dir, multipart_etag, part_size_for
from .transfer import Meter, upload

MiB = 1024 * 1024
PART_SIZE = BASE_PART  # 8 MiB, grown per file only to stay under 10,000 parts
THRESHOLD = 8 * MiB  # from this size up: multipart
COMPARE_THRESHOLD = 64 * MiB  # below this size: compared by content (hash), above: size + mtime
_DEFAULT = object()


@dataclass(frozen=True)
class RemoteFile:
    rel: str
    size: int
    modified: float  # POSIX seconds
    etag: str = ""


@dataclass
class SyncResult:
    dest: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # rel → new | size | newer | content
    bytes: int = 0  # bytes sent (a dry run: bytes it would send)
    total_bytes: int = 0  # bytes of the source
    extra: list[str] = field(default_factory=list)  # at the destination but not in the source
    aborted: list[str] = field(default_factory=list)  # pending multipart uploads that could not be continued
    resumed: dict[str, int] = field(default_factory=dict)  # rel → parts kept from an interrupted run
    reused_bytes: int = 0  # bytes of those parts (not sent again)
    left_out: list[str] = field(default_factory=list)  # our temp files / staging folders seen, never sent
    owner: str = ""  # "new" | "same" | "forced" ("" without an owner)
    marker: Optional[dict] = None  # the ownership marker found at the destination
    dry_run: bool = False
    elapsed: float = 0.0

    def to_dict(self) -> dict:
        return {"dest": self.dest, "uploaded": self.uploaded, "skipped": self.skipped, "reasons": self.reasons,
                "bytes": self.bytes, "total_bytes": self.total_bytes, "extra": self.extra, "aborted": self.aborted,
                "resumed": self.resumed, "reused_bytes": self.reused_bytes, "left_out": self.left_out, "owner": self.owner,
                "marker": self.marker, "dry_run": self.dry_run, "elapsed": round(self.elapsed, 3)}


# --------------------------------------------------------------------------- remote side
def list_remote(client, dest: Destination, *, keep_marker: bool = False) -> dict[str, RemoteFile]:
    """Every object under ``dest`` keyed by its path relative to it (ownership markers left out; the one of
    ``dest`` itself kept with ``keep_marker``)."""
    out: dict[str, RemoteFile] = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=dest.bucket, Prefix=dest.prefix)
    for page in pages:
        for obj in page.get("Contents", []) or []:
            key = obj["Key"]
            rel = key[len(dest.prefix):]
            if not rel or rel.endswith("/") or rel.endswith("/" + MARKER_NAME) or \
                    (rel == MARKER_NAME and not keep_marker):
                continue  # "folder" marker objects; our ownership markers (not model files)
            out[rel] = RemoteFile(rel, int(obj["Size"]), obj["LastModified"].timestamp(),
                                  str(obj.get("ETag", "")).strip('"'))
    return out


def list_local_dest(dest: Destination) -> dict[str, RemoteFile]:
    """The files of a local destination folder (its ownership marker kept under ``MARKER_NAME``)."""
    out: dict[str, RemoteFile] = {}
    if dest.path is None or not dest.path.is_dir():
        return out
    for f in scan_local(dest.path):
        if f.path.name.startswith(".") and f.path.name.endswith(PARTIAL_SUFFIX):
            continue
        out[f.rel] = RemoteFile(f.rel, f.size, f.mtime)
    try:
        st = (dest.path / MARKER_NAME).stat()
        out[MARKER_NAME] = RemoteFile(MARKER_NAME, st.st_size, st.st_mtime)
    except OSError:
        pass
    return out


def read_marker(client, dest: Destination, endpoint_url: Optional[str] = None) -> Optional[dict]:
    """The ownership marker at ``dest`` (None when absent or not ours); a local folder's is a file in it."""
    if not dest.is_s3:
        try:
            with open(dest.path / MARKER_NAME, "rb") as fh:
                return parse_marker(fh.read(MAX_MARKER + 1))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WizardError(f"cannot read {dest.path / MARKER_NAME}: {exc.strerror or exc}",
                              "check the destination folder's permissions") from None
    try:
        body = client.get_object(Bucket=dest.bucket, Key=dest.prefix + MARKER_NAME)["Body"].read(MAX_MARKER + 1)
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise explain(exc, dest, endpoint_url, reading=True, client=client) from None
    return parse_marker(body)


def _write_marker(client, dest: Destination, doc: dict, endpoint_url: Optional[str]) -> None:
    if not dest.is_s3:
        try:
            dest.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WizardError(f"cannot create {dest.path}: {exc.strerror or exc}",
                              "choose a writable destination folder") from None
        atomic_write_bytes(dest.path / MARKER_NAME, json.dumps(doc, indent=1).encode())
        return
    try:
        client.put_object(Bucket=dest.bucket, Key=dest.prefix + MARKER_NAME, ContentType="application/json",
                          Body=json.dumps(doc, indent=1).encode())
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, dest, endpoint_url, client=client) from None


def decide(local: LocalFile, remote: Optional[RemoteFile], *, threshold: int = COMPARE_THRESHOLD,
           head_sha256=None, remote_path: Optional[Path] = None, part_size: Optional[int] = None) -> Optional[str]:
    """Why ``local`` must be sent (``"new"``, ``"size"``, ``"newer"``, ``"content"``), or None to skip.

    Small files (below ``threshold``) are compared by content (ETag = MD5, or the multipart ETag for
    ``part_size`` parts, else ``head_sha256()`` from the object's metadata, else — local destination — the
    destination file's bytes). Large files: size and modification time."""
    if remote is None:
        return "new"
    if remote.size != local.size:
        return "size"
    if local.size < threshold:
        md5, sha = hashes(local.path)
        if remote_path is not None:  # local destination
            return None if hashes(remote_path)[1] == sha else "content"
        if remote.etag and remote.etag.lower() == md5:
            return None
        if part_size and "-" in remote.etag and \
                multipart_etag(local.path, local.size, part_size_for(local.size, part_size)) == remote.etag.lower():
            return None
        if head_sha256 is not None and head_sha256(local.rel) == sha:
            return None
        return "content"
    if remote_path is not None:  # local destination: copies keep the source's mtime
        return None if int(local.mtime) == int(remote.modified) else "newer"
    return "newer" if int(local.mtime) > int(remote.modified) else None


# --------------------------------------------------------------------------- sync
def sync(source: "str | os.PathLike", dest: "str | Destination", *, endpoint_url: Optional[str] = None,
         client=None, progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None,
         dry_run: bool = False, part_size: int = PART_SIZE, threshold: int = THRESHOLD,
         concurrency: int = CONCURRENCY, compare_threshold: int = COMPARE_THRESHOLD,
         owner: Optional[Owner] = None, force: bool = False, state_dir=_DEFAULT) -> SyncResult:
    """Make ``dest`` hold every file of ``source`` (key = dest prefix + relative path). Nothing is deleted
    at the destination; objects there that the source lacks are reported in ``extra``. ``owner``: claim the
    S3 folder for this model (refused when it holds another model's files or files not ours, unless
    ``force``). ``state_dir``: where resume records live (default :func:`.parts.default_state_dir`; None:
    keep none)."""
    dest = parse_destination(dest)
    t0 = time.monotonic()
    cancel = cancel or CancelToken()
    left_out: list[str] = []
    files = scan_local(source, left_out=left_out)
    check_local_destination(source, dest)
    if dest.is_s3 and client is None:
        client = make_client(endpoint_url, max_pool_connections=concurrency + 4)
    try:
        remote = list_remote(client, dest, keep_marker=True) if dest.is_s3 else list_local_dest(dest)
    except Exception as exc:
        raise explain(exc, dest, endpoint_url, client=client) from None
    marker_obj = remote.pop(MARKER_NAME, None)

    result = SyncResult(dest.url, dry_run=dry_run, total_bytes=sum(f.size for f in files), left_out=left_out)
    marker = None
    if owner is not None:
        marker = read_marker(client, dest, endpoint_url) if marker_obj is not None else None
        result.marker = marker
        result.owner = ownership(dest.url, owner, marker, marker_obj is not None, list(remote), force=force)

    head_cache: dict[str, Optional[str]] = {}

    def head_sha256(rel: str) -> Optional[str]:
        if rel not in head_cache:
            try:
                meta = client.head_object(Bucket=dest.bucket, Key=dest.prefix + rel).get("Metadata", {}) or {}
            except Exception as exc:
                raise explain(exc, dest, endpoint_url, client=client) from None
            head_cache[rel] = meta.get("sha256")
        return head_cache[rel]

    todo: list[LocalFile] = []
    for f in files:
        cancel.raise_if_cancelled("upload")
        try:
            reason = decide(f, remote.get(f.rel), threshold=compare_threshold,
                            head_sha256=head_sha256 if dest.is_s3 else None,
                            remote_path=(dest.path / f.rel) if not dest.is_s3 else None,
                            part_size=part_size if dest.is_s3 else None)
        except OSError as exc:
            raise WizardError(f"cannot read {f.path}: {exc.strerror or exc}",
                              "check the file's permissions (and that it still exists)") from None
        if reason is None:
            result.skipped.append(f.rel)
        else:
            result.reasons[f.rel] = reason
            todo.append(f)
    source_rels = {f.rel for f in files}
    result.extra = sorted(r for r in remote if r not in source_rels)
    marker_due = owner is not None and (
        bool(todo) or marker is None or marker.get("status") != "complete"
        or marker.get("engine_digest") != owner.digest or result.owner == "forced")
    if dry_run or (not todo and not marker_due):
        result.uploaded = [f.rel for f in todo] if dry_run else []
        result.bytes = sum(f.size for f in todo) if dry_run else 0
        result.elapsed = time.monotonic() - t0
        return result

    claim = owner.document("publishing", marker if result.owner == "same" else None) if marker_due else None
    if claim is not None:  # the claim, before the first file
        cancel.raise_if_cancelled("upload")
        _write_marker(client, dest, claim, endpoint_url)
    meter = Meter(progress, sum(f.size for f in todo), len(todo))
    if dest.is_s3:
        store = StateStore(default_state_dir() if state_dir is _DEFAULT else state_dir)
        out = upload(client, dest.bucket, dest.prefix, todo, meter, cancel, part_size=part_size,
                     threshold=threshold, compare_threshold=compare_threshold, concurrency=concurrency,
                     store=store, on_error=lambda exc: explain(exc, dest, endpoint_url, client=client))
        done, result.bytes = out.done, out.sent
        result.aborted, result.resumed, result.reused_bytes = sorted(out.aborted), out.resumed, out.reused
    else:
        done = copy_local(dest, todo, meter, cancel)
        result.bytes = sum(f.size for f in todo if f.rel in done)
    result.uploaded = [f.rel for f in todo if f.rel in done]
    if claim is not None:  # completed after the last
        _write_marker(client, dest, owner.document("complete", claim), endpoint_url)
    result.elapsed = time.monotonic() - t0
    return result
