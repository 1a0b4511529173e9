"""The run on SageMaker (Review's ``run.where = "sagemaker"``): the same face as :class:`~.engine.Pipeline` for the
front ends (``steps``, ``work_dir``, ``run_dir``, ``plan_script()``, ``run(progress, cancel)`` → :class:`RunReport`),
done by ``core.remote``: the recipe of these answers, unchanged, as one Training job in its release's LMI image.

Three steps, reported with the same typed events as a local run: *stage* (plan — every check before anything is
created —, the wheelhouse, the recipe and the wheels on S3), *job* (CreateTrainingJob, then the job's states and
its merged CloudWatch log lines as progress events; cancelling stops the job with StopTrainingJob) and *check*
(``check`` on the S3 destination, the record that lets an identical re-submission start no job).
"""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..base.errors import Cancelled, WizardError
from ..base.events import StepEvent
from ..base.fsutil import atomic_write_text
from ..base.progress import CancelToken, Progress, ProgressFn
from ..base.secrets import Redactor
from ..wizard import Answers, lmi_model_id
from .execution import safe_progress
from .report import RunReport, StepReport
from .state import LOG_NAME, RECIPE_NAME, RUN_DIR

__all__ = ["RemotePipeline", "build_run", "REMOTE_DIR"]

REMOTE_DIR = "remote"  # under the work folder's .lmi-wizard/: the recipe sent, the log, the wheelhouse


@dataclass(frozen=True)
class RemoteStep:
    name: str
    title: str


STEPS = (RemoteStep("stage", "Stage inputs on S3"), RemoteStep("job", "SageMaker training job"),
         RemoteStep("check", "Check the destination"))


def build_run(answers: Answers, **kw):
    """The run these answers ask for: :class:`RemotePipeline` when ``run.where`` is ``sagemaker``, else the local
    :class:`~.engine.Pipeline` (what the wizard's front ends start from Review)."""
    if answers["run.where"] == "sagemaker":
        return RemotePipeline(answers, **kw)
    from .engine import build_pipeline

    kw = {k: v for k, v in kw.items() if k not in RemotePipeline.OPTIONS}
    return build_pipeline(answers, **kw)


