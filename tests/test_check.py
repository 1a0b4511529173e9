"""``lmi-wizard check``: preflight of model repositories made by the project's own modules (and broken on
purpose the ways they break in the field), local and in S3 (moto, through boto3 over HTTP).

The repositories are produced with the real code paths: ``repo.assemble_repo`` from the real upstream
template, ``pbtxt.fill_file`` (fill_template.py semantics), ``tokenizer.get_tokenizer`` from a local model
folder, ``s3.sync`` to the test S3 server. Only the engine files themselves are stand-ins (they need a GPU):
``rank*.engine`` + ``config.json`` shaped like ``trtllm-build`` output, and a build record.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lmi_wizard.core import preflight as C
from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core import triton as pbtxt
from lmi_wizard.core.triton import repo
from lmi_wizard.core import tokenizer
from lmi_wizard.core.facts.gpu import GpuInfo, GpuState
from lmi_wizard.core.facts.versions import InstalledPackage
from tests.hubserver import baichuan_repo, llama_repo, qwen_repo
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.engines import (NO_GPU, NO_TRTLLM, NOT_LMI, fill_config, flat_repo, model_folder,
                                   triton_repo, write_engines)

H200 = GpuState(True, (GpuInfo(0, "NVIDIA H200", 141 * 2**30, (9, 0), "sm90"),
                       GpuInfo(1, "NVIDIA H200", 141 * 2**30, (9, 0), "sm90")), "580.159.04", "13.0")
A10G = GpuState(True, (GpuInfo(0, "NVIDIA A10G", 24 * 2**30, (8, 6), "sm86"),), "550.0", "12.4")


def _kw(**over):
    kw = dict(installed=NO_TRTLLM, gpu_state=NO_GPU, **NOT_LMI)
    kw.update(over)
    return kw


def codes(report, severity=None):
    return {f.code for f in report.findings if severity is None or f.severity == severity}


# ------------------------------------------------------------------------------------------- clean repos
def test_clean_triton_repo_passes_as_model_id_and_as_uploaded_folder(tmp_path, fixtures_dir):
    root = triton_repo(tmp_path, fixtures_dir)
    rep = C.check_target(str(root), lmi_version="0.30.0", **_kw())
    assert rep.ok, [f.to_json() for f in rep.errors]
    assert rep.layout == "triton" and rep.model_id == str(root)
    assert rep.model_dir == str(root / "tensorrt_llm") and rep.engine_dir == str(root / "tensorrt_llm" / "1")
    assert "engine-version-seen" in codes(rep)  # 0.12.0 engine = LMI 0.30's TensorRT-LLM: compared, fine
    # the folder that is uploaded (folder2): same verdict, and it says LMI's model_id is its parent
    rep2 = C.check_target(str(root / "tensorrt_llm"), lmi_version="0.30.0", **_kw())
    assert rep2.ok, [f.to_json() for f in rep2.errors]
    assert rep2.model_id == str(root) and "model-id" in codes(rep2, "info")


def test_clean_flat_repo_passes(tmp_path):
    edir = flat_repo(tmp_path)
    assert json.loads((edir / "config.json").read_text())["build_config"]  # the tokenizer step kept it
    rep = C.check_target(str(edir), lmi_version="0.33.0", **_kw())
    assert rep.ok, [f.to_json() for f in rep.errors]
    assert rep.layout == "flat" and rep.engine_dir == str(edir)


def test_cli_json_shape_and_exit_codes(tmp_path, fixtures_dir, capsys):
    root = triton_repo(tmp_path, fixtures_dir)
    assert cli.main(["check", str(root), "--json", "--lmi-version", "0.30.0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["target"] == str(root) and doc["layout"] == "triton" and doc["ok"] is True
    assert all(set(f) >= {"severity", "code", "message", "fix", "path"} for f in doc["findings"])
    # break it: the version of another LMI release → exit 1, the finding names both versions and the fix
    assert cli.main(["check", str(root), "--json", "--lmi-version", "0.29.0"]) == 1
    doc = json.loads(capsys.readouterr().out)
    bad = [f for f in doc["findings"] if f["code"] == "engine-version"]
    assert doc["ok"] is False and len(bad) == 1
    assert "0.12.0" in bad[0]["message"] and "0.11.0" in bad[0]["message"] and bad[0]["severity"] == "error"
    assert bad[0]["path"].endswith("tensorrt_llm/1/config.json") and "rebuild" in bad[0]["fix"]
    # could not check → 2, also as JSON
    assert cli.main(["check", str(tmp_path / "nope"), "--json"]) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["ok"] is False and "not found" in doc["error"] and "could not check" in out.err


def test_human_output_is_grouped_one_line_per_finding_with_fix(tmp_path, fixtures_dir, capsys):
    root = triton_repo(tmp_path, fixtures_dir, version="0.11.0")
    (root / "tensorrt_llm" / "tokenizer.json").unlink()
    (root / "tensorrt_llm" / "tokenizer.model").unlink()
    assert cli.main(["check", str(root), "--lmi-version", "0.30.0"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "Engine version" in lines and "Tokenizer" in lines
    assert lines.index("Engine version") < lines.index("Tokenizer")
    err = [ln for ln in lines if ln.strip().startswith("✗ error")]
    assert len(err) == 1 and "0.11.0" in err[0] and "— fix: rebuild" in err[0]
    assert any("! warning" in ln and "vocabulary" in ln and "— fix:" in ln for ln in lines)
    assert lines[-1].startswith("1 error(s)")


# ------------------------------------------------------------------------------------------- engine folder
def test_rank_count_checkpoint_and_empty_engines(tmp_path, fixtures_dir):
    root = triton_repo(tmp_path, fixtures_dir, tp=2, ranks=[0])  # TP 2 but only rank0 made it
    rep = C.check_target(str(root), **_kw())
    assert "config-world-size" in codes(rep, "error")
    # a converted checkpoint where the engines should be (convert_checkpoint.py ran, trtllm-build did not)
    ck = tmp_path / "ckpt"
    ck.mkdir()
    for r in range(2):
        (ck / f"rank{r}.safetensors").write_bytes(b"\0" * 16)
    (ck / "config.json").write_text(json.dumps({"architecture": "LlamaForCausalLM", "dtype": "float16",
                                                "mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1}}))
    rep = C.check_target(str(ck), layout="flat", **_kw())
    assert "checkpoint-only" in codes(rep, "error")
    f = next(f for f in rep.findings if f.code == "checkpoint-only")
    assert "trtllm-build" in f.fix
    # engines missing altogether: one finding (the layout rule and the engine check agree), an error
    gone = flat_repo(tmp_path / "g")
    for p in gone.glob("rank*.engine"):
        p.unlink()
    rep = C.check_target(str(gone), **_kw())
    assert [f.severity for f in rep.findings if f.code == "no-engines"] == ["error"]
    # an interrupted build: an empty engine file
    edir = flat_repo(tmp_path / "f")
    (edir / "rank1.engine").write_bytes(b"")
    rep = C.check_target(str(edir), **_kw())
    assert "empty-engine" in codes(rep, "error")


# ------------------------------------------------------------------------------------------- version / GPU
def test_engine_version_against_installed_runtime(tmp_path):
    edir = flat_repo(tmp_path, version="0.21.0rc1")
    same = C.check_target(str(edir), **_kw(installed=InstalledPackage("tensorrt_llm", True, "0.21.0rc1")))
    assert "engine-version" not in codes(same) and "engine-version-seen" in codes(same, "info")
    other = C.check_target(str(edir), **_kw(installed=InstalledPackage("tensorrt_llm", True, "1.0.0")))
    f = next(f for f in other.findings if f.code == "engine-version")
    assert f.severity == "error" and "0.21.0rc1" in f.message and "1.0.0" in f.message
    # same release, another build (a dev wheel): a warning, not an error
    dev = C.check_target(str(edir), **_kw(installed=InstalledPackage("tensorrt_llm", True, "0.21.0rc1.post1")))
    assert "engine-version-build" in codes(dev, "warning") and dev.ok
    # nothing to compare with: said so, with the fix
    none = C.check_target(str(edir), **_kw())
    assert "engine-version-uncompared" in codes(none, "info")
    # legacy build.py engines carry no version: a warning unless the build record says it
    leg = tmp_path / "legacy"
    write_engines(leg, legacy=True)
    (leg / "build_record.json").unlink()
    rep = C.check_target(str(leg), layout="flat", **_kw())
    assert "engine-version-unknown" in codes(rep, "warning")


def test_gpu_arch_of_build_record_vs_this_gpu(tmp_path):
    edir = flat_repo(tmp_path, arch="sm86", gpu="NVIDIA A10G", tp=1)
    rep = C.check_target(str(edir), **_kw(gpu_state=H200))
    f = next(f for f in rep.findings if f.code == "gpu-arch")
    assert f.severity == "error" and "sm86" in f.message and "sm90" in f.message and "ml.g5" in f.fix
    assert "gpu-arch" not in codes(C.check_target(str(edir), **_kw(gpu_state=A10G)))
    nogpu = C.check_target(str(edir), **_kw())
    assert "gpu-none-here" in codes(nogpu, "info")
    big = flat_repo(tmp_path / "b", tp=4, arch="sm86")
    assert "gpu-count" in codes(C.check_target(str(big), **_kw(gpu_state=A10G)), "warning")


def test_gpu_count_is_tp_times_pp(tmp_path):
    """The GPUs an engine needs are TP × PP, read from the engine's own config (PP is not optional)."""
    one_gpu = C.check_target(str(flat_repo(tmp_path / "pp", tp=1, pp=2, arch="sm86")), **_kw(gpu_state=A10G))
    f = next(f for f in one_gpu.findings if f.code == "gpu-count")
    assert f.severity == "warning" and "needs 2 GPUs" in f.message and "at least 2" in f.fix
    # TP 2 × PP 2 on two H200s: 4 needed, 2 here
    two = C.check_target(str(flat_repo(tmp_path / "tp2pp2", tp=2, pp=2)), **_kw(gpu_state=H200))
    assert "needs 4 GPUs" in next(f for f in two.findings if f.code == "gpu-count").message
    # TP 2 × PP 1 fits two H200s
    assert "gpu-count" not in codes(C.check_target(str(flat_repo(tmp_path / "tp2", tp=2)), **_kw(gpu_state=H200)))


