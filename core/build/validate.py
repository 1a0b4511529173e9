"""Will this build intent build (and serve) here? :func:`validate_intent` checks it against the GPU
(:class:`GpuFacts`), the model (:class:`ModelFacts`: heads, layers, a memory estimate) and the TensorRT-LLM
version, returning :class:`~..base.findings.Finding` s.
"""

from __future__ import annotations

import dataclasses
import shlex
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from ..base.errors import WizardError
from ..base.findings import Finding
from ..base.fmt import gib
from ..facts.versions import release_tuple
from ..sizing import BYTES_PER_DTYPE, tp_split_problem

if typing.TYPE_CHECKING:
    from .render import BuildIntent
    from .specs import BuilderFlags

DTYPES = ("float16", "bfloat16", "float32")
MAX_WORLD_SIZE = 1024  # TP × PP above this is a typo, not a cluster


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------

@dataclass
class GpuFacts:
    name: str = ""
    sm: Optional[int] = None          # compute capability as an int: 75, 80, 86, 89, 90
    memory_bytes: Optional[int] = None
    count: int = 0                    # visible GPUs

    @classmethod
    def from_capability(cls, name: str, capability: tuple[int, int], memory_bytes: Optional[int], count: int):
        return cls(name, capability[0] * 10 + capability[1], memory_bytes, count)

    @classmethod
    def from_gpu_state(cls, state) -> Optional["GpuFacts"]:
        """From :class:`gpu.GpuState` (GPU 0 and the visible count); None when no GPU is visible."""
        if not getattr(state, "available", False) or not state.gpus:
            return None
        g = state.gpus[0]
        return cls.from_capability(g.name, tuple(g.compute_capability), g.memory_total_bytes, len(state.gpus))


@dataclass
class ModelFacts:
    num_attention_heads: Optional[int] = None
    num_key_value_heads: Optional[int] = None
    num_parameters: Optional[int] = None
    hidden_size: Optional[int] = None
    num_hidden_layers: Optional[int] = None
    vocab_size: Optional[int] = None
    intermediate_size: Optional[int] = None

    @classmethod
    def from_config(cls, cfg: dict) -> "ModelFacts":
        """From a Hugging Face config.json dict, read by :class:`models.ModelConfig` (one place for the key
        spellings of every family and for the parameter estimate)."""
        from ..models import ModelConfig

        facts = cls.coerce(ModelConfig("config.json", "dict", Path("config.json"), dict(cfg)))
        if isinstance(cfg.get("num_parameters"), int):
            facts.num_parameters = cfg["num_parameters"]
        return facts

    @classmethod
    def coerce(cls, obj) -> Optional["ModelFacts"]:
        """A ModelFacts from None, ModelFacts, a config.json dict, or a :class:`models.ModelConfig`."""
        if obj is None or isinstance(obj, ModelFacts):
            return obj
        if isinstance(obj, dict):
            return cls.from_config(obj)
        facts = cls(**{f.name: getattr(obj, f.name, None) for f in dataclasses.fields(cls)})
        est = getattr(obj, "estimate_parameters", None)
        if facts.num_parameters is None and callable(est):
            facts.num_parameters = est()
        return facts

    def estimated_parameters(self) -> Optional[int]:
        """``num_parameters`` when known, else the estimate of :meth:`models.ModelConfig.estimate_parameters`
        from these fields."""
        if self.num_parameters:
            return self.num_parameters
        from ..models import ModelConfig

        raw = {k: v for k, v in dataclasses.asdict(self).items() if v is not None and k != "num_parameters"}
        return ModelConfig("facts", "dict", Path("config.json"), raw).estimate_parameters()

    def kv_bytes_per_token(self, dtype_bytes: float) -> Optional[float]:
        h, n = self.hidden_size, self.num_hidden_layers
        if not (h and n and self.num_attention_heads):
            return None
        kv = self.num_key_value_heads or self.num_attention_heads
        return 2 * n * kv * (h / self.num_attention_heads) * dtype_bytes


def validate_intent(intent: BuildIntent, *, gpu: Optional[GpuFacts] = None, model=None,
                    trtllm_version: Optional[str] = None, purpose: str = "build") -> list[Finding]:
    """Reasons an intent will not build or serve here. ``purpose``: "build" or "serve"."""
    model = ModelFacts.coerce(model)
    out = _intent_findings(intent)
    if gpu is not None:
        out += _gpu_findings(intent, gpu, trtllm_version, purpose)
    if model is not None:
        out += _model_findings(intent, model, gpu)
    return out


