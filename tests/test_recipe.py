"""core/recipe.py: recipes (TOML, no secrets) and the wizard's saved state."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.core import wizard as S
from lmi_wizard.core.base.errors import WizardError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _answers() -> S.Answers:
    a = S.Answers(ctx=S.Context(installed_trtllm=None, gpus=[]))
    a["env.trtllm_version"] = "0.12.0"
    a["model.source"] = "baichuan-inc/Baichuan-13B-Chat"
    a["model.example"] = "baichuan"
    a["build.tp"] = 2
    a["build.build_flags"] = {"--model_version": "v1_13b", "--odd key": 'q"uote\\back,colon:'}
    a["triton.substitutions"] = "max_beam_width:1,gpu_device_ids:0\\,1"
    a["tokenizer.extra_patterns"] = ["*.py", "*.tiktoken"]
    a["destination.uri"] = "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/baichuan-13b-chat/"
    a["triton.kv_cache_free_gpu_mem_fraction"] = 0.95
    return a


def test_round_trip_every_kind(tmp_path):
    a = _answers()
    path = R.save_recipe(tmp_path / "r.toml", a)
    text = path.read_text()
    tomllib.loads(text)  # valid TOML
    assert "# tag = \"v0.12.0\"" in text and "\ntp = 2" in text  # defaults shown commented, answers set
    b = R.load_recipe(path, ctx=a.ctx)
    # a relative work folder is relative to the recipe's own folder, and loaded as an absolute path
    assert b["checkout.work_dir"] == str(tmp_path)
    del b["checkout.work_dir"]
    assert b.explicit() == a.explicit() and b.resolved() == a.resolved()
    # a default follows the answers it derives from when the recipe is edited
    edited = R.loads_recipe(text.replace('trtllm_version = "0.12.0"', 'trtllm_version = "0.16.0"'), ctx=a.ctx)
    assert edited["env.tag"] == "v0.16.0"
    assert b["build.build_flags"]["--odd key"] == 'q"uote\\back,colon:'
    assert b["triton.substitutions"] == {"max_beam_width": "1", "gpu_device_ids": "0,1"}
    assert b["tokenizer.extra_patterns"] == ["*.py", "*.tiktoken"]
    # a recipe of only what the user set round-trips too, and keeps defaults dynamic
    c = R.loads_recipe(R.dumps_recipe(a, include_defaults=False))
    assert c.explicit() == a.explicit()
    assert not c.is_set("build.output_dir")
    # the TensorRT-LLM version describes the machine: pinned even when it was only detected
    d = S.Answers({"model.source": "a/b"}, ctx=S.Context(installed_trtllm="0.12.0"))
    assert any(l.startswith('trtllm_version = "0.12.0"') for l in R.dumps_recipe(d).splitlines())
    assert R.loads_recipe(R.dumps_recipe(d), ctx=S.Context(installed_trtllm="0.16.0"))["env.trtllm_version"] == "0.12.0"


def test_save_refuses_existing_without_force(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text("mine\n")
    with pytest.raises(WizardError, match="already exists"):
        R.save_recipe(p, _answers(), force=False)
    assert p.read_text() == "mine\n"


@pytest.mark.parametrize("text,problem,fix", [
    ("[buld]\ntp = 2\n", "unknown section [buld]", "did you mean [build]?"),
    ("[build]\ntpp = 2\n", "[build] tpp: unknown setting", "did you mean `tp`?"),
    ("[build]\nsource = 'a/b'\n", "[build] source: unknown setting", "under [model]"),
    ("[build]\ntp = 'two'\n", "[build] tp: expected a whole number", "write a number"),
    ("[build]\ncontext_fmha = 'sometimes'\n", "expected true or false", None),
    ("[build]\ndtype = 'float61'\n", "'float61' is not one of", "did you mean 'float16'?"),
    ("build = 3\n", "build must be a [build] table", None),
    ("[model]\nsource = \n", "not valid TOML", None),
    ("format = 9\n", "format 9 is not supported", "upgrade"),
    ("[env]\ntrtllm_version = '0.12.0'\n", "model.source is required", 'add `source = "'),
])
def test_errors_are_one_clear_message(text, problem, fix):
    if "model.source is required" not in problem:
        text += "\n[model]\nsource = 'a/b'\n" if "[model]" not in text else ""
    with pytest.raises(WizardError) as err:
        R.loads_recipe(text, source="my.toml")
    msg = str(err.value)
    assert problem in msg and msg.startswith("my.toml")
    if fix:
        assert fix in (err.value.fix or "")
    assert "\n" not in err.value.problem


def test_secrets_refused_in_recipe_and_never_written(tmp_path, monkeypatch):
    for text in ("[tokenizer]\nhf_token = 'hf_x'\n", "[destination]\naws_secret_access_key = 'k'\n",
                 "[credentials]\nkey = 'k'\n"):
        with pytest.raises(WizardError, match="secret"):
            R.loads_recipe(text + "[model]\nsource = 'a/b'\n")
    monkeypatch.setenv("HF_TOKEN", "hf_ENVSECRET123")
    a = _answers()
    a["tokenizer.hf_token"] = "hf_TYPEDSECRET456"
    p = R.save_recipe(tmp_path / "r.toml", a)
    st = R.WizardState(a, "build")
    sp = R.save_state(st, tmp_path / "state.toml")
    for f in (p, sp):
        body = f.read_text()
        assert "SECRET" not in body and "hf_token" not in body
    # a secret that sneaks into a plain value is caught before writing
    a["model.revision"] = "hf_TYPEDSECRET456"
    with pytest.raises(WizardError, match="secret"):
        R.dumps_recipe(a)


def test_template_is_valid_and_documents_every_setting(tmp_path):
    t = R.template_recipe(S.Answers(ctx=S.Context(installed_trtllm=None)))
    data = tomllib.loads(t)
    assert data["model"]["source"]  # the required values, with an example
    assert data["env"]["trtllm_version"] == "0.12.0"  # not installed here: the recipe must say it
    installed = R.template_recipe(S.Answers(ctx=S.Context(installed_trtllm="0.16.0")))
    assert '# trtllm_version = "0.16.0"' in installed  # installed: follows the machine unless uncommented
    for f in S.FIELDS.values():
        if f.stored:
            assert f"{f.name}" in t, f.key
        else:
            assert f"{f.name} =" not in t, f.key
    a = R.loads_recipe(t)
    assert a.explicit() == {"model.source": "baichuan-inc/Baichuan-13B-Chat", "env.trtllm_version": "0.12.0"}
    with pytest.raises(WizardError, match="env.trtllm_version is required"):
        R.loads_recipe("[model]\nsource = 'a/b'\n", ctx=S.Context(installed_trtllm=None))
    assert R.loads_recipe("[model]\nsource = 'a/b'\n", ctx=S.Context(installed_trtllm="0.12.0"))["env.tag"] == "v0.12.0"
    # uncommenting a line gives a recipe that still loads
    b = R.loads_recipe(t.replace("# tp = 1", "tp = 4"))
    assert b["build.tp"] == 4
    # every commented setting, uncommented as it is, is valid TOML of the right type (no "= …")
    import re

    for line in t.splitlines():
        m = re.fullmatch(r"# ([A-Za-z_]+) = (.*)", line)
        if m:
            tomllib.loads(line[2:])
            assert "…" not in m.group(2), line


def test_state_resumes_at_last_step(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("LMI_WIZARD_STATE", raising=False)
    assert R.default_state_path() == tmp_path / "cfg" / "lmi-wizard" / "state.toml"
    fresh = R.load_state()
    assert fresh.last_step is None and fresh.answers.explicit() == {}
    a = S.Answers()
    a["model.source"] = "Qwen/Qwen2-7B"
    a["build.tp"] = 4
    R.save_state(R.WizardState(a, "build"))
    p = R.default_state_path()
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    back = R.load_state()
    assert back.last_step == "build" and back.updated
    assert back.answers.explicit() == {"model.source": "Qwen/Qwen2-7B", "build.tp": 4}
    # defaults stay dynamic: name follows the source
    back.answers["model.source"] = "Qwen/Qwen2-72B"
    assert back.answers["model.name"] == "qwen2-72b"
    # explicit --state path / env override
    monkeypatch.setenv("LMI_WIZARD_STATE", str(tmp_path / "other.toml"))
    assert R.default_state_path() == tmp_path / "other.toml"
    R.clear_state(p)
    assert not p.exists()


def test_damaged_state_names_the_file(tmp_path):
    p = tmp_path / "state.toml"
    p.write_text("[build\n")
    with pytest.raises(WizardError) as err:
        R.load_state(p)
    assert str(p) in str(err.value) and "delete" in err.value.fix
    p.write_text("[wizard]\nlast_step = 'nonsense'\n[model]\nsource = 'a/b'\n")
    assert R.load_state(p).last_step is None  # unknown step: start at the beginning


def test_a_secret_of_the_environment_is_refused_whatever_its_shape(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "my-private-hub-token-42")
    with pytest.raises(WizardError) as exc:
        R.loads_recipe('[env]\ntrtllm_version = "0.12.0"\n[model]\nsource = "a/b"\n'
                       '[triton]\nsubstitutions = { note = "my-private-hub-token-42" }\n')
    assert "the value of $HF_TOKEN" in exc.value.problem and "my-private-hub-token-42" not in str(exc.value)


def test_answers_that_no_longer_apply_are_written_commented_so_the_recipe_loads(tmp_path):
    """The wizard keeps a [triton] answer after the user switched to the flat layout; the recipe written from
    it (Review, `init --from-state`) comments it out, since a recipe that sets it is refused."""
    a = S.Answers({"env.trtllm_version": "0.21.0rc1", "model.source": "Qwen/Qwen-7B-Chat", "triton.decoupled": False,
                   "destination.uri": "out/q/", "destination.region": "us-east-1"})
    assert {k for k, _, _ in R.ineffective(a)} == {"triton.decoupled", "destination.region"}
    for text in (R.dumps_recipe(a), R.template_recipe(a)):
        b = R.loads_recipe(text)
        assert not b.is_set("triton.decoupled") and not b.is_set("destination.region")
        assert "# decoupled = false" in text
    # the wizard state keeps them (the user may switch back)
    st = R.save_state(R.WizardState(a, "destination"), tmp_path / "state.toml")
    assert R.load_state(st).answers["triton.decoupled"] is False


def test_triton_delete_params_round_trips_and_is_refused_for_the_flat_layout(tmp_path):
    """The per-row deletes of the placeholder review are saved in the recipe and read back; a recipe for the
    flat layout that names them is refused like any other [triton] setting."""
    a = _answers()
    a["triton.delete_params"] = ["max_tokens_in_paged_kv_cache", "kv_cache_host_memory_bytes"]
    path = R.save_recipe(tmp_path / "r.toml", a)
    text = path.read_text()
    assert tomllib.loads(text)["triton"]["delete_params"] == ["max_tokens_in_paged_kv_cache",
                                                            "kv_cache_host_memory_bytes"]
    b = R.load_recipe(path, ctx=a.ctx)
    assert b["triton.delete_params"] == ["max_tokens_in_paged_kv_cache", "kv_cache_host_memory_bytes"]
    assert R.loads_recipe(R.dumps_recipe(a, include_defaults=False))["triton.delete_params"] == \
        a["triton.delete_params"]
    # unset: an empty list, shown commented
    assert R.loads_recipe(R.dumps_recipe(_answers()))["triton.delete_params"] == []
    # a key Triton needs: the recipe's check (what run refuses to start with) names it
    assert not [p for p in R.check_recipe(b) if p.key == "triton.delete_params"]
    bad = R.loads_recipe(text.replace('"kv_cache_host_memory_bytes"', '"gpt_model_path"'), ctx=a.ctx)
    probs = [p for p in R.check_recipe(bad) if p.key == "triton.delete_params"]
    assert probs and probs[0].blocking and "gpt_model_path cannot be deleted" in probs[0].message
    # the flat layout
    flat = ('[env]\ntrtllm_version = "0.21.0rc1"\n[model]\nsource = "Qwen/Qwen-7B-Chat"\n'
            '[destination]\nuri = "out/q/"\n[triton]\ndelete_params = ["max_tokens_in_paged_kv_cache"]\n')
    with pytest.raises(WizardError) as exc:
        R.loads_recipe(flat)
    assert "delete_params" in str(exc.value) and "Triton layout" in str(exc.value)
    assert R.loads_recipe(flat.replace("[env]\n", '[env]\nlmi_layout = "triton"\n'))["triton.delete_params"] == \
        ["max_tokens_in_paged_kv_cache"]


def test_extra_flags_is_the_older_name_of_build_flags():
    from lmi_wizard.core.base.errors import WizardError

    base = '[model]\nsource = "baichuan-inc/Baichuan-13B-Chat"\n[build]\n'
    a = R.loads_recipe(base + 'extra_flags = { "--max_num_tokens" = "8192" }\nconvert_flags = { "--model_version" = "v1_13b" }\n',
                       ctx=S.Context(installed_trtllm="0.12.0", gpus=[]), require=False)
    assert a["build.build_flags"] == {"--max_num_tokens": "8192"}
    assert a["build.convert_flags"] == {"--model_version": "v1_13b"}
    assert "build_flags" in R.dumps_recipe(a) and "extra_flags" not in R.dumps_recipe(a)
    with pytest.raises(WizardError, match="extra_flags and build_flags are the same setting"):
        R.loads_recipe(base + 'extra_flags = {}\nbuild_flags = {}\n', require=False)
