"""The Textual wizard: one screen per step of ``core.steps``, answers saved as the user goes.

Everything shown comes from ``lmi_wizard.core``; this module only wires screens together:
the step order (and which steps apply, e.g. Triton config only for the Triton layout), the answer
store (saved to the state file on every change, debounced), and resuming at the last screen.

``WizardApp(environment=...)`` takes a ready detection report so tests and screenshots are
deterministic; without one the app detects in a worker thread (NVML never runs on the UI thread).
``pipeline_options`` are passed to ``core.pipeline.build_pipeline`` (endpoints, python, trtllm-build).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding

from lmi_wizard.core.wizard import recipe as core_recipe
from lmi_wizard.core.wizard import steps as core_steps
from lmi_wizard.core.base.errors import WizardError

from .screens import registry


class Session:
    """The answers (``core.steps.Answers``), the detection context and the state file (``core.recipe``).

    ``environment`` is a ``core.environment.EnvironmentReport`` given up front (tests, screenshots);
    otherwise the Environment screen gathers one in a worker and hands it here."""

    def __init__(self, *, state_path=None, environment: Any = None, pipeline_options: dict | None = None) -> None:
        self.ctx = core_steps.Context()
        self.environment = None
        self.pipeline_options = dict(pipeline_options or {})  # python, trtllm_build, endpoints (tests)
        self.load_problem: str | None = None
        try:
            self.state = core_recipe.load_state(state_path, ctx=self.ctx)
        except WizardError as exc:
            path = Path(state_path) if state_path else core_recipe.default_state_path()
            kept = path.with_name(path.name + ".damaged")
            try:  # never overwrite what could be a hand edit: keep it beside, start over
                os.replace(path, kept)
                self.load_problem = f"{exc.problem}; kept as {kept}, starting over"
            except OSError:
                self.load_problem = str(exc)
            self.state = core_recipe.WizardState(core_steps.Answers(ctx=self.ctx), None, None, path)
        self.answers: core_steps.Answers = self.state.answers
        self.run_result: Any = None  # what the Run screen produced, for Done
        if environment is not None:
            self.set_environment(environment)

    def set_environment(self, report: Any) -> None:
        """Detection facts into the context the fields consult."""
        self.environment = report
        gpu = getattr(report, "gpu", None)
        trt = getattr(report, "tensorrt_llm", None)
        if trt is not None:
            self.ctx.set("installed_trtllm", trt.version if trt.installed else None)
        if gpu is not None:
            self.ctx.set("gpus", list(gpu.gpus) if gpu.available else [])

    def pipeline(self, answers=None, **kw):
        """``core.pipeline.build_pipeline`` for these answers with this session's options."""
        from lmi_wizard.core.pipeline import engine as pipeline

        return pipeline.build_pipeline(answers if answers is not None else self.answers,
                                       **{**self.pipeline_options, **kw})

    @property
    def current(self) -> str | None:
        return self.state.last_step

    @current.setter
    def current(self, step: str) -> None:
        self.state.last_step = step

    def visible_steps(self) -> list[str]:
        return [s.key for s in core_steps.steps_for(self.answers)]

    def step_title(self, key: str) -> str:
        return core_steps.step(key).title

    def resume_step(self) -> str:
        steps = self.visible_steps()
        last = self.state.last_step
        if last in ("run", "done"):
            return "review"  # a run is only ever started by the user, on Review
        return last if last in steps else steps[0]

    def save(self) -> None:
        try:
            core_recipe.save_state(self.state)
        except WizardError as exc:  # a read-only config dir must not stop the wizard
            self.load_problem = f"answers not saved: {exc}"


