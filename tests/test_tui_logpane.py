"""LogPane: batched writes from threads, bounded memory, follow/pause, search."""

from __future__ import annotations

import asyncio
import functools
import io
import re
import threading
import time

import pytest
from rich.console import Console
from textual.app import App, ComposeResult

from lmi_wizard.tui.widgets.logpane import LogPane


def async_test(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return run


class _LogApp(App):
    def __init__(self, max_lines: int = 1000):
        super().__init__()
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield LogPane(max_lines=self.max_lines, id="pane")


def painted(app) -> list[str]:
    """The rows the terminal shows: the screen composed the way ``export_screenshot`` does, as text."""
    w, h = app.size
    console = Console(width=w, height=h, file=io.StringIO(), record=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def painted_numbers(app, prefix: str = "line ") -> list[int]:
    """The numbers of the log lines on screen, top to bottom."""
    pat = re.compile(re.escape(prefix) + r"(\d+)\b")
    return [int(m.group(1)) for row in painted(app) for m in [pat.search(row)] if m]


async def _drain(pilot, pane: LogPane) -> None:
    for _ in range(50):
        await pilot.pause(0.06)
        if not pane._pending:
            break
    pane.flush()
    await pilot.pause()


@async_test
async def test_lines_from_a_thread_are_bounded_and_in_order():
    app = _LogApp(max_lines=1000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        t = threading.Thread(target=lambda: [pane.push(f"line {i}") for i in range(25_000)])
        t.start()
        t.join()
        await _drain(pilot, pane)
        log = pane.log_widget
        assert pane.received == 25_000
        assert log.line_count == 1000  # bounded
        assert log.lines[-1] == "line 24999"
        assert log.lines[0] == "line 24000"
        status = str(app.query_one("#log-status").render())
        assert "25,000 lines" in status and "last 1,000 shown" in status


@async_test
async def test_auto_scroll_follows_until_user_scrolls_up_then_resumes_on_end():
    app = _LogApp(max_lines=5000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        pane.push_many(f"a{i}" for i in range(300))
        await _drain(pilot, pane)
        log = pane.log_widget
        assert log.is_vertical_scroll_end and log.scroll_offset.y > 0
        log.scroll_to(y=10, animate=False, immediate=True)
        await pilot.pause()
        pane.push_many(f"b{i}" for i in range(300))
        await _drain(pilot, pane)
        assert log.scroll_offset.y == 10  # stayed where the user put it
        assert not pane.following
        await pilot.pause(0.2)
        assert "paused" in str(app.query_one("#log-status").render())
        log.focus()
        await pilot.press("end")
        await pilot.pause()
        assert pane.following
        pane.push_many(f"c{i}" for i in range(100))
        await _drain(pilot, pane)
        assert log.is_vertical_scroll_end and log.lines[-1] == "c99"


@async_test
async def test_search_jumps_to_matching_lines():
    app = _LogApp(max_lines=5000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        pane.push_many(["start"] + [f"noise {i}" for i in range(200)] + ["[TRT] ERROR: out of memory"]
                       + [f"noise {i}" for i in range(200)] + ["another error here"])
        await _drain(pilot, pane)
        pane.log_widget.focus()
        await pilot.press("slash")
        await pilot.press(*"error")
        await pilot.press("enter")
        await pilot.pause()
        # searching starts at the top of the view (the end, while following)
        assert pane._match_at == 402
        assert "line 403" in str(app.query_one("#log-status").render())
        await pilot.press("escape")
        await pilot.press("n")  # wraps around to the first match
        await pilot.pause()
        assert pane._match_at == 201
        assert pane.log_widget.scroll_offset.y == 199
        await pilot.press("N")
        assert pane._match_at == 402
        assert pane.find("no such text") == -1


async def _flood_and_watch(lines: int, max_lines: int, batch: int) -> list[tuple[int, int]]:
    """A thread pushes ``lines`` lines, ``batch`` per flush of the pane (a builder that prints steadily, so
    that once the buffer is full every flush prunes); while it does and after, the last painted line
    number is compared with the last line the widget holds. Returns (painted, held) samples."""
    app = _LogApp(max_lines=max_lines)
    samples = []
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)

        def flood():
            for i in range(0, lines, batch):
                pane.push_many(f"line {j}" for j in range(i, min(i + batch, lines)))
                while pane._pending:
                    time.sleep(0.002)

        t = threading.Thread(target=flood)
        t.start()
        while t.is_alive():
            await pilot.pause(0.05)
            if pane._written > max_lines:  # the buffer is full: every batch now prunes
                held = pane.log_widget.lines[-1]
                samples.append((painted_numbers(app)[-1], int(held.split()[1])))
        t.join()
        await _drain(pilot, pane)
        await pilot.pause(0.1)
        shown = painted_numbers(app)
        assert shown[-1] == lines - 1, f"painted tail ends at line {shown[-1]}, the last line is {lines - 1}"
        assert shown == list(range(shown[0], lines))  # consecutive rows, no stale row in between
        status = "\n".join(painted(app))
        assert f"{lines:,} lines" in status and "following" in status
        samples.append((shown[-1], lines - 1))
    return samples


@async_test
async def test_painted_tail_is_the_real_tail_after_30k_lines_with_20k_kept():
    # issue 13 §6b: after 30k lines the screen showed line 20,296 while the status said "following"
    samples = await _flood_and_watch(30_000, 20_000, 1000)
    assert all(p == h for p, h in samples), samples


@pytest.mark.slow
@async_test
async def test_painted_tail_is_the_real_tail_after_a_million_lines():
    samples = await _flood_and_watch(1_000_000, 20_000, 10_000)
    assert len(samples) > 1
    assert all(p == h for p, h in samples), [s for s in samples if s[0] != s[1]][:5]


@async_test
async def test_a_paused_view_keeps_its_lines_while_the_top_is_pruned():
    app = _LogApp(max_lines=1000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        pane.push_many(f"line {i}" for i in range(1000))
        await _drain(pilot, pane)
        log = pane.log_widget
        log.scroll_to(y=600, animate=False, immediate=True)
        await pilot.pause()
        before = painted_numbers(app)
        assert before[0] == 600
        pane.push_many(f"line {i}" for i in range(1000, 1300))  # prunes 300 from the top
        await _drain(pilot, pane)
        assert painted_numbers(app) == before
        assert not pane.following
        pane.push_many(f"line {i}" for i in range(1300, 2100))  # the lines read are pruned: the top stays
        await _drain(pilot, pane)
        assert painted_numbers(app)[0] == 1100 and log.scroll_offset.y == 0


@async_test
async def test_long_lines_scroll_horizontally_with_the_keys():
    app = _LogApp(max_lines=100)
    async with app.run_test(size=(60, 20)) as pilot:
        pane = app.query_one(LogPane)
        long = "line 0 " + " ".join(f"w{i:03d}" for i in range(20)) + " END"
        pane.push_many([long, "line 1 short"])
        await _drain(pilot, pane)
        await pilot.pause(0.2)  # Log measures widths in a worker
        log = pane.log_widget
        assert log.max_scroll_x > 0
        assert not any("END" in row for row in painted(app))
        await pilot.pause(0.1)
        assert "←/→ long lines" in str(app.query_one("#log-status").render())  # the pane says they go on
        log.focus()
        for _ in range(log.max_scroll_x):
            await pilot.press("right")
        await pilot.pause()
        assert any(row.rstrip().endswith("END") or " END " in row for row in painted(app))
        await pilot.press("home")
        await pilot.pause()
        assert log.scroll_offset.x == 0
