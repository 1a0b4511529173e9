"""core/wizard/: the one description of the wizard's steps and fields."""

from __future__ import annotations

import pytest
from pathlib import Path

from lmi_wizard.core import wizard as S
from lmi_wizard.core.base.errors import WizardError


def tutorial_answers(**extra) -> S.Answers:
    ctx = S.Context(installed_trtllm=None, gpus=[], gpu_count=2, gpu_arch="sm80")
    values = {"env.trtllm_version": "0.12.0", "model.source": "baichuan-inc/Baichuan-13B-Chat",
              "model.example": "baichuan", "build.tp": 2,
              "destination.uri": "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/baichuan-13b-chat/"}
    values.update(extra)
    return S.Answers(values, ctx=ctx)


def _baichuan_config(heads: int = 40, kv_heads: int | None = None):
    from lmi_wizard.core.models import ModelConfig

    raw = {"architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "hidden_size": 5120,
           "num_hidden_layers": 40, "num_attention_heads": heads, "vocab_size": 64000}
    if kv_heads:
        raw["num_key_value_heads"] = kv_heads
    return ModelConfig("baichuan-inc/Baichuan-13B-Chat", "hub", Path("config.json"), raw)


@pytest.mark.parametrize("heads,kv_heads", [(40, None), (64, 8), (32, 32), (48, 6)])
def test_tp_advice_and_validator_are_one_rule(heads, kv_heads):
    """Issue 13 item 8: every TP the "possible" list names is accepted by the field's validator, and every TP it
    leaves out is refused (TensorRT-LLM's rule: heads divisible by TP, KV heads divisible or a multiple; no
    power-of-two rule)."""
    import re as _re

    a = tutorial_answers()
    a.ctx.set_model_config(S.model_ref(a), _baichuan_config(heads, kv_heads))
    refused = S.check_field("build.tp", 16 if heads % 16 else 7, a)
    assert refused is not None and refused.blocking
    listed = [int(x) for x in _re.search(r"possible: ([\d, ]+)", refused.message).group(1).split(", ")]
    for tp in range(1, 65):
        ok = S.check_field("build.tp", tp, a) is None
        assert ok == (tp in listed), (tp, listed)
    assert listed and all(heads % tp == 0 for tp in listed)
    if heads == 40:
        assert listed == [1, 2, 4, 5, 8, 10, 20, 40]  # 5 is listed, and accepted


def test_steps_are_the_nine_screens_in_order():
    assert [s.key for s in S.STEPS] == ["environment", "checkout", "model", "build", "triton", "destination",
                                        "review", "run", "done"]
    keys = [f.key for s in S.STEPS for f in s.fields]
    assert len(keys) == len(set(keys)), "field keys are unique"
    for f in S.FIELDS.values():
        assert "." in f.key and f.label and f.help, f.key
        assert isinstance(f.kind, S.Kind)
        if f.kind is S.Kind.SECRET:
            assert f.env and not f.stored
        else:
            assert f.stored


def test_defaults_parse_and_derived_values():
    a = tutorial_answers()
    assert a["build.tp"] == 2 and a["build.dtype"] == "float16" and a["build.context_fmha"] is True
    assert a["model.name"] == "baichuan-13b-chat"
    assert a.tag == "v0.12.0" and a.layout == "triton"
    assert a["checkout.dir"] == "tensorrtllm_backend"
    assert a["tokenizer.source"] == "baichuan-inc/Baichuan-13B-Chat"
    assert S.lmi_model_id(a) == "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/"
    # the text forms a front end gets back
    a["build.tp"] = " 4 "
    assert a["build.tp"] == 4
    a["build.context_fmha"] = "no"
    assert a["build.context_fmha"] is False
    a["triton.kv_cache_free_gpu_mem_fraction"] = "0.9"
    assert a["triton.kv_cache_free_gpu_mem_fraction"] == 0.9
    a["build.build_flags"] = "--model_version:v1_13b"
    assert a["build.build_flags"] == {"--model_version": "v1_13b"}
    del a["build.tp"]
    assert a["build.tp"] == 1  # back to the default


def test_flat_layout_from_version_hides_triton_step():
    a = tutorial_answers(**{"env.trtllm_version": "0.21.0rc1",
                            "destination.uri": "s3://lmi-llm/trtllm/qwen/"})
    assert a.layout == "flat"
    assert a["checkout.dir"] == "TensorRT-LLM"  # templates live in TensorRT-LLM from 0.20
    assert "triton" not in [s.key for s in S.steps_for(a)]
    assert S.lmi_model_id(a) == "s3://lmi-llm/trtllm/qwen/"
    a["env.lmi_layout"] = "triton"
    assert "triton" in [s.key for s in S.steps_for(a)]


