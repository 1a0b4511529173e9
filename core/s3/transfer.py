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


class _Uploader:
    """One :func:`upload`: the task queue, the workers' shared counters and the stop flag."""

    def __init__(self, client, bucket: str, prefix: str, meter: Meter, store: StateStore, *,
                 part_size: int, threshold: int, compare_threshold: int) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.meter, self.store = meter, store
        self.part_size, self.threshold, self.compare_threshold = part_size, threshold, compare_threshold
        self.endpoint = str(getattr(client.meta, "endpoint_url", ""))
        self.out = Outcome()
        self.tasks: "queue.Queue" = queue.Queue()
        self.files: dict[str, _File] = {}
        self.lock = threading.Lock()
        self.failure: list[BaseException] = []
        self.stop = threading.Event()

    # ------------------------------------------------------------------ queueing
    def queue_all(self, todo: list[LocalFile], on_error: Callable[[BaseException], BaseException]) -> None:
        """Small files first (quick, and the model's configuration lands early), then each large file's parts."""
        large = [f for f in todo if f.size >= self.threshold]
        pending = pending_uploads(self.client, self.bucket, self.prefix) if large else {}
        for f in todo:
            if f.size < self.threshold:
                self.tasks.put(("put", f, self.prefix + f.rel))
        for f in large:
            if self.stop.is_set():
                break
            mf = self.files[f.rel] = self._multipart(f, pending, on_error)
            for rng in mf.ranges:
                self.tasks.put(("part", mf, rng))

    def _multipart(self, f: LocalFile, pending: dict, on_error: Callable[[BaseException], BaseException]) -> _File:
        """The multipart upload of ``f``: the pending one it resumes, else a new one; its record saved."""
        key = self.prefix + f.rel
        ps = part_size_for(f.size, self.part_size)
        record = self.store.load(self.endpoint, self.bucket, key)
        res = plan_resume(self.client, self.bucket, key, f.size, f.mtime_ns, ps, pending.get(key, []), record)
        if res.aborted:
            self.out.aborted.append(f.rel)
        if res.upload_id is None:
            meta = {"Metadata": {SHA256_META: hashes(f.path)[1]}} if f.size < self.compare_threshold else {}
            try:
                upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **meta,
                                                                **CHECKSUM)["UploadId"]
            except Exception as exc:  # noqa: BLE001
                raise on_error(exc) from None
            known: dict = {}
            crcs: dict = {}
        else:
            upload_id, known, crcs = res.upload_id, res.known, res.crc32
        state = UploadState(self.endpoint, self.bucket, key, upload_id, ps, f.size, f.mtime_ns, dict(known),
                            dict(crcs))
        self.store.save(state)
        return _File(f, key, state, res.stored, known, crcs)

    # ------------------------------------------------------------------ work (in the worker threads)
    def _finish_part(self, mf: _File, n: int, etag: str, crc: str, length: int, reused: bool) -> None:
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
        with self.lock:
            if reused:
                self.out.reused += length
                self.out.resumed[mf.f.rel] = self.out.resumed.get(mf.f.rel, 0) + 1
            else:
                self.out.sent += length
        self.meter.add(mf.f.rel, mf.f.size, length, reused=reused)
        if snapshot is not None:
            self.store.save(mf.state, snapshot)
        if last:
            self._complete(mf)

    def _complete(self, mf: _File) -> None:
        parts = [dict({"PartNumber": k, "ETag": f'"{v}"'},
                      **({"ChecksumCRC32": mf.state.crc32[k]} if mf.state.crc32.get(k) else {}))
                 for k, v in sorted(mf.etags.items())]
        self.client.complete_multipart_upload(Bucket=self.bucket, Key=mf.key, UploadId=mf.state.upload_id,
                                              MultipartUpload={"Parts": parts})
        self.store.drop(self.endpoint, self.bucket, mf.key)
        with self.lock:
            self.out.done.add(mf.f.rel)
        self.meter.add(mf.f.rel, mf.f.size, 0, finished=True)

    def _do_part(self, mf: _File, rng: tuple[int, int, int]) -> None:
        n, off, length = rng
        have = mf.stored.get(n)
        if have is not None and have[0] == length:
            if mf.known.get(n) == have[1] or md5_range(mf.f.path, off, length) == have[1]:
                self._finish_part(mf, n, have[1], have[2] or mf.crc32.get(n, ""), length, True)
                return
        data = read_range(mf.f.path, off, length)
        resp = self.client.upload_part(Bucket=self.bucket, Key=mf.key, UploadId=mf.state.upload_id, PartNumber=n,
                                       Body=data, **CHECKSUM)
        self._finish_part(mf, n, str(resp.get("ETag", "")).strip('"'), str(resp.get("ChecksumCRC32") or ""),
                          length, False)

    def _do_put(self, f: LocalFile, key: str) -> None:
        data = read_range(f.path, 0, f.size)
        extra = {"Metadata": {SHA256_META: hashlib.sha256(data).hexdigest()}} if f.size < self.compare_threshold else {}
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **CHECKSUM, **extra)
        with self.lock:
            self.out.sent += f.size
            self.out.done.add(f.rel)
        self.meter.add(f.rel, f.size, f.size)
        self.meter.add(f.rel, f.size, 0, finished=True)

    def _worker(self) -> None:
        while not self.stop.is_set():
            try:
                item = self.tasks.get_nowait()
            except queue.Empty:
                return
            try:
                if item[0] == "put":
                    self._do_put(item[1], item[2])
                else:
                    self._do_part(item[1], item[2])
            except BaseException as exc:  # noqa: BLE001 — the first failure stops the others
                with self.lock:
                    self.failure.append(exc)
                self.stop.set()
                return

    # ------------------------------------------------------------------ running
    def run_workers(self, concurrency: int, cancel: CancelToken) -> None:
        """Runs the queue on up to ``concurrency`` threads; Ctrl-C cancels and saves every resume record."""
        threads = [threading.Thread(target=self._worker, name=f"lmi-s3-{i}", daemon=True)
                   for i in range(max(1, min(concurrency, self.tasks.qsize())))]
        try:
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # a short wait: the main thread stays responsive to signals
        except KeyboardInterrupt:
            self.stop.set()
            cancel.cancel()
            for mf in self.files.values():
                with mf.lock:  # workers may still be finishing a part
                    snapshot = mf.state.to_json()
                self.store.save(mf.state, snapshot)
            raise

    def save_unfinished(self) -> None:
        for mf in self.files.values():
            if mf.f.rel not in self.out.done:
                self.store.save(mf.state)  # what the next run continues from


def upload(client, bucket: str, prefix: str, todo: list[LocalFile], meter: Meter, cancel: CancelToken, *,
           part_size: int, threshold: int, compare_threshold: int, concurrency: int, store: StateStore,
           on_error: Callable[[BaseException], BaseException]) -> Outcome:
    """Send ``todo`` (key = prefix + rel). Raises Cancelled, or ``on_error(first failure)``."""
    up = _Uploader(client, bucket, prefix, meter, store, part_size=part_size, threshold=threshold,
                   compare_threshold=compare_threshold)
    unregister = cancel.on_cancel(up.stop.set)
    try:
        up.queue_all(todo, on_error)
        up.run_workers(concurrency, cancel)
    finally:
        unregister()
    up.save_unfinished()
    if cancel.cancelled:
        raise Cancelled("upload")
    if up.failure:
        raise on_error(up.failure[0])
    return up.out
