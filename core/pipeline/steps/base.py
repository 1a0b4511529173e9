"""The step contract: :class:`PipelineStep` (``plan`` → shell lines for ``lmi-wizard plan``, ``run`` →
:class:`StepResult`, ``still_valid`` → whether ``--resume`` may skip it) and the :class:`RunContext` its steps
share.

``reads`` names every answer a step's plan()/run() reads (a section name means all of it): they, with the
digests of the ``uses`` steps' outputs, are the step's resume inputs. tests/test_pipeline.py records what each
step really reads and fails on one that is not declared. A step that ``always_run`` s (the environment check, the
final listing) is never skipped, so its ``reads`` only document it. Where things are is :class:`RunPaths`
(``ctx.paths``), never derived in a step.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ...base.progress import CancelToken, ProgressFn
from ...base.secrets import Redactor
from ...wizard import Answers, work_path
from ..paths import RunPaths
from ..state import RunLog, digest, file_still_valid


@dataclass
class StepResult:
    """What one step produced. ``outputs`` are values later steps use (JSON-able); ``files`` are
    :func:`~core.pipeline.state.file_record` dicts checked by ``--resume``."""

    outputs: dict = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    skipped: bool = False  # nothing was done (the summary says why, in one line): reported as skipped, redone next run

    @property
    def digest(self) -> str:
        return digest({"outputs": self.outputs,
                       "files": [(f["path"], f["size"], f.get("sha256") or f.get("mtime_ns")) for f in self.files
                                 if f.get("check") != "exists"]})


@dataclass
class RunContext:
    """Shared by the steps of one run (or one plan)."""

    answers: Answers
    work_dir: Path
    run_dir: Path
    force: bool = False
    python: str = "python3"
    trtllm_build: tuple[str, ...] = ("trtllm-build",)
    redact: Redactor = field(default_factory=Redactor)
    outputs: dict = field(default_factory=dict)  # what finished steps produced, by key
    digests: dict = field(default_factory=dict)  # step name → digest of what it produced
    records: dict = field(default_factory=dict)  # step name → record from an earlier run (run-state)
    log: Optional[RunLog] = None
    hf_endpoint: Optional[str] = None
    s3_endpoint: Optional[str] = None
    owned: bool = False  # set per step: an earlier run of this work folder made this step's outputs
    serve_options: dict = field(default_factory=dict)  # core.serve.ServeOptions fields for the load test (tests)

    def path(self, value: str | os.PathLike | None) -> Optional[Path]:
        return work_path(self.answers, value)

    @property
    def paths(self) -> RunPaths:
        """Where things are, for these answers and what the finished steps produced."""
        return RunPaths(self.answers, self.outputs)

    def s3_endpoint_for(self, a: Answers) -> Optional[str]:
        """The S3 endpoint: the recipe's, else the session's, else ``AWS_ENDPOINT_URL``."""
        return a["destination.endpoint_url"] or self.s3_endpoint or os.environ.get("AWS_ENDPOINT_URL") or None

    @property
    def may_replace(self) -> bool:
        """Whether this step may replace outputs that already exist."""
        return self.force or self.owned

    def note(self, step: str, text: str) -> None:
        if self.log is not None:
            self.log.write(step, text)

    @property
    def log_path(self) -> Optional[Path]:
        return self.log.path if self.log is not None else None


def q(p: Any) -> str:
    """One shell word."""
    return shlex.quote(str(p))


# the plan's lmi_wizard snippets run on the interpreter lmi-wizard itself runs on (a venv or pipx install is
# not what `python3` finds on PATH)
LMI_PYTHON = shlex.quote(sys.executable or "python3")


class PipelineStep:
    name = ""
    title = ""
    reads: frozenset[str] = frozenset()  # answers this step reads (a section name means all of it)
    uses: tuple[str, ...] = ()  # earlier steps whose outputs it uses
    always_run = False  # cheap checks that are redone on every run

    def applies(self, a: Answers) -> bool:
        return True

    def inputs(self, a: Answers, ctx: RunContext) -> dict:
        vals: dict[str, Any] = {}
        for k in sorted(self.reads):
            if "." in k:
                vals[k] = a[k]
            else:
                vals.update({f"{k}.{n}": v for n, v in a.section(k).items()})
        vals.update({f"after:{u}": ctx.digests.get(u) for u in self.uses})
        return vals

    def plan(self, a: Answers, ctx: RunContext) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, a: Answers, ctx: RunContext, progress: ProgressFn | None,
            cancel: CancelToken | None) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def still_valid(self, record: dict, ctx: RunContext | None = None) -> bool:
        """Whether what an earlier run of this step produced is still there, unchanged."""
        if self.always_run or record.get("status") != "done":
            return False
        return all(file_still_valid(f) for f in record.get("files", []))

    def restore(self, record: dict, ctx: RunContext) -> None:
        ctx.outputs.update(record.get("outputs", {}))
