"""The console display of a run (``lmi-wizard run``): one line per step event, progress bars in place on a
terminal and every 10 % in CI logs."""

from __future__ import annotations

import time

from lmi_wizard.core.base.events import RunEvent, StepEvent


class ConsoleProgress:
    """One line per event. On a terminal, progress bars update in place; otherwise (CI logs) a bar is
    printed at most every 10 % (and when it completes) and nothing uses carriage returns."""

    def __init__(self, stream, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._bar_open = False
        self._last_bucket: dict[str, int] = {}
        self._last_t: dict[str, float] = {}

    def _line(self, text: str) -> None:
        if self._bar_open:
            self.stream.write("\n")
            self._bar_open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, ev: RunEvent) -> None:
        if isinstance(ev, StepEvent):
            self._step(ev)
            return
        frac = ev.fraction
        if frac is None or (ev.done is None and ev.total is None):
            if ev.message:
                self._line(f"  {ev.step} | {ev.message}")
            return
        key = ev.step
        pct = int(frac * 100)
        unit = ev.unit or ""
        if unit == "B":
            amount = f"{_human(ev.done)}/{_human(ev.total)}"
        elif unit in ("‰", ""):
            amount = ""
        else:
            amount = f"{ev.done}/{ev.total} {unit}"
        msg = f"  {ev.step} | {pct:3d}% {amount} {ev.message or ''}".rstrip()
        if self.tty:
            now = time.monotonic()
            if pct < 100 and now - self._last_t.get(key, 0.0) < 0.1:
                return
            self._last_t[key] = now
            self.stream.write("\r" + msg[:200].ljust(80))
            self._bar_open = True
            if pct >= 100:
                self.stream.write("\n")
                self._bar_open = False
            self.stream.flush()
            return
        bucket = pct // 10
        if bucket == self._last_bucket.get(key) and pct < 100:
            return
        if pct >= 100 and self._last_bucket.get(key) == 10:
            return
        self._last_bucket[key] = bucket
        self._line(msg)

    def _step(self, ev: StepEvent) -> None:
        pos = ev.position
        if ev.status == "running":
            self._line(f"{pos} {ev.step}: {ev.title or ev.step}…")
        elif ev.status == "done":
            self._line(f"{pos} {ev.step}: done in {ev.seconds or 0:.1f} s — {ev.summary}")
            for n in ev.notes:
                self._line(f"      note: {n}")
        elif ev.status == "skipped":
            # a resumed run's still-valid step, or a step with nothing to do here (its summary says why)
            why = " (still valid)" if ev.message.endswith("still valid, skipped") else ""
            self._line(f"{pos} {ev.step}: skipped{why} — {ev.summary}")
        elif ev.status == "failed":
            fix = f" — fix: {ev.fix}" if ev.fix else ""
            self._line(f"{pos} {ev.step}: FAILED: {ev.error or ev.message}{fix}")
        elif ev.status == "cancelled":
            self._line(f"{pos} {ev.step}: cancelled")


def _human(n) -> str:
    from lmi_wizard.core.base.fmt import human_bytes

    return human_bytes(n or 0)