def test_engine_version_against_the_lmi_image_this_runs_in(tmp_path):
    """No tensorrt-llm installed, no --lmi-version: the image's DJL Serving telemetry names LMI 0.33, whose
    TensorRT-LLM (0.21.0rc1, from the release table) is the runtime a 0.12 engine must match: it cannot."""
    from lmi_wizard.core.facts import target

    ships = next(r["trtllm"] for r in target.releases() if r["lmi"].startswith("0.33"))
    tel = tmp_path / "telemetry"
    tel.write_text("0.33.0 tensorrtllm\n")
    old = flat_repo(tmp_path / "old", version="0.12.0")
    rep = C.check_target(str(old), **_kw(telemetry_file=str(tel)))
    assert rep.lmi["source"] == "image" and rep.lmi["trtllm_version"] == ships
    f = next(f for f in rep.findings if f.code == "engine-version")
    assert f.severity == "error" and "0.12.0" in f.message and "LMI 0.33" in f.message and ships in f.fix
    assert not rep.ok
    # the engine of the TensorRT-LLM that image ships passes the same check
    good = C.check_target(str(flat_repo(tmp_path / "new", version=ships)), **_kw(telemetry_file=str(tel)))
    assert "engine-version" not in codes(good) and "engine-version-seen" in codes(good, "info")


