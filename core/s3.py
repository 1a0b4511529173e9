"""Upload a model folder like ``aws s3 sync``, to S3 or to a local folder, and list the result like ``aws s3 ls``.

* Only what is new or changed goes up. Small files (below the multipart threshold) are compared by
  content: their MD5 against the object's ETag, then (for buckets whose ETags are not MD5s, e.g. SSE-KMS)
  against the ``sha256`` kept in the object's metadata — so a regenerated ``config.pbtxt`` of the same size
  is never skipped. Large files (engines) follow ``aws s3 sync``'s rule: size differs, or the local file
  is newer than the object. A second run with nothing changed sends no PUT at all.
* Large files go up in parallel multipart uploads (64 MiB parts, 10 threads: fewer requests than boto3's
  8 MiB default for multi-GB engines). Progress per file and in total goes to a callback (called from
  transfer threads, serialised by a lock); a CancelToken stops between and within files (an unfinished
  multipart upload is aborted). A re-run after an interruption sends only what is missing.
* Credentials come from boto3's standard chain; the endpoint from ``endpoint_url`` or the standard
  ``AWS_ENDPOINT_URL``. Every failure becomes one WizardError naming the problem and the fix; secrets are
  never printed.
* boto3 is imported lazily (start-up time matters).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from glob import escape as glob_escape
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from .base.errors import Cancelled, WizardError
from .base.fsutil import walk_files
from .layout import Destination, parse_destination
from .base.progress import CancelToken, Progress, ProgressFn
from .base import secrets as _secrets

MiB = 1024 * 1024
PART_SIZE = 64 * MiB
THRESHOLD = 64 * MiB
CONCURRENCY = 10
SHA256_META = "sha256"  # x-amz-meta-sha256
RESUME_HINT = "then run the same command again: it uploads only what is missing"


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class LocalFile:
    rel: str  # posix path relative to the source folder
    path: Path
    size: int
    mtime: float


@dataclass(frozen=True)
class RemoteFile:
    rel: str
    size: int
    modified: float  # POSIX seconds
    etag: str = ""


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


@dataclass
class SyncResult:
    dest: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # rel → new | size | newer | content
    bytes: int = 0  # bytes sent
    total_bytes: int = 0  # bytes of the source
    extra: list[str] = field(default_factory=list)  # at the destination but not in the source
    aborted: list[str] = field(default_factory=list)  # unfinished multipart uploads of an interrupted run
    dry_run: bool = False
    elapsed: float = 0.0

    def to_dict(self) -> dict:
        return {"dest": self.dest, "uploaded": self.uploaded, "skipped": self.skipped, "reasons": self.reasons,
                "bytes": self.bytes, "total_bytes": self.total_bytes, "extra": self.extra, "aborted": self.aborted,
                "dry_run": self.dry_run, "elapsed": round(self.elapsed, 3)}


# --------------------------------------------------------------------------- secrets
def remember_secrets(*values: Optional[str]) -> None:
    """Values that :func:`redact` always removes (the key id, secret and session token in use)."""
    _secrets.remember(*values)


def redact(text: str) -> str:
    """Remove anything secret-looking from a message: the credentials in use (env or any other source),
    key ids, signing material (presigned-URL parameters, signatures, session tokens), URL user-info
    (``core.base.secrets.redact_credentials``)."""
    return _secrets.redact_credentials(str(text))


# --------------------------------------------------------------------------- errors
_NET_ERRORS = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
               "ProxyConnectionError", "SSLError", "ProtocolError", "ConnectionError")


def explain(exc: BaseException, dest: "Destination | None" = None, endpoint_url: Optional[str] = None) -> WizardError:
    """One clear WizardError for a boto3/botocore failure."""
    if isinstance(exc, WizardError):
        return exc
    where = dest.url if dest is not None else "S3"
    name = type(exc).__name__
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
        return WizardError(f"no AWS credentials found for {where} ({redact(exc)})",
                           "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure` "
                           "(or `aws sso login`) on this machine")
    if "ProfileNotFound" in names:
        return WizardError(f"AWS profile not found ({redact(exc)})",
                           "check AWS_PROFILE (or the profile given: --profile, the recipe's [destination] profile) "
                           "and the profiles in ~/.aws/config (`aws configure list-profiles`)")
    if names & {"UnauthorizedSSOTokenError", "SSOTokenLoadError", "TokenRetrievalError"}:
        return WizardError(f"the AWS SSO session has expired or is missing ({name})", "run `aws sso login`")
    if "NoRegionError" in names:
        return WizardError("no AWS region configured", "set AWS_DEFAULT_REGION (e.g. us-east-1)")
    if names & set(_NET_ERRORS):
        ep = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "S3"
        return WizardError(f"cannot reach {redact(ep)} ({redact(exc)}) while writing {where}",
                           f"check the network connection and --endpoint-url; {RESUME_HINT}", exit_code=3)
    if "ClientError" in names and hasattr(exc, "response"):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code", ""))
        msg = redact(err.get("Message", "") or "")
        meta = exc.response.get("ResponseMetadata", {}) or {}
        status = meta.get("HTTPStatusCode")
        headers = {k.lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
        region = err.get("Region") or headers.get("x-amz-bucket-region")
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException",
                    "301") or status == 301:
            problem = f"the bucket of {where} is in another region" + (f" ({region})" if region else "")
            fix = (f"set AWS_DEFAULT_REGION={region}" if region else
                   "set AWS_DEFAULT_REGION to the bucket's region") + f"; {RESUME_HINT}"
            return WizardError(problem, fix)
        if code == "NoSuchBucket":
            bucket = dest.bucket if dest is not None and dest.is_s3 else err.get("BucketName", "")
            return WizardError(f"bucket {bucket!r} does not exist (or is not visible to these credentials)",
                               f"create it (`aws s3 mb s3://{bucket}`) or correct the bucket name")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                    "TokenRefreshRequired", "InvalidClientTokenId"):
            return WizardError(f"S3 rejected the AWS credentials in use ({code})",
                               "refresh them (aws sso login / new keys) or pick the right AWS_PROFILE")
        if code in ("AccessDenied", "AllAccessDisabled", "403", "Forbidden") or status == 403:
            return WizardError(f"access denied to {where} ({code}{': ' + msg if msg else ''})",
                               "the credentials in use need s3:ListBucket on the bucket and s3:PutObject "
                               f"(+ multipart) on the prefix; {RESUME_HINT}")
        if code in ("404", "NotFound", "405", "MethodNotAllowed") or (not code and status in (404, 405)):
            ep = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "the S3 endpoint"
            return WizardError(f"{redact(ep)} answered HTTP {status or code} for {where}: is it an S3 endpoint?",
                               "check --endpoint-url (or AWS_ENDPOINT_URL), e.g. https://s3.<region>.amazonaws.com, "
                               "and the bucket name")
        if code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout") or (status or 0) >= 500:
            return WizardError(f"S3 is not answering properly ({code}: {msg})", f"wait a moment; {RESUME_HINT}",
                               exit_code=3)
        return WizardError(f"S3 refused the request for {where}: {code or status} {msg}".rstrip(),
                           f"check the destination and permissions; {RESUME_HINT}")
    if isinstance(exc, OSError):
        return WizardError(f"cannot read a file to upload: {redact(exc)}", "check the model folder")
    return WizardError(f"upload to {where} failed: {name}: {redact(exc)}", RESUME_HINT)


# --------------------------------------------------------------------------- clients
_LOADER = None
_LOADER_LOCK = threading.Lock()


def _botocore_session():
    """A fresh botocore session (fresh credentials and config each time) sharing one model loader:
    parsing the S3 service model costs ~0.5 s per client otherwise."""
    global _LOADER
    import botocore.session
    from botocore.loaders import create_loader

    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = create_loader()
        loader = _LOADER
        # boto3 appends its data path on every Session(): keep the shared list from growing
        seen: list = []
        for p in loader.search_paths:
            if p not in seen:
                seen.append(p)
        loader.search_paths[:] = seen
    bs = botocore.session.get_session()
    bs.register_component("data_loader", loader)
    return bs


def make_client(endpoint_url: Optional[str] = None, *, region: Optional[str] = None,
                max_pool_connections: int = CONCURRENCY + 4, read_timeout: Optional[float] = None,
                profile: Optional[str] = None):
    """An S3 client from boto3's standard credential chain. Raises WizardError when there are no
    credentials at all (before any request). ``read_timeout`` (s, default botocore's 60) for slow servers.
    ``profile``: a named profile of ~/.aws for this client only (like ``aws --profile``; the environment,
    ``AWS_PROFILE`` included, is left as it is); a missing one is one clear WizardError."""
    import boto3
    from botocore.config import Config

    try:
        session = boto3.session.Session(botocore_session=_botocore_session(), region_name=region,
                                        profile_name=profile or None)
        creds = session.get_credentials()
    except Exception as exc:  # broken profile, sso expired …
        raise explain(exc) from None
    if creds is None:
        raise WizardError("no AWS credentials found",
                          "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure` "
                          "(or `aws sso login`) on this machine")
    try:
        frozen = creds.get_frozen_credentials()
    except Exception as exc:  # an expired SSO session, a failing credential process …
        raise explain(exc) from None
    remember_secrets(frozen.access_key, frozen.secret_key, frozen.token)
    cfg = Config(max_pool_connections=max_pool_connections, user_agent_extra="lmi-wizard", connect_timeout=10,
                 **({"read_timeout": read_timeout} if read_timeout else {}))
    kw = {"config": cfg}
    if endpoint_url:
        kw["endpoint_url"] = endpoint_url
    try:
        return session.client("s3", **kw)
    except ValueError as exc:  # bad endpoint URL
        raise WizardError(f"invalid endpoint URL: {redact(exc)}", "pass --endpoint-url http(s)://host[:port]") from None


# --------------------------------------------------------------------------- local side
def scan_local(source: "str | os.PathLike") -> list[LocalFile]:
    """Every file under ``source``, sorted by relative path. Links are followed like ``aws s3 sync`` does
    (a linked ``1/`` folder of engines is uploaded, not silently left out); a link back to a folder
    above it (a loop) is refused."""
    src = Path(source)
    if not src.is_dir():
        if src.exists():
            raise WizardError(f"{src} is a file, not a folder", "pass the folder that holds the compiled model")
        raise WizardError(f"model folder not found: {src}", "pass the folder that holds the compiled model")
    out = []
    for p in walk_files(src, what="model folder"):
        try:
            st = p.stat()
        except FileNotFoundError:
            raise WizardError(f"{p} is a broken link", "fix or remove the link") from None
        except OSError as exc:
            raise WizardError(f"cannot read {p}: {exc.strerror}", "check the permissions") from None
        rel = p.relative_to(src).as_posix()
        if not stat.S_ISREG(st.st_mode):  # a pipe, socket or device: reading it would hang or never end
            raise WizardError(f"{p} is not a regular file (a pipe, socket or device)",
                              "remove it from the model folder")
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            raise WizardError(f"file name {rel!r} is not valid UTF-8 and cannot be an S3 key",
                              "rename the file") from None
        out.append(LocalFile(rel, p, st.st_size, st.st_mtime))
    out.sort(key=lambda f: f.rel)
    return out


def _hashes(path: Path) -> tuple[str, str]:
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 * MiB):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


# --------------------------------------------------------------------------- progress
class _Meter:
    """Thread-safe byte counters; emits Progress events at most every ``interval`` seconds (and on each
    finished file)."""

    def __init__(self, progress: Optional[ProgressFn], total: int, files_total: int, interval: float = 0.1):
        self.progress = progress
        self.total = total
        self.files_total = files_total
        self.done = 0
        self.files_done = 0
        self.per_file: dict[str, int] = {}
        self.interval = interval
        self._last = 0.0
        self._lock = threading.RLock()  # a progress callback may cancel, and cancelling may call back

    def add(self, rel: str, size: int, n: int, *, finished: bool = False) -> None:
        with self._lock:
            self.done += n
            self.per_file[rel] = self.per_file.get(rel, 0) + n
            if finished:
                self.files_done += 1
            now = time.monotonic()
            if self.progress is None or not (finished or now - self._last >= self.interval):
                return
            self._last = now
            ev = Progress("upload", rel, done=self.done, total=self.total, unit="B",
                          extra={"file": rel, "file_done": self.per_file[rel], "file_total": size,
                                 "files_done": self.files_done, "files_total": self.files_total,
                                 "finished": finished})
            self.progress(ev)  # under the lock: callers see events one at a time, in order


def check_local_destination(source: "str | os.PathLike", dest: "str | Destination", *,
                            model_id: Optional[str] = None) -> None:
    """Refuse a local destination that cannot work, before anything is written: a file (or a file where
    one of its parent folders should be), the model folder itself, a folder inside it (the copy would
    land in what it copies, growing on every run) or a folder above it (the copy would mix with the
    source). Links are resolved. S3 destinations pass."""
    dest = parse_destination(dest)
    if dest.is_s3 or dest.path is None:
        return
    target = dest.path
    p = target
    while not os.path.lexists(p) and p.parent != p:
        p = p.parent
    if os.path.lexists(p) and not p.is_dir():
        where = "" if p == target else f" (a folder of the destination {target})"
        raise WizardError(f"{p} is a file, not a folder{where}",
                          "give a folder as the destination (it is created when missing)")
    src = Path(os.path.realpath(source))
    dst = Path(os.path.realpath(target))
    if dst == src:
        fix = (f"LMI can load it where it is (model_id {model_id}); or give another destination folder"
               if model_id else "give another destination folder")
        raise WizardError(f"the destination {target} is the model folder itself: there is nothing to copy", fix)
    if src in dst.parents:
        raise WizardError(f"the destination {target} is inside the model folder {src}: the copy would land in "
                          f"what it copies", f"choose a destination folder outside {src}")
    if dst in src.parents:
        raise WizardError(f"the destination {target} holds the model folder {src}: the copy would mix with the "
                          f"source", "choose a destination folder that is not above the model folder "
                          "(e.g. a sibling folder)")


# --------------------------------------------------------------------------- remote side
def _list_remote(client, dest: Destination) -> dict[str, RemoteFile]:
    out: dict[str, RemoteFile] = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=dest.bucket, Prefix=dest.prefix)
    for page in pages:
        for obj in page.get("Contents", []) or []:
            key = obj["Key"]
            rel = key[len(dest.prefix):]
            if not rel or rel.endswith("/"):
                continue  # "folder" marker objects
            out[rel] = RemoteFile(rel, int(obj["Size"]), obj["LastModified"].timestamp(),
                                  str(obj.get("ETag", "")).strip('"'))
    return out


def _list_local_dest(dest: Destination) -> dict[str, RemoteFile]:
    out: dict[str, RemoteFile] = {}
    if dest.path is None or not dest.path.is_dir():
        return out
    for f in scan_local(dest.path):
        if f.path.name.startswith(".") and f.path.name.endswith(".lmi-partial"):
            continue
        out[f.rel] = RemoteFile(f.rel, f.size, f.mtime)
    return out


def decide(local: LocalFile, remote: Optional[RemoteFile], *, threshold: int = THRESHOLD,
           head_sha256=None, remote_path: Optional[Path] = None) -> Optional[str]:
    """Why ``local`` must be sent (``"new"``, ``"size"``, ``"newer"``, ``"content"``), or None to skip.

    Small files are compared by content (ETag = MD5, else ``head_sha256()`` from the object's metadata,
    else — local destination — the destination file's bytes). Large files: size and modification time."""
    if remote is None:
        return "new"
    if remote.size != local.size:
        return "size"
    if local.size < threshold:
        md5, sha = _hashes(local.path)
        if remote_path is not None:  # local destination
            return None if _hashes(remote_path)[1] == sha else "content"
        if remote.etag and remote.etag.lower() == md5:
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
         concurrency: int = CONCURRENCY) -> SyncResult:
    """Make ``dest`` hold every file of ``source`` (key = dest prefix + relative path). Nothing is deleted
    at the destination; objects there that the source lacks are reported in ``extra``."""
    dest = parse_destination(dest)
    t0 = time.monotonic()
    cancel = cancel or CancelToken()
    files = scan_local(source)
    check_local_destination(source, dest)
    if dest.is_s3 and client is None:
        client = make_client(endpoint_url, max_pool_connections=concurrency + 4)
    try:
        remote = _list_remote(client, dest) if dest.is_s3 else _list_local_dest(dest)
    except Exception as exc:
        raise explain(exc, dest, endpoint_url) from None

    head_cache: dict[str, Optional[str]] = {}

    def head_sha256(rel: str) -> Optional[str]:
        if rel not in head_cache:
            try:
                meta = client.head_object(Bucket=dest.bucket, Key=dest.prefix + rel).get("Metadata", {}) or {}
            except Exception as exc:
                raise explain(exc, dest, endpoint_url) from None
            head_cache[rel] = meta.get(SHA256_META)
        return head_cache[rel]

    result = SyncResult(dest.url, dry_run=dry_run, total_bytes=sum(f.size for f in files))
    todo: list[LocalFile] = []
    for f in files:
        cancel.raise_if_cancelled("upload")
        try:
            reason = decide(f, remote.get(f.rel), threshold=threshold,
                            head_sha256=head_sha256 if dest.is_s3 else None,
                            remote_path=(dest.path / f.rel) if not dest.is_s3 else None)
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
    if dry_run or not todo:
        result.uploaded = [f.rel for f in todo] if dry_run else []
        result.elapsed = time.monotonic() - t0
        return result

    meter = _Meter(progress, sum(f.size for f in todo), len(todo))
    if dest.is_s3:
        result.aborted = _abort_stale_uploads(client, dest, {f.rel for f in todo}, started=time.time())
        done = _upload_s3(client, dest, todo, meter, cancel, part_size=part_size, threshold=threshold,
                          concurrency=concurrency, endpoint_url=endpoint_url)
    else:
        done = _copy_local(dest, todo, meter, cancel)
    result.uploaded = [f.rel for f in todo if f.rel in done]
    result.bytes = sum(f.size for f in todo if f.rel in done)
    result.elapsed = time.monotonic() - t0
    return result


def _abort_stale_uploads(client, dest: Destination, rels: set[str], *, started: float) -> list[str]:
    """An interrupted run leaves unfinished multipart uploads (their parts are billed, never listed).
    Abort those for files this run sends again, started before this run. Best effort."""
    aborted = []
    try:
        pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=dest.bucket, Prefix=dest.prefix)
        for page in pages:
            for up in page.get("Uploads", []) or []:
                rel = up["Key"][len(dest.prefix):]
                if rel in rels and up["Initiated"].timestamp() < started:
                    client.abort_multipart_upload(Bucket=dest.bucket, Key=up["Key"], UploadId=up["UploadId"])
                    aborted.append(rel)
    except Exception:  # noqa: BLE001 — missing s3:ListBucketMultipartUploads must not stop the upload
        pass
    return sorted(aborted)


