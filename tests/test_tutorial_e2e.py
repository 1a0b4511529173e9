"""The tutorial's Baichuan example end to end on a local destination.

Oracle: the tutorial itself (``shared/seed/trtllm_manual_convert_tutorial.md``) — its code blocks are parsed,
not copied: the final ``/opt/ml/model`` tree, the three LMI configurations, ``gpt_model_path`` and the
S3 URLs. Real parts: the real huggingface_hub client against the fake Hub (tests/hubserver.py) for step 5,
the real tensorrtllm_backend ``config.pbtxt`` template (v0.13.0; the fixtures have no v0.12.0), the CLI
verbs ``tokenizer``, ``publish`` (to a local folder standing in for the bucket) and ``lmi-config``.
Stand-ins: the engines (``baichuan_float16_tp2_rank{0,1}.engine``, ``model.cache``) and their
``config.json`` (build.py's ``builder_config`` format), which need a GPU to make.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from hubserver import FakeHub, baichuan_repo
from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.lmi import read_gpt_model_path
from lmi_wizard.core.tree import tree_text

REPO_ID = "baichuan-inc/Baichuan-13B-Chat"


@pytest.fixture(scope="module")
def tutorial(fixtures_dir) -> str:
    return (fixtures_dir.parent / "seed" / "trtllm_manual_convert_tutorial.md").read_text()


def _block_after(text: str, marker: str) -> str:
    """The first fenced code block after the line containing ``marker``."""
    at = text.index(marker)
    m = re.search(r"```[a-z]*\n(.*?)```", text[at:], re.S)
    assert m, marker
    return m.group(1)


def _pairs(block: str) -> list[tuple[str, str]]:
    return [tuple(line.strip().split("=", 1)) for line in block.splitlines() if "=" in line]


@pytest.fixture(autouse=True)
def _no_saved_login(monkeypatch, tmp_path_factory):
    import huggingface_hub.constants as c

    home = tmp_path_factory.mktemp("hfhome")
    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def test_baichuan_end_to_end(tutorial, fixtures_dir, tmp_path, capsys):
    # the tutorial's values, read from the tutorial
    sync = re.search(r"aws s3 sync triton_model_repo/tensorrt_llm/ (s3://lmi-llm/\S+)", tutorial).group(1)
    model_id_doc = _block_after(tutorial, "and in our case is:").strip()
    env_doc = _pairs(_block_after(tutorial, "### 1. Environment variables"))
    props_doc = _pairs(_block_after(tutorial, "### 2. `serving.properties`"))
    extracted_doc = _pairs(_block_after(tutorial, "### 3. extracted model artifacts"))
    tree_doc = _block_after(tutorial, "Mount should be to `/opt/ml/model/`")
    gpt_doc = re.search(r'string_value: "([^"]+)"', _block_after(tutorial, "Make sure to update `gpt_model_path`"))
    tp = int(re.search(r"--world_size (\d+)", tutorial).group(1))
    max_seqs = int(re.search(r"max_num_sequences:(\d+)", tutorial).group(1))
    assert (sync, model_id_doc, tp, max_seqs) == (
        "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/baichuan-13b-chat/",
        "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/", 2, 64)

    # step 4 (stand-ins for the GPU part): the triton model repo with the real template and fake engines
    root = tmp_path / "opt-ml-model"  # becomes triton_model_repo/ = /opt/ml/model
    trt = root / "tensorrt_llm"
    (trt / "1").mkdir(parents=True)
    shutil.copy(fixtures_dir / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt", trt / "config.pbtxt")
    (trt / "config.pbtxt").chmod(0o644)
    for rank in range(tp):
        (trt / "1" / f"baichuan_float16_tp{tp}_rank{rank}.engine").write_bytes(b"\0fake engine" * 8)
    (trt / "1" / "model.cache").write_bytes(b"\0timing cache")
    (trt / "1" / "config.json").write_text(json.dumps({"builder_config": {
        "name": "baichuan", "precision": "float16", "tensor_parallel": tp, "pipeline_parallel": 1,
        "max_batch_size": max_seqs, "max_input_len": 1024, "max_output_len": 1024}, "plugin_config": {}}))

    # step 5: the tokenizer, through the verb, from the (fake) Hub with the real client
    with FakeHub([baichuan_repo(REPO_ID)]) as hub:
        rc = cli.main(["tokenizer", REPO_ID, str(trt), "--endpoint", hub.endpoint, "--json"])
        tok = json.loads(capsys.readouterr().out)
        assert rc == 0
        assert not [f for f in hub.resolved_files() if f.endswith(".bin")]
    assert tok["trust_remote_code"] is True

    # step 6 on a local destination: sync tensorrt_llm/ to ".../folder1/folder2/", LMI gets ".../folder1/"
    # (the publish verb, with a local folder standing in for the bucket)
    bucket = tmp_path / "s3"
    dest = bucket / sync[len("s3://"):]
    rc = cli.main(["publish", str(trt), str(dest), "--layout", "triton", "--json"])
    pub = json.loads(capsys.readouterr().out)
    assert rc == 0
    model_id_dir = dest.parent
    assert Path(pub["model_id"]).resolve() == model_id_dir.resolve()
    model_id = "s3://" + model_id_dir.relative_to(bucket).as_posix() + "/"
    assert model_id == model_id_doc
    # LMI 0.25–0.32's rule: an immediate sub-folder of model_id holds config.pbtxt and tokenizer_config.json
    assert [p.name for p in model_id_dir.iterdir()
            if (p / "config.pbtxt").is_file() and (p / "tokenizer_config.json").is_file()] == [dest.name]
    assert tree_text(dest, root_label=None) == tree_text(trt, root_label=None)  # the whole folder arrived
    # the tutorial's `aws s3 ls` listing is contained in what was uploaded
    ls_block = _block_after(tutorial, "Check the file is there")
    listed = [line.split()[-1] for line in ls_block.splitlines()[1:] if line.strip()]
    assert set(listed) <= {p.name + ("/" if p.is_dir() else "") for p in dest.iterdir()}

    # "Load on SageMaker LMI container": the three styles from the engine and the tokenizer folder
    base = ["lmi-config", "--model-id", model_id, "--engine-dir", str(trt / "1"), "--json"]
    rc = cli.main(base + ["--tokenizer-dir", str(trt), "--style", "extracted", "--write", str(root)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["findings"] == []
    # the tokenizer ships code (tokenization_baichuan.py is in the tutorial's own tree), so the wizard adds
    # exactly one key to each of the tutorial's configurations: trust_remote_code=true
    trust_env = ("OPTION_TRUST_REMOTE_CODE", "true")
    trust_prop = ("option.trust_remote_code", "true")
    assert list(doc["env"].items()) == env_doc + [trust_env]
    assert _pairs(doc["serving_properties"]) == props_doc + [trust_prop]
    assert _pairs(doc["extracted"]["serving_properties"]) == extracted_doc + [trust_prop]
    assert _pairs((root / "serving.properties").read_text()) == extracted_doc + [trust_prop]
    # ... and without the tokenizer's verdict the three are the tutorial's, exactly
    rc = cli.main(base)
    plain = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert list(plain["env"].items()) == env_doc
    assert _pairs(plain["serving_properties"]) == props_doc
    assert _pairs(plain["extracted"]["serving_properties"]) == extracted_doc

    # gpt_model_path, as the tutorial's last edit
    assert read_gpt_model_path((trt / "config.pbtxt").read_text()) == gpt_doc.group(1) == doc["extracted"][
        "gpt_model_path"]

    # the final tree of /opt/ml/model equals the tutorial's
    assert tree_text(root, root_label=None, hidden=True) == tree_doc  # no .cache/ or staging left either


def test_flat_layout_end_to_end(tmp_path, capsys):
    """LMI 0.33+: the engine folder is the model; the tokenizer joins it without touching config.json."""
    eng = tmp_path / "baichuan-13b-tp2"
    eng.mkdir()
    engine_cfg = json.dumps({"version": "0.21.0rc1", "pretrained_config": {
        "architecture": "BaichuanForCausalLM", "dtype": "float16",
        "mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1}},
        "build_config": {"max_batch_size": 64, "max_seq_len": 4096}})
    (eng / "config.json").write_text(engine_cfg)
    for r in range(2):
        (eng / f"rank{r}.engine").write_bytes(b"\0fake")
    with FakeHub([baichuan_repo(REPO_ID)]) as hub:
        assert cli.main(["tokenizer", REPO_ID, str(eng), "--layout", "flat", "--endpoint", hub.endpoint,
                         "--json"]) == 0
        capsys.readouterr()
    assert (eng / "config.json").read_text() == engine_cfg  # LMI 0.33's prebuilt rule still holds
    assert "build_config" in json.loads((eng / "config.json").read_text())
    model_id = "s3://lmi-llm/trtllm/0.21.0/baichuan-13b-tp2/"  # flat: the uploaded folder itself
    rc = cli.main(["lmi-config", "--model-id", model_id, "--layout", "flat", "--lmi-version", "0.33.0",
                   "--engine-dir", str(eng), "--tokenizer-dir", str(eng), "--style", "extracted",
                   "--write", str(eng), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["findings"] == []
    assert doc["env"] == {"HF_MODEL_ID": model_id, "OPTION_TENSOR_PARALLEL_DEGREE": "2",
                          "OPTION_MAX_ROLLING_BATCH_SIZE": "64", "OPTION_TRUST_REMOTE_CODE": "true"}
    assert _pairs((eng / "serving.properties").read_text()) == [
        ("engine", "Python"), ("option.mpi_mode", "true"), ("option.rolling_batch", "trtllm"),
        ("option.dtype", "fp16"), ("option.tensor_parallel_degree", "2"), ("option.max_rolling_batch_size", "64"),
        ("option.trust_remote_code", "true")]
    assert tree_text(eng, root_label=None, hidden=True) == (
        "├── config.json\n"
        "├── configuration_baichuan.py\n"
        "├── generation_config.json\n"
        "├── hf_config.json\n"
        "├── pytorch_model.bin.index.json\n"
        "├── rank0.engine\n"
        "├── rank1.engine\n"
        "├── requirements.txt\n"
        "├── serving.properties\n"
        "├── special_tokens_map.json\n"
        "├── tokenization_baichuan.py\n"
        "├── tokenizer_config.json\n"
        "└── tokenizer.model\n")