def _intent_findings(intent: BuildIntent) -> list[Finding]:
    """The intent on its own: parallel sizes, dtype, lengths, what inflight batching needs."""
    out: list[Finding] = []
    tp, pp = intent.tp_size, intent.pp_size
    world = intent.effective_world_size
    for name, v in (("tensor parallel size", tp), ("pipeline parallel size", pp), ("world size", world)):
        if not isinstance(v, int) or v < 1:
            out.append(Finding("error", "parallel_size", f"{name} must be a positive whole number (got {v})",
                               "use 1, 2, 4 or 8"))
    if isinstance(world, int) and world > MAX_WORLD_SIZE:
        out.append(Finding("error", "world_too_large", f"world size {world} (TP {tp} × PP {pp}) is not a realistic "
                           f"number of GPUs (at most {MAX_WORLD_SIZE})",
                           "use the GPU count of the instance you deploy to (1, 2, 4 or 8)"))
    if intent.world_size is not None and tp * pp != intent.world_size:
        out.append(Finding("error", "tp_pp_world", f"TP × PP = {tp} × {pp} = {tp * pp}, but the world size is "
                           f"{intent.world_size}", "make TP × PP equal the world size"))
    if intent.dtype not in DTYPES:
        out.append(Finding("error", "dtype", f"dtype {intent.dtype!r} is not one of {', '.join(DTYPES)}",
                           "use float16 or bfloat16"))
    for name in ("max_batch_size", "max_input_len", "max_output_len", "max_seq_len", "workers"):
        v = getattr(intent, name)
        if v is not None and (not isinstance(v, int) or v < 1):
            out.append(Finding("error", name, f"{name} must be a positive whole number (got {v})", None))
    if intent.max_seq_len is not None and intent.max_input_len is not None and intent.max_seq_len <= intent.max_input_len:
        out.append(Finding("error", "max_seq_len", f"max sequence length {intent.max_seq_len} leaves no room for "
                           f"output after max input {intent.max_input_len}", "make max_seq_len > max_input_len"))
    if intent.inflight_batching and not intent.effective_paged_kv:
        out.append(Finding("warning", "ifb_paged", "inflight batching needs the paged KV cache", "enable paged KV cache"))
    if intent.inflight_batching and not (intent.gpt_attention_plugin and intent.remove_input_padding):
        out.append(Finding("warning", "ifb_plugins", "inflight batching needs the gpt attention plugin and removed "
                           "input padding", "turn both on"))
    return out


def _gpu_findings(intent: BuildIntent, gpu: GpuFacts, trtllm_version: Optional[str], purpose: str) -> list[Finding]:
    """The intent on this machine's GPUs: their count, and what their architecture supports."""
    out: list[Finding] = []
    world = intent.effective_world_size
    if world > gpu.count:
        if purpose == "serve":
            out.append(Finding("error", "world_gt_gpus", f"world size {world} needs {world} GPUs, this machine "
                               f"shows {gpu.count}", "serve on an instance with enough GPUs or lower TP"))
        else:
            out.append(Finding("warning", "world_gt_gpus", f"world size {world} > {gpu.count} visible GPU(s): "
                               "the build runs serially (slower), and serving needs "
                               f"{world} GPUs of this architecture", None))
    if gpu.sm is None:
        return out
    ver = release_tuple(trtllm_version)
    if gpu.sm < 80 and intent.context_fmha:
        out.append(Finding("warning", "context_fmha_sm", f"context FMHA needs sm80+ (Ampere or newer); "
                           f"{gpu.name or 'this GPU'} is sm{gpu.sm}, so it is turned off", None))
    if gpu.sm == 75 and ver is not None and ver >= (0, 14, 0):
        out.append(Finding("error", "sm75_unsupported", f"TensorRT-LLM {trtllm_version} no longer supports "
                           f"sm75 (T4, {gpu.name or 'this GPU'}); support ended with 0.14",
                           "use an LMI image with TensorRT-LLM ≤ 0.13 or an sm80+ GPU (A10G, L4, A100, H100)"))
    if gpu.sm < 70:
        out.append(Finding("error", "sm_too_old", f"sm{gpu.sm} is not supported by TensorRT-LLM",
                           "use a Volta (sm70) or newer GPU"))
    return out


