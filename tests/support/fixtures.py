"""Where the upstream fixtures (real upstream files used as data and oracles) are found.

Order: ``$LMI_WIZARD_FIXTURES`` (exclusive when set), else ``../shared/fixtures`` next to the project
(``$LMI_WIZARD_SHARED/fixtures`` when that is set), else ``tests/.fixtures`` as filled by
``scripts/fetch_fixtures.py``. Nothing here touches the disk at import time: ``FIXTURES`` is a lazy path that
resolves when a test uses it, and a test that uses it while no fixtures are reachable is SKIPPED with one line
saying how to get them (``HOW``). Module-level parametrization uses ``fixture_glob`` + ``params``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = "LMI_WIZARD_FIXTURES"
LOCAL = ROOT / "tests" / ".fixtures"
COMPLETE = ".complete"  # written by scripts/fetch_fixtures.py once every file is there and verified
HOW = (f"upstream fixtures not found: run `python scripts/fetch_fixtures.py` (fills tests/.fixtures) "
       f"or set {ENV}=/path/to/fixtures")


def locate() -> Path | None:
    """The fixtures folder, or None when none is reachable."""
    env = os.environ.get(ENV)
    if env:
        return Path(env) if Path(env).is_dir() else None
    shared = Path(os.environ.get("LMI_WIZARD_SHARED", ROOT.parent / "shared")) / "fixtures"
    if shared.is_dir():
        return shared
    if (LOCAL / COMPLETE).is_file():
        return LOCAL
    return None


def available() -> bool:
    return locate() is not None


def fixtures_root() -> Path:
    """The fixtures folder; inside a test, skips it (one line, HOW) when none is reachable."""
    root = locate()
    if root is None:
        pytest.skip(HOW)
    return root


class LazyFixturePath:
    """``FIXTURES / "pbtxt" / ...`` without touching the disk until used: any Path operation (read_text,
    is_file, glob, open, os.fspath …) resolves against ``fixtures_root()`` and so skips the running test when
    the fixtures are absent. Safe to build at module level; not safe to *use* at module level."""

    def __init__(self, *parts: str) -> None:
        self._parts = parts

    def path(self) -> Path:
        return fixtures_root().joinpath(*self._parts)

    def __truediv__(self, other: str | os.PathLike) -> LazyFixturePath:
        return LazyFixturePath(*self._parts, os.fspath(other))

    def joinpath(self, *other: str) -> LazyFixturePath:
        return LazyFixturePath(*self._parts, *other)

    def __fspath__(self) -> str:
        return os.fspath(self.path())

    def __str__(self) -> str:
        return str(self.path())

    def __repr__(self) -> str:
        return f"LazyFixturePath({'/'.join(self._parts) or '.'})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.path(), name)


FIXTURES = LazyFixturePath()


def fixture_glob(pattern: str) -> list[Path]:
    """Sorted matches under the fixtures, or [] when they are absent (for module-level lists; pair with
    ``params`` so the test shows as one skipped item with HOW instead of disappearing)."""
    root = locate()
    return sorted(root.glob(pattern)) if root is not None else []


def params(values: Sequence[Any], ids: Iterable[str] | None = None, arity: int = 1) -> list[Any]:
    """``pytest.mark.parametrize`` values drawn from the fixtures: the values (tuples when ``arity`` > 1), or one
    skipped param saying how to get the fixtures when they are absent."""
    if not available():
        return [pytest.param(*([None] * arity), id="no-fixtures", marks=pytest.mark.skip(reason=HOW))]
    ids = list(ids) if ids is not None else [None] * len(values)
    return [pytest.param(*(v if arity > 1 else (v,)), id=i) for v, i in zip(values, ids, strict=True)]
