"""Step 3 — Model: the model (Hugging Face id or local folder, validated as typed), the example folder
list of the checkout with a filter, and what the model's config.json says (architecture, size estimate,
whether LMI would compile it itself). Data from ``core.models``; fields from ``core.wizard``.
"""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.base.errors import WizardError

from .base import StepScreen


def model_card(cfg, answers, jit, suggested: str | None) -> str:
    """Console markup for a ModelConfig (formatting only)."""
    from lmi_wizard.core import models
    from lmi_wizard.core.base import fmt

    s = cfg.summary()
    arch = ", ".join(s["architectures"]) or s["model_type"] or "unknown architecture"
    dtype = answers["build.dtype"] or "float16"
    tp = answers["build.tp"] or 1
    wb = cfg.weight_bytes(dtype) if s["parameters_estimate"] else None
    lines = [f"[b]{escape(arch)}[/b] · {fmt.human_params(s['parameters_estimate'])} parameters (estimate)",
             "  " + " · ".join(f"{name} {'?' if s[key] is None else s[key]}"  # a value config.json lacks: ?
                               for name, key in (("hidden", "hidden_size"), ("layers", "num_hidden_layers"),
                                                 ("heads", "num_attention_heads"), ("vocab", "vocab_size")))
             + f" · {escape(str(s['torch_dtype'] or '?'))}"]
    if wb:
        per = f", {fmt.human_bytes(wb / tp)} per GPU at TP {tp}" if tp > 1 else ""
        lines.append(f"  weights ≈ {fmt.human_bytes(wb)} in {dtype}{per}")
    if suggested:
        lines.append(f"  example folder for this architecture: [b]{escape(suggested)}[/b]")
    if jit is not None:
        lines.append(("[$warning]![/] " if jit.supported else "  ") + escape(jit.reason))
    return "\n".join(lines)


