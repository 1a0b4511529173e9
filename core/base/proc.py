"""Subprocesses: argv lists only, own process group, line streaming, cancel kills the whole group.

Every external command the wizard runs (git, the engine builders, LMI's partition tool) goes
through :func:`run_streaming` or :func:`run_capture`. Nothing here uses ``shell=True``.

No child outlives the wizard, however the wizard ends
------------------------------------------------------
Children run in their own session (a terminal's Ctrl-C or hang-up reaches only the wizard, which then
ends the child's group itself). For the ends where no code of ours runs (SIGKILL, the OOM killer, a
crash), every child's process group is registered with one *guard* process per wizard process: it holds
the read end of a pipe whose only write end is held by the wizard. The kernel closes that end when the
wizard process dies, whatever killed it; the guard reads end-of-file and kills every group still
registered (SIGTERM, then SIGKILL after a grace). Why a pipe and not ``prctl(PR_SET_PDEATHSIG)``: the
parent-death signal fires when the *thread* that forked the child exits (the TUI and the pipeline start
builders from worker threads) and reaches only the direct child, never the builder's own workers (mpirun
ranks, parallel build processes); a file descriptor belongs to the process, so the pipe closes exactly
when the wizard is gone, and the guard kills whole groups. The guard runs in its own session so that a
signal to the wizard's group cannot take it down with the wizard.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from .errors import Cancelled, WizardError
from .progress import CancelToken

_EOL = re.compile(rb"\r\n|\r|\n")

LineFn = Callable[[str, str], None]  # (stream name "out"/"err", line without newline)


@dataclass
class ProcResult:
    argv: list[str]
    returncode: int
    tail: list[str] = field(default_factory=list)  # last lines of combined output
    elapsed: float = 0.0
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.cancelled


def _split_lines(stream, chunk_size: int = 65536):
    """Yield lines ending in \n, \r\n or a lone \r (git and tqdm redraw progress with \r),
    as soon as each one is complete, without the line ending."""
    buf = b""
    pending_cr = False  # the previous chunk ended with \r: a leading \n belongs to it
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(chunk_size)
        if not chunk:
            break
        if pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        pending_cr = chunk.endswith(b"\r")
        buf += chunk
        start = 0
        for m in _EOL.finditer(buf):
            yield buf[start:m.start()]
            start = m.end()
        buf = buf[start:]
    if buf:
        yield buf


def _leader_gone(proc: subprocess.Popen) -> bool:
    """True once the leader has exited (reaped, or a zombie waiting to be reaped).

    Never blocks on Popen's wait lock, so it is safe from a signal handler that interrupted a
    ``proc.wait()`` in the same thread (a blocking wait there would stall until its timeout).
    """
    if proc.returncode is not None or proc.poll() is not None:
        return True
    try:
        with open(f"/proc/{proc.pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    except OSError:  # no /proc (macOS): fall back to poll() alone
        return False


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, from /proc (none where there is no /proc)."""
    out = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for n in names:
        if not n.isdigit():
            continue
        try:
            with open(f"/proc/{n}/stat", "rb") as fh:
                rest = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(rest) > 2 and int(rest[2]) == pgid and rest[0] not in (b"Z", b"X"):
            out.append(int(n))
    return out


