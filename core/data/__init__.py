"""The wizard's JSON data tables (``core/data/*.json``), read through one loader.

:func:`load` returns the parsed table, cached: callers must not mutate it (copy first). A missing or
unreadable table means the installation is broken (the files ship inside the package).
"""
from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from ..base.errors import WizardError


@functools.lru_cache(maxsize=None)
def load(name: str) -> Any:
    """The parsed JSON table ``name`` (e.g. ``"lmi_releases.json"``) from this package; cached.
    Raises WizardError when it is missing or not valid JSON (a broken install)."""
    fix = "reinstall lmi-wizard (the data tables ship inside the package: lmi_wizard/core/data/)"
    try:
        text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise WizardError(f"data table {name} is missing from lmi_wizard.core.data ({exc.__class__.__name__})",
                          fix) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise WizardError(f"data table {name} cannot be read: {exc}", fix) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WizardError(f"data table {name} is not valid JSON (line {exc.lineno}: {exc.msg})", fix) from exc
