"""Step 8 — Run: ``core.pipeline`` runs in a worker thread; this screen only shows it.

* one log pane for every step's output (``LogPane``: thread-safe push, batched writes on a timer,
  bounded, searchable, follows until the user scrolls up);
* the step list with status and elapsed time, and a progress bar for the current step's transfer
  (clone / download / upload), both refreshed by a timer from counters the worker thread updates;
* Cancel (Ctrl+X) sets the ``CancelToken``: core kills the running process group;
* resumes an earlier run of the same work folder (``resume=True``): valid steps are skipped.
"""

from __future__ import annotations

import threading
import time

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, ProgressBar, Static

from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.base.events import StepEvent
from lmi_wizard.core.base.progress import CancelToken

from ..widgets.logpane import LogPane
from .base import StepScreen

ICONS = {"pending": "·", "running": "▶", "done": "✓", "skipped": "↷", "failed": "✗", "cancelled": "■"}


class RunScreen(StepScreen):
    STEP = "run"
    SCROLL_BODY = False
    NEXT_LABEL = "Done ▶"
    BINDINGS = [Binding("ctrl+x", "cancel_run", "Cancel run", priority=True),
                Binding("ctrl+r", "start", "Run again"),
                Binding("ctrl+f", "start_force", "Replace outputs")]

    def __init__(self) -> None:
        super().__init__()
        self.cancel_token: CancelToken | None = None
        self.running = False
        self.report = None
        self._lock = threading.Lock()
        self._steps: list[dict] = []  # name, title, status, started, elapsed
        self._bar = {"step": "", "done": None, "total": None, "message": ""}
        self._error: str | None = None
        self._pipe = None  # the Pipeline, or the RemotePipeline when Review chose SageMaker

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="run-top"):
            yield DataTable(id="run-steps", cursor_type="none", show_cursor=False)
            with Vertical(id="run-side"):
                yield Label("", id="bar-label")
                yield ProgressBar(id="bar", show_eta=False)
                yield Static("", id="run-status")
                yield Button("Cancel", id="cancel", variant="error", compact=True)
        yield LogPane(id="run-log")

    def on_mount(self) -> None:
        t = self.query_one("#run-steps", DataTable)
        t.add_column(" ", key="icon", width=1)
        t.add_column("step", key="title", width=26)
        t.add_column("time", key="time", width=6)
        self.set_interval(0.1, self._tick)
        self.call_after_refresh(self.action_start)  # after StepScreen.on_mount set the buttons

    def focus_first(self) -> None:
        self.query_one("#run-log #log").focus()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The footer shows only the keys that do something now: Cancel while running; Back, Run again and
        Run-replacing when stopped (a key that does nothing is not offered)."""
        if action == "cancel_run":
            return self.running
        if action == "next":
            return self.next_blocker() is None
        if action in ("back", "start", "start_force"):
            return not self.running and (action != "back" or self.wizard.previous_step(self.STEP) is not None)
        return True

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.query_one("#cancel", Button).display = running
        self.query_one("#back", Button).disabled = running or self.wizard.previous_step(self.STEP) is None
        self.refresh_bindings()

    # ---- the run ----------------------------------------------------------------------------------
    def action_start_force(self) -> None:
        """What ``--force`` is headless: outputs that exist and that this work folder's run did not make
        are replaced (only ever on this explicit key)."""
        self.action_start(force=True)

    def action_start(self, force: bool = False) -> None:
        if self.running:
            return
        from lmi_wizard.core import pipeline

        self.wizard.save_now()
        try:
            pipe = self.wizard.session.pipeline(self.answers, resume=True, force=force)
        except Exception as exc:  # noqa: BLE001 - WizardError or a bug: said on the screen
            self._finished(None, str(exc))
            return
        t = self.query_one("#run-steps", DataTable)
        t.clear()
        with self._lock:
            self._steps = [{"name": s.name, "title": s.title, "status": "pending", "started": None,
                            "elapsed": None} for s in pipe.steps]
        for s in self._steps:
            t.add_row(ICONS["pending"], s["title"], "", key=s["name"])
        self.report = None
        self._error = None
        self.cancel_token = CancelToken()
        self._set_running(True)
        self.query_one("#run-status", Static).update("")
        self.query_one("#run-log", LogPane).push(f"── run in {pipe.work_dir} (log: {pipe.run_dir / pipeline.LOG_NAME})")
        self._pipe = pipe
        self.refresh_next()
        self.run_pipeline(pipe, self.cancel_token, self.query_one("#run-log", LogPane))

    @work(thread=True, exclusive=True, group="pipeline")
    def run_pipeline(self, pipe, cancel: CancelToken, pane: LogPane) -> None:
        clock = self.wizard.clock

        def progress(ev) -> None:
            if isinstance(ev, StepEvent):
                status = ev.status
                with self._lock:
                    for s in self._steps:
                        if s["name"] == ev.step:
                            if status == "running":
                                s["started"] = clock()
                            elif ev.seconds is not None or s["started"] is not None:
                                s["elapsed"] = (clock() - s["started"]) if s["started"] is not None else 0.0
                            s["status"] = status
                    if status == "running":
                        self._bar.update(step=ev.step, done=None, total=None, message="")
                pane.push(("── " if status == "running" else "   ") + (ev.message or ""))
                if status == "failed" and ev.fix:
                    pane.push(f"   fix: {ev.fix}")
                return
            if (ev.extra or {}).get("event") == "job":  # a SageMaker job's state (RemotePipeline)
                with self._lock:
                    self._bar["message"] = str(ev.extra.get("status") or "")
            if ev.total:
                with self._lock:
                    self._bar.update(step=ev.step, done=ev.done, total=ev.total, message=ev.message or "")
                return
            if ev.message:
                pane.push(ev.message)

        try:
            report = pipe.run(progress=progress, cancel=cancel)
        except WizardError as exc:
            self.app.call_from_thread(self._finished, None, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a bug in core: said, never a traceback over the screen
            self.app.call_from_thread(self._finished, None, f"internal error: {type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._finished, report, None)

    def _tick(self) -> None:
        t = self.query_one("#run-steps", DataTable)
        now = self.wizard.clock()
        with self._lock:
            steps = [dict(s) for s in self._steps]
            bar = dict(self._bar)
        for s in steps:
            if s["name"] not in t.rows:
                continue
            el = s["elapsed"] if s["elapsed"] is not None else (now - s["started"] if s["started"] is not None else None)
            t.update_cell(s["name"], "icon", ICONS.get(s["status"], "?"))
            t.update_cell(s["name"], "time", f"{el:5.1f}s" if el is not None else "")
        if not self.running:
            return  # the bar and its label keep what _finished said (a stopped run does not animate)
        pb = self.query_one("#bar", ProgressBar)
        if bar["total"]:
            pb.update(total=bar["total"], progress=bar["done"] or 0)
            self.query_one("#bar-label", Label).update(escape(f"{bar['step']}: {bar['message']}"[:44]))
        else:
            pb.update(total=None)
            running = next((s["title"] for s in steps if s["status"] == "running"), "")
            state = f": {bar['message']}" if bar["message"] and running else ""  # a remote job's state
            self.query_one("#bar-label", Label).update(escape(f"{running}{state}"[:44]))

    def _finished(self, report, error: str | None) -> None:
        self._tick()
        self._set_running(False)
        self.report = report
        status = self.query_one("#run-status", Static)
        pane = self.query_one("#run-log", LogPane)
        if report is not None and report.ok:
            self.wizard.session.run_result = report
            status.update("[$success]✓ finished[/]")
            pane.push(f"── finished: LMI model_id {report.model_id}")
            pb = self.query_one("#bar", ProgressBar)
            pb.update(total=1, progress=1)
            self.say("finished — Next shows the result")
        else:
            self._error = error or (report.error if report else "stopped")
            fix = (report.fix if report else None) or ""
            where = f" at {report.stopped_at}" if report is not None and report.stopped_at else ""
            status.update(f"[$error]✗ stopped{escape(where)}[/]")
            # the bar stops where the run stopped: a transfer keeps its count, a step without one shows empty
            with self._lock:
                total, done = self._bar["total"], self._bar["done"]
            self.query_one("#bar", ProgressBar).update(total=total or 1, progress=(done or 0) if total else 0)
            self.query_one("#bar-label", Label).update(escape(f"stopped{where}"))
            pane.push(f"── stopped{where}: {self._error}" + (f" — fix: {fix}" if fix else ""))
            keys = "Ctrl+R runs again" + (", Ctrl+F runs replacing the outputs"
                                          if "--force" in f"{self._error} {fix}" else "")
            self._error = f"✗ {self._error}" + (f" — fix: {fix}" if fix else "") + f"  ({keys})"
        self.refresh_next()
        self.refresh_bindings()

    def action_cancel_run(self) -> None:
        if self.running and self.cancel_token is not None:
            self.cancel_token.cancel()
            note = getattr(self._pipe, "cancel_note", None) or "stopping the running process group…"
            self.query_one("#run-log", LogPane).push(f"── cancelling ({note})")

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel_run()

    # ---- navigation ---------------------------------------------------------------------------------
    def next_blocker(self) -> str | None:
        if self.running:
            return "running… (Ctrl+X cancels)"
        if self.report is None or not self.report.ok:
            return self._error or "the run has not finished"
        return None

    def action_back(self) -> None:
        if self.running:
            self.say("the run is still going: cancel it first (Ctrl+X)")
            return
        super().action_back()
