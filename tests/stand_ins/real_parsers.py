"""Stand-in builder that runs the REAL builder's own argument parser, then writes fake engines.

The wizard runs ``<python> build.py ARGS`` / ``<python> convert_checkpoint.py ARGS`` in the example folder and
``<trtllm-build> ARGS``; a test points ``python`` at this script and ``trtllm-build`` at ``this --trtllm-build``.
It imports the checkout's real source (``build.py``, ``convert_checkpoint.py`` or
``tensorrt_llm/commands/build.py`` with its real ``plugin/plugin.py``) with the heavy packages stubbed in
``sys.modules`` (torch, tensorrt, transformers, … and every ``tensorrt_llm`` module the partial checkout lacks),
runs that source's ``parse_arguments()`` (and ``parse_args()`` on the parser it returns, as recent
``trtllm-build``'s ``main()`` does) on exactly the argv it was given — argparse exits 2 on an unknown flag,
as it does for a user — and then writes what the builder would (checkpoint / engines / config.json) from the
parsed arguments. Upstream code stays in the checkout (copied there from ../shared/fixtures by the test).
"""

from __future__ import annotations

import argparse
import enum
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from unittest import mock

STUBBED = ("torch", "tensorrt", "transformers", "safetensors", "onnx", "mpi4py", "modelopt", "ammo", "datasets",
           "accelerate", "sentencepiece", "peft", "h5py", "cuda", "nvtx", "tensorrt_llm_bindings")


class KVCacheType(enum.Enum):
    """The C++ binding ``tensorrt_llm.bindings.KVCacheType`` (its help text: continuous, paged, or disabled),
    which recent ``trtllm-build`` parses ``--kv_cache_type`` with (``enum_type(KVCacheType)``)."""

    CONTINUOUS = 0
    PAGED = 1
    DISABLED = 2

    @classmethod
    def from_string(cls, value: str) -> "KVCacheType":
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"invalid KVCacheType {value!r}") from None


# names of compiled bindings a parser needs as real types (everything else stubbed is a MagicMock)
BINDINGS = {"tensorrt_llm.bindings": {"KVCacheType": KVCacheType}}


class _StubModule(types.ModuleType):
    """A module whose every attribute is a MagicMock; a package stub also serves names of its real submodules
    (``from tensorrt_llm.plugin import add_plugin_argument`` finds the real ``plugin/plugin.py``'s)."""

    def __init__(self, name: str, real_dir: Path | None = None):
        super().__init__(name)
        self.__path__ = [str(real_dir)] if real_dir else []
        self.__file__ = f"<stub {name}>"
        self._real_dir = real_dir

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if self._real_dir is not None:
            for py in sorted(self._real_dir.glob("*.py")):
                mod = importlib.import_module(f"{self.__name__}.{py.stem}")
                if attr in vars(mod):
                    return vars(mod)[attr]
        value = mock.MagicMock(name=f"{self.__name__}.{attr}")
        setattr(self, attr, value)
        return value


class _Loader(importlib.abc.Loader):
    def __init__(self, real_dir: Path | None = None):
        self.real_dir = real_dir

    def create_module(self, spec):
        return _StubModule(spec.name, self.real_dir)

    def exec_module(self, module):
        for attr, value in BINDINGS.get(module.__name__, {}).items():
            setattr(module, attr, value)


