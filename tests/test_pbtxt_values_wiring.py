"""Values the TensorRT-LLM backend rejects or ignores (core.triton.value_findings), wired into the wizard: the
Triton step's rule (core.wizard.triton_config.config_findings) judges the Triton fields and ``[triton]
substitutions`` against the release's backend and the planned engine, so ``plan`` and ``run`` refuse such a
recipe before anything runs (one line, exit 2, the fix), with or without a checkout."""

from __future__ import annotations

import pytest

from lmi_wizard.core import wizard as W
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.tui.cli import main as cli


def _recipe(trtllm: str, body: str) -> str:
    return f'[env]\ntrtllm_version = "{trtllm}"\n[model]\nsource = "a/b"\n' + body


CASES = [
    # guaranteed_completion: no backend release accepts it (it logs and runs guaranteed_no_evict)
    ("0.12.0", '[triton]\nsubstitutions = { batch_scheduler_policy = "guaranteed_completion" }\n',
     "triton.substitutions", "guaranteed_completion", "use max_utilization or guaranteed_no_evict"),
    # 1.0 fails the load from backend v0.10.0 (executor KvCacheConfig: 0 < f < 1) — as a field and a substitution
    ("0.12.0", "[triton]\nkv_cache_free_gpu_mem_fraction = 1.0\n",
     "triton.kv_cache_free_gpu_mem_fraction", "outside 0 < fraction < 1", "a fraction such as 0.9"),
    ("0.11.0", '[triton]\nsubstitutions = { kv_cache_free_gpu_mem_fraction = "1.0" }\n',
     "triton.substitutions", "outside 0 < fraction < 1", "a fraction such as 0.9"),
    ("0.12.0", '[triton]\nsubstitutions = { kv_cache_free_gpu_mem_fraction = "0" }\n',
     "triton.substitutions", "outside 0 < fraction < 1", "a fraction such as 0.9"),
    # the planned engine holds max_input_len + max_output_len = 2560 tokens a sequence
    ("0.12.0", '[build]\nmax_input_len = 2048\nmax_output_len = 512\n'
               '[triton]\nsubstitutions = { max_tokens_in_paged_kv_cache = "1024" }\n',
     "triton.substitutions", "smaller than one full sequence", "at least 2560"),
]


@pytest.mark.parametrize("trtllm,body,key,problem,fix", CASES)
def test_plan_and_run_refuse_a_value_the_backend_rejects(tmp_path, capsys, trtllm, body, key, problem, fix):
    p = tmp_path / "r.toml"
    p.write_text(_recipe(trtllm, body))
    a = R.load_recipe(p)
    found = [f for f in W.validate_step("triton", a) if f.blocking]
    assert [f.key for f in found] == [key] and problem in found[0].problem and fix in found[0].fix
    for verb in ("plan", "run"):
        assert cli.main([verb, str(p), "--work-dir", str(tmp_path / "w")]) == 2, verb
        cap = capsys.readouterr()
        assert cap.err.startswith("lmi-wizard: error: ") and cap.err.count("\n") == 1, cap.err
        assert problem in cap.err and fix in cap.err.split(" — fix: ", 1)[1] and cap.out == ""
    assert not (tmp_path / "w").exists()  # refused before anything ran


@pytest.mark.parametrize("trtllm,body", [
    ("0.9.0", "[triton]\nkv_cache_free_gpu_mem_fraction = 1.0\n"),  # (0, 1] before backend v0.10.0
    ("0.12.0", '[triton]\nsubstitutions = { batch_scheduler_policy = "guaranteed_no_evict", '
               'max_tokens_in_paged_kv_cache = "2560" }\n'),
])
def test_values_the_backend_takes_pass(tmp_path, trtllm, body):
    p = tmp_path / "r.toml"
    p.write_text(_recipe(trtllm, body))
    assert not [f for f in W.validate_step("triton", R.load_recipe(p)) if f.blocking]


def test_the_flat_layout_writes_no_config_pbtxt_so_nothing_is_judged(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text(_recipe("0.12.0", ""))
    a = R.load_recipe(p)
    a["triton.kv_cache_free_gpu_mem_fraction"] = 1.0
    assert [f.code for f in W.validate_step("triton", a) if f.blocking] == ["bad-kv-fraction"]
    a["env.lmi_layout"] = "flat"
    assert not [f for f in W.validate_all(a) if f.code == "bad-kv-fraction"]
