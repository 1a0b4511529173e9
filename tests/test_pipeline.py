"""core/pipeline.py end to end, headless, on a prepared environment.

Real components: git repositories with real tags cloned over file:// (tests/gitfixtures.py), the real
upstream config.pbtxt templates, the real huggingface_hub client against the fake Hub (tests/hubserver.py),
boto3 against the moto S3 server (tests/s3server.py). Stand-ins only for the GPU-bound builders: small
executables at the builder's path in the checkout (and ``trtllm-build`` on PATH) that print progress and
write ``rank*.engine`` + ``config.json``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from lmi_wizard.core import pipeline as P
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.core import wizard as S
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.base.events import ProgressEvent, StepEvent
from lmi_wizard.core.base.progress import CancelToken
from tests.gitfixtures import BACKEND_GITLINKS, FIXTURES, backend_tree, file_url, make_repo, trtllm_tree
from tests.hubserver import FakeHub, baichuan_repo, qwen_repo
from tests.support.pipeline import (CONVERT, FAKE_SECRETS, LEGACY_BUILD, TRTLLM_BUILD,  # noqa: F401
                                    prebuilt_flat, tutorial_recipe, tutorial_text)
from tests.support.fixtures import fixture_glob, params


def _events(store):
    def progress(ev):
        store.append(ev)
    return progress


def _all_files(*roots: Path):
    for root in roots:
        for p in Path(root).rglob("*"):
            if p.is_file() and ".git" not in p.parts:
                yield p


def test_tutorial_end_to_end_local_destination(remotes, hub, tmp_path, monkeypatch):
    for k, v in FAKE_SECRETS.items():
        monkeypatch.setenv(k, v)
    work = tmp_path / "work"
    a = tutorial_recipe(remotes, work, "lmi-llm/trtllm/0.5.0/baichuan-13b-tp2/baichuan-13b-chat/")
    events = []
    pipe = P.Pipeline(a, hf_endpoint=hub.endpoint)
    assert [s.name for s in pipe.steps] == ["environment", "checkout", "build", "assemble", "config", "tokenizer",
                                            "publish", "lmi", "final"]
    predicted = P.RunPaths(a)  # where the run will put things, asked before it runs (the screens' view)
    report = pipe.run(progress=_events(events))
    assert report.ok, (report.error, report.fix, [s.to_dict() for s in report.steps])
    assert [s.status for s in report.steps] == ["done"] * 9
    for key in ("model_dir", "engine_dir", "template_dir", "checkout_root", "repo_dir"):
        assert getattr(predicted, key) == Path(report.outputs[key]), key
    assert predicted.config_pbtxt == Path(report.outputs["config_pbtxt"])
    assert predicted.destination == report.outputs["destination"]

    # the build ran the tutorial's command, rendered from the builder's own flags
    cfg = json.loads((work / "baichuan_v1_13b/trt_engines/fp16/2-gpu/config.json").read_text())
    argv = cfg["argv"]
    for flag in ("--use_inflight_batching", "--enable_context_fmha", "--remove_input_padding", "--parallel_build"):
        assert flag in argv
    assert argv[argv.index("--world_size") + 1] == "2"
    assert argv[argv.index("--model_version") + 1] == "v1_13b"
    assert argv[argv.index("--model_dir") + 1] == "baichuan-inc/Baichuan-13B-Chat"
    assert argv[argv.index("--use_gemm_plugin") + 1] == "float16"

    # the Triton model repository and the published copy look like the tutorial's tree
    repo = work / "triton_model_repo" / "tensorrt_llm"
    engines = sorted(p.name for p in (repo / "1").iterdir())
    assert "baichuan_float16_tp2_rank0.engine" in engines and "baichuan_float16_tp2_rank1.engine" in engines
    assert "config.json" in engines and "model.cache" in engines
    dest = work / "lmi-llm/trtllm/0.5.0/baichuan-13b-tp2/baichuan-13b-chat"
    published = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    for name in ("config.pbtxt", "tokenizer_config.json", "tokenizer.model", "tokenization_baichuan.py",
                 "configuration_baichuan.py", "special_tokens_map.json", "generation_config.json",
                 "pytorch_model.bin.index.json", "requirements.txt", "config.json",
                 "1/baichuan_float16_tp2_rank0.engine", "1/config.json"):
        assert name in published, name
    assert not any(n.endswith(".bin") for n in published)  # never weights
    assert not hub.fetched("pytorch_model-00001-of-00003.bin")

    # config.pbtxt: filled like fill_template.py, decoupled, engine path, nothing left that blocks
    from lmi_wizard.core import triton as pbtxt

    text = (dest / "config.pbtxt").read_text()
    rep = pbtxt.check_text(text, "config.pbtxt")
    assert rep.ok and not rep.blocking, [f.to_json() for f in rep.findings]
    assert rep.parses is not False
    assert "${" not in text
    assert "decoupled: True" in text and "/opt/ml/model/tensorrt_llm/1" in text
    assert '"max_utilization"' in text or "max_utilization" in text

    # LMI configurations: the tutorial's values
    model_id = str(work / "lmi-llm/trtllm/0.5.0/baichuan-13b-tp2")
    assert report.model_id == model_id
    env = (work / "lmi-configs" / "lmi.env").read_text()
    assert f"HF_MODEL_ID={model_id}\n" in env and "OPTION_TENSOR_PARALLEL_DEGREE=2\n" in env
    assert "OPTION_MAX_ROLLING_BATCH_SIZE=64\n" in env and "OPTION_TRUST_REMOTE_CODE=true" in env
    props = (work / "lmi-configs" / "serving.properties").read_text()
    assert props.startswith("engine=Python\noption.mpi_mode=true\n") and f"option.model_id={model_id}" in props
    extracted = (work / "lmi-configs" / "extracted" / "serving.properties").read_text()
    assert "option.rolling_batch=trtllm" in extracted and "option.dtype=fp16" in extracted

    # final tree and listing as data
    assert "config.pbtxt" in report.outputs["tree"] and "tokenizer.model" in report.outputs["tree"]
    assert "PRE 1/" in report.outputs["listing"]

    # progress: one running + one done event per step, in order
    step_events = [(e.step, e.status) for e in events if isinstance(e, StepEvent)]
    names = [s.name for s in pipe.steps]
    assert step_events == [(n, st) for n in names for st in ("running", "done")]
    assert any(isinstance(e, ProgressEvent) and "stand-in build.py" in e.message for e in events)

    # the log holds the builder's output; no secret anywhere in what the run produced
    log = Path(report.log_path).read_text()
    assert "[stand-in build.py] building rank 1/2" in log
    for p in _all_files(work):
        data = p.read_bytes()
        for v in FAKE_SECRETS.values():
            assert v.encode() not in data, f"secret in {p}"
    for e in events:
        for v in FAKE_SECRETS.values():
            assert v not in e.message


def test_resume_skips_valid_steps_and_redoes_invalidated_ones(remotes, local_tok, tmp_path):
    work = tmp_path / "work"
    a = tutorial_recipe(remotes, work, "out/baichuan/baichuan-13b-chat/", **{"tokenizer.source": local_tok})
    first = P.Pipeline(a).run()
    assert first.ok, first.error
    engine = work / "baichuan_v1_13b/trt_engines/fp16/2-gpu/baichuan_float16_tp2_rank1.engine"
    built_at = engine.stat().st_mtime_ns

    # nothing changed: everything but the cheap checks is skipped, no build runs
    a2 = tutorial_recipe(remotes, work, "out/baichuan/baichuan-13b-chat/", **{"tokenizer.source": local_tok})
    again = P.Pipeline(a2, resume=True).run()
    assert again.ok, again.error
    status = {s.name: s.status for s in again.steps}
    assert status == {"environment": "done", "checkout": "skipped", "build": "skipped", "assemble": "skipped",
                      "config": "skipped", "tokenizer": "skipped", "publish": "skipped", "lmi": "skipped",
                      "final": "done"}
    assert engine.stat().st_mtime_ns == built_at

    # delete one engine file: the build is redone, and everything that used it
    engine.unlink()
    a3 = tutorial_recipe(remotes, work, "out/baichuan/baichuan-13b-chat/", **{"tokenizer.source": local_tok})
    third = P.Pipeline(a3, resume=True).run()
    assert third.ok, third.error
    status = {s.name: s.status for s in third.steps}
    assert status["checkout"] == "skipped" and status["build"] == "done" and status["assemble"] == "done"
    assert engine.is_file()
    assert (work / "out/baichuan/baichuan-13b-chat/1/baichuan_float16_tp2_rank1.engine").is_file()
    log = Path(third.log_path).read_text()
    assert "redoing: outputs changed or missing" in log

    # a changed answer redoes the steps that read it (and the ones after), not the others
    a4 = tutorial_recipe(remotes, work, "out/baichuan/baichuan-13b-chat/", **{"tokenizer.source": local_tok})
    a4["triton.kv_cache_free_gpu_mem_fraction"] = 0.8
    fourth = P.Pipeline(a4, resume=True).run()
    assert fourth.ok, fourth.error
    status = {s.name: s.status for s in fourth.steps}
    assert status["build"] == "skipped" and status["assemble"] == "skipped" and status["config"] == "done"
    assert status["publish"] == "done"
    assert "0.8" in (work / "out/baichuan/baichuan-13b-chat/config.pbtxt").read_text()


def test_existing_outputs_need_resume_or_force(remotes, local_tok, tmp_path):
    work = tmp_path / "work"
    first = P.Pipeline(tutorial_recipe(remotes, work, "out/b/c/", **{"tokenizer.source": local_tok})).run()
    assert first.ok, first.error
    with pytest.raises(WizardError, match="already holds an earlier run") as err:
        P.Pipeline(tutorial_recipe(remotes, work, "out/b/c/", **{"tokenizer.source": local_tok})).run()
    assert "--resume" in err.value.fix and "--force" in err.value.fix
    # an engine folder someone else made (no run state): refused without force, before building
    other = tmp_path / "other"
    edir = other / "baichuan_v1_13b/trt_engines/fp16/2-gpu"
    edir.mkdir(parents=True)
    (edir / "config.json").write_text('{"mine": true}')
    rep = P.Pipeline(tutorial_recipe(remotes, other, "out/b/c/", **{"tokenizer.source": local_tok})).run()
    assert not rep.ok and rep.stopped_at == "build" and "already holds a build" in rep.error
    assert json.loads((edir / "config.json").read_text()) == {"mine": True}
    rep = P.Pipeline(tutorial_recipe(remotes, other, "out/b/c/", **{"tokenizer.source": local_tok}), force=True).run()
    assert rep.ok, rep.error


def test_builder_failure_keeps_state_and_says_where(remotes, local_tok, tmp_path, monkeypatch):
    work = tmp_path / "work"
    monkeypatch.setenv("STANDIN_FAIL", "1")
    rep = P.Pipeline(tutorial_recipe(remotes, work, "out/b/c/", **{"tokenizer.source": local_tok})).run()
    assert not rep.ok and rep.stopped_at == "build"
    assert "Out of GPU memory while building" in rep.error and "raise tensor parallelism" in rep.error
    assert [s.status for s in rep.steps][:3] == ["done", "done", "failed"]
    state = json.loads((work / P.RUN_DIR / P.STATE_NAME).read_text())
    assert state["steps"]["checkout"]["status"] == "done" and state["steps"]["build"]["status"] == "failed"
    monkeypatch.delenv("STANDIN_FAIL")
    rep = P.Pipeline(tutorial_recipe(remotes, work, "out/b/c/", **{"tokenizer.source": local_tok}), resume=True).run()
    assert rep.ok, rep.error
    assert {s.name: s.status for s in rep.steps}["checkout"] == "skipped"


def test_cancel_stops_and_resume_continues(remotes, local_tok, tmp_path):
    work = tmp_path / "work"
    cancel = CancelToken()

    def progress(ev):
        if isinstance(ev, StepEvent) and ev.step == "build" and ev.status == "running":
            cancel.cancel()

    rep = P.Pipeline(tutorial_recipe(remotes, work, "out/b/c/", **{"tokenizer.source": local_tok})).run(progress, cancel)
    assert not rep.ok and rep.stopped_at == "build" and "cancelled" in rep.error
    assert "--resume" in rep.fix
    rep = P.Pipeline(tutorial_recipe(remotes, work, "out/b/c/", **{"tokenizer.source": local_tok}), resume=True).run()
    assert rep.ok, rep.error


def test_flat_layout_to_s3(remotes, hub, tmp_path, s3, monkeypatch):
    """TensorRT-LLM 0.21 (LMI 0.33): convert_checkpoint.py + trtllm-build, the engine folder is the artifact,
    published to S3 (moto) with the tokenizer beside the engines."""
    monkeypatch.setenv("PATH", remotes["bin"] + os.pathsep + os.environ["PATH"])
    for k, v in FAKE_SECRETS.items():  # moto takes any credentials: use ones we can grep for
        monkeypatch.setenv(k, v)
    s3.make_bucket("lmi-llm")
    work = tmp_path / "work"
    a = R.loads_recipe(f'''
[env]
trtllm_version = "0.21.0rc1"
[checkout]
work_dir = "{work}"
trtllm_url = "{remotes['trt_new']}"
[model]
source = "Qwen/Qwen-7B-Chat"
example = "qwen"
[build]
tp = 2
max_batch_size = 32
[destination]
uri = "s3://lmi-llm/trtllm/qwen-7b-tp2/"
endpoint_url = "{s3.endpoint_url}"
''', ctx=S.Context(installed_trtllm=None, gpus=[]))
    pipe = P.Pipeline(a, hf_endpoint=hub.endpoint)
    assert [s.name for s in pipe.steps] == ["environment", "checkout", "build", "tokenizer", "publish", "lmi",
                                            "final"]
    rep = pipe.run()
    assert rep.ok, (rep.error, rep.fix)
    objs = s3.objects("lmi-llm", "trtllm/qwen-7b-tp2/")
    keys = {k.split("trtllm/qwen-7b-tp2/", 1)[1] for k in objs}
    assert {"rank0.engine", "rank1.engine", "config.json", "tokenizer_config.json", "qwen.tiktoken",
            "tokenization_qwen.py"} <= keys
    # the engine's config.json (with build_config) was not replaced by the Hugging Face one
    body = s3.client.get_object(Bucket="lmi-llm", Key="trtllm/qwen-7b-tp2/config.json")["Body"].read()
    assert "build_config" in json.loads(body)
    assert rep.model_id == "s3://lmi-llm/trtllm/qwen-7b-tp2/"
    props = (work / "lmi-configs" / "serving.properties").read_text()
    assert "option.model_id=s3://lmi-llm/trtllm/qwen-7b-tp2/" in props and "option.tensor_parallel_degree=2" in props
    # the commands ran were convert_checkpoint.py then trtllm-build
    cmds = rep.outputs["commands"]
    assert "convert_checkpoint.py" in cmds[0] and cmds[1].startswith("trtllm-build")

    # no secret in anything produced locally or uploaded
    uploaded = b"".join(s3.client.get_object(Bucket="lmi-llm", Key=k)["Body"].read() for k in objs)
    for v in FAKE_SECRETS.values():
        assert v.encode() not in uploaded
        for p in _all_files(work):
            assert v.encode() not in p.read_bytes(), f"secret in {p}"

    # resume: nothing changed → no PUT at all
    s3.log.clear()
    a2 = R.loads_recipe((work / P.RUN_DIR / P.RECIPE_NAME).read_text(), ctx=S.Context(installed_trtllm=None, gpus=[]))
    again = P.Pipeline(a2, resume=True, hf_endpoint=hub.endpoint).run()
    assert again.ok, again.error
    assert {s.name: s.status for s in again.steps}["publish"] == "skipped"
    assert s3.log.count("PutObject") == 0 and s3.log.count("UploadPart") == 0

    # an object deleted at the destination: publish is redone and sends only that one
    s3.client.delete_object(Bucket="lmi-llm", Key="trtllm/qwen-7b-tp2/rank1.engine")
    s3.log.clear()
    third = P.Pipeline(a2, resume=True, hf_endpoint=hub.endpoint).run()
    assert third.ok, third.error
    assert {s.name: s.status for s in third.steps}["publish"] == "done"
    # that file, between the folder's ownership marker claimed and completed (core.s3.marker)
    assert s3.log.keys("PutObject") == ["trtllm/qwen-7b-tp2/.lmi-wizard-model.json", "trtllm/qwen-7b-tp2/rank1.engine",
                                        "trtllm/qwen-7b-tp2/.lmi-wizard-model.json"]


def test_prebuilt_flat_engine_folder_to_local_destination(tmp_path):
    """An engine folder built elsewhere (trtllm-build output) + a local tokenizer folder → published locally,
    no checkout, no build; an HF-style folder (no build_config) is refused for the flat layout."""
    edir = tmp_path / "engines"
    edir.mkdir()
    for r in range(2):
        (edir / f"rank{r}.engine").write_bytes(b"E" * 100)
    (edir / "config.json").write_text(json.dumps({
        "pretrained_config": {"architecture": "QWenForCausalLM", "dtype": "bfloat16",
                              "mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1}},
        "build_config": {"max_batch_size": 16, "max_input_len": 1024, "max_seq_len": 2048}}))
    tok = tmp_path / "qwen"
    tok.mkdir()
    for name, data in qwen_repo().files.items():
        (tok / name).parent.mkdir(parents=True, exist_ok=True)
        (tok / name).write_bytes(data)
    work = tmp_path / "work"
    a = R.loads_recipe(f'''
[env]
trtllm_version = "1.0.0"
[checkout]
work_dir = "{work}"
[model]
source = "Qwen/Qwen-7B-Chat"
[build]
method = "prebuilt"
engine_dir = "{edir}"
[tokenizer]
source = "{tok}"
[destination]
uri = "published/qwen-7b"
''', ctx=S.Context(installed_trtllm=None, gpus=[]))
    pipe = P.Pipeline(a)
    assert [s.name for s in pipe.steps] == ["environment", "build", "tokenizer", "publish", "lmi", "final"]
    predicted = P.RunPaths(a)  # where the run will put things, asked before it runs
    rep = pipe.run()
    assert rep.ok, rep.error
    assert (predicted.engine_dir, predicted.model_dir) == (edir, edir)
    assert predicted.model_dir == Path(rep.outputs["model_dir"]) and predicted.destination == rep.outputs["destination"]
    out = work / "published/qwen-7b"
    names = {p.name for p in out.iterdir()}
    assert {"rank0.engine", "rank1.engine", "config.json", "qwen.tiktoken", "tokenization_qwen.py",
            "qwen_generation_utils.py", "tokenizer_config.json"} <= names
    assert not any(n.endswith(".safetensors") for n in names)
    assert "build_config" in json.loads((out / "config.json").read_text())
    props = (work / "lmi-configs/serving.properties").read_text()
    # the engine says max batch 16: that is the default for LMI's rolling batch (not the build default 64)
    assert f"option.model_id={out}" in props and "option.max_rolling_batch_size=16" in props
    assert "option.trust_remote_code=true" in props

    # a folder that is not trtllm-build output cannot be the flat artifact
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "rank0.engine").write_bytes(b"E")
    (bad / "config.json").write_text(json.dumps({"architectures": ["QWenLMHeadModel"]}))
    b = R.loads_recipe(f'''
[env]
trtllm_version = "1.0.0"
[checkout]
work_dir = "{tmp_path / 'work2'}"
[model]
source = "Qwen/Qwen-7B-Chat"
[build]
method = "prebuilt"
engine_dir = "{bad}"
tp = 1
[tokenizer]
source = "{tok}"
''', ctx=S.Context(installed_trtllm=None, gpus=[]))
    rep = P.Pipeline(b).run()
    assert not rep.ok and rep.stopped_at == "build" and "prebuilt engine folder" in rep.error


def test_validation_refuses_before_anything_runs(remotes, tmp_path, monkeypatch):
    work = tmp_path / "work"
    a = tutorial_recipe(remotes, work, "s3://lmi-llm/just-one-folder/")
    rep = P.Pipeline(a).run()
    assert not rep.ok and rep.stopped_at == "environment"
    assert "cannot work with the Triton layout" in rep.error and "two folders" in rep.fix
    assert rep.error.count(" — fix: ") == 0  # the problem's own fix is the report's fix, not glued to the error
    assert not work.exists()  # nothing at all was written: no checkout, no log, no state
    # building here for another TensorRT-LLM than the installed one: refused (the classic version mismatch)
    from lmi_wizard.core.facts import versions

    monkeypatch.setattr(versions, "detect_tensorrt_llm",
                        lambda path=None: versions.InstalledPackage("tensorrt_llm", True, "0.16.0", "tensorrt-llm"))
    rep = P.Pipeline(tutorial_recipe(remotes, work, "out/b/c/")).run()
    assert not rep.ok and rep.stopped_at == "environment"
    assert "building for TensorRT-LLM 0.5.0, but 0.16.0 is installed" in rep.error  # the Environment screen's words
    assert "trtllm_version under [env] to 0.16.0" in rep.fix
    assert not (work / "tensorrtllm_backend").exists()


def test_plan_script_matches_the_recipe(remotes, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_SECRETS["HF_TOKEN"])
    work = tmp_path / "work"
    a = tutorial_recipe(remotes, work, "s3://lmi-llm/trtllm/0.5.0/baichuan-13b-tp2/baichuan-13b-chat/")
    script = P.plan_script(a)
    assert FAKE_SECRETS["HF_TOKEN"] not in script
    # nothing was created by planning
    assert not work.exists()
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash" and "set -euo pipefail" in lines
    assert any(l.startswith("git ") and "clone" in l and "--branch v0.5.0" in l and remotes["backend"] in l
               for l in lines)
    assert any(l.startswith("git ") and remotes["trt_old"] in l for l in lines)
    assert f"rm -rf {work}/tensorrtllm_backend/tensorrt_llm   # the empty tensorrt_llm submodule folder" in lines
    assert any("tools/fill_template.py -i" in l and "batch_scheduler_policy:max_utilization" in l for l in lines)
    assert any(l.startswith("aws s3 sync ") and l.endswith(
        "s3://lmi-llm/trtllm/0.5.0/baichuan-13b-tp2/baichuan-13b-chat/") for l in lines)
    assert "# LMI model_id: s3://lmi-llm/trtllm/0.5.0/baichuan-13b-tp2/" in lines
    assert "snapshot_download(repo_id='baichuan-inc/Baichuan-13B-Chat', local_dir=" \
           f"'{work}/triton_model_repo/tensorrt_llm'," in lines
    assert "OPTION_TENSOR_PARALLEL_DEGREE=2" in lines and "option.max_rolling_batch_size=64" in lines
    # before the checkout exists, lmi-wizard renders and runs the exact command (flags come from the checkout)
    build = [l for l in lines if l.startswith('lmi-wizard build --example-dir "$example_dir" ')]
    assert len(build) == 1 and "--tp 2" in build[0] and "--set=--model_version=v1_13b" in build[0]
    assert any(l.startswith("example_dir=$(lmi-wizard models --checkout ") and "--model baichuan" in l for l in lines)
    # the fill_template argument is escaped for that tag's own tool
    from lmi_wizard.core import triton as pb

    a2 = tutorial_recipe(remotes, work, "s3://lmi-llm/a/b/", **{"triton.substitutions": {"gpu_device_ids": "0,1"}})
    text = P.plan_script(a2)
    assert "cannot write `gpu_device_ids`" in text and "'gpu_device_ids': '0,1'" in text
    a2 = tutorial_recipe(remotes, work, "s3://lmi-llm/a/b/", **{"env.trtllm_version": "0.16.0",
                                                               "triton.substitutions": {"gpu_device_ids": "0,1"}})
    assert pb.tool_substitutions({"gpu_device_ids": "0,1"}, "v0.16.0") in P.plan_script(a2)
    from lmi_wizard.core import checkout

    checkout.checkout("v0.5.0", work / "tensorrtllm_backend", backend_url=remotes["backend"],
                      trtllm_url=remotes["trt_old"])
    script = P.plan_script(tutorial_recipe(remotes, work, "s3://lmi-llm/a/b/"))
    build = [l for l in script.splitlines() if l.startswith("python3 build.py")]
    assert len(build) == 1
    for part in ("--model_version v1_13b", "--model_dir baichuan-inc/Baichuan-13B-Chat", "--dtype float16",
                 "--use_gemm_plugin float16", "--use_gpt_attention_plugin float16", "--world_size 2",
                 "--use_inflight_batching", "--enable_context_fmha", "--remove_input_padding", "--parallel_build",
                 "--max_input_len 2048", "--max_output_len 512",
                 f"--output_dir {work}/baichuan_v1_13b/trt_engines/fp16/2-gpu"):
        assert part in build[0], part
    assert f"cd {work}/tensorrtllm_backend/tensorrt_llm/examples/baichuan" in script
    assert "git clone" not in script  # the checkout is reused now
    # no [model] example, and none in the model's name: the run picks it from the model's architecture (read
    # from the Hub then), and so does the script
    b = tutorial_recipe(remotes, work, "s3://lmi-llm/a/b/", **{"model.source": "acme/chat-13b"})
    del b["model.example"]
    lines = P.plan_script(b).splitlines()
    assert any(l.startswith("example_dir=$(lmi-wizard models --checkout ") and "--source acme/chat-13b" in l
               for l in lines)
    assert any(l.startswith('lmi-wizard build --example-dir "$example_dir" ') for l in lines)
    assert "# reuse tensorrtllm_backend" in script


def test_redactor_hides_env_and_typed_secrets(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "abcdSECRETvalue")
    r = P.Redactor(["typed-token-1234"])
    out = r("key=abcdSECRETvalue tok=typed-token-1234 url=https://user:pw@host/x hf_ABCDEFGHIJKLMNOPQRSTUVWX")
    assert "abcdSECRETvalue" not in out and "typed-token-1234" not in out and "user:pw" not in out
    assert "hf_ABCDEFGHIJKLMNOPQRSTUVWX" not in out


def test_file_records(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"hello")
    rec = P.file_record(p)
    assert rec["check"] == "hash" and P.file_still_valid(rec)
    os.utime(p, ns=(1, 1))  # same content, other time: still valid (content hash)
    assert P.file_still_valid(rec)
    p.write_bytes(b"hellO")
    assert not P.file_still_valid(rec)
    st = P.file_record(p, "stat")
    os.utime(p, ns=(2, 2))
    assert not P.file_still_valid(st)
    p.unlink()
    assert not P.file_still_valid(P.file_record.__defaults__ and rec)


@pytest.mark.parametrize("tag", params(sorted(p.name for p in fixture_glob("pbtxt/*"))))
def test_config_fill_leaves_nothing_blocking_in_every_upstream_template(tag):
    """The config step over the real tensorrt_llm templates of every tag in the fixtures: it parses as
    Triton's ModelConfig, nothing blocks, and the tutorial's settings are in."""
    from lmi_wizard.core import triton as pbtxt

    text = (FIXTURES / "pbtxt" / tag / "tensorrt_llm" / "config.pbtxt").read_text()
    version = tag[1:] if tag.startswith("v") else "1.1.0rc6"
    a = S.Answers({"env.trtllm_version": version, "env.lmi_layout": "triton", "model.source": "a/b"})
    f = P.fill_config(a, text, tag=tag if tag.startswith("v") else "v1.1.0rc6")
    assert not f.report.blocking and f.report.parses is not False, [x.to_json() for x in f.report.blocking]
    assert f.report.decoupled.get("value") in (True, "True") or "decoupled: True" in f.text
    assert "/opt/ml/model/tensorrt_llm/1" in f.text
    assert "max_utilization" in f.text and "0.95" in f.text
    assert "${" not in "".join(l.split("#")[0] for l in f.text.splitlines())  # none left outside comments
    again = pbtxt.check_text(f.text)
    assert again.ok


def test_plan_for_lmi_partition_tool(tmp_path):
    """LMI's own AOT tool as the build step: serving.properties written where the container sees it, the
    command with --pipeline_parallel_degree and --model_path (the documented one lacks both)."""
    a = S.Answers({"env.trtllm_version": "0.12.0", "model.source": "meta-llama/Llama-2-7b-hf",
                   "build.method": "lmi-partition", "build.tp": 2, "checkout.work_dir": str(tmp_path),
                   "destination.uri": "s3://lmi-llm/llama/tensorrt_llm/"},
                  ctx=S.Context(installed_trtllm=None, gpus=[]))
    pipe = P.Pipeline(a)
    assert [s.name for s in pipe.steps] == ["environment", "build", "tokenizer", "publish", "lmi", "final"]
    script = pipe.plan_script()
    cmd = [l for l in script.splitlines() if "trt_llm_partition.py" in l]
    assert len(cmd) == 1
    for part in ("--tensor_parallel_degree 2", "--pipeline_parallel_degree 1",
                 "--model_path meta-llama/Llama-2-7b-hf", f"--properties_dir {tmp_path}/.lmi-wizard/partition-properties"):
        assert part in cmd[0]
    assert "option.tensor_parallel_degree=2" in script
    assert f"local_dir='{tmp_path}/engines/llama-2-7b-hf-float16-tp2/tensorrt_llm'" in script
    assert "# LMI model_id: s3://lmi-llm/llama/" in script
    assert not (tmp_path / ".lmi-wizard").exists()  # planning writes nothing


@pytest.mark.parametrize("trtllm,keys", [("0.12.0", ("option.max_output_len=1536",)),  # LMI 0.32: maps to max_seq_len
                                         ("0.21.0rc1", ("option.max_seq_len=1536",))])  # LMI 0.33: only max_seq_len
def test_partition_writes_the_length_keys_that_release_reads(tmp_path, trtllm, keys):
    a = S.Answers({"env.trtllm_version": trtllm, "model.source": "meta-llama/Llama-2-7b-hf",
                   "build.method": "lmi-partition", "build.tp": 2, "checkout.work_dir": str(tmp_path),
                   "build.max_input_len": 1024, "build.max_output_len": 512,
                   "destination.uri": "s3://lmi-llm/llama/tensorrt_llm/"},
                  ctx=S.Context(installed_trtllm=None, gpus=[]))
    script = P.Pipeline(a).plan_script()
    for k in keys:
        assert k in script
    assert "option.max_input_len=1024" in script
    wrong = "option.max_seq_len=" if trtllm == "0.12.0" else "option.max_output_len="
    assert wrong not in script


def test_the_plan_script_runs_and_makes_what_the_run_makes(remotes, local_tok, tmp_path):
    """`lmi-wizard plan` is the run as a script: executed by bash (in a folder whose name has a space and a
    `$`), it clones, builds with the stand-in builder, fills config.pbtxt, copies the tokenizer and publishes;
    the result equals what `Pipeline.run` makes from the same recipe."""
    import subprocess

    def recipe(work):
        return tutorial_recipe(remotes, work, "out/m-tp2/m/", **{"tokenizer.source": local_tok})

    by_script = tmp_path / "by script $HOME"
    script = tmp_path / "plan.sh"
    script.write_text(P.plan_script(recipe(by_script)))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    res = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    by_run = tmp_path / "by run"
    assert P.Pipeline(recipe(by_run)).run().ok
    for rel in ("out/m-tp2/m/config.pbtxt", "out/m-tp2/m/tokenizer_config.json", "out/m-tp2/m/tokenization_baichuan.py",
                "out/m-tp2/m/1/baichuan_float16_tp2_rank1.engine", "lmi-configs/extracted/serving.properties"):
        assert (by_script / rel).read_bytes() == (by_run / rel).read_bytes(), rel
    for rel in ("lmi-configs/lmi.env", "lmi-configs/serving.properties"):
        assert (by_script / rel).read_text().replace(str(by_script), "W") == \
            (by_run / rel).read_text().replace(str(by_run), "W"), rel
    argv = [json.loads((d / "baichuan_v1_13b/trt_engines/fp16/2-gpu/config.json").read_text())["argv"]
            for d in (by_script, by_run)]
    assert [x.replace(str(by_script), "W") for x in argv[0]] == [x.replace(str(by_run), "W") for x in argv[1]]
    assert not (tmp_path / "W").exists() and not any(p.name == "HOME" for p in tmp_path.iterdir())


def test_plan_for_the_flat_layout_quotes_everything_and_keeps_the_engine_config(tmp_path, monkeypatch):
    """A flat (LMI 0.33+) recipe with a work folder and an S3 key holding a space and a `$`: every value is
    shell-quoted, the tutorial's snapshot_download of *.json (which would overwrite the engine's config.json)
    is not used, the recipe's AWS profile/region reach the aws commands, and no secret is embedded."""
    import subprocess

    for k, v in FAKE_SECRETS.items():
        monkeypatch.setenv(k, v)
    work = tmp_path / "w $HOME x"
    a = R.loads_recipe(f'''
[env]
trtllm_version = "0.21.0rc1"
[checkout]
work_dir = "{work}"
[model]
source = "Qwen/Qwen-7B-Chat"
example = "qwen"
[destination]
uri = "s3://my-bucket/$HOME/q y/"
profile = "prod"
region = "us-west-2"
''', ctx=S.Context(installed_trtllm=None, gpus=[]))
    script = P.plan_script(a)
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    lines = script.splitlines()
    assert f"mkdir -p '{work}' && cd '{work}'" in lines
    assert "from huggingface_hub import snapshot_download" not in script
    tok = [l for l in lines if l.startswith("lmi-wizard tokenizer ")]
    assert tok == [f"lmi-wizard tokenizer Qwen/Qwen-7B-Chat '{work}/engines/qwen-7b-chat-float16-tp1' --layout flat"]
    assert f"aws s3 sync '{work}/engines/qwen-7b-chat-float16-tp1/' 's3://my-bucket/$HOME/q y/' " \
           "--profile prod --region us-west-2" in lines
    for v in FAKE_SECRETS.values():
        assert v not in script
    # the words bash passes to aws are exactly the values (no `$HOME` expanded, no split at the spaces)
    sync = next(l for l in lines if l.startswith("aws s3 sync "))
    out = subprocess.run(["bash", "-c", "aws() { printf '%s\\n' \"$@\"; }; " + sync], capture_output=True,
                         text=True).stdout
    assert out.splitlines() == ["s3", "sync", f"{work}/engines/qwen-7b-chat-float16-tp1/", "s3://my-bucket/$HOME/q y/",
                                "--profile", "prod", "--region", "us-west-2"]


