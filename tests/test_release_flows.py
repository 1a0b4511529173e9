"""Golden flows, one per LMI release with a TensorRT-LLM image (0.25 … 0.33): the tutorial intent
(Baichuan-13B, TP 2, FP16, inflight batching, context FMHA, remove padding, parallel build) and a Llama flow,
through ``plan`` and ``run`` and then ``check --lmi-version`` of that release.

Real parts: a git repository of TensorRT-LLM with the release tag holding the real builder sources of that
release (``../shared/fixtures/trtllm-src/lmi-<rel>…``, laid out by ``stand_ins.layout.release_files``; where a
file is missing the nearest era's stands in and the test says which), tensorrtllm_backend with the real
config.pbtxt templates (nearest stored tag) for the Triton layout, the CLI verbs. Stand-in: only the GPU work —
``stand_ins/real_parsers.py`` imports the checkout's real ``build.py`` / ``convert_checkpoint.py`` /
``tensorrt_llm/commands/build.py`` with the heavy packages stubbed and runs their own argparse on exactly the
argv the wizard emits (an unknown flag exits 2 and fails the run, as for a user), then writes fake engines from
the parsed arguments.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli
from stand_ins.layout import HERE, RELEASES, release_files
from tests.gitfixtures import BACKEND_GITLINKS, FIXTURES, _templates, file_url, make_repo
from tests.hubserver import baichuan_repo, llama_repo

pytestmark = [pytest.mark.slow, pytest.mark.needs_fixtures]  # every flow builds from the upstream sources

# the backend template stored nearest to each TensorRT-LLM version (fixtures/pbtxt)
NEAREST_PBTXT = {"0.5.0": "v0.5.0", "0.7.1": "v0.6.1", "0.8.0": "v0.8.0", "0.9.0": "v0.9.0", "0.11.0": "v0.10.0",
                 "0.12.0": "v0.13.0"}
MODELS = {"baichuan": (baichuan_repo, "baichuan-13b-chat"), "llama": (llama_repo, "llama-2-7b")}


def _backend_files(version: str) -> dict[str, str]:
    key = NEAREST_PBTXT[version]
    files = {"README.md": f"# tensorrtllm_backend v{version}\n"}
    for m in ("ensemble", "preprocessing", "postprocessing", "tensorrt_llm", "tensorrt_llm_bls"):
        real = FIXTURES / "pbtxt" / key / m / "config.pbtxt"
        if real.is_file():
            files[f"all_models/inflight_batcher_llm/{m}/config.pbtxt"] = real.read_text()
            files[f"all_models/inflight_batcher_llm/{m}/1/.gitkeep"] = ""
    return files


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> dict:
    """``python`` and ``trtllm-build`` executables that run the real parsers (stand_ins/real_parsers.py)."""
    bindir = tmp_path_factory.mktemp("bin")
    src = (HERE / "real_parsers.py").read_text()
    py = bindir / "stand-in-python"
    py.write_text(f"#!{sys.executable}\n" + src)
    tb = bindir / "trtllm-build"
    tb.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.argv[1:1] = ['--trtllm-build']\n"
                  f"runpy.run_path({str(py)!r}, run_name='__main__')\n")
    for p in (py, tb):
        p.chmod(0o755)
    return {"python": str(py), "bin": str(bindir)}


def _model_dir(tmp: Path, model: str) -> Path:
    d = tmp / f"hf-{model}"
    if not d.is_dir():
        d.mkdir(parents=True)
        for name, data in MODELS[model][0]().files.items():
            if not name.endswith((".bin", ".safetensors", ".pth")):
                (d / name).parent.mkdir(parents=True, exist_ok=True)
                (d / name).write_bytes(data)
    return d


def _recipe(work: Path, lmi: str, model: str, urls: dict, model_dir: Path) -> str:
    version = RELEASES[lmi][0]
    name = MODELS[model][1]
    flags = 'convert_flags = { "--model_version" = "v1_13b" }\n' if model == "baichuan" else ""
    backend = f'backend_url = "{urls["backend"]}"\n' if "backend" in urls else ""
    triton = '[triton]\nkv_cache_free_gpu_mem_fraction = 0.9\n' if "backend" in urls else ""
    return f'''format = 1
[env]
trtllm_version = "{version}"
lmi_version = "{lmi}.0"

[checkout]
work_dir = "{work}"
{backend}trtllm_url = "{urls['trtllm']}"

[model]
source = "{model_dir}"
example = "{model}"
name = "{name}"

[build]
dtype = "float16"
tp = 2
inflight_batching = true
context_fmha = true
remove_input_padding = true
parallel_build = true
max_batch_size = 64
max_input_len = 2048
max_output_len = 512
{flags}
{triton}
[destination]
uri = "{work / 'bucket' / 'trtllm' / name / name}/"
'''


@pytest.mark.parametrize("model", ["baichuan", "llama"])
@pytest.mark.parametrize("lmi", list(RELEASES))
def test_golden_flow(lmi, model, runner, fixtures_dir, tmp_path, monkeypatch, capsys):
    version = RELEASES[lmi][0]
    files, borrowed = release_files(fixtures_dir, lmi)
    if model in borrowed:
        print(f"LMI {lmi} {model}: {borrowed[model]}")  # which era's file stands in (-s shows it)
    for m in ("llama", "baichuan"):
        place = "" if RELEASES[lmi][2] == "examples" else ("contrib/" if m == "baichuan" else "core/")
        base = f"examples/{'models/' + place if place else ''}{m}"
        files.setdefault(f"{base}/README.md", f"# {m}\n")
    tag = f"v{version}"
    if version not in NEAREST_PBTXT:  # 0.20+: the Triton templates live in TensorRT-LLM's triton_backend/
        files.update(_templates(tag, "triton_backend/", "trtllm-1.1.0rc6-2a9abd95"))
    urls = {"trtllm": file_url(make_repo(tmp_path / "remotes" / "TensorRT-LLM", {tag: files}, bare=True))}
    if version in NEAREST_PBTXT:
        urls["backend"] = file_url(make_repo(tmp_path / "remotes" / "tensorrtllm_backend",
                                             {tag: _backend_files(version)}, gitlinks=BACKEND_GITLINKS, bare=True))
    work = tmp_path / "work"
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(_recipe(work, lmi, model, urls, _model_dir(tmp_path, model)))
    monkeypatch.setenv("PATH", runner["bin"] + os.pathsep + os.environ.get("PATH", ""))

    assert cli.main(["plan", str(recipe)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    rc = cli.main(["run", str(recipe), "--python", runner["python"], "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, (out[-3000:], err[-3000:])
    # plan again, now that the checkout is there: the exact commands, which the real parsers accepted
    assert cli.main(["plan", str(recipe)]) == 0
    script = capsys.readouterr().out
    legacy = version in ("0.5.0", "0.7.1")
    steps = [ln.split()[:2 if ln.startswith("python3") else 1] for ln in script.splitlines()
             if ln.startswith(("python3 ", "trtllm-build ")) and "fill_template" not in ln]
    assert steps == ([["python3", "build.py"]] if legacy else [["python3", "convert_checkpoint.py"], ["trtllm-build"]])
    if model == "baichuan":
        step = "build.py" if legacy else "convert_checkpoint.py"
        line = next(ln for ln in script.splitlines() if ln.startswith(f"python3 {step}"))
        assert "--model_version v1_13b" in line  # the tutorial's flag, on the builder that defines it

    # the engines were made from what the real parser parsed: the tutorial's intent arrived
    dest = work / "bucket" / "trtllm" / MODELS[model][1] / MODELS[model][1]
    engine_cfg = next(json.loads(p.read_text()) for p in dest.rglob("config.json")
                      if "builder_config" in p.read_text() or "build_config" in p.read_text())
    if legacy:
        b, plug = engine_cfg["builder_config"], engine_cfg["plugin_config"]
        assert (b["tensor_parallel"], b["precision"], b["max_input_len"], b["max_output_len"]) == (2, "float16", 2048, 512)
        assert plug["context_fmha"] and plug["remove_input_padding"] and plug["paged_kv_cache"]
        assert plug["gemm_plugin"] == plug["gpt_attention_plugin"] == "float16"
    else:
        mapping, b = engine_cfg["pretrained_config"]["mapping"], engine_cfg["build_config"]
        assert (mapping["tp_size"], mapping["pp_size"], engine_cfg["pretrained_config"]["dtype"]) == (2, 1, "float16")
        assert b["max_batch_size"] == 64 and b["max_input_len"] == 2048
        assert b.get("max_seq_len") == 2560 or b.get("max_output_len") == 512
        assert b["plugin_config"]["context_fmha"] == b["plugin_config"]["remove_input_padding"] == "enable"
        if model == "baichuan":
            assert engine_cfg["pretrained_config"]["model_version"] == "v1_13b"

    # check with that release's rules passes on what was published, and the LMI configs say TP 2
    rc = cli.main(["check", str(dest), "--lmi-version", f"{lmi}.0", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0, [f for f in report["findings"] if f["severity"] == "error"]
    props = (work / "lmi-configs" / "serving.properties").read_text()
    extracted = (work / "lmi-configs" / "extracted" / "serving.properties").read_text()
    assert "option.tensor_parallel_degree=2" in props and "option.rolling_batch=trtllm" in extracted


def test_the_shipped_baichuan_example_plans_and_runs_on_v0_12_0(runner, fixtures_dir, tmp_path, monkeypatch, capsys):
    """examples/baichuan-tp2.toml as shipped (only the remotes and the bucket pointed at local copies):
    --model_version reaches convert_checkpoint.py, which the real 0.12.0 parsers accept."""
    example = Path(__file__).resolve().parent.parent / "examples" / "baichuan-tp2.toml"
    text = example.read_text()
    files, _ = release_files(fixtures_dir, "0.30")
    urls = {"trtllm": file_url(make_repo(tmp_path / "remotes" / "TensorRT-LLM", {"v0.12.0": files}, bare=True)),
            "backend": file_url(make_repo(tmp_path / "remotes" / "tensorrtllm_backend", {"v0.12.0": _backend_files("0.12.0")},
                                          gitlinks=BACKEND_GITLINKS, bare=True))}
    text = text.replace("[checkout]\n", f'[checkout]\nbackend_url = "{urls["backend"]}"\ntrtllm_url = "{urls["trtllm"]}"\n', 1)
    model = _model_dir(tmp_path, "baichuan")
    text = text.replace('source = "baichuan-inc/Baichuan-13B-Chat"', f'source = "{model}"')
    text = text.replace('uri = "s3://lmi-llm/', f'uri = "{tmp_path}/bucket/')
    assert text.count(str(model)) == 2 and "convert_flags" in text
    recipe = tmp_path / "baichuan-tp2.toml"
    recipe.write_text(text)
    monkeypatch.setenv("PATH", runner["bin"] + os.pathsep + os.environ.get("PATH", ""))
    assert cli.main(["run", str(recipe), "--python", runner["python"], "--json"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert cli.main(["plan", str(recipe)]) == 0
    script = capsys.readouterr().out
    convert = next(ln for ln in script.splitlines() if ln.startswith("python3 convert_checkpoint.py"))
    build = next(ln for ln in script.splitlines() if ln.startswith("trtllm-build "))
    assert "--model_version v1_13b" in convert and "--model_version" not in build