class RemotePipeline:
    """One recipe (these answers) compiled on SageMaker. ``remote_endpoint``: one endpoint for SageMaker, CloudWatch
    Logs, Secrets Manager and S3 (tests, VPC endpoints); ``wheelhouse``: a folder built before (``remote
    wheelhouse``) instead of building one; ``remote_poll``: seconds between DescribeTrainingJob calls."""

    OPTIONS = ("remote_endpoint", "wheelhouse", "remote_poll")
    where = "sagemaker"
    cancel_note = "stopping the training job (StopTrainingJob)…"

    def __init__(self, answers: Answers, *, work_dir: str | os.PathLike | None = None,
                 remote_endpoint: Optional[str] = None, wheelhouse: str | os.PathLike | None = None,
                 remote_poll: float = 10.0, **_local) -> None:
        self.answers = answers
        if work_dir is not None:
            answers["checkout.work_dir"] = str(Path(os.path.expanduser(os.fspath(work_dir))).absolute())
        self.work_dir = Path(os.path.abspath(os.path.expanduser(answers["checkout.work_dir"] or ".")))
        self.run_dir = self.work_dir / RUN_DIR / REMOTE_DIR
        self.endpoint_url = remote_endpoint
        self.wheelhouse = Path(wheelhouse) if wheelhouse else None
        self.poll_s = remote_poll
        self.steps = list(STEPS)
        self.redact = Redactor(answers.secret_values())

    # ---- plan ------------------------------------------------------------------------------------------
    def recipe_text(self) -> str:
        from ..wizard.recipe import dumps_recipe

        return dumps_recipe(self.answers)

    def command(self) -> list[str]:
        """The ``lmi-wizard remote run`` command line that does the same from a shell."""
        a = self.answers
        argv = ["lmi-wizard", "remote", "run", "lmi-wizard-recipe.toml"]
        for flag, key in (("--role", "remote.role"), ("--instance-type", "remote.instance_type"),
                          ("--region", "remote.region"), ("--image", "remote.image")):
            if a[key]:
                argv += [flag, str(a[key])]
        if self.endpoint_url:
            argv += ["--endpoint-url", self.endpoint_url]
        return argv

    def plan_script(self) -> str:
        """What runs where: the ``remote run`` command, then, as comments, what ``lmi-wizard run`` does inside the
        job (the local pipeline's script of the same recipe)."""
        from .engine import Pipeline

        lines = ["#!/usr/bin/env bash",
                 "# lmi-wizard: this recipe compiles on SageMaker (Review: Run on SageMaker), as one Training job in",
                 "# its release's LMI image on an instance of the deployment's GPU; save the recipe (Ctrl+S) and run:",
                 " ".join(shlex.quote(x) for x in self.command()), "",
                 "# inside the job, `lmi-wizard run` does this on the instance's volume:"]
        try:
            from ..remote.job import WORK_IN_JOB

            inner = Pipeline(self.answers.copy(), work_dir=WORK_IN_JOB).plan_script()
        except WizardError as exc:
            inner = f"cannot plan: {exc}"
        lines += ["#   " + ln if ln else "#" for ln in inner.splitlines() if not ln.startswith("#!")]
        return self.redact("\n".join(lines) + "\n")

    # ---- run -------------------------------------------------------------------------------------------
    def run(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> RunReport:
        cancel = cancel or CancelToken()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        r = _RunRecord(self, progress, cancel)
        try:
            return self._run(r, cancel)
        except Cancelled:
            i = r.current
            r.step(i, "cancelled", "cancelled before the job was created" if i == 0 else "cancelled")
            return r.report(False, "cancelled", "Ctrl+R starts it again")
        except WizardError as exc:
            r.step(r.current, "failed", exc.problem, error=exc.problem, fix=exc.fix)
            return r.report(False, exc.problem, exc.fix)
        finally:
            r.close()

    def _run(self, r: "_RunRecord", cancel: CancelToken) -> RunReport:
        from ..remote import submit as R

        # 1. stage: every check first (nothing created), then the wheelhouse and the inputs
        r.step(0, "running", "checking the job before anything is created")
        p, (sm, logs, s3) = self._plan_job(r)
        done = R.already_done(p, s3, endpoint_url=self.endpoint_url)
        if done is not None:
            r.outputs["job"], r.outputs["verdict"] = done.planned.name, done.verdict
            r.step(0, "skipped", "an identical recipe was compiled before")
            r.step(1, "skipped", f"no job started: {done.verdict}")
            r.started = time.monotonic()
            r.step(2, "done", done.verdict)
            r.listing(s3, p.destination.url)
            return r.report(True)
        self._stage(r, p, s3, cancel)
        # 2. the job: its states and its log lines, as progress events into the same log
        cancel.raise_if_cancelled("staging")
        r.step(1, "running", f"{p.name} on {p.instance.type} ({p.image})")
        o = R.create(p, sm)
        r.relay(Progress("remote", f"{p.name}: {o.status}", extra={"event": "job", "job": p.name, "status": o.status}))
        R.watch([o], sm, logs, progress=r.relay, cancel=cancel, poll_s=self.poll_s)
        R.verdict(o, s3, endpoint_url=self.endpoint_url)
        r.outputs["verdict"] = o.verdict
        if o.status != "Completed" or cancel.cancelled:
            return self._job_ended_badly(r, p, o, cancel)
        r.step(1, "done", f"{p.name}: Completed")
        # 3. the destination, checked from here
        r.step(2, "running", f"check {p.destination.url}")
        r.listing(s3, p.destination.url)
        r.step(2, "done", o.verdict or "check passed")
        return r.report(True)

    def _plan_job(self, r: "_RunRecord"):
        """The recipe written, the AWS clients (sagemaker, logs, s3) and the planned job: every check of
        ``remote run`` before anything is created."""
        from ..remote import aws, submit as R

        a = self.answers
        text = self.recipe_text()
        atomic_write_text(r.recipe_path, text)
        region = a["remote.region"]
        if not region:
            raise WizardError("no AWS region for the job", "set the AWS region on Review (remote.region)")
        profile = a["destination.profile"]
        clients = tuple(aws.client(svc, region=region, endpoint_url=self.endpoint_url, profile=profile)
                        for svc in ("sagemaker", "logs", "s3"))
        opts = R.Options(role_arn=a["remote.role"], instance_type=a["remote.instance_type"], image=a["remote.image"],
                         region=region, endpoint_url=self.endpoint_url)
        [p] = R.plan_texts([(str(r.recipe_path), text)], opts, sm=clients[0], ctx=a.ctx, answers=[a])
        r.outputs["job"] = p.name
        return p, clients

    def _stage(self, r: "_RunRecord", p, s3, cancel: CancelToken) -> None:
        """The wheelhouse (built unless given) and the recipe on S3."""
        from ..remote import submit as R

        folder = self.wheelhouse
        if folder is None:
            from ..remote.wheelhouse import build_wheelhouse

            folder = build_wheelhouse(Path(tempfile.mkdtemp(prefix="lmi-wizard-wheels-")) / f"py{p.python}",
                                      p.python, progress=r.relay, cancel=cancel).folder
        R.stage([p], s3, {p.python: folder}, progress=r.relay, cancel=cancel)
        r.step(0, "done", f"recipe and wheelhouse (Python {p.python}) under s3://{p.staging.bucket}/{p.staging.prefix}")

    @staticmethod
    def _job_ended_badly(r: "_RunRecord", p, o, cancel: CancelToken) -> RunReport:
        """The report of a job stopped, failed, or completed with a destination whose check failed."""
        if o.status == "Stopped" or cancel.cancelled:
            r.step(1, "cancelled", f"{p.name}: {o.status}")
            return r.report(False, f"the training job {p.name} was stopped ({o.status})", "Ctrl+R submits it again")
        fix = f"see the job's log: lmi-wizard remote logs {p.name}"
        if o.status == "Failed" and not o.checked and o.checked is not None:
            r.step(1, "done", f"{p.name}: Completed")
            r.current, r.started = 2, time.monotonic()
            r.step(2, "failed", o.verdict or "check failed", error=o.verdict)
            return r.report(False, o.verdict, fix)
        reason = o.failure or "no reason given"
        r.step(1, "failed", f"{p.name}: {o.status}: {reason}", error=o.failure, fix=fix)
        return r.report(False, f"the training job {p.name} {o.status.lower()}: {reason}", fix)


class _RunRecord:
    """One :meth:`RemotePipeline.run`'s bookkeeping: its log file, the step reports, the outputs for Done and the
    typed events the front end gets (redacted like everything the pipeline writes)."""

    def __init__(self, pipe: RemotePipeline, progress: ProgressFn | None, cancel: CancelToken) -> None:
        self.pipe, self.cancel = pipe, cancel
        self.send = safe_progress(progress)
        self.redact = pipe.redact
        self.log_path = pipe.run_dir / LOG_NAME
        self.recipe_path = pipe.run_dir / RECIPE_NAME
        self.reports = [StepReport(s.name, s.title, "pending") for s in pipe.steps]
        a = pipe.answers
        self.outputs: dict = {"model_id": lmi_model_id(a), "destination": a["destination.uri"], "where": "sagemaker"}
        self.current, self.started = 0, time.monotonic()
        self.log = open(self.log_path, "a", encoding="utf-8")

    def close(self) -> None:
        self.log.close()

    def write(self, line: str) -> None:
        self.log.write(self.redact(line) + "\n")
        self.log.flush()

    def step(self, i: int, status: str, message: str = "", *, error: Optional[str] = None,
             fix: Optional[str] = None) -> None:
        steps = self.pipe.steps
        s, r = steps[i], self.reports[i]
        if status == "running":
            self.current, self.started = i, time.monotonic()
        seconds = None if status == "running" else round(time.monotonic() - self.started, 3)
        r.status, r.error = status, error
        r.elapsed = seconds or 0.0
        if message and status != "running":
            r.summary = message
        text = self.redact(message or f"{s.title}: {status}")
        self.write(f"[{status}] {s.name}: {text}" + (f" — fix: {fix}" if fix else ""))
        self.send(StepEvent(s.name, status, i, len(steps), title=s.title, message=text, seconds=seconds,
                            error=self.redact(error) if error else None, fix=fix))

    def relay(self, ev: Progress) -> None:
        if ev.message and not ev.total:
            self.write(ev.message)
        self.send(Progress(ev.step, self.redact(ev.message), ev.done, ev.total, ev.unit, dict(ev.extra or {})))

    def listing(self, s3, url: str) -> None:
        """The destination's listing for Done (what the job published), as a local run's final step gives it."""
        from .. import s3 as s3mod

        try:
            entries = s3mod.list_entries(url, endpoint_url=self.pipe.endpoint_url, client=s3)
        except WizardError:
            return
        self.outputs["listing"] = s3mod.render_listing(entries)
        self.outputs["listing_entries"] = [e.to_dict() for e in entries]

    def report(self, ok: bool, error: Optional[str] = None, fix: Optional[str] = None) -> RunReport:
        for r in self.reports:
            if r.status in ("pending", "running") and not ok:
                r.status = "cancelled" if self.cancel.cancelled else r.status
        stopped = None if ok else self.pipe.steps[self.current].name
        self.write("finished: ok" if ok else f"stopped at {stopped}: {error}")
        pipe = self.pipe
        return RunReport(ok, self.reports, self.outputs, str(pipe.work_dir), str(self.log_path), str(pipe.run_dir),
                         str(self.recipe_path), self.redact(error) if error else None, fix, stopped)
