"""Training job state: DescribeTrainingJob (status, secondary status transitions, FailureReason),
StopTrainingJob, and SageMaker's errors in one line each (a quota of 0 named, with where to raise it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..base.errors import WizardError

__all__ = ["JobState", "describe", "exists", "stop", "explain", "TERMINAL", "list_jobs"]

TERMINAL = ("Completed", "Failed", "Stopped")


@dataclass
class JobState:
    name: str
    status: str  # InProgress | Completed | Failed | Stopping | Stopped
    secondary: str = ""
    failure: Optional[str] = None
    instance_type: Optional[str] = None
    output: Optional[str] = None
    transitions: list = field(default_factory=list)
    tags_digest: Optional[str] = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def ok(self) -> bool:
        return self.status == "Completed"


def _code(exc: BaseException) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def _message(exc: BaseException) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Message", "") or str(exc)


def _is_missing(exc: BaseException) -> bool:
    msg = _message(exc).lower()
    return _code(exc) in ("ResourceNotFound", "ValidationException") and (
        "not found" in msg or "could not find" in msg or "does not exist" in msg)


def explain(exc: BaseException, *, instance_type: Optional[str] = None, job: Optional[str] = None) -> WizardError:
    """A boto error as one WizardError naming the problem and the fix."""
    code, msg = _code(exc), _message(exc)
    from ..s3 import redact

    msg = redact(msg)
    if code == "ResourceLimitExceeded":
        what = f"{instance_type} for training job usage" if instance_type else "the instance type's training quota"
        return WizardError(f"SageMaker refused the job: {msg} (quota: {what!r})",
                           f"request an increase of {what!r} in Service Quotas → Amazon SageMaker (new accounts "
                           "often have 0 for p4d/p5), or use another instance type of the same architecture",
                           exit_code=1)
    if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
        return WizardError(f"AWS denied the call: {msg}", "give the caller the permissions of `lmi-wizard remote "
                           "policy` (caller part)", exit_code=1)
    if _is_missing(exc):
        return WizardError(f"no training job {job!r}", "list them with `lmi-wizard remote status`")
    if code == "ResourceInUse":
        return WizardError(f"a training job named {job!r} already exists", "submit again (names carry the time)")
    return WizardError(f"SageMaker: {code or type(exc).__name__}: {msg}", "see the message above", exit_code=1)


def describe(sm, name: str) -> JobState:
    try:
        d = sm.describe_training_job(TrainingJobName=name)
    except Exception as exc:
        raise explain(exc, job=name) from None
    return JobState(name=name, status=d.get("TrainingJobStatus", "?"), secondary=d.get("SecondaryStatus", ""),
                    failure=d.get("FailureReason"), instance_type=(d.get("ResourceConfig") or {}).get("InstanceType"),
                    output=(d.get("OutputDataConfig") or {}).get("S3OutputPath"),
                    transitions=[(t.get("Status"), t.get("StatusMessage")) for t in
                                 d.get("SecondaryStatusTransitions") or []])


def exists(sm, name: str) -> bool:
    try:
        sm.describe_training_job(TrainingJobName=name)
        return True
    except Exception as exc:
        if _is_missing(exc):
            return False
        raise explain(exc, job=name) from None


def stop(sm, name: str) -> JobState:
    """StopTrainingJob; the job goes Stopping → Stopped (the container gets SIGTERM, then 120 s)."""
    state = describe(sm, name)
    if state.done:
        return state
    try:
        sm.stop_training_job(TrainingJobName=name)
    except Exception as exc:
        raise explain(exc, job=name) from None
    return describe(sm, name)


def list_jobs(sm, prefix: str = "lmiw-", limit: int = 50) -> list[str]:
    names: list[str] = []
    kw = {"NameContains": prefix, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": min(limit, 100)}
    try:
        page = sm.list_training_jobs(**kw)
    except Exception as exc:
        raise explain(exc) from None
    names += [j["TrainingJobName"] for j in page.get("TrainingJobSummaries", []) if j["TrainingJobName"].startswith(prefix)]
    return names[:limit]
