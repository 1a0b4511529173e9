"""core/checkout/ against REAL git repositories with REAL tags, cloned over file:// URLs (no network)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from lmi_wizard.core import checkout as ck
from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.base.errors import Cancelled, WizardError
from lmi_wizard.core.base.progress import CancelToken
from tests.gitfixtures import (BACKEND_GITLINKS, FIXTURES, add_big_history, backend_tree, file_url, git, make_repo,
                               trtllm_tree)

BACKEND_TAGS = ("v0.5.0", "v0.12.0", "v0.16.0")
TRTLLM_TAGS = ("v0.5.0", "v0.12.0", "v0.16.0", "v0.21.0")


@pytest.fixture(scope="module")
def remotes(tmp_path_factory):
    base = tmp_path_factory.mktemp("remotes")
    backend = make_repo(base / "tensorrtllm_backend", {t: backend_tree(t) for t in BACKEND_TAGS},
                        gitlinks=BACKEND_GITLINKS, after_tags=1)
    trtllm = make_repo(base / "TensorRT-LLM", {t: trtllm_tree(t) for t in TRTLLM_TAGS}, after_tags=2)
    return {"backend": backend, "trtllm": trtllm, "backend_url": file_url(backend), "trtllm_url": file_url(trtllm)}


@pytest.fixture(scope="module")
def big_remote(tmp_path_factory):
    """A TensorRT-LLM-shaped repo with 8 MiB of incompressible blobs at v0.21.0 (for mid-clone cancel)."""
    base = tmp_path_factory.mktemp("big")
    repo = make_repo(base / "TensorRT-LLM-big", {"v0.20.0": trtllm_tree("v0.20.0")})
    add_big_history(repo, megabytes=8, files=8)
    git(repo, "tag", "-a", "v0.21.0", "-m", "big release")
    return repo


def urls(r):
    return {"backend_url": r["backend_url"], "trtllm_url": r["trtllm_url"]}


def head_tag(path: Path) -> str:
    return git(path, "describe", "--tags", "--exact-match")


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".cloning-" in p.name] if parent.exists() else []


# -- fresh clones ---------------------------------------------------------------------------------------

def test_fresh_clone_backend_layout_at_tag(remotes, tmp_path):
    events = []
    dest = tmp_path / "work" / "tensorrtllm_backend"
    co = ck.checkout("v0.16.0", dest, progress=events.append, **urls(remotes))
    assert co.tag == "v0.16.0" and not co.reused and co.layout == "backend+trtllm"
    assert co.root == dest.absolute() and co.backend_root == co.root and co.trtllm_root == dest / "tensorrt_llm"
    # git (not the folder name) says both repos are at the tag
    assert head_tag(dest) == "v0.16.0" and head_tag(dest / "tensorrt_llm") == "v0.16.0"
    # shallow, one commit, no submodule content, templates are the real upstream files
    assert git(dest / "tensorrt_llm", "rev-parse", "--is-shallow-repository") == "true"
    assert git(dest, "rev-list", "--count", "HEAD") == "1"
    assert co.template_dir == dest / "all_models" / "inflight_batcher_llm"
    for m in ("tensorrt_llm", "ensemble", "preprocessing", "postprocessing", "tensorrt_llm_bls"):
        real = FIXTURES / "pbtxt" / "v0.16.0" / m / "config.pbtxt"
        assert (co.template_dir / m / "config.pbtxt").read_text() == real.read_text()
    assert (co.examples_dir / "llama" / "convert_checkpoint.py").is_file()
    assert (dest / "tools" / "fill_template.py").read_text() == (FIXTURES / "fill_template/v0.16.0.py").read_text()
    assert leftovers(dest.parent) == [] and leftovers(dest) == []
    # progress: parsed percentages, never going backwards, ending at 100 %
    dones = [e.done for e in events]
    assert dones == sorted(dones) and dones[-1] == 1000 and events[-1].total == 1000
    phases = {(e.extra.get("repo"), e.extra.get("phase")) for e in events}
    assert ("tensorrtllm_backend", "Receiving objects") in phases and ("TensorRT-LLM", "Receiving objects") in phases
    assert any(e.extra.get("percent") == 100 and e.extra.get("phase") == "Receiving objects" for e in events)


def test_fresh_clone_from_020_needs_only_trtllm(remotes, tmp_path):
    dest = tmp_path / "TensorRT-LLM"
    # the backend URL must not even be touched from 0.20: make it unusable
    co = ck.checkout("v0.21.0", dest, backend_url="file:///nonexistent/backend", trtllm_url=remotes["trtllm_url"])
    assert co.backend_root is None and co.layout == "trtllm-only" and co.trtllm_root == co.root
    assert head_tag(dest) == "v0.21.0"
    assert co.template_dir == dest / "triton_backend" / "all_models" / "inflight_batcher_llm"
    assert (co.template_dir / "tensorrt_llm" / "config.pbtxt").read_text() == (
        FIXTURES / "pbtxt/trtllm-1.1.0rc6-2a9abd95/tensorrt_llm/config.pbtxt").read_text()
    assert (co.examples_dir / "models" / "core" / "llama" / "convert_checkpoint.py").is_file()


def test_legacy_tag_has_build_py(remotes, tmp_path):
    co = ck.checkout("0.5.0", tmp_path / "b", **urls(remotes))  # tag without the v is accepted
    assert co.tag == "v0.5.0"
    assert (co.examples_dir / "llama" / "build.py").is_file()
    assert not (co.examples_dir / "llama" / "convert_checkpoint.py").exists()
    assert (co.template_dir / "tensorrt_llm").is_dir()
    assert not (co.template_dir / "tensorrt_llm_bls").exists()  # added upstream in v0.7


def test_lightweight_tags_and_full_depth(tmp_path):
    repo = make_repo(tmp_path / "srv" / "TensorRT-LLM", {t: trtllm_tree(t) for t in ("v0.20.0", "v0.21.0")},
                     annotated=False, after_tags=1)
    co = ck.checkout("v0.20.0", tmp_path / "co", trtllm_url=file_url(repo), depth=None)
    assert head_tag(co.root) == "v0.20.0" and git(co.root, "rev-parse", "--is-shallow-repository") == "false"
    assert ck.checkout("v0.20.0", tmp_path / "co", trtllm_url="file:///nope").reused
    with pytest.raises(WizardError, match="at v0.20.0, not at v0.21.0"):
        ck.checkout("v0.21.0", tmp_path / "co", trtllm_url=file_url(repo))


def test_empty_existing_dest_is_used(remotes, tmp_path):
    dest = tmp_path / "empty"
    dest.mkdir()
    co = ck.checkout("v0.21.0", dest, **urls(remotes))
    assert head_tag(dest) == "v0.21.0" and not co.reused


def test_plan_changes_nothing(remotes, tmp_path):
    dest = tmp_path / "x"
    plan = ck.plan_checkout("v0.16.0", dest, **urls(remotes))
    assert plan.ok and not dest.exists()
    assert [(s.action, s.repo) for s in plan.steps] == [("clone", "tensorrtllm_backend"),
                                                        ("replace-empty", "TensorRT-LLM")]
    argv = plan.steps[0].argv
    assert argv[:2] == ["git", "-c"] and "--depth" in argv and argv[argv.index("--depth") + 1] == "1"
    assert "--branch" in argv and argv[argv.index("--branch") + 1] == "v0.16.0"
    assert "--no-recurse-submodules" in argv
    assert plan.result.examples_dir == dest.absolute() / "tensorrt_llm" / "examples"
    json.dumps(plan.to_dict())  # serialisable for the TUI / --json
    full = ck.plan_checkout("v0.16.0", dest, depth=None, **urls(remotes))
    assert "--depth" not in full.steps[0].argv


# -- reuse -----------------------------------------------------------------------------------------------

def test_reuse_at_right_tag_does_not_clone(remotes, tmp_path):
    dest = tmp_path / "co"
    ck.checkout("v0.16.0", dest, **urls(remotes))
    # engines written by a build are untracked files: still reusable
    (dest / "tensorrt_llm" / "examples" / "llama" / "engines").mkdir()
    (dest / "tensorrt_llm" / "examples" / "llama" / "engines" / "rank0.engine").write_bytes(b"E")
    (dest / "triton_model_repo").mkdir()
    # unusable URLs prove that nothing is cloned again
    co = ck.checkout("v0.16.0", dest, backend_url="file:///nope/a", trtllm_url="file:///nope/b")
    assert co.reused and co.tag == "v0.16.0"
    plan = ck.plan_checkout("v0.16.0", dest, **urls(remotes))
    assert [s.action for s in plan.steps] == ["reuse", "reuse"] and plan.result.reused
    assert (dest / "tensorrt_llm" / "examples" / "llama" / "engines" / "rank0.engine").read_bytes() == b"E"


def test_backend_present_trtllm_missing_clones_only_trtllm(remotes, tmp_path):
    dest = tmp_path / "half"
    git(tmp_path, "clone", "-q", "--depth", "1", "-b", "v0.16.0", remotes["backend_url"], str(dest))
    assert (dest / "tensorrt_llm").is_dir() and not any((dest / "tensorrt_llm").iterdir())  # empty submodule
    plan = ck.plan_checkout("v0.16.0", dest, **urls(remotes))
    assert [(s.action, s.repo) for s in plan.steps] == [("reuse", "tensorrtllm_backend"),
                                                        ("replace-empty", "TensorRT-LLM")]
    co = ck.checkout("v0.16.0", dest, backend_url="file:///nope/backend", trtllm_url=remotes["trtllm_url"])
    assert not co.reused and head_tag(dest / "tensorrt_llm") == "v0.16.0"


def test_wrong_tag_is_reported_and_left_alone(remotes, tmp_path):
    dest = tmp_path / "tensorrtllm_backend-v0.12.0"  # the name says 0.12 ...
    ck.checkout("v0.16.0", dest, **urls(remotes))  # ... git says 0.16
    before = git(dest, "rev-parse", "HEAD")
    with pytest.raises(WizardError) as ei:
        ck.checkout("v0.12.0", dest, **urls(remotes))
    err = ei.value
    assert "at v0.16.0, not at v0.12.0" in err.problem and "tensorrtllm_backend" in err.problem
    assert "--dest" in err.fix and "fetch --depth 1 origin tag v0.12.0" in err.fix
    assert git(dest, "rev-parse", "HEAD") == before and head_tag(dest / "tensorrt_llm") == "v0.16.0"
    plan = ck.plan_checkout("v0.12.0", dest, **urls(remotes))
    assert not plan.ok and plan.error.problem == err.problem and plan.steps == []


def test_nested_trtllm_at_wrong_tag(remotes, tmp_path):
    dest = tmp_path / "co"
    ck.checkout("v0.16.0", dest, **urls(remotes))
    import shutil
    shutil.rmtree(dest / "tensorrt_llm")
    git(dest, "clone", "-q", "--depth", "1", "-b", "v0.12.0", remotes["trtllm_url"], "tensorrt_llm")
    with pytest.raises(WizardError, match=r"TensorRT-LLM checkout at v0\.12\.0, not at v0\.16\.0"):
        ck.checkout("v0.16.0", dest, **urls(remotes))
    assert head_tag(dest / "tensorrt_llm") == "v0.12.0"


def test_branch_head_not_at_a_tag_is_not_trusted(remotes, tmp_path):
    dest = tmp_path / "v0.21.0"  # a folder named like the tag, holding the main branch
    git(tmp_path, "clone", "-q", remotes["trtllm_url"], str(dest))
    with pytest.raises(WizardError, match=r"not at v0\.21\.0") as ei:
        ck.checkout("v0.21.0", dest, **urls(remotes))
    assert "v0.21.0-2-g" in ei.value.problem  # git describe: two commits after the tag


@pytest.mark.parametrize("where", ["backend", "trtllm"])
def test_local_changes_are_reported_never_overwritten(remotes, tmp_path, where):
    dest = tmp_path / "co"
    ck.checkout("v0.16.0", dest, **urls(remotes))
    f = (dest / "tensorrt_llm" / "examples" / "llama" / "convert_checkpoint.py") if where == "trtllm" else \
        (dest / "all_models" / "inflight_batcher_llm" / "tensorrt_llm" / "config.pbtxt")
    f.write_text(f.read_text() + "\n# my local edit\n")
    with pytest.raises(WizardError) as ei:
        ck.checkout("v0.16.0", dest, **urls(remotes))
    rel = f.relative_to(dest / "tensorrt_llm" if where == "trtllm" else dest).as_posix()
    assert "local changes" in ei.value.problem and f": {rel}" in ei.value.problem  # the whole path, first char too
    assert "git -C" in ei.value.fix and "status" in ei.value.fix
    assert f.read_text().endswith("# my local edit\n")


def test_folder_that_is_not_a_checkout(remotes, tmp_path):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("my notes")
    with pytest.raises(WizardError, match="is not a TensorRT-LLM git checkout"):
        ck.checkout("v0.21.0", dest, **urls(remotes))
    assert (dest / "notes.txt").read_text() == "my notes" and len(list(dest.iterdir())) == 1
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(WizardError, match="not a folder"):
        ck.checkout("v0.16.0", f, **urls(remotes))


# -- failures ---------------------------------------------------------------------------------------------

def test_bad_url_names_the_url_and_leaves_nothing(remotes, tmp_path):
    bad = file_url(tmp_path / "no-such-repo")
    dest = tmp_path / "w" / "co"
    with pytest.raises(WizardError) as ei:
        ck.checkout("v0.16.0", dest, backend_url=bad, trtllm_url=remotes["trtllm_url"])
    assert ei.value.problem == f"cannot clone tensorrtllm_backend: repository not found at {bad}"
    assert "--backend-url" in ei.value.fix
    assert not dest.exists() and leftovers(dest.parent) == []


def test_missing_tag_is_named(remotes, tmp_path):
    dest = tmp_path / "co"
    with pytest.raises(WizardError) as ei:
        ck.checkout("v0.13.0", dest, **urls(remotes))
    assert ei.value.problem == f"cannot clone tensorrtllm_backend: tag v0.13.0 not found in {remotes['backend_url']}"
    assert "git ls-remote --tags" in ei.value.fix
    assert not dest.exists() and leftovers(tmp_path) == []


def test_second_clone_failing_removes_the_first(remotes, tmp_path):
    dest = tmp_path / "co"
    bad = file_url(tmp_path / "no-trtllm")
    with pytest.raises(WizardError, match="cannot clone TensorRT-LLM: repository not found"):
        ck.checkout("v0.16.0", dest, backend_url=remotes["backend_url"], trtllm_url=bad)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_connection_refused_names_url_without_credentials(tmp_path):
    url = "http://user:s3cr3t-token@127.0.0.1:9/TensorRT-LLM.git"  # port 9 (discard): nothing listens
    log = tmp_path / "git.log"
    with pytest.raises(WizardError) as ei:
        ck.checkout("v0.21.0", tmp_path / "co", trtllm_url=url, log_path=log)
    msg = str(ei.value)
    assert "s3cr3t" not in msg and "http://***@127.0.0.1:9/TensorRT-LLM.git" in msg
    assert "cannot connect" in msg or "asks for credentials" in msg
    assert "s3cr3t" not in log.read_text()


def test_fix_command_quotes_a_url_with_spaces():
    import shlex

    err = ck.explain_git_failure(["fatal: Remote branch v9.9.9 not found in upstream origin"], url="/srv/my repos/x",
                                 tag="v9.9.9", dest=Path("/d"), repo="TensorRT-LLM", returncode=128)
    assert shlex.split(err.fix.split("`")[1]) == ["git", "ls-remote", "--tags", "/srv/my repos/x"]


@pytest.mark.parametrize("stderr,expect", [
    (["fatal: unable to access 'https://github.com/x/y.git/': Could not resolve host: github.com"],
     "could not resolve the host name"),
    (["remote: Repository not found.", "fatal: repository 'https://github.com/NVIDIA/TensorRT-LM.git/' not found"],
     "repository not found at"),
    (["warning: Could not find remote branch v9.9.9 to clone.",
      "fatal: Remote branch v9.9.9 not found in upstream origin"], "tag v9.9.9 not found"),
    (["fatal: unable to access 'https://mirror/x.git/': SSL certificate problem: self-signed certificate"],
     "TLS certificate problem"),
    (["fatal: could not read Username for 'https://mirror': terminal prompts disabled"], "asks for credentials"),
    (["error: RPC failed; curl 92 HTTP/2 stream 5 was not closed cleanly", "fatal: early EOF"],
     "connection to"),
    (["fatal: could not create work tree dir '/ro/x': Read-only file system"], "cannot write the checkout"),
    (["fatal: could not create work tree dir '/proc/.x': No such file or directory"], "cannot write the checkout"),
    (["fatal: could not create work tree dir 'ro/zz': Operation not permitted"], "cannot write the checkout"),
    (["fatal: repository '/nonexistent' does not exist"], "repository not found at"),
    (["fatal: something new"], "git exited with 128: fatal: something new"),
])
def test_git_error_explanations(stderr, expect):
    err = ck.explain_git_failure(stderr, url="https://mirror/x.git", tag="v9.9.9", dest=Path("/ro/x"),
                                 repo="TensorRT-LLM", returncode=128)
    assert expect in err.problem and err.fix


# -- cancel -----------------------------------------------------------------------------------------------

def _procs_mentioning(text: str) -> list[str]:
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            out.append(f"{d.name}: {cmd}")
    return out


def test_cancel_before_start_does_nothing(remotes, tmp_path):
    tok = CancelToken()
    tok.cancel()
    with pytest.raises(Cancelled):
        ck.checkout("v0.16.0", tmp_path / "co", cancel=tok, **urls(remotes))
    assert list(tmp_path.iterdir()) == []


def test_cancel_mid_clone_kills_git_and_leaves_nothing(big_remote, tmp_path):
    tok = CancelToken()
    events = []

    def progress(ev):
        events.append(ev)
        if ev.extra.get("phase") not in (None, "start", "done"):
            tok.cancel()  # the first parsed git progress line: the clone is under way

    dest = tmp_path / "co"
    with pytest.raises(Cancelled):
        ck.checkout("v0.21.0", dest, trtllm_url=file_url(big_remote), cancel=tok, progress=progress)
    assert any(e.extra.get("phase") not in (None, "start") for e in events), "git never reported progress"
    # it was really stopped in the middle: the 8 MiB pack never arrived completely
    assert not any(e.extra.get("phase") == "Receiving objects" and e.extra.get("percent") == 100 for e in events)
    assert not dest.exists() and leftovers(tmp_path) == []
    # no orphan: neither git clone nor the upload-pack serving it survives (zombies have no cmdline)
    for _ in range(50):
        alive = _procs_mentioning(str(big_remote))
        if not alive:
            break
        time.sleep(0.05)
    assert alive == []


# -- small pieces -----------------------------------------------------------------------------------------

def test_parse_tag_and_layout_boundary():
    assert ck.parse_tag("0.12.0") == ("v0.12.0", (0, 12, 0))
    assert ck.parse_tag("v0.21.0rc1")[0] == "v0.21.0rc1"
    assert ck.needs_backend("v0.19.0") and not ck.needs_backend("v0.20.0") and not ck.needs_backend("v1.0.0")
    assert ck.parse_tag("v1.2.0rc6.post2") == ("v1.2.0rc6.post2", (1, 2, 0))  # any PEP 440 spelling
    assert ck.parse_tag("0.17.0.post1")[0] == "v0.17.0.post1" and ck.needs_backend("0.17.0.post1")
    for bad in ("", "main", "latest", "v0.16.0; rm -rf /", "v1", "-v0.12.0", "v0.12.0 --upload-pack=x"):
        with pytest.raises(WizardError, match="not a TensorRT-LLM release tag"):
            ck.parse_tag(bad)


def test_fix_commands_quote_paths_with_spaces(remotes, tmp_path):
    import shlex

    dest = tmp_path / "my checkouts" / "co é"
    ck.checkout("v0.21.0", dest, **urls(remotes))
    with pytest.raises(WizardError) as ei:
        ck.checkout("v0.16.0", dest, **urls(remotes))
    cmd = ei.value.fix.split("`")[1]
    assert shlex.split(cmd)[:3] == ["git", "-C", str(dest.absolute())]


def test_empty_dest_and_negative_depth_are_refused(remotes, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WizardError, match="--dest is empty"):
        ck.plan_checkout("v0.21.0", "  ", **urls(remotes))
    base = ["checkout", "--tag", "v0.21.0", "--trtllm-url", remotes["trtllm_url"]]
    assert cli.main(base + ["--dest", "x", "--depth", "-3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "clone depth must be 0" in err and not (tmp_path / "x").exists()
    assert cli.main(base + ["--dest", "~no-such-user-here/x", "--dry-run"]) == 0  # an unknown ~user is a plain name


def test_parse_git_progress_segments():
    line = ("Receiving objects:  33% (1/3)\rReceiving objects:  66% (2/3)\r"
            "Receiving objects: 100% (3/3), 281 bytes | 281.00 KiB/s, done.")
    got = ck.parse_git_progress(line)
    assert [(g.phase, g.percent, g.done, g.total) for g in got] == [
        ("Receiving objects", 33, 1, 3), ("Receiving objects", 66, 2, 3), ("Receiving objects", 100, 3, 3)]
    assert got[-1].overall == 85.0
    remote = ck.parse_git_progress("remote: Compressing objects:  50% (1/2)        ")
    assert remote[0].phase == "Compressing objects" and remote[0].percent == 50
    assert ck.parse_git_progress("Cloning into 'x'...") == []


def test_git_env_skips_lfs_and_prompts():
    env = ck.git_env()
    assert env["GIT_LFS_SKIP_SMUDGE"] == "1" and env["GIT_TERMINAL_PROMPT"] == "0"


def test_redact_url():
    assert ck.redact_url("clone https://u:tok@host/x.git and ssh://git@h/y") == "clone https://***@host/x.git and ssh://***@h/y"


def test_inspect_existing_checkouts(remotes, tmp_path):
    a = ck.checkout("v0.16.0", tmp_path / "a", **urls(remotes))
    got = ck.inspect(tmp_path / "a")
    assert (got.backend_root, got.trtllm_root, got.template_dir, got.tag) == (
        a.backend_root, a.trtllm_root, a.template_dir, "v0.16.0")
    b = ck.checkout("v0.21.0", tmp_path / "b", **urls(remotes))
    got = ck.inspect(b.root)
    assert got.backend_root is None and got.template_dir == b.template_dir and got.tag == "v0.21.0"
    with pytest.raises(WizardError, match="not a TensorRT-LLM checkout"):
        ck.inspect(tmp_path)
    with pytest.raises(WizardError, match="not found"):
        ck.inspect(tmp_path / "nope")


# -- the verb -----------------------------------------------------------------------------------------------

def test_cli_checkout_json_and_dry_run(remotes, tmp_path, capsys):
    dest = tmp_path / "co"
    args = ["checkout", "--tag", "v0.16.0", "--dest", str(dest), "--backend-url", remotes["backend_url"],
            "--trtllm-url", remotes["trtllm_url"]]
    assert cli.main(args + ["--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["ok"] and [s["action"] for s in plan["steps"]] == ["clone", "replace-empty"] and not dest.exists()
    assert cli.main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tag"] == "v0.16.0" and out["reused"] is False and out["layout"] == "backend+trtllm"
    assert cli.main(args) == 0
    assert "reused" in capsys.readouterr().out
    assert cli.main(["checkout", "--tag", "v0.12.0", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lmi-wizard: error: ") and "not at v0.12.0" in err and "Traceback" not in err
    assert cli.main(["checkout", "--tag", "banana", "--dest", str(tmp_path / "z")]) == 2
    assert "not a TensorRT-LLM release tag" in capsys.readouterr().err


def test_cli_checkout_subprocess_progress_on_stderr(remotes, tmp_path):
    import sys
    res = subprocess.run([sys.executable, "-m", "lmi_wizard.tui.cli.main", "checkout", "--tag", "v0.21.0", "--dest",
                          str(tmp_path / "co"), "--trtllm-url", remotes["trtllm_url"]],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "Receiving objects" in res.stderr and "Checkout v0.21.0 ready" in res.stdout


def test_cloned_checkout_renders_the_tutorial_with_discovered_plugin_flags(remotes, tmp_path):
    """A clone made here holds the real builder sources of its era, plugin.py included, so the tutorial's
    intent renders with every flag (nothing dropped because the flags were unknown)."""
    from lmi_wizard.core.build import BuildIntent, render_plan

    for tag, want in (("v0.16.0", "--max_output_len"), ("v0.21.0", "--max_seq_len")):
        co = ck.checkout(tag, tmp_path / tag, **urls(remotes))
        ex = co.examples_dir / ("llama" if tag == "v0.16.0" else "models/core/llama")
        plan = render_plan(ex, BuildIntent.tutorial(model_dir="/m"))
        build = plan.steps[1].argv
        for flag in ("--gemm_plugin", "--gpt_attention_plugin", "--context_fmha", "--remove_input_padding", want):
            assert flag in build, (tag, flag, plan.preview())
        assert plan.dropped == [] and plan.notes == [], plan.preview()


def test_temp_clone_of_a_killed_run_is_removed(remotes, tmp_path):
    """A wizard killed mid-clone (SIGKILL: no cleanup) leaves .NAME.cloning-PID; the next run removes it
    when that pid is gone, and never touches one of a live process."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".co [1].cloning-{dead.pid}"
    live = tmp_path / f".co [1].cloning-{os.getppid()}"
    for d in (stale, live):
        (d / ".git").mkdir(parents=True)
    ck.checkout("v0.21.0", tmp_path / "co [1]", **urls(remotes))
    assert not stale.exists() and live.is_dir()