def _upload_s3(client, dest: Destination, todo: list[LocalFile], meter: _Meter, cancel: CancelToken, *,
               part_size: int, threshold: int, concurrency: int, endpoint_url: Optional[str]) -> set[str]:
    from boto3.s3.transfer import TransferConfig
    from s3transfer.manager import TransferManager
    from s3transfer.subscribers import BaseSubscriber

    config = TransferConfig(multipart_threshold=threshold, multipart_chunksize=part_size,
                            max_concurrency=concurrency, use_threads=True)
    lock = threading.Lock()
    futures: list = []
    done: set[str] = set()
    failure: list[BaseException] = []

    def cancel_all() -> None:
        with lock:
            pending = list(futures)
        for fut in pending:
            if not fut.done():
                fut.cancel()

    class Sub(BaseSubscriber):
        def __init__(self, f: LocalFile):
            self.f = f

        def on_progress(self, future, bytes_transferred, **kwargs):
            meter.add(self.f.rel, self.f.size, bytes_transferred)

        def on_done(self, future, **kwargs):
            try:
                future.result()
            except BaseException as exc:  # noqa: BLE001 — recorded, re-raised by the caller
                with lock:
                    first = not failure
                    failure.append(exc)
                if first and not cancel.cancelled:
                    threading.Thread(target=cancel_all, daemon=True).start()
                return
            with lock:
                done.add(self.f.rel)
            meter.add(self.f.rel, self.f.size, 0, finished=True)

    unregister = cancel.on_cancel(cancel_all)
    try:
        with TransferManager(client, config) as manager:
            for f in todo:
                if cancel.cancelled or failure:
                    break
                extra = {}
                if f.size < threshold:
                    try:
                        extra["Metadata"] = {SHA256_META: _hashes(f.path)[1]}
                    except OSError as exc:
                        failure.append(exc)
                        break
                fut = manager.upload(str(f.path), dest.bucket, dest.prefix + f.rel, extra_args=extra,
                                     subscribers=[Sub(f)])
                with lock:
                    futures.append(fut)
                if cancel.cancelled:
                    cancel_all()
            for fut in list(futures):
                try:
                    fut.result()
                except BaseException:  # noqa: BLE001 — seen by on_done
                    pass
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    finally:
        unregister()
    if cancel.cancelled:
        raise Cancelled("upload")
    real = [e for e in failure if type(e).__name__ != "CancelledError"]
    if real:
        raise explain(real[0], dest, endpoint_url) from None
    return done


