"""Human-readable sizes and counts: the one formatter for bytes, GiB and parameter counts.

Every screen, verb and message that shows a size calls these (a second copy drifts: "13.5 GiB" here,
"14 GB" there).
"""

from __future__ import annotations

from typing import Optional

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: Optional[float]) -> str:
    """``1536`` → ``"1.5 KiB"``; whole bytes below 1 KiB; ``"?"`` for None."""
    if n is None:
        return "?"
    for unit in _UNITS:
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} {_UNITS[-1]}"  # pragma: no cover (the loop returns)


def gib(n: float, digits: int = 1) -> str:
    """Always in GiB (GPU memory, weights per GPU): ``gib(80 * 2**30)`` → ``"80.0 GiB"``; ``digits=0`` → ``"80 GiB"``."""
    return f"{n / 2**30:.{digits}f} GiB"


def human_params(n: Optional[int]) -> str:
    """A parameter count: ``6_738_415_616`` → ``"6.74B"``; ``"?"`` for None."""
    if n is None:
        return "?"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f}{suffix}"
    return str(n)