@pytest.mark.parametrize("where, words", [
    ("engines/published", "inside the model folder"),
    ("engines", "is the model folder itself"),
    (".", "holds the model folder"),
    ("a-file", "is a file, not a folder"),
    ("a-file/sub", "is a file, not a folder"),
])
def test_bad_local_destination_is_refused_before_anything_runs(tmp_path, where, words):
    """A local destination that cannot work is one of the recipe's blocking problems: refused before the
    environment step runs and before anything is written (was: found only by the publish step, after the build)."""
    (tmp_path / "a-file").write_text("not a folder")
    uri = str(tmp_path / where) if where != "." else str(tmp_path)
    pipe = P.Pipeline(prebuilt_flat(tmp_path, uri))
    problems = pipe.blocking_problems()
    assert [p.key for p in problems] == ["destination.uri"] and words in problems[0].message
    with pytest.raises(WizardError) as ei:
        pipe.check()
    assert words in ei.value.problem and "[destination] uri" in ei.value.problem and ei.value.fix
    assert " — fix: " not in ei.value.problem
    rep = pipe.run()
    assert not rep.ok and rep.stopped_at == "environment" and words in rep.error
    assert not (tmp_path / "work").exists()  # nothing written
    assert sorted(p.name for p in (tmp_path / "engines").iterdir()) == ["config.json", "rank0.engine"]


