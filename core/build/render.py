"""The build intent, rendered per TensorRT-LLM version into the exact command(s) of that checkout.

:class:`BuildIntent` (what the person wants, with its defaults) lives here, once. :func:`render_plan` maps it
to the legacy one-step ``build.py`` (0.5–0.7) or ``convert_checkpoint.py`` then ``trtllm-build`` (0.8+).
Spellings come from the discovered flags (choices ``enable/disable`` vs ``store_true``; ``--max_seq_len`` vs
``--max_output_len``; …). A flag the builder lacks is never emitted: it is dropped *with a reason*, or
translated (max output length → max sequence length), never silently.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from ..base.errors import WizardError
from ..base.findings import Finding
from .discover import checkout_version, discover_flags, find_trtllm_build_source
from .specs import BuilderFlags
from .validate import GpuFacts, ModelFacts, _fmt, place_flags, validate_advanced, validate_intent

#: the build dtype → LMI's ``option.dtype`` spelling (serving.properties of the AOT partition tool)
LMI_DTYPE = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}


@dataclass
class BuildIntent:
    """What the person wants, independent of how a TensorRT-LLM version spells it."""

    model_dir: str = ""                  # the Hugging Face model folder (weights + config.json)
    output_dir: str = "trt_engines"      # where the engines go (relative paths: to the example folder)
    checkpoint_dir: Optional[str] = None  # convert_checkpoint.py output (0.8+); default <output_dir>_ckpt
    dtype: str = "float16"
    gemm_plugin: bool = True
    gpt_attention_plugin: bool = True
    tp_size: int = 1
    pp_size: int = 1
    world_size: Optional[int] = None     # None: tp × pp
    inflight_batching: bool = True
    paged_kv_cache: Optional[bool] = None  # None: follows inflight_batching
    context_fmha: bool = True
    remove_input_padding: bool = True
    parallel_build: bool = True
    workers: Optional[int] = None        # None: world size when parallel_build
    max_batch_size: Optional[int] = None
    max_input_len: Optional[int] = None
    max_output_len: Optional[int] = None
    max_seq_len: Optional[int] = None
    advanced: dict = field(default_factory=dict)          # extra flags of the build step (build.py / trtllm-build)
    advanced_convert: dict = field(default_factory=dict)  # extra flags of convert_checkpoint.py

    @property
    def effective_world_size(self) -> int:
        return self.world_size if self.world_size is not None else self.tp_size * self.pp_size

    @property
    def effective_paged_kv(self) -> bool:
        return self.inflight_batching if self.paged_kv_cache is None else self.paged_kv_cache

    @classmethod
    def tutorial(cls, **kw) -> "BuildIntent":
        """The tutorial's intent: FP16, gemm + gpt attention plugins, world size 2, inflight batching,
        context FMHA, remove input padding, parallel build, max input 2048, max output 512."""
        base = dict(dtype="float16", gemm_plugin=True, gpt_attention_plugin=True, tp_size=2, pp_size=1,
                    world_size=2, inflight_batching=True, context_fmha=True, remove_input_padding=True,
                    parallel_build=True, max_input_len=2048, max_output_len=512)
        base.update(kw)
        return cls(**base)


@dataclass
class Dropped:
    intent: str        # which intent item ("context FMHA", "advanced --foo")
    flag: Optional[str]
    reason: str


@dataclass
class Step:
    name: str                      # "convert", "trtllm-build", "build" (legacy), "partition"
    argv: list[str]
    cwd: Path
    builder: Optional[Path] = None  # the source its flags were discovered from
    output_dir: Optional[Path] = None

    @property
    def shell(self) -> str:
        return shlex.join(self.argv)


@dataclass
class BuildPlan:
    steps: list[Step]
    engine_dir: Path
    world_size: int
    tp_size: int
    pp_size: int
    layout: str                    # "legacy" or "two-step" or "partition"
    dropped: list[Dropped] = field(default_factory=list)
    translations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # discovery notes of the builders used
    intent: Optional[BuildIntent] = None
    trtllm_version: Optional[str] = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def preview(self) -> str:
        lines = []
        for s in self.steps:
            lines.append(f"# {s.name} (in {s.cwd})")
            lines.append(_pretty_shell(s.argv))
        for t in self.translations:
            lines.append(f"# translated: {t}")
        for d in self.dropped:
            lines.append(f"# dropped {d.flag or d.intent}: {d.reason}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "layout": self.layout, "engine_dir": str(self.engine_dir), "world_size": self.world_size,
            "tp_size": self.tp_size, "pp_size": self.pp_size, "trtllm_version": self.trtllm_version,
            "steps": [{"name": s.name, "argv": s.argv, "shell": s.shell, "cwd": str(s.cwd),
                       "builder": str(s.builder) if s.builder else None} for s in self.steps],
            "translations": self.translations,
            "dropped": [dataclasses.asdict(d) for d in self.dropped],
            "findings": [f.to_json() | {"level": f.severity} for f in self.findings],
            "notes": self.notes,
        }


def _pretty_shell(argv: Sequence[str]) -> str:
    """One flag (and its values) per line, shell-quoted, joined with backslash-newlines."""
    parts = [shlex.quote(a) for a in argv]
    lines, cur = [], []
    for a, q in zip(argv, parts):
        if a.startswith("--") and cur:
            lines.append(" ".join(cur))
            cur = []
        cur.append(q)
    if cur:
        lines.append(" ".join(cur))
    return " \\\n    ".join(lines)


class _Emitter:
    """Collects argv for one step; refuses flags the builder lacks (recording why)."""

    def __init__(self, flags: BuilderFlags, step: str, plan_dropped: list[Dropped]):
        self.flags = flags
        self.step = step
        self.argv: list[str] = []
        self.dropped = plan_dropped
        self.used: set[str] = set()

    def has(self, name: str) -> bool:
        return self.flags.has(name)

    def put(self, name: str, *values: Any) -> bool:
        spec = self.flags.get(name)
        if spec is None:
            return False
        self.used.add(spec.name)
        self.argv.append(spec.name)
        for v in values:
            self.argv.append(_fmt(v))
        return True

    def must(self, intent: str, name: str, value: Any) -> None:
        if not self.put(name, value):
            self.drop(intent, name, f"no {name} in {self.step}: it uses its default instead")

    def drop(self, intent: str, flag: Optional[str], reason: str) -> None:
        self.dropped.append(Dropped(intent, flag, f"{self.step}: {reason}"))

    def switch(self, intent: str, on: bool, names: Sequence[str], dtype: Optional[str] = None) -> None:
        """Turn a feature on/off with whatever spelling the builder has.

        enable/disable choices → ``--x enable|disable``; dtype choices → ``--x <dtype|auto>``;
        store_true → bare flag when on (nothing when off); nargs='?' with dtype choices → ``--x dtype``.
        """
        spec = self.flags.first(*names)
        if spec is None:
            if on:
                self.drop(intent, names[0], f"no {' / '.join(names)} flag in {self.step}"
                          + (f" ({self.flags.notes[0]})" if self.flags.notes else ""))
            return
        ch = [str(c) for c in spec.choices] if spec.choices else None
        if spec.action == "store_true":
            if on:
                self.put(spec.name)
            return
        if spec.action == "store_false":
            if not on:
                self.put(spec.name)
            return
        if spec.enable_disable:
            self.put(spec.name, "enable" if on else "disable")
            return
        if ch and dtype is not None:
            if not on:
                if "disable" in ch:
                    self.put(spec.name, "disable")
                return  # nargs='?' plugins: off = flag absent
            if "auto" in ch and self.flags.kind == "trtllm-build":
                self.put(spec.name, "auto")  # follows the checkpoint's dtype
            elif dtype in ch:
                self.put(spec.name, dtype)
            else:
                self.drop(intent, spec.name, f"{dtype} is not among its choices {ch}")
            return
        if spec.type in ("bool", "str2bool") or (spec.type in ("str", None) and ch is None):
            self.put(spec.name, "true" if on and spec.type in ("bool", "str2bool") else ("enable" if on else "disable"))
            return
        self.drop(intent, spec.name, f"cannot tell how to set {spec.name} (action {spec.action}, choices {ch})")


def _apply_advanced(em: _Emitter, advanced: dict) -> None:
    for name, value in advanced.items():
        argv = validate_advanced(em.flags, name, value)
        spec = em.flags.get(name)
        if spec.name in em.used:  # the advanced value wins over the intent's
            idx = em.argv.index(spec.name)
            end = idx + 1
            while end < len(em.argv) and not em.argv[end].startswith("--"):
                end += 1
            del em.argv[idx:end]
        em.used.add(spec.name)
        em.argv.extend(argv)


def _lengths(em: _Emitter, intent: BuildIntent, translations: list[str]) -> None:
    if intent.max_batch_size is not None:
        if not em.put("--max_batch_size", intent.max_batch_size):
            em.drop("max batch size", "--max_batch_size", f"no --max_batch_size in {em.flags.display_name}")
    if intent.max_input_len is not None:
        if not em.put("--max_input_len", intent.max_input_len):
            em.drop("max input length", "--max_input_len", f"no --max_input_len in {em.flags.display_name}")
    out_len, seq_len = intent.max_output_len, intent.max_seq_len
    if out_len is None and seq_len is None:
        return
    if em.has("--max_output_len") and not em.has("--max_seq_len"):
        if out_len is None:
            if intent.max_input_len is None:
                em.drop("max sequence length", "--max_seq_len", "this builder takes --max_output_len; give the "
                        "max input length too so it can be computed")
                return
            out_len = seq_len - intent.max_input_len
            translations.append(f"max sequence length {seq_len} → --max_output_len {out_len} "
                                f"(= {seq_len} − max input {intent.max_input_len}; {em.step} has no --max_seq_len)")
        em.put("--max_output_len", out_len)
        return
    if em.has("--max_seq_len"):
        if seq_len is None:
            if intent.max_input_len is None:
                em.drop("max output length", "--max_output_len", "this builder has --max_seq_len, not "
                        "--max_output_len; give the max input length so it can be computed")
                return
            seq_len = intent.max_input_len + out_len
            translations.append(f"max output length {out_len} → --max_seq_len {seq_len} "
                                f"(= max input {intent.max_input_len} + max output {out_len}; "
                                f"{em.step} has no --max_output_len)")
        em.put("--max_seq_len", seq_len)
        return
    em.drop("max output length", "--max_output_len", f"neither --max_output_len nor --max_seq_len in {em.flags.display_name}")


def _parallelism(em: _Emitter, intent: BuildIntent, world: int, legacy: bool) -> None:
    tp, pp = intent.tp_size, intent.pp_size
    if legacy and em.has("--world_size"):
        em.put("--world_size", world)
    if em.has("--tp_size"):
        em.put("--tp_size", tp)
        if em.has("--pp_size"):
            em.put("--pp_size", pp)
        elif pp != 1:
            em.drop("pipeline parallelism", "--pp_size", f"no --pp_size in {em.flags.display_name}")
    elif em.has("--world_size") and not legacy:
        if pp != 1:
            em.drop("pipeline parallelism", "--pp_size", f"only --world_size in {em.flags.display_name}")
        em.put("--world_size", world)
    elif not (legacy and em.has("--world_size")) and world > 1:
        em.drop("world size / tensor parallelism", "--tp_size",
                f"no --tp_size / --world_size in {em.flags.display_name}")


def _put_dtype(em: _Emitter, dtype: str) -> bool:
    """``--dtype`` when the builder has it (False when not); a dtype outside its choices is an error."""
    spec = em.flags.get("--dtype")
    if spec is None:
        return False
    if spec.choices and dtype not in spec.choices:
        raise WizardError(f"dtype {dtype!r} is not accepted by {em.flags.display_name}",
                          f"choose one of: {', '.join(map(str, spec.choices))}")
    return em.put("--dtype", dtype)


def _placed(intent: BuildIntent, converter: Optional[BuilderFlags], builder: BuilderFlags, findings: list):
    """The intent's extra flags per builder (:func:`.validate.place_flags`); its warnings join the plan's
    findings, its first error stops the rendering (the wizard shows the same finding beside the field)."""
    placed = place_flags(intent.advanced_convert, intent.advanced, converter, builder)
    if placed.errors:
        raise placed.errors[0].to_error()
    findings.extend(placed.findings)
    return placed


def _trtllm_build_source(ex: Path, trtllm_build_source: Optional[str | os.PathLike]) -> Path:
    """trtllm-build's source (``tensorrt_llm/commands/build.py``): given, else found above the example folder."""
    bsrc = Path(trtllm_build_source) if trtllm_build_source else find_trtllm_build_source(ex)
    if bsrc is None or not bsrc.is_file():
        raise WizardError(f"trtllm-build's source (tensorrt_llm/commands/build.py) not found above {ex}",
                          "use a full TensorRT-LLM checkout at the installed version")
    return bsrc


