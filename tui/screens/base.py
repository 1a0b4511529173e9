"""The frame every step screen shares: title + step bar, body, message line, Back/Next, footer.

Keyboard first: Esc = Back (answers are kept: every change is saved as it happens), Ctrl+N = Next,
Tab moves between fields, Ctrl+Q quits (answers saved; reopening resumes at this step).
A screen says whether Next is allowed (``next_blocker``) and the frame disables the button and shows why.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import events, on
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
                self._early_keys = []  # typed before the fields are there: replayed into the first field
                self.AUTO_FOCUS = ""  # nothing focused meanwhile (a focused Next button would take a space)
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
        if self.focused is not None:  # cards above a field grow and shrink as one types: keep the field in view
            self.call_after_refresh(self._show_focused)

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
    #: keys typed before a lazily mounted form exists (None: no form pending); replayed once it is focused
    _early_keys: list | None = None
    _input_ready: asyncio.Event | None = None
    _first_field = None

    #: editing keys an Input takes (besides printable characters): buffered while the form is not mounted yet
    EDIT_KEYS = frozenset({"backspace", "delete", "ctrl+u", "ctrl+w", "ctrl+k", "ctrl+a", "ctrl+e", "left", "right",
                           "home", "end", "ctrl+left", "ctrl+right"})

    def on_key(self, event: events.Key) -> None:
        """No lost keystroke: what is typed before the fields are mounted is kept and replayed into the first one."""
        if self._early_keys is not None and (event.is_printable or event.key in self.EDIT_KEYS):
            self._early_keys.append((event.key, event.character))
            event.stop()
            event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        if self._early_keys is not None:
            self._early_keys.append(("paste", event.text))
            event.stop()
            event.prevent_default()

    async def _replay_early_keys(self) -> None:
        """Type the buffered keys into the focused field, in order, at once (directly: a posted key would skip the
        field's bindings such as Ctrl+U, and would race the keys typed after)."""
        from textual.widgets import Input

        target = self.focused or self._first_field
        if target is not None and self.focused is not target:
            self.set_focus(target, scroll_visible=False)  # now, not later: keys typed from here on go to it
        keys, self._early_keys = self._early_keys or [], None
        if isinstance(target, Input):
            for key, char in keys:
                if key == "paste":
                    target.insert_text_at_cursor(char)
                    continue
                bindings = target._bindings.get_bindings_for_key(key) if key in self.EDIT_KEYS else []
                if bindings:
                    await target.run_action(bindings[0].action)
                elif char:
                    target.insert_text_at_cursor(char)
        self._set_input_ready()

    def _set_input_ready(self) -> None:
        self.input_ready.set()

    @property
    def input_ready(self) -> asyncio.Event:
        """Set once the keys typed so far are in the fields (always, unless a lazily mounted form is pending)."""
        if self._input_ready is None:
            self._input_ready = asyncio.Event()
            if self._early_keys is None:
                self._input_ready.set()
        return self._input_ready

    async def settle_input(self, timeout: float = 5.0) -> None:
        """Before quitting: wait until every key already typed has reached its field, then put every field's text
        into the answers (the widget is the truth; the debounced save may not have seen the last keys)."""
        try:
            await asyncio.wait_for(self.input_ready.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        focused = self.focused
        if focused is not None:
            done = asyncio.Event()
            focused.call_later(done.set)  # runs after the keys already queued for the focused field
            try:
                await asyncio.wait_for(done.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        form = self.form
        if form is not None:
            form.commit_widgets()

    def on_mount(self) -> None:
        self.query_one("#back", Button).disabled = self.wizard.previous_step(self.STEP) is None
        if self.SCROLL_BODY:  # cards above the fields grow and shrink as one types: the focused field stays in view
            self.watch(self.query_one("#body"), "virtual_size", self._body_resized, init=False)
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
        await self._replay_early_keys()

    def focus_first(self) -> None:
        """Keyboard first: the cursor starts in the first field of the step."""
        from textual.widgets import Checkbox, Input, Select

        for w in self.query("#body Input, #body Select, #body Checkbox, #body DataTable, #body TextArea"):
            if w.display and w.focusable and not w.disabled and w.parent is not None and w.parent.display:
                self._first_field = w
                w.focus(scroll_visible=False)
                # the focused field is always visible (at 80x24 screen 1's cards push it below the fold): typing
                # into a field one cannot see is how a version silently became 0.12.09
                self.call_after_refresh(self._show_focused)
                return
        self.query_one("#next", Button).focus()

    def _body_resized(self, _old=None, _new=None) -> None:
        if self.focused is not None:
            self.call_after_refresh(self._show_focused)

    def _show_focused(self) -> None:
        w = self.focused or self._first_field
        if w is not None and w.is_mounted:
            w.scroll_visible(animate=False, immediate=True)

    def on_descendant_focus(self, event) -> None:
        """Whatever gets the focus (Tab, a click, a resume) is scrolled into view, once laid out."""
        self.call_after_refresh(self._show_focused)

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