class WizardApp(App):
    CSS_PATH = "wizard.tcss"
    TITLE = "lmi-wizard"
    SUB_TITLE = "TensorRT-LLM → LMI"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False),
    ]

    def __init__(self, *, state_path: str | os.PathLike | None = None, environment: Any = None,
                 pipeline_options: dict | None = None, start_at: str | None = None, watch_css: bool = False) -> None:
        super().__init__(watch_css=watch_css)
        self.session = Session(state_path=state_path, environment=environment,
                               pipeline_options=pipeline_options)
        self._start_at = start_at
        self._save_timer = None
        self.show_advanced = False
        self.clock = time.monotonic  # replaced by a fixed clock for deterministic snapshots
        self.mask_times = False
        self.lazy_first_form = os.environ.get("LMI_WIZARD_LAZY_FORM", "1") != "0"

    # ---- answers ---------------------------------------------------------------------------
    @property
    def answers(self) -> core_steps.Answers:
        return self.session.answers

    def answers_changed(self) -> None:
        """Debounced save: many keystrokes, one write."""
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(0.3, self.save_now)

    def save_now(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
            self._save_timer = None
        self.session.save()

    # ---- navigation ------------------------------------------------------------------------
    def steps(self) -> list[str]:
        return self.session.visible_steps()

    def step_bar(self, current: str) -> str:
        steps = self.steps()
        n = steps.index(current) + 1 if current in steps else 0
        title = self.session.step_title(current)
        rest = " · ".join(self.session.step_title(s) for s in steps[n:n + 3])
        return f"Step {n}/{len(steps)}  {title}" + (f"   next: {rest}" if rest else "")

    def previous_step(self, step: str) -> str | None:
        steps = self.steps()
        if step not in steps:
            return None
        i = steps.index(step)
        if i == 0 or step in ("done",):
            return None
        return steps[i - 1]

    def next_step(self, step: str) -> str | None:
        steps = self.steps()
        if step not in steps:
            return None
        i = steps.index(step)
        return steps[i + 1] if i + 1 < len(steps) else None

    def goto(self, step: str) -> None:
        self.session.current = step
        self.save_now()
        screen = registry.screen_for(step)
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def go_next(self, step: str) -> None:
        nxt = self.next_step(step)
        if nxt is not None:
            self.goto(nxt)

    def go_back(self, step: str) -> None:
        prev = self.previous_step(step)
        if prev is not None:
            self.goto(prev)

    def on_mount(self) -> None:
        if os.environ.get("LMI_WIZARD_THEME"):
            self.theme = os.environ["LMI_WIZARD_THEME"]
        start = self._start_at or self.session.resume_step()
        if self.session.load_problem:
            self.notify(self.session.load_problem, title="Saved answers not loaded", severity="warning",
                        timeout=15)
        if self.session.environment is None:
            self.detect_environment()
        self.goto(start)

    @work(thread=True, exclusive=True, group="environment")
    def detect_environment(self) -> None:
        """NVML and importlib.metadata off the UI thread; the screen showing it is told when it is in."""
        from lmi_wizard.core.facts import environment

        report = environment.gather(lookup_tags=False)
        self.call_from_thread(self._environment_detected, report)

    async def _environment_detected(self, report) -> None:
        self.session.set_environment(report)
        handler = getattr(self.screen, "_detected", None)
        if handler is not None:
            await handler(report)
        elif hasattr(self.screen, "refresh_next"):
            form = getattr(self.screen, "form", None)
            if form is not None:
                form.revalidate()
            self.screen.refresh_next()

    def on_unmount(self) -> None:
        """However the app ends, the last answers are on disk (the debounce timer may not have fired)."""
        if self._save_timer is not None:
            self.save_now()

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    async def action_quit(self) -> None:
        """Quit, keeping the answers. A run or clone in progress is cancelled first (its process group is
        killed by core), so nothing keeps building after the wizard is gone."""
        import asyncio

        self.save_now()
        busy = [w for w in self.workers if w.group in ("pipeline", "checkout-clone") and w.is_running]
        if busy:
            for screen in self.screen_stack:
                token = getattr(screen, "cancel_token", None)
                if token is not None:
                    token.cancel()
            try:
                await asyncio.wait_for(asyncio.gather(*(w.wait() for w in busy), return_exceptions=True), 10)
            except asyncio.TimeoutError:
                pass
        self.exit(0)


def main(args) -> int:
    state = getattr(args, "state", None)
    app = WizardApp(state_path=Path(state) if state else None)
    result = app.run()
    return int(result or 0)