@pytest.mark.parametrize("key,raw,msg", [
    ("build.tp", "two", "whole number"),
    ("build.tp", "0", "minimum"),
    ("build.dtype", "float61", "did you mean 'float16'"),
    ("build.context_fmha", "maybe", "true or false"),
    ("triton.kv_cache_free_gpu_mem_fraction", "1.5", "maximum"),
    ("build.build_flags", "novalue", "key:value"),
])
def test_bad_values_raise_one_clear_error(key, raw, msg):
    a = tutorial_answers()
    with pytest.raises(S.FieldError) as err:
        a[key] = raw
    assert msg in str(err.value) and isinstance(err.value, WizardError)
    assert S.validate_field(key, raw, a) and msg in S.validate_field(key, raw, a)


def test_lmi_without_trtllm_image_needs_the_layout_named():
    a = tutorial_answers()
    msg = S.validate_field("env.lmi_version", "0.35.0", a)
    assert "published no TensorRT-LLM image" in msg and "LMI artifact layout = flat" in msg
    assert S.validate_field("env.lmi_version", "0.33.0", a) is None
    a["env.lmi_layout"] = "flat"  # a self-built image: the user names its layout
    assert S.validate_field("env.lmi_version", "0.35.0", a) is None


def test_unknown_key_suggests():
    a = S.Answers()
    with pytest.raises(S.FieldError, match="did you mean 'build.tp'"):
        a["build.tpp"] = 2
    with pytest.raises(WizardError, match="did you mean"):
        S.step("buld")


def test_step_validation_errors_and_warnings(tmp_path):
    a = tutorial_answers(**{"build.tp": 3})
    a.ctx.set_model_config(S.model_ref(a), _baichuan_config())
    probs = S.validate_step("build", a)
    assert any(p.key == "build.tp" and "does not divide the 40 attention heads" in p.message and p.blocking
               for p in probs)
    a["build.tp"] = 4
    probs = S.validate_step("build", a)
    assert [p for p in probs if p.key == "build.tp" and p.severity == "warning" and "2 visible GPU" in p.message]
    assert not [p for p in probs if p.blocking]
    # Triton layout refuses a destination one folder deep (the two-folder rule), before anything runs
    a["destination.uri"] = "s3://lmi-llm/baichuan/"
    probs = S.validate_step("destination", a)
    assert any(p.key == "destination.uri" and p.blocking and "two folders" in p.text() for p in probs)
    assert S.lmi_model_id(a) is None
    # a local model folder must exist and hold config.json
    a["model.source"] = str(tmp_path / "nope")
    assert "does not exist" in S.validate_field("model.source", a["model.source"], a)
    (tmp_path / "m").mkdir()
    assert "no config.json" in S.validate_field("model.source", str(tmp_path / "m"), a)
    (tmp_path / "m" / "config.json").write_text("{}")
    assert S.validate_field("model.source", str(tmp_path / "m"), a) is None
    assert "neither a Hugging Face repo id" in S.validate_field("model.source", "not an id", a)
    # a tokenizer folder needs tokenizer files, not config.json
    (tmp_path / "tok").mkdir()
    assert "holds no tokenizer" in S.validate_field("tokenizer.source", str(tmp_path / "tok"), a)
    (tmp_path / "tok" / "tokenizer.model").write_bytes(b"x")
    assert S.validate_field("tokenizer.source", str(tmp_path / "tok"), a) is None


def test_build_checks_come_from_core_flags_and_models(tmp_path):
    a = tutorial_answers()
    a.ctx.set("gpu_arch", "sm75")
    probs = S.validate_step("build", a)
    assert any(p.key == "build.context_fmha" and "sm80" in p.message and not p.blocking for p in probs)
    a["build.context_fmha"] = False
    assert not any(p.key == "build.context_fmha" for p in S.validate_step("build", a))
    # T4 (sm75) is unsupported from TensorRT-LLM 0.14: an error on the version
    a["env.trtllm_version"] = "0.16.0"
    assert any(p.key == "env.trtllm_version" and p.blocking and "sm75" in p.message
               for p in S.validate_step("build", a))
    # a local model folder's config.json: TP must divide the attention heads
    m = tmp_path / "model"
    m.mkdir()
    (m / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama", '
                                   '"num_attention_heads": 40, "num_key_value_heads": 40, "hidden_size": 5120, '
                                   '"num_hidden_layers": 40, "vocab_size": 32000}')
    b = tutorial_answers(**{"model.source": str(m), "build.tp": 16})
    assert "does not divide the 40 attention heads" in S.validate_field("build.tp", 16, b)
    assert S.validate_field("build.tp", 4, b) is None
    assert any(p.key == "build.tp" and p.blocking for p in S.validate_step("build", b))
    # the intent the renderer gets
    intent = S.build_intent(b, model_dir="m", output_dir="/o")
    assert (intent.tp_size, intent.dtype, intent.max_input_len, intent.output_dir) == (16, "float16", 2048, "/o")