def test_good_local_destination_is_no_blocking_problem(tmp_path):
    pipe = P.Pipeline(prebuilt_flat(tmp_path, str(tmp_path / "published" / "qwen")))
    assert pipe.blocking_problems() == []


def test_recipe_profile_is_passed_to_the_client_not_set_in_the_environment(tmp_path, s3, monkeypatch):
    """[destination] profile reaches core.s3.make_client as its profile (like `aws --profile`); the process
    environment is never changed for it (another thread would see it); a missing profile is one clear line."""
    from lmi_wizard.core import s3 as s3_mod

    s3.make_bucket("lmi-llm")
    creds = tmp_path / "aws-credentials"
    creds.write_text("[lmi]\naws_access_key_id = AKIDLMIPROFILE01\naws_secret_access_key = secret-of-lmi\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-none"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    calls = []
    real = s3_mod.make_client

    def spy(*args, **kw):
        calls.append((kw.get("profile"), os.environ.get("AWS_PROFILE")))
        return real(*args, **kw)

    monkeypatch.setattr(s3_mod, "make_client", spy)
    a = prebuilt_flat(tmp_path, "s3://lmi-llm/trtllm/qwen/",
                       f'endpoint_url = "{s3.endpoint_url}"\nprofile = "lmi"\nregion = "us-east-1"')
    rep = P.Pipeline(a).run()
    assert rep.ok, (rep.error, rep.fix)
    assert calls and all(c == ("lmi", None) for c in calls), calls
    assert "trtllm/qwen/rank0.engine" in s3.objects("lmi-llm", "trtllm/qwen/")
    assert "AWS_PROFILE" not in os.environ

    b = prebuilt_flat(tmp_path / "b", "s3://lmi-llm/trtllm/qwen2/",
                       f'endpoint_url = "{s3.endpoint_url}"\nprofile = "nope"\nregion = "us-east-1"')
    rep = P.Pipeline(b).run()
    assert not rep.ok and rep.stopped_at == "publish"
    assert "AWS profile not found" in rep.error and "nope" in rep.error and "\n" not in rep.error
    assert "~/.aws/config" in rep.fix


def test_publish_record_covers_files_in_linked_folders(tmp_path):
    """The sync follows a linked folder (like `aws s3 sync`): the publish step's record lists what is in it
    too, so a file missing there later makes --resume publish again (was: rglob skipped linked folders, the
    record left them out, and the missing file was never noticed)."""
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "rank0.extra").write_bytes(b"X" * 64)
    a = prebuilt_flat(tmp_path, "published/qwen")
    (tmp_path / "engines" / "1").symlink_to(real, target_is_directory=True)
    rep = P.Pipeline(a).run()
    assert rep.ok, (rep.error, rep.fix)
    out = tmp_path / "work" / "published" / "qwen"
    assert (out / "1" / "rank0.extra").read_bytes() == b"X" * 64 and not (out / "1").is_symlink()
    state = json.loads((tmp_path / "work" / P.RUN_DIR / P.STATE_NAME).read_text())
    published = {i["key"]: i["size"] for i in state["steps"]["publish"]["outputs"]["published"]}
    assert published["1/rank0.extra"] == 64 and "rank0.engine" in published

    again = P.Pipeline(a, resume=True).run()
    assert again.ok and {s.name: s.status for s in again.steps}["publish"] == "skipped"
    (out / "1" / "rank0.extra").unlink()  # lost at the destination
    third = P.Pipeline(a, resume=True).run()
    assert third.ok, third.error
    assert {s.name: s.status for s in third.steps}["publish"] == "done"
    assert (out / "1" / "rank0.extra").read_bytes() == b"X" * 64