def example_builders(example_dir: str | os.PathLike, trtllm_build_source: Optional[str | os.PathLike] = None
                     ) -> tuple[Optional[BuilderFlags], BuilderFlags]:
    """(convert_checkpoint.py's flags or None, the build step's flags) of an example folder: trtllm-build's
    with a converter (0.8+), the legacy build.py's without. Raises WizardError when the folder has no builder."""
    ex = Path(example_dir)
    if (ex / "convert_checkpoint.py").is_file():
        converter = discover_flags(ex / "convert_checkpoint.py")
        return converter, discover_flags(_trtllm_build_source(ex, trtllm_build_source))
    if (ex / "build.py").is_file():
        return None, discover_flags(ex / "build.py")
    raise WizardError(f"no builder in {ex}: neither convert_checkpoint.py nor build.py",
                      "choose a model folder of the checkout that has one")


def extra_flag_findings(example_dir: str | os.PathLike, convert_flags: dict, build_flags: dict) -> list[Finding]:
    """What :func:`.validate.place_flags` says of these extra flags in this example folder (moved flags as
    warnings, unknown flags and refused values as errors) — what the wizard shows beside the two fields."""
    converter, builder = example_builders(example_dir)
    return place_flags(convert_flags, build_flags, converter, builder).findings


def _convert_argv(cflags: BuilderFlags, intent: BuildIntent, world: int, ckpt: str, placed,
                  dropped: list[Dropped]) -> list[str]:
    """convert_checkpoint.py's arguments (two-step builds, 0.8+)."""
    conv = _Emitter(cflags, "convert_checkpoint.py", dropped)
    if intent.model_dir:
        if not conv.put("--model_dir", intent.model_dir):
            conv.drop("model folder", "--model_dir", "no --model_dir in convert_checkpoint.py")
    conv.must("checkpoint folder", "--output_dir", ckpt)
    if not _put_dtype(conv, intent.dtype):
        conv.drop("dtype", "--dtype", "no --dtype in convert_checkpoint.py")
    _parallelism(conv, intent, world, legacy=False)
    if intent.parallel_build and world > 1 and conv.has("--workers"):
        conv.put("--workers", intent.workers or world)
    _apply_advanced(conv, placed.convert)
    return conv.argv