def test_visibility_and_advanced():
    a = tutorial_answers()
    build = S.step("build")
    basic = [f.key for f in build.visible_fields(a, advanced=False)]
    assert "build.tp" in basic and "build.build_flags" not in basic and "build.engine_dir" not in basic
    a["build.method"] = "prebuilt"
    keys = [f.key for f in build.visible_fields(a)]
    assert "build.engine_dir" in keys and "build.context_fmha" not in keys
    assert any(p.key == "build.engine_dir" for p in S.validate_step(build, a))


def test_choices_static_and_dynamic(tmp_path):
    assert [c.value for c in S.field("build.dtype").options()] == ["float16", "bfloat16", "float32"]
    # asked before the checkout exists: nothing yet, and not remembered as nothing
    early = tutorial_answers(**{"checkout.work_dir": str(tmp_path)})
    assert S.field("model.example").options(early) == []
    # example folders come from the checkout on disk
    co = tmp_path / "tensorrtllm_backend" / "tensorrt_llm" / "examples"
    for name in ("baichuan", "llama"):
        (co / name).mkdir(parents=True)
        (co / name / "build.py").write_text("# builder\n")
    a = early
    del a["model.example"]
    names = [c.value for c in S.field("model.example").options(a)]
    assert "baichuan" in names and "llama" in names
    assert a["model.example"] == "baichuan"  # guessed from the model id
    msg = S.validate_field("model.example", "baichuam", a)
    assert msg and "did you mean 'baichuan'" in msg


