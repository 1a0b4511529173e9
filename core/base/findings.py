"""One shape for "a problem, with its fix": every check, validator and rule in core returns these.

A :class:`Finding` carries its fix as a field (never glued into the message), a stable ``code`` (slug) for
tests and ``--json`` output, and where it applies: a wizard field ``key``, a file ``path`` and ``line``, or a
``group`` (the section of a report it belongs to). ``severity`` is one vocabulary everywhere:

- ``"error"``: blocks (Next in the wizard, ``run``/``plan`` before anything runs, a non-zero exit of a check);
- ``"warning"``: shown, never blocks;
- ``"info"``: a note.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Optional

from .errors import WizardError

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "warning" | "info"
    code: str  # stable slug, e.g. "missing-pbtxt"
    problem: str
    fix: Optional[str] = None
    key: Optional[str] = None  # a wizard field key (or a step key for a cross-field rule)
    path: Optional[str] = None
    line: Optional[int] = None
    group: Optional[str] = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    # the older spellings, so a consumer reads one shape
    @property
    def level(self) -> str:
        return self.severity

    @property
    def message(self) -> str:
        return self.problem

    def with_(self, **changes) -> "Finding":
        return replace(self, **changes)

    def text(self, *, with_fix: bool = True) -> str:
        """One line: the problem, then the fix when there is one."""
        return self.problem + (f" — fix: {self.fix}" if with_fix and self.fix else "")

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.path and self.line else (f"{self.path}: " if self.path else "")
        return f"{self.severity}: {where}{self.text()}"

    def to_json(self) -> dict:
        out = {"severity": self.severity, "code": self.code, "problem": self.problem, "message": self.problem,
               "fix": self.fix}
        for name in ("key", "path", "line", "group"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def to_error(self) -> WizardError:
        return WizardError(self.problem, self.fix)


def error(code: str, problem: str, fix: Optional[str] = None, **where) -> Finding:
    return Finding("error", code, problem, fix, **where)


def warning(code: str, problem: str, fix: Optional[str] = None, **where) -> Finding:
    return Finding("warning", code, problem, fix, **where)


def info(code: str, problem: str, fix: Optional[str] = None, **where) -> Finding:
    return Finding("info", code, problem, fix, **where)


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]


def raise_first(findings: Iterable[Finding]) -> None:
    """Raise the first blocking finding as a WizardError (problem + fix; the count of the others said)."""
    errs = blocking(findings)
    if errs:
        first = errs[0]
        more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
        raise WizardError(first.problem + more, first.fix)
