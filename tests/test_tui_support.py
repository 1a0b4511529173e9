"""The TUI test helpers (tests/support/tui.py) are core-shaped: the stand-in environment report is what
core.environment.gather() returns over the recorded H200."""

from __future__ import annotations

from tests.support.tui import environment_report


def test_stand_in_report_is_core_shaped(tmp_path):
    rep = environment_report(tmp_path)
    assert rep.gpu.available and rep.gpu.count == 2 and rep.gpu.gpus[0].arch == "sm90"
    assert rep.tensorrt_llm.version == "0.12.0" and rep.lmi.layout == "triton"
    none = environment_report(tmp_path / "b", trtllm=None, gpus=0)
    assert not none.gpu.available and not none.tensorrt_llm.installed
    assert any("no NVIDIA GPU" in s for s in none.cannot_do())
