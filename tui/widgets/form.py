"""Renders a ``core.wizard.Step`` as a form — generically, from its fields (the same description the
plain mode and the recipe loader use).

Kind → widget: bool → Checkbox; choice → Select (or an Input with suggestions when the choices are only
suggestions or unknown yet); secret → password Input; everything else → Input. Each edit is parsed by
``Field.parse`` and stored in the ``Answers`` at once; a value that does not parse stays in the widget
with the reason beside it and blocks Next. ``core.wizard.validate_step`` gives the messages beside the
fields (errors block Next, warnings are shown). Advanced fields appear with the "advanced" switch.
"""

from __future__ import annotations

from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Checkbox, Input, Label, Select, Static

from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.wizard import Answers, Field, Kind


def _tui(text: str) -> str:
    """A core message in the TUI's words (a recipe setting → the field's label, --resume → Ctrl+R)."""
    return core_wizard.for_tui(text) or ""


def widget_id(key: str) -> str:
    return "f-" + key.replace(".", "--")


def key_of(widget_id_: str | None) -> str | None:
    if not widget_id_ or not widget_id_.startswith("f-"):
        return None
    return widget_id_[2:].replace("--", ".")


class FieldInput(Input):
    """An ``Input`` that applies its own editing keys (Ctrl+U, Backspace, arrows …) in the order they were typed.

    Textual runs a widget's (non-priority) key bindings only once the key has bubbled up to the App, while
    printable keys are inserted by the field itself: typed fast, ``Ctrl+U`` then a paste ran the Ctrl+U *after*
    the paste (the paste vanished), a Backspace hit the wrong character (``00.21.0``). Here the field's own
    bindings run in its own queue, in order with the characters."""

    async def _on_key(self, event: events.Key) -> None:
        target = self.screen.focused if self.is_attached else None
        if target is not None and target is not self:
            # typed after a Tab that moved the focus on, but sent here before it moved: the field that has the
            # focus now gets it (in order, like the user meant; has_focus itself follows a message later)
            event.stop()
            event.prevent_default()
            if isinstance(target, Input):
                target.post_message(events.Key(event.key, event.character))
            else:
                self.app.simulate_key(event.key)
            return
        if event.key in ("tab", "shift+tab"):  # in typing order too (as a binding it ran after the next keys)
            event.stop()
            event.prevent_default()
            self.screen.focus_next() if event.key == "tab" else self.screen.focus_previous()
            return
        if not event.is_printable:
            bindings = self._bindings.get_bindings_for_key(event.key) if event.key in self._bindings.key_to_bindings \
                else []
            if bindings:
                event.stop()
                event.prevent_default()
                self._restart_blink()
                await self.run_action(bindings[0].action)
                return
        await super()._on_key(event)


