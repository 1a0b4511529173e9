"""The build runner: real processes (stand-in builders at the builders' paths), streaming, failures, cancel,
engine folder validation and the build record."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.procs import alive as _alive

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.build.run import RECORD_NAME, explain_failure, read_build_record, redact, run_plan, validate_engine_dir
from lmi_wizard.core.base.errors import Cancelled, WizardError
from lmi_wizard.core.build import BuildIntent, BuildPlan, Step, render_plan
from lmi_wizard.core.base.progress import CancelToken
from stand_ins.layout import install_console_script, install_stand_in, make_checkout

PY = sys.executable
FACTS = {"tensorrt_llm": None, "tensorrt": None, "gpus": [], "gpu_note": "no NVIDIA GPU visible: test"}


def _codes(findings, level="error"):
    return {f.code for f in findings if f.level == level}


# ---------------------------------------------------------------- known errors

@pytest.mark.parametrize("line,code", [
    ("[TensorRT-LLM][ERROR] Assertion failed: serialization assertion plan->header.magicTag failed", "version_mismatch"),
    ("IRuntime::deserializeCudaEngine: Error Code 1: Serialization (Serialization assertion stdVersionRead == "
     "kSERIALIZATION_VERSION failed.Version tag does not match.)", "version_mismatch"),
    ("trtllm-build: error: unrecognized arguments: --max_output_len 512", "unrecognized_arguments"),
    ("build.py: error: argument --context_fmha: invalid choice: 'yes' (choose from 'enable', 'disable')", "invalid_choice"),
    ("Killed", "host_oom"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "cuda_oom"),
    ("RuntimeError: CUDA error: no kernel image is available for execution on the device", "unsupported_sm"),
    ("RuntimeError: Unsupported model architecture: FooForCausalLM", "unsupported_architecture"),
    ("ModuleNotFoundError: No module named 'tensorrt_llm'", "missing_module"),
    ("OSError: [Errno 28] No space left on device", "disk_full"),
])
def test_known_errors(line, code):
    err = explain_failure(["some progress", line, "exiting"], 1)
    assert err is not None and err.id == code and err.line == line.strip() and err.fix


def test_exit_status_alone_and_unknown():
    assert explain_failure(["loading weights"], -9).id == "host_oom"
    assert explain_failure(["loading weights"], 137).id == "host_oom"
    assert explain_failure(["something odd happened"], 1) is None
    assert explain_failure(["Skilled worker"], 1) is None


# ---------------------------------------------------------------- engine folder validation

def _flat(d: Path, n: int, ws: int | None = None):
    d.mkdir(parents=True, exist_ok=True)
    for r in range(n):
        (d / f"rank{r}.engine").write_bytes(b"x")
    (d / "config.json").write_text(json.dumps({"pretrained_config": {"mapping": {"world_size": ws or n}},
                                               "build_config": {"max_input_len": 2048}}))
    return d


def test_validate_flat_ok_and_counts(tmp_path):
    d = _flat(tmp_path / "e", 2)
    f = validate_engine_dir(d, 2)
    assert _codes(f) == set() and "format_flat" in _codes(f, "info")
    assert _codes(validate_engine_dir(d, 4)) == {"rank_count"}
    assert _codes(validate_engine_dir(_flat(tmp_path / "w", 2, ws=4), None)) == {"config_world_size"}


def test_more_engine_files_than_tp_times_pp_are_refused(tmp_path, fixtures_dir):
    """4 engines whose config.json agrees with itself (world size 4) for a TP 2 × PP 1 build: refused by the
    count alone (the config cross-check cannot see it); the same through run_plan, after a real (stand-in) build."""
    d = _flat(tmp_path / "e", 4)
    f = next(f for f in validate_engine_dir(d, 2) if f.code == "rank_count")
    assert f.level == "error" and "4 engine file(s) for world size 2" in f.problem and "TP × PP" in f.fix
    assert _codes(validate_engine_dir(d, 4)) == set()
    # the legacy builder writes TP×PP = 2 engines; a plan for world size 1 must not accept them
    ex = make_checkout(fixtures_dir, tmp_path / "co", "0.5")
    plan = render_plan(ex, BuildIntent.tutorial(model_dir="/m", output_dir="out"), python=PY)
    install_stand_in("fake_legacy_build.py", ex / "build.py")
    plan.world_size = 1
    res = run_plan(plan, log_path=tmp_path / "l.log", env_facts=FACTS)
    assert len(list((ex / "out").glob("*.engine"))) == 2
    assert not res.ok and "rank_count" in _codes(res.findings) and res.record_path is None
    assert res.failure().code == "rank_count" and "TP × PP" in res.failure().fix


def test_validate_legacy_names(tmp_path):
    d = tmp_path / "1"
    d.mkdir()
    for r in range(2):
        (d / f"baichuan_float16_tp2_rank{r}.engine").write_bytes(b"x")
    (d / "config.json").write_text(json.dumps({"builder_config": {"tensor_parallel": 2}, "plugin_config": {}}))
    (d / "model.cache").write_bytes(b"c")
    f = validate_engine_dir(d, 2)
    assert _codes(f) == set() and "format_legacy" in _codes(f, "info")
    assert _codes(validate_engine_dir(d, 2, target="flat")) == {"not_flat"}
    assert _codes(validate_engine_dir(d, 2, target="triton")) == set()
    assert _codes(validate_engine_dir(_flat(tmp_path / "flat", 2), 2, target="flat")) == set()


def test_validate_problems(tmp_path):
    ck = tmp_path / "ckpt"
    ck.mkdir()
    (ck / "rank0.safetensors").write_bytes(b"w")
    (ck / "rank1.safetensors").write_bytes(b"w")
    f = validate_engine_dir(ck, 2)
    assert _codes(f) == {"checkpoint_only"} and "trtllm-build" in f[0].fix
    (ck / "config.json").write_text(json.dumps({"architecture": "LlamaForCausalLM", "mapping": {"world_size": 2}}))
    assert _codes(validate_engine_dir(ck, 2)) == {"checkpoint_only"}
    assert _codes(validate_engine_dir(tmp_path / "missing")) == {"engine_dir_missing"}
    nocfg = tmp_path / "nocfg"
    nocfg.mkdir()
    (nocfg / "rank0.engine").write_bytes(b"x")
    assert _codes(validate_engine_dir(nocfg, 1)) == {"no_config"}
    bad = _flat(tmp_path / "bad", 1)
    (bad / "config.json").write_text("{not json")
    assert "bad_config" in _codes(validate_engine_dir(bad, 1))
    gap = _flat(tmp_path / "gap", 2)
    (gap / "rank1.engine").rename(gap / "rank2.engine")
    assert "rank_gap" in _codes(validate_engine_dir(gap))
    empty = _flat(tmp_path / "empty", 1)
    (empty / "rank0.engine").write_bytes(b"")
    assert "empty_engine" in _codes(validate_engine_dir(empty, 1))
    none = tmp_path / "none"
    none.mkdir()
    (none / "config.json").write_text("{}")
    assert _codes(validate_engine_dir(none)) == {"no_engines"}


# ---------------------------------------------------------------- running with stand-in builders

def _two_step(fixtures_dir, tmp_path, trtllm_stand_in="fake_trtllm_build.py", convert_stand_in="fake_convert.py"):
    """Render from the real main-era sources, then put stand-ins where the builders are."""
    ex = make_checkout(fixtures_dir, tmp_path / "co", "main")
    plan = render_plan(ex, BuildIntent.tutorial(model_dir=str(tmp_path / "hf"), output_dir="engines"),
                       python=PY, trtllm_version="0.21.0rc1")
    install_stand_in(convert_stand_in, ex / "convert_checkpoint.py")
    bindir = tmp_path / "bin"
    install_console_script(bindir, "trtllm-build", trtllm_stand_in, PY)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return ex, plan, env


def test_two_step_build_streams_validates_and_records(fixtures_dir, tmp_path):
    ex, plan, env = _two_step(fixtures_dir, tmp_path)
    lines, events = [], []
    log = tmp_path / "build.log"
    res = run_plan(plan, on_line=lambda s, st, l: lines.append((s, st, l)), log_path=log, env=env,
                   progress=events.append, env_facts=FACTS)
    assert res.ok, res.summary()
    assert res.failure() is None
    assert [s.name for s in res.steps] == ["convert", "trtllm-build"] and all(s.returncode == 0 for s in res.steps)
    assert ("convert", "out", "[stand-in convert] rank 1 saved") in lines
    assert ("convert", "err", "[stand-in convert] warning: fake weights") in lines
    assert ("trtllm-build", "out", "[stand-in trtllm-build] building rank 1/2") in lines
    text = log.read_text()
    assert "[stand-in trtllm-build] done" in text and "$ (cd " in text and "trtllm-build --checkpoint_dir" in text
    eng = ex / "engines"
    assert sorted(p.name for p in eng.iterdir()) == ["build_record.json", "config.json", "rank0.engine", "rank1.engine"]
    cfg = json.loads((eng / "config.json").read_text())
    # the stand-in received exactly the rendered flags
    assert cfg["build_config"]["max_seq_len"] == 2560 and "--kv_cache_type" in cfg["build_config"]["extra_args"]
    assert _codes(res.findings) == set() and "format_flat" in _codes(res.findings, "info")
    rec = read_build_record(eng)
    assert rec == json.loads((eng / RECORD_NAME).read_text())
    assert rec["world_size"] == 2 and rec["checkout_version"] == "0.21.0rc1"
    assert rec["steps"][1]["argv"][0] == "trtllm-build" and rec["gpu_note"].startswith("no NVIDIA GPU")
    assert rec["started"] <= rec["finished"] and rec["elapsed_s"] >= 0
    assert any("max_seq_len" in t for t in rec["translations"])
    assert rec["intent"]["max_output_len"] == 512 and rec["intent"]["tp_size"] == 2
    assert events[0].step == "build" and events[-1].extra == {"ok": True}
    assert any(e.extra.get("stream") == "err" for e in events)


def test_legacy_build_with_real_environment_facts(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "0.5")
    plan = render_plan(ex, BuildIntent.tutorial(model_dir="/m", output_dir="out"), python=PY)
    install_stand_in("fake_legacy_build.py", ex / "build.py")
    res = run_plan(plan, log_path=tmp_path / "l.log")  # env facts detected for real (no GPU here: says so)
    assert res.ok, res.summary()
    assert sorted(p.name for p in (ex / "out").glob("*.engine")) == ["llama_float16_tp2_rank0.engine",
                                                                      "llama_float16_tp2_rank1.engine"]
    rec = read_build_record(ex / "out")
    assert "tensorrt_llm" in rec and isinstance(rec["gpus"], list)
    assert rec["gpus"] or rec["gpu_note"]
    # the same engines for the flat target (LMI 0.33+): the check after the build says they will not load
    res = run_plan(plan, log_path=tmp_path / "l2.log", force=True, target="flat", env_facts=FACTS)
    assert not res.ok and "not_flat" in _codes(res.findings) and res.record_path is None


def test_failure_unrecognized_arguments(fixtures_dir, tmp_path):
    ex, plan, env = _two_step(fixtures_dir, tmp_path, trtllm_stand_in="fail_unrecognized.py")
    res = run_plan(plan, env=env, log_path=tmp_path / "l.log", env_facts=FACTS)
    assert not res.ok
    s = res.failed_step
    assert s.name == "trtllm-build" and s.returncode == 2
    assert s.error.id == "unrecognized_arguments" and "--gemm_plugin" in s.error.line
    assert "[stand-in] parsing arguments" in s.tail
    assert "trtllm-build failed with exit status 2" in res.summary() and "lmi-wizard flags" in res.summary()
    f = res.failure()  # the same, the fix in its own field
    assert f.code == "build-unrecognized_arguments" and f.problem.startswith("trtllm-build failed with exit status 2")
    assert "lmi-wizard flags" in f.fix and "lmi-wizard flags" not in f.problem and " — fix: " not in f.problem
    assert not (ex / "engines" / RECORD_NAME).exists()


def test_failure_cuda_oom(fixtures_dir, tmp_path):
    ex, plan, env = _two_step(fixtures_dir, tmp_path, trtllm_stand_in="fail_oom.py")
    res = run_plan(plan, env=env, log_path=tmp_path / "l.log", env_facts=FACTS)
    assert not res.ok and res.failed_step.returncode == 1 and res.failed_step.error.id == "cuda_oom"
    assert [s.name for s in res.steps] == ["convert", "trtllm-build"]


@pytest.mark.parametrize("ignore_term", ["0", "1"])
def test_cancel_kills_the_whole_process_group(fixtures_dir, tmp_path, ignore_term):
    ex, plan, env = _two_step(fixtures_dir, tmp_path, convert_stand_in="hang.py")
    pids_file = tmp_path / "pids"
    env["HANG_PIDS_FILE"] = str(pids_file)
    env["HANG_IGNORE_TERM"] = ignore_term
    cancel = CancelToken()
    outcome = {}

    def worker():
        try:
            run_plan(plan, env=env, log_path=tmp_path / "l.log", cancel=cancel, env_facts=FACTS)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome["exc"] = exc

    t = threading.Thread(target=worker)
    t.start()
    for _ in range(500):
        if pids_file.exists():
            break
        time.sleep(0.02)
    leader, child = map(int, pids_file.read_text().split())
    assert _alive(leader) and _alive(child)
    cancel.cancel()
    t.join(timeout=30)
    assert not t.is_alive()
    assert isinstance(outcome.get("exc"), Cancelled)
    for _ in range(100):  # the orphaned child is reaped by init shortly after the kill
        if not (_alive(leader) or _alive(child)):
            break
        time.sleep(0.02)
    assert not _alive(leader) and not _alive(child)
    assert "# cancelled during convert" in (tmp_path / "l.log").read_text()
    assert not (ex / "engines").exists()


def test_refusals_before_anything_runs(fixtures_dir, tmp_path):
    ex, plan, env = _two_step(fixtures_dir, tmp_path)
    (ex / "engines").mkdir()
    (ex / "engines" / "config.json").write_text("{}")
    with pytest.raises(WizardError, match="already holds a build"):
        run_plan(plan, env=env, env_facts=FACTS)
    assert not (ex / "engines_ckpt").exists()  # the converter did not run
    res = run_plan(plan, env=env, force=True, log_path=tmp_path / "l.log", env_facts=FACTS)
    assert res.ok
    bad = render_plan(ex, BuildIntent(model_dir="/m", tp_size=2, world_size=3), python=PY)
    with pytest.raises(WizardError, match="TP × PP"):
        run_plan(bad, env=env)
    # a missing trtllm-build is found before the converter runs (not after a long conversion)
    import shutil

    shutil.rmtree(ex / "engines")
    shutil.rmtree(ex / "engines_ckpt")
    no_build = dict(env, PATH=os.defpath)
    with pytest.raises(WizardError, match="trtllm-build: program not found: trtllm-build"):
        run_plan(plan, env=no_build, env_facts=FACTS)
    assert not (ex / "engines_ckpt").exists()
    (ex / "engines").write_text("a file where the engine folder goes")
    with pytest.raises(WizardError, match="engine folder .* is a file"):
        run_plan(plan, env=env, env_facts=FACTS)


def test_redaction_in_log_and_callback(tmp_path):
    token = "hf_" + "A1b2C3d4" * 4
    plan = BuildPlan([Step("echo", [PY, "-c", f"print('token {token} key AKIAABCDEFGHIJKLMNOP')"], tmp_path)],
                     tmp_path / "eng", 1, 1, 1, "legacy")
    seen = []
    res = run_plan(plan, on_line=lambda s, st, l: seen.append(l), log_path=tmp_path / "l.log", env_facts=FACTS)
    assert not res.ok and _codes(res.findings) == {"engine_dir_missing"}
    assert seen == ["token *** key ***"]
    assert token not in (tmp_path / "l.log").read_text()
    assert redact("HF_TOKEN=abc123") == "HF_TOKEN=***"


def test_cli_build_runs_stand_ins(fixtures_dir, tmp_path, capsys, monkeypatch):
    ex, plan, env = _two_step(fixtures_dir, tmp_path)
    monkeypatch.setenv("PATH", env["PATH"])
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                                                           "num_attention_heads": 32, "num_key_value_heads": 8}))
    base = ["build", "--example-dir", str(ex), "--model-dir", str(tmp_path / "hf"), "--tp", "2", "--output-dir",
            "engines", "--max-input-len", "2048", "--max-output-len", "512", "--python", PY,
            "--log", str(tmp_path / "cli.log")]
    assert cli.main(base) == 0
    out = capsys.readouterr().out
    assert "[trtllm-build] [stand-in trtllm-build] done" in out and "engines ready in" in out
    assert "build record:" in out
    assert cli.main(base + ["--json"]) == 2  # the output folder now holds a build
    assert "already holds a build" in capsys.readouterr().err
    assert cli.main(base + ["--json", "--force"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["ok"] and [s["name"] for s in doc["steps"]] == ["convert", "trtllm-build"]
    assert "[convert]" in captured.err  # streamed lines go to stderr with --json