def _trtllm_build_argv(bflags: BuilderFlags, intent: BuildIntent, world: int, ckpt: str, out_dir: Path, placed,
                       dropped: list[Dropped], translations: list[str]) -> list[str]:
    """trtllm-build's arguments (two-step builds, 0.8+)."""
    bld = _Emitter(bflags, "trtllm-build", dropped)
    bld.must("checkpoint folder", "--checkpoint_dir", ckpt)
    bld.must("engine folder", "--output_dir", str(out_dir))
    bld.switch("gemm plugin", intent.gemm_plugin, ["--gemm_plugin", "--use_gemm_plugin"], intent.dtype)
    bld.switch("gpt attention plugin", intent.gpt_attention_plugin,
               ["--gpt_attention_plugin", "--use_gpt_attention_plugin"], intent.dtype)
    if intent.inflight_batching and not bflags.has("--use_inflight_batching"):
        translations.append("inflight batching → paged KV cache (trtllm-build has no --use_inflight_batching; "
                            "in-flight batching needs paged KV cache, the gpt attention plugin and removed "
                            "input padding)")
    if bflags.has("--use_inflight_batching"):
        bld.switch("inflight batching", intent.inflight_batching, ["--use_inflight_batching"])
    paged = intent.effective_paged_kv
    if bflags.get("--kv_cache_type") is not None:
        bld.put("--kv_cache_type", "paged" if paged else "continuous")
    else:
        bld.switch("paged KV cache", paged, ["--paged_kv_cache"])
    bld.switch("context FMHA", intent.context_fmha, ["--context_fmha", "--enable_context_fmha"])
    bld.switch("remove input padding", intent.remove_input_padding, ["--remove_input_padding"])
    if intent.parallel_build and world > 1:
        if bflags.has("--workers"):
            bld.put("--workers", intent.workers or world)
        elif bflags.has("--parallel_build"):
            bld.put("--parallel_build")
        else:
            bld.drop("parallel build", "--workers", "no --workers / --parallel_build in trtllm-build")
    _lengths(bld, intent, translations)
    _apply_advanced(bld, placed.build)
    return bld.argv


