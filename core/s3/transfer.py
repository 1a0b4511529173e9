"""Sending files to S3: small files in one PUT, large ones in parts, all through one pool of ``concurrency``
worker threads (parts of one file go up side by side, as ``aws s3`` does).

Large files resume by part (:mod:`.parts`): the parts already stored are kept, only the missing or
different ones are sent. A cancel stops between parts and keeps the pending upload (and its local record)
for the next run; nothing is aborted that could still be continued. Every request carries a CRC32 checksum
(as ``aws s3`` sends), so S3 refuses a part damaged on the way.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..base.errors import Cancelled
from ..base.progress import CancelToken, Progress, ProgressFn
from .client import explain
from .local import LocalFile, hashes, md5_range, read_range
from .parts import StateStore, UploadState, part_ranges, part_size_for, pending_uploads, plan_resume

SHA256_META = "sha256"  # x-amz-meta-sha256
SAVE_EVERY = 1.0  # seconds between writes of a file's resume record


class Meter:
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

    def add(self, rel: str, size: int, n: int, *, finished: bool = False, reused: bool = False) -> None:
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
                                 "finished": finished, "reused": reused})
            self.progress(ev)  # under the lock: callers see events one at a time, in order


@dataclass
class Outcome:
    done: set = field(default_factory=set)  # rel of every file now complete at S3
    sent: int = 0  # bytes sent (parts kept from an earlier run not counted)
    reused: int = 0  # bytes of parts kept from an earlier run
    resumed: dict = field(default_factory=dict)  # rel → parts kept from an earlier run
    aborted: list = field(default_factory=list)  # rel of files whose pending upload could not be continued


class _File:
    """One large file's multipart upload in progress."""

    def __init__(self, f: LocalFile, key: str, state: UploadState, stored: dict, known: dict, crc32: dict):
        self.f, self.key, self.state = f, key, state
        self.stored, self.known, self.crc32 = stored, known, crc32
        self.ranges = part_ranges(f.size, state.part_size)
        self.left = len(self.ranges)
        self.etags: dict[int, str] = {}
        self.lock = threading.Lock()
        self.last_save = 0.0


CHECKSUM = {"ChecksumAlgorithm": "CRC32"}  # computed by botocore (cheaper than MD5: the CPU goes to sending)


