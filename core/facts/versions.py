"""Installed TensorRT-LLM / TensorRT versions (never imported), version → git tag, template location.

* :func:`detect_tensorrt_llm` / :func:`detect_tensorrt` read ``importlib.metadata`` only.
* :func:`parse_version` reads PEP 440 with ``packaging.version`` (a declared dependency). The stand-alone
  ``doctor`` runs on a bare GPU machine with the standard library only (``python -S -I``, no site-packages),
  and it reads versions too (the LMI release table, the installed TensorRT-LLM): there, and only when
  ``packaging`` cannot be imported, a small fallback regex does the same job (a test checks both agree).
* :func:`resolve_tag` maps a version to the release tag whose templates match it (pure; give it the
  tag names you know). :func:`find_tag` gets those names from ``git ls-remote --tags`` (short
  timeout) or a local checkout, and never raises for an unreachable remote: it says so in a note.
* Up to 0.19.x the Triton templates live in triton-inference-server/tensorrtllm_backend
  ``all_models/inflight_batcher_llm/``; from 0.20 in NVIDIA/TensorRT-LLM
  ``triton_backend/all_models/inflight_batcher_llm/``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..base.errors import WizardError
from ..base.progress import CancelToken

TRTLLM_DISTS = ("tensorrt_llm", "tensorrt-llm")
TENSORRT_DISTS = ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11",
                  "tensorrt-cu13-bindings", "tensorrt-cu12-bindings", "tensorrt-cu11-bindings")

BACKEND_URL = "https://github.com/triton-inference-server/tensorrtllm_backend.git"
TRTLLM_URL = "https://github.com/NVIDIA/TensorRT-LLM.git"
DEFAULT_TIMEOUT = 4.0


# --- installed packages ------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledPackage:
    name: str  # what we looked for, e.g. "tensorrt_llm"
    installed: bool
    version: str | None = None
    distribution: str | None = None  # the distribution that matched, e.g. "tensorrt-cu12"

    def to_json(self) -> dict[str, Any]:
        return {"installed": self.installed, "version": self.version, "distribution": self.distribution}


def _may_be_on_path(candidates: Sequence[str], entries: Iterable[str]) -> bool:
    """A cheap look before ``importlib.metadata`` (whose import and scan cost the wizard's first screen ~10 ms):
    can any ``sys.path`` folder hold one of ``candidates`` (a ``name-version.dist-info`` / ``name.egg-info`` /
    package folder starting with the normalised name)? A path entry that is not a folder (a zip) says yes:
    importlib.metadata then looks inside it."""
    prefixes = tuple({re.sub(r"[-_.]+", "_", c).lower() for c in candidates})
    for entry in entries:
        try:
            with os.scandir(entry or ".") as it:
                for e in it:
                    if re.sub(r"[-_.]+", "_", e.name).lower().startswith(prefixes):
                        return True
        except NotADirectoryError:
            return True
        except OSError:  # missing or unreadable: importlib.metadata finds nothing there either
            continue
    return False


def installed_version(name: str, candidates: Sequence[str],
                      path: Sequence[str | os.PathLike] | None = None) -> InstalledPackage:
    """First of ``candidates`` (distribution names) installed; ``path`` replaces ``sys.path`` (tests)."""
    import sys

    if path is None and not _may_be_on_path(candidates, sys.path):
        return InstalledPackage(name, False)
    from importlib import metadata  # here, not at the top: it costs start-up time for every verb

    for dist_name in candidates:
        try:
            if path is None:
                dist = metadata.distribution(dist_name)
            else:
                found = list(metadata.distributions(name=dist_name, path=[os.fspath(p) for p in path]))
                if not found:
                    continue
                dist = found[0]
        except metadata.PackageNotFoundError:
            continue
        except Exception:  # broken metadata: treat as absent, never crash detection
            continue
        version = dist.version
        if version:
            return InstalledPackage(name, True, str(version), dist_name)
    return InstalledPackage(name, False)


def detect_tensorrt_llm(path: Sequence[str | os.PathLike] | None = None) -> InstalledPackage:
    return installed_version("tensorrt_llm", TRTLLM_DISTS, path)


def detect_tensorrt(path: Sequence[str | os.PathLike] | None = None) -> InstalledPackage:
    return installed_version("tensorrt", TENSORRT_DISTS, path)


# --- PEP 440 versions: packaging.version, with a stdlib fallback for the bare-machine doctor -------

# The fallback only: PEP 440's own regex, shortened (used when ``packaging`` is not importable).
_FALLBACK_RE = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?P<pre_n>\d+)?)?
    (?:(?:-(?P<post_n1>\d+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?))?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_NORM = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}


@dataclass(frozen=True)
class Version:
    release: tuple[int, ...]
    pre: tuple[str, int] | None = None  # ("rc", 6)
    post: int | None = None
    dev: int | None = None
    local: str | None = None
    epoch: int = 0
    raw: str = ""

    @property
    def base(self) -> str:
        """"1.2.0rc6.post2+x" → "1.2.0" (release numbers only)."""
        return ".".join(str(p) for p in self.release)

    @property
    def public(self) -> str:
        """Normalised version without the local part: "1.2.0rc6.post2"."""
        s = (f"{self.epoch}!" if self.epoch else "") + self.base
        if self.pre:
            s += f"{self.pre[0]}{self.pre[1]}"
        if self.post is not None:
            s += f".post{self.post}"
        if self.dev is not None:
            s += f".dev{self.dev}"
        return s

    def minor(self) -> tuple[int, int]:
        r = self.release + (0, 0)
        return (r[0], r[1])

    def key(self) -> tuple:
        """Sort key following PEP 440 ordering (dev < pre < release < post)."""
        rel = self.release
        while len(rel) > 1 and rel[-1] == 0:
            rel = rel[:-1]
        if self.pre is None and self.post is None and self.dev is not None:
            pre_k: tuple = (-1, "", 0)  # X.Y.devN sorts before X.YaN
        elif self.pre is None:
            pre_k = (1, "", 0)
        else:
            pre_k = (0, self.pre[0], self.pre[1])
        post_k = -1 if self.post is None else self.post
        dev_k = float("inf") if self.dev is None else self.dev
        return (self.epoch, rel, pre_k, post_k, dev_k)

    def __str__(self) -> str:
        return self.public + (f"+{self.local}" if self.local else "")


def _not_a_version(text: str) -> WizardError:
    return WizardError(f"not a version: {text!r}", "give a version such as 0.12.0 or 1.2.0rc6")


def _parse_packaging(text: str) -> Version:
    from packaging.version import InvalidVersion, Version as _Pep440

    try:
        v = _Pep440(text)
    except InvalidVersion:
        raise _not_a_version(text) from None
    return Version(tuple(v.release), (v.pre[0], v.pre[1]) if v.pre else None, v.post, v.dev, v.local, v.epoch,
                   text.strip())


def _parse_fallback(text: str) -> Version:
    m = _FALLBACK_RE.match(text)
    if not m:
        raise _not_a_version(text)
    pre = (_PRE_NORM[m.group("pre_l").lower()], int(m.group("pre_n") or 0)) if m.group("pre_l") else None
    post = (int(m.group("post_n1")) if m.group("post_n1") is not None
            else int(m.group("post_n2") or 0) if m.group("post_l") else None)
    dev = int(m.group("dev_n") or 0) if m.group("dev_l") else None
    local = m.group("local").lower().replace("-", ".").replace("_", ".") if m.group("local") else None
    return Version(tuple(int(p) for p in m.group("release").split(".")), pre, post, dev, local,
                   int(m.group("epoch") or 0), text.strip())


@lru_cache(maxsize=1)
def _parser():
    try:
        import packaging.version  # noqa: F401  (deferred: the stdlib-only doctor must not need it)
    except ImportError:
        return _parse_fallback
    return _parse_packaging


def parse_version(text: str) -> Version:
    """Parse a PEP 440 version ("0.12.0", "0.12.0.dev2024080600", "1.2.0rc6.post2", "0.17.0+cu12",
    also a tag "v0.12.0") with ``packaging.version``. Raises WizardError for text that is not a version."""
    return _parser()(text or "")


def try_parse_version(text: str | None) -> Version | None:
    try:
        return parse_version(text or "")
    except WizardError:
        return None


def release_tuple(text: str | None) -> tuple[int, int, int] | None:
    """The release numbers padded to three, for comparisons such as ``>= (0, 14, 0)``:
    "0.14.0rc1" → (0, 14, 0), "v0.29" → (0, 29, 0); None for None or text that is not a version."""
    v = try_parse_version(text)
    if v is None:
        return None
    r = v.release + (0, 0, 0)
    return (r[0], r[1], r[2])


# --- where the templates live -------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateRepo:
    key: str  # "tensorrtllm_backend" | "TensorRT-LLM"
    github: str  # owner/name
    url: str
    subdir: str  # where inflight_batcher_llm lives

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "github": self.github, "url": self.url, "subdir": self.subdir}


def template_repo_for(version: str | Version, *, backend_url: str = BACKEND_URL,
                      trtllm_url: str = TRTLLM_URL) -> TemplateRepo:
    """Up to 0.19.x: tensorrtllm_backend ``all_models/...``; from 0.20: TensorRT-LLM ``triton_backend/...``."""
    v = parse_version(version) if isinstance(version, str) else version
    if v.minor() < (0, 20):
        return TemplateRepo("tensorrtllm_backend", "triton-inference-server/tensorrtllm_backend", backend_url,
                            "all_models/inflight_batcher_llm")
    return TemplateRepo("TensorRT-LLM", "NVIDIA/TensorRT-LLM", trtllm_url,
                        "triton_backend/all_models/inflight_batcher_llm")


# --- version → tag ------------------------------------------------------------------------------


@dataclass
class TagResolution:
    version: str
    tag: str | None
    exact: bool
    needs_confirmation: bool
    template_repo: TemplateRepo
    notes: list[str] = field(default_factory=list)
    tags_source: str | None = None  # "git ls-remote URL" / "checkout DIR" / None (not checked)
    tag_verified: bool = False  # the tag was seen in the list of tags

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tag": self.tag,
            "exact": self.exact,
            "needs_confirmation": self.needs_confirmation,
            "tag_verified": self.tag_verified,
            "tags_source": self.tags_source,
            "template_repo": self.template_repo.to_json(),
            "notes": list(self.notes),
        }


def _tag_index(tags: Iterable[str]) -> dict[str, str]:
    """normalised version string → tag name, for tags that look like versions."""
    index: dict[str, str] = {}
    for t in tags:
        v = try_parse_version(t)
        if v is not None and (t.startswith("v") or t[:1].isdigit()):
            index.setdefault(v.public, t)
    return index


def resolve_tag(version: str, tags: Iterable[str] | None = None, *, backend_url: str = BACKEND_URL,
                trtllm_url: str = TRTLLM_URL, tags_source: str | None = None) -> TagResolution:
    """The tag whose templates match ``version``. ``tags`` are the names known to exist (None: not
    checked, the tag is derived from the version alone)."""
    v = parse_version(version)
    repo = template_repo_for(v, backend_url=backend_url, trtllm_url=trtllm_url)
    notes: list[str] = []
    if len(v.release) < 3:  # PEP 440: 0.12 == 0.12.0, and every TensorRT-LLM tag names three numbers
        padded = v.release + (0,) * (3 - len(v.release))
        v = Version(padded, v.pre, v.post, v.dev, v.local, v.epoch, v.raw)
        notes.append(f"{version.strip()} is {v.public} (the tag names three numbers)")
    known = _tag_index(tags) if tags is not None else None

    def have(public: str) -> str | None:
        if known is None:
            return None
        return known.get(parse_version(public).public)

    if v.local:
        notes.append(f"local build (+{v.local}): using the release tag it was built from")
    # candidates from most to least specific
    exact_public = Version(v.release, v.pre, v.post, v.dev).public
    needs_confirmation = False
    tag: str | None = None
    exact = False

    if v.dev is not None:
        # a development build *before* the release: nearest tag is the release it leads to
        target = Version(v.release, v.pre, v.post).public
        needs_confirmation = True
        notes.append(f"{version} is a development build before v{target}; its templates may differ "
                     f"from v{target}: confirm the tag")
        tag = have(target) if known is not None else f"v{target}"
    elif v.post is not None:
        base_pub = Version(v.release, v.pre).public
        if known is not None and have(exact_public):
            tag, exact = have(exact_public), True
        else:
            tag = have(base_pub) if known is not None else f"v{base_pub}"
            if known is None:
                notes.append(f"could not check whether tag v{exact_public} exists; using v{base_pub} "
                             "(post releases repackage the same sources)")
            else:
                notes.append(f"no tag v{exact_public}; using v{base_pub} (post releases repackage the same sources)")
    else:
        tag = have(exact_public) if known is not None else f"v{exact_public}"
        exact = True
        if v.pre is not None:
            notes.append(f"{version} is a release candidate: its tag exists only if NVIDIA published one")

    if known is not None and tag is None:
        # nearest older tag of the same repo (same minor line first)
        exact = False
        needs_confirmation = True
        cands = sorted(((parse_version(p), t) for p, t in known.items()), key=lambda x: x[0].key())
        older = [(pv, t) for pv, t in cands if pv.key() <= v.key() and
                 template_repo_for(pv).key == repo.key]
        same_line = [(pv, t) for pv, t in older if pv.minor() == v.minor()]
        pick = (same_line or older)[-1:] if (same_line or older) else []
        if pick:
            tag = pick[0][1]
            notes.append(f"no tag for {version} in {repo.github}; nearest older tag is {tag}: confirm it")
        else:
            notes.append(f"no tag at or below {version} in {repo.github}; give the tag yourself (--tag)")
    if known is not None and tag is not None:
        tag_verified = True
    else:
        tag_verified = False
    if known is None:
        notes.append(f"tag derived from the version only (offline: tags of {repo.github} not checked)")
    return TagResolution(version, tag, exact and not needs_confirmation, needs_confirmation, repo, notes,
                         tags_source, tag_verified)


# --- tag lists from git -------------------------------------------------------------------------


@dataclass
class TagListing:
    tags: frozenset[str] | None  # None: could not list
    source: str
    note: str | None = None


def parse_ls_remote(text: str) -> set[str]:
    tags: set[str] = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[1].startswith("refs/tags/"):
            continue
        name = parts[1][len("refs/tags/"):]
        if name.endswith("^{}"):
            name = name[:-3]
        tags.add(name)
    return tags


def git_env() -> dict[str, str]:
    """Environment for every git the wizard runs: never prompt for credentials, English messages (parsed),
    never download LFS objects."""
    env = dict(os.environ)
    env.update({
        "GIT_TERMINAL_PROMPT": "0",  # never hang on a password prompt
        "GIT_LFS_SKIP_SMUDGE": "1",  # never download LFS objects
        "LC_ALL": "C", "LANG": "C", "LANGUAGE": "C",  # English messages, which we parse
    })
    env.setdefault("GIT_ASKPASS", "true")
    return env


def list_remote_tags(url: str, *, timeout: float = DEFAULT_TIMEOUT, cancel: CancelToken | None = None) -> TagListing:
    """``git ls-remote --tags URL`` with a short timeout. Never raises for a network problem."""
    from ..base.proc import run_capture

    source = f"git ls-remote {url}"
    try:
        # "--": a URL setting that starts with "-" (--upload-pack=…) is a repository, never an option
        res = run_capture(["git", "ls-remote", "--tags", "--", url], env=git_env(), timeout=timeout, cancel=cancel)
    except WizardError as exc:
        if exc.exit_code == 130:  # cancelled
            raise
        return TagListing(None, source, f"cannot list tags of {url}: {exc}")
    if res.returncode == -9:
        return TagListing(None, source, f"cannot list tags of {url}: no answer within {timeout:g} s (offline?)")
    if res.returncode != 0:
        err = (res.stderr.strip().splitlines() or ["git failed"])[-1]
        return TagListing(None, source, f"cannot list tags of {url}: {err}")
    return TagListing(frozenset(parse_ls_remote(res.stdout)), source)


def list_checkout_tags(path: str | os.PathLike, *, timeout: float = 10.0) -> TagListing:
    """Tags of a local git checkout (``git tag --list``)."""
    from ..base.proc import run_capture

    p = Path(path)
    source = f"checkout {p}"
    if not p.is_dir():
        return TagListing(None, source, f"checkout {p} does not exist")
    try:
        res = run_capture(["git", "-C", str(p), "tag", "--list"], env=git_env(), timeout=timeout)
    except WizardError as exc:
        return TagListing(None, source, f"cannot list tags of {p}: {exc}")
    if res.returncode != 0:
        err = (res.stderr.strip().splitlines() or ["git failed"])[-1]
        return TagListing(None, source, f"cannot list tags of {p}: {err}")
    return TagListing(frozenset(t.strip() for t in res.stdout.splitlines() if t.strip()), source)


def checkout_kind(path: str | os.PathLike) -> str | None:
    """Which template repo a checkout is: "TensorRT-LLM", "tensorrtllm_backend" or None."""
    p = Path(path)
    if (p / "triton_backend" / "all_models" / "inflight_batcher_llm").is_dir() or (p / "tensorrt_llm").is_dir():
        return "TensorRT-LLM"
    if (p / "all_models" / "inflight_batcher_llm").is_dir():
        return "tensorrtllm_backend"
    return None


def find_tag(version: str, *, offline: bool = False, checkout: str | os.PathLike | None = None,
             backend_url: str = BACKEND_URL, trtllm_url: str = TRTLLM_URL,
             timeout: float = DEFAULT_TIMEOUT, cancel: CancelToken | None = None) -> TagResolution:
    """Resolve ``version`` against real tag names: a local checkout first (when given), else
    ``git ls-remote`` of the repo that holds that version's templates (unless ``offline``); up to 0.19 the
    TensorRT-LLM remote is listed too (concurrently), since the checkout clones both at the tag.
    When neither answers, the tag is derived from the version alone, with a note."""
    repo = template_repo_for(version, backend_url=backend_url, trtllm_url=trtllm_url)
    notes: list[str] = []
    listing: TagListing | None = None
    # up to 0.19 the checkout clones BOTH repos at the tag: ask TensorRT-LLM too, at the same time
    other: dict[str, TagListing] = {}
    other_thread = None
    if repo.key == "tensorrtllm_backend" and not offline and checkout is None:
        import threading

        def _list_other() -> None:
            try:
                other["listing"] = list_remote_tags(trtllm_url, timeout=timeout, cancel=cancel)
            except WizardError:  # cancelled: the main listing says so
                pass

        other_thread = threading.Thread(target=_list_other, name="ls-remote-trtllm", daemon=True)
        other_thread.start()
    if checkout is not None:
        listing = list_checkout_tags(checkout)
        kind = checkout_kind(checkout)
        if listing.tags is not None and kind is not None and kind != repo.key:
            notes.append(f"checkout {checkout} looks like {kind}, but {version}'s templates are in {repo.github}")
        if listing.tags is None:
            notes.append(listing.note or f"cannot read tags of {checkout}")
            listing = None
    if listing is None and not offline:
        listing = list_remote_tags(repo.url, timeout=timeout, cancel=cancel)
        if listing.tags is None:
            notes.append(listing.note or f"cannot reach {repo.url}")
            listing = None
    res = resolve_tag(version, listing.tags if listing else None, backend_url=backend_url, trtllm_url=trtllm_url,
                      tags_source=listing.source if listing else None)
    if other_thread is not None:
        other_thread.join()
        second = other.get("listing")
        if second is None or second.tags is None:
            notes.append(f"TensorRT-LLM's tags not checked ({second.note if second else 'cancelled'}): "
                         "the checkout clones it at the same tag")
        elif res.tag is not None and res.tag not in second.tags:
            res.needs_confirmation, res.exact = True, False
            notes.append(f"tag {res.tag} is in {repo.github} but not in NVIDIA/TensorRT-LLM ({trtllm_url}), "
                         "which the checkout clones at the same tag: give a tag both have (--tag)")
    res.notes[:0] = notes
    return res
