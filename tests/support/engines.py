"""Model repositories as a build leaves them, for the checks and the serve test (one copy, used by test_check,
test_hostile, test_serve, test_serve_step, test_remote, test_remote_wizard): engines with lmi-wizard's build
record, a Hugging Face model folder from a fake Hub repo, the triton_model_repo/ and flat layouts with a filled
config.pbtxt; and the facts that keep a check from reading this machine (no TensorRT-LLM, no GPU, no LMI image)."""

from __future__ import annotations

import json
from pathlib import Path

from lmi_wizard.core import tokenizer
from lmi_wizard.core import triton as pbtxt
from lmi_wizard.core.facts.gpu import GpuState
from lmi_wizard.core.facts.versions import InstalledPackage
from lmi_wizard.core.triton import repo
from tests.hubserver import llama_repo

NO_TRTLLM = InstalledPackage("tensorrt_llm", False)
NO_GPU = GpuState(False, reason="no NVIDIA GPU visible: test")
NOT_LMI = {"telemetry_file": None, "install_root": None}  # never read this machine's LMI image probe paths
# keyword arguments of a check that reads nothing of this machine (its packages, GPUs, LMI image)
CHECK_KW = dict(installed=NO_TRTLLM, gpu_state=NO_GPU, **NOT_LMI)


# ------------------------------------------------------------------------------------------- producers
def write_engines(edir: Path, *, tp: int = 2, pp: int = 1, version: str = "0.12.0", max_batch: int = 64,
                  arch: str = "sm90", gpu: str = "NVIDIA H200", legacy: bool = False, ranks=None) -> Path:
    """What trtllm-build (or the legacy build.py) leaves in its output folder, plus lmi-wizard's record."""
    edir.mkdir(parents=True, exist_ok=True)
    ws = tp * pp
    for r in (range(ws) if ranks is None else ranks):
        name = f"llama_float16_tp{tp}_rank{r}.engine" if legacy else f"rank{r}.engine"
        (edir / name).write_bytes(b"ENGINE" * 64)
    if legacy:
        cfg = {"builder_config": {"name": "llama", "precision": "float16", "tensor_parallel": tp,
                                  "pipeline_parallel": pp, "max_batch_size": max_batch}, "plugin_config": {}}
    else:
        cfg = {"version": version,
               "pretrained_config": {"architecture": "LlamaForCausalLM", "dtype": "float16",
                                     "mapping": {"world_size": ws, "tp_size": tp, "pp_size": pp}},
               "build_config": {"max_batch_size": max_batch, "max_input_len": 1024, "max_seq_len": 2048}}
    (edir / "config.json").write_text(json.dumps(cfg))
    rec = {"tool": "lmi-wizard", "tensorrt_llm": version, "gpus": [{"name": gpu, "arch": arch,
                                                                     "memory_total_bytes": 1}],
           "world_size": ws, "tp_size": tp, "pp_size": pp}
    (edir / "build_record.json").write_text(json.dumps(rec))
    return edir


def model_folder(tmp: Path, fake) -> Path:
    """A local Hugging Face model folder (what a user downloaded) from a fake Hub repo's files."""
    d = tmp / ("hf-" + fake.repo_id.replace("/", "--"))
    for name, data in fake.files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return d


FILL = {"triton_backend": "tensorrtllm", "triton_max_batch_size": "64", "decoupled_mode": "True",
        "engine_dir": "/opt/ml/model/tensorrt_llm/1", "batching_strategy": "inflight_fused_batching",
        "max_queue_delay_microseconds": "0"}


def fill_config(path: Path, **over) -> None:
    """Fill the blocking placeholders like fill_template.py -i; drop the optional parameter blocks."""
    values = dict(FILL, **over)
    text = path.read_text()
    names = {f.name for f in pbtxt.check_text(text).findings if f.kind == "blocking"}
    subs = ",".join(f"{k}:{values[k]}" for k in sorted(names) if k in values)
    pbtxt.fill_file(path, subs, tag="v0.10.0", in_place=True)
    text = path.read_text()
    for f in pbtxt.check_text(text).findings:
        if f.kind == "optional" and f.param and f.param in pbtxt.parameter_keys(text):
            text = pbtxt.delete_parameter(text, f.param)
    path.write_text(text)


def triton_repo(tmp: Path, fixtures_dir: Path, *, fake=None, fill=True, **engine_kw) -> Path:
    """triton_model_repo/ (LMI ≤ 0.32): tensorrt_llm/{config.pbtxt, tokenizer files, 1/engines}."""
    edir = write_engines(tmp / "engines", **engine_kw)
    res = repo.assemble_repo(fixtures_dir / "pbtxt" / "v0.10.0", tmp / "triton_model_repo", engine_dir=edir)
    if fill:
        fill_config(res.config_path)
    tokenizer.get_tokenizer(str(model_folder(tmp, fake or llama_repo())), res.repo_dir / "tensorrt_llm",
                            layout="triton")
    return res.repo_dir


def flat_repo(tmp: Path, *, fake=None, **engine_kw) -> Path:
    edir = write_engines(tmp / "engine", version=engine_kw.pop("version", "0.21.0rc1"), **engine_kw)
    tokenizer.get_tokenizer(str(model_folder(tmp, fake or llama_repo())), edir, layout="flat")
    return edir
