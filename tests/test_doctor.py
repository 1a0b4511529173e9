"""`lmi-wizard doctor`: through the real CLI dispatcher, with the fake NVML at the NVML boundary only,
real dist-info metadata on sys.path, real git repos (file://) for the tag lookup, and the stand-alone
stdlib-only path a bare GPU machine uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.facts.environment import EnvironmentReport, gather
from lmi_wizard.core.base.errors import Cancelled
from lmi_wizard.core.base.progress import CancelToken

from tests.support.nvml import fake_nvml, h200_record
from tests.support.repos import tagged_config_repo as make_repo

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {"gpus", "driver_version", "tensorrt_llm", "tensorrt", "deploy_instance_families", "lmi", "notes"}


@pytest.fixture
def h200_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(h200_record()))


@pytest.fixture
def probes(tmp_path):
    (tmp_path / "usr-local").mkdir()
    return ["--djl-telemetry", str(tmp_path / "no-telemetry"), "--djl-root", str(tmp_path / "usr-local")]


def _dist(site: Path, name: str, version: str) -> None:
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def _doctor_json(capsys, *args) -> dict:
    assert cli.main(["doctor", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_on_an_h200_without_tensorrt_llm(h200_nvml, probes, capsys):
    j = _doctor_json(capsys, "--offline", *probes)
    assert REQUIRED <= set(j)
    assert j["gpus"] == [{"index": 0, "name": "NVIDIA H200", "memory_total_bytes": 150754820096,
                          "compute_capability": [9, 0], "arch": "sm90", "mig_enabled": False}]
    assert j["driver_version"] == "580.159.04" and j["cuda_driver_version"] == "13.0"
    assert j["deploy_instance_families"] == ["p5", "p5e", "p5en"]
    assert j["tensorrt_llm"]["installed"] is False and j["tensorrt_llm"]["tag"] is None
    assert j["tensorrt"] == {"installed": False, "version": None, "distribution": None}
    assert j["lmi"]["version"] == "0.33.0" and j["lmi"]["layout"] == "flat"
    assert j["can_build"] is False and any("tensorrt-llm is not installed" in c for c in j["cannot_do"])


def test_json_with_tensorrt_llm_and_tag_from_a_real_remote(h200_nvml, probes, capsys, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "tensorrt_llm", "0.12.0.dev2024080600")
    _dist(site, "tensorrt", "10.3.0")
    monkeypatch.syspath_prepend(str(site))
    remote = make_repo(tmp_path / "tensorrtllm_backend", ["v0.11.0", "v0.12.0"], "all_models/inflight_batcher_llm")
    trtllm = make_repo(tmp_path / "TensorRT-LLM", ["v0.11.0", "v0.12.0"], "examples")  # listed too (both cloned)
    j = _doctor_json(capsys, "--backend-url", remote.as_uri(), "--trtllm-url", trtllm.as_uri(), "--timeout", "20",
                     *probes)
    t = j["tensorrt_llm"]
    assert (t["installed"], t["version"], t["tag"]) == (True, "0.12.0.dev2024080600", "v0.12.0")
    assert t["template_repo"] == "triton-inference-server/tensorrtllm_backend"
    assert t["template_subdir"] == "all_models/inflight_batcher_llm"
    assert t["tag_resolution"]["needs_confirmation"] is True and t["tag_resolution"]["tag_verified"] is True
    assert j["tensorrt"]["version"] == "10.3.0"
    assert (j["lmi"]["version"], j["lmi"]["layout"]) == ("0.32.0", "triton")
    assert j["can_build"] is True and j["cannot_do"] == []
    assert any("ships TensorRT-LLM 0.12.0, not 0.12.0.dev2024080600" in n for n in j["notes"])
    assert any(n.startswith("tag v0.12.0: ") and "development build" in n for n in j["notes"])


def test_inside_an_lmi_033_image(h200_nvml, tmp_path, capsys):
    tel = tmp_path / "telemetry"
    tel.write_text("0.33.0 tensorrtllm\n")
    j = _doctor_json(capsys, "--offline", "--djl-telemetry", str(tel), "--djl-root", str(tmp_path))
    assert j["lmi"]["source"] == "image" and j["lmi"]["layout"] == "flat"
    assert "will not load" in j["lmi"]["explanation"]


def test_tensorrt_llm_without_the_engine_backend_is_said(h200_nvml, probes, capsys, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "tensorrt_llm", "1.3.0rc22")  # after upstream removed the TensorRT engine backend
    monkeypatch.syspath_prepend(str(site))
    assert cli.main(["doctor", "--offline", *probes]) == 0
    out = capsys.readouterr().out
    cannot = out[out.index("Cannot do here:"):]
    assert "tensorrt-llm 1.3.0rc22 has no TensorRT engine backend" in cannot and "up to 1.3.0rc20" in cannot
    j = _doctor_json(capsys, "--offline", *probes)
    assert j["can_build"] is False and any("removed upstream in 1.3.0rc21" in c for c in j["cannot_do"])
    # a self-built 0.35 image is a target when the layout is named
    j = _doctor_json(capsys, "--offline", "--lmi-version", "0.35.0", "--layout", "flat", *probes)
    assert (j["lmi"]["version"], j["lmi"]["trtllm_version"]) == ("0.35.0", "1.0.0")


def test_human_output_without_gpu_says_what_cannot_be_done(monkeypatch, probes, capsys):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert cli.main(["doctor", "--offline", *probes]) == 0
    out = capsys.readouterr().out
    assert out.startswith("GPU           no NVIDIA GPU visible: the NVML Python binding is not installed")
    assert "Cannot do here:" in out and "engines cannot be built or tested here" in out
    assert "TensorRT-LLM  not installed" in out and "LMI target    LMI 0.33.0 → flat layout" in out


def test_human_output_on_h200(h200_nvml, probes, capsys):
    assert cli.main(["doctor", "--offline", "--lmi-version", "0.30.0", *probes]) == 0
    out = capsys.readouterr().out
    assert "1 × NVIDIA H200 (140 GiB, sm90) — driver 580.159.04, CUDA 13.0" in out
    assert "ml.p5.*, ml.p5e.*, ml.p5en.*" in out
    assert "LMI 0.30.0 → triton layout  [override]" in out
    assert "p5 (H100, 80 GiB)" in out


@pytest.mark.parametrize("args, words", [(["--lmi-version", "newest"], "not an LMI version"),
                                         (["--lmi-version", "0.20.0"], "no TensorRT-LLM support"),
                                         (["--lmi-version", "0.35.0"], "published no TensorRT-LLM image"),
                                         (["--timeout", "0"], "--timeout must be a positive"),
                                         (["--timeout", "inf"], "--timeout must be a positive"),
                                         (["--checkout", "/nonexistent/dir"], "checkout not found"),
                                         (["--lmi-version", " "], "--lmi-version is empty"),
                                         (["--checkout", __file__], "is a file, not a checkout folder")])
def test_bad_input_is_one_line_exit_2(args, words, probes, capsys):
    rc = cli.main(["doctor", "--offline", *args, *probes])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1 and "fix:" in err


def test_bad_layout_choice_is_argparse_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["doctor", "--layout", "nested"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "invalid choice" in err and len(err.strip().splitlines()) == 1


def test_gather_reports_progress_and_can_be_cancelled(h200_nvml, tmp_path):
    events = []
    r = gather(offline=True, telemetry_file=None, install_root=None, progress=events.append)
    assert isinstance(r, EnvironmentReport) and r.gpu.available
    assert [e.done for e in events] == [0, 1, 3, 4] and events[-1].total == 4
    tok = CancelToken()
    tok.cancel()
    with pytest.raises(Cancelled):
        gather(offline=True, telemetry_file=None, install_root=None, cancel=tok)


def test_first_screen_gather_never_touches_git(h200_nvml, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "tensorrt-llm", "1.2.0rc6.post2")
    from lmi_wizard.core.facts import versions
    monkeypatch.setattr(versions, "list_remote_tags", lambda *a, **k: pytest.fail("git used"))
    r = gather(lookup_tags=False, metadata_path=[site], telemetry_file=None, install_root=None)
    # unchecked: the post tag may not exist, so the base tag is offered, with a note
    assert r.tag.tag == "v1.2.0rc6" and not r.tag.tag_verified
    assert any("could not check whether tag v1.2.0rc6.post2 exists" in n for n in r.tag.notes)
    assert r.tag.template_repo.github == "NVIDIA/TensorRT-LLM" and r.lmi.layout == "flat"


def test_stand_alone_doctor_runs_on_stdlib_only(tmp_path):
    """What a bare GPU machine does (bench/device_doctor.sh): no site-packages at all (-S), lmi_wizard
    importable through a folder holding links to core/ and tui/. pynvml is absent here, so: a clear no-GPU state."""
    pkg = tmp_path / "pp" / "lmi_wizard"
    pkg.mkdir(parents=True)
    (pkg / "core").symlink_to(ROOT / "core")
    (pkg / "tui").symlink_to(ROOT / "tui")
    code = ("import sys, io, contextlib, json;"
            f"sys.path.insert(0, {str(tmp_path / 'pp')!r});"
            "from lmi_wizard.tui.cli.commands import doctor;"
            "buf = io.StringIO();\n"
            "with contextlib.redirect_stdout(buf): rc = doctor.main(['--json', '--offline']);\n"
            "extra = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'lmi_wizard', '__main__'});"
            "print(json.dumps({'rc': rc, 'report': json.loads(buf.getvalue()), 'extra': extra}))")
    res = subprocess.run([sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["rc"] == 0 and out["extra"] == []
    assert out["report"]["gpus"] == [] and "nvidia-ml-py" in out["report"]["gpu_reason"]
    assert out["report"]["lmi"]["layout"] in ("triton", "flat")