class FieldRow(Vertical):
    """Label + widget on one line, the message (error / warning) under it."""

    DEFAULT_CLASSES = "field"

    def __init__(self, field: Field, answers: Answers) -> None:
        super().__init__(id="row-" + widget_id(field.key)[2:])
        self.field = field
        self.answers = answers
        self._choices: list[tuple[str, Any]] = []

    def compose(self) -> ComposeResult:
        f = self.field
        with Horizontal(classes="field-row"):
            yield Label(f.label + ("*" if f.required else ""), classes="field-label")
            with Horizontal(classes="field-input"):
                yield self._make_widget()
        yield Static("", classes="field-msg")

    def _select_options(self) -> list[tuple[str, Any]]:
        return [(c.title, c.value) for c in self.field.options(self.answers)]

    def _uses_select(self) -> bool:
        f = self.field
        return f.kind is Kind.CHOICE and f.strict_choices and bool(self._select_options())

    def _make_widget(self):
        f, a = self.field, self.answers
        value = a[f.key]
        wid = widget_id(f.key)
        tooltip = f.help or None
        if f.kind is Kind.BOOL:
            w = Checkbox("", bool(value), id=wid, compact=True)
        elif self._uses_select():
            self._choices = self._select_options()
            allow_blank = not any(v == value for _, v in self._choices)
            w = Select(self._choices, value=value if not allow_blank else Select.NULL, id=wid,
                       allow_blank=allow_blank, compact=True, prompt=f.placeholder or "choose…")
        else:
            suggest = None
            opts = [str(c.value) for c in f.options(a)]
            if opts:
                suggest = SuggestFromList(opts, case_sensitive=False)
            w = FieldInput(f.format(value), id=wid, placeholder=f.placeholder or "", password=f.kind is Kind.SECRET,
                      suggester=suggest, compact=True, select_on_focus=False)
            if f.kind is Kind.SECRET:
                w.value = ""
                w.placeholder = (f"set from ${f.env}" if f.env and value else f.placeholder or
                                 (f"or set ${f.env}" if f.env else ""))
        w.tooltip = tooltip
        return w

    def refresh_choices(self) -> None:
        """Dynamic choices (e.g. the checkout's example folders) may change with other answers."""
        if self.field.kind is not Kind.CHOICE or not callable(self.field.choices):
            return
        new = self._select_options()
        if new == self._choices:
            return
        try:
            w = self.query_one(f"#{widget_id(self.field.key)}")
        except Exception:
            return
        if isinstance(w, Select) and new:
            self._choices = new
            value = self.answers[self.field.key]
            w.set_options(new)
            if any(v == value for _, v in new):
                w.value = value
        elif not isinstance(w, Select) and new and not self._uses_select():
            # suggestions only (strict_choices=False): the text box stays, its suggestions follow
            w.suggester = SuggestFromList([str(v) for _, v in new], case_sensitive=False)
        elif not isinstance(w, Select) and new:
            # choices became known: swap the text box for a Select
            self._choices = []
            w.remove()
            self.query_one(".field-input").mount(self._make_widget())

    def sync_default(self, parse_failed: bool) -> None:
        """A default that depends on other answers (e.g. the short name from the model) follows them
        until the user types their own value."""
        f = self.field
        if parse_failed or f.kind is Kind.SECRET or self.answers.is_set(f.key):
            return
        try:
            w = self.query_one(f"#{widget_id(f.key)}")
        except Exception:
            return
        if w.has_focus:
            return
        value = self.answers[f.key]
        if isinstance(w, Input):
            text = f.format(value)
            if w.value != text:
                with w.prevent(Input.Changed):
                    w.value = text
        elif isinstance(w, Checkbox):
            if w.value != bool(value):
                with w.prevent(Checkbox.Changed):
                    w.value = bool(value)
        elif isinstance(w, Select):
            if value is not None and w.value != value and any(v == value for _, v in self._choices):
                with w.prevent(Select.Changed):
                    w.value = value

    def set_message(self, text: str, severity: str = "") -> None:
        try:
            msg = self.query_one(".field-msg", Static)
        except Exception:  # not composed yet (a check that lands while the form mounts): its on_mount revalidates
            return
        msg.update(text)
        msg.set_class(severity == "error", "error")
        msg.set_class(severity == "warning", "warn")
        msg.display = bool(text)


