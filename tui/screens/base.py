"""The frame every step screen shares: title + step bar, body, message line, Back/Next, footer.

Keyboard first: Esc = Back (answers are kept: every change is saved as it happens), Ctrl+N = Next,
Tab moves between fields, Ctrl+Q quits (answers saved; reopening resumes at this step).
A screen says whether Next is allowed (``next_blocker``) and the frame disables the button and shows why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from lmi_wizard.core import wizard as core_wizard

from ..widgets.form import StepForm

if TYPE_CHECKING:
    from ..app import WizardApp


class StepScreen(Screen):
    """Base class. Subclasses set ``STEP`` (the core step id) and implement ``compose_body``."""

    STEP: str = ""
    TITLE_TEXT: str = ""
    NEXT_LABEL: str = "Next ▶"
    SCROLL_BODY: bool = True
    #: codes of the step's gate findings this screen presents itself (a preview and its own Next reason)
    GATE_CODES: tuple[str, ...] = ()

    BINDINGS = [
        Binding("escape", "back", "Back", priority=False),
        Binding("ctrl+n", "next", "Next", priority=True),
    ]

    @property
    def wizard(self) -> "WizardApp":
        return self.app  # type: ignore[return-value]

    @property
    def answers(self):
        """The wizard's ``core.wizard.Answers`` (every edit is saved to the state file)."""
        return self.wizard.answers

    @property
    def form(self) -> StepForm | None:
        try:
            return self.query_one(StepForm)
        except Exception:
            return None

    # ---- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self.wizard.step_bar(self.STEP), id="stepbar")
        if self.SCROLL_BODY:
            with VerticalScroll(id="body"):
                yield from self.compose_body()
        else:
            yield from self.compose_body()
        with Horizontal(id="nav"):
            yield Button("◀ Back", id="back", compact=True)
            yield Static("", id="message")
            yield Button(self.NEXT_LABEL, id="next", variant="primary", compact=True)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """Default body: the step's help, its fields (generic form), then ``compose_extra``."""
        help_text = core_wizard.step(self.STEP).help
        if help_text:
            yield Static(help_text, classes="muted step-help")
        yield from self.compose_before_form()
        if core_wizard.step(self.STEP).fields:
            if self.wizard.lazy_first_form:
                # the very first screen: paint the frame and cards first, mount the fields right after
                self.wizard.lazy_first_form = False
                self._lazy_form = True
                yield Vertical(id="form-slot")
            else:
                yield StepForm(self.STEP, self.answers, advanced=self.wizard.show_advanced,
                                   hide_codes=self.GATE_CODES)
        yield from self.compose_extra()

    def compose_before_form(self) -> ComposeResult:
        yield from ()

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def update_previews(self) -> None:
        """Hook: recompute what depends on the answers (called after every accepted edit)."""

    def safe_previews(self) -> None:
        """A preview that fails (a bug in core, an unreadable file) says so; it never takes the wizard down."""
        try:
            self.update_previews()
        except Exception as exc:  # noqa: BLE001 - shown to the user instead of a traceback
            self.preview_error = f"✗ preview failed: {type(exc).__name__}: {exc}"
            self.say(self.preview_error)
        else:
            self.preview_error = None

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            err = event.worker.error
            self.say(f"✗ {event.worker.group} failed: {type(err).__name__}: {err}")

    @on(StepForm.Changed)
    def _form_changed(self, event: StepForm.Changed) -> None:
        self.safe_previews()
        self.changed()

    _lazy_form = False

    def on_mount(self) -> None:
        self.query_one("#back", Button).disabled = self.wizard.previous_step(self.STEP) is None
        self.safe_previews()
        self.refresh_next()
        if self._lazy_form:
            self.call_after_refresh(self._mount_lazy_form)
        else:
            self.focus_first()

    async def _mount_lazy_form(self) -> None:
        await self.query_one("#form-slot").mount(StepForm(self.STEP, self.answers, advanced=self.wizard.show_advanced,
                                   hide_codes=self.GATE_CODES))
        self.safe_previews()
        self.refresh_next()
        self.focus_first()

    def focus_first(self) -> None:
        """Keyboard first: the cursor starts in the first field of the step."""
        from textual.widgets import Checkbox, Input, Select

        for w in self.query("#body Input, #body Select, #body Checkbox, #body DataTable, #body TextArea"):
            if w.display and w.focusable and not w.disabled and w.parent is not None and w.parent.display:
                w.focus(scroll_visible=False)  # the screen opens at its top (what it found, then the fields)
                return
        self.query_one("#next", Button).focus()

    # ---- Next gate ------------------------------------------------------------------------
    def next_blocker(self) -> str | None:
        """Why Next is not allowed now, or None (default: the form's first blocking problem)."""
        form = self.form
        return form.blocker() if form is not None else None

    preview_error: str | None = None

    def refresh_next(self) -> None:
        reason = self.next_blocker()
        try:
            self.query_one("#next", Button).disabled = reason is not None
            self.query_one("#message", Static).update(core_wizard.for_tui(reason or self.preview_error or ""))
        except Exception:
            pass

    def say(self, text: str) -> None:
        """The message line, in the TUI's words (``core.wizard.for_tui``: fixes name the field or the key)."""
        self.query_one("#message", Static).update(core_wizard.for_tui(text) or "")

    def changed(self) -> None:
        """Call after an answer changed: saves (debounced) and re-checks the Next gate."""
        self.wizard.answers_changed()
        self.query_one("#stepbar", Static).update(self.wizard.step_bar(self.STEP))
        self.refresh_next()

    # ---- navigation -----------------------------------------------------------------------
    def before_leave(self) -> str | None:
        """Hook: commit what the step computed; return an error text to stay."""
        return None

    def action_back(self) -> None:
        self.wizard.go_back(self.STEP)

    def action_next(self) -> None:
        reason = self.next_blocker()
        if reason:
            self.say(reason)
            self.app.bell()
            return
        err = self.before_leave()
        if err:
            self.say(err)
            return
        self.wizard.go_next(self.STEP)

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()
