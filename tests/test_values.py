"""Values the TensorRT-LLM backend rejects or ignores (core.triton.values), on the real upstream templates."""

from __future__ import annotations

import json
import re

import pytest

from lmi_wizard.core import triton
from lmi_wizard.core.triton import values

from upstream import show

BACKEND = "triton-inference-server/tensorrtllm_backend"
TUTORIAL = ("triton_max_batch_size:64,max_queue_delay_microseconds:100,max_beam_width:1,decoupled_mode:True,"
            "engine_dir:/tmp,max_tokens_in_paged_kv_cache:2560,max_attention_window_size:2560,"
            "kv_cache_free_gpu_mem_fraction:0.95,exclude_input_in_output:True,enable_kv_cache_reuse:False,"
            "batching_strategy:inflight_fused_batching,triton_backend:tensorrtllm,max_num_sequences:64,"
            "enable_trt_overlap:False,batch_scheduler_policy:{policy}")


def _filled(fixtures_dir, tag: str, **over) -> list:
    text = (fixtures_dir / "pbtxt" / tag / "tensorrt_llm" / "config.pbtxt").read_text()
    subst = TUTORIAL.format(policy=over.pop("policy", "max_utilization"))
    for k, v in over.items():
        subst = re.sub(rf"{k}:[^,]*", f"{k}:{v}", subst)
    live = triton.placeholder_names(text)[0]  # the tutorial's keys this template has
    subst = ",".join(kv for kv in subst.split(",") if kv.split(":")[0] in live)
    filled = triton.fill_text(text, subst, tag=tag).text
    return triton.parameter_blocks(filled)


def _codes(fs) -> list[str]:
    return [f.code for f in fs]


@pytest.mark.parametrize("tag", ["v0.9.0", "v0.19.0"])
def test_tutorial_values_pass_on_the_real_template(fixtures_dir, tag):
    assert values.value_findings(_filled(fixtures_dir, tag), tag) == []


@pytest.mark.parametrize("tag", ["v0.9.0", "v0.19.0"])
def test_guaranteed_completion_is_blocking_with_the_accepted_values(fixtures_dir, tag):
    fs = values.value_findings(_filled(fixtures_dir, tag, policy="guaranteed_completion"), tag)
    assert _codes(fs) == ["bad-scheduler-policy"] and fs[0].blocking
    assert "guaranteed_no_evict instead" in fs[0].problem and "0.5.0" in fs[0].problem
    assert fs[0].fix == "use max_utilization or guaranteed_no_evict" and fs[0].key == "batch_scheduler_policy"


def test_kv_fraction_one_is_refused_from_the_executor_era_only(fixtures_dir):
    # v0.10.0+ builds executor::KvCacheConfig (0 < f < 1); v0.9.0 still used batch_manager's, unchecked
    assert _codes(values.value_findings(_filled(fixtures_dir, "v0.19.0", kv_cache_free_gpu_mem_fraction="1.0"),
                                        "v0.19.0")) == ["bad-kv-fraction"]
    assert values.value_findings(_filled(fixtures_dir, "v0.9.0", kv_cache_free_gpu_mem_fraction="1.0"), "v0.9.0") == []
    for tag in ("v0.9.0", "v0.19.0"):
        for bad in ("0", "-0.1", "1.5", "nan", "lots"):
            fs = values.value_findings({"kv_cache_free_gpu_mem_fraction": bad}, tag)
            assert _codes(fs) == ["bad-kv-fraction"], (tag, bad)
    # the same function reads [triton] substitutions (a mapping) as well as pbtxt blocks
    assert values.value_findings({"kv_cache_free_gpu_mem_fraction": "0.9"}, None) == []


def test_kv_tokens_against_the_engine_sequence(tmp_path, fixtures_dir):
    blocks = _filled(fixtures_dir, "v0.19.0")  # max_tokens_in_paged_kv_cache 2560
    new = {"build_config": {"max_seq_len": 4096, "max_beam_width": 1}, "pretrained_config": {}}
    (tmp_path / "config.json").write_text(json.dumps(new))
    fs = values.value_findings(blocks, "v0.19.0", engine_config=tmp_path)
    assert _codes(fs) == ["kv-tokens-below-sequence"] and "at least 4096" in fs[0].fix
    ok = {"build_config": {"max_seq_len": 2048, "max_beam_width": 1}}
    assert values.value_findings(blocks, "v0.19.0", engine_config=ok) == []
    beam = {"build_config": {"max_seq_len": 2048, "max_beam_width": 2}}  # 4096 > 2560
    assert "× max_beam_width 2" in values.value_findings(blocks, "v0.19.0", engine_config=beam)[0].problem
    # the legacy build.py engine (the tutorial's baichuan, TensorRT-LLM 0.5-0.7): input + output
    legacy = {"builder_config": {"max_input_len": 2048, "max_output_len": 1024, "max_beam_width": 1}}
    assert values.engine_limits(legacy) == (3072, 1)
    assert _codes(values.value_findings(blocks, "v0.5.0", engine_config=legacy)) == ["kv-tokens-below-sequence"]
    # 0.8/0.9 trtllm-build: build_config without max_seq_len
    assert values.engine_limits({"build_config": {"max_input_len": 1024, "max_output_len": 512}}) == (1536, None)
    assert _codes(values.value_findings({"max_tokens_in_paged_kv_cache": "0"}, "v0.12.0")) == ["bad-kv-tokens"]
    # unknown engine: no size rule; placeholders and empty values are not judged here
    assert values.value_findings(blocks, "v0.19.0", engine_config=tmp_path / "missing") == []
    assert values.value_findings({"batch_scheduler_policy": "${batch_scheduler_policy}",
                                  "kv_cache_free_gpu_mem_fraction": ""}, "v0.12.0") == []


@pytest.mark.parametrize("tag,path", [("v0.5.0", "inflight_batcher_llm/src/libtensorrtllm.cc"),
                                      ("v0.12.0", "inflight_batcher_llm/src/model_instance_state.cc"),
                                      ("v0.19.0", "inflight_batcher_llm/src/model_instance_state.cc")])
def test_scheduler_policies_match_the_backend_source(tag, path):
    src = show(BACKEND, tag, path)
    accepted = re.findall(r'schedulerPolicyStr == "([a-z_]+)"', src)
    assert tuple(accepted) == values.SCHEDULER_POLICIES
    assert "guaranteed_completion" not in src
    # an unknown value is caught and logged, not fatal: the rule is about a silently ignored value
    body = src[src.index('"batch_scheduler_policy"'):][:1500]
    assert "catch" in body and "TLLM_LOG_WARNING(e.what())" in body


def test_executor_kv_config_from_backend_v0_10():
    assert "executor::KvCacheConfig" in show(BACKEND, "v0.10.0", "inflight_batcher_llm/src/model_instance_state.cc")
    assert "executor::KvCacheConfig" not in show(BACKEND, "v0.9.0", "inflight_batcher_llm/src/model_instance_state.cc")
    assert values.EXECUTOR_FROM_TAG == (0, 10, 0)
