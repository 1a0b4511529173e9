"""The two LMI layouts as checks (core/layout.py): model_id, refusals with the fix, local and listing checks."""

from __future__ import annotations

import json
import shutil

import pytest

from lmi_wizard.core import layout as L
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.base.findings import raise_first
from tests.support.layouts import (ENGINE_CONFIG, HF_CONFIG, TUTORIAL_DEST, TUTORIAL_MODEL_ID, make_flat_repo,
                                    make_triton_repo)

# the tutorial's Step 6 listing of s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/baichuan-13b-chat/
TUTORIAL_FILES = ["config.json", "config.pbtxt", "generation_config.json", "pytorch_model.bin.index.json",
                  "requirements.txt", "special_tokens_map.json", "tokenizer.model", "tokenizer_config.json",
                  "1/baichuan_float16_tp2_rank0.engine", "1/baichuan_float16_tp2_rank1.engine", "1/config.json",
                  "1/model.cache"]


def codes(findings, level="error"):
    return [f.code for f in findings if f.level == level]


# --------------------------------------------------------------------------- model_id
def test_model_id_is_the_parent_prefix_for_triton_and_the_folder_for_flat():
    assert L.model_id_for(TUTORIAL_DEST, "triton") == TUTORIAL_MODEL_ID
    assert L.model_id_for(TUTORIAL_DEST.rstrip("/"), "triton") == TUTORIAL_MODEL_ID
    assert L.model_id_for("s3://bkt/m/tensorrt_llm", "triton") == "s3://bkt/m/"
    assert L.model_id_for(TUTORIAL_DEST, "flat") == TUTORIAL_DEST
    assert L.model_id_for("S3://bkt/a", "flat") == "s3://bkt/a/"


def test_local_destinations_follow_the_same_rule(tmp_path):
    assert L.model_id_for(tmp_path / "m" / "tensorrt_llm", "triton") == str(tmp_path / "m")
    assert L.model_id_for(str(tmp_path / "m"), "flat") == str(tmp_path / "m")
    assert L.parse_destination("file://" + str(tmp_path)).path == tmp_path


@pytest.mark.parametrize("dest,layout", [
    ("s3://bucket/", "triton"), ("s3://bucket", "triton"), ("s3://bucket/folder2/", "triton"),
    ("s3://bucket/", "flat"), ("/", "flat"), ("/folder2", "triton"),
])
def test_destinations_that_cannot_work_are_refused_with_the_fix(dest, layout):
    with pytest.raises(WizardError) as ei:
        L.model_id_for(dest, layout)
    assert ei.value.fix, "a refusal must say how to fix it"
    if layout == "triton":
        assert "two folders" in ei.value.fix


@pytest.mark.parametrize("bad", ["s3://Bad_Bucket/x/", "s3://ab/x/", "s3://b..x/y/", "s3://bucket/a//b/",
                                 "s3://bucket/a/../b/", "gs://bucket/a/", ""])
def test_bad_destinations_are_one_clear_error(bad):
    with pytest.raises(WizardError) as ei:
        L.parse_destination(bad)
    assert ei.value.fix


@pytest.mark.parametrize("bad,problem,fix", [
    ("s3://", "names no S3 bucket", "s3://bucket/folder1/folder2/"),
    ("s3:///a/b/", "names no S3 bucket", "s3://bucket/folder1/folder2/"),
    ("s3://Models/m/tensorrt_llm/", "lower-case", "s3://models/m/tensorrt_llm/"),
    ("s3:/models/m/t/", "not a valid S3 URL", "s3://bucket/"),  # would have made a local folder "s3:"
    ("S3:models/m/t", "not a valid S3 URL", "s3://bucket/"),
    ("s3//models/m/t", "not a valid S3 URL", "s3://bucket/"),
])
def test_s3_typos_are_named(bad, problem, fix):
    with pytest.raises(WizardError) as ei:
        L.parse_destination(bad)
    assert problem in ei.value.problem and fix in ei.value.fix


def test_unknown_layout_is_refused():
    with pytest.raises(WizardError, match="unknown layout"):
        L.model_id_for("s3://b/a/b/", "triton2")


# --------------------------------------------------------------------------- local folders
def test_triton_repo_passes_and_the_model_repo_root_means_its_tensorrt_llm(tmp_path, fixtures_dir):
    trt = make_triton_repo(tmp_path, fixtures_dir)
    assert "max_beam_width" in (trt / "config.pbtxt").read_text()  # the real upstream template
    assert L.check_local(trt, "triton") == []
    assert L.source_folder(trt.parent, "triton") == trt
    assert L.check_local(trt.parent, "triton") == []
    assert L.infer_layout(trt) == "triton"
    assert L.infer_layout(trt.parent) == "triton"


def test_triton_missing_tokenizer_config_is_an_error(tmp_path):
    trt = make_triton_repo(tmp_path)
    (trt / "tokenizer_config.json").unlink()
    found = L.check_local(trt, "triton")
    assert codes(found) == ["missing-tokenizer-config"]
    with pytest.raises(WizardError, match="tokenizer_config.json"):
        raise_first(found)


