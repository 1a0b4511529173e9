"""How big a model is, from its config.json alone: the parameter estimate, the weight bytes per dtype, and
whether tensor parallelism can split its attention. ``cfg`` is a :class:`~.models.ModelConfig` (or anything
with its properties); :class:`~.build.ModelFacts` and the model screen call these through it.
"""

from __future__ import annotations

from typing import Optional

from .base.errors import WizardError

BYTES_PER_DTYPE = {
    "float32": 4.0, "fp32": 4.0, "float": 4.0,
    "float16": 2.0, "fp16": 2.0, "half": 2.0, "bfloat16": 2.0, "bf16": 2.0,
    "fp8": 1.0, "float8": 1.0, "int8": 1.0, "w8a8": 1.0, "int8_sq": 1.0,
    "int4": 0.5, "int4_awq": 0.5, "w4a16": 0.5, "int4_gptq": 0.5, "nvfp4": 0.5, "fp4": 0.5,
}


def gated_mlp(cfg) -> bool:
    """Whether the MLP has three matrices (gate, up, down) rather than two."""
    from .models import model_architectures  # deferred: models imports this module

    mt = (cfg.model_type or "").lower()
    table = model_architectures()
    gated = {t.lower() for t in table.get("gated_mlp_model_types", [])}
    if mt in gated:
        return True
    for a in cfg.architectures:  # e.g. no model_type, but LlamaForCausalLM → the llama folder
        folders = table["architectures"].get(a, [])
        if folders and folders[0].lower() in gated:
            return True
    text = cfg.text_config
    act = str(next((text[k] for k in ("hidden_act", "activation_function", "hidden_activation")
                    if text.get(k) is not None), "")).lower()
    if act:
        return act in ("silu", "swiglu", "swish", "geglu") and mt not in ("gptj", "gpt2", "opt", "bloom")
    # neither a known type nor an activation: an explicit FFN size is the llama-style config
    return not mt and not cfg.architectures and "intermediate_size" in text


def estimate_parameters(cfg) -> Optional[int]:
    """Parameter count of a decoder-only transformer from the config (weights only, biases/norms
    approximated). None when the config lacks the sizes. Within a few % for the common families."""
    h, L, V = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
    if not (h and L and V):
        return None
    n_heads = cfg.num_attention_heads or max(1, h // 128)
    hd = cfg.head_dim or h // n_heads
    kv = cfg.num_key_value_heads or n_heads
    inter = cfg.intermediate_size or 4 * h
    mt = (cfg.model_type or "").lower()
    if mt == "qwen" and "intermediate_size" in cfg.text_config:
        inter = inter // 2  # QWen v1 splits intermediate_size across its two gate projections
    attn = h * (n_heads * hd) * 2 + h * (kv * hd) * 2  # q, o + k, v
    mlp_one = (3 if gated_mlp(cfg) else 2) * h * inter
    experts = cfg.num_experts
    if experts:
        moe_inter = cfg.int_field("moe_intermediate_size") or inter
        mlp = experts * (3 if gated_mlp(cfg) else 2) * h * moe_inter + h * experts
        shared = cfg.int_field("shared_expert_intermediate_size")
        if shared:
            mlp += 3 * h * shared
    else:
        mlp = mlp_one
    norms = 4 * h
    per_layer = attn + mlp + norms
    embed = V * h
    lm_head = 0 if cfg.tie_word_embeddings else V * h
    pos = 0
    if mt in ("gpt2", "gpt_bigcode", "opt") and cfg.max_position_embeddings:
        pos = cfg.max_position_embeddings * h
    return int(embed + lm_head + pos + L * per_layer + 2 * h)


def weight_bytes(cfg, dtype: Optional[str] = None) -> Optional[int]:
    """Estimated bytes of the weights in ``dtype`` (default: the config's torch_dtype, else float16)."""
    n = cfg.estimate_parameters()
    if n is None:
        return None
    d = (dtype or cfg.torch_dtype or "float16").lower().replace("torch.", "")
    if d not in BYTES_PER_DTYPE:
        raise WizardError(f"unknown dtype {dtype!r}", f"use one of {', '.join(sorted(BYTES_PER_DTYPE))}")
    return int(n * BYTES_PER_DTYPE[d])


def tp_fits(heads: Optional[int], kv_heads: Optional[int], tp: int) -> bool:
    """Whether TensorRT-LLM can split the attention over ``tp`` ranks — the builders' own asserts: ``tp`` divides
    the attention heads, and with grouped KV heads ``kv_heads % tp == 0 or tp % kv_heads == 0`` (examples/llama's
    build.py / convert_checkpoint.py). No power-of-two rule: TensorRT-LLM has none for tensor parallelism."""
    if tp < 1:
        return False
    if heads and heads % tp:
        return False
    if heads and kv_heads and kv_heads < heads and kv_heads % tp and tp % kv_heads:
        return False
    return True


def tp_choices(heads: Optional[int], kv_heads: Optional[int], limit: int = 64) -> list[int]:
    """Every TP (up to ``limit``) :func:`tp_fits` accepts: the "possible" list the advice shows."""
    top = min(heads or limit, limit)
    return [d for d in range(1, top + 1) if tp_fits(heads, kv_heads, d)]


def tp_split_problem(heads: Optional[int], kv_heads: Optional[int], tp: int,
                     what: str = "the model") -> Optional[tuple[str, str, str]]:
    """(code, problem, fix) when tensor parallelism ``tp`` cannot split the attention, else None.

    One rule (:func:`tp_fits`) for the model step, the build validation and the "possible" list it shows:
    every TP listed there is accepted."""
    if tp < 1 or tp_fits(heads, kv_heads, tp):
        return None
    ok = ", ".join(map(str, tp_choices(heads, kv_heads)))
    if heads and heads % tp:
        return ("tp_heads", f"TP {tp} does not divide the {heads} attention heads of {what}; "
                f"possible: {ok}", f"choose one of {ok}")
    return ("tp_kv_heads", f"TP {tp} does not fit the {kv_heads} key/value heads of {what} "
                f"(need a divisor or a multiple of {kv_heads}); possible: {ok}", f"choose one of {ok}")
