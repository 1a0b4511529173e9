"""The detection context the fields consult: GPUs, the installed TensorRT-LLM, model configs, the checkout's
example folders — computed lazily, cached, and settable by front ends and tests.

The cache keys are this module's business: front ends use the typed accessors (:meth:`Context.set_model_config`,
:meth:`Context.forget_examples`, :meth:`Context.set_detected` …), never a formatted key.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from ..base.errors import WizardError

__all__ = ["Context"]


class Context:
    """Detection results, the checkout and discovered flags, computed lazily and cached.

    Front ends and tests may set facts up front (``Context(installed_trtllm="0.12.0", gpu_count=2)``);
    otherwise the core detection modules are asked on first use. Every lookup tolerates a missing module or
    a failed detection (the answer is then ``None`` and the fields fall back to plain defaults).

    ``Context(wizard=True)`` is the interactive wizard's (``core.wizard.session.Session``): some defaults follow
    the machine there and not in a recipe (the load test: :meth:`serve_test_default`).
    """

    def __init__(self, **facts: Any) -> None:
        self._facts: dict[str, Any] = dict(facts)
        self._lock = threading.RLock()

    # --- the cache keys (only here) ---------------------------------------------------------------
    @staticmethod
    def _model_key(source: str) -> str:
        return f"model_config:{source}"

    @staticmethod
    def _examples_key(checkout_dir: str | os.PathLike) -> str:
        return f"examples:{os.fspath(checkout_dir)}"

    def __contains__(self, name: str) -> bool:
        return name in self._facts

    def set(self, name: str, value: Any) -> None:
        with self._lock:
            self._facts[name] = value

    def forget(self, *names: str) -> None:
        with self._lock:
            for n in names or list(self._facts):
                self._facts.pop(n, None)

    def fact(self, name: str, compute: Callable[[], Any], *, cache_empty: bool = True) -> Any:
        """``compute()`` once, cached under ``name``; a failure reads as None. With ``cache_empty=False`` an
        empty or failed result is not kept (asked again next time: the checkout may exist by then)."""
        with self._lock:
            if name in self._facts:
                return self._facts[name]
        try:
            value = compute()
        except (WizardError, ImportError, OSError, ValueError):
            value = None
        if not cache_empty and not value:
            return value
        with self._lock:
            self._facts.setdefault(name, value)
            return self._facts[name]

    # --- detection (core/gpu.py, core/versions.py, core/target.py) -----------------------------
    @property
    def installed_trtllm(self) -> Optional[str]:
        """Installed tensorrt-llm version string, or None."""
        return self.fact("installed_trtllm", _detect_trtllm)

    @property
    def gpus(self) -> list:
        return self.fact("gpus", _detect_gpus) or []

    @property
    def gpu_count(self) -> Optional[int]:
        if "gpu_count" in self._facts:
            return self._facts["gpu_count"]
        g = self.gpus
        return len(g) if g else (0 if self.fact("gpus", _detect_gpus) is not None else None)

    @property
    def gpu_arch(self) -> Optional[str]:
        """e.g. ``sm90`` for the first GPU."""
        if "gpu_arch" in self._facts:
            return self._facts["gpu_arch"]
        for g in self.gpus:
            arch = getattr(g, "arch", None) or (g.get("arch") if isinstance(g, dict) else None)
            if arch:
                return arch
        return None

    @property
    def gpu_memory_bytes(self) -> Optional[int]:
        if "gpu_memory_bytes" in self._facts:
            return self._facts["gpu_memory_bytes"]
        for g in self.gpus:
            mem = getattr(g, "memory_total_bytes", None) or (
                g.get("memory_total_bytes") if isinstance(g, dict) else None)
            if mem:
                return int(mem)
        return None

    # --- the load test (core/serve) ------------------------------------------------------------------
    @property
    def djl_serving(self) -> Optional[str]:
        """The djl-serving executable (``core.serve.find_djl_serving``: the LMI image's server), or None."""
        return self.fact("djl_serving", _detect_djl_serving)

    @property
    def interactive(self) -> bool:
        """Whether this is the interactive wizard's context (``Context(wizard=True)``), not a recipe's."""
        return bool(self._facts.get("wizard"))

    def serve_test_default(self) -> bool:
        """The load test's default: on in the wizard when djl-serving is found and GPUs are visible; off in
        recipes (a recipe runs the load test only when it says so)."""
        return self.interactive and (self.gpu_count or 0) > 0 and self.djl_serving is not None

    # --- the model (core/models.py) --------------------------------------------------------------
    def model_config(self, source: str | None, *, fetch: bool = False, endpoint: str | None = None,
                     token: str | None = None):
        """``core.models.ModelConfig`` of the model: a local folder is read at once; a Hub repo only with
        ``fetch=True`` (front ends call that from a worker) or when a front end set it before. None when
        unknown or unreadable."""
        if not source:
            return None
        key = self._model_key(str(source))
        if key in self._facts:
            return self._facts[key]
        p = Path(os.path.expanduser(str(source)))
        if not (p.is_dir() or fetch):
            return None
        from .. import models

        return self.fact(key, lambda: models.load_model_config(str(source), endpoint=endpoint, token=token),
                         cache_empty=False)

    def set_model_missing(self, source: str | None, problem: str | None, fix: str | None = None) -> None:
        """The Hub answered that ``source`` does not exist (``core.hub.RepoNotFound``); None clears it."""
        if source:
            self.set("model-missing:" + self._model_key(str(source)), (problem, fix) if problem else None)

    def model_missing(self, source: str | None):
        """``(problem, fix)`` when the Hub said this id does not exist, else None (unknown, or offline)."""
        if not source:
            return None
        return self._facts.get("model-missing:" + self._model_key(str(source)))

    def set_bucket_missing(self, bucket: str, problem: str | None, fix: str | None = None) -> None:
        """S3 answered HeadBucket with "no such bucket" (``core.s3.bucket_problem``); None: it exists."""
        self.set("bucket-missing:" + bucket, (problem, fix) if problem else None)

    def bucket_missing(self, bucket: str | None):
        """``(problem, fix)`` when S3 said the bucket does not exist, else None (exists, or not asked)."""
        return self._facts.get("bucket-missing:" + bucket) if bucket else None

    # --- the checkout (core/checkout/, core/models.py, core/build/) -------------------------
    def examples(self, checkout_dir: str | os.PathLike | None) -> list[str]:
        """Model example folder names of the checkout (empty when there is none yet)."""
        if not checkout_dir:
            return []
        key = self._examples_key(checkout_dir)
        return self.fact(key, lambda: _list_examples(Path(checkout_dir)), cache_empty=False) or []


    def set_model_config(self, source: str | None, config: Any) -> None:
        """Remember the model config of ``source`` (a front end fetched it from the Hub in a worker)."""
        if source:
            self.set(self._model_key(str(source)), config)

    def forget_model_config(self, source: str | None) -> None:
        if source:
            self.forget(self._model_key(str(source)))

    def forget_examples(self, checkout_dir: str | os.PathLike | None) -> None:
        """Forget the example list of a checkout folder (it was just cloned or changed)."""
        if checkout_dir:
            self.forget(self._examples_key(checkout_dir))

    # --- the checkout plan (core/checkout/; asks git about the folder) ------------------------------
    def checkout_plan(self, args: dict):
        """``core.checkout.plan_checkout(**args)`` cached for these arguments (a rule asks on every check; git
        is asked again when the folder, its ``.git``, HEAD or index changed, or after :meth:`forget_checkout_plan`)."""
        from .. import checkout

        key = "checkout_plan:" + repr(sorted((k, str(v)) for k, v in args.items())) + _folder_signature(args["dest"])
        with self._lock:
            if key in self._facts:
                return self._facts[key]
        plan = checkout.plan_checkout(**args)  # a WizardError (bad tag, empty folder) is the caller's to say
        self.set(key, plan)
        return plan

    def forget_checkout_plan(self) -> None:
        """Ask git again (the folder was cloned, or the screen re-plans)."""
        with self._lock:
            for k in [k for k in self._facts if k.startswith("checkout_plan:")]:
                self._facts.pop(k, None)

    # --- what a front end detected -----------------------------------------------------------------
    def set_installed_trtllm(self, version: Optional[str]) -> None:
        self.set("installed_trtllm", version)

    def set_gpus(self, gpus: list) -> None:
        self.set("gpus", list(gpus))

    def set_environment(self, report: Any) -> None:
        """Facts of a ``core.facts.environment`` report (installed TensorRT-LLM, the GPUs)."""
        gpu = getattr(report, "gpu", None)
        trt = getattr(report, "tensorrt_llm", None)
        if trt is not None:
            self.set_installed_trtllm(trt.version if trt.installed else None)
        if gpu is not None:
            self.set_gpus(list(gpu.gpus) if gpu.available else [])


def _folder_signature(dest: Any) -> str:
    """What changes when a folder is created, filled, cloned into or checked out at another commit."""
    base = Path(os.fspath(dest))
    parts = []
    for p in (base, base / ".git", base / ".git" / "HEAD", base / ".git" / "index"):
        try:
            st = p.stat()
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("-")
    return "|" + ",".join(parts)


def _detect_trtllm() -> Optional[str]:
    from ..facts import versions

    return versions.detect_tensorrt_llm().version


def _detect_gpus() -> Optional[list]:
    """The GPUs (``core.gpu.GpuInfo``); ``[]`` when none is visible."""
    from ..facts import gpu

    state = gpu.detect_gpus()
    return list(state.gpus) if state.available else []


def _detect_djl_serving() -> Optional[str]:
    from ..serve.server import find_djl_serving

    return find_djl_serving()


def _list_examples(checkout: Path) -> list[str]:
    try:
        from .. import models  # type: ignore[attr-defined]
    except ImportError:
        models = None
    fn = getattr(models, "list_examples", None) if models else None
    if callable(fn):
        res = fn(checkout, include_unbuildable=False)
        names = []
        for item in res:
            names.append(item if isinstance(item, str) else getattr(item, "name", str(item)))
        return names
    # minimal fallback: folders that hold a builder script
    names: set[str] = set()
    for base in (checkout / "tensorrt_llm" / "examples", checkout / "examples"):
        for sub in (base, base / "models" / "core", base / "models" / "contrib"):
            if sub.is_dir():
                for d in sub.iterdir():
                    if (d / "build.py").is_file() or (d / "convert_checkpoint.py").is_file():
                        names.add(d.name)
    return sorted(names)
