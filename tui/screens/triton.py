"""Step 5 — Triton config (Triton layout only): the values form, a live diff of ``config.pbtxt`` against
the tag's template, and the placeholder review — every ``${…}`` left, with line, field and whether it
blocks; a row can be filled (Enter) or, when optional, deleted (Delete: its key goes to
``triton.delete_params``, so only that parameters block goes). Next is disabled while anything
blocks or the file does not parse.

The template comes from the checkout; the fill is ``core.wizard.triton_config.fill_config`` (the tag's
fill_template.py semantics, decoupled, engine path, optional blocks) — the same function the run uses.
"""

from __future__ import annotations


from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.highlight import highlight
from textual.widgets import DataTable, Input, Label, Static

from lmi_wizard.core.wizard import triton_config
from lmi_wizard.core.base.errors import WizardError

from .base import StepScreen


def filled_config(answers, template: str):
    """(text, check report, notes): what the run's config step writes — ``core.wizard.triton_config.fill_config``,
    the same function the run and the schema's gate use, in memory."""
    res = triton_config.fill_config(answers, template, path="tensorrt_llm/config.pbtxt")
    return res.text, res.report, res.notes


class TritonScreen(StepScreen):
    STEP = "triton"
    GATE_CODES = ("blocking-placeholder", "pbtxt-parse", "triton-fill")  # the placeholder review shows them
    BINDINGS = [Binding("delete", "delete_row", "Delete block", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.report = None
        self.problem: str | None = None
        self._filling: str | None = None
        self._filling_param: str | None = None

    def compose_extra(self) -> ComposeResult:
        yield Static("Placeholders left in config.pbtxt (Enter: fill · Delete: drop an optional block)",
                     classes="section-title")
        yield DataTable(id="placeholders", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="fill-row"):
            yield Label("", id="fill-label")
            yield Input(id="fill-value", compact=True)
        yield Static("", id="pbtxt-status")
        yield Static("config.pbtxt (diff against the template)", classes="section-title")
        yield Static("", id="pbtxt-diff", classes="preview")

    def on_mount(self) -> None:
        t = self.query_one("#placeholders", DataTable)
        # widths follow the content: parameter names are never cut (max_tokens_in_paged_kv_cache, …)
        # and the kind comes before the (long) field path, so it is on screen at 80 columns
        t.add_column("line")
        t.add_column("placeholder")
        t.add_column("kind")
        t.add_column("field")
        self.query_one("#fill-row").display = False

    def update_previews(self) -> None:
        from lmi_wizard.core import triton as pbtxt

        tpath = triton_config.template_path(self.answers)
        table = self.query_one("#placeholders", DataTable)
        table.clear()
        status = self.query_one("#pbtxt-status", Static)
        diff_box = self.query_one("#pbtxt-diff", Static)
        if tpath is None:
            self.report, self.problem = None, None
            status.update("[$warning]![/] the checkout is not there yet, so the template cannot be shown; the Run "
                          "step fills it with these values and stops if anything is left that blocks.")
            diff_box.update("")
            return
        template = tpath.read_text(encoding="utf-8")
        try:
            text, report, notes = filled_config(self.answers, template)
        except WizardError as exc:
            self.report, self.problem = None, str(exc)
            status.update(f"[$error]✗[/] {escape(str(exc))}")
            diff_box.update("")
            return
        self.report, self.problem = report, None
        for f in report.findings:
            kind = "[b $error]blocking[/]" if f.kind == "blocking" else "optional"
            table.add_row(str(f.line), "${" + f.name + "}", kind, f.field, key=f"{f.name}@{f.line}")
        parts = [f"{len(report.blocking)} blocking, {len(report.optional)} optional"]
        if report.parses is False:
            parts.append(f"[$error]does not parse: {escape(report.parse_error or '')}[/]")
        elif report.parses:
            parts.append("[$success]parses as inference.ModelConfig[/]")
        parts.append(f"decoupled: {report.decoupled.get('value')}")
        status.update(" · ".join(parts) + ("\n" + "\n".join(escape(n) for n in notes) if notes else ""))
        diff = pbtxt.unified_diff(template, text, "tensorrt_llm/config.pbtxt", context=1)
        diff_box.update(highlight(diff or "# no change", language="diff"))

    def next_blocker(self) -> str | None:
        if self.problem:
            return self.problem
        if self.report is not None:
            if self.report.blocking:
                f = self.report.blocking[0]
                return f"${{{f.name}}} (line {f.line}) blocks: fill it"
            if self.report.parses is False:
                return "config.pbtxt does not parse"
        return super().next_blocker()

    def _sync_field(self, key: str) -> None:
        """Show an answer changed from the table in its form box too (when the advanced row is there)."""
        from ..widgets.form import widget_id

        try:
            box = self.query_one(f"#{widget_id(key)}", Input)
        except Exception:  # noqa: BLE001 - the row is not mounted (form not there yet)
            return
        text = self.answers.field(key).format(self.answers[key])
        if box.value != text:
            with box.prevent(Input.Changed):
                box.value = text

    # ---- row actions --------------------------------------------------------------------------
    def _current_name(self) -> str | None:
        t = self.query_one("#placeholders", DataTable)
        if not t.row_count:
            return None
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        return key.split("@", 1)[0] if key else None

    @on(DataTable.RowSelected, "#placeholders")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        name = (event.row_key.value or "").split("@", 1)[0]
        if not name:
            return
        self._filling = name
        f = next((x for x in self.report.findings if x.name == name), None) if self.report else None
        self._filling_param = f.param if f is not None else None
        self.query_one("#fill-label", Label).update(f"value for ${{{name}}}: ")
        row = self.query_one("#fill-row")
        row.display = True
        box = self.query_one("#fill-value", Input)
        box.value = str((self.answers["triton.substitutions"] or {}).get(name, ""))
        box.focus()

    @on(Input.Submitted, "#fill-value")
    def _fill_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._filling:
            return
        subs = dict(self.answers["triton.substitutions"] or {})
        subs[self._filling] = event.value
        self.answers["triton.substitutions"] = subs
        self._sync_field("triton.substitutions")
        if self._filling_param and self._filling_param in (self.answers["triton.delete_params"] or []):
            # filled: its block is kept
            self.answers["triton.delete_params"] = [p for p in self.answers["triton.delete_params"]
                                                    if p != self._filling_param]
            self._sync_field("triton.delete_params")
        self.say(f"${{{self._filling}}} = {event.value}")
        self._filling = self._filling_param = None
        self.query_one("#fill-row").display = False
        self.safe_previews()
        self.changed()
        self.query_one("#placeholders", DataTable).focus()

    def action_delete_row(self) -> None:
        name = self._current_name()
        if not name or self.report is None:
            return
        f = next((x for x in self.report.findings if x.name == name), None)
        if f is None:
            return
        if f.kind == "blocking" or not f.param:
            self.say(f"${{{name}}} blocks and cannot be deleted (Triton needs that field): fill it (Enter)")
            return
        # this one block only (triton.delete_params); the other optional rows stay as they are
        subs = dict(self.answers["triton.substitutions"] or {})
        if name in subs:
            subs.pop(name)
            self.answers["triton.substitutions"] = subs
            self._sync_field("triton.substitutions")
        named = list(self.answers["triton.delete_params"] or [])
        if f.param not in named:
            self.answers["triton.delete_params"] = named + [f.param]
            self._sync_field("triton.delete_params")
        if self.form is not None:
            self.form.revalidate()
        self.say(f"the parameters block {f.param} will be deleted (the backend uses its default)")
        self.safe_previews()
        self.changed()
