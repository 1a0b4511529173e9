"""Step 4 — Build flags: the intent form (``core.wizard`` build fields) and, beside it, the exact
command(s) this checkout's builder will run (``core.pipeline.previews.build_commands``: the run's own build
step → ``core.build.flags``), recomputed on every keystroke in a worker; validation messages sit beside the
fields, findings under the preview.
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
        from lmi_wizard.core.pipeline import previews

        worker = get_current_worker()
        try:
            preview = previews.build_commands(self.wizard.session.pipeline(answers),
                                              discover=self.wizard.show_advanced)
            text = preview.text
            flags_text = ("advanced flags this builder has: " + " ".join(preview.flag_names)
                          if preview.flag_names else "")
        except WizardError as exc:
            text, flags_text = f"# cannot render the command: {exc}", ""
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, text, flags_text)

    def _show(self, text: str, flags_text: str) -> None:
        self.query_one("#build-preview", Static).update(highlight(text, language="bash"))
        self.query_one("#build-flags", Static).update(escape(flags_text))
