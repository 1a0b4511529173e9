"""Step 4 — Build flags: the intent form (``core.wizard`` build fields) and, beside it, the exact
command(s) this checkout's builder will run (``core.pipeline``'s build step → ``core.build``), recomputed
on every keystroke in a worker; validation messages sit beside the fields, findings under the preview.
"""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.highlight import highlight
from textual.widgets import Static
from textual.worker import get_current_worker

from lmi_wizard.core.base.errors import WizardError

from .base import StepScreen


def pipeline_step(session, answers, name: str):
    """(pipeline, its step called ``name``) for the answers, or (pipeline, None) when it does not apply."""
    pipe = session.pipeline(answers)
    for s in pipe.steps:
        if s.name == name:
            return pipe, s
    return pipe, None


class BuildScreen(StepScreen):
    STEP = "build"

    def compose_extra(self) -> ComposeResult:
        yield Static("Commands", classes="section-title")
        yield Static("", id="build-preview", classes="preview")
        yield Static("", id="build-flags", classes="muted")

    def update_previews(self) -> None:
        self.render_preview(self.answers.copy())

    @work(thread=True, exclusive=True, group="build-preview", exit_on_error=False)
    def render_preview(self, answers) -> None:
        worker = get_current_worker()
        try:
            pipe, step = pipeline_step(self.wizard.session, answers, "build")
            if step is None:
                text, flags_text = "# no build step for these answers", ""
            else:
                text = self._commands(step, answers, pipe)
                flags_text = self._discovered(step, answers, pipe)
        except WizardError as exc:
            text, flags_text = f"# cannot render the command: {exc}", ""
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, text, flags_text)

    @staticmethod
    def _commands(step, answers, pipe) -> str:
        """The rendered plan, one flag per line (``BuildPlan.preview``) with its findings; the pipeline's
        plan lines when it cannot be rendered yet (no checkout, no example folder, prebuilt, …)."""
        plan = None
        if (answers["build.method"] or "checkout") == "checkout":
            try:
                plan = step.render(answers, pipe.ctx, allow_guess=False)
            except (WizardError, OSError):
                plan = None
        if plan is None:
            return "\n".join(step.plan(answers, pipe.ctx))
        lines = [plan.preview()]
        lines += [f"# {f}" for f in plan.findings if f.level in ("error", "warning")]
        return "\n".join(lines)

    def _discovered(self, step, answers, pipe) -> str:
        """Names of every flag the builder has (what 'Advanced builder flags' accepts)."""
        if not self.wizard.show_advanced:
            return ""
        try:
            plan = step.render(answers, pipe.ctx, allow_guess=False)
        except (WizardError, OSError):
            return ""
        if plan is None:
            return ""
        from lmi_wizard.core.build import discover_flags

        names: list[str] = []
        for s in plan.steps:
            if s.builder is not None and s.builder.is_file():
                try:
                    names += [n for n in discover_flags(s.builder).names if n not in names]
                except WizardError:
                    pass
        return ("advanced flags this builder has: " + " ".join(names)) if names else ""

    def _show(self, text: str, flags_text: str) -> None:
        self.query_one("#build-preview", Static).update(highlight(text, language="bash"))
        self.query_one("#build-flags", Static).update(escape(flags_text))