def upload(client, bucket: str, prefix: str, todo: list[LocalFile], meter: Meter, cancel: CancelToken, *,
           part_size: int, threshold: int, compare_threshold: int, concurrency: int, store: StateStore,
           on_error: Callable[[BaseException], BaseException]) -> Outcome:
    """Send ``todo`` (key = prefix + rel). Raises Cancelled, or ``on_error(first failure)``."""
    out = Outcome()
    endpoint = str(getattr(client.meta, "endpoint_url", ""))
    large = [f for f in todo if f.size >= threshold]
    pending = pending_uploads(client, bucket, prefix) if large else {}
    tasks: "queue.Queue" = queue.Queue()
    files: dict[str, _File] = {}
    lock = threading.Lock()
    failure: list[BaseException] = []
    stop = threading.Event()
    unregister = cancel.on_cancel(stop.set)

    def meta(f: LocalFile) -> dict:
        return {"Metadata": {SHA256_META: hashes(f.path)[1]}} if f.size < compare_threshold else {}

    try:
        for f in todo:  # small files first: quick, and the model's configuration lands early
            if f.size < threshold:
                tasks.put(("put", f, prefix + f.rel))
        for f in large:
            if stop.is_set():
                break
            key = prefix + f.rel
            ps = part_size_for(f.size, part_size)
            record = store.load(endpoint, bucket, key)
            res = plan_resume(client, bucket, key, f.size, f.mtime_ns, ps, pending.get(key, []), record)
            if res.aborted:
                out.aborted.append(f.rel)
            if res.upload_id is None:
                try:
                    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **meta(f),
                                                               **CHECKSUM)["UploadId"]
                except Exception as exc:  # noqa: BLE001
                    raise on_error(exc) from None
                known: dict = {}
                crcs: dict = {}
            else:
                upload_id, known, crcs = res.upload_id, res.known, res.crc32
            state = UploadState(endpoint, bucket, key, upload_id, ps, f.size, f.mtime_ns, dict(known), dict(crcs))
            store.save(state)
            mf = files[f.rel] = _File(f, key, state, res.stored, known, crcs)
            for rng in mf.ranges:
                tasks.put(("part", mf, rng))
    except BaseException:
        unregister()
        raise

    def finish_part(mf: _File, n: int, etag: str, crc: str, length: int, reused: bool) -> None:
        with mf.lock:
            mf.etags[n] = etag
            mf.state.parts[n] = etag
            if crc:
                mf.state.crc32[n] = crc
            mf.left -= 1
            last = mf.left == 0
            now = time.monotonic()
            snapshot = None
            if not last and now - mf.last_save >= SAVE_EVERY:
                mf.last_save = now
                snapshot = mf.state.to_json()  # taken under the lock: other parts of this file finish meanwhile
        with lock:
            if reused:
                out.reused += length
                out.resumed[mf.f.rel] = out.resumed.get(mf.f.rel, 0) + 1
            else:
                out.sent += length
        meter.add(mf.f.rel, mf.f.size, length, reused=reused)
        if snapshot is not None:
            store.save(mf.state, snapshot)
        if last:
            parts = [dict({"PartNumber": k, "ETag": f'"{v}"'},
                          **({"ChecksumCRC32": mf.state.crc32[k]} if mf.state.crc32.get(k) else {}))
                     for k, v in sorted(mf.etags.items())]
            client.complete_multipart_upload(Bucket=bucket, Key=mf.key, UploadId=mf.state.upload_id,
                                             MultipartUpload={"Parts": parts})
            store.drop(endpoint, bucket, mf.key)
            with lock:
                out.done.add(mf.f.rel)
            meter.add(mf.f.rel, mf.f.size, 0, finished=True)

    def do_part(mf: _File, rng: tuple[int, int, int]) -> None:
        n, off, length = rng
        have = mf.stored.get(n)
        if have is not None and have[0] == length:
            if mf.known.get(n) == have[1] or md5_range(mf.f.path, off, length) == have[1]:
                finish_part(mf, n, have[1], have[2] or mf.crc32.get(n, ""), length, True)
                return
        data = read_range(mf.f.path, off, length)
        resp = client.upload_part(Bucket=bucket, Key=mf.key, UploadId=mf.state.upload_id, PartNumber=n,
                                  Body=data, **CHECKSUM)
        finish_part(mf, n, str(resp.get("ETag", "")).strip('"'), str(resp.get("ChecksumCRC32") or ""), length,
                    False)

    def do_put(f: LocalFile, key: str) -> None:
        data = read_range(f.path, 0, f.size)
        extra = {"Metadata": {SHA256_META: hashlib.sha256(data).hexdigest()}} if f.size < compare_threshold else {}
        client.put_object(Bucket=bucket, Key=key, Body=data, **CHECKSUM, **extra)
        with lock:
            out.sent += f.size
            out.done.add(f.rel)
        meter.add(f.rel, f.size, f.size)
        meter.add(f.rel, f.size, 0, finished=True)

    def worker() -> None:
        while not stop.is_set():
            try:
                item = tasks.get_nowait()
            except queue.Empty:
                return
            try:
                if item[0] == "put":
                    do_put(item[1], item[2])
                else:
                    do_part(item[1], item[2])
            except BaseException as exc:  # noqa: BLE001 — the first failure stops the others
                with lock:
                    failure.append(exc)
                stop.set()
                return

    threads = [threading.Thread(target=worker, name=f"lmi-s3-{i}", daemon=True)
               for i in range(max(1, min(concurrency, tasks.qsize())))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # a short wait: the main thread stays responsive to signals
    except KeyboardInterrupt:
        stop.set()
        cancel.cancel()
        for mf in files.values():
            with mf.lock:  # workers may still be finishing a part
                snapshot = mf.state.to_json()
            store.save(mf.state, snapshot)
        raise
    finally:
        unregister()
    for mf in files.values():
        if mf.f.rel not in out.done:
            store.save(mf.state)  # what the next run continues from
    if cancel.cancelled:
        raise Cancelled("upload")
    if failure:
        raise on_error(failure[0])
    return out
