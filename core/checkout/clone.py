"""The clone itself: each repository into a hidden temp folder next to its destination, renamed into place only
when it succeeded (a failed or cancelled clone leaves nothing), then checked again with git."""

from __future__ import annotations

import os
import shutil
from glob import escape as glob_escape
from pathlib import Path
from typing import Optional

from ..base import net
from ..base.errors import Cancelled, WizardError
from ..base.proc import run_streaming
from ..base.progress import CancelToken, ProgressFn, emit
from .gitio import clone_argv, clone_env, explain_git_failure, parse_git_progress, redact_url
from .model import DEFAULT_BACKEND_URL, DEFAULT_TRTLLM_URL, SUBDIR, Checkout, PlanStep
from .plan import plan_checkout
from .state import _is_empty_dir, _state_error, repo_state


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists
        return True
    return True


def _remove_stale_clones(final: Path) -> None:
    """Temp clones next to ``final`` left by a wizard that was killed (its pid is gone): they are ours."""
    try:
        leftovers = list(final.parent.glob(f".{glob_escape(final.name)}.cloning-*"))
    except OSError:
        return
    for d in leftovers:
        pid = d.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)) and d.is_dir():
            shutil.rmtree(d, ignore_errors=True)


def _clone(step: PlanStep, url: str, *, depth: Optional[int], git: str, progress: ProgressFn | None,
           cancel: CancelToken | None, log_path: Optional[Path], index: int, count: int) -> None:
    """Clone into a hidden temp folder next to ``step.dest``, then rename it into place."""
    final = step.dest
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.cloning-{os.getpid()}"
    _remove_stale_clones(final)
    if tmp.exists():
        shutil.rmtree(tmp)
    argv = clone_argv(url, step.tag, tmp, depth, git)
    err_lines: list[str] = []
    last = {"key": None}

    wait = net.begin(redact_url(url))  # a silent remote shows in the progress (core.base.net)

    def on_line(stream: str, line: str) -> None:
        net.heard(wait)
        if stream == "err":
            err_lines.append(line)
            del err_lines[:-200]
        for gp in parse_git_progress(line):
            key = (gp.phase, gp.percent)
            if key == last["key"]:
                continue
            last["key"] = key
            overall = (index * 100.0 + gp.overall) / count
            emit(progress, "clone", f"{step.repo}: {gp.phase} {gp.percent}% ({gp.done}/{gp.total})",
                 done=int(round(overall * 10)), total=1000, unit="‰",
                 extra={"repo": step.repo, "phase": gp.phase, "percent": gp.percent, "overall": overall})

    emit(progress, "clone", f"cloning {step.repo} {step.tag} from {step.url}",
         done=int(index * 1000 / count), total=1000, unit="‰", extra={"repo": step.repo, "phase": "start"})
    ok = False
    try:
        if cancel is not None:
            cancel.raise_if_cancelled("clone")
        res = run_streaming(argv, cwd=final.parent, env=clone_env(), on_line=on_line, log_path=log_path,
                            cancel=cancel, redact=redact_url)
        if res.cancelled or (cancel is not None and cancel.cancelled):
            raise Cancelled("clone")
        if res.returncode != 0:
            raise explain_git_failure(err_lines or res.tail, url=url, tag=step.tag, dest=final, repo=step.repo,
                                      returncode=res.returncode)
        if final.exists():
            if not _is_empty_dir(final):  # appeared meanwhile: never overwrite
                raise WizardError(f"{final} appeared while cloning", "run the checkout again")
            final.rmdir()
        os.replace(tmp, final)
        ok = True
    finally:
        net.end(wait)
        if not ok:
            shutil.rmtree(tmp, ignore_errors=True)


def checkout(
    tag: str,
    dest: str | os.PathLike,
    *,
    backend_url: str = DEFAULT_BACKEND_URL,
    trtllm_url: str = DEFAULT_TRTLLM_URL,
    depth: Optional[int] = 1,
    git: str = "git",
    log_path: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Checkout:
    """Make ``dest`` a checkout at ``tag`` (clone or reuse) and return it.

    Raises WizardError (which URL, why, the fix) on failure and Cancelled on cancel; in both cases
    the folders this call started are removed (the temp clone, and the backend clone it made).
    """
    plan = plan_checkout(tag, dest, backend_url=backend_url, trtllm_url=trtllm_url, depth=depth, git=git)
    if plan.error is not None:
        raise plan.error
    for note in plan.notes:
        emit(progress, "clone", note, extra={"phase": "note"})
    clones = plan.clones
    urls = {"tensorrtllm_backend": backend_url, "TensorRT-LLM": trtllm_url}
    created: list[Path] = []
    ok = False
    try:
        for i, step in enumerate(clones):
            existed = step.dest.exists()
            _clone(step, urls[step.repo], depth=depth, git=git, progress=progress, cancel=cancel,
                   log_path=Path(log_path) if log_path else None, index=i, count=len(clones))
            if not existed:
                created.append(step.dest)
        ok = True
    finally:
        if not ok:
            # a backend clone made by this call without its TensorRT-LLM is half a checkout: remove it
            for p in reversed(created):
                shutil.rmtree(p, ignore_errors=True)
    result = plan.result
    emit(progress, "clone", "checkout ready" if clones else "checkout reused", done=1000, total=1000, unit="‰",
         extra={"phase": "done"})
    # verify what git says now: never trust the folder names
    for root, repo in ((result.backend_root, "tensorrtllm_backend"), (result.trtllm_root, "TensorRT-LLM")):
        if root is None:
            continue
        st = repo_state(root, plan.tag, ignore=(SUBDIR,) if root == result.backend_root else (), git=git)
        err = _state_error(st, repo, plan.tag) if st.is_repo else WizardError(
            f"{root} is not a git checkout after the clone", "run the checkout again")
        if err is not None:
            raise err
    if not result.template_dir.is_dir():
        raise WizardError(f"the checkout at {plan.tag} has no Triton templates at {result.template_dir}",
                          "check that the URL settings point at tensorrtllm_backend / TensorRT-LLM")
    return result
