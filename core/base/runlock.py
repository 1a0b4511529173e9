"""The children of a run, written down in its work folder, so a new run never starts beside a live builder.

The run lock (an ``flock``) goes with the process that held it; a builder started by that run may still be
alive when the wizard was killed and its guard could not act (the guard itself killed, or the builder
ignoring SIGTERM for the grace). :class:`ChildrenRecord` keeps ``.lmi-wizard/children.json`` up to date
with every process group the run starts (pid, process group, the kernel's start time of the pid, the
program), and :func:`refuse_if_children_alive` refuses a new run while one of them is still the same
process (a pid reused by another program is not taken for the builder: the start time must match).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Optional

from . import proc as _proc
from .errors import WizardError
from .fsutil import atomic_write_text

CHILDREN_NAME = "children.json"


def start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (clock ticks since boot, field 22 of /proc/pid/stat), or None
    when the pid is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    return fields[19].decode()


def live_children(record: Path) -> list[dict]:
    """The entries of ``record`` whose process is still the one that was started, or whose process group
    still holds a process started after it (the builder's workers, when the builder itself is gone)."""
    try:
        entries = json.loads(Path(record).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for e in entries if isinstance(entries, list) else []:
        try:
            pid = int(e["pid"])
        except (KeyError, TypeError, ValueError):
            continue
        start = e.get("start")
        if start is None:
            continue
        if start_time(pid) == start:
            out.append(e)
            continue
        members = [m for m in _proc.group_members(int(e.get("pgid") or pid))
                   if (start_time(m) or "0").isdigit() and int(start_time(m) or 0) >= int(start)]
        if members:
            pgid = int(e.get("pgid") or pid)
            if pgid in members:  # the leader is there (its start time read differently): name it
                out.append(dict(e, pid=pgid))
            else:
                out.append(dict(e, pid=min(members), program=f"a process of {e.get('program') or '?'}'s group"))
    return out


def refuse_if_children_alive(record: Path, work_dir: Path) -> None:
    """WizardError naming the pid and the command to stop it when a child of an earlier run still runs."""
    alive = [e for e in live_children(record) if int(e["pid"]) != os.getpid()]
    if not alive:
        return
    e = alive[0]
    more = f" (and {len(alive) - 1} more)" if len(alive) > 1 else ""
    pgid = int(e.get("pgid") or e["pid"])
    raise WizardError(f"a process of an earlier run is still running in {work_dir}: pid {e['pid']} "
                      f"({e.get('program') or '?'}){more}",
                      f"wait for it to end, or stop it with `kill -TERM -- -{pgid}` (its whole process group; "
                      f"`kill -KILL -- -{pgid}` if it ignores TERM), then run again")


class ChildrenRecord:
    """Context manager: while active, every child started by this thread through :mod:`proc` is written to
    ``record`` (atomically) and taken off when it ends; the file is removed when the last one ends."""

    def __init__(self, record: Path) -> None:
        self.record = Path(record)
        self._live: dict[int, dict] = {}
        self._lock = threading.Lock()
        self._prev = None

    def started(self, proc, argv) -> None:
        with self._lock:
            self._live[proc.pid] = {"pid": proc.pid, "pgid": proc.pid, "start": start_time(proc.pid),
                                    "program": os.path.basename(str(argv[0])) if argv else "?",
                                    "wizard_pid": os.getpid()}
            self._write()

    def ended(self, proc) -> None:
        with self._lock:
            self._live.pop(proc.pid, None)
            self._write()

    def _write(self) -> None:
        if self._live:
            atomic_write_text(self.record, json.dumps(list(self._live.values()), indent=1))
        else:
            try:
                self.record.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> "ChildrenRecord":
        self._prev = _proc.set_recorder(self)
        return self

    def __exit__(self, *exc) -> None:
        _proc.set_recorder(self._prev)
