"""Shared test fixtures. Real components only; stand-ins only at the GPU boundary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LMI_WIZARD_SHARED", ROOT.parent / "shared"))
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"upstream fixtures not found at {FIXTURES} (set LMI_WIZARD_SHARED)")
    return FIXTURES


@pytest.fixture(autouse=True)
def _no_secrets_leak_from_env(monkeypatch):
    """Tests never see the developer's real cloud credentials or HF token."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
