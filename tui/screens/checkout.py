"""Step 2 — Checkout: the existing checkout found (and verified by git) or the clone plan, and the
clone itself with progress (``core.checkout.plan_checkout`` / ``core.checkout.checkout``).

The plan is recomputed in a worker after each edit (it asks git about the folder). Cloning here is
optional: the Run step clones what is still missing; but the Model step lists the checkout's example
folders, so cloning now gives a pick list there.
"""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, ProgressBar, Static

from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.base.errors import Cancelled, WizardError
from lmi_wizard.core.base.progress import CancelToken

from ..widgets.logpane import LogPane
from .base import StepScreen


def checkout_args(answers) -> dict | None:
    """The arguments core.checkout takes, from the answers (None when the tag is unknown)."""
    return core_wizard.checkout_args(answers)


class CheckoutScreen(StepScreen):
    STEP = "checkout"
    GATE_CODES = ("checkout-refused", "checkout-plan")  # the plan card shows them
    BINDINGS = [Binding("ctrl+g", "clone", "Clone now"), Binding("ctrl+x", "cancel_clone", "Cancel clone", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.plan = None
        self.plan_error: str | None = None
        self.cancel_token: CancelToken | None = None
        self.cloning = False

    def compose_extra(self) -> ComposeResult:
        yield Static("checking the folder…", id="checkout-plan", classes="card")
        with Horizontal(id="clone-row"):
            yield Button("Clone now", id="clone", compact=True)
            yield ProgressBar(total=1000, id="clone-progress", show_eta=False)
        yield LogPane(max_lines=2000, id="clone-log")

    def on_mount(self) -> None:
        self.query_one("#clone-log").display = False
        self.query_one("#clone-progress").display = False

    def update_previews(self) -> None:
        self.compute_plan()

    @work(thread=True, exclusive=True, group="checkout-plan", exit_on_error=False)
    def compute_plan(self) -> None:
        args = checkout_args(self.answers)
        if args is None:
            self.app.call_from_thread(self._show_plan, None, "no git tag yet: set the TensorRT-LLM version on "
                                                              "the Environment step")
            return
        ctx = self.answers.ctx
        try:
            ctx.forget_checkout_plan()  # ask git again: the folder may have changed since
            plan = ctx.checkout_plan(args)  # the same plan the schema's checkout gate reads
        except WizardError as exc:
            self.app.call_from_thread(self._show_plan, None, str(exc))
            return
        self.app.call_from_thread(self._show_plan, plan, None)

    def _show_plan(self, plan, error: str | None) -> None:
        self.plan, self.plan_error = plan, error
        box = self.query_one("#checkout-plan", Static)
        clone = self.query_one("#clone", Button)
        if plan is None:
            box.update(f"[$error]✗[/] {escape(error or '')}")
            clone.display = False
        elif plan.error is not None:
            box.update(f"[$error]✗ {escape(plan.error.problem)}[/]\n"
                       + (f"  fix: {escape(plan.error.fix)}" if plan.error.fix else ""))
            clone.display = False
        else:
            reuse = not plan.clones
            head = ("[$success]✓ existing checkout found[/] at " if reuse else "[b]Clone plan[/] into ") + \
                escape(str(plan.dest)) + f" ({escape(plan.tag)}, {escape(plan.layout)})"
            lines = [head] + [f"  • {escape(s.describe())}" for s in plan.steps]
            if not reuse:
                lines.append("[dim]Clone now (Ctrl+G) to pick the example folder from a list on the next step; "
                             "otherwise the Run step clones.[/dim]")
            box.update("\n".join(lines))
            clone.display = not reuse and not self.cloning
        self.refresh_next()

    def next_blocker(self) -> str | None:
        if self.cloning:
            return "cloning… (Ctrl+X cancels)"
        if self.plan is not None and self.plan.error is not None:
            return self.plan.error.problem
        return super().next_blocker()

    # ---- clone -----------------------------------------------------------------------------
    @on(Button.Pressed, "#clone")
    def _clone_pressed(self) -> None:
        self.action_clone()

    def action_clone(self) -> None:
        if self.cloning or self.plan is None or self.plan.error is not None or not self.plan.clones:
            return
        self.cloning = True
        self.cancel_token = CancelToken()
        self.query_one("#clone", Button).display = False
        self.query_one("#clone-progress").display = True
        self.query_one("#clone-log").display = True
        self.refresh_next()
        self.run_clone(checkout_args(self.answers), self.cancel_token, self.query_one("#clone-log", LogPane),
                       self.query_one("#clone-progress", ProgressBar))

    def action_cancel_clone(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()

    @work(thread=True, exclusive=True, group="checkout-clone")
    def run_clone(self, args: dict, cancel: CancelToken, pane: LogPane, bar: ProgressBar) -> None:
        from lmi_wizard.core import checkout

        state = {"done": 0}

        def progress(p) -> None:
            if p.message:
                pane.push(p.message)
            if p.done is not None:
                state["done"] = p.done

        timer = self.app.call_from_thread(self.set_interval, 0.1, lambda: bar.update(progress=state["done"]))
        try:
            result = checkout.checkout(**args, progress=progress, cancel=cancel)
        except Cancelled:
            msg = "clone cancelled; nothing was left behind"
        except WizardError as exc:
            msg = f"✗ {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug: said, the wizard stays up
            msg = f"✗ clone failed: {type(exc).__name__}: {exc}"
        else:
            msg = f"✓ checkout ready at {result.root} ({result.tag})"
            state["done"] = 1000
            self.answers.ctx.forget_examples(args["dest"])  # the example list is cached per folder
            self.answers.ctx.forget_checkout_plan()
        pane.push(msg)
        self.app.call_from_thread(self._clone_finished, timer, msg)

    def _clone_finished(self, timer, msg: str) -> None:
        timer.stop()
        self.cloning = False
        self.cancel_token = None
        self.say(msg)
        self.compute_plan()