# ------------------------------------------------------------------------------------------- config.pbtxt
def test_pbtxt_unfilled_template_wrong_engine_path_decoupled_and_batch(tmp_path, fixtures_dir):
    raw = triton_repo(tmp_path / "raw", fixtures_dir, fill=False)
    rep = C.check_target(str(raw), **_kw())
    errs = codes(rep, "error")
    assert {"pbtxt-placeholder", "pbtxt-parse", "pbtxt-engine-path"} <= errs
    lines = [f.path for f in rep.findings if f.code == "pbtxt-placeholder"]
    assert any(p.endswith("config.pbtxt:28") for p in lines)  # backend: "${triton_backend}" is line 28
    assert "pbtxt-untouched" in codes(rep, "info")

    # the engine path left as on the build machine, decoupled off, a batch above the engine's
    bad = triton_repo(tmp_path / "bad", fixtures_dir, fill=False, max_batch=32)
    fill_config(bad / "tensorrt_llm" / "config.pbtxt", engine_dir="/home/me/engines/1", decoupled_mode="False",
                triton_max_batch_size="128")
    rep = C.check_target(str(bad), **_kw())
    f = next(f for f in rep.findings if f.code == "pbtxt-engine-path")
    assert f.severity == "error" and "/opt/ml/model/tensorrt_llm/1" in f.fix
    assert "pbtxt-decoupled" in codes(rep, "warning")
    m = next(f for f in rep.findings if f.code == "pbtxt-max-batch")
    assert "128" in m.message and "32" in m.message
    # a folder not named tensorrt_llm: the engine path must follow its name inside the container
    other = triton_repo(tmp_path / "o", fixtures_dir)
    (other / "tensorrt_llm").rename(other / "llm")
    rep = C.check_target(str(other), **_kw())
    f = next(f for f in rep.findings if f.code == "pbtxt-engine-path")
    assert "/opt/ml/model/llm/1" in f.fix