class StepForm(Vertical):
    """The fields of one core step. Posts :class:`StepForm.Changed` after every accepted edit."""

    class Changed(Message):
        def __init__(self, form: "StepForm", key: str) -> None:
            super().__init__()
            self.form = form
            self.key = key

    def __init__(self, step: core_wizard.Step | str, answers: Answers, *, advanced: bool = False,
                 id: str | None = None, exclude: tuple[str, ...] = (), hide_codes: tuple[str, ...] = ()) -> None:
        super().__init__(id=id or "form")
        self.step = core_wizard.step(step) if isinstance(step, str) else step
        self.answers = answers
        self.advanced = advanced
        self.exclude = exclude
        self.hide_codes = hide_codes  # findings the screen presents itself (its own preview and Next gate)
        self.parse_errors: dict[str, str] = {}
        self.problems: list[core_wizard.Finding] = []

    def compose(self) -> ComposeResult:
        for f in self.step.fields:
            if f.key in self.exclude:
                continue
            yield FieldRow(f, self.answers)
        if any(f.advanced for f in self.step.fields if f.key not in self.exclude):
            yield Checkbox("Show advanced settings", self.advanced, id="advanced-toggle", compact=True)
        yield Static("", id="step-problems", classes="field-msg")

    def on_mount(self) -> None:
        self.revalidate()

    # ---- answers ---------------------------------------------------------------------------
    def _store(self, key: str, raw: Any) -> None:
        f = self.answers.field(key)
        try:
            if f.kind is Kind.SECRET and raw == "":
                return  # an empty password box keeps the environment's value
            self.answers[key] = raw
        except WizardError as exc:
            fix = getattr(exc, "fix", None)
            self.parse_errors[key] = f.finding(getattr(exc, "message", str(exc)), fix).text()
        else:
            self.parse_errors.pop(key, None)
        self.revalidate()
        self.post_message(self.Changed(self, key))

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        key = key_of(event.input.id)
        if key:
            event.stop()
            f = self.answers.field(key)
            if key not in self.parse_errors and f.kind is not Kind.SECRET and \
                    f.format(self.answers[key]) == event.value:
                return  # unchanged (also the Changed an Input posts when it mounts): defaults stay dynamic
            self._store(key, event.value)

    @on(Checkbox.Changed)
    def _checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "advanced-toggle":
            event.stop()
            self.advanced = event.value
            try:
                self.app.show_advanced = event.value  # the choice carries over to the next screens
            except Exception:
                pass
            self.revalidate()
            self.post_message(self.Changed(self, "advanced"))
            return
        key = key_of(event.checkbox.id)
        if key:
            event.stop()
            if bool(self.answers[key]) == event.value and key not in self.parse_errors:
                return
            self._store(key, event.value)

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        key = key_of(event.select.id)
        if key:
            event.stop()
            if event.value is Select.NULL:
                return
            if self.answers[key] == event.value and self.answers.is_set(key):
                return
            self._store(key, event.value)

    def commit_widgets(self) -> None:
        """Every text field's current text into the answers (before quitting: the widget holds what was typed even
        when its Changed message is still on its way)."""
        for row in self.query(FieldRow):
            f = row.field
            if f.kind is Kind.SECRET:
                continue
            try:
                w = row.query_one(f"#{widget_id(f.key)}")
            except Exception:
                continue
            if isinstance(w, Input) and (f.key in self.parse_errors or f.format(self.answers[f.key]) != w.value):
                self._store(f.key, w.value)

    # ---- checks ------------------------------------------------------------------------------
    def revalidate(self) -> None:
        """Visibility of every row, messages beside fields, the step's own problems."""
        try:
            self.problems = [p for p in core_wizard.validate_step(self.step, self.answers, advanced=True)
                             if p.code not in self.hide_codes]
        except WizardError as exc:  # a broken check must never break the screen
            self.problems = [core_wizard.Finding("error", "check-failed", exc.problem, exc.fix, key=self.step.key)]
        by_key: dict[str, core_wizard.Finding] = {}
        for p in self.problems:
            if p.key not in by_key or (p.blocking and not by_key[p.key].blocking):
                by_key[p.key] = p
        shown_keys: set[str] = set()
        for row in self.query(FieldRow):
            f = row.field
            visible = f.is_visible(self.answers) and (self.advanced or not f.advanced or f.key in by_key
                                                      and by_key[f.key].blocking or f.key in self.parse_errors)
            row.display = visible
            if not visible:
                continue
            shown_keys.add(f.key)
            row.refresh_choices()
            row.sync_default(f.key in self.parse_errors)
            if f.key in self.parse_errors:
                row.set_message("✗ " + self.parse_errors[f.key], "error")
            elif f.key in by_key:
                p = by_key[f.key]
                row.set_message(("✗ " if p.blocking else "! ") + _tui(p.text()), p.severity)
            else:
                row.set_message("")
        rest = [p for p in self.problems if p.key not in shown_keys]
        try:
            box = self.query_one("#step-problems", Static)
        except Exception:  # still mounting: on_mount revalidates
            return
        box.update("\n".join(("✗ " if p.blocking else "! ") + _tui(p.text()) for p in rest))
        box.set_class(any(p.blocking for p in rest), "error")
        box.set_class(bool(rest) and not any(p.blocking for p in rest), "warn")
        box.display = bool(rest)

    def blocker(self) -> str | None:
        """Why this form blocks Next (first problem), or None."""
        if self.parse_errors:
            key, msg = next(iter(self.parse_errors.items()))
            return f"{self.answers.field(key).label}: {_tui(msg)}"
        for p in self.problems:
            if p.blocking:
                try:
                    label = self.answers.field(p.key).label
                except WizardError:
                    label = self.step.title
                return f"{label}: {_tui(p.text())}"
        return None

    def warnings(self) -> list[core_wizard.Finding]:
        return [p for p in self.problems if not p.blocking]
