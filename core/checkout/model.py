"""The checkout's data (what is on disk, what a plan would do) and the release tags it is cloned at."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from ..facts.versions import BACKEND_URL as DEFAULT_BACKEND_URL  # one place for the default remotes
from ..facts.versions import TRTLLM_URL as DEFAULT_TRTLLM_URL
from ..facts.versions import template_repo_for, try_parse_version

SUBDIR = "tensorrt_llm"  # where the tutorial puts TensorRT-LLM inside tensorrtllm_backend
TEMPLATES = ("all_models", "inflight_batcher_llm")


@dataclass(frozen=True)
class Checkout:
    """A checkout on disk, ready for the build."""

    root: Path  # the folder the user named (--dest)
    backend_root: Optional[Path]  # tensorrtllm_backend clone (None from 0.20)
    trtllm_root: Path  # TensorRT-LLM clone
    template_dir: Path  # .../all_models/inflight_batcher_llm
    examples_dir: Path  # TensorRT-LLM/examples
    tag: Optional[str]  # the tag both repos are at (None: inspect() of a checkout not at a tag)
    reused: bool = False  # True when nothing had to be cloned

    @property
    def layout(self) -> str:
        return "backend+trtllm" if self.backend_root is not None else "trtllm-only"

    def to_dict(self) -> dict:
        d = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        d["layout"] = self.layout
        return d


@dataclass
class PlanStep:
    action: str  # "clone" | "reuse" | "replace-empty" (clone into the empty submodule folder)
    repo: str  # "tensorrtllm_backend" | "TensorRT-LLM"
    url: str  # credentials redacted
    dest: Path
    tag: str
    argv: list[str] = field(default_factory=list)  # the git command for a clone (URL redacted)

    def describe(self) -> str:
        if self.action == "reuse":
            return f"reuse {self.repo} at {self.dest} (already at {self.tag}, no local changes)"
        verb = "clone" if self.action == "clone" else "clone into the empty submodule folder"
        return f"{verb} {self.repo} {self.tag} from {self.url} into {self.dest}"

    def to_dict(self) -> dict:
        return {"action": self.action, "repo": self.repo, "url": self.url, "dest": str(self.dest),
                "tag": self.tag, "argv": list(self.argv), "describe": self.describe()}


@dataclass
class CheckoutPlan:
    """What :func:`checkout` would do. ``error`` set: it would stop with that message, doing nothing."""

    tag: str
    dest: Path
    layout: str
    steps: list[PlanStep]
    result: Checkout  # the checkout it would produce
    error: Optional[WizardError] = None
    notes: list[str] = field(default_factory=list)  # e.g. the tag given was a version, normalised

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def clones(self) -> list[PlanStep]:
        return [s for s in self.steps if s.action != "reuse"]

    def to_dict(self) -> dict:
        return {"tag": self.tag, "dest": str(self.dest), "layout": self.layout, "ok": self.ok, "notes": self.notes,
                "error": None if self.error is None else {"problem": self.error.problem, "fix": self.error.fix},
                "steps": [s.to_dict() for s in self.steps], "result": self.result.to_dict()}


def parse_tag(tag: str) -> tuple[str, tuple[int, ...]]:
    """``"v0.12.0"`` / ``"0.12.0"`` → (``"v0.12.0"``, (0, 12, 0)). Any PEP 440 release spelling is kept as
    given (``v0.21.0rc1``, ``v1.2.0rc6.post2``); the numbers come from :func:`versions.parse_version`."""
    t = (tag or "").strip()
    v = try_parse_version(t) if re.fullmatch(r"v?\d[0-9A-Za-z.+_-]*", t) else None
    if v is None or len(v.release) < 2:
        raise WizardError(f"not a TensorRT-LLM release tag: {tag!r}",
                          "give the tag like v0.12.0 (the installed tensorrt-llm version with a leading v)")
    if not t.startswith("v"):
        t = "v" + t
    return t, v.release


def normalise_tag(tag: str, *, backend_url: str = DEFAULT_BACKEND_URL, trtllm_url: str = DEFAULT_TRTLLM_URL,
                  offline: bool = False) -> tuple[str, list[str]]:
    """The tag to clone for what the user typed, as ``doctor`` and recipes resolve a version: a local build
    (``0.18.0+ngcpytorch2602``), a dev build (``.dev…``) or a post release (``.post1``) maps to the release
    tag it comes from (a post tag is kept when the remote has it). Plain release spellings are returned as
    :func:`parse_tag` gives them, with no lookup. Returns (tag, notes saying what was changed and why)."""
    t, _ = parse_tag(tag)
    v = try_parse_version(t)
    if v is None or not (v.local or v.dev is not None or v.post is not None):
        return t, []
    from ..facts.versions import find_tag

    res = find_tag(t[1:], offline=offline, backend_url=backend_url, trtllm_url=trtllm_url)
    if res.tag is None:
        raise WizardError(f"no release tag matches {tag!r} ({'; '.join(res.notes) or 'no such tag'})",
                          "give the release tag itself, e.g. --tag v" + ".".join(map(str, v.release)))
    if res.tag == t:
        return t, []
    return res.tag, [f"--tag {tag}: using {res.tag}" + (f" ({'; '.join(res.notes)})" if res.notes else "")]


def needs_backend(tag: str) -> bool:
    """True when the tag's Triton templates live in tensorrtllm_backend (before 0.20; the boundary is
    :func:`versions.template_repo_for`'s)."""
    t, _ = parse_tag(tag)
    return template_repo_for(t).key == "tensorrtllm_backend"
