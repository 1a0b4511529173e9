"""The Textual wizard: one screen per step of ``core.wizard``, answers saved as the user goes.

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

from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.wizard.session import Session

from .screens import registry


def _pipeline_factory(answers, **kw):
    """``core.pipeline.build_pipeline`` (imported when a pipeline is first wanted)."""
    from lmi_wizard.core import pipeline

    return pipeline.build_run(answers, **kw)  # here, or on SageMaker (Review)


class WizardApp(App):
    CSS_PATH = "wizard.tcss"
    TITLE = "lmi-wizard"
    SUB_TITLE = "TensorRT-LLM → LMI"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False),
        Binding("ctrl+o", "new_model", "New model"),
    ]

    def __init__(self, *, state_path: str | os.PathLike | None = None, environment: Any = None,
                 pipeline_options: dict | None = None, start_at: str | None = None, watch_css: bool = False) -> None:
        super().__init__(watch_css=watch_css)
        self.session = Session(state_path=state_path, environment=environment,
                               pipeline_options=pipeline_options, pipeline_factory=_pipeline_factory)
        self._start_at = start_at
        self._save_timer = None
        self.show_advanced = False
        self.clock = time.monotonic  # replaced by a fixed clock for deterministic snapshots
        self.mask_times = False
        self.lazy_first_form = os.environ.get("LMI_WIZARD_LAZY_FORM", "1") != "0"

    # ---- answers ---------------------------------------------------------------------------
    @property
    def answers(self) -> core_wizard.Answers:
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

    def goto(self, step: str, *, save: bool = True) -> None:
        self.session.current = step
        if save:
            self.save_now()
        else:  # the first screen: its paint does not wait for a write (and an fsync) of what was just read
            self.answers_changed()
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
        self._quit_on_signals()
        self.goto(start, save=False)
        if self.session.environment is None:
            # off the first paint: NVML and the metadata scan run once the first screen is on the terminal
            # (a thread started earlier competes with the first paint for the interpreter)
            self.screen.call_after_refresh(self.detect_environment)

    def _quit_on_signals(self) -> None:
        """SIGTERM / SIGHUP (an SSH session closing) quit like the quit key: a run or clone in progress is
        cancelled and its process group killed (a SIGKILL of the wizard is covered by core's guard)."""
        import asyncio
        import signal

        self._signals_hooked: list = []
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, lambda: self.call_next(self.action_quit))
                self._signals_hooked.append((loop, sig, previous))
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / no signals here
            pass

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
        import signal

        for loop, sig, previous in getattr(self, "_signals_hooked", []):
            try:
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            except (RuntimeError, ValueError, TypeError):
                pass

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """New model is not offered on the Run screen (a run there is the model's; its footer has no room at 80
        columns); Done and every other screen offer it."""
        if action == "new_model" and getattr(self.screen, "STEP", None) == "run":
            return False  # hidden: the footer leaves it out
        return True

    def action_new_model(self) -> None:
        """Start over for another model: the model-specific answers (``core.wizard.MODEL_SECTIONS``: model, build,
        Triton values, tokenizer, destination, LMI) are cleared, environment and checkout kept; on to Model."""
        if any(w.group in ("pipeline", "checkout-clone") and w.is_running for w in self.workers):
            self.notify("a run or clone is in progress: cancel it first (Ctrl+X)", severity="warning")
            return
        cleared = core_wizard.start_new_model(self.answers)
        self.session.run_result = None
        self.goto("model")
        self.notify(f"New model: {len(cleared)} model answer(s) cleared; environment and checkout kept",
                    title="New model")

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    async def action_quit(self) -> None:
        """Quit, keeping the answers. A run or clone in progress is cancelled first (its process group is
        killed by core), so nothing keeps building after the wizard is gone."""
        import asyncio

        settle = getattr(self.screen, "settle_input", None)
        if settle is not None:  # no lost keystroke: what was typed before Ctrl+Q is in the answers
            await settle()
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
