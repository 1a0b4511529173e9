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
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from glob import escape as glob_escape
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .base.errors import Cancelled, WizardError
from .base import net
from .base.net import DEFAULT_SILENCE, SETTING, silence_timeout
from .base.proc import run_capture, run_streaming
from .base.progress import CancelToken, ProgressFn, emit

from .facts.versions import BACKEND_URL as DEFAULT_BACKEND_URL  # one place for the default remotes
from .facts.versions import TRTLLM_URL as DEFAULT_TRTLLM_URL
from .facts.versions import git_env, template_repo_for, try_parse_version
SUBDIR = "tensorrt_llm"  # where the tutorial puts TensorRT-LLM inside tensorrtllm_backend
TEMPLATES = ("all_models", "inflight_batcher_llm")


# --------------------------------------------------------------------------------------------------------
# data

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


# --------------------------------------------------------------------------------------------------------
# small helpers

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
    from .facts.versions import find_tag

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


def redact_url(text: str) -> str:
    """Hide ``user:token@`` in URLs (a mirror URL may carry credentials) and any other secret
    (``core.base.secrets.redact``)."""
    from .base.secrets import redact

    return redact(text)


def _silence_or_default() -> float:
    try:
        return silence_timeout()
    except WizardError:
        return DEFAULT_SILENCE


def clone_env() -> dict[str, str]:
    """git's environment for a clone: an http(s) remote that sends nothing (less than 1 byte/s) for
    ``LMI_WIZARD_NET_TIMEOUT`` seconds ends the clone (curl's low-speed limit), instead of waiting forever."""
    env = git_env()
    env["GIT_HTTP_LOW_SPEED_LIMIT"] = "1"
    env["GIT_HTTP_LOW_SPEED_TIME"] = str(max(1, int(round(silence_timeout()))))
    return env


def _git(args: list[str], cwd: Path, git: str = "git") -> tuple[int, str, str]:
    res = run_capture([git, *args], cwd=cwd, env=git_env(), timeout=60)
    # only trailing whitespace: a porcelain line starts with a meaningful space (" M README.md")
    return res.returncode, res.stdout.rstrip(), res.stderr.strip()


def _is_empty_dir(p: Path) -> bool:
    return p.is_dir() and not any(p.iterdir())


def clone_argv(url: str, tag: str, dest: Path, depth: Optional[int] = 1, git: str = "git") -> list[str]:
    argv = [git, "-c", "advice.detachedHead=false", "clone", "--progress", "--branch", tag, "--single-branch",
            "--no-recurse-submodules"]
    if depth:
        argv += ["--depth", str(int(depth))]
    return argv + ["--", url, str(dest)]


# --------------------------------------------------------------------------------------------------------
# git's progress lines

_PROGRESS = re.compile(r"^(?:remote:\s*)?(?P<phase>[A-Za-z][A-Za-z ]+?):\s+(?P<pct>\d{1,3})%\s+\((?P<done>\d+)/(?P<total>\d+)\)")
# share of a clone's time for each phase (clone = 0..100)
_PHASES = {"Enumerating objects": (0, 0), "Counting objects": (0, 3), "Compressing objects": (3, 8),
           "Receiving objects": (8, 85), "Resolving deltas": (85, 92), "Updating files": (92, 100),
           "Checking out files": (92, 100)}


@dataclass
class GitProgress:
    phase: str
    percent: int
    done: int
    total: int
    overall: float  # 0..100 for this clone


def parse_git_progress(line: str) -> list[GitProgress]:
    """Parse one line of ``git clone --progress`` output (it may hold several ``\\r``-separated updates)."""
    out = []
    for seg in re.split(r"[\r\n]+", line):
        m = _PROGRESS.match(seg.strip())
        if not m:
            continue
        phase = m.group("phase").strip()
        pct = min(100, int(m.group("pct")))
        lo, hi = _PHASES.get(phase, (None, None))
        if lo is None:
            continue
        out.append(GitProgress(phase, pct, int(m.group("done")), int(m.group("total")),
                               lo + (hi - lo) * pct / 100.0))
    return out


# --------------------------------------------------------------------------------------------------------
# git's errors