def test_config_fill_deletes_exactly_the_named_parameter_blocks(tmp_path):
    """``triton.delete_params`` (the placeholder review's per-row Delete): fill_config — what the preview and
    the run both use — deletes exactly those blocks and keeps every other unfilled optional one; with the
    "delete" policy the rest goes too. The plan's script does the same deletes."""
    import subprocess

    from lmi_wizard.core import triton as pbtxt

    text = (FIXTURES / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt").read_text()
    base = {"env.trtllm_version": "0.13.0", "env.lmi_layout": "triton", "model.source": "a/b",
            "checkout.work_dir": str(tmp_path)}
    keep = P.fill_config(S.Answers({**base, "triton.optional_placeholders": "keep"}), text, tag="v0.13.0")
    opt_before = {f.param for f in keep.report.optional}
    assert {"max_tokens_in_paged_kv_cache", "kv_cache_host_memory_bytes", "max_attention_window_size"} <= opt_before
    named = ["max_tokens_in_paged_kv_cache", "kv_cache_host_memory_bytes", "not_in_this_template"]
    a = S.Answers({**base, "triton.optional_placeholders": "keep", "triton.delete_params": named})
    f = P.fill_config(a, text, tag="v0.13.0")
    assert f.deleted == ["max_tokens_in_paged_kv_cache", "kv_cache_host_memory_bytes"]
    report = pbtxt.check_text(f.text)
    assert {x.param for x in report.optional} == opt_before - {"max_tokens_in_paged_kv_cache",
                                                                "kv_cache_host_memory_bytes"}
    assert set(pbtxt.parameter_keys(keep.text)) - set(pbtxt.parameter_keys(f.text)) == set(named[:2])
    assert not report.blocking and report.parses is not False
    assert any("not_in_this_template" in n and "nothing deleted" in n for n in f.notes)
    # with the "delete" policy, every other unfilled optional block goes as well (each deleted once)
    both = P.fill_config(S.Answers({**base, "triton.delete_params": named[:1]}), text, tag="v0.13.0")
    assert both.deleted[0] == "max_tokens_in_paged_kv_cache" and len(both.deleted) == len(set(both.deleted))
    assert not pbtxt.check_text(both.text).optional and set(both.deleted) == opt_before
    # the plan: the same named deletes, in the script's own edit (run here on a copy of the template)
    ctx = P.RunContext(a, work_dir=tmp_path, run_dir=tmp_path / "run")
    lines = P.ConfigStep().plan(a, ctx)
    assert any("the parameters blocks max_tokens_in_paged_kv_cache, kv_cache_host_memory_bytes, "
               "not_in_this_template deleted" in l for l in lines)
    start = next(i for i, l in enumerate(lines) if l.startswith("text = pbtxt.set_decoupled("))
    body = lines[start - 4: lines.index("LMI_WIZARD_EOF", start)]
    cfg = tmp_path / "triton_model_repo" / "tensorrt_llm" / "config.pbtxt"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(text)
    subprocess.run([sys.executable, "-"], input="\n".join(body[1:]), text=True, check=True)
    out = cfg.read_text()
    assert set(pbtxt.parameter_keys(text)) - set(pbtxt.parameter_keys(out)) == set(named[:2])


# --------------------------------------------------------------------------------------------------
# each step's resume inputs: what it declares it reads is what it reads


def test_each_step_declares_every_answer_it_reads(remotes, hub, tmp_path, monkeypatch):
    """Records which answer keys each step's plan(), run() and still_valid() read (Answers.__getitem__,
    attributed to the step running) over a full Triton run, its resume and the plans of the flat, prebuilt and
    LMI-partition recipes, and fails on a key not covered by the step's ``reads`` (its resume inputs: a change
    there must redo the step). Steps that always run and secrets (not inputs: the files do not depend on who
    fetched them) are exempt."""
    from lmi_wizard.core.pipeline.steps import STEP_CLASSES

    current: list[str] = []
    seen: dict[str, set[str]] = {cls.name: set() for cls in STEP_CLASSES}
    original_getitem = S.Answers.__getitem__

    def getitem(self, key):
        if current:
            seen[current[-1]].add(key)
        return original_getitem(self, key)

    monkeypatch.setattr(S.Answers, "__getitem__", getitem)

    def attributed(cls, meth):
        fn = getattr(cls, meth)

        def wrapper(self, *args, **kw):
            current.append(cls.name)
            try:
                return fn(self, *args, **kw)
            finally:
                current.pop()

        return wrapper

    for cls in STEP_CLASSES:
        for meth in ("plan", "run", "still_valid"):
            monkeypatch.setattr(cls, meth, attributed(cls, meth))

    work = tmp_path / "work"
    # the load test too: the djl-serving stand-in on PATH (tests/test_serve_step.py), staged in a temporary root
    from tests.stand_ins.layout import install_console_script
    from tests.support.serve import SERVE

    install_console_script(tmp_path / "bin", "djl-serving", "djl_serving_standin.py", sys.executable)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_RECORD", str(tmp_path / "standin.json"))
    serve = dict(SERVE, container_root=str(tmp_path / "opt-ml-model"))
    a = tutorial_recipe(remotes, work, "lmi-llm/trtllm/0.5.0/baichuan-13b-tp2/baichuan-13b-chat/",
                        **{"serve_test.enabled": True})
    first = P.Pipeline(a, hf_endpoint=hub.endpoint, serve_options=serve).run()
    assert first.ok and first.outputs["serve_test"]["ok"], (first.error, first.fix)
    assert P.Pipeline(a, hf_endpoint=hub.endpoint, resume=True, serve_options=serve).run().ok  # still_valid
    P.plan_script(a)
    P.plan_script(prebuilt_flat(tmp_path / "flat", "s3://lmi-llm/qwen/"))
    P.plan_script(S.Answers({"env.trtllm_version": "0.12.0", "model.source": "meta-llama/Llama-2-7b-hf",
                             "build.method": "lmi-partition", "build.tp": 2, "checkout.work_dir": str(tmp_path / "p"),
                             "destination.uri": "s3://lmi-llm/llama/tensorrt_llm/"},
                            ctx=S.Context(installed_trtllm=None, gpus=[])))
    assert {"build.tp", "build.output_dir", "model.example"} <= seen["build"]  # the recorder sees real reads
    assert {"serve_test.prompt", "serve_test.timeout", "build.dtype"} <= seen["serve_test"]

    secret = {k for k, f in S.FIELDS.items() if f.kind is S.Kind.SECRET}
    undeclared = {}
    for cls in STEP_CLASSES:
        if cls.always_run:
            continue
        missing = sorted(k for k in seen[cls.name] - secret
                         if k not in cls.reads and k.split(".", 1)[0] not in cls.reads)
        if missing:
            undeclared[cls.name] = missing
    assert undeclared == {}, f"answers read but not in the step's reads: {undeclared}"


def test_screens_use_the_preview_api_not_the_steps():
    """The screens call core.pipeline's public API (previews, Pipeline): none imports a step module or class,
    or reaches a private of one (the engine's config filling aside, which moves to core.wizard)."""
    import ast

    screens = Path(__file__).resolve().parent.parent / "tui" / "screens"
    found = []
    for path in sorted(screens.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and "core.pipeline" in node.module:
                if ".steps" in node.module or any(a.name.endswith("Step") or a.name == "steps" for a in node.names):
                    found.append(f"{path.name}:{node.lineno} imports {node.module}")
            if isinstance(node, ast.Attribute) and (node.attr.endswith("Step") or node.attr in ("_dest", "_source",
                                                                                              "_args", "render")):
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert found == []
