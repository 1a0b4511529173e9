"""``serve-test``: the load test before upload (issue 14), against a STAND-IN djl-serving.

The real server exists only in the LMI image (Java + GPU). ``tests/stand_ins/djl_serving_standin.py`` keeps its
observable contract (``-m``, the address variables, binding after a load delay, ``/ping`` map, the rolling-batch
``/invocations`` schema, ``Failed register workflow`` + exit 1, workers that ignore SIGTERM) and fails on purpose
in each way LMI fails. Model folders are made by the project's real code paths (tests/test_check.py producers);
only the engine files are stand-ins. GPU memory is read through a minimal fake ``pynvml`` whose "used" memory
follows whether the stand-in's workers are alive.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from lmi_wizard.core import lmi
from lmi_wizard.core.base.errors import Cancelled, WizardError
from lmi_wizard.core.base.progress import CancelToken
from lmi_wizard.core.serve import ServeOptions, diagnose, serve_test
from lmi_wizard.tui.cli import main as cli
from tests.stand_ins.layout import install_console_script
from tests.support.engines import CHECK_KW, fill_config, flat_repo, model_folder, triton_repo
from tests.support.procs import alive
from tests.support.serve import assert_nothing_left
from tests.hubserver import llama_repo

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------- helpers
@pytest.fixture
def djl(tmp_path, monkeypatch):
    """An executable ``djl-serving`` (the stand-in) and its record file; STANDIN_* set per test."""
    exe = install_console_script(tmp_path / "bin", "djl-serving", "djl_serving_standin.py", sys.executable)
    rec = tmp_path / "standin-record.json"
    monkeypatch.setenv("STANDIN_RECORD", str(rec))
    monkeypatch.setenv("STANDIN_LOAD_DELAY", "0.2")
    for k in ("STANDIN_FAIL", "STANDIN_LMI", "STANDIN_WORKERS", "STANDIN_LEADER_IGNORES_TERM"):
        monkeypatch.delenv(k, raising=False)
    return types.SimpleNamespace(exe=str(exe), rec=rec, read=lambda: json.loads(rec.read_text()))


def fake_nvml(record_path: Path, *, base_used: int = 2 * 2**30, per_worker: int = 30 * 2**30,
              stuck: bool = False, others=()):
    """STAND-IN for pynvml (only the calls core/serve/gpumem.py makes): one GPU whose used memory is
    ``base_used`` + ``per_worker`` for each live stand-in worker (or always, when ``stuck``)."""
    m = types.ModuleType("pynvml")

    def used() -> int:
        n = 0
        if record_path.exists():
            n = sum(1 for p in json.loads(record_path.read_text())["workers"] if alive(p))
        return base_used + per_worker * (n or (1 if stuck and record_path.exists() else 0))

    m.nvmlInit = lambda: None
    m.nvmlShutdown = lambda: None
    m.nvmlDeviceGetCount = lambda: 1
    m.nvmlDeviceGetHandleByIndex = lambda i: i
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=80 * 2**30, used=used(), free=0)
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: [types.SimpleNamespace(pid=p, usedGpuMemory=u)
                                                        for p, u in others]
    return m


def opts(djl, **kw) -> ServeOptions:
    kw.setdefault("nvml", False)
    return ServeOptions(djl_serving=djl.exe, timeout=kw.pop("timeout", 30), grace=kw.pop("grace", 1.0),
                        check_kw=CHECK_KW, container_root=kw.pop("container_root", "/nonexistent-root/opt/ml/model"),
                        free_timeout=kw.pop("free_timeout", 5), **kw)


# ------------------------------------------------------------------------------------------- flat: the whole path
def test_flat_loads_answers_and_leaves_nothing(tmp_path, djl, monkeypatch):
    edir = flat_repo(tmp_path, tp=2)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_WORKERS", "2")
    monkeypatch.setenv("HF_MODEL_ID", "s3://bucket/other/")  # would add a model: must not reach the server
    monkeypatch.setenv("SERVING_LOAD_MODELS", "other=file:/nowhere")  # would replace -m
    before = sorted(p.name for p in edir.iterdir())
    events = []
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl, nvml=fake_nvml(djl.rec), prompt="Hi there",
                                                             max_new_tokens=5),
                     progress=events.append)
    assert res.ok and res.exit_code == 0, res.to_json()
    rec = djl.read()
    # what it was given: -m NAME=file:<engine folder as it is>, the two addresses on the same free port
    assert rec["argv"] == ["-m", f"model=file:{edir}"] and rec["model_dir"] == str(edir)
    assert rec["env"]["SERVING_INFERENCE_ADDRESS"] == rec["env"]["SERVING_MANAGEMENT_ADDRESS"] == \
        f"http://127.0.0.1:{res.port}"
    assert "HF_MODEL_ID" not in rec["env"] and "SERVING_LOAD_MODELS" not in rec["env"]
    assert any("HF_MODEL_ID" in n and "SERVING_LOAD_MODELS" in n for n in res.notes)
    # the LMI options are the env style the wizard generates for publish, minus HF_MODEL_ID
    want = {k: v for k, v in lmi.env_vars(lmi.answers_from_engine(str(edir), edir, layout="flat")).items()
            if k != "HF_MODEL_ID"}
    assert {k: v for k, v in rec["env"].items() if k.startswith("OPTION_")} == want
    assert want["OPTION_TENSOR_PARALLEL_DEGREE"] == "2"
    # the request: LMI's rolling-batch schema; the answer: text, latency, tokens/s from details
    assert rec["request"]["inputs"] == "Hi there" and rec["request"]["parameters"]["max_new_tokens"] == 5
    assert res.text == "w0 w1 w2 w3 w4" and res.generated_tokens == 5
    assert res.ready_s >= 0.2 and res.latency_s > 0
    assert res.tokens_per_s == pytest.approx(5 / res.latency_s, rel=0.05)
    # stopped: model DELETEd, SIGTERM then SIGKILL (the workers ignore SIGTERM), nothing of the group alive
    assert "deleted" in rec["events"] and res.stop["deleted"] is True
    assert res.stop["sigterm"] and res.stop["sigkill"] and res.stop["survivors"] == []
    assert_nothing_left(rec)
    # GPU memory came back (fake NVML follows the workers), the engine folder is untouched
    assert res.gpu_freed is True and res.gpu_used_bytes == 2 * 30 * 2**30  # two live workers while loaded
    assert sorted(p.name for p in edir.iterdir()) == before
    # the log streamed as typed progress events
    assert any(e.extra.get("log") and "API bind to" in e.message for e in events)


def test_cli_json_contract_and_log_on_stderr(tmp_path, djl, monkeypatch, capsys):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    rc = cli.main(["serve-test", str(edir), "--lmi-version", "0.33.0", "--djl-serving", djl.exe, "--json",
                   "--timeout", "30", "--max-new-tokens", "3", "--grace", "0.3"])
    out = capsys.readouterr()
    doc = json.loads(out.out)  # exactly one JSON document on stdout
    assert rc == 0 and doc["ok"] is True
    assert {"ok", "ready_s", "latency_s", "text", "tokens_per_s"} <= set(doc) and "error" not in doc
    assert doc["text"] == "w0 w1 w2" and doc["tokens_per_s"] > 0
    assert "API bind to" in out.err and "API bind to" not in out.out  # djl-serving's own log: stderr
    assert_nothing_left(djl.read())


def test_cli_failure_exit_1_and_no_djl_serving_exit_2(tmp_path, djl, monkeypatch, capsys):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_FAIL", "arch")
    rc = cli.main(["serve-test", str(edir), "--lmi-version", "0.33.0", "--djl-serving", djl.exe, "--json",
                   "--grace", "0.3"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1 and doc["ok"] is False and "compute 8.6" in doc["error"] and doc["fix"]
    assert_nothing_left(djl.read())
    # no djl-serving: skipped, one line saying where it runs, exit 2
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    rc = cli.main(["serve-test", str(edir), "--lmi-version", "0.33.0", "--djl-serving", "djl-serving-nowhere"])
    out = capsys.readouterr()
    assert rc == 2 and out.out == ""
    line, = out.err.strip().splitlines()
    assert "not found" in line and "LMI container image" in line
    # the library call: status skipped, nothing started
    res = serve_test(edir, lmi_version="0.33.0", options=ServeOptions(djl_serving="djl-serving-nowhere",
                                                                     check_kw=CHECK_KW))
    assert res.status == "skipped" and res.exit_code == 2


# ------------------------------------------------------------------------------------------- triton staging
def test_triton_staged_at_container_root_with_hard_links(tmp_path, fixtures_dir, djl):
    croot = tmp_path / "c" / "opt" / "ml" / "model"  # stands for /opt/ml/model (free: does not exist)
    root = triton_repo(tmp_path, fixtures_dir, fill=False)
    fill_config(root / "tensorrt_llm" / "config.pbtxt", engine_dir=f"{croot}/tensorrt_llm/1")
    src = root / "tensorrt_llm"
    pbtxt_before = (src / "config.pbtxt").read_bytes()
    # (check=False: check insists on gpt_model_path=/opt/ml/model/…, and croot stands in for /opt/ml/model here)
    res = serve_test(root, lmi_version="0.30.0", options=opts(djl, container_root=str(croot), check=False))
    assert res.ok, res.to_json()
    rec = djl.read()
    assert rec["argv"] == ["-m", f"model=file:{croot}"] and rec["model_dir"] == str(croot)
    # serving.properties (extracted style, the wizard's own) beside tensorrt_llm/: djl-serving does not descend
    assert "serving.properties" in rec["listing"] and "tensorrt_llm/config.pbtxt" in rec["listing"]
    want = lmi.extracted_properties(lmi.answers_from_engine(str(src), src / "1", layout="triton", tokenizer_dir=src))
    assert rec["properties"] == dict(ln.split("=", 1) for ln in want.splitlines())
    # hard links, no copies: same inodes as the built files, config.pbtxt included (its path was already true)
    for rel in ("tensorrt_llm/1/rank0.engine", "tensorrt_llm/config.pbtxt", "tensorrt_llm/tokenizer_config.json"):
        assert rec["inodes"][rel] == os.stat(src / rel.split("/", 1)[1]).st_ino, rel
    assert rec["gpt_model_path"] == f"{croot}/tensorrt_llm/1"
    # afterwards: the folders it created are gone (up to the first that existed), the source is untouched
    assert not (tmp_path / "c").exists()
    assert (src / "config.pbtxt").read_bytes() == pbtxt_before and (src / "1" / "rank0.engine").is_file()
    assert_nothing_left(rec)


def test_triton_container_root_in_use_uses_temp_and_says_why(tmp_path, fixtures_dir, djl):
    croot = tmp_path / "opt-ml-model"
    croot.mkdir()
    (croot / "someone-else.bin").write_bytes(b"x")
    root = triton_repo(tmp_path, fixtures_dir)  # gpt_model_path=/opt/ml/model/tensorrt_llm/1, as uploaded
    src = root / "tensorrt_llm"
    pbtxt_before = (src / "config.pbtxt").read_text()
    res = serve_test(root, lmi_version="0.30.0", options=opts(djl, container_root=str(croot)))
    assert res.ok, res.to_json()
    rec = djl.read()
    staged = Path(rec["model_dir"])
    assert staged != croot and rec["gpt_model_path"] == f"{staged}/tensorrt_llm/1"
    note = next(n for n in res.staging["notes"] if "because" in n)
    assert str(croot) in note and "in use" in note and "someone-else.bin" in note
    assert "/opt/ml/model/tensorrt_llm/1" in note  # the uploaded config keeps the container path
    # the staged config.pbtxt is a rewritten copy; everything else is hard-linked
    assert rec["inodes"]["tensorrt_llm/config.pbtxt"] != os.stat(src / "config.pbtxt").st_ino
    assert rec["inodes"]["tensorrt_llm/1/rank1.engine"] == os.stat(src / "1" / "rank1.engine").st_ino
    assert (src / "config.pbtxt").read_text() == pbtxt_before
    assert not staged.exists() and sorted(p.name for p in croot.iterdir()) == ["someone-else.bin"]


def test_standin_descends_into_a_lone_subfolder(tmp_path, fixtures_dir, djl):
    """The reason the staging holds serving.properties beside tensorrt_llm/: with a lone sub-folder djl-serving
    descends into it and LMI no longer sees a prebuilt model (the stand-in keeps that rule)."""
    root = triton_repo(tmp_path, fixtures_dir)  # holds only tensorrt_llm/
    assert [p.name for p in root.iterdir()] == ["tensorrt_llm"]
    res = serve_test(root, lmi_version="0.30.0", options=opts(djl, check=False, container_root=str(tmp_path / "x")))
    assert res.ok  # staged: serving.properties beside it
    p = subprocess.run([djl.exe, "-m", f"m=file:{root}"], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "STANDIN_RECORD": str(tmp_path / "raw.json")})
    assert p.returncode == 1 and "Converting model to TensorRT-LLM artifacts" in p.stdout
    assert "Failed register workflow" in p.stdout
    d = diagnose.explain(p.stdout.splitlines(), layout="triton")
    assert d.code == "layout" and "two-folder rule" in d.fix


# ------------------------------------------------------------------------------------------- refused before start
def test_check_refuses_before_the_server_starts(tmp_path, fixtures_dir, djl, capsys):
    # triton, one level off: the folder above triton_model_repo/
    root = triton_repo(tmp_path / "t", fixtures_dir)
    outer = tmp_path / "t" / "outer"
    outer.mkdir()
    root.rename(outer / "triton_model_repo")
    with pytest.raises(WizardError) as ei:
        serve_test(outer, lmi_version="0.30.0", options=opts(djl))
    assert "server was not started" in ei.value.problem and ei.value.fix and ei.value.exit_code == 2
    # flat: the Hugging Face config.json over the engine's (no build_config)
    edir = flat_repo(tmp_path / "f")
    shutil.copy(model_folder(tmp_path, llama_repo()) / "config.json", edir / "config.json")
    with pytest.raises(WizardError) as ei:
        serve_test(edir, lmi_version="0.33.0", options=opts(djl))
    assert "build_config" in str(ei.value) or "Hugging Face" in str(ei.value)
    assert not djl.rec.exists()  # the stand-in never ran
    # the verb: exit 2, one JSON document naming the problem and the fix
    rc = cli.main(["serve-test", str(outer), "--lmi-version", "0.30.0", "--djl-serving", djl.exe, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 2 and doc["ok"] is False and "not started" in doc["error"] and doc["fix"]
    assert not djl.rec.exists()
    # and without the check, LMI's own answer is the layout failure, explained
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl, check=False))
    assert res.status == "failed" and res.code == "layout" and "build_config" in res.fix
    assert_nothing_left(djl.read())


# ------------------------------------------------------------------------------------------- failures explained
@pytest.mark.parametrize("mode,code,words", [
    ("arch", "gpu-arch", ["compute 8.6", "compute 9.0"]),
    ("version", "trt-version", ["TensorRT"]),
    ("world", "world-size", ["TP × PP"]),
    ("oom", "oom", ["out of GPU memory"]),
    ("pytorch_bin", "one-folder-off", ["one folder off"]),
    ("convert", "layout", ["prebuilt"]),
    ("generic", "load-failed", ["ValueError: tokenizer_config.json"]),
])
def test_each_load_failure_is_explained_and_cleaned_up(tmp_path, djl, monkeypatch, mode, code, words):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_FAIL", mode)
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl))
    assert res.status == "failed" and res.exit_code == 1 and res.code == code, res.to_json()
    assert all(w in res.error for w in words), res.error
    assert res.fix and res.ready_s is None
    rec = djl.read()
    assert "failed" in rec["events"]
    assert_nothing_left(rec)  # the workers ignore SIGTERM: killed with the group


def test_world_size_from_a_real_mismatch(tmp_path, djl, monkeypatch):
    """TP in the LMI options ≠ the engine's ranks: the stand-in's mpiSize check (no forced failure)."""
    edir = flat_repo(tmp_path, tp=2)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    a = lmi.answers_from_engine(str(edir), edir, layout="flat", tp=1)
    res = serve_test(edir, lmi_version="0.33.0", answers=a, options=opts(djl))
    assert res.code == "world-size" and "tensor_parallel_degree" in res.fix


def test_oom_names_the_process_holding_the_gpu(tmp_path, djl, monkeypatch):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_FAIL", "oom")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        nvml = fake_nvml(djl.rec, others=[(other.pid, 60 * 2**30)])
        res = serve_test(edir, lmi_version="0.33.0", options=opts(djl, nvml=nvml))
    finally:
        other.kill()
        other.wait()
    assert res.code == "oom" and f"pid {other.pid}" in res.error and "60.0 GiB" in res.error
    assert f"stop pid {other.pid}" in res.fix
    # nobody else on the GPU: the KV cache share is the fix
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl, nvml=fake_nvml(djl.rec)))
    assert res.code == "oom" and "kv_cache_free_gpu_mem_fraction" in res.fix


def test_ping_500_failed_model(tmp_path, djl, monkeypatch):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_FAIL", "ping500")
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl))
    assert res.status == "failed" and "/ping answered 500" in res.error and "FAILED" in res.error
    assert_nothing_left(djl.read())


def test_exit_on_its_own_kills_what_remains_of_the_group(tmp_path, djl, monkeypatch):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_FAIL", "exit3")
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl))
    assert res.status == "failed" and "exited with code 3" in res.error and "IllegalStateException" in res.error
    rec = djl.read()
    assert rec["workers"] and res.stop["sigterm"]  # its worker outlived it: the group was still signalled
    assert_nothing_left(rec)


def test_timeout_and_a_leader_that_ignores_sigterm(tmp_path, djl, monkeypatch):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_FAIL", "hang")
    monkeypatch.setenv("STANDIN_LEADER_IGNORES_TERM", "1")
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl, timeout=0.6, grace=0.3))
    assert res.status == "failed" and res.code == "timeout" and "--timeout" in res.fix
    assert res.stop["sigterm"] and res.stop["sigkill"] and res.stop["deleted"] is None
    assert_nothing_left(djl.read())


@pytest.mark.parametrize("mode,words", [("bad_answer", "HTTP 424"), ("oom_at_request", "finish_reason: error")])
def test_loaded_but_did_not_answer(tmp_path, djl, monkeypatch, mode, words):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    monkeypatch.setenv("STANDIN_FAIL", mode)
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl))
    assert res.status == "failed" and res.exit_code == 1 and res.ready_s is not None
    assert "loaded, but the prompt failed" in res.error and words in res.error
    if mode == "oom_at_request":
        assert res.code == "oom"
    assert_nothing_left(djl.read())


def test_gpu_memory_not_freed_is_not_success_and_no_nvml_is_a_note(tmp_path, djl, monkeypatch):
    edir = flat_repo(tmp_path)
    monkeypatch.setenv("STANDIN_LMI", "0.33.0")
    res = serve_test(edir, lmi_version="0.33.0",
                     options=opts(djl, nvml=fake_nvml(djl.rec, stuck=True), free_timeout=0.3))
    assert res.status == "failed" and res.code == "gpu-not-freed" and res.gpu_freed is False
    assert "GPU 0" in res.error and res.text  # it did answer
    djl.rec.unlink()
    broken = types.ModuleType("pynvml")

    def init():
        raise OSError("NVML Shared Library Not Found")

    broken.nvmlInit = init
    res = serve_test(edir, lmi_version="0.33.0", options=opts(djl, nvml=broken))
    assert res.ok and res.gpu_freed is None
    assert any("GPU memory not checked" in n and "NVML" in n for n in res.notes)


# ------------------------------------------------------------------------------------------- cancel / Ctrl+C
def test_cancel_while_loading_leaves_nothing(tmp_path, fixtures_dir, djl, monkeypatch):
    croot = tmp_path / "c" / "model"
    root = triton_repo(tmp_path, fixtures_dir)
    monkeypatch.setenv("STANDIN_FAIL", "hang")
    monkeypatch.setenv("STANDIN_LEADER_IGNORES_TERM", "1")
    cancel = CancelToken()

    def later():
        for _ in range(200):
            if djl.rec.exists() and djl.read()["workers"]:
                break
            time.sleep(0.02)
        cancel.cancel()

    t = threading.Thread(target=later)
    t.start()
    with pytest.raises(Cancelled) as ei:
        serve_test(root, lmi_version="0.30.0", options=opts(djl, container_root=str(croot), grace=0.3),
                   cancel=cancel)
    t.join()
    assert ei.value.exit_code == 130
    assert_nothing_left(djl.read())
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_on_the_verb_exits_130_with_json_and_leaves_nothing(tmp_path, djl, monkeypatch, sig):
    edir = flat_repo(tmp_path)
    env = {**os.environ, "STANDIN_LMI": "0.33.0", "STANDIN_FAIL": "hang", "STANDIN_RECORD": str(djl.rec),
           "PYTHONPATH": str(ROOT)}
    code = ("import sys; from lmi_wizard.tui.cli import main as cli; sys.exit(cli.main(sys.argv[1:]))")
    p = subprocess.Popen([sys.executable, "-c", code, "serve-test", str(edir), "--lmi-version", "0.33.0",
                          "--djl-serving", djl.exe, "--json", "--grace", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    for _ in range(500):
        if djl.rec.exists() and djl.read()["workers"]:
            break
        time.sleep(0.02)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    doc = json.loads(out)
    assert doc["ok"] is False and doc["error"] == "interrupted"
    assert_nothing_left(djl.read())


# ------------------------------------------------------------------------------------------- diagnose, pure
def test_diagnose_patterns_from_real_log_lines():
    E = diagnose.explain
    assert E(["[TensorRT-LLM][ERROR] The engine plan file is generated on an incompatible device, expecting "
              "compute 8.0 got compute 9.0, please rebuild."]).code == "gpu-arch"
    assert E(["...Version tag does not match. Note: Current Version: 236, Serialized Engine Version: 228)"]
             ).code == "trt-version"
    assert E(["Assertion failed: mpiSize == tp * pp (worldConfig.cpp:99)"]).code == "world-size"
    assert E(["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]).code == "oom"
    assert E(["INFO LmiUtils Converting model to TensorRT-LLM artifacts"], layout="flat").code == "layout"
    assert E(["OSError: Error no file named pytorch_model.bin, model.safetensors found in directory /x"]
             ).code == "one-folder-off"
    d = E(["ERROR PyProcess ValueError: bad", "ERROR ModelServer Failed register workflow"])
    assert d.code == "load-failed" and "ValueError: bad" in d.problem
    assert E(["INFO all fine"]) is None and E(["INFO all fine"], exit_code=2).code == "load-failed"


def test_staging_empty_root_kept_and_uncreatable_root_falls_back(tmp_path, fixtures_dir):
    from lmi_wizard.core.serve.staging import stage

    root = triton_repo(tmp_path, fixtures_dir)
    src = root / "tensorrt_llm"
    a = lmi.answers_from_engine(str(src), src / "1", layout="triton", tokenizer_dir=src)
    empty = tmp_path / "empty-root"
    empty.mkdir()
    st = stage(src, "triton", a, container_root=str(empty))
    assert st.model_dir == empty and sorted(p.name for p in empty.iterdir()) == ["serving.properties", "tensorrt_llm"]
    st.cleanup()
    assert empty.is_dir() and list(empty.iterdir()) == []  # it existed: only what was made in it is gone
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    st = stage(src, "triton", a, container_root=str(blocker / "model"))
    assert st.model_dir != blocker / "model" and (st.model_dir / "tensorrt_llm" / "config.pbtxt").is_file()
    assert any("cannot be created" in n for n in st.notes)
    staged = st.model_dir
    st.cleanup()
    assert not staged.exists() and blocker.read_text() == "x"