# ------------------------------------------------------------------------------------------- tokenizer
def test_custom_code_named_in_auto_map_must_be_there(tmp_path, fixtures_dir):
    root = triton_repo(tmp_path, fixtures_dir, fake=baichuan_repo())
    mdir = root / "tensorrt_llm"
    assert (mdir / "tokenization_baichuan.py").is_file()  # the tokenizer step widened the patterns
    assert C.check_target(str(root), **_kw()).ok
    (mdir / "tokenization_baichuan.py").unlink()
    rep = C.check_target(str(root), **_kw())
    f = next(f for f in rep.findings if f.code == "custom-code-missing")
    assert "tokenization_baichuan.py" in f.message and f.path.endswith("tokenization_baichuan.py")
    # qwen: the custom tokenizer imports a helper relatively; that one must be there too
    q = flat_repo(tmp_path / "q", fake=qwen_repo())
    assert (q / "qwen_generation_utils.py").is_file()
    assert C.check_target(str(q), **_kw()).ok
    (q / "qwen_generation_utils.py").unlink()
    rep = C.check_target(str(q), **_kw())
    f = next(f for f in rep.findings if f.code == "custom-code-missing")
    assert "qwen_generation_utils.py" in f.message and "tokenization_qwen.py" in f.message
    (q / "tokenizer_config.json").write_text("{not json")
    assert "tokenizer-config-bad" in codes(C.check_target(str(q), **_kw()), "error")


# ------------------------------------------------------------------------------------------- layout rule
def test_layout_rules(tmp_path, fixtures_dir):
    # flat: the Hugging Face config.json copied over the engine's (snapshot_download of *.json)
    edir = flat_repo(tmp_path / "f")
    shutil.copy(model_folder(tmp_path, llama_repo()) / "config.json", edir / "config.json")
    rep = C.check_target(str(edir), layout="flat", **_kw())
    assert "hf-config-at-root" in codes(rep, "error")
    assert "not-flat" not in codes(rep)  # one finding for one cause
    # inferred too: engines + a config.json without build_config are checked as flat
    assert C.check_target(str(edir), **_kw()).layout == "flat"

    # triton: the model folder one level too deep (config.pbtxt two folders below model_id)
    root = triton_repo(tmp_path / "t", fixtures_dir)
    deep = tmp_path / "t" / "outer"
    deep.mkdir()
    root.rename(deep / "triton_model_repo")
    rep = C.check_target(str(deep), layout="triton", **_kw())
    assert "one-level-too-high" in codes(rep, "error")
    # config.pbtxt without tokenizer_config.json beside it
    root2 = triton_repo(tmp_path / "t2", fixtures_dir)
    (root2 / "tensorrt_llm" / "tokenizer_config.json").unlink()
    assert "missing-tokenizer-config" in codes(C.check_target(str(root2), **_kw()), "error")

    # the layout of the LMI release in use: a Triton repo for LMI 0.33 (flat only) is refused
    rep = C.check_target(str(root2.parent / "triton_model_repo"), lmi_version="0.33.0", **_kw())
    f = next(f for f in rep.findings if f.code == "layout-vs-lmi")
    assert f.severity == "error" and "0.33" in f.message and "build_config" in f.message
    # … and read from the image this runs in (DJL Serving's telemetry file)
    tel = tmp_path / "telemetry"
    tel.write_text("0.33.0 tensorrtllm\n")
    rep = C.check_target(str(edir.parent / "engine"), **_kw(telemetry_file=str(tel)))
    assert "layout-vs-lmi" not in codes(rep)
    rep = C.check_target(str(deep / "triton_model_repo"), **_kw(telemetry_file=str(tel)))
    assert "layout-vs-lmi" in codes(rep, "error")
    assert rep.lmi["version"] == "0.33.0" and rep.lmi["source"] == "image"


