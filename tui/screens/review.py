"""Step 7 — Review: the whole run as a shell script (``core.pipeline.plan_script``) and the recipe it
came from (``core.recipe.dumps_recipe``). Ctrl+S saves both next to the state; Ctrl+Y copies the script
to the clipboard (OSC 52 terminals). Nothing has run yet; Next starts the run.
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
        try:
            self.script = self.wizard.session.pipeline(a).plan_script()
        except WizardError as exc:
            self.script = f"# cannot plan: {exc}\n"
        self.recipe_text = recipe.dumps_recipe(a)
        self.query_one("#script", CodeView).set_text(self.script)
        self.query_one("#recipe", CodeView).set_text(self.recipe_text)
        box = self.query_one("#review-problems", Static)
        box.update("\n".join(("[$error]✗[/] " if p.blocking else "[$warning]![/] ") + escape(str(p))
                             for p in self.problems))
        box.display = bool(self.problems)

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
