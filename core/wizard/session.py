"""The UI-free wizard session the Textual app and ``--plain`` share: the answers, the detection context, the state
file (loaded with a damaged-file fallback, saved as the user goes), the step order and where to resume, and the
pipeline for these answers.

The wizard never imports the pipeline: a front end passes ``pipeline_factory`` (``core.pipeline.engine.
build_pipeline``, or a stand-in in tests) and :meth:`Session.pipeline` calls it with the session's options.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

from ..base.errors import WizardError
from . import recipe as core_recipe
from .answers import Answers
from .context import Context
from .definition import step as _step, steps_for

__all__ = ["Session", "FORM_STEPS_END"]

#: the steps after the forms (no fields): a run is only ever started by the user, on Review
FORM_STEPS_END = ("review", "run", "done")


class Session:
    """The answers (:class:`Answers`), the detection :class:`Context` and the state file (``core.wizard.recipe``).

    ``environment`` is a ``core.facts.environment.EnvironmentReport`` given up front (tests, screenshots); otherwise
    a front end gathers one and hands it to :meth:`set_environment`. A state file that cannot be read is kept
    beside as ``<name>.damaged`` (never overwritten: it could be a hand edit) and the session starts over;
    :attr:`load_problem` says so."""

    def __init__(self, *, state_path: str | os.PathLike | None = None, environment: Any = None,
                 pipeline_options: dict | None = None,
                 pipeline_factory: Optional[Callable[..., Any]] = None) -> None:
        self.ctx = Context(wizard=True)  # the wizard's defaults (the load test follows the machine)
        self.environment = None
        self.pipeline_options = dict(pipeline_options or {})  # python, trtllm_build, endpoints (tests)
        self.pipeline_factory = pipeline_factory
        self.load_problem: str | None = None
        try:
            self.state = core_recipe.load_state(state_path, ctx=self.ctx)
        except WizardError as exc:
            path = Path(state_path) if state_path else core_recipe.default_state_path()
            kept = path.with_name(path.name + ".damaged")
            try:  # never overwrite what could be a hand edit: keep it beside, start over
                os.replace(path, kept)
                self.load_problem = f"{exc.problem}; kept as {kept}, starting over"
            except OSError:
                self.load_problem = str(exc)
            self.state = core_recipe.WizardState(Answers(ctx=self.ctx), None, None, path)
        self.answers: Answers = self.state.answers
        self.run_result: Any = None  # what the run produced, for Done
        if environment is not None:
            self.set_environment(environment)

    def set_environment(self, report: Any) -> None:
        """Detection facts into the context the fields consult."""
        self.environment = report
        self.ctx.set_environment(report)

    def pipeline(self, answers: Answers | None = None, **kw):
        """The pipeline for these answers (``pipeline_factory``) with this session's options."""
        if self.pipeline_factory is None:
            raise WizardError("this session has no pipeline", "pass pipeline_factory=build_pipeline to Session")
        return self.pipeline_factory(answers if answers is not None else self.answers,
                                     **{**self.pipeline_options, **kw})

    @property
    def current(self) -> str | None:
        return self.state.last_step

    @current.setter
    def current(self, step: str) -> None:
        self.state.last_step = step

    def visible_steps(self) -> list[str]:
        return [s.key for s in steps_for(self.answers)]

    def form_steps(self) -> list[str]:
        """The visible steps that ask something (before Review)."""
        return [k for k in self.visible_steps() if k not in FORM_STEPS_END]

    def step_title(self, key: str) -> str:
        return _step(key).title

    def resume_step(self) -> str:
        steps = self.visible_steps()
        last = self.state.last_step
        if last in ("run", "done"):
            return "review"  # a run is only ever started by the user, on Review
        return last if last in steps else steps[0]

    def save(self) -> Optional[str]:
        """Write the state file; a problem (a read-only config folder) is returned and kept in
        :attr:`load_problem`, never raised: it must not stop the wizard."""
        try:
            core_recipe.save_state(self.state)
        except WizardError as exc:
            self.load_problem = f"answers not saved: {exc}"
            return self.load_problem
        return None
