"""What a run reports: one :class:`StepReport` per step and the :class:`RunReport` (``lmi-wizard run --json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional


@dataclass
class StepReport:
    name: str
    title: str
    status: str  # pending | running | done | skipped | failed | cancelled
    elapsed: float = 0.0
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    error: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunReport:
    ok: bool
    steps: list[StepReport]
    outputs: dict
    work_dir: str
    log_path: str
    state_path: str
    recipe_path: Optional[str]
    error: Optional[str] = None
    fix: Optional[str] = None
    stopped_at: Optional[str] = None
    exit_code: Optional[int] = None  # 2: a step refused before changing anything (else 1 when not ok)

    @property
    def model_id(self) -> Optional[str]:
        return self.outputs.get("model_id")

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.outputs.items() if k not in ("listing_entries",)}
        return {"ok": self.ok, "error": self.error, "fix": self.fix, "stopped_at": self.stopped_at,
                "model_id": self.model_id, "work_dir": self.work_dir, "log": self.log_path,
                "state": self.state_path, "recipe": self.recipe_path,
                "steps": [s.to_dict() for s in self.steps], "outputs": out,
                "listing": self.outputs.get("listing_entries", [])}