def test_could_not_check(tmp_path):
    from lmi_wizard.core.base.errors import WizardError

    with pytest.raises(WizardError, match="not found"):
        C.check_target(str(tmp_path / "missing"), **_kw())
    (tmp_path / "empty").mkdir()
    with pytest.raises(WizardError, match="cannot tell"):
        C.check_target(str(tmp_path / "empty"), **_kw())
    (tmp_path / "file").write_text("x")
    with pytest.raises(WizardError, match="not a folder"):
        C.check_target(str(tmp_path / "file"), **_kw())


# ------------------------------------------------------------------------------------------- serving.properties
def test_serving_properties_against_engine(tmp_path, fixtures_dir):
    root = triton_repo(tmp_path, fixtures_dir, fake=baichuan_repo(), tp=2, max_batch=64)
    props = root / "serving.properties"  # the extracted style: /opt/ml/model/serving.properties
    props.write_text("engine=Python\noption.rolling_batch=trtllm\noption.dtype=fp16\n"
                     "option.tensor_parallel_degree=2\noption.trust_remote_code=true\n")
    assert C.check_target(str(root), **_kw()).ok
    props.write_text("engine=Python\noption.rolling_batch=trtllm\noption.tensor_parallel_degree=4\n"
                     "option.max_rolling_batch_size=128\n")
    rep = C.check_target(str(root), **_kw())
    assert {"tp-mismatch", "batch-over-engine", "trust-remote-code"} <= codes(rep, "error")
    f = next(f for f in rep.findings if f.code == "tp-mismatch")
    assert f.path == str(props) and f.group == "lmi"
    assert "option.tensor_parallel_degree=2" in f.fix  # the fix is spelled for the file at hand
    assert next(f for f in rep.findings if f.code == "trust-remote-code").fix == "add option.trust_remote_code=true"
    props.write_text("option.tensor_parallel_degree=two\n")
    assert "properties-invalid" in codes(C.check_target(str(root), **_kw()), "error")
    # flat: option.trust_remote_code=false is read as true by LMI 0.33
    edir = flat_repo(tmp_path / "f", tp=2)
    (edir / "serving.properties").write_text("option.tensor_parallel_degree=2\noption.trust_remote_code=false\n")
    assert "properties-trust-false" in codes(C.check_target(str(edir), **_kw()), "warning")


