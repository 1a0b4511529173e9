"""Upload folders shaped like the tutorial's (test_layout, test_publish_cli): the Triton layout's
``triton_model_repo/tensorrt_llm/`` (Step 6's listing: Hugging Face config and tokenizer, engines under ``1/``) and
the flat TensorRT-LLM 0.20+ folder; engines are stand-in bytes. The tutorial's destination and its LMI model_id."""

from __future__ import annotations

import json
from pathlib import Path

TUTORIAL_DEST = "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/baichuan-13b-chat/"
TUTORIAL_MODEL_ID = "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/"

ENGINE_CONFIG = {"version": "0.21.0", "pretrained_config": {"architecture": "LlamaForCausalLM",
                 "mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1}},
                 "build_config": {"max_batch_size": 64, "max_seq_len": 4096}}
HF_CONFIG = {"architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "hidden_size": 5120}


def _pbtxt(fixtures_dir: Path | None) -> str:
    if fixtures_dir is not None:
        p = fixtures_dir / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt"
        if p.is_file():
            return p.read_text()
    return 'name: "tensorrt_llm"\nbackend: "tensorrtllm"\n'


def make_triton_repo(root: Path, fixtures_dir: Path | None = None, *, engine_bytes: int = 2048) -> Path:
    """``root/triton_model_repo/tensorrt_llm/`` shaped like the tutorial's (engines are stand-ins)."""
    trt = root / "triton_model_repo" / "tensorrt_llm"
    (trt / "1").mkdir(parents=True)
    (root / "triton_model_repo" / "ensemble").mkdir()
    (root / "triton_model_repo" / "ensemble" / "config.pbtxt").write_text('name: "ensemble"\n')
    (trt / "config.pbtxt").write_text(_pbtxt(fixtures_dir))
    (trt / "config.json").write_text(json.dumps(HF_CONFIG))
    (trt / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BaichuanTokenizer"}))
    (trt / "special_tokens_map.json").write_text("{}")
    (trt / "generation_config.json").write_text("{}")
    (trt / "tokenizer.model").write_bytes(bytes(range(256)) * 8)
    (trt / "1" / "config.json").write_text(json.dumps(ENGINE_CONFIG))
    for r in (0, 1):
        (trt / "1" / f"baichuan_float16_tp2_rank{r}.engine").write_bytes(bytes([r]) * engine_bytes)
    return trt


def make_flat_repo(root: Path, *, engines: int = 2) -> Path:
    flat = root / "engine_out"
    flat.mkdir(parents=True)
    (flat / "config.json").write_text(json.dumps(ENGINE_CONFIG))
    for r in range(engines):
        (flat / f"rank{r}.engine").write_bytes(bytes([r]) * 4096)
    (flat / "tokenizer_config.json").write_text("{}")
    (flat / "tokenizer.json").write_text("{}")
    return flat
