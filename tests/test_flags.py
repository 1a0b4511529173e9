"""Flag discovery on the real builder sources, and the tutorial's intent rendered per version."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.build import BuildIntent, GpuFacts, ModelFacts, builder_kind, discover_flags, render_plan, validate_advanced, validate_intent
from stand_ins.layout import make_checkout

SRC = "trtllm-src"


def _all_builders(fixtures: Path) -> list[Path]:
    return sorted(p for p in (fixtures / SRC).rglob("*.py") if p.name != "plugin.py")


def _indexed_builders(fixtures: Path) -> set[str]:
    """Oracle independent of the folder walk: the builder files trtllm-src/INDEX.md's tables say each folder holds
    (``dir/repo-relative path``, plugin.py excluded), so adding a release folder updates the expectation."""
    import re

    out = set()
    for line in (fixtures / SRC / "INDEX.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`([^`/]+)`", cells[0]) if line.startswith("|") and len(cells) >= 4 else None
        if not m:
            continue
        for rel in re.findall(r"`((?:examples|tensorrt_llm)/[\w/.-]+\.py)`", cells[-1]):
            if not rel.endswith("plugin.py"):
                out.add(f"{m.group(1)}/{rel}")
    return out


def _cli_plugin_args(plugin_py: Path) -> list[str]:
    """Oracle: the plugin names plugin.py exposes on the command line (its own cli_plugin_args list)."""
    tree = ast.parse(plugin_py.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "cli_plugin_args":
            return ast.literal_eval(node.value)
    raise AssertionError("cli_plugin_args not found")


# ---------------------------------------------------------------- discovery on every fixture builder

def test_every_fixture_builder_is_discovered(fixtures_dir):
    builders = _all_builders(fixtures_dir)
    expected = _indexed_builders(fixtures_dir)
    assert len(expected) >= 6  # the INDEX was read (6 builders before the per-release folders)
    assert {p.relative_to(fixtures_dir / SRC).as_posix() for p in builders} == expected
    for path in builders:
        found = discover_flags(path)
        names = found.names
        # at least one flag per add_argument call written in the file (plugin.py's generated ones come on top)
        assert len(names) >= path.read_text().count("add_argument(") >= 17, (path, names)
        assert len(names) == len(set(names)), path
        assert all(n.startswith("--") for n in names), path
        # every literal option string in the file is found (oracle: a plain text scan of the source; the
        # smallest builder in the fixtures, baichuan's convert_checkpoint.py, has 17)
        text = path.read_text()
        literals = set(__import__("re").findall(r"add_argument\(\s*['\"](--[\w-]+)['\"]", text))
        assert len(literals) >= 10, (path, literals)
        for lit in literals:
            assert found.get(lit) is not None, (path, lit)
        assert found.kind == builder_kind(path)


def test_legacy_build_py_05(fixtures_dir):
    f = discover_flags(fixtures_dir / SRC / "0.5.0~027cd518/examples/llama/build.py")
    assert f.kind == "legacy-build"
    g = f.get("--use_gemm_plugin")
    assert (g.action, g.nargs, g.const, g.default, g.choices) == ("store", "?", "float16", False,
                                                                  ["float16", "bfloat16", "float32"])
    for name in ("--enable_context_fmha", "--remove_input_padding", "--use_inflight_batching", "--paged_kv_cache",
                 "--parallel_build"):
        s = f.get(name)
        assert s.action == "store_true" and s.default is False, name
    assert f.get("--max_output_len").default == 512 and f.get("--max_output_len").type == "int"
    assert f.get("--embedding_sharding_dim").choices == [0, 1]
    assert f.get("--world_size").type == "int"
    assert f.notes == []


def test_trtllm_build_08_without_plugin_source_says_so(fixtures_dir):
    f = discover_flags(fixtures_dir / SRC / "0.8.0/tensorrt_llm/commands/build.py")
    assert f.kind == "trtllm-build"
    assert f.get("--context_fmha") is None and f.get("--gemm_plugin") is None
    assert any("add_plugin_argument" in n and "not in this checkout" in n for n in f.notes)
    emb = f.get("--max_prompt_embedding_table_size")
    assert emb.aliases == ["--max_multimodal_len"] and f.get("--max_multimodal_len") is emb
    assert f.has("--max_output_len") and not f.has("--max_seq_len")
    assert f.get("--workers").default == "1"  # the source really says default='1'


def test_trtllm_build_011_follows_plugin_loop(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "0.11")
    f = discover_flags(tmp_path / "tensorrt_llm/commands/build.py")
    assert f.notes == []
    expected = {"--" + n for n in _cli_plugin_args(tmp_path / "tensorrt_llm/plugin/plugin.py")}
    generated = {s.name for s in f.flags if s.generated}
    assert generated == expected and len(expected) == 23
    cf = f.get("--context_fmha")
    assert (cf.choices, cf.default, cf.type, cf.group) == (["enable", "disable"], "enable", "str", "plugin_config")
    gp = f.get("--gemm_plugin")
    assert gp.choices == ["auto", "float16", "float32", "bfloat16", "int32", "disable"] and gp.default == "disable"
    assert f.get("--gpt_attention_plugin").default == "auto"
    assert f.get("--gemm_swiglu_plugin").choices == ["fp8", "disable"]
    assert f.get("--paged_kv_cache").default == "enable"
    tpb = f.get("--tokens_per_block")
    assert (tpb.type, tpb.default, tpb.choices) == ("int", 64, None)
    lt = f.get("--lora_target_modules")
    assert lt.choices is None and lt.choices_source == "LoraManager.LORA_MODULE_IDS.keys()" and lt.nargs == "+"
    assert f.get("--cluster_key").choices_source == "cluster_infos.keys()"
    # and the converter of that checkout
    c = discover_flags(ex / "convert_checkpoint.py")
    assert c.kind == "convert" and c.get("--tp_size").default == 1 and c.get("--dtype").default == "float16"
    assert c.get("--smoothquant").aliases == ["-sq"]
    assert c.get("--moe_tp_mode").default_source == "MoeConfig.ParallelismMode.TENSOR_PARALLEL"


def test_trtllm_build_main_pydantic_plugin_config(fixtures_dir, tmp_path):
    make_checkout(fixtures_dir, tmp_path, "main")
    f = discover_flags(tmp_path / "tensorrt_llm/commands/build.py")
    assert f.notes == []
    expected = {"--" + n for n in _cli_plugin_args(tmp_path / "tensorrt_llm/plugin/plugin.py")}
    assert {s.name for s in f.flags if s.generated} == expected
    gp = f.get("--gemm_plugin")
    assert "nvfp4" in gp.choices and "disable" in gp.choices and gp.default is None  # gemm_plugin: no "disable" default
    assert f.get("--context_fmha").default == "enable"
    assert f.get("--bert_context_fmha_fp32_acc").default == "disable"
    assert f.get("--gpt_attention_plugin").choices == ["auto", "float16", "float32", "bfloat16", "int32", "disable"]
    assert f.get("--tokens_per_block").default == 32 and f.get("--tokens_per_block").type == "int"
    assert f.get("--context_fmha").help.startswith("Enable the fused multi-head attention")
    assert f.get("--context_fmha").group == "Plugin config arguments"
    ms = f.get("--max_seq_len")
    assert ms.aliases == ["--max_decoder_seq_len"] and ms.default_source == "BuildConfig.max_seq_len"
    assert ms.dest == "max_seq_len"
    assert not f.has("--max_output_len") and not f.has("--use_inflight_batching")
    kv = f.get("--kv_cache_type")
    assert kv.type == "enum_type(KVCacheType)" and kv.default_source == "argparse.SUPPRESS"
    assert f.get("--logits_dtype").group == "Logits arguments"
    assert f.get("--log_level").choices_source == "severity_map.keys()"
    assert f.get("--strip_plan").action == "store_true" and f.get("--strip_plan").default_source == "BuildConfig.use_strip_plan"


def test_real_world_forms(tmp_path):
    src = tmp_path / "build.py"
    src.write_text(textwrap.dedent('''
        import argparse
        from x import BuildConfig, str2bool
        DTYPES = ["float16", "bfloat16"]
        LEVELS = {"info": 1, "debug": 2}

        def add_common(p):
            p.add_argument("--dtype", choices=DTYPES, default=DTYPES[0])
            p.add_argument("--log_level", choices=LEVELS.keys(), default="info")

        def main():
            ap = argparse.ArgumentParser()
            add_common(ap)
            q = ap.add_argument_group("quantization")
            q.add_argument("--int8_kv_cache", action="store_true", help="int8 " "kv")
            mx = ap.add_mutually_exclusive_group()
            mx.add_argument("--fast", action="store_false", dest="slow")
            ap.add_argument("-w", "--workers", type=int, default=BuildConfig.workers)
            ap.add_argument("--enable_x", type=str2bool, default=False)
            ap.add_argument("--shape", nargs=2, type=float, default=[1.0, 2.0])
            ap.add_argument("--factor", default=get_default())
            for name in ("a", "b"):
                ap.add_argument("--opt_" + name, type=int, default=len(name))
            return ap.parse_args()
    '''))
    f = discover_flags(src)
    assert f.get("--dtype").choices == ["float16", "bfloat16"] and f.get("--dtype").default_source == "DTYPES[0]"
    assert f.get("--log_level").choices == ["info", "debug"]
    i8 = f.get("--int8_kv_cache")
    assert (i8.action, i8.default, i8.group, i8.help) == ("store_true", False, "quantization", "int8 kv")
    fast = f.get("--fast")
    assert (fast.action, fast.default, fast.dest, fast.group) == ("store_false", True, "slow", "mutually exclusive")
    w = f.get("--workers")
    assert w.aliases == ["-w"] and w.default_source == "BuildConfig.workers" and f.get("-w") is w
    assert f.get("--enable_x").type == "str2bool"
    assert f.get("--shape").nargs == 2 and f.get("--shape").default == [1.0, 2.0]
    assert f.get("--factor").default_source == "get_default()"
    assert f.get("--opt_a").default == 1 and f.get("--opt_b").generated  # loop in a local function, expanded


def test_discovery_bad_inputs(tmp_path):
    with pytest.raises(WizardError, match="not found"):
        discover_flags(tmp_path / "nope.py")
    bad = tmp_path / "build.py"
    bad.write_text("def broken(:\n")
    with pytest.raises(WizardError, match="cannot parse"):
        discover_flags(bad)
    with pytest.raises(WizardError, match="folder"):
        discover_flags(tmp_path)


# ---------------------------------------------------------------- the tutorial's intent per version

TUTORIAL = dict(model_dir="/models/Baichuan-13B-Chat", output_dir="trt_engines/fp16/2-gpu")


def _flag_tokens(argv):
    return [a for a in argv if a.startswith("--")]


def _assert_only_discovered(plan):
    for step in plan.steps:
        found = discover_flags(step.builder)
        for tok in _flag_tokens(step.argv):
            assert found.get(tok) is not None, (step.name, tok)


def test_tutorial_intent_legacy_05(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "0.5")
    plan = render_plan(ex, BuildIntent.tutorial(**TUTORIAL))
    assert plan.layout == "legacy" and len(plan.steps) == 1
    assert plan.steps[0].argv == [
        "python3", "build.py", "--model_dir", "/models/Baichuan-13B-Chat", "--dtype", "float16",
        "--use_gemm_plugin", "float16", "--use_gpt_attention_plugin", "float16", "--world_size", "2",
        "--tp_size", "2", "--pp_size", "1", "--output_dir", "trt_engines/fp16/2-gpu", "--use_inflight_batching",
        "--paged_kv_cache", "--enable_context_fmha", "--remove_input_padding", "--parallel_build",
        "--max_input_len", "2048", "--max_output_len", "512"]
    assert plan.dropped == [] and plan.translations == []
    assert plan.engine_dir == ex / "trt_engines/fp16/2-gpu"
    _assert_only_discovered(plan)


def test_tutorial_intent_08_plugin_flags_dropped_with_reason(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "0.8")
    plan = render_plan(ex, BuildIntent.tutorial(**TUTORIAL))
    conv, bld = plan.steps
    assert conv.argv == ["python3", "convert_checkpoint.py", "--model_dir", "/models/Baichuan-13B-Chat",
                         "--output_dir", "trt_engines/fp16/2-gpu_ckpt", "--dtype", "float16", "--tp_size", "2",
                         "--pp_size", "1", "--workers", "2"]
    assert bld.argv == ["trtllm-build", "--checkpoint_dir", "trt_engines/fp16/2-gpu_ckpt", "--output_dir",
                        "trt_engines/fp16/2-gpu", "--workers", "2", "--max_input_len", "2048",
                        "--max_output_len", "512"]
    dropped = {d.flag for d in plan.dropped}
    assert dropped == {"--gemm_plugin", "--gpt_attention_plugin", "--paged_kv_cache", "--context_fmha",
                       "--remove_input_padding"}
    assert all("add_plugin_argument" in d.reason for d in plan.dropped)
    assert "# dropped --context_fmha" in plan.preview()
    _assert_only_discovered(plan)


def test_tutorial_intent_011(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "0.11")
    plan = render_plan(ex, BuildIntent.tutorial(**TUTORIAL))
    conv, bld = plan.steps
    assert conv.argv[1:] == ["convert_checkpoint.py", "--model_dir", "/models/Baichuan-13B-Chat", "--output_dir",
                             "trt_engines/fp16/2-gpu_ckpt", "--dtype", "float16", "--tp_size", "2", "--pp_size", "1",
                             "--workers", "2"]
    assert bld.argv == ["trtllm-build", "--checkpoint_dir", "trt_engines/fp16/2-gpu_ckpt", "--output_dir",
                        "trt_engines/fp16/2-gpu", "--gemm_plugin", "auto", "--gpt_attention_plugin", "auto",
                        "--paged_kv_cache", "enable", "--context_fmha", "enable", "--remove_input_padding", "enable",
                        "--workers", "2", "--max_input_len", "2048", "--max_output_len", "512"]
    assert plan.dropped == []
    assert any("inflight batching → paged KV cache" in t for t in plan.translations)
    assert conv.cwd == ex and bld.cwd == ex
    _assert_only_discovered(plan)


def test_tutorial_intent_main(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "main")
    plan = render_plan(ex, BuildIntent.tutorial(**TUTORIAL))
    conv, bld = plan.steps
    assert conv.argv[2:] == ["--model_dir", "/models/Baichuan-13B-Chat", "--output_dir", "trt_engines/fp16/2-gpu_ckpt",
                             "--dtype", "float16", "--tp_size", "2", "--pp_size", "1", "--workers", "2"]
    assert bld.argv == ["trtllm-build", "--checkpoint_dir", "trt_engines/fp16/2-gpu_ckpt", "--output_dir",
                        "trt_engines/fp16/2-gpu", "--gemm_plugin", "auto", "--gpt_attention_plugin", "auto",
                        "--kv_cache_type", "paged", "--context_fmha", "enable", "--remove_input_padding", "enable",
                        "--workers", "2", "--max_input_len", "2048", "--max_seq_len", "2560"]
    assert "--max_output_len" not in bld.argv
    assert any("max output length 512 → --max_seq_len 2560" in t for t in plan.translations)
    assert plan.dropped == []
    assert bld.shell.startswith("trtllm-build --checkpoint_dir trt_engines/fp16/2-gpu_ckpt")
    _assert_only_discovered(plan)


def test_max_seq_len_intent_on_output_len_builder(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "0.11")
    plan = render_plan(ex, BuildIntent(model_dir="/m", max_input_len=1000, max_seq_len=1500))
    bld = plan.steps[1].argv
    assert bld[bld.index("--max_output_len") + 1] == "500"
    assert any("--max_output_len 500" in t for t in plan.translations)


def test_features_off_spellings(fixtures_dir, tmp_path):
    ex11 = make_checkout(fixtures_dir, tmp_path / "a", "0.11")
    plan = render_plan(ex11, BuildIntent(model_dir="/m", gemm_plugin=False, context_fmha=False,
                                         remove_input_padding=False, inflight_batching=False, parallel_build=False,
                                         tp_size=2))
    bld = plan.steps[1].argv
    for flag, val in (("--gemm_plugin", "disable"), ("--context_fmha", "disable"),
                      ("--remove_input_padding", "disable"), ("--paged_kv_cache", "disable")):
        assert bld[bld.index(flag) + 1] == val
    assert "--workers" not in bld and "--workers" not in plan.steps[0].argv
    ex05 = make_checkout(fixtures_dir, tmp_path / "b", "0.5")
    legacy = render_plan(ex05, BuildIntent(model_dir="/m", gemm_plugin=False, context_fmha=False,
                                           inflight_batching=False, remove_input_padding=False)).steps[0].argv
    for absent in ("--use_gemm_plugin", "--enable_context_fmha", "--use_inflight_batching", "--paged_kv_cache",
                   "--remove_input_padding"):
        assert absent not in legacy


def test_advanced_flags(fixtures_dir, tmp_path):
    ex = make_checkout(fixtures_dir, tmp_path, "main")
    intent = BuildIntent.tutorial(model_dir="/m", advanced={"--context_fmha": "disable", "multiple_profiles": "enable",
                                                            "--strip_plan": True, "--lora_dir": ["a", "b"]},
                                  advanced_convert={"--load_model_on_cpu": True})
    plan = render_plan(ex, intent)
    bld = plan.steps[1].argv
    assert bld.count("--context_fmha") == 1 and bld[bld.index("--context_fmha") + 1] == "disable"
    assert bld[bld.index("--multiple_profiles") + 1] == "enable"
    assert "--strip_plan" in bld and bld[bld.index("--lora_dir") + 1: bld.index("--lora_dir") + 3] == ["a", "b"]
    assert "--load_model_on_cpu" in plan.steps[0].argv
    flags = discover_flags(ex.parents[3] / "tensorrt_llm/commands/build.py")
    with pytest.raises(WizardError, match="not a valid value for --context_fmha"):
        validate_advanced(flags, "--context_fmha", "maybe")
    with pytest.raises(WizardError, match="has no flag --use_inflight_batching"):
        validate_advanced(flags, "use_inflight_batching", True)
    with pytest.raises(WizardError, match="expects an integer"):
        validate_advanced(flags, "--max_batch_size", "lots")
    with pytest.raises(WizardError, match="switch"):
        validate_advanced(flags, "--strip_plan", "yes please")
    with pytest.raises(WizardError, match="not a valid value"):
        render_plan(ex, BuildIntent(model_dir="/m", advanced={"--gemm_plugin": "float64"}))


def test_render_bad_inputs(fixtures_dir, tmp_path):
    with pytest.raises(WizardError, match="example folder not found"):
        render_plan(tmp_path / "nope", BuildIntent())
    (tmp_path / "empty").mkdir()
    with pytest.raises(WizardError, match="no builder"):
        render_plan(tmp_path / "empty", BuildIntent())
    ex = make_checkout(fixtures_dir, tmp_path / "c", "0.11")
    (tmp_path / "c/tensorrt_llm/commands/build.py").unlink()
    with pytest.raises(WizardError, match="trtllm-build's source"):
        render_plan(ex, BuildIntent())


# ---------------------------------------------------------------- validation

def _codes(findings, level=None):
    return {f.code for f in findings if level is None or f.level == level}


def test_tp_pp_world_and_gpu_count():
    assert "tp_pp_world" in _codes(validate_intent(BuildIntent(tp_size=2, pp_size=2, world_size=2)), "error")
    assert validate_intent(BuildIntent(tp_size=2, pp_size=2, world_size=4)) == []
    gpu = GpuFacts("NVIDIA A10G", 86, 24 * 2**30, 1)
    assert "world_gt_gpus" in _codes(validate_intent(BuildIntent(tp_size=2), gpu=gpu), "warning")
    assert "world_gt_gpus" in _codes(validate_intent(BuildIntent(tp_size=2), gpu=gpu, purpose="serve"), "error")


def test_context_fmha_off_before_sm80_and_t4(fixtures_dir, tmp_path):
    t4 = GpuFacts("Tesla T4", 75, 16 * 2**30, 4)
    assert "context_fmha_sm" in _codes(validate_intent(BuildIntent(), gpu=t4), "warning")
    ex = make_checkout(fixtures_dir, tmp_path, "0.11")
    plan = render_plan(ex, BuildIntent.tutorial(model_dir="/m"), gpu=t4, trtllm_version="0.11.0")
    bld = plan.steps[1].argv
    assert bld[bld.index("--context_fmha") + 1] == "disable"
    assert any("sm80" in t for t in plan.translations) and not plan.errors
    assert "sm75_unsupported" in _codes(validate_intent(BuildIntent(), gpu=t4, trtllm_version="0.14.0"), "error")
    assert "sm75_unsupported" not in _codes(validate_intent(BuildIntent(), gpu=t4, trtllm_version="0.13.0"))
    a100 = GpuFacts.from_capability("NVIDIA A100", (8, 0), 80 * 2**30, 8)
    assert a100.sm == 80 and "context_fmha_sm" not in _codes(validate_intent(BuildIntent(), gpu=a100))


LLAMA2_7B = {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 11008,
             "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 32000}
LLAMA2_70B = {"hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64, "num_hidden_layers": 80,
              "num_key_value_heads": 8, "vocab_size": 32000}


def test_parameter_estimate_matches_known_sizes():
    assert abs(ModelFacts.from_config(LLAMA2_7B).estimated_parameters() / 6.74e9 - 1) < 0.03
    assert abs(ModelFacts.from_config(LLAMA2_70B).estimated_parameters() / 68.98e9 - 1) < 0.03


def test_memory_estimate():
    h100 = GpuFacts("NVIDIA H100", 90, 80 * 2**30, 8)
    big = validate_intent(BuildIntent(tp_size=1), gpu=h100, model=LLAMA2_70B)
    err = next(f for f in big if f.code == "weights_memory")
    assert err.level == "error" and "per GPU" in err.message
    ok = validate_intent(BuildIntent(tp_size=8), gpu=h100, model=LLAMA2_70B)
    assert next(f for f in ok if f.code == "weights_memory").level == "info"
    a10g = GpuFacts("NVIDIA A10G", 86, 24 * 2**30, 4)
    tight = validate_intent(BuildIntent(tp_size=1, max_batch_size=64, max_input_len=2048, max_output_len=2048),
                            gpu=a10g, model=LLAMA2_7B)
    w = next(f for f in tight if f.code == "weights_memory")
    assert w.level == "warning" and "KV cache" in w.message


def test_tp_vs_model_heads():
    model = {"num_attention_heads": 40, "num_key_value_heads": 40, "num_hidden_layers": 40}
    assert "tp_heads" in _codes(validate_intent(BuildIntent(tp_size=3), model=model), "error")
    assert _codes(validate_intent(BuildIntent(tp_size=4), model=model), "error") == set()
    gqa = {"num_attention_heads": 48, "num_key_value_heads": 6}
    assert "tp_kv_heads" in _codes(validate_intent(BuildIntent(tp_size=4), model=gqa), "error")
    assert "tp_kv_heads" not in _codes(validate_intent(BuildIntent(tp_size=2), model=gqa))
    assert "tp_kv_heads" not in _codes(validate_intent(BuildIntent(tp_size=16), model={"num_attention_heads": 64,
                                                                                        "num_key_value_heads": 8}))


# ---------------------------------------------------------------- CLI

def test_cli_flags_json(fixtures_dir, capsys):
    rc = cli.main(["flags", str(fixtures_dir / SRC / "0.5.0~027cd518/examples/llama/build.py"), "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert all(set(d) >= {"name", "action", "type", "default", "choices", "help"} for d in data)
    by = {d["name"]: d for d in data}
    assert by["--enable_context_fmha"]["action"] == "store_true"
    assert by["--dtype"]["choices"] == ["float32", "bfloat16", "float16"]


def test_cli_flags_text_and_notes(fixtures_dir, capsys):
    assert cli.main(["flags", str(fixtures_dir / SRC / "0.8.0/tensorrt_llm/commands/build.py")]) == 0
    out, err = capsys.readouterr()
    assert "--max_output_len" in out and "trtllm-build" in out
    assert "add_plugin_argument" in err
    assert cli.main(["flags", "/no/such/build.py"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "builder script not found" in err


def test_cli_build_dry_run(fixtures_dir, tmp_path, capsys):
    ex = make_checkout(fixtures_dir, tmp_path, "main")
    args = ["build", "--example-dir", str(ex), "--model-dir", "/m", "--tp", "2", "--max-input-len", "2048",
            "--max-output-len", "512", "--dry-run"]
    assert cli.main(args + ["--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in plan["steps"]] == ["convert", "trtllm-build"]
    assert "--max_seq_len" in plan["steps"][1]["argv"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "trtllm-build \\\n    --checkpoint_dir trt_engines_ckpt" in out
    assert list(ex.iterdir()) == [ex / "convert_checkpoint.py"]  # nothing ran, nothing written
    # bad inputs: one line each, before anything runs
    for extra, msg in ((["--set", "context_fmha=maybe"], "not a valid value for --context_fmha"),
                       (["--world-size", "4"], "TP × PP"),
                       (["--set=--no_such_flag=1"], "has no flag --no_such_flag")):
        assert cli.main(args + extra) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    assert cli.main(["build", "--example-dir", str(tmp_path / "nope"), "--dry-run"]) == 2
    assert "example folder not found" in capsys.readouterr().err


def test_cli_build_tp_larger_than_model_allows(fixtures_dir, tmp_path, capsys):
    ex = make_checkout(fixtures_dir, tmp_path, "0.11")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["BaichuanForCausalLM"], "model_type": "baichuan",
                                                   "num_attention_heads": 40, "num_key_value_heads": 40}))
    assert cli.main(["build", "--example-dir", str(ex), "--model-dir", str(model), "--tp", "3", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "TP 3 does not divide the 40 attention heads of the model; possible: 1, 2, 4, 5, 8" in err


def test_cli_build_bad_inputs_one_line_each(fixtures_dir, tmp_path, capsys, monkeypatch):
    ex = make_checkout(fixtures_dir, tmp_path / "co", "main")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notjson").mkdir()
    (tmp_path / "notjson" / "config.json").write_text("{")
    base = ["build", "--example-dir", str(ex), "--dry-run"]
    for extra, msg in (
            (["--set", "=3"], "names no flag"), (["--set", ""], "names no flag"),
            (["--set", "no_such=1"], "trtllm-build has no flag --no_such"),  # not "build.py"
            (["--tp", "99999999999999999999"], "not a realistic number of GPUs"),
            (["--output-dir", ""], "--output-dir is empty"), (["--python", " "], "--python is empty"),
            (["--trtllm-build", ""], "--trtllm-build is empty"),
            (["--trtllm-build", "a 'b"], "is not a command line"),
            (["--trtllm-version", "garbage"], "--trtllm-version 'garbage' is not a version"),
            (["--timeout", "-1"], "--timeout must be a positive"), (["--timeout", "nan"], "--timeout must be a positive"),
            (["--model-dir", "notjson"], "not valid JSON"),
            (["--aot", "zero", "--properties-dir", "."], "--aot 'zero' is not a version")):
        assert cli.main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err, (extra, err)
    assert cli.main(["build", "--example-dir", str(ex / "convert_checkpoint.py"), "--dry-run"]) == 2
    assert "is a file, not an example folder" in capsys.readouterr().err
    # a model folder that does not exist: warning in a dry run, error before anything runs otherwise
    assert cli.main(base + ["--model-dir", "./missing"]) == 0
    assert "# warning: model folder not found: ./missing" in capsys.readouterr().out
    for missing in ("./missing", "not a model!"):
        assert cli.main(base[:-1] + ["--model-dir", missing]) == 2
        assert "model folder not found" in capsys.readouterr().err and list(ex.iterdir()) == [ex / "convert_checkpoint.py"]


def test_cli_build_relative_model_dir_is_made_absolute(fixtures_dir, tmp_path, capsys, monkeypatch):
    """The builders run in the example folder: a model folder relative to where the person typed must not
    be passed on relative (convert_checkpoint.py would look for it inside the example folder)."""
    ex = make_checkout(fixtures_dir, tmp_path / "co", "0.11")
    (tmp_path / "my model").mkdir()
    (tmp_path / "my model" / "config.json").write_text(json.dumps(LLAMA2_7B))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build", "--example-dir", str(ex), "--model-dir", "my model", "--dry-run", "--json"]) == 0
    conv = json.loads(capsys.readouterr().out)["steps"][0]["argv"]
    assert conv[conv.index("--model_dir") + 1] == str(tmp_path / "my model")
    assert cli.main(["build", "--example-dir", str(ex), "--model-dir", "my model/config.json", "--dry-run", "--json"]) == 0
    conv = json.loads(capsys.readouterr().out)["steps"][0]["argv"]
    assert conv[conv.index("--model_dir") + 1] == str(tmp_path / "my model")  # the folder, not its config.json
    assert cli.main(["build", "--example-dir", str(ex), "--model-dir", "my model", "--python", "venv/bin/python",
                     "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"][0]["argv"][0] == str(tmp_path / "venv/bin/python")
    assert cli.main(["build", "--example-dir", str(ex), "--model-dir", "org/name", "--dry-run"]) == 0
    assert "passed on as a Hugging Face id" in capsys.readouterr().out
    assert cli.main(["build", "--example-dir", str(ex), "--model-dir", "./gone", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [
        "model folder not found: ./gone — fix: give the folder with the Hugging Face model files (config.json and "
        "the weights), or a Hugging Face id (org/name)"]


def test_cli_build_flat_target_refuses_legacy_builder(fixtures_dir, tmp_path, capsys):
    ex = make_checkout(fixtures_dir, tmp_path, "0.5")
    # flags that would be silently ignored are refused instead
    for extra, msg in ((["--set-convert", "load_by_shard"], "builds in one step with the legacy build.py"),
                       (["--aot", "0.30.0", "--properties-dir", str(tmp_path), "--set", "x=1"], "do not apply to --aot")):
        assert cli.main(["build", "--example-dir", str(ex), "--dry-run", *extra]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    assert cli.main(["build", "--example-dir", str(ex), "--layout", "flat", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "legacy build.py" in err and "LMI 0.33" in err and err.count("\n") == 1
    assert cli.main(["build", "--example-dir", str(ex), "--layout", "triton", "--dry-run"]) == 0


def test_binary_file_is_one_line(tmp_path):
    f = tmp_path / "build.py"
    f.write_bytes(b"\x7fELF\x00\x01\x02 binary")
    with pytest.raises(WizardError) as ei:
        discover_flags(f)
    assert ei.value.problem.startswith(f"cannot parse {f}: ") and "line None" not in ei.value.problem


def test_discovery_of_a_file_without_flags_says_so(tmp_path, capsys):
    f = tmp_path / "empty.py"
    f.write_text("import argparse\n")
    assert any("no argparse flags found" in n for n in discover_flags(f).notes)
    assert cli.main(["flags", ""]) == 2
    assert "no builder script given" in capsys.readouterr().err


def test_model_facts_from_the_models_helper(tmp_path):
    from lmi_wizard.core.models import ModelConfig

    (tmp_path / "config.json").write_text(json.dumps(LLAMA2_70B))
    mc = ModelConfig(str(tmp_path), "local", tmp_path / "config.json", dict(LLAMA2_70B))
    facts = ModelFacts.coerce(mc)
    assert facts.num_attention_heads == 64 and facts.num_key_value_heads == 8
    assert facts.num_parameters == mc.estimate_parameters()
    h100 = GpuFacts("NVIDIA H100", 90, 80 * 2**30, 8)
    assert "weights_memory" in _codes(validate_intent(BuildIntent(tp_size=1), gpu=h100, model=mc), "error")
    assert "tp_heads" in _codes(validate_intent(BuildIntent(tp_size=3, world_size=3), model=mc), "error")


def test_backend_layout_and_checkout_version(fixtures_dir, tmp_path):
    """tensorrtllm_backend/tensorrt_llm/examples/llama (the tutorial's layout) finds trtllm-build's source and
    the version in tensorrt_llm/version.py (written here the way the real file spells it)."""
    root = tmp_path / "tensorrtllm_backend" / "tensorrt_llm"
    ex = make_checkout(fixtures_dir, root, "0.11")
    (root / "tensorrt_llm" / "version.py").write_text("__version__ = \"0.14.0\"\n")
    plan = render_plan(ex, BuildIntent.tutorial(model_dir="/m"), gpu=GpuFacts("Tesla T4", 75, 16 * 2**30, 2))
    assert plan.trtllm_version == "0.14.0"
    assert plan.steps[1].builder == (root / "tensorrt_llm/commands/build.py").resolve()
    assert "sm75_unsupported" in {f.code for f in plan.errors}


def test_cache_follows_helper_changes(fixtures_dir, tmp_path):
    make_checkout(fixtures_dir, tmp_path, "0.11")
    build = tmp_path / "tensorrt_llm/commands/build.py"
    first = discover_flags(build)
    assert discover_flags(build) is first  # cached
    assert (tmp_path / "tensorrt_llm/plugin/plugin.py").resolve() in [q.resolve() for q in first.sources]
    plugin = tmp_path / "tensorrt_llm/plugin/plugin.py"
    plugin.write_text(plugin.read_text().replace('    "streamingllm",\n]', '    "streamingllm",\n    "paged_state_x",\n]')
                      .replace("    _streamingllm: bool = field(default=False, init=False)",
                               "    _streamingllm: bool = field(default=False, init=False)\n"
                               "    _paged_state_x: bool = field(default=True, init=False)"))
    again = discover_flags(build)
    assert again is not first and again.get("--paged_state_x").default == "enable"


def test_the_lmi_dtype_map_covers_every_build_dtype():
    from lmi_wizard.core.build import DTYPES, LMI_DTYPE

    assert set(LMI_DTYPE) == set(DTYPES) and LMI_DTYPE["bfloat16"] == "bf16"


# ---------------------------------------------------------------- extra flags: which builder gets each one

def _lay(fixtures_dir, tmp_path, lmi):
    from stand_ins.layout import release_files

    files, _ = release_files(fixtures_dir, lmi)
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_model_version_goes_to_the_builder_that_defines_it_per_era(fixtures_dir, tmp_path):
    """The tutorial's --model_version v1_13b: build.py's flag ≤ 0.7, convert_checkpoint.py's from 0.8; written
    under either table it lands where this checkout's builder defines it, with a warning saying so."""
    from lmi_wizard.core.build import example_builders, place_flags

    new = _lay(fixtures_dir, tmp_path / "012", "0.30") / "examples" / "baichuan"
    conv, bld = example_builders(new)
    placed = place_flags({}, {"--model_version": "v1_13b"}, conv, bld)
    assert (placed.convert, placed.build) == ({"--model_version": "v1_13b"}, {})
    [f] = placed.findings
    assert (f.severity, f.code, f.key) == ("warning", "flag-moved", "build.build_flags")
    assert "trtllm-build has no --model_version; convert_checkpoint.py defines it" in f.problem
    plan = render_plan(new, BuildIntent.tutorial(model_dir="/m", advanced={"--model_version": "v1_13b"}))
    convert, build = plan.steps[0].argv, plan.steps[1].argv
    assert convert[convert.index("--model_version") + 1] == "v1_13b" and "--model_version" not in build
    assert "flag-moved" in {f.code for f in plan.findings}

    old = _lay(fixtures_dir, tmp_path / "071", "0.26") / "examples" / "baichuan"
    conv, bld = example_builders(old)
    assert conv is None
    placed = place_flags({"--model_version": "v1_13b"}, {}, conv, bld)
    assert (placed.convert, placed.build) == ({}, {"--model_version": "v1_13b"})
    assert [f.code for f in placed.findings] == ["flag-moved"] and "one step with build.py" in placed.findings[0].problem
    # written where it belongs: no warning
    assert place_flags({}, {"--model_version": "v1_13b"}, conv, bld).findings == []


def test_flags_neither_builder_defines_or_bad_values_are_refused(fixtures_dir, tmp_path):
    from lmi_wizard.core.build import example_builders, place_flags

    ex = _lay(fixtures_dir, tmp_path, "0.30") / "examples" / "baichuan"
    conv, bld = example_builders(ex)
    placed = place_flags({"--no_such_flag": "1"}, {"--model_version": "v9"}, conv, bld)
    assert [(f.code, f.key) for f in placed.errors] == [("unknown-flag", "build.convert_flags"),
                                                        ("bad-flag-value", "build.build_flags")]
    assert "convert_checkpoint.py has no flag --no_such_flag, nor has trtllm-build" in placed.errors[0].problem
    assert "choose one of: v1_7b, v1_13b, v2_7b, v2_13b" in placed.errors[1].fix
    # a flag both define stays where it was written (--workers is in both at 0.12)
    assert conv.has("--workers") and bld.has("--workers")
    kept = place_flags({}, {"--workers": "4"}, conv, bld)
    assert (kept.build, kept.convert, kept.findings) == ({"--workers": "4"}, {}, [])
    with pytest.raises(WizardError, match="has no flag --no_such_flag"):
        render_plan(ex, BuildIntent.tutorial(model_dir="/m", advanced_convert={"--no_such_flag": "1"}))


def test_the_wizard_refuses_on_the_build_screen_what_run_would_refuse(fixtures_dir, tmp_path):
    """The same rule as plan/run, beside the field (screen, --plain and recipes all validate through it)."""
    from lmi_wizard.core import wizard as S

    work = tmp_path / "work"
    _lay(fixtures_dir, work / "TensorRT-LLM", "0.30")
    a = S.Answers(ctx=S.Context(installed_trtllm=None, gpus=[]))
    for k, v in {"checkout.work_dir": str(work), "checkout.dir": "TensorRT-LLM", "env.trtllm_version": "0.12.0",
                 "model.source": "baichuan-inc/Baichuan-13B-Chat", "model.example": "baichuan",
                 "build.build_flags": {"--model_version": "v1_13b"}, "build.convert_flags": {"--nope": True}}.items():
        a[k] = v
    found = [(f.severity, f.code, f.key) for f in S.validate_step(S.step("build"), a, advanced=True)
             if f.code in ("flag-moved", "unknown-flag")]
    assert sorted(found) == [("error", "unknown-flag", "build.convert_flags"), ("warning", "flag-moved", "build.build_flags")]
