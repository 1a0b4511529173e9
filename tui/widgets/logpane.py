"""A log pane that keeps up with a builder printing 10,000 lines per second.

* Producers (worker threads, subprocess readers) call :meth:`LogPane.push` / :meth:`push_many`
  from any thread; lines wait in a bounded buffer and are written to the ``Log`` in one
  ``write_lines`` batch per timer tick (per-line writes are ~35x slower, see NOTES.md).
* Memory is bounded twice: the pending buffer is a ``deque(maxlen=max_lines)`` and the ``Log``
  keeps ``max_lines``; the full output is in the log file core writes, not in the widget.
* Auto-scroll follows the end until the user scrolls up (``Log.write_lines`` only scrolls when
  the view is at the end); ``End`` / ``f`` follows again.
* Once the buffer is full every batch prunes as many lines as it adds: the line count and the scroll
  offset stay the same while the content moves, so Textual's ``Log`` (which only refreshes the rows it
  appended, now past the end) kept painting an old tail. ``TailLog`` repaints the view when lines were
  pruned, and keeps a paused view on the same lines (its offset moves up with the pruning).
* Long lines scroll horizontally (←/→, Home; the horizontal scrollbar); the log file keeps them whole.
* ``/`` opens a search box; Enter / ``n`` / ``N`` jump between matching lines.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Iterable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Log, Static

DEFAULT_MAX_LINES = 20_000
FLUSH_INTERVAL = 1 / 20


class TailLog(Log):
    """``Log`` whose painted rows are the real tail once ``max_lines`` prunes, with scroll keys."""

    BINDINGS = [
        Binding("up", "scroll_up", "Scroll up", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> "TailLog":
        lines = list(lines)
        following = self.is_vertical_scroll_end
        before = len(self._lines)
        y = self.scroll_offset.y
        super().write_lines(lines, scroll_end)
        added = sum(len(line.splitlines()) for line in lines)
        pruned = before + added - len(self._lines)
        if pruned > 0:
            self._render_line_cache.clear()  # its keys are row numbers, all of which moved
            if not following:  # the user reads these lines: keep them in view as the top is cut
                self.scroll_to(y=max(0, y - pruned), animate=False, immediate=True)
            self.refresh()  # every visible row changed although no size or offset did
        return self

    def action_scroll_home(self) -> None:
        self.scroll_to(x=0, y=0, animate=False)


class LogPane(Vertical):
    """Log + search + status line. Thread-safe ``push``; batched writes on a timer."""

    DEFAULT_CLASSES = "log-pane"
    BINDINGS = [
        Binding("slash", "search", "Search log", show=True),
        Binding("n", "find(1)", "Next match", show=False),
        Binding("N", "find(-1)", "Previous match", show=False),
        Binding("end,f", "follow", "Follow", show=False),
    ]

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES, *, flush_interval: float = FLUSH_INTERVAL,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self.flush_interval = flush_interval
        self._pending: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._received = 0  # every line ever pushed (also those pruned from view)
        self._written = 0
        self._query = ""
        self._match_at = -1
        self._widest = 0

    # ---- producer side (any thread) -------------------------------------------------------
    def push(self, line: str) -> None:
        with self._lock:
            self._pending.append(line)
            self._received += 1

    def push_many(self, lines: Iterable[str]) -> None:
        lines = list(lines)
        with self._lock:
            self._pending.extend(lines)
            self._received += len(lines)

    @property
    def received(self) -> int:
        return self._received

    # ---- UI side -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TailLog(max_lines=self.max_lines, auto_scroll=True, id="log")
        with Horizontal(classes="log-status-row"):
            yield Input(placeholder="search the log (Enter: next, Esc: close)", id="log-search", compact=True)
            yield Static("", id="log-status")

    def on_mount(self) -> None:
        self.query_one("#log-search", Input).display = False
        self.set_interval(self.flush_interval, self.flush)
        self._update_status()

    @property
    def log_widget(self) -> TailLog:
        return self.query_one("#log", TailLog)

    def flush(self) -> int:
        """Write what is pending in one batch. Returns the number of lines written."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        if not batch:
            if self.following != getattr(self, "_was_following", True) or \
                    self._wide() != getattr(self, "_was_wide", False):  # the user scrolled / a long line came
                self._update_status()
            return 0
        self.log_widget.write_lines(batch)
        self._widest = max(self._widest, max(map(len, batch)))  # characters: a cheap bound for the cells
        self._written += len(batch)
        self._update_status()
        return len(batch)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
        self.log_widget.clear()
        self._widest = 0
        self._update_status()

    @property
    def following(self) -> bool:
        log = self.log_widget
        return log.is_vertical_scroll_end or log.max_scroll_y == 0

    def _update_status(self) -> None:
        try:
            log = self.log_widget
            status = self.query_one("#log-status", Static)
        except Exception:  # not mounted yet / already removed
            return
        shown = log.line_count
        parts = [f"{self._received:,} lines"]
        if self._received > shown:
            parts.append(f"last {shown:,} shown (full log in the log file)")
        self._was_following = self.following
        parts.append("following" if self._was_following else "paused — End to follow")
        self._was_wide = self._wide()
        if self._was_wide:
            parts.append("←/→ long lines")
        if self._query:
            parts.append(f"/{self._query}: {self._match_text()}")
        status.update(" · ".join(parts))

    def _wide(self) -> bool:
        """A line written is wider than the view (measured here at write time: Log's own width comes later,
        from a worker)."""
        try:
            return self._widest > self.log_widget.scrollable_content_region.width
        except Exception:
            return False

    def _match_text(self) -> str:
        if self._match_at < 0:
            return "no match"
        return f"line {self._match_at + 1}"

    def action_follow(self) -> None:
        self.log_widget.scroll_end(animate=False)
        self._update_status()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.display = True
        box.focus()

    def find(self, query: str, direction: int = 1) -> int:
        """Scroll to the next line containing ``query`` (case-insensitive); -1 when none."""
        self._query = query
        q = query.lower()
        lines = self.log_widget.lines
        n = len(lines)
        if not q or not n:
            self._match_at = -1
            self._update_status()
            return -1
        start = self._match_at if self._match_at >= 0 else (self.log_widget.scroll_offset.y - 1 if direction > 0 else n)
        for step in range(1, n + 1):
            i = (start + direction * step) % n
            if q in lines[i].lower():
                self._match_at = i
                self.log_widget.scroll_to(y=max(0, i - 2), animate=False)
                break
        else:
            self._match_at = -1
        self._update_status()
        return self._match_at

    def action_find(self, direction: int = 1) -> None:
        if self._query:
            self.find(self._query, direction)

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value != self._query:
            self._match_at = -1
        self.find(event.value, 1)

    def on_key(self, event) -> None:
        box = self.query_one("#log-search", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.display = False
            self.log_widget.focus()