class ModelScreen(StepScreen):
    STEP = "model"

    def __init__(self) -> None:
        super().__init__()
        self._examples = []
        self._load_timer: Timer | None = None
        self._loaded_for: str | None = None
        self.model_error: str | None = None

    def _checkout_dir(self):
        return core_wizard.work_path(self.answers, self.answers["checkout.dir"])

    def _list_examples(self):
        from lmi_wizard.core import models

        d = self._checkout_dir()
        if d is None or not d.exists():
            return []
        try:
            return models.list_examples(d)
        except (WizardError, OSError):
            return []

    def compose_body(self) -> ComposeResult:
        self._examples = self._list_examples()
        from ..widgets.form import StepForm

        yield Static(core_wizard.step(self.STEP).help, classes="muted step-help")
        exclude = ("model.example",) if self._examples else ()
        yield StepForm(self.STEP, self.answers, advanced=self.wizard.show_advanced, exclude=exclude)
        yield Static("", id="model-info", classes="card")
        if self._examples:
            yield Static("Example folder (type to filter, Enter to pick; ○ follows the model, ● picked)",
                         classes="section-title")
            yield Input(placeholder="filter, e.g. llama", id="example-filter", compact=True)
            yield OptionList(id="examples")
        else:
            yield Static("[dim]No checkout yet, so no example list: type the example folder name above "
                         "(clone on the Checkout step to pick from a list).[/dim]", id="no-examples")

    def on_mount(self) -> None:
        if self._examples:
            self._fill_examples("")

    # ---- example list ---------------------------------------------------------------------------
    def _fill_examples(self, text: str) -> None:
        ol = self.query_one("#examples", OptionList)
        ol.clear_options()
        q = text.strip().lower()
        current = self.answers["model.example"]
        highlight = None
        for e in self._examples:
            if q and q not in e.name.lower() and q not in e.rel.lower():
                continue
            builder = {"convert_checkpoint": "convert_checkpoint.py + trtllm-build",
                       "build.py": "build.py (legacy)"}.get(e.builder or "", "no builder")
            mark = ("●" if self.answers.is_set("model.example") else "○") if e.name == current else " "
            label = f"{mark} {e.name:<18} {e.group:<8} {builder}"
            ol.add_option(Option(label, id=e.name, disabled=not e.buildable))
            if e.name == current:
                highlight = ol.option_count - 1
        if highlight is not None:
            ol.highlighted = highlight

    @on(Input.Changed, "#example-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._fill_examples(event.value)

    @on(Input.Submitted, "#example-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ol = self.query_one("#examples", OptionList)
        enabled = [i for i in range(ol.option_count) if not ol.get_option_at_index(i).disabled]
        if len(enabled) >= 1:
            self._pick(ol.get_option_at_index(enabled[0]).id)

    @on(OptionList.OptionSelected, "#examples")
    def _example_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option.id)

    def _pick(self, name: str | None) -> None:
        if not name:
            return
        # the derived folder keeps following the model; another one is set by hand (then a warning names the mismatch)
        self.answers.choose("model.example", name)
        self._fill_examples(self.query_one("#example-filter", Input).value)
        self.form.revalidate()
        self.safe_previews()
        self.changed()

    # ---- model info -----------------------------------------------------------------------------
    def update_previews(self) -> None:
        src = self.answers["model.source"]
        if not src:
            self.query_one("#model-info", Static).update(
                "[dim]Give a Hugging Face repo id (org/name) or a local folder with config.json.[/dim]")
            return
        if src == self._loaded_for:
            self._render_info(refill=False)
            return
        if self._load_timer is not None:
            self._load_timer.stop()
        if self._examples:  # the derived example follows the model at once (by name until its config is read)
            self._fill_examples(self.query_one("#example-filter", Input).value)
        self.query_one("#model-info", Static).update(f"[dim]reading config.json of {escape(src)}…[/dim]")
        self._load_timer = self.set_timer(0.4, lambda: self.load_model(src))

    @work(thread=True, exclusive=True, group="model-config", exit_on_error=False)
    def load_model(self, src: str) -> None:
        from lmi_wizard.core import models

        if self.form is not None and self.form.blocker() and "model.source" in (self.form.parse_errors or {}):
            return
        try:
            cfg = models.load_model_config(src, etag_timeout=5.0, revision=self.answers["model.revision"],
                                           endpoint=self.wizard.session.pipeline_options.get("hf_endpoint"),
                                           token=self.answers.secret("tokenizer.hf_token"))
        except WizardError as exc:
            from lmi_wizard.core.hub import RepoNotFound

            if isinstance(exc, RepoNotFound):  # the Hub said 404: blocking (offline stays a warning)
                self.answers.ctx.set_model_missing(src, exc.problem, exc.fix)
            self.app.call_from_thread(self._model_loaded, src, None, str(exc))
            return
        self.app.call_from_thread(self._model_loaded, src, cfg, None)

    def _model_loaded(self, src: str, cfg, error: str | None) -> None:
        if src != self.answers["model.source"]:
            return  # the user typed on meanwhile
        self._loaded_for = src
        self._cfg = cfg
        self.model_error = error
        if self.form is not None:
            self.form.revalidate()  # a 404 from the Hub is now a blocking problem of the field
            self.refresh_next()
        if cfg is not None:
            # what Context.model_config() then answers: validation and the default example see it
            self.wizard.session.ctx.set_model_config(core_wizard.model_ref(self.answers), cfg)
        self._render_info()

    def _render_info(self, refill: bool = True) -> None:
        from lmi_wizard.core import models

        box = self.query_one("#model-info", Static)
        cfg = getattr(self, "_cfg", None)
        if cfg is None:
            box.update(f"[$warning]![/] {escape(self.model_error or 'no config.json read')}")
            return
        suggested = None
        d = self._checkout_dir()
        if d is not None and d.exists() and self._examples:
            try:
                suggested = models.pick_example(d, cfg).name
            except WizardError as exc:
                suggested = None
                self.model_error = str(exc)
            # never stored: while not set by hand, the example is derived from the model (core.wizard's default)
            if refill:
                self._fill_examples(self.query_one("#example-filter", Input).value)
        if refill and self.form is not None:
            self.form.revalidate()
        box.update(model_card(cfg, self.answers, models.jit_support(cfg), suggested))
        if refill:
            self.changed()
        else:
            self.refresh_next()
