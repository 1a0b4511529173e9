"""Typed events of a run: what a front end (the Run screen, plain mode, ``lmi-wizard run``) receives.

A pipeline ``progress`` callback gets, for each step, :class:`StepEvent` s (``status`` in
``running | done | skipped | failed | cancelled``) and, between them, the step's own
:class:`ProgressEvent` s (a bar when ``done``/``total`` are set, else a log line in ``message``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from .progress import Progress

ProgressEvent = Progress  # a long step's own progress (core.base.progress.Progress)

STEP_STATUSES = ("running", "done", "skipped", "failed", "cancelled")


@dataclass
class StepEvent:
    """One pipeline step changed status. ``index`` is 0-based (``-1``: not a known step), ``total`` the
    number of steps of the run."""

    step: str
    status: str  # running | done | skipped | failed | cancelled
    index: int
    total: int
    title: str = ""
    message: str = ""
    seconds: Optional[float] = None  # how long it ran (done, failed, skipped)
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    error: Optional[str] = None
    fix: Optional[str] = None

    @property
    def position(self) -> str:
        """``[3/9]``"""
        return f"[{self.index + 1}/{self.total}]"


RunEvent = Union[StepEvent, ProgressEvent]
RunEventFn = Callable[[RunEvent], None]
