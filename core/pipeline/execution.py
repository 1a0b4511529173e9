"""One run's step loop: each step is skipped when still valid (:meth:`StepRunner._skip`), else executed
(:meth:`StepRunner._execute`) and recorded in the run state (:meth:`StepRunner._record`), with its
:class:`~core.base.events.StepEvent` s, its own progress forwarded and every line logged."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..base import net
from ..base.errors import Cancelled, Refused, WizardError
from ..base.events import StepEvent
from ..base.findings import raise_first
from ..base.progress import CancelToken, Progress, ProgressFn
from ..wizard.triton_config import config_findings
from .report import StepReport
from .state import RunLog, digest, now
from .steps import PipelineStep, StepResult

if TYPE_CHECKING:  # the engine imports this module
    from .engine import Pipeline


def safe_progress(progress: ProgressFn | None) -> Callable[[Any], None]:
    """``progress`` made harmless: a display problem never stops the run."""
    def send(ev) -> None:
        if progress is None:
            return
        try:
            progress(ev)
        except Exception:
            pass

    return send


class StepRunner:
    """One run's bookkeeping: each step is skipped (:meth:`_skip`), executed (:meth:`_execute`) and recorded
    (:meth:`_record`), with its events and log lines."""

    def __init__(self, pipe: "Pipeline", state: dict, log: RunLog, send: Callable[[Any], None]) -> None:
        self.pipe, self.ctx, self.state, self.log, self.send = pipe, pipe.ctx, state, log, send
        self.reports = [StepReport(s.name, s.title, "pending") for s in pipe.steps]
        self.total = len(pipe.steps)
        self.ok, self.error, self.fix, self.stopped = True, None, None, None
        self.exit_code = None  # 2 when a step refused before changing anything (errors.Refused)

    def event(self, i: int, step: PipelineStep, status: str, message: str, **kw) -> None:
        self.send(StepEvent(step.name, status, i, self.total, title=step.title, message=message, **kw))

    def step(self, i: int, step: PipelineStep, cancel: CancelToken) -> bool:
        """Skip or run one step; False when the run stops there (it failed)."""
        a, ctx = self.pipe.answers, self.ctx
        inputs = digest(step.inputs(a, ctx))
        rec = ctx.records.get(step.name)
        if self.pipe.resume and rec and rec.get("inputs") == inputs and step.still_valid(rec, ctx):
            self._skip(i, step, rec)
            return True
        if rec and self.pipe.resume and not step.always_run:
            why = "inputs changed" if rec.get("inputs") != inputs else (
                "outputs changed or missing" if rec.get("status") == "done" else f"was {rec.get('status')}")
            self.log.write(step.name, f"redoing: {why}")
        ctx.owned = bool(rec) and self.pipe.resume
        result, seconds = self._execute(i, step, rec, inputs, cancel)
        if result is None:
            return False
        self._record(i, step, inputs, result, seconds)
        return True

    def _skip(self, i: int, step: PipelineStep, rec: dict) -> None:
        step.restore(rec, self.ctx)
        self.ctx.digests[step.name] = rec.get("digest")
        rep = self.reports[i]
        rep.status, rep.summary, rep.notes = "skipped", rec.get("summary", ""), rec.get("notes", [])
        self.log.write(step.name, f"skipped (still valid): {rep.summary}")
        self.event(i, step, "skipped", f"{step.title}: still valid, skipped", summary=rep.summary, seconds=0.0)

    def _execute(self, i: int, step: PipelineStep, rec: dict | None, inputs: str,
                 cancel: CancelToken) -> tuple[Optional[StepResult], float]:
        """Run the step; (None, seconds) when it failed (recorded and reported here). Cancelled propagates."""
        ctx, rep = self.ctx, self.reports[i]
        rep.status = "running"
        self.log.write(step.name, f"start {step.title}")
        self.event(i, step, "running", f"{step.title}…")
        self.state["steps"][step.name] = {"status": "running", "started": now(), "inputs": inputs,
                                          "outputs": (rec or {}).get("outputs", {}), "files": []}
        self.pipe._save_state(self.state)
        t0 = time.monotonic()
        try:
            cancel.raise_if_cancelled(step.title)
            if step.name == "build":  # the schema's gates that needed the checkout, before hours of build
                raise_first(config_findings(self.pipe.answers))
            sub = self._sub_progress(step)
            with net.reporting(sub, step.name):  # a silent Hub/git/S3 wait shows as a progress line
                result = step.run(self.pipe.answers, ctx, sub, cancel)
            return result, time.monotonic() - t0
        except Cancelled as exc:
            rep.status, rep.elapsed, rep.error = "cancelled", time.monotonic() - t0, str(exc)
            self.state["steps"][step.name].update(status="cancelled", elapsed=rep.elapsed, error=str(exc))
            raise
        except Exception as exc:
            if isinstance(exc, WizardError):
                msg, fix = ctx.redact(str(exc.problem)), ctx.redact(exc.fix or "")
                self.error = msg
                self.exit_code = 2 if isinstance(exc, Refused) else None
                self.log.write(step.name, f"FAILED: {msg}" + (f" — fix: {fix}" if fix else ""))
            else:  # a bug: keep the state, say where, never lose the log
                import traceback

                msg = ctx.redact(f"{type(exc).__name__}: {exc}")
                self.error, fix = f"internal error in {step.name}: {msg}", f"please report it with the log {self.log.path}"
                self.log.write(step.name, "INTERNAL ERROR\n" + traceback.format_exc())
            self.fix = fix
            rep.status, rep.elapsed, rep.error = "failed", time.monotonic() - t0, msg
            self.state["steps"][step.name].update(status="failed", elapsed=rep.elapsed, error=msg, fix=fix)
            self.event(i, step, "failed", f"{step.title} failed: {msg}", seconds=rep.elapsed, error=msg, fix=fix)
            self.ok, self.stopped = False, step.name
            return None, rep.elapsed

    def _record(self, i: int, step: PipelineStep, inputs: str, result: StepResult, seconds: float) -> None:
        ctx, rep = self.ctx, self.reports[i]
        rep.elapsed = seconds
        status = "skipped" if result.skipped else "done"  # skipped: nothing done, the summary says why
        rep.status, rep.summary, rep.notes = status, ctx.redact(result.summary), [ctx.redact(n) for n in result.notes]
        ctx.outputs.update(result.outputs)
        ctx.digests[step.name] = result.digest
        self.state["steps"][step.name] = {"status": status, "started": self.state["steps"][step.name]["started"],
                                          "finished": now(), "elapsed": round(rep.elapsed, 3), "inputs": inputs,
                                          "digest": result.digest, "outputs": result.outputs,
                                          "files": result.files, "summary": rep.summary, "notes": rep.notes}
        self.pipe._save_state(self.state)
        self.log.write(step.name, f"{status} in {rep.elapsed:.1f} s: {rep.summary}")
        for n in rep.notes:
            self.log.write(step.name, f"note: {n}")
        self.event(i, step, status, f"{step.title}: {'skipped — ' if result.skipped else ''}{rep.summary}",
                   seconds=rep.elapsed, summary=rep.summary, notes=rep.notes)

    def cancelled(self, exc: Cancelled) -> None:
        names = [r.name for r in self.reports]
        self.stopped = next((r.name for r in self.reports if r.status == "cancelled"), None)
        self.ok, self.error = False, str(exc)
        self.fix = "run again with --resume to continue where it stopped"
        self.log.write("run", f"cancelled during {self.stopped}")
        self.send(StepEvent(self.stopped or "run", "cancelled", names.index(self.stopped) if self.stopped in names
                            else -1, self.total, message=f"cancelled during {self.stopped}"))

    def _sub_progress(self, step: PipelineStep) -> ProgressFn:
        send, log = self.send, self.log
        last_logged = {"t": 0.0}

        def sub(ev: Progress) -> None:
            msg = self.ctx.redact(ev.message or "")
            is_line = ev.done is None and ev.total is None
            now = time.monotonic()
            # every line of text goes to the log; bar updates at most twice a second (and the last one)
            if is_line or ev.done == ev.total or now - last_logged["t"] >= 0.5:
                last_logged["t"] = now
                frac = ev.fraction
                sub_name = (ev.extra or {}).get("step")
                log.write(f"{step.name}:{sub_name}" if sub_name and sub_name != step.name else step.name,
                          msg + (f" ({frac * 100:.0f}%)" if frac is not None and not is_line else ""))
            extra = dict(ev.extra or {})
            extra["pipeline_step"] = step.name
            send(Progress(step.name, msg, ev.done, ev.total, ev.unit, extra))

        return sub
