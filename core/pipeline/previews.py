"""What the wizard's screens show before anything runs, from the same code the run uses: the build commands,
the tokenizer plan, the checkout request, the config.pbtxt template and the run's paths. Screens call these
(never step classes or their privates)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..base.errors import WizardError
from ..wizard import Answers
from .paths import RunPaths, checkout_request, tokenizer_source


def paths(answers: Answers) -> RunPaths:
    """Where the run puts things for these answers (before it ran)."""
    return RunPaths(answers)


def checkout_args(answers: Answers) -> Optional[dict]:
    """The arguments ``core.checkout`` takes for these answers (None when the tag or the folder is unknown)."""
    return checkout_request(answers)


def template_config(answers: Answers) -> Optional[Path]:
    """The checkout's ``tensorrt_llm/config.pbtxt`` template (None before the checkout exists)."""
    return RunPaths(answers).template_config()


@dataclass
class BuildPreview:
    """The build as the Build-flags screen shows it. ``plan`` is the rendered ``core.build.flags.BuildPlan``
    when the checkout's builder could be read (else None, and ``lines`` are the run's plan lines)."""

    applies: bool
    lines: list[str] = field(default_factory=list)
    plan: Any = None
    flag_names: list[str] = field(default_factory=list)  # every flag the checkout's builder has

    @property
    def text(self) -> str:
        """One flag per line (``BuildPlan.preview``) with the findings, or the plan lines."""
        if not self.applies:
            return "# no build step for these answers"
        if self.plan is None:
            return "\n".join(self.lines)
        lines = [self.plan.preview()]
        lines += [f"# {f}" for f in self.plan.findings if f.level in ("error", "warning")]
        return "\n".join(lines)


def build_commands(pipe, *, discover: bool = False) -> BuildPreview:
    """What ``pipe`` (a :class:`~.engine.Pipeline` for the answers) would run to build. The example folder is
    never guessed here (that needs the model's config); ``discover`` also lists the builder's flags.
    Raises WizardError when the build cannot be planned."""
    from ..build import discover_flags

    step = next((s for s in pipe.steps if s.name == "build"), None)
    if step is None:
        return BuildPreview(False)
    a, ctx = pipe.answers, pipe.ctx
    try:
        plan = step.render(a, ctx, allow_guess=False)
    except (WizardError, OSError):
        plan = None
    if (a["build.method"] or "checkout") != "checkout":  # the partition tool, a prebuilt folder: the plan lines
        preview = BuildPreview(True, step.plan(a, ctx))
    elif plan is None:
        preview = BuildPreview(True, step.plan(a, ctx))
    else:
        preview = BuildPreview(True, [], plan)
    if discover and plan is not None:
        for s in plan.steps:
            builder = getattr(s, "builder", None)
            if builder is not None and builder.is_file():
                try:
                    preview.flag_names += [n for n in discover_flags(builder).names
                                           if n not in preview.flag_names]
                except WizardError:
                    pass
    return preview


def tokenizer_plan(answers: Answers, *, hf_endpoint: str | None = None):
    """The tokenizer files the run would fetch (``core.tokenizer.TokenizerPlan``), planned into a scratch folder.
    Raises WizardError (no such repo, offline …)."""
    from .. import tokenizer

    def plan(dest):
        return tokenizer.plan_tokenizer(tokenizer_source(answers), dest, layout=answers.layout,
                                        revision=answers["model.revision"],
                                        token=answers.secret("tokenizer.hf_token"), endpoint=hf_endpoint,
                                        extra_patterns=list(answers["tokenizer.extra_patterns"] or []))

    # planned into the folder the run fills (planning writes nothing there): what it says names that folder,
    # never a scratch path (issue 13 §6)
    try:
        dest = paths(answers).model_dir
    except (WizardError, TypeError):  # not decidable yet (no build output folder)
        dest = None
    if dest is not None:
        return plan(dest)
    with tempfile.TemporaryDirectory(prefix="lmi-wizard-tok-") as scratch:
        return plan(scratch)
