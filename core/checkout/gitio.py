"""git for a checkout: the clone command and its environment, its progress lines and its errors, each turned
into one line that names the URL, the reason and the fix."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from ..base.net import DEFAULT_SILENCE, SETTING, silence_timeout
from ..base.proc import run_capture
from ..facts.versions import git_env

def redact_url(text: str) -> str:
    """Hide ``user:token@`` in URLs (a mirror URL may carry credentials) and any other secret
    (``core.base.secrets.redact``)."""
    from ..base.secrets import redact

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

def _rule(pattern: str, problem: str, fix: str) -> tuple[re.Pattern, str, str]:
    """One line of git's stderr (``pattern``, case-insensitive) → the problem and the fix to show."""
    return re.compile(pattern, re.I), problem, fix


_NOT_WRITABLE = ("cannot write the checkout into {dest}", "choose a --dest in a folder you can write to")

# first match wins: "Permission denied (publickey)" is a credentials problem before any other "Permission denied"
_ERRORS: list[tuple[re.Pattern, str, str]] = [
    _rule(r"Operation too slow|Less than \d+ bytes/sec transferred",
          "no answer from {url} for {silence:g} s",
          "check the network / proxy (HTTPS_PROXY) or use a reachable mirror; to wait longer set " + SETTING
          + " (seconds, now {silence:g})"),
    _rule(r"Remote branch (\S+) not found in upstream|Could not find remote branch (\S+)",
          "tag {tag} not found in {url}",
          "check the version (the tag is v plus the installed tensorrt-llm version); list the tags with "
          "`git ls-remote --tags {qurl}`; a mirror may lack new tags"),
    _rule(r"Could not resolve host|Name or service not known|Temporary failure in name resolution",
          "cannot reach {url}: could not resolve the host name (offline?)",
          "check the network or DNS, or point the URL setting at a reachable mirror (--backend-url/--trtllm-url)"),
    _rule(r"Failed to connect|Connection refused|Connection timed out|Network is unreachable|"
          r"Operation timed out|Could not connect",
          "cannot connect to {url}",
          "check the network, proxy (HTTPS_PROXY) or firewall, or use a reachable mirror URL"),
    _rule(r"SSL certificate problem|server certificate verification failed|SSL_ERROR",
          "TLS certificate problem talking to {url}",
          "fix the CA certificates (GIT_SSL_CAINFO) or use a mirror with a valid certificate"),
    _rule(r"Authentication failed|could not read Username|terminal prompts disabled|"
          r"Permission denied \(publickey\)|HTTP Basic: Access denied|The requested URL returned error: 40[13]",
          "{url} asks for credentials (private repository or mirror)",
          "use a public URL, or configure a git credential helper / an access token for the mirror"),
    _rule(r"No space left on device",
          "the disk is full while cloning into {dest}",
          "free some space or choose a --dest on a larger disk"),
    _rule(r"could not create (leading )?director|could not create work tree|Read-only file system|"
          r"unable to create (temporary )?file", *_NOT_WRITABLE),
    _rule(r"repository '.*' (not found|does not exist)|does not appear to be a git repository|"
          r"Repository not found|The requested URL returned error: 404|not a git repository|"
          r"No such file or directory",
          "repository not found at {url}",
          "check the URL setting (--backend-url/--trtllm-url); the defaults are the public GitHub repositories"),
    _rule(r"Permission denied|Operation not permitted", *_NOT_WRITABLE),
    _rule(r"early EOF|RPC failed|the remote end hung up|unexpected disconnect|fetch-pack: invalid index",
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