# ------------------------------------------------------------------------------------------- S3
def test_s3_prefix_checked_from_small_files_only(tmp_path, fixtures_dir, s3):
    from lmi_wizard.core import s3 as s3mod

    s3.make_bucket("models")
    root = triton_repo(tmp_path, fixtures_dir, fake=baichuan_repo())
    s3mod.sync(root / "tensorrt_llm", "s3://models/llm/baichuan/tensorrt_llm/", client=s3.client)
    s3.log.clear()
    rep = C.check_target("s3://models/llm/baichuan/", endpoint_url=s3.endpoint_url, lmi_version="0.30.0", **_kw())
    assert rep.ok, [f.to_json() for f in rep.errors]
    assert rep.model_id == "s3://models/llm/baichuan/" and rep.layout == "triton"
    got = s3.log.keys("GetObject")
    assert got and all(k.endswith((".json", ".pbtxt", ".properties", ".py")) for k in got), got
    assert not any(k.endswith((".engine", ".model")) for k in got)
    assert s3.log.count("PUT") == 0  # a check writes nothing
    # pointed at the uploaded folder itself: fine, and it names LMI's model_id (the parent prefix)
    rep = C.check_target("s3://models/llm/baichuan/tensorrt_llm/", endpoint_url=s3.endpoint_url, **_kw())
    assert rep.ok and rep.model_id == "s3://models/llm/baichuan/"

    # broken in S3: a missing custom-code file and the wrong engine version — findings name S3 paths
    s3.client.delete_object(Bucket="models", Key="llm/baichuan/tensorrt_llm/tokenization_baichuan.py")
    rep = C.check_target("s3://models/llm/baichuan/", endpoint_url=s3.endpoint_url, lmi_version="0.29.0", **_kw())
    f = next(f for f in rep.findings if f.code == "custom-code-missing")
    assert f.path == "s3://models/llm/baichuan/tensorrt_llm/tokenization_baichuan.py"
    v = next(f for f in rep.findings if f.code == "engine-version")
    assert v.path == "s3://models/llm/baichuan/tensorrt_llm/1/config.json" and "/tmp" not in v.message

    # the two-folder rule: uploaded straight under the bucket's first folder → model_id at the bucket root
    s3mod.sync(root / "tensorrt_llm", "s3://models/flatwrong/", client=s3.client)
    rep = C.check_target("s3://models/flatwrong/", endpoint_url=s3.endpoint_url, **_kw())
    assert "triton-needs-two-folders" in codes(rep, "error")

    # flat layout in S3 with the HF config.json at the root
    edir = flat_repo(tmp_path / "flat")
    shutil.copy(model_folder(tmp_path, llama_repo()) / "config.json", edir / "config.json")
    s3mod.sync(edir, "s3://models/flat/llama/", client=s3.client)
    rep = C.check_target("s3://models/flat/llama/", endpoint_url=s3.endpoint_url, layout="flat", **_kw())
    assert "hf-config-at-root" in codes(rep, "error")