def _legacy_argv(lflags: BuilderFlags, intent: BuildIntent, world: int, out_dir: Path, placed,
                 dropped: list[Dropped], translations: list[str]) -> list[str]:
    """The example's build.py arguments (one-step builds, before 0.8)."""
    em = _Emitter(lflags, "build.py", dropped)
    if intent.model_dir:
        if not em.put("--model_dir", intent.model_dir):
            em.drop("model folder", "--model_dir", "no --model_dir in build.py")
    _put_dtype(em, intent.dtype)
    em.switch("gemm plugin", intent.gemm_plugin, ["--use_gemm_plugin", "--gemm_plugin"], intent.dtype)
    em.switch("gpt attention plugin", intent.gpt_attention_plugin,
              ["--use_gpt_attention_plugin", "--gpt_attention_plugin"], intent.dtype)
    _parallelism(em, intent, world, legacy=True)
    em.must("engine folder", "--output_dir", str(out_dir))
    em.switch("inflight batching", intent.inflight_batching, ["--use_inflight_batching"])
    em.switch("paged KV cache", intent.effective_paged_kv, ["--paged_kv_cache"])
    em.switch("context FMHA", intent.context_fmha, ["--enable_context_fmha", "--context_fmha"])
    em.switch("remove input padding", intent.remove_input_padding, ["--remove_input_padding"])
    if intent.parallel_build and world > 1:
        if lflags.has("--parallel_build"):
            em.put("--parallel_build")
        elif lflags.has("--workers"):
            em.put("--workers", intent.workers or world)
        else:
            em.drop("parallel build", "--parallel_build", "no --parallel_build in build.py")
    _lengths(em, intent, translations)
    _apply_advanced(em, placed.build)
    return em.argv