def _model_findings(intent: BuildIntent, model: ModelFacts, gpu: Optional[GpuFacts]) -> list[Finding]:
    """The intent against the model: how TP splits its heads, PP its layers, and (with a GPU) its memory."""
    out: list[Finding] = []
    tp, pp = intent.tp_size, intent.pp_size
    hit = tp_split_problem(model.num_attention_heads, model.num_key_value_heads, tp) if isinstance(tp, int) else None
    if hit:
        out.append(Finding("error", *hit))
    if model.num_hidden_layers and pp > model.num_hidden_layers:
        out.append(Finding("error", "pp_layers", f"PP {pp} is more than the model's {model.num_hidden_layers} layers",
                           "lower PP"))
    params = model.estimated_parameters()
    if params and gpu is not None and gpu.memory_bytes and tp >= 1 and pp >= 1:
        out.append(_memory_finding(intent, model, params, gpu.memory_bytes))
    return out


def _memory_finding(intent: BuildIntent, model: ModelFacts, params: float, mem: int) -> Finding:
    """The weights (and the KV cache of the longest batch) per GPU against its memory."""
    tp, pp = intent.tp_size, intent.pp_size
    b = BYTES_PER_DTYPE.get(intent.dtype, 2)
    per_gpu = params * b / (tp * pp)
    kv_tok = model.kv_bytes_per_token(b)
    seq = intent.max_seq_len or ((intent.max_input_len or 0) + (intent.max_output_len or 0)) or None
    kv_need = kv_tok * seq * (intent.max_batch_size or 1) / (tp * pp) if kv_tok and seq else None
    if per_gpu > 0.95 * mem:
        return Finding("error", "weights_memory", f"weights ≈ {gib(per_gpu)} per GPU "
                       f"({params / 1e9:.1f} B params × {b:g} B / TP {tp}{f' / PP {pp}' if pp > 1 else ''}) "
                       f"do not fit in {gib(mem)}", "raise TP/PP or use a GPU with more memory")
    if per_gpu > 0.8 * mem or (kv_need and per_gpu + kv_need > 0.9 * mem):
        extra = f" + KV cache for batch {intent.max_batch_size or 1} × {seq} tokens ≈ {gib(kv_need)}" if kv_need else ""
        return Finding("warning", "weights_memory", f"weights ≈ {gib(per_gpu)} per GPU{extra} of "
                       f"{gib(mem)}: little headroom for the KV cache",
                       "raise TP, lower max batch size / lengths, or use a bigger GPU")
    return Finding("info", "weights_memory", f"weights ≈ {gib(per_gpu)} per GPU of {gib(mem)}", None)


def validate_advanced(flags: "BuilderFlags", name: str, value: Any) -> list[str]:
    """argv for an advanced flag ``name`` = ``value`` checked against the discovered type/choices.

    ``value`` True/None for a switch; a list for nargs='+'. Raises WizardError for an unknown flag or a
    value the builder would refuse.
    """
    spec = flags.get(name)
    if spec is None:
        raise WizardError(f"{flags.display_name} has no flag {name if name.startswith('-') else '--' + name}",
                          f"see `lmi-wizard flags {shlex.quote(str(flags.path))}` for the flags this checkout knows")
    if spec.is_switch:
        if value in (True, None, "", "true", "True", "1"):
            return [spec.name]
        if value in (False, "false", "False", "0"):
            return []
        raise WizardError(f"{spec.name} is a switch ({spec.action}) and takes no value (got {value!r})",
                          f"pass {spec.name} on its own, or leave it out")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if spec.nargs in (None, "?") and len(values) > 1:
        raise WizardError(f"{spec.name} takes one value, got {len(values)}", "give a single value")
    if value is None or value is True:
        if spec.nargs == "?":
            return [spec.name]
        raise WizardError(f"{spec.name} needs a value", f"give {spec.name}=VALUE")
    out = [spec.name]
    for v in values:
        sv = _fmt(v)
        if spec.type == "int":
            try:
                int(sv)
            except ValueError:
                raise WizardError(f"{spec.name} expects an integer, got {sv!r}", "give a whole number") from None
        elif spec.type == "float":
            try:
                float(sv)
            except ValueError:
                raise WizardError(f"{spec.name} expects a number, got {sv!r}", "give a number") from None
        elif spec.type == "str2bool" and sv.lower() not in ("true", "false", "yes", "no", "1", "0", "t", "f", "y", "n"):
            raise WizardError(f"{spec.name} expects true/false, got {sv!r}", "give true or false")
        if spec.choices is not None and sv not in [str(c) for c in spec.choices]:
            raise WizardError(f"{sv!r} is not a valid value for {spec.name}",
                              f"choose one of: {', '.join(map(str, spec.choices))}")
        out.append(sv)
    return out




