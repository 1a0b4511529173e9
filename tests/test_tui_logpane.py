"""LogPane: batched writes from threads, bounded memory, follow/pause, search."""

from __future__ import annotations

import asyncio
import functools
import threading

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
