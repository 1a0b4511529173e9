"""core/models.py: example folders of real-shaped checkouts, config.json from folders and from a fake Hub
that the REAL huggingface_hub client talks to, size estimates checked against published parameter counts."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core import models as m
from lmi_wizard.core.base import fmt
from lmi_wizard.core.base.errors import WizardError
from tests.gitfixtures import FIXTURES, trtllm_tree
from tests.hubserver import GOOD_TOKEN, FakeHub, FakeRepo, standard_repos

SRC = FIXTURES / "trtllm-src"


def write_tree(root: Path, files: dict) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def union_names(kind: str) -> list[str]:
    """Model folder names from the upstream listings in fixtures (examples-list.txt)."""
    names = []
    for line in (SRC / kind / "examples-list.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        names.append(line.split()[0])
    return names


@pytest.fixture
def new_tree(tmp_path):
    """A 1.x-era TensorRT-LLM: every core/contrib folder of the upstream listing (README only), the real
    examples/models/core/llama/convert_checkpoint.py, and a few real-shaped builders."""
    root = tmp_path / "TensorRT-LLM"
    files = {f"examples/models/{n}/README.md": "# model\n" for n in union_names("main-union")}
    files["examples/models/core/llama/convert_checkpoint.py"] = (
        SRC / "main-fd96a08b/examples/models/core/llama/convert_checkpoint.py").read_text()
    for n in ("core/qwen", "core/gpt", "contrib/baichuan", "contrib/falcon", "contrib/chatglm2-6b",
              "contrib/chatglm3-6b-32k", "core/phi"):
        files[f"examples/models/{n}/convert_checkpoint.py"] = "import argparse\n"
    files["examples/quantization/quantize.py"] = "# not a model\n"
    files["examples/llm-api/quickstart.py"] = "# not a model\n"
    return write_tree(root, files)


@pytest.fixture
def legacy_tree(tmp_path):
    """A ≤0.7 tensorrtllm_backend checkout: flat examples with the real legacy build.py."""
    root = tmp_path / "tensorrtllm_backend"
    build = (SRC / "0.5.0~027cd518/examples/llama/build.py").read_text()
    files = {f"tensorrt_llm/examples/{n}/README.md": "# m\n" for n in union_names("legacy-union")}
    for n in ("llama", "baichuan", "gpt", "falcon", "chatglm", "bloom", "gptj"):
        files[f"tensorrt_llm/examples/{n}/build.py"] = build
    files["all_models/inflight_batcher_llm/tensorrt_llm/config.pbtxt"] = "name: \"tensorrt_llm\"\n"
    return write_tree(root, files)


# -- listing ----------------------------------------------------------------------------------------------

def test_new_layout_lists_core_and_contrib(new_tree):
    ex = {e.name: e for e in m.list_examples(new_tree)}
    assert set(ex) >= {n.split("/")[1] for n in union_names("main-union")}
    assert ex["llama"].rel == "models/core/llama" and ex["llama"].group == "core"
    assert ex["llama"].builder == "convert_checkpoint" and ex["llama"].script.name == "convert_checkpoint.py"
    assert ex["baichuan"].rel == "models/contrib/baichuan" and ex["baichuan"].buildable
    assert ex["mixtral"].builder is None and not ex["mixtral"].buildable  # README only upstream
    assert ex["quantization"].builder is None and ex["quantization"].rel == "quantization"
    only = m.list_examples(new_tree, include_unbuildable=False)
    assert {e.name for e in only} == {"llama", "qwen", "gpt", "baichuan", "falcon", "chatglm2-6b",
                                      "chatglm3-6b-32k", "phi"}
    assert [e.name for e in only] == sorted(e.name for e in only)


def test_legacy_layout_lists_build_py(legacy_tree):
    ex = {e.name: e for e in m.list_examples(legacy_tree)}  # the backend root: examples under tensorrt_llm/
    assert set(ex) >= set(union_names("legacy-union"))
    assert ex["llama"].builder == "build.py" and ex["llama"].rel == "llama" and ex["llama"].group == "flat"
    assert ex["arctic"].builder is None
    # the TensorRT-LLM root and the examples folder itself work too
    assert [e.name for e in m.list_examples(legacy_tree / "tensorrt_llm")] == list(ex)
    assert [e.name for e in m.list_examples(legacy_tree / "tensorrt_llm" / "examples")] == list(ex)


def test_transition_folder_with_both_builders_prefers_convert(tmp_path):
    root = write_tree(tmp_path / "t", {"examples/llama/build.py": "x", "examples/llama/convert_checkpoint.py": "y",
                                       "examples/models/core/llama/README.md": "readme only"})
    (e,) = m.list_examples(root)
    assert e.builder == "convert_checkpoint" and e.also == ("build.py",) and e.rel == "llama"


@pytest.mark.parametrize("tag", ["v0.5.0", "v0.12.0", "v0.21.0"])
def test_fixture_trees_of_each_era(tmp_path, tag):
    root = write_tree(tmp_path / tag, trtllm_tree(tag))
    builders = {e.name: e.builder for e in m.list_examples(root, include_unbuildable=False)}
    want = "build.py" if tag == "v0.5.0" else "convert_checkpoint"
    assert builders and set(builders.values()) == {want} and "llama" in builders


def test_not_a_checkout(tmp_path):
    with pytest.raises(WizardError, match="no examples/ folder"):
        m.list_examples(tmp_path)
    with pytest.raises(WizardError, match="not found"):
        m.list_examples(tmp_path / "missing")


def test_find_example_and_suggestions(new_tree, legacy_tree):
    assert m.find_example(new_tree, "llama").rel == "models/core/llama"
    assert m.find_example(new_tree, "models/contrib/baichuan").name == "baichuan"
    assert m.find_example(new_tree, "examples/models/core/llama/").rel == "models/core/llama"  # as listed
    with pytest.raises(WizardError) as ei:
        m.find_example(new_tree, "lama")
    assert "no model folder 'lama'" in ei.value.problem and ei.value.fix == "did you mean llama?"
    with pytest.raises(WizardError) as ei:
        m.find_example(legacy_tree, "baichuan2")
    assert "baichuan" in ei.value.fix
    with pytest.raises(WizardError, match="has no builder"):
        m.find_example(new_tree, "mixtral")
    with pytest.raises(WizardError) as ei:
        m.find_example(new_tree, "zzzzzz")
    assert "lmi-wizard models --checkout" in ei.value.fix


# -- config.json -> folder, JIT -------------------------------------------------------------------------------

def cfg(raw: dict, source="test") -> m.ModelConfig:
    return m.parse_config(json.dumps(raw), source=source, kind="local", path=Path("/x/config.json"))


@pytest.mark.parametrize("arch,mt,legacy,new", [
    ("LlamaForCausalLM", "llama", "llama", "llama"),
    ("MistralForCausalLM", "mistral", "llama", "llama"),
    ("MixtralForCausalLM", "mixtral", "llama", "llama"),  # the mixtral folder is README-only upstream
    ("BaichuanForCausalLM", "baichuan", "baichuan", "baichuan"),
    ("Qwen2ForCausalLM", "qwen2", None, "qwen"),
    ("ChatGLMModel", "chatglm", "chatglm", "chatglm2-6b"),
    ("GPT2LMHeadModel", "gpt2", "gpt", "gpt"),
    ("FalconForCausalLM", "falcon", "falcon", "falcon"),
    ("PhiForCausalLM", "phi", None, "phi"),
])
def test_pick_example_by_architecture(new_tree, legacy_tree, arch, mt, legacy, new):
    c = cfg({"architectures": [arch], "model_type": mt})
    assert m.pick_example(new_tree, c).name == new
    if legacy:
        assert m.pick_example(legacy_tree, c).name == legacy
    else:
        with pytest.raises(WizardError, match="no example folder"):
            m.pick_example(legacy_tree, c)


def test_pick_example_falls_back_to_model_type(new_tree):
    assert m.pick_example(new_tree, cfg({"model_type": "qwen2"})).name == "qwen"
    assert m.pick_example(new_tree, cfg({"architectures": ["MyLlamaVariant"], "model_type": "llama"})).name == "llama"
    with pytest.raises(WizardError) as ei:
        m.pick_example(new_tree, cfg({"architectures": ["FooForCausalLM"], "model_type": "foo"}))
    assert "FooForCausalLM" in ei.value.problem and "lmi-wizard models" in ei.value.fix
    with pytest.raises(WizardError, match="has no builder"):  # present, but README-only
        m.pick_example(new_tree, cfg({"architectures": ["DeepseekV3ForCausalLM"]}))


def test_jit_support_list_is_cited_and_used():
    jit = m.model_architectures()["jit"]
    assert "deepjavalibrary/djl-serving" in jit["_source"] and "trt_llm_user_guide.md" in jit["_source"]
    for arch in ("LlamaForCausalLM", "BaichuanForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM",
                 "FalconForCausalLM", "GPTJForCausalLM", "ChatGLMModel", "T5ForConditionalGeneration"):
        j = m.jit_support(cfg({"architectures": [arch]}))
        assert j.supported and "JIT" in j.reason and "djl-serving" in j.source, arch
    for arch in ("DeepseekV3ForCausalLM", "GPTNeoXForCausalLM", "BloomForCausalLM", "MPTForCausalLM"):
        j = m.jit_support(cfg({"architectures": [arch]}))
        assert not j.supported and "manual build" in j.reason, arch


def test_every_mapped_folder_exists_upstream():
    known = set(union_names("legacy-union")) | {n.split("/")[1] for n in union_names("main-union")}
    known |= {"chatglm", "qwen", "phi", "opt", "mpt", "nemotron", "multimodal", "qwenvl", "whisper", "skywork",
              "jais", "recurrentgemma"}  # after the truncated legacy listing / in the new layout listing
    table = m.model_architectures()
    for group in ("architectures", "model_types"):
        for key, folders in table[group].items():
            assert folders and all(f in known for f in folders), (key, folders)


# -- size estimates against published parameter counts ------------------------------------------------------

REAL_CONFIGS = {
    # name: (config.json fields as published, published parameter count)
    "meta-llama/Llama-2-7b-hf": ({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
                                  "intermediate_size": 11008, "num_attention_heads": 32, "num_hidden_layers": 32,
                                  "num_key_value_heads": 32, "vocab_size": 32000, "tie_word_embeddings": False,
                                  "torch_dtype": "float16", "hidden_act": "silu"}, 6_738_415_616),
    "mistralai/Mistral-7B-v0.1": ({"architectures": ["MistralForCausalLM"], "model_type": "mistral",
                                   "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
                                   "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
                                   "tie_word_embeddings": False, "torch_dtype": "bfloat16"}, 7_241_732_096),
    "mistralai/Mixtral-8x7B-v0.1": ({"architectures": ["MixtralForCausalLM"], "model_type": "mixtral",
                                     "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
                                     "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000,
                                     "num_local_experts": 8, "num_experts_per_tok": 2, "tie_word_embeddings": False,
                                     "torch_dtype": "bfloat16"}, 46_702_792_704),
    "Qwen/Qwen2-0.5B": ({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
                         "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24,
                         "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True,
                         "torch_dtype": "bfloat16"}, 494_032_768),
    "gpt2": ({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 768, "n_layer": 12,
              "n_head": 12, "n_positions": 1024, "n_inner": None, "vocab_size": 50257,
              "activation_function": "gelu_new"}, 124_439_808),
    "tiiuae/falcon-7b": ({"architectures": ["FalconForCausalLM"], "model_type": "falcon", "hidden_size": 4544,
                          "num_attention_heads": 71, "num_hidden_layers": 32, "multi_query": True,
                          "parallel_attn": True, "new_decoder_architecture": False, "vocab_size": 65024,
                          "torch_dtype": "bfloat16"}, 6_921_720_704),
    "THUDM/chatglm2-6b": ({"architectures": ["ChatGLMModel"], "model_type": "chatglm", "hidden_size": 4096,
                           "num_layers": 28, "ffn_hidden_size": 13696, "padded_vocab_size": 65024,
                           "multi_query_attention": True, "multi_query_group_num": 2, "kv_channels": 128,
                           "num_attention_heads": 32, "torch_dtype": "float16"}, 6_243_584_000),
    "mosaicml/mpt-7b": ({"architectures": ["MPTForCausalLM"], "model_type": "mpt", "d_model": 4096, "n_layers": 32,
                         "n_heads": 32, "expansion_ratio": 4, "vocab_size": 50432, "torch_dtype": "bfloat16"},
                        6_649_286_656),
}


@pytest.mark.parametrize("name", sorted(REAL_CONFIGS))
def test_parameter_estimate_matches_published_counts(name):
    raw, real = REAL_CONFIGS[name]
    est = cfg(raw, name).estimate_parameters()
    assert est is not None and abs(est - real) / real < 0.01, (name, est, real)


def test_weight_bytes_per_dtype_and_summary():
    raw, real = REAL_CONFIGS["meta-llama/Llama-2-7b-hf"]
    c = cfg(raw)
    assert c.weight_bytes() == c.weight_bytes("float16")  # config's torch_dtype
    assert abs(c.weight_bytes("float16") - 2 * real) / (2 * real) < 0.01
    assert c.weight_bytes("float32") == 2 * c.weight_bytes("bf16")
    assert c.weight_bytes("int4") == c.estimate_parameters() // 2
    with pytest.raises(WizardError, match="unknown dtype"):
        c.weight_bytes("float13")
    s = c.summary()
    assert s["num_key_value_heads"] == 32 and s["vocab_size"] == 32000 and s["tie_word_embeddings"] is False
    assert s["weight_bytes_estimate"]["int8"] == c.estimate_parameters()
    json.dumps(s)
    assert fmt.human_params(6_738_415_616) == "6.74B" and fmt.human_bytes(13.5 * 2**30) == "13.5 GiB"
    assert cfg({"model_type": "llama"}).estimate_parameters() is None  # sizes missing: no guess


# -- local sources: bad inputs ---------------------------------------------------------------------------------

def test_local_folder_ok_and_config_file_path(tmp_path):
    raw, _ = REAL_CONFIGS["Qwen/Qwen2-0.5B"]
    (tmp_path / "qwen").mkdir()
    (tmp_path / "qwen" / "config.json").write_text(json.dumps(raw))
    c = m.load_model_config(str(tmp_path / "qwen"))
    assert c.kind == "local" and c.architecture == "Qwen2ForCausalLM" and c.hidden_size == 896
    assert c.num_key_value_heads == 2 and c.torch_dtype == "bfloat16"
    assert m.load_model_config(str(tmp_path / "qwen" / "config.json")).hidden_size == 896


def test_local_folder_without_config(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "tokenizer.json").write_text("{}")
    with pytest.raises(WizardError) as ei:
        m.load_model_config(str(tmp_path / "m"))
    assert ei.value.problem == f"no config.json in {tmp_path / 'm'}" and "config.json" in ei.value.fix


@pytest.mark.parametrize("text,match", [
    ('{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,,}', r"not valid JSON \(line 1, column"),
    ('{\n "architectures": ["LlamaForCausalLM"]\n "x": 1}', r"not valid JSON \(line 3"),
    ('["LlamaForCausalLM"]', "not a JSON object"),
    ('{"hidden_size": 4096}', "neither 'architectures' nor 'model_type'"),
    ("", "not valid JSON"),
])
def test_malformed_config(tmp_path, text, match):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(WizardError, match=match):
        m.load_model_config(str(tmp_path))


def test_non_utf8_config_and_missing_paths(tmp_path):
    (tmp_path / "config.json").write_bytes(b"\xff\xfe{\x00")
    with pytest.raises(WizardError, match="not UTF-8"):
        m.load_model_config(str(tmp_path))
    with pytest.raises(WizardError, match="model folder not found"):
        m.load_model_config(str(tmp_path / "nope"))
    with pytest.raises(WizardError, match="model folder not found"):
        m.load_model_config("./definitely/not/here")
    with pytest.raises(WizardError, match="neither an existing folder nor a Hugging Face repo id"):
        m.load_model_config("not a repo id!")
    with pytest.raises(WizardError, match="no model given"):
        m.load_model_config("  ")


# -- Hugging Face ids through the real client and a local fake Hub ----------------------------------------------

@pytest.fixture(scope="module")
def hub():
    repos = standard_repos() + [FakeRepo("acme/no-config", {"README.md": b"no config here\n"}),
                                FakeRepo("acme/broken-config", {"config.json": b"{not json"})]
    with FakeHub(repos) as h:
        yield h


def test_hf_id_fetches_only_config_json(hub, tmp_path):
    hub.reset_log()
    c = m.load_model_config("baichuan-inc/Baichuan-13B-Chat", endpoint=hub.endpoint, cache_dir=tmp_path)
    assert c.kind == "hf" and c.architecture == "BaichuanForCausalLM" and c.vocab_size == 64000
    assert 13.0e9 < c.estimate_parameters() < 13.5e9
    assert set(hub.resolved_files()) == {"config.json"}  # no weights, no tokenizer
    assert m.jit_support(c).supported


def test_hf_id_that_does_not_exist(hub, tmp_path):
    with pytest.raises(WizardError) as ei:
        m.load_model_config("acme/no-such-model", endpoint=hub.endpoint, cache_dir=tmp_path)
    assert ei.value.problem.startswith("HF id acme/no-such-model does not exist")
    assert f"{hub.endpoint}/acme/no-such-model" in ei.value.fix


def test_hf_gated_and_private(hub, tmp_path):
    with pytest.raises(WizardError, match="gated") as ei:
        m.load_model_config("meta-llama/Llama-2-7b-chat-gated", endpoint=hub.endpoint, cache_dir=tmp_path)
    assert "HF_TOKEN" in ei.value.fix
    c = m.load_model_config("meta-llama/Llama-2-7b-chat-gated", endpoint=hub.endpoint, cache_dir=tmp_path,
                            token=GOOD_TOKEN)
    assert c.architecture == "LlamaForCausalLM"
    with pytest.raises(WizardError, match="does not exist .or is private") as ei:
        m.load_model_config("acme/private-llama", endpoint=hub.endpoint, cache_dir=tmp_path)
    with pytest.raises(WizardError) as ei:
        m.load_model_config("acme/private-llama", endpoint=hub.endpoint, cache_dir=tmp_path / "c2",
                            token="hf_wrong_token_value")
    assert "hf_wrong_token_value" not in str(ei.value)


def test_hf_repo_without_config_or_with_broken_config(hub, tmp_path):
    with pytest.raises(WizardError, match="has no config.json"):
        m.load_model_config("acme/no-config", endpoint=hub.endpoint, cache_dir=tmp_path)
    with pytest.raises(WizardError, match="not valid JSON"):
        m.load_model_config("acme/broken-config", endpoint=hub.endpoint, cache_dir=tmp_path)


def test_hf_offline_is_a_clear_error(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(WizardError) as ei:
        m.load_model_config("baichuan-inc/Baichuan-13B-Chat", endpoint=f"http://127.0.0.1:{port}",
                            cache_dir=tmp_path, etag_timeout=2)
    assert "cannot reach the Hugging Face Hub" in ei.value.problem and "local folder" in ei.value.fix
    assert "not in the local cache" in ei.value.problem


def test_hf_offline_uses_the_cache(hub, tmp_path):
    m.load_model_config("Qwen/Qwen-7B-Chat", endpoint=hub.endpoint, cache_dir=tmp_path)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    c = m.load_model_config("Qwen/Qwen-7B-Chat", endpoint=dead, cache_dir=tmp_path)
    assert c.architecture == "QWenLMHeadModel" and c.kind == "hf"


# -- the verb ----------------------------------------------------------------------------------------------------

def test_cli_models(new_tree, tmp_path, hub, capsys, monkeypatch):
    import huggingface_hub.constants as hfc
    monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # never the user's cache
    raw, _ = REAL_CONFIGS["mistralai/Mistral-7B-v0.1"]
    (tmp_path / "mistral").mkdir()
    (tmp_path / "mistral" / "config.json").write_text(json.dumps(raw))
    assert cli.main(["models", "--checkout", str(new_tree), "--source", str(tmp_path / "mistral"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["chosen"]["name"] == "llama" and out["jit"]["supported"] is True
    assert out["model"]["num_key_value_heads"] == 8 and 7.1e9 < out["model"]["parameters_estimate"] < 7.4e9
    assert all(e["buildable"] for e in out["examples"])
    assert cli.main(["models", "--checkout", str(new_tree), "--all", "--json"]) == 0
    assert any(not e["buildable"] for e in json.loads(capsys.readouterr().out)["examples"])
    assert cli.main(["models", "--checkout", str(new_tree), "--source", str(tmp_path / "mistral")]) == 0
    text = capsys.readouterr().out
    assert "Example folder: llama (examples/models/core/llama, builder convert_checkpoint)" in text
    assert "parameters" in text and "JIT" in text
    assert cli.main(["models", "--source", "baichuan-inc/Baichuan-13B-Chat", "--endpoint", hub.endpoint,
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["architectures"] == ["BaichuanForCausalLM"]
    assert (tmp_path / "hf-cache").is_dir()
    assert cli.main(["models", "--checkout", str(new_tree), "--model", "lama"]) == 2
    assert "did you mean llama?" in capsys.readouterr().err
    assert cli.main(["models", "--source", "acme/nope-nope", "--endpoint", hub.endpoint]) == 2
    assert "HF id acme/nope-nope does not exist" in capsys.readouterr().err
    assert cli.main(["models"]) == 2
    assert "nothing to show" in capsys.readouterr().err
    for opt in ("--checkout", "--source", "--model"):  # an empty value is not "left out"
        assert cli.main(["models", "--checkout", str(new_tree), opt, " "]) == 2
        err = capsys.readouterr().err
        assert f"{opt} is empty" in err and err.count("\n") == 1


def test_tp_problem_uses_heads():
    raw, _ = REAL_CONFIGS["tiiuae/falcon-7b"]  # 71 heads: only TP 1 or 71
    assert "does not divide the 71 attention heads" in cfg(raw).tp_problem(2)
    assert cfg(raw).tp_problem(1) is None
    mistral = cfg(REAL_CONFIGS["mistralai/Mistral-7B-v0.1"][0])  # 32 heads, 8 kv heads
    assert [t for t in (1, 2, 4, 8, 16, 32) if mistral.tp_problem(t) is None] == [1, 2, 4, 8, 16, 32]
    assert "does not divide" in mistral.tp_problem(3) and "at least 1" in mistral.tp_problem(0)
    odd = cfg({"model_type": "llama", "num_attention_heads": 24, "num_key_value_heads": 8})
    assert "key/value heads" in odd.tp_problem(12) and odd.tp_problem(4) is None and odd.tp_problem(24) is None


def test_unknown_home_and_nonsense_sizes(tmp_path, monkeypatch):
    # "~nosuchuser/x" made pathlib raise RuntimeError (a traceback); it is a plain missing path
    with pytest.raises(WizardError, match="model folder not found: ~no-such-user-zz/x"):
        m.load_model_config("~no-such-user-zz/x")
    with pytest.raises(WizardError, match="checkout folder not found"):
        m.list_examples("~no-such-user-zz/co")
    c = cfg({"architectures": ["LlamaForCausalLM"], "hidden_size": "abc", "num_hidden_layers": -1,
             "num_attention_heads": 0, "vocab_size": 32000.5, "intermediate_size": True})
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.vocab_size) == (None, None, None, None)
    assert c.intermediate_size is None and c.estimate_parameters() is None and c.tp_problem(2) is None
    assert cfg({"model_type": "llama", "hidden_size": "4096"}).hidden_size == 4096  # numeric text is fine


def test_gated_mlp_from_architecture_or_explicit_ffn_size():
    raw, real = REAL_CONFIGS["meta-llama/Llama-2-7b-hf"]
    no_type = {k: v for k, v in raw.items() if k not in ("model_type", "hidden_act")}
    assert abs(cfg(no_type).estimate_parameters() - real) / real < 0.01  # LlamaForCausalLM → llama folder: gated
    bare = {k: v for k, v in no_type.items() if k != "architectures"}
    facts = m.ModelConfig("facts", "dict", Path("config.json"), bare)  # what flags.ModelFacts hands over
    assert abs(facts.estimate_parameters() - real) / real < 0.01  # explicit intermediate_size, no type: gated
    neox = dict(bare, model_type="gpt_neox", hidden_act="gelu")
    assert cfg(neox).estimate_parameters() < 0.8 * real  # a known two-matrix MLP stays two-matrix


def test_one_size_formatter():
    assert fmt.human_bytes(None) == "?" and fmt.human_bytes(1023) == "1023 B" and fmt.human_bytes(1536) == "1.5 KiB"
    assert fmt.gib(80 * 2**30) == "80.0 GiB" and fmt.gib(23.7 * 2**30, 0) == "24 GiB"
    assert fmt.human_params(None) == "?" and fmt.human_params(999) == "999" and fmt.human_params(1_500_000) == "1.50M"
