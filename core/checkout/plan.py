"""What :func:`~.clone.checkout` would do for a tag and a folder: reuse, clone, or refuse with the fix (reads the
disk, changes nothing)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from .gitio import clone_argv, redact_url
from .model import (DEFAULT_BACKEND_URL, DEFAULT_TRTLLM_URL, SUBDIR, TEMPLATES, Checkout, CheckoutPlan, PlanStep,
                    needs_backend, normalise_tag)
from .state import _state_error, repo_state


def _expected(dest: Path, tag: str, backend: bool, reused: bool) -> Checkout:
    if backend:
        return Checkout(root=dest, backend_root=dest, trtllm_root=dest / SUBDIR,
                        template_dir=dest.joinpath(*TEMPLATES), examples_dir=dest / SUBDIR / "examples",
                        tag=tag, reused=reused)
    return Checkout(root=dest, backend_root=None, trtllm_root=dest,
                    template_dir=dest.joinpath("triton_backend", *TEMPLATES), examples_dir=dest / "examples",
                    tag=tag, reused=reused)


def plan_checkout(
    tag: str,
    dest: str | os.PathLike,
    *,
    backend_url: str = DEFAULT_BACKEND_URL,
    trtllm_url: str = DEFAULT_TRTLLM_URL,
    depth: Optional[int] = 1,
    git: str = "git",
) -> CheckoutPlan:
    """Say what :func:`checkout` would do for ``tag`` into ``dest`` (reads the disk, changes nothing).

    ``plan.error`` is set when it would refuse (wrong tag, local changes, a folder that is not a checkout).
    """
    tag, notes = normalise_tag(tag, backend_url=backend_url, trtllm_url=trtllm_url)
    if not str(dest).strip():
        raise WizardError("no checkout folder given (--dest is empty)", "give a folder name, e.g. --dest tensorrtllm_backend")
    if depth is not None and depth < 0:
        raise WizardError(f"clone depth must be 0 (full history) or more, not {depth}", "e.g. --depth 1")
    dest = Path(os.path.expanduser(os.fspath(dest))).absolute()
    backend = needs_backend(tag)
    steps: list[PlanStep] = []
    error: Optional[WizardError] = None
    if not backend_url or not trtllm_url:
        raise WizardError("a repository URL setting is empty", "set --backend-url/--trtllm-url or leave the defaults")

    def clone_step(repo: str, url: str, where: Path, action: str = "clone") -> PlanStep:
        return PlanStep(action, repo, redact_url(url), where, tag,
                        [redact_url(a) for a in clone_argv(url, tag, where, depth, git)])

    if backend:
        st = repo_state(dest, tag, ignore=(SUBDIR,), git=git)
        error = _state_error(st, "tensorrtllm_backend", tag)
        if error is None and st.is_repo:
            steps.append(PlanStep("reuse", "tensorrtllm_backend", redact_url(backend_url), dest, tag))
            sub = repo_state(dest / SUBDIR, tag, git=git)
            error = _state_error(sub, "TensorRT-LLM", tag, dest)
            if error is None:
                if sub.is_repo:
                    steps.append(PlanStep("reuse", "TensorRT-LLM", redact_url(trtllm_url), dest / SUBDIR, tag))
                else:
                    steps.append(clone_step("TensorRT-LLM", trtllm_url, dest / SUBDIR,
                                            "replace-empty" if sub.exists else "clone"))
        elif error is None:
            steps.append(clone_step("tensorrtllm_backend", backend_url, dest))
            steps.append(clone_step("TensorRT-LLM", trtllm_url, dest / SUBDIR, "replace-empty"))
    else:
        st = repo_state(dest, tag, git=git)
        error = _state_error(st, "TensorRT-LLM", tag)
        if error is None:
            if st.is_repo:
                steps.append(PlanStep("reuse", "TensorRT-LLM", redact_url(trtllm_url), dest, tag))
            else:
                steps.append(clone_step("TensorRT-LLM", trtllm_url, dest))
    reused = error is None and all(s.action == "reuse" for s in steps)
    return CheckoutPlan(tag=tag, dest=dest, layout="backend+trtllm" if backend else "trtllm-only", steps=steps,
                        result=_expected(dest, tag, backend, reused), error=error, notes=notes)
