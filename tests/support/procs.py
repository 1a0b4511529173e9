"""Process helpers for tests that start builders and must prove none is left behind (one copy each)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, waiting to be reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_gone(pgid: int) -> bool:
    """True when no live (non-zombie) process is left in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return False
    return True


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             proc: subprocess.Popen | None = None) -> Any:
    """Poll ``cond`` until it is truthy (returned); with ``proc``, fail at once (with its output) if that process
    ends first. The timeout only bounds a hang: it is never the thing asserted."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the process ended (rc={proc.returncode}) before {what}:\n{out!r}\n{err!r}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def restore_sigint() -> None:
    """preexec_fn for a child that must see Ctrl-C: a shell that starts pytest in the background (or CI) leaves
    SIGINT ignored, and ignored dispositions survive exec; Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_group(pgid: int | None) -> None:
    """SIGKILL a whole process group if any of it is left (cleanup after a failed assertion)."""
    if pgid is None:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