def _copy_local(dest: Destination, todo: list[LocalFile], meter: _Meter, cancel: CancelToken) -> set[str]:
    done: set[str] = set()
    for f in todo:
        cancel.raise_if_cancelled("upload")
        target = dest.path / f.rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in target.parent.glob(f".{glob_escape(target.name)}.*.lmi-partial"):  # a killed run's
                stale.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".lmi-partial", dir=target.parent)
        except OSError as exc:
            raise WizardError(f"cannot write to {target.parent}: {exc.strerror}",
                              "choose a writable destination folder") from None
        try:
            with os.fdopen(fd, "wb") as out, open(f.path, "rb") as inp:
                while chunk := inp.read(8 * MiB):
                    if cancel.cancelled:
                        raise Cancelled("upload")
                    out.write(chunk)
                    meter.add(f.rel, f.size, len(chunk))
                out.flush()
                os.fsync(out.fileno())
            shutil.copymode(f.path, tmp)
            os.utime(tmp, (f.mtime, f.mtime))
            os.replace(tmp, target)
            tmp = None
        except OSError as exc:
            raise WizardError(f"cannot copy {f.rel} to {target}: {exc.strerror}",
                              f"check the destination's free space and permissions; {RESUME_HINT}") from None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
        done.add(f.rel)
        meter.add(f.rel, f.size, 0, finished=True)
    return done


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
            elif p.is_file() and not p.name.endswith(".lmi-partial"):
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
                if name:
                    objs.append(Entry(name, int(obj["Size"]), obj["LastModified"],
                                      str(obj.get("ETag", "")).strip('"')))
    except Exception as exc:
        raise explain(exc, dest, endpoint_url) from None
    return pres + objs


def list_keys(dest: "str | Destination", *, endpoint_url: Optional[str] = None, client=None) -> dict[str, RemoteFile]:
    """Every object under ``dest`` (recursive), keyed by its path relative to ``dest``."""
    dest = parse_destination(dest)
    if not dest.is_s3:
        return _list_local_dest(dest)
    if client is None:
        client = make_client(endpoint_url)
    try:
        return _list_remote(client, dest)
    except Exception as exc:
        raise explain(exc, dest, endpoint_url) from None


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
    from .layout import check_listing

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
        try:
            return client.get_object(Bucket=dest.bucket, Key=dest.prefix + rel)["Body"].read()
        except Exception as exc:
            raise explain(exc, dest, endpoint_url) from None

    return check_listing(sorted(objects), model_id if dest.is_s3 else str(dest.path), layout, read=read)
