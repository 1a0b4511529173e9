"""The serve test's options and its clean-up proof, shared by test_serve, test_serve_step and test_pipeline."""

from __future__ import annotations

from lmi_wizard.core.serve.server import group_members
from tests.support.engines import CHECK_KW
from tests.support.procs import alive

# the pipeline's serve_options for the djl-serving stand-in: short grace, no NVML, checks that read nothing here
SERVE = {"grace": 0.3, "nvml": False, "check_kw": CHECK_KW, "free_timeout": 2}


def assert_nothing_left(record: dict) -> None:
    """No process the stand-in recorded (its leader and workers) still runs, and its process group is empty."""
    pids = [record["pid"], *record["workers"]]
    assert not [p for p in pids if alive(p)], f"still running: {[p for p in pids if alive(p)]}"
    assert group_members(record["pgid"]) == []
