"""Upstream source repositories read at test time (never copied into the project).

``LMI_WIZARD_UPSTREAM`` (default ``../.mirror`` beside the checkout) holds bare mirrors named
``owner+name/repo`` (what the workspace's fetch tool brings). A test that reads one skips with one line when it
is absent; every such test has a data-driven twin that runs everywhere.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = Path(os.environ.get("LMI_WIZARD_UPSTREAM", ROOT.parent / ".mirror"))


def git_dir(repo: str) -> Path | None:
    d = UPSTREAM / repo.replace("/", "+") / "repo"
    return d if (d / "HEAD").is_file() else None


def show(repo: str, ref: str, path: str) -> str:
    """``git show REF:PATH`` of the mirror, or skip (mirror or ref absent)."""
    d = git_dir(repo)
    if d is None:
        pytest.skip(f"upstream {repo} not mirrored under {UPSTREAM} (set LMI_WIZARD_UPSTREAM)")
    r = subprocess.run(["git", "-C", str(d), "show", f"{ref}:{path}"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"{repo} has no {ref}:{path} in the mirror")
    return r.stdout
