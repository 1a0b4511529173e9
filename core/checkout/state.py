"""What a folder holds, asked of git (folder names are never trusted): at the tag, with local changes, or not a
checkout at all; :func:`inspect` describes an existing checkout for the build."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from .gitio import _git
from .model import SUBDIR, TEMPLATES, Checkout

def _is_empty_dir(p: Path) -> bool:
    return p.is_dir() and not any(p.iterdir())


@dataclass
class RepoState:
    path: Path
    exists: bool
    is_repo: bool = False
    at_tag: bool = False
    head: str = ""
    where: str = ""  # what git says HEAD is ("v0.11.0", or "commit abc1234")
    dirty: list[str] = field(default_factory=list)  # modified tracked files (porcelain lines)
    empty: bool = False


def repo_state(path: Path, tag: str, *, ignore: tuple[str, ...] = (), git: str = "git") -> RepoState:
    """What ``path`` holds, asked of git (folder names are not trusted)."""
    path = Path(path)
    if not path.exists():
        return RepoState(path, exists=False)
    if not path.is_dir():
        return RepoState(path, exists=True)
    if _is_empty_dir(path):
        return RepoState(path, exists=True, empty=True)
    rc, top, _ = _git(["rev-parse", "--show-toplevel"], path, git)
    if rc != 0 or Path(top).resolve() != path.resolve():
        return RepoState(path, exists=True)
    st = RepoState(path, exists=True, is_repo=True)
    rc, head, _ = _git(["rev-parse", "HEAD"], path, git)
    st.head = head if rc == 0 else ""
    rc, tags, _ = _git(["tag", "--points-at", "HEAD"], path, git)
    tag_list = tags.split() if rc == 0 else []
    # a tag fetched under its name, or (a clone of a mirror without the tag ref) the tag commit
    rc2, tag_commit, _ = _git(["rev-parse", "--verify", "-q", f"refs/tags/{tag}^{{commit}}"], path, git)
    st.at_tag = tag in tag_list or (rc2 == 0 and tag_commit == st.head and bool(st.head))
    if tag_list:
        st.where = tag if tag in tag_list else tag_list[0]
    else:
        rc, desc, _ = _git(["describe", "--tags", "--always"], path, git)
        st.where = f"{desc}" if rc == 0 and desc else f"commit {st.head[:12]}"
    rc, porcelain, _ = _git(["status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all"], path, git)
    lines = [ln for ln in porcelain.splitlines() if ln.strip()]
    keep = []
    for ln in lines:
        p = ln[3:].split(" -> ")[-1].strip().strip('"')
        if any(p == i or p.startswith(i + "/") for i in ignore):
            continue
        keep.append(ln)
    st.dirty = keep
    return st


def _state_error(st: RepoState, repo: str, tag: str, root: Optional[Path] = None) -> Optional[WizardError]:
    p = st.path
    q = shlex.quote(str(p))  # for the commands in a fix: paths may hold spaces
    root = root or p
    if not st.exists or st.empty:
        return None
    if not st.is_repo:
        if p.is_dir():
            return WizardError(f"{p} exists and is not a {repo} git checkout",
                               "choose another --dest, or move that folder away")
        return WizardError(f"{p} exists and is not a folder", "choose another --dest")
    if not st.at_tag:
        return WizardError(
            f"{p} is a {repo} checkout at {st.where or 'an unknown commit'}, not at {tag}",
            f"use another --dest (e.g. {root.name}-{tag}), or switch it yourself: "
            f"`git -C {q} fetch --depth 1 origin tag {tag} && git -C {q} checkout {tag}`")
    if st.dirty:
        shown = ", ".join(ln[3:] for ln in st.dirty[:5]) + (" …" if len(st.dirty) > 5 else "")
        return WizardError(
            f"{p} ({repo} {tag}) has local changes: {shown}",
            f"commit or discard them (`git -C {q} status`; `git -C {q} checkout -- .`), or use another --dest")
    return None


def inspect(path: str | os.PathLike, *, git: str = "git") -> Checkout:
    """Describe an existing checkout folder (backend root, TensorRT-LLM root, or the 0.20+ root).

    The tag is what git reports for the TensorRT-LLM clone (None when HEAD is not at a tag or git is
    unavailable). Raises WizardError when the folder is not a checkout.
    """
    p = Path(os.path.expanduser(os.fspath(path)))  # os.path: an unknown ~user stays as written
    if not p.is_dir():
        raise WizardError(f"checkout folder not found: {p}", "run `lmi-wizard checkout --tag vX.Y.Z --dest DIR` first")
    backend: Optional[Path] = None
    if (p / SUBDIR / "examples").is_dir():
        backend, trtllm = p, p / SUBDIR
    elif (p / "examples").is_dir():
        trtllm = p
    elif p.name == "examples" and (p.parent / "tensorrt_llm").is_dir():
        trtllm = p.parent
        if trtllm.parent.joinpath(*TEMPLATES).is_dir():
            backend = trtllm.parent
    else:
        hint = " (its tensorrt_llm folder is empty: the TensorRT-LLM clone is missing)" \
            if _is_empty_dir(p / SUBDIR) else ""
        raise WizardError(f"{p} is not a TensorRT-LLM checkout: no examples/ folder{hint}",
                          "run `lmi-wizard checkout --tag vX.Y.Z --dest DIR` and pass that DIR")
    if backend is not None and backend.joinpath(*TEMPLATES).is_dir():
        templates = backend.joinpath(*TEMPLATES)
    else:
        templates = trtllm.joinpath("triton_backend", *TEMPLATES)
        if not templates.is_dir() and backend is None and trtllm.parent.joinpath(*TEMPLATES).is_dir():
            backend = trtllm.parent
            templates = backend.joinpath(*TEMPLATES)
    tag: Optional[str] = None
    try:
        rc, tags, _ = _git(["tag", "--points-at", "HEAD"], trtllm, git)
        if rc == 0 and tags:
            tag = sorted(tags.split())[0]
    except WizardError:  # git not installed
        tag = None
    return Checkout(root=p, backend_root=backend, trtllm_root=trtllm, template_dir=templates,
                    examples_dir=trtllm / "examples", tag=tag, reused=True)