def kill_group(proc: subprocess.Popen, grace: float = 1.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = proc.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while not _leader_gone(proc) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _leader_gone(proc):
            break
    # the leader is gone (or will not die); make sure no other member of the group survives
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------------------------- the guard
_GUARD_CODE = r"""
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
groups = {}
buf = b""
while True:
    chunk = os.read(0, 4096)
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for ln in lines:
        op, _, pgid = ln.decode().partition(" ")
        if op == "+":
            groups[int(pgid)] = 1
        elif op == "-":
            groups.pop(int(pgid), None)
def kill(sig):
    live = 0
    for g in list(groups):
        try:
            os.killpg(g, sig)
            live += 1
        except OSError:
            groups.pop(g, None)
    return live
if kill(signal.SIGTERM):
    end = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end and kill(0):
        time.sleep(0.05)
    kill(signal.SIGKILL)
"""
GUARD_GRACE = 2.0  # seconds between the guard's SIGTERM and SIGKILL


class _Guard:
    """The guard process of this wizard process (started on first use; see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: Optional[int] = None
        self._pid: Optional[int] = None
        self._owner = 0  # the pid that started it: a forked copy of the wizard starts its own

    def _ensure(self) -> Optional[int]:
        if self._fd is not None and self._owner == os.getpid():
            return self._fd
        r, w = os.pipe()  # both ends close-on-exec: no other child inherits the write end
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _GUARD_CODE, str(GUARD_GRACE)],
                                    stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, close_fds=True)
        except OSError:
            os.close(r)
            os.close(w)
            return None  # no guard: signals are still handled, only SIGKILL of the wizard is uncovered
        os.close(r)
        self._fd, self._pid, self._owner = w, proc.pid, os.getpid()
        self._proc = proc  # keep it: reaped by Popen's bookkeeping when it ends
        return w

    def _send(self, line: str) -> None:
        with self._lock:
            fd = self._ensure()
            if fd is None:
                return
            try:
                os.write(fd, line.encode())
            except OSError:  # the guard died (someone killed it): start another next time
                try:
                    os.close(fd)
                except OSError:
                    pass
                self._fd = None

    def watch(self, pgid: int) -> None:
        self._send(f"+ {pgid}\n")

    def unwatch(self, pgid: int) -> None:
        self._send(f"- {pgid}\n")

    @property
    def pid(self) -> Optional[int]:
        return self._pid


GUARD = _Guard()


# --------------------------------------------------------------------------------------------- children record
_recorders = threading.local()  # per thread: where run_streaming notes the children it starts


def set_recorder(rec) -> object:
    """Make ``rec`` (an object with ``started(proc, argv)`` and ``ended(proc)``) hear of every child this
    thread starts; returns the previous one (restore it with ``set_recorder(previous)``)."""
    prev = getattr(_recorders, "rec", None)
    _recorders.rec = rec
    return prev


def _notify(event: str, *args) -> None:
    rec = getattr(_recorders, "rec", None)
    if rec is not None:
        try:
            getattr(rec, event)(*args)
        except Exception:  # a record that cannot be written never stops the build
            pass


def _check_argv(argv: Sequence[str]) -> list[str]:
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of strings, never a shell string")
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise ValueError("empty argv")
    return argv


def run_streaming(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineFn | None = None,
    log_path: str | os.PathLike | None = None,
    cancel: CancelToken | None = None,
    timeout: float | None = None,
    tail_lines: int = 40,
    redact: Callable[[str], str] | None = None,
) -> ProcResult:
    """Run ``argv`` in its own process group and stream stdout/stderr line by line.

    ``on_line`` gets each line (from reader threads, in order per stream). ``log_path`` receives every
    line too (appended). Cancel or timeout kills the whole process group. Never raises for a non-zero
    exit: look at :attr:`ProcResult.returncode`. Raises WizardError when the program cannot start.
    """
    argv = _check_argv(argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=os.fspath(cwd) if cwd is not None else None,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own session => own process group
        )
    except FileNotFoundError:
        raise WizardError(f"program not found: {argv[0]}", f"install {Path(argv[0]).name} or check PATH") from None
    except PermissionError:
        raise WizardError(f"program not executable: {argv[0]}", "check its permissions") from None
    except NotADirectoryError:
        raise WizardError(f"working folder does not exist: {cwd}", "check the path") from None

    GUARD.watch(proc.pid)  # its group dies with the wizard, however the wizard ends
    _notify("started", proc, argv)
    tail: list[str] = []
    lock = threading.Lock()
    log_fh = open(log_path, "a", encoding="utf-8", errors="replace") if log_path else None

    def reader(stream, name: str) -> None:
        for raw in _split_lines(stream):
            line = raw.decode("utf-8", errors="replace")
            if redact is not None:
                line = redact(line)
            with lock:
                tail.append(line)
                if len(tail) > tail_lines:
                    del tail[0]
                if log_fh is not None:
                    log_fh.write(line + "\n")
            if on_line is not None:
                try:
                    on_line(name, line)
                except Exception:
                    pass
        stream.close()

    threads = [
        threading.Thread(target=reader, args=(proc.stdout, "out"), daemon=True),
        threading.Thread(target=reader, args=(proc.stderr, "err"), daemon=True),
    ]
    for t in threads:
        t.start()

    cancelled = threading.Event()

    def do_cancel() -> None:
        cancelled.set()
        kill_group(proc)

    unregister = cancel.on_cancel(do_cancel) if cancel is not None else (lambda: None)
    try:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            cancelled.set()
            kill_group(proc)
        except KeyboardInterrupt:
            kill_group(proc)
            raise
    finally:
        unregister()
        # the leader may be gone while children of its group still run; take them down too
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        GUARD.unwatch(proc.pid)
        _notify("ended", proc)
        for t in threads:
            t.join(timeout=5)
        if log_fh is not None:
            log_fh.close()
    return ProcResult(argv, proc.returncode, list(tail), time.monotonic() - start, cancelled.is_set())


def run_capture(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 120,
    cancel: CancelToken | None = None,
) -> subprocess.CompletedProcess:
    """Run a short command and capture its output (own process group, killed on timeout/cancel)."""
    argv = _check_argv(argv)
    out: list[str] = []
    err: list[str] = []

    def on_line(stream: str, line: str) -> None:
        (out if stream == "out" else err).append(line)

    res = run_streaming(argv, cwd=cwd, env=env, on_line=on_line, cancel=cancel, timeout=timeout, tail_lines=0)
    if res.cancelled and cancel is not None and cancel.cancelled:
        raise Cancelled(Path(argv[0]).name)
    rc = res.returncode if not res.cancelled else -9
    return subprocess.CompletedProcess(argv, rc, "\n".join(out) + ("\n" if out else ""),
                                       "\n".join(err) + ("\n" if err else ""))