_ERRORS: list[tuple[re.Pattern, str, str]] = [
    (re.compile(r"Operation too slow|Less than \d+ bytes/sec transferred", re.I),
     "no answer from {url} for {silence:g} s",
     "check the network / proxy (HTTPS_PROXY) or use a reachable mirror; to wait longer set " + SETTING
     + " (seconds, now {silence:g})"),
    (re.compile(r"Remote branch (\S+) not found in upstream|Could not find remote branch (\S+)", re.I),
     "tag {tag} not found in {url}",
     "check the version (the tag is v plus the installed tensorrt-llm version); list the tags with "
     "`git ls-remote --tags {qurl}`; a mirror may lack new tags"),
    (re.compile(r"Could not resolve host|Name or service not known|Temporary failure in name resolution", re.I),
     "cannot reach {url}: could not resolve the host name (offline?)",
     "check the network or DNS, or point the URL setting at a reachable mirror (--backend-url/--trtllm-url)"),
    (re.compile(r"Failed to connect|Connection refused|Connection timed out|Network is unreachable|"
                r"Operation timed out|Could not connect", re.I),
     "cannot connect to {url}",
     "check the network, proxy (HTTPS_PROXY) or firewall, or use a reachable mirror URL"),
    (re.compile(r"SSL certificate problem|server certificate verification failed|SSL_ERROR", re.I),
     "TLS certificate problem talking to {url}",
     "fix the CA certificates (GIT_SSL_CAINFO) or use a mirror with a valid certificate"),
    (re.compile(r"Authentication failed|could not read Username|terminal prompts disabled|"
                r"Permission denied \(publickey\)|HTTP Basic: Access denied|The requested URL returned error: 40[13]", re.I),
     "{url} asks for credentials (private repository or mirror)",
     "use a public URL, or configure a git credential helper / an access token for the mirror"),
    (re.compile(r"No space left on device", re.I),
     "the disk is full while cloning into {dest}",
     "free some space or choose a --dest on a larger disk"),
    (re.compile(r"could not create (leading )?director|could not create work tree|Read-only file system|"
                r"unable to create (temporary )?file", re.I),
     "cannot write the checkout into {dest}",
     "choose a --dest in a folder you can write to"),
    (re.compile(r"repository '.*' (not found|does not exist)|does not appear to be a git repository|"
                r"Repository not found|The requested URL returned error: 404|not a git repository|"
                r"No such file or directory", re.I),
     "repository not found at {url}",
     "check the URL setting (--backend-url/--trtllm-url); the defaults are the public GitHub repositories"),
    (re.compile(r"Permission denied|Operation not permitted", re.I),
     "cannot write the checkout into {dest}",
     "choose a --dest in a folder you can write to"),
    (re.compile(r"early EOF|RPC failed|the remote end hung up|unexpected disconnect|fetch-pack: invalid index", re.I),
     "the connection to {url} broke during the clone",
     "try again; on a slow link a mirror closer to this machine helps"),
]


def explain_git_failure(stderr_lines: list[str], *, url: str, tag: str, dest: Path, repo: str,
                        returncode: int) -> WizardError:
    """Turn git's stderr into one WizardError that names the URL and the reason."""
    text = "\n".join(stderr_lines)
    safe_url = redact_url(url)
    for pattern, problem, fix in _ERRORS:
        if pattern.search(text):
            fmt = dict(url=safe_url, qurl=shlex.quote(safe_url), tag=tag, dest=dest, repo=repo,
                       silence=_silence_or_default())
            return WizardError(f"cannot clone {repo}: " + problem.format(**fmt), fix.format(**fmt))
    last = next((ln for ln in reversed(stderr_lines) if ln.strip() and not _PROGRESS.match(ln.strip())), "")
    return WizardError(f"cannot clone {repo} {tag} from {safe_url}: git exited with {returncode}"
                       + (f": {redact_url(last.strip())}" if last else ""),
                       "check the URL setting and the network; the full git output is in the log")


# --------------------------------------------------------------------------------------------------------
# inspecting an existing folder

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


# --------------------------------------------------------------------------------------------------------
# plan and do

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
