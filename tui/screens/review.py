"""Step 7 — Review: the whole run as a shell script (``core.pipeline.plan_script``) and the recipe it
came from (``core.recipe.dumps_recipe``). Ctrl+S saves both next to the state; Ctrl+Y copies the script
to the clipboard (OSC 52 terminals). Next starts the run; a line says what an earlier run of the work folder did.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static, TabbedContent, TabPane

from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.base.errors import WizardError

from ..widgets.codeview import CodeView
from .base import StepScreen


def last_run_line(steps) -> str:
    """What an earlier run of this work folder did (its state file), in one line; "" when none ran."""
    done = [s for s in steps if s.status in ("done", "skipped")]
    stopped = next((s for s in steps if s.status in ("failed", "cancelled")), None)
    if stopped is not None:
        return f"an earlier run stopped at {stopped.title} ({stopped.status}); Run ▶ resumes there"
    if done and len(done) == len(steps):
        return "an earlier run finished every step; Run ▶ redoes only what the answers changed"
    if done:
        return f"an earlier run finished {len(done)} of {len(steps)} steps; Run ▶ resumes after them"
    return ""


class ReviewScreen(StepScreen):
    STEP = "review"
    NEXT_LABEL = "Run ▶"
    BINDINGS = [Binding("ctrl+s", "save", "Save script+recipe"), Binding("ctrl+y", "copy", "Copy script")]

    def __init__(self) -> None:
        super().__init__()
        self.script = ""
        self.recipe_text = ""
        self.problems: list = []

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="review-problems")
        with TabbedContent(id="review-tabs"):
            with TabPane("Shell script", id="tab-script"):
                yield CodeView(language="bash", id="script", classes="preview")
            with TabPane("Recipe", id="tab-recipe"):
                yield CodeView(language="toml", id="recipe", classes="preview")

    def update_previews(self) -> None:
        from lmi_wizard.core import pipeline
        from lmi_wizard.core.wizard import recipe

        a = self.answers
        self.problems = [p for p in core_wizard.validate_all(a)]
        last = ""
        try:
            pipe = self.wizard.session.pipeline(a)
            self.script = pipe.plan_script()
            last = last_run_line(pipe.status())
        except WizardError as exc:
            self.script = f"# cannot plan: {exc}\n"
        self.recipe_text = recipe.dumps_recipe(a)
        self.query_one("#script", CodeView).set_text(self.script)
        self.query_one("#recipe", CodeView).set_text(self.recipe_text)
        box = self.query_one("#review-problems", Static)
        box.update("\n".join([("[$error]✗[/] " if p.blocking else "[$warning]![/] ") + escape(str(p))
                              for p in self.problems] + ([f"[dim]{escape(last)}[/dim]"] if last else [])))
        box.display = bool(self.problems) or bool(last)

    def next_blocker(self) -> str | None:
        for p in self.problems:
            if p.blocking:
                return f"fix first: {p}"
        return None

    def saved_paths(self) -> tuple[Path, Path]:
        work = core_wizard.work_path(self.answers, ".")
        return work / "lmi-wizard-plan.sh", work / "lmi-wizard-recipe.toml"

    def action_save(self) -> None:
        from lmi_wizard.core.base.fsutil import atomic_write_text

        script_path, recipe_path = self.saved_paths()
        try:
            script_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(script_path, self.script, mode=0o755)
            atomic_write_text(recipe_path, self.recipe_text)
        except (WizardError, OSError) as exc:
            self.say(f"✗ not saved: {exc}")
            return
        self.say(f"saved {script_path} and {recipe_path}")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.script)
        self.say("script copied to the clipboard")
