"""Model choice (tutorial step 4): the checkout's example folders, the model's config.json, size estimate.

* :func:`list_examples` — model folders of a checkout: ``examples/<model>`` (≤0.18) and
  ``examples/models/core|contrib/<model>`` (newer), with the builder each uses: ``convert_checkpoint``
  (``convert_checkpoint.py`` then ``trtllm-build``, 0.8+) or ``build.py`` (legacy one-step, ≤0.7);
  a folder with neither is listed as not buildable.
* :func:`load_model_config` — a Hugging Face repo id (only ``config.json`` is fetched) or a local folder.
* :func:`pick_example` — the example folder for the model's architecture (table in ``data/model_architectures.json``).
* :class:`ModelConfig` — architecture, sizes, a parameter-count estimate and weight bytes per dtype.
* :func:`jit_support` — whether LMI compiles this architecture itself (then the manual path is optional).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from . import hub, sizing
from .base.errors import WizardError
from .sizing import BYTES_PER_DTYPE, tp_split_problem  # the size rules live in sizing; models uses them
from .data import load as load_table

# --------------------------------------------------------------------------------------------------------
# data table

_DATA = "model_architectures.json"  # in core/data/, read by data.load


@lru_cache(maxsize=1)
def model_architectures() -> dict:
    return load_table(_DATA)


# --------------------------------------------------------------------------------------------------------
# example folders of a checkout

BUILDER_CONVERT = "convert_checkpoint"
BUILDER_LEGACY = "build.py"


@dataclass(frozen=True)
class ExampleModel:
    name: str  # folder name, e.g. "llama"
    path: Path  # absolute folder
    rel: str  # relative to examples/, e.g. "models/core/llama" or "llama"
    group: str  # "flat" | "core" | "contrib"
    builder: Optional[str]  # "convert_checkpoint" | "build.py" | None (not buildable)
    script: Optional[Path]  # convert_checkpoint.py / build.py
    also: tuple[str, ...] = ()  # another builder present in the same folder (transition versions)

    @property
    def buildable(self) -> bool:
        return self.builder is not None

    def to_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "rel": self.rel, "group": self.group,
                "builder": self.builder, "script": str(self.script) if self.script else None,
                "also": list(self.also), "buildable": self.buildable}


def _examples_dir(checkout: Any) -> Path:
    """Accept a Checkout, its root, the TensorRT-LLM root, or the examples folder itself."""
    p = getattr(checkout, "examples_dir", None)
    if p is not None:
        return Path(p)
    p = Path(os.path.expanduser(os.fspath(checkout)))
    for cand in (p / "tensorrt_llm" / "examples", p / "examples"):
        if cand.is_dir():
            return cand
    if p.is_dir() and p.name == "examples":
        return p
    if not p.exists():
        raise WizardError(f"checkout folder not found: {p}", "run `lmi-wizard checkout --tag vX.Y.Z --dest DIR` first")
    raise WizardError(f"{p} is not a TensorRT-LLM checkout: no examples/ folder",
                      "pass the folder made by `lmi-wizard checkout` (tensorrtllm_backend or TensorRT-LLM root)")


def _example(folder: Path, examples: Path, group: str) -> ExampleModel:
    conv = folder / "convert_checkpoint.py"
    legacy = folder / "build.py"
    if conv.is_file():
        builder, script = BUILDER_CONVERT, conv
        also = (BUILDER_LEGACY,) if legacy.is_file() else ()
    elif legacy.is_file():
        builder, script, also = BUILDER_LEGACY, legacy, ()
    else:
        builder, script, also = None, None, ()
    return ExampleModel(folder.name, folder, folder.relative_to(examples).as_posix(), group, builder, script, also)


def list_examples(checkout: Any, *, include_unbuildable: bool = True) -> list[ExampleModel]:
    """Model folders of a checkout, sorted by name (``core`` before ``contrib`` before flat on a clash)."""
    examples = _examples_dir(checkout)
    found: dict[str, ExampleModel] = {}
    order = {"core": 0, "contrib": 1, "flat": 2}
    candidates: list[tuple[Path, str]] = []
    for group in ("core", "contrib"):
        base = examples / "models" / group
        if base.is_dir():
            candidates += [(d, group) for d in base.iterdir() if d.is_dir()]
    candidates += [(d, "flat") for d in examples.iterdir() if d.is_dir() and d.name != "models"]
    for folder, group in candidates:
        if folder.name.startswith((".", "_")):
            continue
        ex = _example(folder, examples, group)
        prev = found.get(ex.name)
        if prev is None or (not prev.buildable and ex.buildable) or (
                prev.buildable == ex.buildable and order[group] < order[prev.group]):
            found[ex.name] = ex
    out = sorted(found.values(), key=lambda e: e.name)
    return out if include_unbuildable else [e for e in out if e.buildable]


def find_example(checkout: Any, name: str) -> ExampleModel:
    """The example folder called ``name`` (or ``models/core/name``); unknown names get close suggestions."""
    examples = list_examples(checkout)
    key = name.strip().strip("/")
    if key.startswith("examples/"):  # as printed by `lmi-wizard models` (examples/<rel>)
        key = key[len("examples/"):]
    for e in examples:
        if key in (e.name, e.rel):
            if not e.buildable:
                raise WizardError(
                    f"example folder {e.rel!r} has no builder (neither convert_checkpoint.py nor build.py)",
                    "pick a model folder that has one; see `lmi-wizard models --checkout DIR`")
            return e
    names = [e.name for e in examples if e.buildable]
    close = difflib.get_close_matches(key.split("/")[-1].lower(), names, n=3, cutoff=0.5)
    fix = f"did you mean {', '.join(close)}?" if close else "see `lmi-wizard models --checkout DIR` for the list"
    raise WizardError(f"no model folder {name!r} in {_examples_dir(checkout)}", fix)


# --------------------------------------------------------------------------------------------------------
# config.json

_TIED_BY_DEFAULT = {"gpt2", "gpt_bigcode", "opt", "bloom", "mpt", "falcon", "RefinedWeb", "RefinedWebModel",
                    "gemma", "gemma2", "gemma3_text", "t5", "mt5", "bart", "whisper", "bert"}


def _first(cfg: dict, *keys: str, default=None):
    for k in keys:
        v = cfg.get(k)
        if v is not None:
            return v
    return default


@dataclass
class ModelConfig:
    """What the wizard needs from a model's ``config.json``."""

    source: str  # as given (HF id or folder)
    kind: str  # "hf" | "local"
    config_path: Path
    raw: dict = field(repr=False)
    revision: Optional[str] = None

    # -- fields (with the aliases older architectures use) ------------------------------------------------
    @property
    def _text(self) -> dict:
        """Multimodal configs keep the language model in ``text_config`` / ``llm_config``."""
        for k in ("text_config", "llm_config"):
            sub = self.raw.get(k)
            if isinstance(sub, dict) and _first(sub, "hidden_size", "n_embd", "d_model"):
                if not _first(self.raw, "hidden_size", "n_embd", "d_model"):
                    return sub
        return self.raw

    @property
    def text_config(self) -> dict:
        """The language model's part of the config (the whole config for a text-only model)."""
        return self._text

    def int_field(self, *keys: str) -> Optional[int]:
        """The first of ``keys`` present in :attr:`text_config` as a whole number, else None."""
        return self._int(*keys)

    @property
    def architectures(self) -> list[str]:
        a = self.raw.get("architectures") or []
        return [str(x) for x in a] if isinstance(a, list) else [str(a)]

    @property
    def architecture(self) -> Optional[str]:
        return self.architectures[0] if self.architectures else None

    @property
    def model_type(self) -> Optional[str]:
        mt = self.raw.get("model_type")
        return str(mt) if mt else None

    def _int(self, *keys: str) -> Optional[int]:
        """The first of ``keys`` holding a positive whole number (sizes and counts); None otherwise."""
        v = _first(self._text, *keys)
        if isinstance(v, bool) or v is None:
            return None
        try:
            n = int(v)
        except (TypeError, ValueError, OverflowError):
            return None
        return n if n >= 1 and (not isinstance(v, float) or n == v) else None

    @property
    def hidden_size(self) -> Optional[int]:
        return self._int("hidden_size", "n_embd", "d_model", "dim")

    @property
    def num_hidden_layers(self) -> Optional[int]:
        return self._int("num_hidden_layers", "n_layer", "num_layers", "n_layers")

    @property
    def num_attention_heads(self) -> Optional[int]:
        return self._int("num_attention_heads", "n_head", "n_heads", "num_heads")

    @property
    def num_key_value_heads(self) -> Optional[int]:
        t = self._text
        v = self._int("num_key_value_heads", "num_kv_heads", "multi_query_group_num", "n_head_kv")
        if v is None and t.get("multi_query") and self.model_type not in ("chatglm",):
            v = 1  # falcon-7b style multi-query attention
        if v is None:
            attn = t.get("attn_config") or {}
            if isinstance(attn, dict) and attn.get("kv_n_heads"):
                v = int(attn["kv_n_heads"])
        return v if v is not None else self.num_attention_heads

    @property
    def head_dim(self) -> Optional[int]:
        v = self._int("head_dim", "kv_channels")
        if v:
            return v
        h, n = self.hidden_size, self.num_attention_heads
        return h // n if h and n else None

    @property
    def intermediate_size(self) -> Optional[int]:
        v = self._int("intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim", "d_ff", "ffn_config_hidden")
        if v is None and self.hidden_size:
            ratio = self._text.get("expansion_ratio")  # mpt
            v = int(self.hidden_size * (ratio if ratio else 4))
        return v

    @property
    def vocab_size(self) -> Optional[int]:
        return self._int("padded_vocab_size", "vocab_size", "n_vocab")

    @property
    def torch_dtype(self) -> Optional[str]:
        v = _first(self.raw, "torch_dtype", "dtype") or _first(self._text, "torch_dtype", "dtype")
        return str(v).replace("torch.", "") if v else None

    @property
    def tie_word_embeddings(self) -> bool:
        t = self._text
        if "tie_word_embeddings" in t:
            return bool(t["tie_word_embeddings"])
        # transformers' per-architecture defaults: most causal LMs keep a separate lm_head
        return (self.model_type or "") in _TIED_BY_DEFAULT

    @property
    def num_experts(self) -> int:
        v = self._int("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
        return v or 0

    @property
    def max_position_embeddings(self) -> Optional[int]:
        return self._int("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length",
                         "model_max_length", "max_seq_len")

    @property
    def quantization(self) -> Optional[str]:
        q = self.raw.get("quantization_config")
        if isinstance(q, dict):
            return str(q.get("quant_method") or q.get("quant_algo") or "quantized")
        return None

    # -- size estimate (core/sizing.py) ------------------------------------------------------------------
    def estimate_parameters(self) -> Optional[int]:
        """Parameter count estimated from the config (:func:`.sizing.estimate_parameters`)."""
        return sizing.estimate_parameters(self)

    def weight_bytes(self, dtype: Optional[str] = None) -> Optional[int]:
        """Estimated bytes of the weights in ``dtype`` (:func:`.sizing.weight_bytes`)."""
        return sizing.weight_bytes(self, dtype)

    def tp_problem(self, tp: int) -> Optional[str]:
        """Why tensor parallelism ``tp`` cannot split this model (None: it can, or the config cannot tell)."""
        if tp < 1:
            return f"tensor parallelism must be at least 1 (got {tp})"
        hit = tp_split_problem(self.num_attention_heads, self.num_key_value_heads, tp,
                               self.architecture or "this model")
        return hit[1] if hit else None

    def summary(self) -> dict:
        n = self.estimate_parameters()
        return {
            "source": self.source, "kind": self.kind, "config_path": str(self.config_path),
            "revision": self.revision,
            "architectures": self.architectures, "model_type": self.model_type,
            "hidden_size": self.hidden_size, "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads, "num_key_value_heads": self.num_key_value_heads,
            "intermediate_size": self.intermediate_size, "vocab_size": self.vocab_size,
            "torch_dtype": self.torch_dtype, "tie_word_embeddings": self.tie_word_embeddings,
            "num_experts": self.num_experts, "max_position_embeddings": self.max_position_embeddings,
            "quantization": self.quantization,
            "parameters_estimate": n,
            "weight_bytes_estimate": None if n is None else {
                d: int(n * BYTES_PER_DTYPE[d]) for d in ("float32", "float16", "bfloat16", "fp8", "int8", "int4")},
        }


def parse_config(text: str, *, source: str, kind: str, path: Path, revision: Optional[str] = None) -> ModelConfig:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WizardError(f"config.json of {source} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg})", f"fix or re-download {path}") from None
    if not isinstance(raw, dict):
        raise WizardError(f"config.json of {source} is not a JSON object", f"fix or re-download {path}")
    cfg = ModelConfig(source=source, kind=kind, config_path=path, raw=raw, revision=revision)
    if not cfg.architectures and not cfg.model_type:
        raise WizardError(f"config.json of {source} names neither 'architectures' nor 'model_type'",
                          "point at a Hugging Face transformers model folder (its config.json has them)")
    return cfg


# huggingface_hub's own rule (``utils.validate_repo_id``): an optional namespace, then the name; each part
# 1-96 ASCII letters, digits, ``_ . -``, starting and ending with a letter, digit or ``_``; no ``--`` or ``..``;
# not ending in ``.git``
_HF_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_HF_ID = re.compile(rf"(?:{_HF_PART}/)?{_HF_PART}", re.ASCII)


def is_hf_id(source: str) -> bool:
    """``org/name`` or ``name`` spelled as the Hub allows (no check that it exists): THE one rule, used by the
    wizard's model and tokenizer validators, the tokenizer fetch and the model loader."""
    return (isinstance(source, str) and bool(_HF_ID.fullmatch(source)) and "--" not in source
            and ".." not in source and not source.endswith(".git"))


def looks_like_hf_id(source: str) -> bool:
    return is_hf_id(source)


def looks_like_path(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~", ".\\")) or source in (".", "..") or os.sep + os.sep in source \
        or source.count("/") > 1 or source.endswith(".json")


def load_model_config(
    source: str,
    *,
    endpoint: Optional[str] = None,
    token: Optional[str] = None,
    revision: Optional[str] = None,
    cache_dir: Optional[str | os.PathLike] = None,
    local_files_only: bool = False,
    etag_timeout: Optional[float] = None,  # None: the LMI_WIZARD_NET_TIMEOUT setting
) -> ModelConfig:
    """Read ``config.json`` of a local folder, or fetch only ``config.json`` of a Hugging Face repo.

    Every problem is a WizardError: folder without config.json, malformed JSON, HF id that does not
    exist, gated/private repo without access, hub unreachable. The token is never put into a message.
    """
    src = (source or "").strip()
    if not src:
        raise WizardError("no model given", "give a Hugging Face repo id (org/name) or a local model folder")
    p = Path(os.path.expanduser(src))  # os.path: an unknown ~user stays as written, no RuntimeError
    if p.exists() or looks_like_path(src):
        return _load_local(src, p)
    if not looks_like_hf_id(src):
        raise WizardError(f"{src!r} is neither an existing folder nor a Hugging Face repo id",
                          "give a repo id like baichuan-inc/Baichuan-13B-Chat, or the path of a model folder")
    return _load_hf(src, endpoint=endpoint, token=token, revision=revision, cache_dir=cache_dir,
                    local_files_only=local_files_only, etag_timeout=etag_timeout)


def _load_local(src: str, p: Path) -> ModelConfig:
    if not p.exists():
        raise WizardError(f"model folder not found: {p}", "check the path (or give a Hugging Face repo id)")
    cfg_path = p if p.is_file() else p / "config.json"
    if p.is_file() and p.name != "config.json":
        raise WizardError(f"{p} is a file, not a model folder", "give the folder that holds config.json")
    if not cfg_path.is_file():
        raise WizardError(f"no config.json in {p}",
                          "point at the folder with the Hugging Face model files (config.json, tokenizer, weights)")
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise WizardError(f"{cfg_path} is not UTF-8 text", "fix or re-download it") from None
    except OSError as exc:
        raise WizardError(f"cannot read {cfg_path}: {exc.strerror or exc}", "check its permissions") from None
    return parse_config(text, source=src, kind="local", path=cfg_path.resolve())


def _load_hf(repo_id: str, *, endpoint, token, revision, cache_dir, local_files_only, etag_timeout) -> ModelConfig:
    p = hub.download_config(repo_id, endpoint=endpoint, token=token, revision=revision, cache_dir=cache_dir,
                            local_files_only=local_files_only, etag_timeout=etag_timeout)
    return parse_config(p.read_text(encoding="utf-8"), source=repo_id, kind="hf", path=p, revision=revision)


# --------------------------------------------------------------------------------------------------------
# architecture -> example folder, JIT

def candidate_folders(cfg: ModelConfig) -> list[str]:
    table = model_architectures()
    out: list[str] = []
    for a in cfg.architectures:
        out += table["architectures"].get(a, [])
    if cfg.model_type:
        out += table["model_types"].get(cfg.model_type, [])
        out.append(cfg.model_type.lower().replace("-", "_"))
    seen: list[str] = []
    for n in out:
        if n not in seen:
            seen.append(n)
    return seen


def pick_example(checkout: Any, cfg: ModelConfig) -> ExampleModel:
    """The example folder for the model's architecture: the first candidate that exists and is buildable."""
    by_name = {e.name: e for e in list_examples(checkout)}
    cands = candidate_folders(cfg)
    for n in cands:
        e = by_name.get(n)
        if e is not None and e.buildable:
            return e
    arch = cfg.architecture or cfg.model_type
    present = [n for n in cands if n in by_name]
    if present:
        raise WizardError(f"the example folder for {arch} ({', '.join(present)}) has no builder in this checkout",
                          "this TensorRT-LLM version cannot build it with convert_checkpoint.py/build.py; "
                          "try another version or pick a folder with --model")
    raise WizardError(f"no example folder for architecture {arch} in this checkout "
                      f"(looked for: {', '.join(cands) or 'nothing known'})",
                      "pick the folder yourself (see `lmi-wizard models --checkout DIR`) or use a TensorRT-LLM "
                      "version that supports this architecture")


@dataclass
class JitSupport:
    supported: bool
    reason: str
    source: str

    def to_dict(self) -> dict:
        return {"supported": self.supported, "reason": self.reason, "source": self.source}


def jit_support(cfg: ModelConfig) -> JitSupport:
    """Whether LMI's TensorRT-LLM container compiles this architecture itself (just-in-time)."""
    jit = model_architectures()["jit"]
    src = jit["_source"].split(",")[0] + ", " + jit["_source"].split(",")[1].split("(")[0].strip()
    arch_hit = [a for a in cfg.architectures if a in jit["architectures"]]
    if arch_hit:
        return JitSupport(True, f"LMI compiles {arch_hit[0]} itself (JIT, documented for LMI "
                          f"{jit['lmi_versions']}): the manual build is optional — it saves load time and lets you "
                          "choose the build flags", src)
    if not cfg.architectures and cfg.model_type in jit["model_types"]:
        return JitSupport(True, f"LMI compiles model type {cfg.model_type} itself (JIT)", src)
    what = cfg.architecture or cfg.model_type or "this model"
    return JitSupport(False, f"{what} is not in LMI's JIT list: the manual build is the way to serve it with "
                      "TensorRT-LLM", src)
