"""The wizard's whole run, step by step: what the TUI's Run screen and ``lmi-wizard run RECIPE`` execute.

Order (steps that do not apply to the answers are left out; one module each under ``steps/``)::

    environment → checkout → build (or LMI's AOT partition, or a prebuilt engine folder)
      → assemble (Triton layout: triton_model_repo/tensorrt_llm/ with the engines in 1/)
      → config (Triton layout: config.pbtxt filled like fill_template.py, decoupled, engine path, review)
      → tokenizer → serve_test (when enabled: LMI's own server loads what will be uploaded, one prompt)
      → publish (S3 or a local folder) → lmi (the three LMI configurations) → final (tree, listing)

Each step is a :class:`~.steps.PipelineStep` with ``plan(answers, ctx) -> list[str]`` (shell lines for
``lmi-wizard plan``), ``run(answers, ctx, progress, cancel) -> StepResult`` and
``still_valid(record, ctx) -> bool``. A run records every finished step in ``<work>/.lmi-wizard/run-state.json``
(:mod:`.state`) with what it produced and a digest of its inputs (the answers it ``reads`` and the outputs of the
steps it ``uses``). ``resume=True`` skips a step whose record is complete, whose inputs are unchanged and whose
outputs are still there and unchanged; anything else is redone, and so is every step that uses what it produced.

Everything is logged to ``<work>/.lmi-wizard/run.log``; secret values (``core.base.secrets``) are replaced by
``***`` in the log, the state, progress messages, errors and the plan. Outputs that already exist and that this
work folder's run did not make are never replaced without ``force``.

Progress: ``progress`` receives, for each step, :class:`~core.base.events.StepEvent` s (``status`` in
``running | done | skipped | failed | cancelled``) and between them the step's own
:class:`~core.base.events.ProgressEvent` s (``done``/``total`` for bars, or a log line in ``message``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from ..base import runlock
from ..base.errors import Cancelled, WizardError
from ..base.events import StepEvent
from ..base.fsutil import atomic_write_text
from ..base.progress import CancelToken, ProgressFn
from ..base.secrets import Redactor
from ..wizard import Answers, destination_text, lmi_model_id, resolve_layout, resolve_tag, validate_all
from .execution import StepRunner, safe_progress
from .report import RunReport, StepReport
from .state import (LOCK_NAME, LOG_NAME, RECIPE_NAME, RUN_DIR, STATE_FORMAT, STATE_NAME, RunLock, RunLog,
                    load_state, now, save_state)
from .steps import STEP_CLASSES, PipelineStep, PublishStep, RunContext, q

__all__ = ["Pipeline", "build_pipeline", "plan_script", "RunReport", "StepReport"]


def _auto_picked(p, a: Answers) -> bool:
    """An unset example folder is not a problem: the build step picks it from the model's architecture."""
    return p.key == "model.example" and not a.is_set("model.example")


def _setting(key: str) -> str:
    """``build.tp`` → ``[build] tp`` (how a recipe spells it); other keys as they are."""
    sec, dot, name = key.partition(".")
    return f"[{sec}] {name}" if dot else key


