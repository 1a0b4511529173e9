"""2. The checkout of tensorrtllm_backend / TensorRT-LLM at the release's tag."""

from __future__ import annotations

import shlex

from ...base.errors import Cancelled, WizardError
from ...wizard import needs_checkout
from ..paths import RunPaths
from .base import PipelineStep, StepResult, q


_CHECKOUT_OPTIONS = (("--backend-url/--trtllm-url", "[checkout] backend_url / trtllm_url"),
                     ("--dest", "[checkout] dir"))


def _recipe_spelling(fix: str | None) -> str | None:
    """A fix written for ``lmi-wizard checkout``'s options, in the recipe's settings."""
    for option, setting in _CHECKOUT_OPTIONS:
        fix = fix.replace(option, setting) if fix else fix
    return fix


class CheckoutStep(PipelineStep):
    name, title = "checkout", "Checkout"
    reads = frozenset({"env.trtllm_version", "env.tag", "env.lmi_layout", "env.lmi_version", "build.method",
                       "checkout"})

    def applies(self, a):
        return needs_checkout(a)

    @staticmethod
    def _args(a, ctx):
        kw = RunPaths(a, ctx.outputs).checkout_request()
        return kw.pop("tag"), kw.pop("dest"), kw

    def plan(self, a, ctx):
        from ... import checkout

        tag, dest, kw = self._args(a, ctx)
        plan = checkout.plan_checkout(tag, dest, **kw)
        lines = []
        if plan.error is not None:
            lines.append(f"# refuses: {plan.error}")
        for s in plan.steps:
            if s.action == "reuse":
                lines.append(f"# {s.describe()}")
                continue
            if s.action == "replace-empty":
                lines.append(f"rm -rf {q(s.dest)}   # the empty tensorrt_llm submodule folder")
            lines.append(shlex.join(s.argv))
        return lines

    def run(self, a, ctx, progress, cancel):
        from ... import checkout

        tag, dest, kw = self._args(a, ctx)
        try:
            co = checkout.checkout(tag, dest, progress=progress, cancel=cancel, **kw)
        except WizardError as exc:  # core.checkout speaks of `lmi-wizard checkout`'s options: say it the recipe's way
            if isinstance(exc, Cancelled):
                raise
            raise WizardError(exc.problem, _recipe_spelling(exc.fix), exit_code=exc.exit_code) from None
        out = {"checkout_root": str(co.root), "template_dir": str(co.template_dir),
               "examples_dir": str(co.examples_dir), "trtllm_root": str(co.trtllm_root),
               "backend_root": str(co.backend_root) if co.backend_root else None, "tag": co.tag}
        return StepResult(out, [], f"{'reused' if co.reused else 'cloned'} {co.layout} checkout at {co.tag} in {co.root}")

    def still_valid(self, record, ctx=None):
        if record.get("status") != "done" or ctx is None:
            return False
        from ... import checkout

        try:
            tag, dest, kw = self._args(ctx.answers, ctx)
            plan = checkout.plan_checkout(tag, dest, **kw)
        except WizardError:
            return False
        return plan.ok and not plan.clones