def render_plan(example_dir: str | os.PathLike, intent: BuildIntent, *, python: str = "python3",
                trtllm_build: Sequence[str] = ("trtllm-build",), trtllm_build_source: Optional[str | os.PathLike] = None,
                trtllm_version: Optional[str] = None, gpu: Optional["GpuFacts"] = None,
                model: Optional["ModelFacts"] = None, purpose: str = "build") -> BuildPlan:
    """The exact command(s) for ``intent`` in this checkout's example folder, with what was dropped or
    translated and the validation findings. Raises WizardError for inputs that cannot be rendered at all."""
    ex = Path(example_dir)
    if not ex.is_dir():
        what = f"{ex} is a file, not an example folder" if ex.exists() else f"example folder not found: {ex}"
        raise WizardError(what, "give a folder like <checkout>/examples/llama")
    legacy_src, convert_src = ex / "build.py", ex / "convert_checkpoint.py"
    if trtllm_version is None:
        trtllm_version = checkout_version(ex)
    world = intent.effective_world_size
    findings = validate_intent(intent, gpu=gpu, model=model, trtllm_version=trtllm_version, purpose=purpose)
    # automatic adjustments the findings explain
    old_gpu = gpu is not None and gpu.sm is not None and gpu.sm < 80
    if old_gpu and intent.context_fmha:
        intent = dataclasses.replace(intent, context_fmha=False)
    dropped: list[Dropped] = []
    translations: list[str] = []
    out_dir = Path(intent.output_dir)
    engine_dir = out_dir if out_dir.is_absolute() else ex / out_dir
    if convert_src.is_file():
        cflags = discover_flags(convert_src)
        bsrc = _trtllm_build_source(ex, trtllm_build_source)
        bflags = discover_flags(bsrc)
        placed = _placed(intent, cflags, bflags, findings)
        ckpt = intent.checkpoint_dir or (str(out_dir) + "_ckpt" if str(out_dir) not in ("", ".") else "tllm_checkpoint")
        conv_argv = _convert_argv(cflags, intent, world, ckpt, placed, dropped)
        bld_argv = _trtllm_build_argv(bflags, intent, world, ckpt, out_dir, placed, dropped, translations)
        steps = [Step("convert", [python, "convert_checkpoint.py", *conv_argv], ex, convert_src, ex / ckpt),
                 Step("trtllm-build", [*trtllm_build, *bld_argv], ex, bsrc, engine_dir)]
        notes = [f"convert_checkpoint.py: {n}" for n in cflags.notes] + [f"trtllm-build: {n}" for n in bflags.notes]
        layout = "two-step"
    elif legacy_src.is_file():
        lflags = discover_flags(legacy_src)
        placed = _placed(intent, None, lflags, findings)
        argv = _legacy_argv(lflags, intent, world, out_dir, placed, dropped, translations)
        steps = [Step("build", [python, "build.py", *argv], ex, legacy_src, engine_dir)]
        notes = [f"build.py: {n}" for n in lflags.notes]
        layout = "legacy"
    else:
        raise WizardError(f"no builder in {ex}: neither convert_checkpoint.py nor build.py",
                          "choose a model folder of the checkout that has one")
    if old_gpu and not intent.context_fmha:
        translations.append(f"context FMHA turned off: it needs sm80+, this GPU is sm{gpu.sm}")
    return BuildPlan(steps, engine_dir, world, intent.tp_size, intent.pp_size, layout, dropped, translations,
                     findings, notes, intent, trtllm_version)
