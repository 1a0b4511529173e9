"""Progress reporting and cancellation shared by every long step.

A long step takes ``progress: ProgressFn | None`` and ``cancel: CancelToken | None``.
``progress`` receives :class:`Progress` events; the step calls ``cancel.raise_if_cancelled()``
between units of work. Both are thread-safe so a worker thread can run the step while a UI polls.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Optional

from .errors import Cancelled


@dataclass
class Progress:
    step: str  # e.g. "clone", "build", "upload"
    message: str = ""  # one log line or a status text
    done: Optional[int] = None  # units done (bytes, files…)
    total: Optional[int] = None  # units in all, when known
    unit: str = ""  # "B", "files", …
    extra: dict = field(default_factory=dict)

    @property
    def fraction(self) -> Optional[float]:
        if self.done is None or not self.total:
            return None
        return min(1.0, self.done / self.total)


ProgressFn = Callable[[Progress], None]


def emit(progress: ProgressFn | None, step: str, message: str = "", **kw) -> None:
    if progress is not None:
        progress(Progress(step=step, message=message, **kw))


class CancelToken:
    """Set by the UI (Cancel button, Ctrl-C); polled by the step."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb()
            except Exception:  # a callback must never stop cancellation
                pass

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def on_cancel(self, cb: Callable[[], None]) -> Callable[[], None]:
        """Register ``cb`` to run on cancel (at once if already cancelled). Returns an unregister fn."""
        with self._lock:
            already = self._event.is_set()
            if not already:
                self._callbacks.append(cb)
        if already:
            cb()

        def remove() -> None:
            with self._lock:
                if cb in self._callbacks:
                    self._callbacks.remove(cb)

        return remove

    def raise_if_cancelled(self, what: str = "operation") -> None:
        if self._event.is_set():
            raise Cancelled(what)

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)