def test_secrets_never_exported(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_SECRET_from_env")
    a = tutorial_answers()
    assert a.secret("tokenizer.hf_token") == "hf_SECRET_from_env"
    a["tokenizer.hf_token"] = "hf_TYPED_secret"
    assert a.secret("tokenizer.hf_token") == "hf_TYPED_secret"
    assert set(a.secret_values()) == {"hf_SECRET_from_env", "hf_TYPED_secret"}
    dumped = repr(a.to_sections()) + repr(a.explicit()) + repr(a.resolved(include_hidden=True)) + repr(a)
    assert "SECRET" not in dumped and "hf_TYPED" not in dumped
    assert S.field("tokenizer.hf_token").format("x") == "********"


def test_mapping_text_form_round_trips():
    m = {"gpu_device_ids": "0,1", "path": "/a:b", "x": "1"}
    assert S.parse_mapping(S.format_mapping(m)) == m
    assert S.parse_mapping("") == {}
    with pytest.raises(S.FieldError):
        S.parse_mapping(":x")


def test_copy_is_independent():
    a = tutorial_answers()
    b = a.copy()
    b["build.tp"] = 8
    assert a["build.tp"] == 2 and b.ctx is a.ctx


def test_control_characters_refused_in_every_text_kind():
    a = S.Answers()
    for key, value in (("checkout.work_dir", "a\nb"), ("model.source", "a/\rb"), ("destination.uri", "s3://b/x\x1b/"),
                       ("triton.substitutions", {"k": "v\nrm -rf ~"}), ("build.build_flags", {"--a\tb": "1"}),
                       ("tokenizer.extra_patterns", ["*.py", "x\ny"]), ("triton.substitutions", "k:v\nrm")):
        with pytest.raises(S.FieldError) as exc:
            a[key] = value
        assert "control character" in exc.value.message and "one line" in exc.value.fix
    a["destination.uri"] = "  s3://b/x/y/  "  # surrounding blanks are trimmed, not refused
    assert a["destination.uri"] == "s3://b/x/y/"


def test_local_sources_are_relative_to_the_work_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "models" / "m").mkdir(parents=True)
    (work / "models" / "m" / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    monkeypatch.chdir(tmp_path)  # ./models/m does not exist here, only in the work folder
    a = S.Answers({"checkout.work_dir": str(work), "model.source": "./models/m"}, ctx=S.Context(installed_trtllm=None))
    assert S.local_source(a, "./models/m") == work / "models" / "m"
    assert S.model_ref(a) == str(work / "models" / "m")
    assert S.validate_field("model.source", "./models/m", a) is None
    assert "does not exist" in S.validate_field("model.source", "./models/x", a)
    # a Hub id stays a Hub id, unless a folder of that name is in the work folder
    assert S.local_source(a, "org/name") is None and S.model_ref(S.Answers({"model.source": "org/name"})) == "org/name"
    (work / "org" / "name").mkdir(parents=True)
    assert S.local_source(a, "org/name") == work / "org" / "name"


@pytest.mark.parametrize("bad", ["0.12.0foo", "twelve", "0.12..0", "v0.12.0-custom", "0"])
def test_malformed_version_is_a_validation_message_not_an_exception(bad):
    ctx = S.Context(installed_trtllm="0.12.0", gpus=[], gpu_count=2, gpu_arch="sm80")
    a = S.Answers({"env.trtllm_version": bad, "model.source": "baichuan-inc/Baichuan-13B-Chat",
                   "model.example": "baichuan", "destination.uri": "s3://lmi-llm/trtllm/0.12.0/b/c/"}, ctx=ctx)
    msg = S.validate_field("env.trtllm_version", bad, a)
    assert msg and repr(bad) in msg and "not a version such as 0.12.0" in msg
    # every derived value and every check still answers (no traceback out of a recipe with a typo)
    probs = S.validate_all(a)
    assert any(p.key == "env.trtllm_version" and p.blocking and repr(bad) in p.message for p in probs)
    assert a.layout == "triton" and S.uses_backend_repo(a)
    assert [s.key for s in S.steps_for(a)][0] == "environment"


@pytest.mark.parametrize("good", ["0.12.0", "v0.12.0", " 0.12.0 ", "0.12", "0.21.0rc1", "0.17.0.post1",
                                  "0.12.0.dev2024080600", "1.2.0rc6.post2", "0.17.0+cu12"])
def test_pep440_versions_are_accepted(good):
    assert S.validate_field("env.trtllm_version", good, tutorial_answers()) is None


def test_lmi_version_accepts_djl_nightly_spelling():
    a = tutorial_answers()
    for good in ("0.30.0", "0.33.0-SNAPSHOT", "0.33.0~SNAPSHOT", "0.33"):
        assert S.validate_field("env.lmi_version", good, a) is None, good
    assert "not an LMI version" in S.validate_field("env.lmi_version", "latest", a)


def test_installed_version_comparison_uses_release_numbers():
    # the rule the run's environment step stops on (rules.installed_mismatch): numbers and pre-release — a dev
    # build or a local suffix is the same release, an rc is not the final release
    ctx = S.Context(installed_trtllm="0.12.0.dev2024080600+local", gpus=[], gpu_count=2, gpu_arch="sm80")
    a = S.Answers({"env.trtllm_version": "0.12.0"}, ctx=ctx)
    assert not [p for p in S.validate_step("environment", a) if "is installed" in p.message]
    ctx = S.Context(installed_trtllm="0.12.0rc1", gpus=[], gpu_count=2, gpu_arch="sm80")
    a = S.Answers({"env.trtllm_version": "0.12.0"}, ctx=ctx)
    assert [p for p in S.validate_step("environment", a) if "but 0.12.0rc1 is installed" in p.message and p.blocking]
    a["env.trtllm_version"] = "0.13.0"
    assert [p for p in S.validate_step("environment", a) if "but 0.12.0rc1 is installed" in p.message and p.blocking]
    # a hand-set tag decides where the templates live, also one with a suffix (its base release's numbers)
    a["env.tag"] = "v0.21.0"
    assert not S.uses_backend_repo(a)
    a["env.tag"] = "v0.13.0-custom"
    a["env.trtllm_version"] = "0.21.0"
    assert S.uses_backend_repo(a)
    a["env.tag"] = "v0.21.0-custom"
    a["env.trtllm_version"] = "0.19.0"
    assert not S.uses_backend_repo(a)


def test_triton_delete_params_is_a_list_of_parameter_keys_for_the_triton_layout_only():
    """``triton.delete_params``: parameters blocks deleted one by one (the placeholder review's Delete).
    Any key name is accepted (the config step reports one the template lacks); not a block Triton needs,
    not text that is no key; and like every [triton] answer it is not for the flat layout."""
    a = tutorial_answers()
    assert a["triton.delete_params"] == []
    a["triton.delete_params"] = "max_tokens_in_paged_kv_cache, some_future_key"
    assert a["triton.delete_params"] == ["max_tokens_in_paged_kv_cache", "some_future_key"]
    assert not [p for p in S.validate_step("triton", a) if p.key == "triton.delete_params"]
    assert S.step("triton").fields[[f.key for f in S.step("triton").fields].index("triton.delete_params")] \
        .format(a["triton.delete_params"]) == "max_tokens_in_paged_kv_cache,some_future_key"
    for bad, msg in (("gpt_model_path", "cannot be deleted"), ("engine_dir", "cannot be deleted"),
                     ("gpt_model_type", "cannot be deleted"), ("two words", "not a parameters key")):
        a["triton.delete_params"] = ["max_beam_width", bad]
        probs = [p for p in S.validate_step("triton", a) if p.key == "triton.delete_params"]
        assert probs and probs[0].blocking and msg in probs[0].message, (bad, probs)
    # the flat layout has no Triton step: the answer is not asked for, and not validated there
    flat = tutorial_answers(**{"env.trtllm_version": "0.21.0rc1", "triton.delete_params": ["gpt_model_path"]})
    assert flat.layout == "flat" and "triton" not in [s.key for s in S.steps_for(flat)]
    assert S.validate_step("triton", flat) == []


# the six inputs the three former predicates disagreed on (issue 10), and a few more of the Hub's rules
HF_IDS = ["gpt2", "org/_x", "org/-x", "a--b/c", "baichuan-inc/Baichuan-13B-Chat", "a/b/c", "org/x.", "org/x.git",
          "a..b/c", "o/" + "n" * 96, "o/" + "n" * 97, "café/x"]


@pytest.mark.parametrize("value", HF_IDS)
def test_one_hugging_face_id_rule_everywhere_as_huggingface_hub_says(value, tmp_path):
    """models.is_hf_id is THE rule (huggingface_hub's validate_repo_id is the oracle); the model loader's,
    the tokenizer fetch's and both source validators' answers are its answer."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from lmi_wizard.core import models, tokenizer

    try:
        validate_repo_id(value)
        hub_says = True
    except HFValidationError:
        hub_says = False
    assert models.is_hf_id(value) is hub_says
    assert models.looks_like_hf_id(value) is hub_says and tokenizer.looks_like_repo_id(value) is hub_says
    a = S.Answers({"checkout.work_dir": str(tmp_path)}, ctx=S.Context(installed_trtllm="0.12.0", gpus=[]))
    for key in ("model.source", "tokenizer.source"):
        found = S.check_field(key, value, a)
        assert (found is None) is hub_says, (key, found)
        if found is not None:
            assert found.code == "not-a-source" and found.fix and " — fix: " not in found.problem


def test_build_fields_render_the_build_verbs_options_and_parse_back():
    """Field.flag: the wizard's Build answers as command-line options (wizard.cli_argv) parse back to the same
    values through the options tui/cli/fields.py renders from the same fields — the build verb's parser."""
    import argparse

    from lmi_wizard.tui.cli import main as cli
    from lmi_wizard.tui.cli.commands import build as build_verb
    from lmi_wizard.tui.cli.fields import add_field_options, field_values

    a = tutorial_answers(**{"build.tp": 4, "build.pp": 2, "build.dtype": "bfloat16", "build.gemm_plugin": False,
                            "build.paged_kv_cache": False, "build.max_batch_size": 8, "build.max_output_len": 1024})
    argv = S.cli_argv(S.BUILD_FLAG_KEYS, a)
    assert argv[:4] == ["--dtype", "bfloat16", "--tp", "4"] and "--no-gemm-plugin" in argv
    p = argparse.ArgumentParser()
    add_field_options(p, S.BUILD_FLAG_KEYS)
    back = field_values(p.parse_args(argv), S.BUILD_FLAG_KEYS)
    assert back == {k: a[k] for k in S.BUILD_FLAG_KEYS}
    # not given: the field's own default (one default for wizard, recipe and verb) …
    assert field_values(p.parse_args([]), ["build.dtype", "build.tp", "build.context_fmha"]) == {
        "build.dtype": "float16", "build.tp": 1, "build.context_fmha": True}
    # … and a bad value is the field's own message
    with pytest.raises(SystemExit):
        p.parse_args(["--tp", "0"])
    # the build verb's parser is made of the same options (only what it leaves to the builder differs)
    verb = cli.build_parser(["build"])
    args = verb.parse_args(["build", "--example-dir", "x", *argv])
    assert {k: getattr(args, S.field(k).name) for k in S.BUILD_FLAG_KEYS} == back
    plain = verb.parse_args(["build", "--example-dir", "x"])
    for k in S.BUILD_FLAG_KEYS:
        want = build_verb.BUILDER_DEFAULTS.get(k, S.field(k).default)
        assert getattr(plain, S.field(k).name) == want, k