class _Finder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: ``tensorrt_llm.*`` from the checkout when the file is there, else a stub, and
    the heavy packages always stubbed. Last on sys.meta_path (``fallback``): any other module not installed."""

    def __init__(self, root: Path | None, fallback: bool = False):
        self.root, self.fallback = root, fallback

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if self.fallback:
            return importlib.machinery.ModuleSpec(name, _Loader(), is_package=True)
        if top in STUBBED:
            return importlib.machinery.ModuleSpec(name, _Loader(), is_package=True)
        if top != "tensorrt_llm":
            return None
        rel = Path(*name.split("."))
        if self.root is not None and (self.root / rel).with_suffix(".py").is_file():
            return importlib.util.spec_from_file_location(name, (self.root / rel).with_suffix(".py"))
        real_dir = self.root / rel if self.root is not None and (self.root / rel).is_dir() else None
        return importlib.machinery.ModuleSpec(name, _Loader(real_dir), is_package=True)


class _Parsed(Exception):
    def __init__(self, parser, namespace):
        self.parser, self.namespace = parser, namespace


def parse_with_real_parser(script: Path, argv: list[str], *, module_name: str, root: Path | None):
    """Import ``script`` (heavy imports stubbed) and run its ``parse_arguments()`` on ``argv``; returns the
    argparse Namespace. argparse's own SystemExit(2) passes through for an unknown flag or a bad value."""
    sys.meta_path.insert(0, _Finder(root))
    sys.meta_path.append(_Finder(None, fallback=True))
    sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location(module_name, script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    original = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        raise _Parsed(self, original(self, args, namespace))

    argparse.ArgumentParser.parse_args = capture
    sys.argv = [str(script), *argv]
    try:
        made = module.parse_arguments()
        if isinstance(made, argparse.ArgumentParser):  # recent trtllm-build: main() calls parse_args()
            made.parse_args()
    except _Parsed as done:
        return done.namespace
    finally:
        argparse.ArgumentParser.parse_args = original
    raise SystemExit(f"[stand-in] {script} parse_arguments() returned without parsing")


def _checkout_root(start: Path) -> Path:
    for d in (start, *start.parents):
        if (d / "tensorrt_llm" / "commands" / "build.py").is_file():
            return d
    raise SystemExit(f"[stand-in trtllm-build] no tensorrt_llm/commands/build.py above {start}")


def _tp_pp(ns) -> tuple[int, int]:
    tp = getattr(ns, "tp_size", None) or getattr(ns, "world_size", None) or 1
    pp = getattr(ns, "pp_size", None) or 1
    return int(tp), int(pp)


def _write_engines(out: Path, names: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        print(f"[stand-in] writing {name} ({i + 1}/{len(names)})", flush=True)
        (out / name).write_bytes(b"\0fake engine %d\0" % i * 16)


def legacy_build(ns, example: str) -> None:
    """What the one-step build.py (≤ 0.7) leaves: <model>_<dtype>_tp<N>_rank<r>.engine, config.json
    (``builder_config`` + ``plugin_config``) and model.cache."""
    world = int(getattr(ns, "world_size", 1) or 1)
    tp, pp = _tp_pp(ns)
    if not getattr(ns, "tp_size", None):
        tp = world
    out = Path(ns.output_dir)
    _write_engines(out, [f"{example}_{ns.dtype}_tp{world}_rank{r}.engine" for r in range(world)])
    cfg = {"builder_config": {"name": example, "precision": ns.dtype, "tensor_parallel": tp,
                              "pipeline_parallel": pp, "max_batch_size": ns.max_batch_size,
                              "max_input_len": ns.max_input_len, "max_output_len": ns.max_output_len},
           "plugin_config": {"gemm_plugin": ns.use_gemm_plugin, "gpt_attention_plugin": ns.use_gpt_attention_plugin,
                             "paged_kv_cache": bool(getattr(ns, "paged_kv_cache", False)),
                             "remove_input_padding": bool(ns.remove_input_padding),
                             "context_fmha": bool(getattr(ns, "enable_context_fmha", False))}}
    (out / "config.json").write_text(json.dumps(cfg))
    (out / "model.cache").write_bytes(b"timing cache")


def convert(ns, example: str) -> None:
    tp, pp = _tp_pp(ns)
    out = Path(ns.output_dir)
    _write_engines(out, [f"rank{r}.safetensors" for r in range(tp * pp)])
    cfg = {"architecture": f"{example.capitalize()}ForCausalLM", "dtype": ns.dtype,
           "mapping": {"world_size": tp * pp, "tp_size": tp, "pp_size": pp}}
    if getattr(ns, "model_version", None):
        cfg["model_version"] = ns.model_version
    (out / "config.json").write_text(json.dumps(cfg))


def _plain(v):
    """A parsed value as the builder's config.json holds it (an enum by its name; a stubbed default dropped)."""
    if isinstance(v, enum.Enum):
        return v.name.lower()
    return v if isinstance(v, (int, float, str, bool)) or v is None else None


def trtllm_build(ns) -> None:
    ckpt = json.loads((Path(ns.checkpoint_dir) / "config.json").read_text())
    world = ckpt["mapping"]["world_size"]
    out = Path(ns.output_dir)
    _write_engines(out, [f"rank{r}.engine" for r in range(world)])
    build = {k: _plain(getattr(ns, k)) for k in ("max_batch_size", "max_input_len", "max_seq_len", "max_output_len",
                                                 "max_beam_width", "max_num_tokens", "kv_cache_type")
             if isinstance(_plain(getattr(ns, k, None)), (int, str))}
    plugins = {k: _plain(getattr(ns, k)) for k in ("gemm_plugin", "gpt_attention_plugin", "context_fmha",
                                                   "remove_input_padding", "paged_kv_cache")
               if isinstance(_plain(getattr(ns, k, None)), (int, str))}
    cfg = {"version": "stand-in", "pretrained_config": ckpt, "build_config": dict(build, plugin_config=plugins)}
    (out / "config.json").write_text(json.dumps(cfg))


def main(argv: list[str]) -> int:
    cwd = Path.cwd()
    if argv and argv[0] == "--trtllm-build":
        root = _checkout_root(cwd)
        ns = parse_with_real_parser(root / "tensorrt_llm" / "commands" / "build.py", argv[1:],
                                    module_name="tensorrt_llm.commands.build", root=root)
        trtllm_build(ns)
        return 0
    script = (cwd / argv[0]).resolve()
    root = next((d for d in script.parents if (d / "tensorrt_llm").is_dir()), None)
    ns = parse_with_real_parser(script, argv[1:], module_name="__stand_in_builder__", root=root)
    example = script.parent.name
    if script.name == "build.py":
        legacy_build(ns, example)
    else:
        convert(ns, example)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
