"""One error type for every bad input: a message naming the problem and the fix.

Front ends print ``str(err)`` (one line, or two with the fix) and exit with ``err.exit_code``;
they never show a traceback for a WizardError.
"""

from __future__ import annotations


class WizardError(Exception):
    """A problem the user can fix. ``fix`` says how."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None, *, exit_code: int | None = None):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:  # one clear message
        if self.fix:
            return f"{self.problem} — fix: {self.fix}"
        return self.problem


class Refused(WizardError):
    """A step refused before changing anything, for a reason in the user's hands (an S3 folder owned by another
    model): like bad input, ``lmi-wizard run`` exits 2, not 1 (a step that failed doing its work)."""


class Cancelled(WizardError):
    """The user cancelled a long step."""

    exit_code = 130

    def __init__(self, what: str = "operation"):
        super().__init__(f"{what} cancelled", None)