def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# --------------------------------------------------------------------------------------------------
# Extra flags: which builder gets each one (the one rule; the screen, --plain, recipes, plan and run use it)
# --------------------------------------------------------------------------------------------------

@dataclass
class FlagPlacement:
    """Extra flags split per builder, after :func:`place_flags`: ``convert`` for convert_checkpoint.py (empty
    with the one-step legacy build.py), ``build`` for trtllm-build / build.py, and what was moved or refused."""

    convert: dict
    build: dict
    findings: list

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]


CONVERT_KEY, BUILD_KEY = "build.convert_flags", "build.build_flags"


def _flag_name(name: str) -> str:
    return name if name.startswith("-") else "--" + name


def place_flags(convert_flags: Mapping[str, Any], build_flags: Mapping[str, Any],
                converter: Optional["BuilderFlags"], builder: "BuilderFlags") -> FlagPlacement:
    """Send each extra flag to the builder that defines it.

    ``converter`` is None for the one-step legacy ``build.py`` (≤ 0.7), where every flag goes to ``builder``.
    A flag asked of the side that does not define it moves to the other side when exactly that one defines it
    (a warning says so: the tutorial's ``--model_version v1_13b`` is a build.py flag before 0.8 and a
    convert_checkpoint.py flag after); a flag neither defines, or a value its builder would refuse, is an
    error naming the flag and the builders. The person's own placement wins when both sides define a flag.
    """
    out_c: dict = {}
    out_b: dict = {}
    findings: list[Finding] = []
    sides = {"convert": (converter, out_c, CONVERT_KEY), "build": (builder, out_b, BUILD_KEY)}
    other = {"convert": "build", "build": "convert"}
    asked = [("convert", k, v) for k, v in dict(convert_flags or {}).items()] + \
            [("build", k, v) for k, v in dict(build_flags or {}).items()]
    # the person's own placements first, so a moved flag never overrides one written for that builder
    asked.sort(key=lambda t: not (sides[t[0]][0] is not None and sides[t[0]][0].has(t[1])))
    for side, name, value in asked:
        flags, table, key = sides[side]
        o_flags, o_table, _ = sides[other[side]]
        shown = _flag_name(name)
        if flags is not None and flags.has(name):
            target, target_table = flags, table
        elif o_flags is not None and o_flags.has(name):
            target, target_table = o_flags, o_table
            if flags is None:
                why = (f"this checkout builds in one step with {o_flags.display_name} (no convert_checkpoint.py), "
                       f"which defines {shown}")
            else:
                why = f"{flags.display_name} has no {shown}; {o_flags.display_name} defines it"
            if any(o_flags.get(k) is o_flags.get(name) for k in o_table):
                findings.append(Finding("warning", "flag-twice", f"{shown} is given for both builders; "
                                        f"{o_flags.display_name} takes the value written for it", "give it once",
                                        key=key))
                continue
            findings.append(Finding("warning", "flag-moved", f"{shown} goes to {o_flags.display_name}: {why}",
                                    f"write it under {'convert_flags' if side == 'build' else 'build_flags'} to "
                                    "say so yourself", key=key))
        else:
            present = [f for f in (flags, o_flags) if f is not None]
            nor = f", nor has {present[1].display_name}" if len(present) > 1 else ""
            if flags is None:
                nor += (f" (this checkout builds in one step with the legacy {present[0].display_name}: "
                        "there is no convert_checkpoint.py)")
            lists = " and ".join(f"`lmi-wizard flags {shlex.quote(str(f.path))}`" for f in present)
            findings.append(Finding("error", "unknown-flag", f"{present[0].display_name} has no flag {shown}{nor}",
                                    f"remove it, or use a flag listed by {lists}", key=key))
            continue
        try:
            validate_advanced(target, name, value)
        except WizardError as exc:
            findings.append(Finding("error", "bad-flag-value", f"{target.display_name}: {exc.problem}", exc.fix,
                                    key=key))
            continue
        target_table[name] = value
    return FlagPlacement(out_c, out_b, findings)
