"""Reading an S3 prefix (or a local folder) the way ``aws s3 ls`` shows it, and the small files of a model
read concurrently (the check reads its ``*.json`` / ``*.pbtxt`` like the sync sends: ``concurrency`` at once).
The ownership marker (:mod:`.marker`) is not a model file: listings leave it out, :func:`read_owner` reads it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Optional

from ..base.errors import Cancelled, WizardError
from ..base.progress import CancelToken
from ..layout import Destination, parse_destination
from .client import CONCURRENCY, explain, make_client
from .local import PARTIAL_SUFFIX
from .marker import MARKER_NAME
from .sync import RemoteFile, list_local_dest, list_remote, read_marker

MiB = 1024 * 1024


@dataclass
class Entry:
    """One line of ``aws s3 ls``: a folder (``is_prefix``, name ends with "/") or an object."""

    name: str
    size: Optional[int] = None
    modified: Optional[datetime] = None
    etag: str = ""
    is_prefix: bool = False

    def to_dict(self) -> dict:
        return {"type": "PRE" if self.is_prefix else "OBJ", "name": self.name, "size": self.size,
                "modified": self.modified.isoformat() if self.modified else None, "etag": self.etag}



# --------------------------------------------------------------------------- listing
def list_entries(dest: "str | Destination", *, endpoint_url: Optional[str] = None, client=None) -> list[Entry]:
    """``aws s3 ls DEST``: sub-folders (``PRE name/``) then objects directly under ``dest``."""
    dest = parse_destination(dest)
    if not dest.is_s3:
        if dest.path is None or not dest.path.is_dir():
            return []
        pres, objs = [], []
        for p in sorted(dest.path.iterdir(), key=lambda p: p.name):
            if p.is_dir():
                pres.append(Entry(p.name + "/", is_prefix=True))
            elif p.is_file() and not p.name.endswith(PARTIAL_SUFFIX) and p.name != MARKER_NAME:  # as on S3
                st = p.stat()
                objs.append(Entry(p.name, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)))
        return pres + objs
    if client is None:
        client = make_client(endpoint_url)
    pres, objs = [], []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=dest.bucket, Prefix=dest.prefix,
                                                                     Delimiter="/"):
            for cp in page.get("CommonPrefixes", []) or []:
                pres.append(Entry(cp["Prefix"][len(dest.prefix):], is_prefix=True))
            for obj in page.get("Contents", []) or []:
                name = obj["Key"][len(dest.prefix):]
                if name and name != MARKER_NAME:
                    objs.append(Entry(name, int(obj["Size"]), obj["LastModified"],
                                      str(obj.get("ETag", "")).strip('"')))
    except Exception as exc:
        raise explain(exc, dest, endpoint_url, reading=True, client=client) from None
    return pres + objs


def list_keys(dest: "str | Destination", *, endpoint_url: Optional[str] = None, client=None) -> dict[str, RemoteFile]:
    """Every object under ``dest`` (recursive), keyed by its path relative to ``dest``."""
    dest = parse_destination(dest)
    if not dest.is_s3:
        return list_local_dest(dest)
    if client is None:
        client = make_client(endpoint_url)
    try:
        return list_remote(client, dest)
    except Exception as exc:
        raise explain(exc, dest, endpoint_url, reading=True, client=client) from None


def render_listing(entries: list[Entry]) -> str:
    """The text ``aws s3 ls`` prints (local time, like the CLI)."""
    lines = []
    for e in entries:
        if e.is_prefix:
            lines.append(f"{'PRE':>30} {e.name}")
        else:
            when = e.modified.astimezone().strftime("%Y-%m-%d %H:%M:%S") if e.modified else " " * 19
            lines.append(f"{when} {e.size:>10} {e.name}")
    return "\n".join(lines)


def check_remote(model_id: str, layout: str, *, endpoint_url: Optional[str] = None, client=None,
                 max_read: int = 16 * MiB) -> list:
    """The layout check (:func:`lmi_wizard.core.layout.check_listing`) on what is really at ``model_id``
    (S3 prefix or local folder): what LMI will find when it downloads it. Flat layout: ``config.json`` is
    read to look for ``build_config``."""
    from ..layout import check_listing

    dest = parse_destination(model_id)
    if dest.is_s3 and client is None:
        client = make_client(endpoint_url)
    objects = list_keys(dest, endpoint_url=endpoint_url, client=client)

    def read(rel: str) -> Optional[bytes]:
        obj = objects.get(rel)
        if obj is None or obj.size > max_read:
            return None
        if not dest.is_s3:
            try:
                return (dest.path / rel).read_bytes()
            except OSError:
                return None
        return read_objects(client, dest, [rel], endpoint_url=endpoint_url).get(rel)

    return check_listing(sorted(objects), model_id if dest.is_s3 else str(dest.path), layout, read=read)


def read_objects(client, dest: Destination, rels: Iterable[str], *, endpoint_url: Optional[str] = None,
                 max_bytes: Optional[dict] = None, concurrency: int = CONCURRENCY,
                 cancel: Optional[CancelToken] = None,
                 on_read: Optional[Callable[[str, int, int], None]] = None) -> dict[str, bytes]:
    """The bodies of the objects ``dest.prefix + rel`` (``concurrency`` GETs at once). ``max_bytes``:
    rel → most bytes read (the listed size). ``on_read(rel, done, total)`` after each object. The first
    failure is one WizardError naming the read permissions."""
    rels = list(rels)
    out: dict[str, bytes] = {}
    lock = threading.Lock()
    failure: list[BaseException] = []
    stop = threading.Event()
    it = iter(rels)
    unregister = cancel.on_cancel(stop.set) if cancel is not None else (lambda: None)

    def worker() -> None:
        while not stop.is_set():
            with lock:
                rel = next(it, None)
            if rel is None:
                return
            try:
                body = client.get_object(Bucket=dest.bucket, Key=dest.prefix + rel)["Body"]
                limit = (max_bytes or {}).get(rel)
                data = body.read(limit + 1) if limit is not None else body.read()
            except BaseException as exc:  # noqa: BLE001 — the first failure stops the others
                with lock:
                    failure.append(exc)
                stop.set()
                return
            with lock:
                out[rel] = data
                n = len(out)
            if on_read is not None:
                on_read(rel, n, len(rels))

    threads = [threading.Thread(target=worker, daemon=True, name=f"lmi-s3-read-{i}")
               for i in range(max(1, min(concurrency, len(rels))))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    finally:
        unregister()
    if failure:
        raise explain(failure[0], dest, endpoint_url, reading=True, client=client) from None
    if cancel is not None and cancel.cancelled:
        raise Cancelled("check")
    return out


def read_owner(dest: "str | Destination", *, endpoint_url: Optional[str] = None, client=None) -> Optional[dict]:
    """The ownership marker of an S3 folder or a local destination folder (None when there is none)."""
    dest = parse_destination(dest)
    if not dest.is_s3:
        return read_marker(None, dest)
    if client is None:
        client = make_client(endpoint_url)
    return read_marker(client, dest, endpoint_url)


def bucket_problem(bucket: str, *, endpoint_url: Optional[str] = None, region: Optional[str] = None,
                   profile: Optional[str] = None) -> Optional[WizardError]:
    """One ``HeadBucket``: the error when S3 says the bucket does not exist; None when it exists, when there are
    no credentials here (nothing can be asked: the publish step says so), or for any other answer (publish
    explains those with the context it has)."""
    try:
        client = make_client(endpoint_url, region=region, profile=profile, max_pool_connections=2, read_timeout=10)
    except WizardError:
        return None
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001 - only "no such bucket" is a finding here
        resp = getattr(exc, "response", None) or {}
        code = str((resp.get("Error") or {}).get("Code", ""))
        status = (resp.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if code in ("NoSuchBucket", "404", "NotFound") or status == 404:
            return WizardError(f"bucket {bucket!r} does not exist (or is not visible to these credentials)",
                               f"create it (`aws s3 mb s3://{bucket}`) or correct the bucket name")
    return None
