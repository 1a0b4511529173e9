"""Step 9 — Done: the final tree, the destination listing (S3 or local) in a table, the three LMI
configurations, where the log and the recipe were saved, and the load test's result when it ran (ready time,
latency, tokens/s, the answer) — all from ``core.pipeline``'s RunReport."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from .base import StepScreen


def _size(n) -> str:
    from lmi_wizard.core.base.fmt import human_bytes

    return "" if n is None else human_bytes(n)


class DoneScreen(StepScreen):
    STEP = "done"
    NEXT_LABEL = "Quit"

    def compose_body(self) -> ComposeResult:
        rep = self.wizard.session.run_result
        if rep is None:
            yield Static("Nothing has run in this session yet: go back to Review and start the run.",
                         id="done-summary")
            return
        out = rep.outputs
        from lmi_wizard.core.serve import done_lines  # the load test: ready time, latency, tokens/s, the text

        serve = "".join(f"\n{escape(ln)}" for ln in done_lines(out.get("serve_test")))
        yield Static(f"[$success]✓[/] LMI model_id [b]{escape(str(rep.model_id))}[/b]\n"
                     f"log     {escape(rep.log_path)}\nrecipe  {escape(str(rep.recipe_path))}{serve}",
                     id="done-summary", classes="card")
        with TabbedContent(id="done-tabs"):
            with TabPane("Listing", id="tab-listing"):
                yield DataTable(id="listing", cursor_type="row", zebra_stripes=True)
            with TabPane("Tree", id="tab-tree"):
                yield Static(escape(out.get("tree", "")), id="tree", classes="preview")
            lmi = out.get("lmi") or {}
            with TabPane("serving.properties", id="tab-props"):
                yield Static(escape(lmi.get("serving_properties", "")), id="lmi-props", classes="preview")
            env = lmi.get("env", "")
            if isinstance(env, dict):
                env = "\n".join(f"{k}={v}" for k, v in env.items())
            with TabPane("env vars", id="tab-env"):
                yield Static(escape(env), id="lmi-env", classes="preview")
            with TabPane("/opt/ml/model", id="tab-extracted"):
                yield Static(escape(lmi.get("extracted", "")), id="lmi-extracted", classes="preview")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "back":  # Done has no Back (the run is over): the footer does not offer it
            return False
        return True

    def on_mount(self) -> None:
        rep = self.wizard.session.run_result
        if rep is not None:
            t = self.query_one("#listing", DataTable)
            t.add_columns("type", "name", "size", "modified")
            for e in rep.outputs.get("listing_entries", []):
                t.add_row(e.get("type", ""), e.get("name", ""), _size(e.get("size")),
                          "" if self.wizard.mask_times else (e.get("modified") or "")[:19].replace("T", " "))

    def action_next(self) -> None:
        self.wizard.save_now()
        self.app.exit(0)