def test_s3_could_not_check_exits_2(tmp_path, s3, capsys, monkeypatch):
    s3.make_bucket("models")
    assert cli.main(["check", "s3://models/nothing-here/", "--endpoint-url", s3.endpoint_url]) == 2
    assert "nothing under s3://models/nothing-here/" in capsys.readouterr().err
    assert cli.main(["check", "s3://no-such-bucket/x/", "--endpoint-url", s3.endpoint_url, "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert "does not exist" in doc["error"] and doc["ok"] is False
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert cli.main(["check", "s3://models/x/", "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert "cannot reach" in capsys.readouterr().err
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert cli.main(["check", "s3://models/x/", "--endpoint-url", s3.endpoint_url]) == 2
    assert "no AWS credentials" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- issue 11 (per release)
def test_linked_triton_subfolder_is_what_lmi_detects(tmp_path, fixtures_dir):
    """LmiUtils.isValidTrtLlmModelRepo lists the root with Files.isDirectory (follows links): a tensorrt_llm/
    that is a link to the real folder is the model."""
    real = triton_repo(tmp_path / "real", fixtures_dir)
    root = tmp_path / "served"
    root.mkdir()
    (root / "tensorrt_llm").symlink_to(real / "tensorrt_llm", target_is_directory=True)
    rep = C.check_target(str(root), lmi_version="0.30.0", **_kw())
    assert rep.ok, [f.to_json() for f in rep.errors]
    assert rep.layout == "triton" and rep.model_dir == str(root / "tensorrt_llm")
    assert "nothing-there" not in codes(rep)


@pytest.mark.parametrize("lmi,severity", [("0.26.0", "warning"), ("0.29.0", "warning"), ("0.30.0", "error"),
                                          ("0.25.0", "error")])
def test_gpt_model_path_tmp_per_release(tmp_path, fixtures_dir, lmi, severity):
    """LMI 0.26–0.29's tutorials leave gpt_model_path /tmp ("LMI will change this value in runtime … after
    download"): never refused there; from 0.30 the tutorial sets /opt/ml/model/tensorrt_llm/1."""
    version = {"0.25.0": "0.5.0", "0.26.0": "0.7.1", "0.29.0": "0.11.0", "0.30.0": "0.12.0"}[lmi]
    root = triton_repo(tmp_path, fixtures_dir, fill=False, version=version)
    fill_config(root / "tensorrt_llm" / "config.pbtxt", engine_dir="/tmp")
    rep = C.check_target(str(root), lmi_version=lmi, **_kw())
    if severity == "warning":
        f = next(f for f in rep.findings if f.code == "pbtxt-engine-path-tmp")
        assert f.severity == "warning" and "/opt/ml/model/tensorrt_llm/1" in f.fix and lmi in f.message
        assert "pbtxt-engine-path" not in codes(rep) and rep.ok, [x.to_json() for x in rep.errors]
    else:
        assert "pbtxt-engine-path" in codes(rep, "error") and "pbtxt-engine-path-tmp" not in codes(rep)


def test_other_model_folders_placeholders_are_reported(tmp_path, fixtures_dir):
    edir = write_engines(tmp_path / "engines")
    res = repo.assemble_repo(fixtures_dir / "pbtxt" / "v0.10.0", tmp_path / "triton_model_repo", engine_dir=edir,
                             models=repo.MODELS)
    fill_config(res.config_path)
    tokenizer.get_tokenizer(str(model_folder(tmp_path, llama_repo())), res.repo_dir / "tensorrt_llm", layout="triton")
    rep = C.check_target(str(res.repo_dir), lmi_version="0.30.0", **_kw())
    others = {Path(f.path).parent.name: f for f in rep.findings if f.code == "other-model-placeholder"}
    assert {"preprocessing", "postprocessing", "ensemble", "tensorrt_llm_bls"} <= set(others)
    f = others["preprocessing"]
    assert f.severity == "warning" and "${tokenizer_dir}" in f.message and "LMI does not read" in f.message
    assert "Triton does" in f.message and rep.ok  # LMI loads it; a plain tritonserver would not


def test_gpu_count_without_a_build_record(tmp_path):
    edir = flat_repo(tmp_path, tp=2, pp=2, arch="sm86")
    (edir / "build_record.json").unlink()
    rep = C.check_target(str(edir), **_kw(gpu_state=A10G))
    f = next(f for f in rep.findings if f.code == "gpu-count")
    assert "needs 4 GPUs" in f.message and "config.json" in f.message


def test_values_the_backend_rejects_block_check(tmp_path, fixtures_dir):
    root = triton_repo(tmp_path, fixtures_dir, fill=False)  # engine max_seq_len 2048
    path = root / "tensorrt_llm" / "config.pbtxt"
    pbtxt.fill_file(path, "batch_scheduler_policy:guaranteed_completion,kv_cache_free_gpu_mem_fraction:1.0,"
                          "max_tokens_in_paged_kv_cache:1024", tag="v0.10.0", in_place=True)
    fill_config(path)
    rep = C.check_target(str(root), lmi_version="0.30.0", **_kw())  # LMI 0.30: backend v0.12.0
    assert {"bad-scheduler-policy", "bad-kv-fraction", "kv-tokens-below-sequence"} <= codes(rep, "error")
    assert not rep.ok
    assert cli.main(["check", str(root), "--lmi-version", "0.30.0", "--json"]) != 0


def test_lmi_without_trtllm_image_is_checked_only_as_a_named_self_built_layout(tmp_path, capsys):
    edir = flat_repo(tmp_path, version="1.0.0")
    assert cli.main(["check", str(edir), "--lmi-version", "0.35.0"]) == 2
    assert "published no TensorRT-LLM image" in capsys.readouterr().err
    rep = C.check_target(str(edir), lmi_version="0.35.0", layout="flat", **_kw())
    assert rep.lmi["trtllm_version"] == "1.0.0" and "layout-vs-lmi" not in codes(rep)
    assert "engine-version-seen" in codes(rep, "info")  # the 1.0.0 engine matches 0.35's source


# ------------------------------------------------------------------------------------------- S3 (issue 12)
def test_s3_small_files_are_read_concurrently_and_exactly(tmp_path, s3):
    s3.make_bucket("models")
    bodies = {f"cfg/{i:04d}.json": json.dumps({"i": i, "pad": "x" * (i % 97)}).encode() for i in range(300)}
    for rel, body in bodies.items():
        s3.client.put_object(Bucket="models", Key="many/" + rel, Body=body)
    s3.client.put_object(Bucket="models", Key="many/rank0.engine", Body=b"E" * 1000)
    s3.log.clear()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    from lmi_wizard.core.preflight.mirror import mirror_s3

    downloaded, refused, sizes = mirror_s3("s3://models/many/", mirror, endpoint_url=s3.endpoint_url)
    assert sorted(downloaded) == sorted(bodies) and refused == []
    assert {rel: (mirror / rel).read_bytes() for rel in bodies} == bodies
    assert (mirror / "rank0.engine").stat().st_size == 1000 and s3.log.count("GetObject") == 300  # no engine GET


def test_s3_engine_path_fix_names_the_container_path_not_the_mirror(tmp_path, fixtures_dir, s3):
    from lmi_wizard.core import s3 as s3mod

    s3.make_bucket("models")
    root = triton_repo(tmp_path, fixtures_dir)  # gpt_model_path /opt/ml/model/tensorrt_llm/1
    s3mod.sync(root / "tensorrt_llm", "s3://models/llm/mymodel/", client=s3.client)  # folder2 named otherwise
    for target in ("s3://models/llm/mymodel/", "s3://models/llm/"):
        rep = C.check_target(target, endpoint_url=s3.endpoint_url, **_kw())
        (f,) = [f for f in rep.findings if f.code.startswith("pbtxt-engine")]
        assert "/opt/ml/model/mymodel/1" in f.message + (f.fix or ""), f.to_json()
        assert "/opt/ml/model/m/1" not in f.message + (f.fix or "")


def test_s3_read_denied_names_the_read_permissions(tmp_path, s3, monkeypatch):
    import boto3
    from tests.s3server import auth_enforced

    s3.make_bucket("models")
    s3.client.put_object(Bucket="models", Key="m/t/config.json", Body=b"{}")
    iam = boto3.client("iam", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    from lmi_wizard.core.base.errors import WizardError

    with auth_enforced(), pytest.raises(WizardError) as ei:
        C.check_target("s3://models/m/t/", endpoint_url=s3.endpoint_url, **_kw())
    assert "access denied to s3://models/m/t/" in ei.value.problem
    assert "s3:GetObject" in ei.value.fix and "s3:ListBucket" in ei.value.fix and "PutObject" not in ei.value.fix


def test_s3_check_shows_the_owner_marker(tmp_path, fixtures_dir, s3, capsys):
    s3.make_bucket("models")
    root = triton_repo(tmp_path, fixtures_dir, fake=baichuan_repo())
    assert cli.main(["publish", str(root / "tensorrt_llm"), "s3://models/llm/baichuan/tensorrt_llm/",
                     "--endpoint-url", s3.endpoint_url]) == 0
    capsys.readouterr()
    for target in ("s3://models/llm/baichuan/tensorrt_llm/", "s3://models/llm/baichuan/"):
        rep = C.check_target(target, endpoint_url=s3.endpoint_url, lmi_version="0.30.0", **_kw())
        (f,) = [f for f in rep.findings if f.code == "s3-owner"]
        assert f.severity == "info" and "published by lmi-wizard: model" in f.message and "complete" in f.message
        assert f.path == "s3://models/llm/baichuan/tensorrt_llm/.lmi-wizard-model.json"
        assert rep.ok and ".lmi-wizard-model.json" not in " ".join(rep.downloaded)
