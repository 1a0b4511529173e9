"""Step 6 — Tokenizer and destination: the tokenizer file set with the reason for each file (the
tutorial's patterns, widened for custom code / *.tiktoken; ``core.tokenizer.plan_tokenizer``, in a
worker since it may ask the hub), the destination (S3 URI or local folder), and the LMI ``model_id``
that follows, live, with the layout's rule checked (``core.wizard.lmi_model_id`` / ``core.layout``).
"""

from __future__ import annotations


from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from lmi_wizard.core.base import fmt
from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.base.errors import WizardError

from .base import StepScreen


class DestinationScreen(StepScreen):
    STEP = "destination"

    def __init__(self) -> None:
        super().__init__()
        self._tok_timer: Timer | None = None
        self._tok_for: tuple | None = None

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="model-id", classes="card")
        yield Static("Tokenizer files", classes="section-title")
        yield Static("", id="tokenizer-plan", classes="preview")

    def update_previews(self) -> None:
        a = self.answers
        layout = a.layout
        box = self.query_one("#model-id", Static)
        dest = core_wizard.destination_text(a)
        if not dest:
            box.update("[dim]Give a destination to see the LMI model_id.[/dim]")
        else:
            from lmi_wizard.core import layout as layout_mod

            try:
                model_id, findings = layout_mod.destination_findings(dest, layout)
            except WizardError as exc:
                model_id, findings = None, []
                box.update(f"[$error]✗[/] {escape(str(exc))}")
            else:
                rule = ("Triton layout: LMI gets the parent folder and finds tensorrt_llm/ one level down "
                        "(the two-folder rule)" if layout == "triton" else
                        "flat layout: LMI gets the folder itself; its config.json must hold build_config")
                lines = [f"[b]upload to[/b] {escape(dest)}",
                         f"[b]LMI model_id[/b] " + (f"[$success]{escape(model_id)}[/]" if model_id else "[$error]none[/]"),
                         f"[dim]{escape(rule)}[/dim]"]
                lines += [("[$error]✗[/] " if f.level == "error" else "[$warning]![/] ") + escape(f.problem)
                          + (f" — fix: {escape(f.fix)}" if f.fix else "") for f in findings]
                box.update("\n".join(lines))
        self._maybe_check_bucket()
        key = (a["tokenizer.source"], a["model.revision"], layout, tuple(a["tokenizer.extra_patterns"] or ()))
        if key != self._tok_for:
            self._tok_for = key
            if self._tok_timer is not None:
                self._tok_timer.stop()
            self.query_one("#tokenizer-plan", Static).update("[dim]looking at the tokenizer files…[/dim]")
            self._tok_timer = self.set_timer(0.4, lambda: self.plan_tokenizer(a.copy()))

    # ---- the bucket: one HeadBucket per bucket name (when credentials exist), its answer a rule of the step ----
    _bucket_timer: Timer | None = None
    _bucket_for: tuple | None = None

    def _maybe_check_bucket(self) -> None:
        a = self.answers
        dest = str(a["destination.uri"] or "")
        if not dest.lower().startswith("s3://") or not dest[5:].split("/", 1)[0]:
            return
        endpoint = a["destination.endpoint_url"] or self.wizard.session.pipeline_options.get("s3_endpoint")
        key = (dest[5:].split("/", 1)[0], endpoint, a["destination.region"], a["destination.profile"])
        if key == self._bucket_for:
            return
        self._bucket_for = key
        if self._bucket_timer is not None:
            self._bucket_timer.stop()
        self._bucket_timer = self.set_timer(0.6, lambda: self.check_bucket(*key))

    @work(thread=True, exclusive=True, group="bucket-check", exit_on_error=False)
    def check_bucket(self, bucket: str, endpoint, region, profile) -> None:
        from lmi_wizard.core import s3

        found = s3.bucket_problem(bucket, endpoint_url=endpoint, region=region, profile=profile)
        self.answers.ctx.set_bucket_missing(bucket, found.problem if found else None, found.fix if found else None)
        self.app.call_from_thread(self._bucket_checked)

    def _bucket_checked(self) -> None:
        if self.form is not None:
            self.form.revalidate()
        self.refresh_next()

    @work(thread=True, exclusive=True, group="tokenizer-plan", exit_on_error=False)
    def plan_tokenizer(self, a) -> None:
        from lmi_wizard.core.pipeline import previews

        worker = get_current_worker()
        src = a["tokenizer.source"]
        if not src:
            text = "give a tokenizer source (defaults to the model)"
        else:
            pipe = self.wizard.session.pipeline(a)
            try:
                text = self._plan_text(previews.tokenizer_plan(a, hf_endpoint=pipe.ctx.hf_endpoint))
            except WizardError as exc:
                text = f"[$warning]![/] {escape(str(exc))}\n[dim]The Run step fetches " \
                       f"*.json, *.txt, *.model (widened to custom tokenizer code) — never weights.[/dim]"
        if not worker.is_cancelled:
            self.app.call_from_thread(self.query_one("#tokenizer-plan", Static).update, text)

    @staticmethod
    def _plan_text(plan) -> str:
        from lmi_wizard.core import models

        lines = [f"{len(plan.files)} file(s), {fmt.human_bytes(plan.total_bytes)} from {escape(plan.source)}"]
        for f in plan.files[:14]:
            lines.append(f"  {escape(f.dest):<28} [dim]{escape(f.reason)}[/dim]")
        if len(plan.files) > 14:
            lines.append(f"  … and {len(plan.files) - 14} more")
        if plan.trust_remote_code:
            lines.append(f"[$warning]![/] trust_remote_code will be set: {escape(plan.trust_reason)}")
        lines += [f"[$warning]![/] {escape(w)}" for w in plan.warnings]
        if plan.skipped:
            more = len(plan.skipped) - 6
            lines.append(f"[dim]skipped {len(plan.skipped)}: "
                         + ", ".join(escape(s.path) for s in plan.skipped[:6])
                         + (f" and {more} more" if more > 0 else "") + "[/dim]")
        return "\n".join(lines)
