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
        from ..remote import aws, submit as R

        send = safe_progress(progress)
        cancel = cancel or CancelToken()
        a = self.answers
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.run_dir / LOG_NAME
        recipe_path = self.run_dir / RECIPE_NAME
        reports = [StepReport(s.name, s.title, "pending") for s in self.steps]
        outputs: dict = {"model_id": lmi_model_id(a), "destination": a["destination.uri"], "where": "sagemaker"}
        state = {"current": 0, "started": time.monotonic()}
        log = open(log_path, "a", encoding="utf-8")

        def write(line: str) -> None:
            log.write(self.redact(line) + "\n")
            log.flush()

        def step(i: int, status: str, message: str = "", *, error: Optional[str] = None,
                 fix: Optional[str] = None) -> None:
            s, r = self.steps[i], reports[i]
            if status == "running":
                state["current"], state["started"] = i, time.monotonic()
            seconds = None if status == "running" else round(time.monotonic() - state["started"], 3)
            r.status, r.error = status, error
            r.elapsed = seconds or 0.0
            if message and status != "running":
                r.summary = message
            text = self.redact(message or f"{s.title}: {status}")
            write(f"[{status}] {s.name}: {text}" + (f" — fix: {fix}" if fix else ""))
            send(StepEvent(s.name, status, i, len(self.steps), title=s.title, message=text, seconds=seconds,
                           error=self.redact(error) if error else None, fix=fix))

        def relay(ev: Progress) -> None:
            if ev.message and not ev.total:
                write(ev.message)
            send(Progress(ev.step, self.redact(ev.message), ev.done, ev.total, ev.unit, dict(ev.extra or {})))

        def listing(s3, url: str) -> None:
            """The destination's listing for Done (what the job published), as a local run's final step gives it."""
            from .. import s3 as s3mod

            try:
                entries = s3mod.list_entries(url, endpoint_url=self.endpoint_url, client=s3)
            except WizardError:
                return
            outputs["listing"] = s3mod.render_listing(entries)
            outputs["listing_entries"] = [e.to_dict() for e in entries]

        def report(ok: bool, error: Optional[str] = None, fix: Optional[str] = None) -> RunReport:
            for r in reports:
                if r.status in ("pending", "running") and not ok:
                    r.status = "cancelled" if cancel.cancelled else r.status
            stopped = None if ok else self.steps[state["current"]].name
            write(f"finished: ok" if ok else f"stopped at {stopped}: {error}")
            return RunReport(ok, reports, outputs, str(self.work_dir), str(log_path), str(self.run_dir),
                             str(recipe_path), self.redact(error) if error else None, fix, stopped)

        try:
            # 1. stage: every check first (nothing created), then the wheelhouse and the inputs
            step(0, "running", "checking the job before anything is created")
            text = self.recipe_text()
            atomic_write_text(recipe_path, text)
            region = a["remote.region"]
            if not region:
                raise WizardError("no AWS region for the job", "set the AWS region on Review (remote.region)")
            profile = a["destination.profile"]
            sm, logs, s3 = (aws.client(svc, region=region, endpoint_url=self.endpoint_url, profile=profile)
                            for svc in ("sagemaker", "logs", "s3"))
            opts = R.Options(role_arn=a["remote.role"], instance_type=a["remote.instance_type"], image=a["remote.image"],
                             region=region, endpoint_url=self.endpoint_url)
            [p] = R.plan_texts([(str(recipe_path), text)], opts, sm=sm, ctx=a.ctx, answers=[a])
            outputs["job"] = p.name
            done = R.already_done(p, s3, endpoint_url=self.endpoint_url)
            if done is not None:
                outputs["job"], outputs["verdict"] = done.planned.name, done.verdict
                step(0, "skipped", "an identical recipe was compiled before")
                step(1, "skipped", f"no job started: {done.verdict}")
                state["started"] = time.monotonic()
                step(2, "done", done.verdict)
                listing(s3, p.destination.url)
                return report(True)
            folder = self.wheelhouse
            if folder is None:
                from ..remote.wheelhouse import build_wheelhouse

                folder = build_wheelhouse(Path(tempfile.mkdtemp(prefix="lmi-wizard-wheels-")) / f"py{p.python}",
                                          p.python, progress=relay, cancel=cancel).folder
            R.stage([p], s3, {p.python: folder}, progress=relay, cancel=cancel)
            step(0, "done", f"recipe and wheelhouse (Python {p.python}) under s3://{p.staging.bucket}/{p.staging.prefix}")

            # 2. the job: its states and its log lines, as progress events into the same log
            cancel.raise_if_cancelled("staging")
            step(1, "running", f"{p.name} on {p.instance.type} ({p.image})")
            o = R.create(p, sm)
            relay(Progress("remote", f"{p.name}: {o.status}", extra={"event": "job", "job": p.name,
                                                                      "status": o.status}))
            R.watch([o], sm, logs, progress=relay, cancel=cancel, poll_s=self.poll_s)
            R.verdict(o, s3, endpoint_url=self.endpoint_url)
            outputs["verdict"] = o.verdict
            if o.status == "Stopped" or cancel.cancelled:
                step(1, "cancelled", f"{p.name}: {o.status}")
                return report(False, f"the training job {p.name} was stopped ({o.status})",
                              "Ctrl+R submits it again")
            if o.status == "Failed" and not o.checked and o.checked is not None:
                step(1, "done", f"{p.name}: Completed")
                state["current"], state["started"] = 2, time.monotonic()
                step(2, "failed", o.verdict or "check failed", error=o.verdict)
                return report(False, o.verdict, f"see the job's log: lmi-wizard remote logs {p.name}")
            if o.status != "Completed":
                fix = f"see the job's log: lmi-wizard remote logs {p.name}"
                step(1, "failed", f"{p.name}: {o.status}: {o.failure or 'no reason given'}", error=o.failure, fix=fix)
                return report(False, f"the training job {p.name} {o.status.lower()}: {o.failure or 'no reason given'}",
                              fix)
            step(1, "done", f"{p.name}: Completed")
            # 3. the destination, checked from here
            step(2, "running", f"check {p.destination.url}")
            listing(s3, p.destination.url)
            step(2, "done", o.verdict or "check passed")
            return report(True)
        except Cancelled:
            i = state["current"]
            step(i, "cancelled", "cancelled before the job was created" if i == 0 else "cancelled")
            return report(False, "cancelled", "Ctrl+R starts it again")
        except WizardError as exc:
            step(state["current"], "failed", exc.problem, error=exc.problem, fix=exc.fix)
            return report(False, exc.problem, exc.fix)
        finally:
            log.close()