def test_triton_missing_pbtxt_and_no_engines(tmp_path):
    trt = make_triton_repo(tmp_path)
    (trt / "config.pbtxt").unlink()
    for e in (trt / "1").glob("*.engine"):
        e.unlink()
    found = L.check_local(trt, "triton")
    assert codes(found) == ["missing-pbtxt"]
    assert codes(found, "warning") == ["no-engines"]


def test_flat_repo_checked_as_triton_points_to_flat(tmp_path):
    flat = make_flat_repo(tmp_path)
    found = L.check_local(flat, "triton")
    assert "flat-repo-as-triton" in codes(found)
    assert any(f.fix == "use --layout flat (LMI 0.33+)" for f in found)


def test_flat_repo_passes(tmp_path):
    flat = make_flat_repo(tmp_path)
    assert L.check_local(flat, "flat") == []
    assert L.infer_layout(flat) == "flat"


def test_flat_hf_config_at_root_is_the_classic_mistake(tmp_path):
    flat = make_flat_repo(tmp_path)
    (flat / "config.json").write_text(json.dumps(HF_CONFIG))  # snapshot_download("*.json") overwrote it
    found = L.check_local(flat, "flat")
    assert codes(found) == ["hf-config-at-root"]
    assert "build_config" in found[0].problem and "tokenizer" in found[0].fix
    with pytest.raises(WizardError, match="cannot tell the layout"):
        L.infer_layout(flat)


def test_flat_missing_tokenizer_and_engine_count(tmp_path):
    flat = make_flat_repo(tmp_path, engines=1)
    (flat / "tokenizer_config.json").unlink()
    found = L.check_local(flat, "flat")
    assert codes(found) == ["missing-tokenizer-config"]
    assert codes(found, "warning") == ["engine-count"]


def test_flat_bad_json_and_missing_folder(tmp_path):
    flat = make_flat_repo(tmp_path)
    (flat / "config.json").write_text("{not json")
    assert "bad-config-json" in codes(L.check_local(flat, "flat"))
    assert codes(L.check_local(tmp_path / "nope", "flat")) == ["missing-folder"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty-folder" in codes(L.check_local(empty, "triton"))
    with pytest.raises(WizardError):
        L.infer_layout(tmp_path / "nope")


# --------------------------------------------------------------------------- listings
def test_tutorial_listing_is_accepted_at_the_parent_and_refused_one_level_too_deep():
    keys = ["baichuan-13b-chat/" + k for k in TUTORIAL_FILES]
    assert L.check_listing(keys, TUTORIAL_MODEL_ID, "triton") == []
    too_deep = L.check_listing(TUTORIAL_FILES, TUTORIAL_DEST, "triton")
    assert codes(too_deep) == ["one-level-too-deep"]
    assert "pytorch_model.bin" in too_deep[0].problem
    assert TUTORIAL_MODEL_ID in too_deep[0].fix


def test_listing_one_level_too_high_names_the_right_model_id():
    keys = ["baichuan-13b-tp2/baichuan-13b-chat/" + k for k in TUTORIAL_FILES]
    found = L.check_listing(keys, "s3://lmi-llm/trtllm/0.12.0/", "triton")
    assert codes(found) == ["one-level-too-high"]
    assert TUTORIAL_MODEL_ID in found[0].fix


def test_listing_missing_tokenizer_several_models_and_empty():
    keys = ["m/" + k for k in TUTORIAL_FILES if k != "tokenizer_config.json"]
    assert codes(L.check_listing(keys, "s3://b/x/", "triton")) == ["missing-tokenizer-config"]
    two = ["a/" + k for k in TUTORIAL_FILES] + ["b/" + k for k in TUTORIAL_FILES]
    assert codes(L.check_listing(two, "s3://b/x/", "triton"), "warning") == ["several-models"]
    assert codes(L.check_listing([], "s3://b/x/", "triton")) == ["nothing-there"]
    assert codes(L.check_listing(["m/x.bin", "config.json"], "s3://b/x/", "triton")) == ["no-triton-model"]


def test_flat_listing_reads_config_json_when_it_can():
    keys = ["config.json", "rank0.engine", "rank1.engine", "tokenizer_config.json"]
    good = {"config.json": json.dumps(ENGINE_CONFIG).encode()}
    bad = {"config.json": json.dumps(HF_CONFIG).encode()}
    assert L.check_listing(keys, "s3://b/m/", "flat", read=good.get) == []
    assert codes(L.check_listing(keys, "s3://b/m/", "flat", read=bad.get)) == ["hf-config-at-root"]
    assert L.check_listing(keys, "s3://b/m/", "flat") == []  # without read: names only
    found = L.check_listing(["t/config.pbtxt", "t/tokenizer_config.json"], "s3://b/m/", "flat")
    assert "missing-engine-config" in codes(found) and "--layout triton" in found[0].fix