def test_cli_checkout_without_tag_uses_the_installed_version(remotes, tmp_path, capsys, monkeypatch):
    """The tutorial: `pip show tensorrt-llm` → clone at v<that version>. Without --tag the verb does it, and
    asks a person when the version has no exact tag (dev build) or nothing is installed."""
    base = ["checkout", "--backend-url", remotes["backend_url"], "--trtllm-url", remotes["trtllm_url"]]
    assert cli.main(base + ["--dest", str(tmp_path / "none"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "tensorrt-llm is not installed here" in err and "--tag" in err and err.count("\n") == 1
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    dist = site / "tensorrt_llm-0.16.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tensorrt_llm\nVersion: 0.16.0\n")
    assert cli.main(base + ["--dest", str(tmp_path / "co"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tag"] == "v0.16.0" and head_tag(tmp_path / "co") == "v0.16.0"
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tensorrt_llm\nVersion: 0.16.0.dev2024110500\n")
    assert cli.main(base + ["--dest", str(tmp_path / "dev"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "no exact release tag" in err and "--tag v0.16.0" in err and not (tmp_path / "dev").exists()


def test_silent_git_remote_ends_in_one_line_naming_url_and_setting(tmp_path):
    """issue 12 §5: an http remote that accepts and never answers; git's low-speed limit comes from
    LMI_WIZARD_NET_TIMEOUT, and the failure is one line naming the URL and the setting."""
    import sys

    from tests.hubserver import SilentServer

    with SilentServer() as silent:
        url = f"{silent.url}/NVIDIA/TensorRT-LLM.git"
        res = subprocess.run([sys.executable, "-m", "lmi_wizard.tui.main", "checkout", "--tag", "v0.21.0", "--dest",
                              str(tmp_path / "co"), "--trtllm-url", url], cwd=Path(__file__).resolve().parent.parent,
                             capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, LMI_WIZARD_NET_TIMEOUT="2"))
        assert silent.accepted >= 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("  ")]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1, res.stderr
    assert f"no answer from {url} for 2 s" in lines[0] and "LMI_WIZARD_NET_TIMEOUT" in lines[0]
    assert not (tmp_path / "co").exists() and not list(tmp_path.glob(".co.cloning-*"))


def test_clone_env_bounds_http_silence(monkeypatch):
    monkeypatch.delenv("LMI_WIZARD_NET_TIMEOUT", raising=False)
    env = ck.clone_env()
    assert env["GIT_HTTP_LOW_SPEED_LIMIT"] == "1" and env["GIT_HTTP_LOW_SPEED_TIME"] == "60"


@pytest.mark.parametrize("given", ["0.16.0+ngcpytorch2602", "v0.16.0.post1", "0.16.0.dev2024111200"])
def test_version_spellings_are_normalised_like_doctor(given, remotes, tmp_path, capsys):
    """issue 12 §6: a local build, a post release or a dev build given as --tag is cloned at the release tag
    it comes from (what doctor and recipes use), with a note saying so; never used verbatim."""
    plan = ck.plan_checkout(given, tmp_path / "co", backend_url=remotes["backend_url"],
                            trtllm_url=remotes["trtllm_url"])
    assert plan.tag == "v0.16.0" and plan.ok
    assert plan.notes and f"--tag {given}: using v0.16.0" in plan.notes[0]
    assert all("v0.16.0" in " ".join(s.argv) and given not in " ".join(s.argv) for s in plan.clones)
    assert cli.main(["checkout", "--tag", given, "--dest", str(tmp_path / "co"), "--backend-url",
                     remotes["backend_url"], "--trtllm-url", remotes["trtllm_url"], "--dry-run"]) == 0
    cap = capsys.readouterr()
    assert "note: --tag" in cap.err and "Checkout v0.16.0 into" in cap.out


def test_plain_release_spellings_need_no_lookup():
    assert ck.normalise_tag("v0.21.0rc1", backend_url="file:///nonexistent", trtllm_url="file:///nonexistent") \
        == ("v0.21.0rc1", [])


def test_cli_checkout_options_are_the_fields(monkeypatch, capsys, tmp_path):
    """One schema (issue 10): --tag/--dest/--backend-url/--trtllm-url are the env.tag/checkout.* Fields — their
    default, help and check — rendered by tui/cli/fields.py; the verb declares none of them itself."""
    import argparse
    import dataclasses

    from lmi_wizard.core import wizard
    from lmi_wizard.tui.cli.commands import checkout as verb

    f = wizard.field("checkout.trtllm_url")
    monkeypatch.setitem(wizard.FIELDS, f.key, dataclasses.replace(f, default="file:///mirror/trtllm", help="TRTLLM-HELP"))
    p = argparse.ArgumentParser()
    verb.register(p)
    assert "TRTLLM-HELP" in p.format_help()
    args = p.parse_args(["--dest", "co"])
    assert (args.tag, args.dir, args.trtllm_url) == (None, "co", "file:///mirror/trtllm")
    assert args.backend_url == wizard.field("checkout.backend_url").default == ck.DEFAULT_BACKEND_URL
    with pytest.raises(SystemExit):  # checkout.dir is required and has no static default: a required option
        p.parse_args([])
    capsys.readouterr()
    # a bad URL: the Field's own rule, one line, exit 2, before anything runs
    with pytest.raises(SystemExit) as e:
        cli.main(["checkout", "--tag", "v0.21.0", "--dest", str(tmp_path / "co"), "--backend-url", "not a url"])
    err = capsys.readouterr().err
    found = wizard.check_field("checkout.backend_url", "not a url", wizard.Answers())
    assert e.value.code == 2 and err.count("\n") == 1 and found.problem in err and "--backend-url" in err
    assert not (tmp_path / "co").exists()
