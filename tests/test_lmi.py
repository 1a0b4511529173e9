"""LMI configuration: the three styles, cross-checks, writing, the lmi-config verb."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.lmi import (LmiAnswers, all_styles, answers_from_engine, check_answers, engine_info,
                                 env_text, env_vars, extracted_properties, read_gpt_model_path,
                                 serving_properties, set_gpt_model_path, write_configs)

S3 = "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/"


def _props(text: str) -> dict:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def _tutorial() -> LmiAnswers:
    return LmiAnswers(model_id=S3, tp=2, max_rolling_batch_size=64, dtype="float16")


def test_tutorial_values_exactly():
    a = _tutorial()
    assert env_text(a) == (f"HF_MODEL_ID={S3}\nOPTION_TENSOR_PARALLEL_DEGREE=2\n"
                           "OPTION_MAX_ROLLING_BATCH_SIZE=64\n")
    assert serving_properties(a) == ("engine=Python\noption.mpi_mode=true\n"
                                     f"option.model_id={S3}\noption.tensor_parallel_degree=2\n"
                                     "option.max_rolling_batch_size=64\n")
    assert extracted_properties(a) == ("engine=Python\noption.mpi_mode=true\noption.rolling_batch=trtllm\n"
                                       "option.dtype=fp16\noption.tensor_parallel_degree=2\n")


def test_trust_remote_code_written_only_when_needed_and_only_true():
    a = _tutorial()
    for text in (env_text(a), serving_properties(a), extracted_properties(a)):
        assert "trust_remote_code" not in text.lower()
    a.trust_remote_code = True
    assert env_vars(a)["OPTION_TRUST_REMOTE_CODE"] == "true"
    assert _props(serving_properties(a))["option.trust_remote_code"] == "true"
    assert _props(extracted_properties(a))["option.trust_remote_code"] == "true"
    # a user "false" via extra options is dropped, never written (LMI 0.33 would read the string as true)
    b = LmiAnswers(model_id=S3, tp=2, extra={"trust_remote_code": "false", "max_input_len": "1024"})
    text = serving_properties(b)
    assert "trust_remote_code" not in text and "option.max_input_len=1024" in text


def test_pipeline_parallel_only_when_not_one():
    a = LmiAnswers(model_id=S3, tp=2, pp=2)
    assert env_vars(a)["OPTION_PIPELINE_PARALLEL_DEGREE"] == "2"
    assert "pipeline" not in serving_properties(_tutorial())


@pytest.mark.parametrize("lmi,layout,keys", [
    ("0.30.0", "triton", {"option.pipeline_parallel_degree"}),  # mpirun -np TP*PP from 0.30 (Connection.java)
    ("0.32.0", "triton", {"option.pipeline_parallel_degree"}),
    # 0.33: the runtime reads pipeline_parallel_size (trt_properties.py); _degree still sets the world size
    ("0.33.0", "flat", {"option.pipeline_parallel_degree", "option.pipeline_parallel_size"})])
def test_pipeline_keys_per_release(lmi, layout, keys):
    a = LmiAnswers(model_id=S3 if layout == "triton" else S3 + "flat/", tp=2, pp=2, layout=layout, lmi_version=lmi)
    props = _props(serving_properties(a))
    assert {k for k in props if "pipeline" in k} == keys and all(props[k] == "2" for k in keys)
    assert check_answers(a) == [] or all(f.code != "pp-not-read" for f in check_answers(a))


@pytest.mark.parametrize("lmi", ["0.25.0", "0.28.0", "0.29.0"])
def test_pipeline_parallel_refused_where_lmi_starts_tp_ranks_only(lmi):
    a = LmiAnswers(model_id=S3, tp=2, pp=2, lmi_version=lmi)
    assert "pipeline" not in serving_properties(a)  # nothing reads it there
    f = next(f for f in check_answers(a) if f.code == "pp-not-read")
    assert f.blocking and "mpirun -np TP" in f.problem and "0.30" in f.fix


def test_lmi_025_mpi_mode_and_engine():
    # v0.25.0 LmiUtils.inferLmiEngine: no config.json at the root → Python without MPI mode
    a = LmiAnswers(model_id=S3, tp=2, max_rolling_batch_size=64, lmi_version="0.25.0")
    env = env_vars(a)
    assert env["OPTION_MPI_MODE"] == "true" and list(env)[:3] == ["HF_MODEL_ID", "OPTION_TENSOR_PARALLEL_DEGREE",
                                                                 "OPTION_MPI_MODE"]
    assert _props(serving_properties(a))["engine"] == "MPI" and _props(extracted_properties(a))["engine"] == "MPI"
    assert any(f.code == "env-engine-025" and not f.blocking for f in check_answers(a))
    for later in ("0.26.0", "0.30.0"):  # 0.26+: the MPI engine is chosen without config.json
        b = LmiAnswers(model_id=S3, tp=2, lmi_version=later)
        assert "OPTION_MPI_MODE" not in env_vars(b) and _props(serving_properties(b))["engine"] == "Python"


def test_option_engine_reaches_the_env_style_from_027():
    for lmi, mapped in (("0.26.0", False), ("0.27.0", True), ("0.33.0", True)):
        layout = "flat" if lmi == "0.33.0" else "triton"
        a = LmiAnswers(model_id=S3 + ("x/" if layout == "flat" else ""), tp=2, layout=layout, lmi_version=lmi,
                       extra={"engine": "MPI"})
        assert (env_vars(a).get("OPTION_ENGINE") == "MPI") is mapped, lmi
        assert any(f.code == "option-engine-not-read" for f in check_answers(a)) is (not mapped)
        assert _props(serving_properties(a))["engine"] == "MPI"


def test_option_degrees_and_model_id_are_answers_not_extras(tmp_path, capsys):
    a = LmiAnswers(model_id=S3, tp=1, extra={"option.tensor_parallel_degree": "4"}, engine_tp=2)
    props = serving_properties(a)
    assert props.count("tensor_parallel_degree") == 1 and "option.tensor_parallel_degree=4" in props
    assert any(f.code == "tp-mismatch" for f in check_answers(a))  # cross-checked like --tp 4
    with pytest.raises(WizardError, match="contradicts --tp 2"):
        serving_properties(LmiAnswers(model_id=S3, tp=2, extra={"tensor_parallel_degree": "4"}))
    with pytest.raises(WizardError, match="contradicts the model_id") as e:
        serving_properties(LmiAnswers(model_id=S3, extra={"model_id": "s3://other/x/"}))
    assert "--model-id" in e.value.fix
    assert "s3://other" not in serving_properties(LmiAnswers(model_id=S3, extra={"option.model_id": S3}))
    # the verb: --option tensor_parallel_degree=N is checked against the engine exactly like --tp N
    eng = tmp_path / "engine"
    eng.mkdir()
    (eng / "config.json").write_text(json.dumps({"builder_config": {"tensor_parallel": 2, "max_batch_size": 64}}))
    rc = cli.main(["lmi-config", "--model-id", S3, "--engine-dir", str(eng), "--option", "tensor_parallel_degree=4"])
    assert rc == 1 and "built for TP 2" in capsys.readouterr().err
    rc = cli.main(["lmi-config", "--model-id", S3, "--option", "model_id=s3://elsewhere/y/"])
    err = capsys.readouterr().err
    assert rc == 2 and "contradicts the model_id" in err and err.count("\n") <= 2


def test_lmi_config_refuses_a_release_without_trtllm_image_unless_layout_named(capsys):
    rc = cli.main(["lmi-config", "--model-id", S3, "--lmi-version", "0.35.0"])
    assert rc == 2 and "published no TensorRT-LLM image" in capsys.readouterr().err
    rc = cli.main(["lmi-config", "--model-id", S3 + "x/", "--lmi-version", "0.35.0", "--layout", "flat",
                   "--style", "properties"])
    assert rc == 0
    rc = cli.main(["lmi-config", "--model-id", S3 + "x/", "--lmi-version", "0.33.0", "--style", "properties"])
    assert rc == 0  # the layout follows the version: flat


def test_flat_layout_styles():
    a = LmiAnswers(model_id="s3://b/models/llama-tp1/", tp=1, max_rolling_batch_size=32, layout="flat",
                   dtype="bf16")
    d = all_styles(a)
    assert d["env"]["HF_MODEL_ID"] == "s3://b/models/llama-tp1/"
    ext = _props(d["extracted"]["serving_properties"])
    assert ext["option.max_rolling_batch_size"] == "32" and ext["option.dtype"] == "bf16"
    assert "option.model_id" not in ext  # /opt/ml/model is the model itself
    assert d["extracted"]["gpt_model_path"] is None
    assert "rank*.engine" in d["extracted"]["layout"]
    assert "config.json (engine, with build_config)" in d["extracted"]["layout"]


@pytest.mark.parametrize("kw,code", [
    (dict(tp=4, engine_tp=2), "tp-mismatch"),
    (dict(pp=2, engine_pp=1), "pp-mismatch"),
    (dict(max_rolling_batch_size=128, engine_max_batch_size=64), "batch-over-engine"),
    (dict(tokenizer_needs_trust=True), "trust-remote-code"),
    (dict(lmi_version="0.33.0"), "layout-mismatch"),
    (dict(model_id="s3://bucket/"), "model-id-bucket-root"),
    (dict(model_id="s3://b/x/y/tensorrt_llm/"), "model-id-too-deep"),
])
def test_cross_checks_fire(kw, code):
    base = dict(model_id=S3, tp=2, max_rolling_batch_size=64)
    base.update(kw)
    found = {f.code: f for f in check_answers(LmiAnswers(**base))}
    assert code in found and found[code].fix


def test_cross_checks_pass_for_consistent_answers():
    a = LmiAnswers(model_id=S3, tp=2, max_rolling_batch_size=64, engine_tp=2, engine_pp=1,
                   engine_max_batch_size=64, trust_remote_code=True, tokenizer_needs_trust=True,
                   lmi_version="0.30.0")
    assert check_answers(a) == []
    flat = LmiAnswers(model_id="s3://b/m/", layout="flat", lmi_version="0.33.0", max_rolling_batch_size=8)
    assert check_answers(flat) == []


@pytest.mark.parametrize("kw,match", [(dict(tp=0), "at least 1"), (dict(tp="x"), "whole number"),
                                      (dict(dtype="int3"), "unknown dtype"), (dict(layout="nested"), "layout"),
                                      (dict(model_id=""), "no model_id"),
                                      (dict(model_id="s3://a/\nengine=x"), "line break")])
def test_bad_answers(kw, match):
    base = dict(model_id=S3, tp=2)
    base.update(kw)
    with pytest.raises(WizardError, match=match):
        serving_properties(LmiAnswers(**base))


def test_engine_info_both_formats(tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    (new / "config.json").write_text(json.dumps({
        "pretrained_config": {"dtype": "bfloat16", "mapping": {"world_size": 4, "tp_size": 4, "pp_size": 1}},
        "build_config": {"max_batch_size": 32}}))
    e = engine_info(new)
    assert (e.tp, e.pp, e.max_batch_size, e.dtype, e.has_build_config) == (4, 1, 32, "bf16", True)
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"builder_config": {
        "tensor_parallel": 2, "pipeline_parallel": 1, "max_batch_size": 64, "precision": "float16"}}))
    e = engine_info(old)
    assert (e.tp, e.max_batch_size, e.dtype, e.has_build_config) == (2, 64, "fp16", False)
    assert engine_info(tmp_path / "missing").tp is None


def test_answers_from_engine_and_tokenizer(tmp_path):
    eng = tmp_path / "1"
    eng.mkdir()
    (eng / "config.json").write_text(json.dumps({"builder_config": {"tensor_parallel": 2, "max_batch_size": 64,
                                                                    "precision": "float16"}}))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"auto_map": {"AutoTokenizer": ["tokenization_baichuan.BaichuanTokenizer", None]}}))
    a = answers_from_engine(S3, eng, layout="triton", tokenizer_dir=tmp_path)
    assert (a.tp, a.max_rolling_batch_size, a.trust_remote_code, a.tokenizer_needs_trust) == (2, 64, True, True)
    assert check_answers(a) == []


def test_gpt_model_path_edit_on_real_template(fixtures_dir):
    text = (fixtures_dir / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt").read_text()
    assert read_gpt_model_path(text) == "${engine_dir}"
    new = set_gpt_model_path(text, "/opt/ml/model/tensorrt_llm/1")
    assert read_gpt_model_path(new) == "/opt/ml/model/tensorrt_llm/1"
    assert new.replace("/opt/ml/model/tensorrt_llm/1", "${engine_dir}") == text  # nothing else changed
    with pytest.raises(WizardError, match="no gpt_model_path"):
        set_gpt_model_path("name: \"x\"\n", "/p")


def test_write_configs_atomic_and_no_overwrite_without_force(tmp_path):
    a = _tutorial()
    written = write_configs(a, tmp_path / "out", "all")
    names = sorted(os.path.relpath(p, tmp_path / "out") for p in written)
    assert names == ["extracted/serving.properties", "lmi.env", "serving.properties"]
    assert (tmp_path / "out" / "serving.properties").read_text() == serving_properties(a)
    assert write_configs(a, tmp_path / "out", "all") == []  # identical: nothing rewritten
    (tmp_path / "out" / "serving.properties").write_text("option.model_id=mine\n")
    b = _tutorial()
    b.tp = 4
    with pytest.raises(WizardError, match="--force"):
        write_configs(b, tmp_path / "out", "all")
    assert (tmp_path / "out" / "serving.properties").read_text() == "option.model_id=mine\n"
    assert (tmp_path / "out" / "lmi.env").read_text() == env_text(a)  # nothing half-written
    write_configs(b, tmp_path / "out", "all", force=True)
    assert "option.tensor_parallel_degree=4" in (tmp_path / "out" / "serving.properties").read_text()
    assert not [p for p in (tmp_path / "out").rglob(".*.tmp")]


def test_write_extracted_sets_gpt_model_path(tmp_path, fixtures_dir):
    repo = tmp_path / "triton_model_repo"
    (repo / "tensorrt_llm").mkdir(parents=True)
    shutil.copy(fixtures_dir / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt", repo / "tensorrt_llm")
    written = write_configs(_tutorial(), repo, "extracted")
    assert sorted(Path(p).name for p in written) == ["config.pbtxt", "serving.properties"]
    assert read_gpt_model_path((repo / "tensorrt_llm" / "config.pbtxt").read_text()) == \
        "/opt/ml/model/tensorrt_llm/1"


def test_cli_prints_three_styles_and_json(capsys, tmp_path):
    rc = cli.main(["lmi-config", "--model-id", S3, "--tp", "2", "--max-rolling-batch-size", "64"])
    out = capsys.readouterr().out
    assert rc == 0 and "OPTION_TENSOR_PARALLEL_DEGREE=2" in out and "option.rolling_batch=trtllm" in out
    assert "gpt_model_path = /opt/ml/model/tensorrt_llm/1" in out
    rc = cli.main(["lmi-config", "--model-id", S3, "--tp", "2", "--style", "env", "--json",
                   "--write", str(tmp_path / "w")])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["env"]["OPTION_TENSOR_PARALLEL_DEGREE"] == "2"
    assert doc["written"] == [str(tmp_path / "w" / "lmi.env")]


def test_cli_engine_mismatch_fails_and_writes_nothing(capsys, tmp_path):
    eng = tmp_path / "engine"
    eng.mkdir()
    (eng / "config.json").write_text(json.dumps({"builder_config": {"tensor_parallel": 2, "max_batch_size": 64}}))
    rc = cli.main(["lmi-config", "--model-id", S3, "--tp", "4", "--max-rolling-batch-size", "128",
                   "--engine-dir", str(eng), "--write", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert rc == 1 and "tp-mismatch" not in err  # human words, not slugs
    assert "built for TP 2" in err and "exceeds the engine's max batch size 64" in err
    assert not (tmp_path / "w").exists()
    # defaults come from the engine: no --tp needed
    rc = cli.main(["lmi-config", "--model-id", S3, "--engine-dir", str(eng), "--style", "properties"])
    out = capsys.readouterr().out
    assert rc == 0 and "option.tensor_parallel_degree=2" in out and "option.max_rolling_batch_size=64" in out


def test_cli_bad_option_is_one_line(capsys):
    rc = cli.main(["lmi-config", "--model-id", S3, "--option", "novalue"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("lmi-wizard: error:") and err.count("\n") == 1


def test_extra_options_replace_generated_keys_never_duplicate():
    a = LmiAnswers(model_id=S3, tp=2, trust_remote_code=True,
                   extra={"rolling_batch": "disable", "option.max_input_len": "2048", "trust_remote_code": "off"})
    ext = extracted_properties(a)
    assert ext.count("option.rolling_batch=") == 1 and "option.rolling_batch=disable" in ext
    assert "trust_remote_code" not in ext + serving_properties(a) + env_text(a)
    assert env_vars(a)["OPTION_MAX_INPUT_LEN"] == "2048" and env_vars(a)["OPTION_ROLLING_BATCH"] == "disable"


@pytest.mark.parametrize("args, match", [
    (["--tp", "0"], "argument --tp: 0 is below the minimum 1"),  # 0 used to become 1 silently (the Field's range)
    (["--pp", "0"], "argument --pp: 0 is below the minimum 1"),
    (["--max-rolling-batch-size", "0"], "argument --max-rolling-batch-size: 0 is below the minimum 1"),
    (["--lmi-version", "banana"], "is not a version"),  # used to be ignored
    (["--tokenizer-dir", "/nonexistent/tok"], "tokenizer folder not found"),  # used to be ignored
    (["--write", "FILE"], "is a file, not a folder"),
])
def test_cli_bad_values_are_one_line_exit_2(capsys, tmp_path, args, match):
    (tmp_path / "f").write_text("x")
    args = [str(tmp_path / "f") if a == "FILE" else a for a in args]
    try:
        rc = cli.main(["lmi-config", "--model-id", S3, *args])
    except SystemExit as exc:  # the Field's own parsing, through argparse (exit 2)
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and match in err[0], err


def test_cli_cross_check_error_printed_once(capsys):
    rc = cli.main(["lmi-config", "--model-id", S3, "--lmi-version", "0.33.0", "--layout", "triton"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "loads the flat layout" in err[0], err


def test_findings_are_the_shared_finding_type():
    from lmi_wizard.core.base.findings import Finding, blocking

    f = check_answers(LmiAnswers(model_id="s3://b/", tp=1))[0]
    assert isinstance(f, Finding) and blocking([f]) == [f] and f.fix and f.fix not in f.problem


def test_write_extracted_writes_through_a_symlinked_config_pbtxt(tmp_path, fixtures_dir):
    real = tmp_path / "elsewhere" / "config.pbtxt"
    real.parent.mkdir()
    shutil.copy(fixtures_dir / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt", real)
    repo = tmp_path / "triton_model_repo"
    (repo / "tensorrt_llm").mkdir(parents=True)
    (repo / "tensorrt_llm" / "config.pbtxt").symlink_to(real)
    write_configs(_tutorial(), repo, "extracted")
    assert (repo / "tensorrt_llm" / "config.pbtxt").is_symlink()
    assert read_gpt_model_path(real.read_text()) == "/opt/ml/model/tensorrt_llm/1"


def test_gpt_model_path_read_and_set_through_the_pbtxt_scanner():
    text = ('name: "tensorrt_llm"\nparameters: {\n  key: "gpt_model_path" # where the engines are\n'
            '  value: {\n    string_value: "${engine_dir}"\n  }\n}\n')
    assert read_gpt_model_path(text) == "${engine_dir}"  # the comment used to hide it
    new = set_gpt_model_path(text, '/opt/ml/model/my "odd" dir/1')
    assert read_gpt_model_path(new) == '/opt/ml/model/my "odd" dir/1'
    with pytest.raises(WizardError, match="no gpt_model_path"):
        set_gpt_model_path('name: "x"\n', "/opt/ml/model/tensorrt_llm/1")


def test_undecodable_bytes_are_one_line_not_a_traceback(capsys, tmp_path):
    bad = os.fsdecode(b"s3://b/x\xff/")
    rc = cli.main(["lmi-config", "--model-id", bad, "--write", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not valid UTF-8" in err[0]
    assert not (tmp_path / "out").exists()


def test_cli_lmi_config_options_are_the_fields(monkeypatch, capsys):
    """One schema (issue 10): --tp/--pp/--max-rolling-batch-size/--lmi-version are build.tp, build.pp,
    lmi.max_rolling_batch_size and env.lmi_version — help, parsing and range from the Fields (a Field's alias
    is a second spelling); not given, they stay unset so the engine's values apply."""
    import argparse
    import dataclasses

    from lmi_wizard.core import wizard
    from lmi_wizard.tui.cli.commands import lmi_config as verb

    f = wizard.field("build.tp")
    monkeypatch.setitem(wizard.FIELDS, f.key, dataclasses.replace(f, maximum=8, help="TP-HELP",
                                                                    aliases=("--tensor-parallel",)))
    p = argparse.ArgumentParser()
    verb.register(p)
    assert "TP-HELP" in p.format_help()
    args = p.parse_args(["--model-id", S3])
    assert (args.tp, args.pp, args.max_rolling_batch_size, args.lmi_version) == (None, None, None, None)
    assert p.parse_args(["--model-id", S3, "--tensor-parallel", "8"]).tp == 8
    with pytest.raises(wizard.FieldError) as fe:
        wizard.field("build.tp").parse("9")
    with pytest.raises(SystemExit) as e:  # the Field's maximum, changed above, is the verb's
        cli.main(["lmi-config", "--model-id", S3, "--tp", "9"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and fe.value.message in err and "--tp" in err