class Pipeline:
    """The ordered steps for one set of answers. ``plan_script()`` prints, ``run()`` does."""

    def __init__(self, answers: Answers, *, work_dir: str | os.PathLike | None = None, force: bool = False,
                 resume: bool = False, python: str = "python3", trtllm_build: Iterable[str] = ("trtllm-build",),
                 hf_endpoint: str | None = None, s3_endpoint: str | None = None,
                 recipe_source: str | None = None, serve_options: dict | None = None) -> None:
        self.answers = answers
        if work_dir is not None:
            answers["checkout.work_dir"] = str(Path(os.path.expanduser(os.fspath(work_dir))).absolute())
        wd = Path(os.path.abspath(os.path.expanduser(answers["checkout.work_dir"] or ".")))
        self.work_dir = wd
        self.run_dir = wd / RUN_DIR
        self.state_path = self.run_dir / STATE_NAME
        self.force = force
        self.resume = resume
        self.recipe_source = recipe_source
        self.ctx = RunContext(answers=answers, work_dir=wd, run_dir=self.run_dir, force=force, python=python,
                              trtllm_build=tuple(trtllm_build),
                              redact=Redactor(answers.secret_values()),
                              hf_endpoint=hf_endpoint or os.environ.get("HF_ENDPOINT") or None,
                              s3_endpoint=s3_endpoint, serve_options=dict(serve_options or {}))
        self.steps: list[PipelineStep] = [cls() for cls in STEP_CLASSES if cls().applies(answers)]

    # ---- plan --------------------------------------------------------------------------------------
    def plan_script(self) -> str:
        """The run as a bash script: the tutorial's commands, filled in. Nothing is run or written."""
        a = self.answers
        red = self.ctx.redact
        lines = ["#!/usr/bin/env bash",
                 "# lmi-wizard plan" + (f" of {self.recipe_source}" if self.recipe_source else "") +
                 ": the equivalent of `lmi-wizard run`, as shell commands.",
                 f"# layout: {resolve_layout(a)} (LMI {'0.25–0.32' if resolve_layout(a) == 'triton' else '0.33+'}); "
                 f"TensorRT-LLM {a['env.trtllm_version'] or '(unknown)'} at tag {resolve_tag(a) or '(unknown)'}; "
                 f"LMI model_id: {lmi_model_id(a) or '(no destination that works yet)'}",
                 "# credentials (HF_TOKEN, AWS) come from the environment; none is written here.",
                 "set -euo pipefail",
                 f"mkdir -p {q(self.work_dir)} && cd {q(self.work_dir)}"]
        for i, step in enumerate(self.steps, 1):
            lines.append("")
            lines.append(f"# ---- {i}. {step.title} " + "-" * max(3, 70 - len(step.title)))
            try:
                body = step.plan(a, self.ctx)
            except WizardError as exc:
                body = [f"# cannot plan this step: {exc}"]
            lines.extend(body)
        return red("\n".join(lines) + "\n")

    # ---- state -------------------------------------------------------------------------------------
    def load_state(self) -> dict:
        return load_state(self.state_path)

    def _save_state(self, state: dict) -> None:
        save_state(self.state_path, state, self.ctx.redact)

    def status(self) -> list[StepReport]:
        """The steps with what the last run recorded (for a Run screen that offers to resume)."""
        recs = self.load_state().get("steps", {})
        out = []
        for s in self.steps:
            r = recs.get(s.name, {})
            out.append(StepReport(s.name, s.title, r.get("status", "pending"), r.get("elapsed", 0.0),
                                  r.get("summary", ""), r.get("notes", []), r.get("error")))
        return out

    # ---- run ---------------------------------------------------------------------------------------
    def run(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> RunReport:
        """Run every step (skipping still-valid ones with ``resume``). Never raises for a step failure:
        the report says where it stopped and why (``ok`` False); the state is kept for ``--resume``."""
        cancel = cancel or CancelToken()
        refused = self._refuse_invalid(progress)
        if refused is not None:  # nothing written: answers that cannot run leave no trace on disk
            return refused
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WizardError(f"cannot create the work folder {self.work_dir}: {exc.strerror or exc}",
                              "choose a [checkout] work_dir (or --work-dir) you can write to") from None
        with RunLock(self.run_dir / LOCK_NAME, self.work_dir):
            record = self.run_dir / runlock.CHILDREN_NAME  # a builder of a killed run may still be alive
            runlock.refuse_if_children_alive(record, self.work_dir)
            with runlock.ChildrenRecord(record):
                return self._run_locked(progress, cancel)

    def _earlier_run(self) -> dict:
        """The state of an earlier run of this work folder, checked against this one: another recipe's run is
        never resumed or replaced silently, and a finished run is only continued with resume or replaced with
        force."""
        state = self.load_state()
        # steps that made something (environment/final make nothing; a failed clone removes itself)
        done_before = [n for n, r in state.get("steps", {}).items()
                       if n not in ("environment", "final") and (r.get("status") == "done" or (
                           n != "checkout" and r.get("status") in ("failed", "cancelled", "running")))]
        if not done_before or self.force:
            return state if self.resume else {"format": STATE_FORMAT, "steps": {}}
        theirs, ours = state.get("recipe_source"), self.recipe_source
        if theirs and ours and os.path.abspath(theirs) != os.path.abspath(ours):
            raise WizardError(f"{self.work_dir} holds the run of another recipe ({theirs}; steps: "
                              f"{', '.join(done_before)})",
                              "give each recipe its own [checkout] work_dir (e.g. work_dir = \"work/<model>\"; the "
                              "checkout can be shared with dir = \"../tensorrtllm_backend\"), or replace that run "
                              "with --force")
        if not self.resume:
            raise WizardError(f"{self.work_dir} already holds an earlier run (steps: {', '.join(done_before)})",
                              "continue it with --resume, or start over with --force (replaces its outputs)")
        return state

    def _run_locked(self, progress: ProgressFn | None, cancel: CancelToken) -> RunReport:
        ctx = self.ctx
        state = self._earlier_run()
        ctx.records = state.get("steps", {})
        log = ctx.log = RunLog(self.run_dir / LOG_NAME, ctx.redact)
        recipe_path = self._save_recipe()
        state.update({"work_dir": str(self.work_dir), "recipe": recipe_path, "started": now(),
                      "recipe_source": os.path.abspath(self.recipe_source) if self.recipe_source else None})
        log.write("run", f"lmi-wizard run in {self.work_dir} ({'resume' if self.resume else 'fresh'}"
                         f"{', force' if self.force else ''}); steps: {', '.join(s.name for s in self.steps)}")
        run = StepRunner(self, state, log, safe_progress(progress))
        try:
            for i, step in enumerate(self.steps):
                if not run.step(i, step, cancel):
                    break
        except Cancelled as exc:
            run.cancelled(exc)
        finally:
            state["finished"] = now()
            state["ok"] = run.ok
            try:
                self._save_state(state)
            finally:
                log.write("run", "finished: ok" if run.ok else f"stopped at {run.stopped}: {run.error}")
                log.close()
        fix = run.fix if run.ok or run.fix is not None else "fix the cause and run again with --resume"
        return RunReport(run.ok, run.reports, dict(ctx.outputs), str(self.work_dir), str(log.path),
                         str(self.state_path), recipe_path, ctx.redact(run.error) if run.error else None, fix,
                         run.stopped, run.exit_code)

    def blocking_problems(self) -> list:
        """The answers' blocking problems (``core.wizard.validate_all``); an unset example folder is not one
        (the build step picks it from the model's architecture)."""
        self.answers.ctx.forget_checkout_plan()  # ask git now, not what a screen saw earlier
        here = self.answers.copy()  # this pipeline runs here, whatever [run] where says (the job runs it too)
        here["run.where"] = "here"
        problems = [p for p in validate_all(here) if p.blocking and not _auto_picked(p, self.answers)]
        if not problems:
            dest_problem = self._local_destination_problem()
            if dest_problem is not None:
                problems.append(dest_problem)
        return problems

    def _local_destination_problem(self):
        """A LOCAL destination that cannot work (a file, the model folder itself, inside it or above it:
        ``core.s3.check_local_destination``), as a blocking problem: refused before the build, not at publish."""
        if not any(isinstance(s, PublishStep) for s in self.steps):
            return None
        a, ctx = self.answers, self.ctx
        dest = destination_text(a)
        if not dest or dest.lower().startswith("s3://"):
            return None
        try:
            src = ctx.paths.model_dir
        except (TypeError, ValueError, WizardError):  # an unset folder: its own validation says so
            return None
        if src is None:
            return None
        from .. import s3
        from ..base.findings import error

        try:
            s3.check_local_destination(src, dest, model_id=lmi_model_id(a))
        except WizardError as exc:
            return error("local-destination", exc.problem, exc.fix, key="destination.uri")
        return None

    def refusal(self) -> Optional[tuple[str, str]]:
        """``(problem, fix)`` when the answers cannot run (the first blocking problem, with its own fix when it
        has one), else None."""
        errors = self.blocking_problems()
        if not errors:
            return None
        msgs = []
        fix = f"change {_setting(errors[0].key)} (`lmi-wizard init` documents every setting)"
        if errors[0].fix:
            fix = errors[0].fix
        for p in errors[:4]:
            msgs.append(f"{_setting(p.key)}: {p.problem}")
        more = f" (and {len(errors) - 1} more: " + "; ".join(msgs[1:]) + ")" if len(errors) > 1 else ""
        return self.ctx.redact(f"the recipe cannot run: {msgs[0]}{more}"), self.ctx.redact(fix)

    def check(self) -> None:
        """Raise one :class:`WizardError` (exit 2 on the command line) when the answers cannot run."""
        refused = self.refusal()
        if refused is not None:
            raise WizardError(*refused)

    def _refuse_invalid(self, progress: ProgressFn | None) -> Optional[RunReport]:
        refused = self.refusal()
        if refused is None:
            return None
        msg, fix = refused
        reports = [StepReport(s.name, s.title, "pending") for s in self.steps]
        if reports:
            reports[0].status, reports[0].error = "failed", msg
            safe_progress(progress)(StepEvent(reports[0].name, "failed", 0, len(reports), title=reports[0].title,
                                      message=f"{reports[0].title} failed: {msg}", seconds=0.0, error=msg, fix=fix))
        return RunReport(False, reports, {}, str(self.work_dir), str(self.run_dir / LOG_NAME), str(self.state_path),
                         None, msg, fix, reports[0].name if reports else None)

    def _save_recipe(self) -> Optional[str]:
        from ..wizard.recipe import dumps_recipe

        path = self.run_dir / RECIPE_NAME
        try:
            atomic_write_text(path, self.ctx.redact(dumps_recipe(self.answers)))  # refuses secrets; redacted anyway
        except WizardError:
            return None
        return str(path)



def build_pipeline(answers: Answers, **kw) -> Pipeline:
    return Pipeline(answers, **kw)


def plan_script(answers: Answers, **kw) -> str:
    return Pipeline(answers, **kw).plan_script()
