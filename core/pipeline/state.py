"""What a run leaves in ``<work>/.lmi-wizard/``: ``run-state.json`` (each step's record), ``run.log``, the lock.

A step's record holds what it produced (:func:`file_record`: paths, sizes, sha256 for files up to 16 MiB, size +
mtime beyond) and a digest of its inputs; ``--resume`` compares both (:func:`file_still_valid`, :func:`digest`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable

from ..base.errors import WizardError
from ..base.fsutil import atomic_write_text

RUN_DIR = ".lmi-wizard"
STATE_NAME = "run-state.json"
LOG_NAME = "run.log"
LOCK_NAME = "lock"
RECIPE_NAME = "recipe.toml"
HASH_LIMIT = 16 * 1024 * 1024  # files up to this size get a sha256; larger ones size + mtime
STATE_FORMAT = 1


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------------
# what a step produced


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_record(path: str | os.PathLike, check: str = "auto") -> dict:
    """``{path, size, mtime_ns, sha256, check}`` for one file. ``check``: ``hash`` (content), ``stat``
    (size + mtime), ``exists``, or ``auto`` (hash up to 16 MiB, stat beyond)."""
    p = Path(path)
    st = p.stat()
    if check == "auto":
        check = "hash" if st.st_size <= HASH_LIMIT else "stat"
    rec = {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "check": check}
    if check == "hash":
        rec["sha256"] = _sha256(p)
    return rec


def file_still_valid(rec: dict) -> bool:
    """Whether the file a :func:`file_record` describes is still there and unchanged."""
    p = Path(rec["path"])
    try:
        st = p.stat()
    except OSError:
        return False
    if not p.is_file():
        return False
    check = rec.get("check", "stat")
    if check == "exists":
        return True
    if st.st_size != rec.get("size"):
        return False
    if check == "stat":
        return st.st_mtime_ns == rec.get("mtime_ns")
    if check == "hash":
        if st.st_mtime_ns == rec.get("mtime_ns"):
            return True
        try:
            return _sha256(p) == rec.get("sha256")
        except OSError:
            return False
    return True


def digest(obj: Any) -> str:
    """A short stable digest of a JSON-able value (a step's inputs, what it produced)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------------
# run-state.json


def empty_state() -> dict:
    return {"format": STATE_FORMAT, "steps": {}}


def load_state(path: Path) -> dict:
    """The recorded state, or an empty one (missing, unreadable or of another format)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("format") == STATE_FORMAT:
            return data
    except (OSError, ValueError):
        pass
    return empty_state()


def save_state(path: Path, state: dict, redact: Callable[[str], str]) -> None:
    """Write the state atomically, redacted."""
    state["updated"] = now()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, redact(json.dumps(state, indent=2, default=str)) + "\n")


# --------------------------------------------------------------------------------------------------
# run.log and the lock


class RunLog:
    """The run's log file: one timestamped line per event, secrets redacted, thread-safe."""

    def __init__(self, path: Path, redact: Callable[[str], str]) -> None:
        self.path = path
        self.redact = redact
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8", errors="replace")

    def write(self, step: str, text: str) -> None:
        now_ = _dt.datetime.now().strftime("%H:%M:%S")
        lines = self.redact(str(text)).splitlines() or [""]
        with self._lock:
            if self._fh.closed:
                return
            for line in lines:
                self._fh.write(f"{now_} [{step}] {line}\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


class RunLock:
    """One run per work folder at a time: an exclusive ``flock`` on ``.lmi-wizard/lock`` (released by the
    kernel when the process dies, so a killed run never leaves a stale lock), holding the owner's pid."""

    def __init__(self, path: Path, work_dir: Path) -> None:
        self.path, self.work_dir, self._fd = path, work_dir, None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                owner = os.read(fd, 64).decode(errors="replace").strip() or "?"
            finally:
                os.close(fd)
            raise WizardError(f"another lmi-wizard run (pid {owner}) is using the work folder {self.work_dir}",
                              "wait for it to finish, or give this recipe its own [checkout] work_dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            finally:
                os.close(self._fd)  # closing drops the flock
                self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
