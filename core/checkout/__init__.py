"""Source checkout at the tag that matches the installed TensorRT-LLM (tutorial step 3).

Up to 0.19: ``git clone tensorrtllm_backend -b vX`` and, in place of its ``tensorrt_llm`` submodule folder,
``git clone TensorRT-LLM -b vX tensorrt_llm``. From 0.20 on only ``TensorRT-LLM`` is cloned; the Triton
templates live under its ``triton_backend/`` folder.

Clones are shallow (``--depth 1``), never fetch submodules and never smudge LFS files
(``GIT_LFS_SKIP_SMUDGE=1``): the build uses only the example scripts and the templates. Each clone goes to a
hidden temp folder next to its destination and is renamed into place only when it succeeded, so a failed or
cancelled clone leaves nothing behind.

An existing checkout is reused only when git says HEAD is at the tag and no tracked file is modified
(untracked files such as built engines are fine). Anything else is reported with the fix; nothing is ever
overwritten or deleted that the wizard did not create in this call.

Modules: :mod:`.model` (Checkout, the plan's data, release tags), :mod:`.gitio` (the clone command, git's
progress lines and errors), :mod:`.state` (what a folder holds, asked of git; :func:`inspect`), :mod:`.plan`
(:func:`plan_checkout`), :mod:`.clone` (:func:`checkout`).
"""

from __future__ import annotations

from ..facts.versions import git_env
from .clone import checkout
from .gitio import GitProgress, clone_argv, clone_env, explain_git_failure, parse_git_progress, redact_url
from .model import (DEFAULT_BACKEND_URL, DEFAULT_TRTLLM_URL, SUBDIR, TEMPLATES, Checkout, CheckoutPlan, PlanStep,
                    needs_backend, normalise_tag, parse_tag)
from .plan import plan_checkout
from .state import RepoState, inspect, repo_state

__all__ = [
    "checkout", "plan_checkout", "inspect", "repo_state", "RepoState", "Checkout", "CheckoutPlan", "PlanStep",
    "GitProgress", "parse_git_progress", "explain_git_failure", "clone_argv", "clone_env", "git_env", "redact_url",
    "parse_tag", "normalise_tag", "needs_backend", "DEFAULT_BACKEND_URL", "DEFAULT_TRTLLM_URL", "SUBDIR", "TEMPLATES",
]
