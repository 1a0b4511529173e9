"""No builder or clone outlives the wizard (issue 12 §2), with real processes and real signals.

For each verb that starts children (``build``, ``checkout``, ``run``) and each of SIGINT (to the wizard's
process group, as a terminal's Ctrl-C does), SIGTERM, SIGHUP and SIGKILL (to the wizard alone), the child's
process group must be gone 5 s later, checked in /proc by process group. The builders are the stand-ins of
tests/stand_ins (``hang.py`` ignores SIGTERM like a builder stuck in CUDA, and has a worker child); the
clone is a real ``git clone`` of an http remote that accepts and never answers (tests.hubserver.SilentServer).

Also: a new ``run`` refuses to start while a builder of a killed run is still alive in the work folder (its
guard killed too), naming the pid and the command that stops it; and the guard survives the exit of the
thread that started it (why it is a pipe and not PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lmi_wizard.core.wizard import recipe as R
from tests.hubserver import FakeHub, SilentServer, baichuan_repo
from tests.support.pipeline import tutorial_recipe
from tests.support.procs import alive, group_gone, wait_for
from tests.support.builders import CLI, ROOT, hanging_build

SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"]
EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


def _children_of(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _guard_of(pid: int) -> int | None:
    return next((c for c in _children_of(pid) if "-I -S -c" in _cmdline(c)), None)


def _send(proc: subprocess.Popen, name: str) -> None:
    if name == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the foreground group
    else:
        os.kill(proc.pid, getattr(signal, name))  # `timeout`, CI, an SSH hang-up, kill -9: the wizard alone


def _gone_or_kill(pgid: int, what: str) -> None:
    """Wait 5 s for the group to go; if it did not, fail, but kill it first (no orphan from a failed test)."""
    try:
        wait_for(lambda: group_gone(pgid), 5, what)
    except AssertionError:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        raise


def _finish(proc: subprocess.Popen, name: str, pgid: int) -> str:
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _gone_or_kill(pgid, f"the child's process group {pgid} to go after {name}")
    text = (out or b"").decode(errors="replace") + (err or b"").decode(errors="replace")
    if name == "SIGKILL":
        assert proc.returncode == -9
    else:
        assert proc.returncode != 0 and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("sig", SIGNALS)
def test_build_verb_leaves_no_builder(sig, fixtures_dir, tmp_path):
    ex, pids, env, argv = hanging_build(fixtures_dir, tmp_path)
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        leader, child = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 180, "the builder",
                                          proc=proc))
        pgid = os.getpgid(leader)
        assert pgid != proc.pid
        _send(proc, sig)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    text = _finish(proc, sig, pgid)
    assert not alive(leader) and not alive(child)
    if sig in EXIT:
        assert proc.returncode == EXIT[sig], text
        assert "interrupted" in text


@pytest.mark.parametrize("sig", SIGNALS)
def test_checkout_verb_leaves_no_git(sig, tmp_path):
    with SilentServer() as silent:
        dest = tmp_path / "co"
        proc = subprocess.Popen(CLI + ["checkout", "--tag", "v0.21.0", "--dest", str(dest), "--trtllm-url",
                                       f"{silent.url}/NVIDIA/TensorRT-LLM.git"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            wait_for(lambda: silent.accepted, 60, "git to connect", proc=proc)
            git = next(c for c in _children_of(proc.pid) if "clone" in _cmdline(c))
            pgid = os.getpgid(git)
            members = [git] + _children_of(git)  # git and git-remote-http
            assert pgid != proc.pid
            _send(proc, sig)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        text = _finish(proc, sig, pgid)
    assert not any(alive(m) for m in members)
    if sig in EXIT:
        assert proc.returncode == EXIT[sig], text
        # the temp clone is removed on the way out; nothing half-made at the destination
        assert not dest.exists() and not list(tmp_path.glob(".co.cloning-*"))


@pytest.fixture
def hub():
    with FakeHub([baichuan_repo()]) as h:
        yield h


def _start_run(fault_remotes, hub, tmp_path, *extra) -> tuple[subprocess.Popen, Path, Path, dict]:
    work = tmp_path / "work"
    recipe = tmp_path / "recipe.toml"
    if not recipe.exists():
        recipe.write_text(R.dumps_recipe(tutorial_recipe(fault_remotes, work, "out/b/c/")))
    pids = tmp_path / "pids"
    env = dict(os.environ, HANG_PIDS_FILE=str(pids), HF_ENDPOINT=hub.endpoint)
    proc = subprocess.Popen(CLI + ["run", str(recipe), *extra], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    return proc, pids, recipe, env


@pytest.mark.parametrize("sig", SIGNALS)
def test_run_verb_leaves_no_builder(sig, fault_remotes, hub, tmp_path):
    proc, pids, _, _ = _start_run(fault_remotes, hub, tmp_path)
    try:
        leader, child, pgid = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 120,
                                                "the builder", proc=proc))
        assert pgid != proc.pid
        _send(proc, sig)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    text = _finish(proc, sig, pgid)
    assert not alive(leader) and not alive(child)
    if sig in EXIT:
        assert "cancelled" in text


def test_new_run_refuses_while_a_killed_runs_builder_lives(fault_remotes, hub, tmp_path):
    proc, pids, recipe, env = _start_run(fault_remotes, hub, tmp_path)
    pgid = None
    try:
        leader, child, pgid = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 120,
                                                "the builder", proc=proc))
        guard = _guard_of(proc.pid)
        assert guard is not None, "no guard process beside the wizard"
        os.kill(guard, signal.SIGKILL)  # the worst case: the guard goes too (someone's kill -9 of both)
        wait_for(lambda: not alive(guard), 5, "the guard to die")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert alive(leader)  # nobody left to stop it: the case the refusal is for
        res = subprocess.run(CLI + ["run", str(recipe), "--resume"], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 2, res.stderr
        line = res.stderr.strip().splitlines()[-1]
        assert f"pid {leader}" in line and "still running" in line and f"kill -TERM -- -{pgid}" in line, \
            (line, (tmp_path / "work" / ".lmi-wizard" / "children.json").read_text(), open(f"/proc/{leader}/stat").read())
        assert alive(leader)  # refused: nothing was started beside it, nothing killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if pgid is not None:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    wait_for(lambda: group_gone(pgid), 5, "the builder to go")
    # once it is gone, the run resumes
    env.pop("HANG_PIDS_FILE")
    res = subprocess.run(CLI + ["run", str(recipe), "--resume"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]


def test_guard_outlives_the_thread_that_started_it(tmp_path):
    """The guard is started by a worker thread that then ends (PR_SET_PDEATHSIG would fire there); a
    builder started later from another thread still dies when the wizard is SIGKILLed."""
    pids = tmp_path / "pids"
    hang = ROOT / "tests" / "stand_ins" / "hang.py"
    script = textwrap.dedent(f"""
        import threading, sys
        from lmi_wizard.core.base import proc
        t = threading.Thread(target=proc.run_capture, args=([sys.executable, "-c", "pass"],))
        t.start(); t.join()   # the guard's starter thread is gone
        t = threading.Thread(target=proc.run_streaming, args=([sys.executable, {str(hang)!r}],))
        t.start(); t.join()
    """)
    env = dict(os.environ, HANG_PIDS_FILE=str(pids), HANG_IGNORE_TERM="1")
    p = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT, start_new_session=True)
    try:
        leader, child = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 60, "the builder",
                                          proc=p))
        pgid = os.getpgid(leader)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    _gone_or_kill(pgid, "the builder's group to go (it ignores SIGTERM: the guard's SIGKILL)")
    assert not alive(leader) and not alive(child)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_tui_quits_on_sigterm_and_sighup_killing_the_running_child(sig, tmp_path):
    """The Textual app's hook: SIGTERM / SIGHUP quit like the quit key — the running step's cancel token is
    cancelled, so its real child process group (hang.py + worker, ignoring SIGTERM) is gone, and the app ends."""
    import asyncio

    from lmi_wizard.core.base import proc as P
    from lmi_wizard.core.base.progress import CancelToken
    from lmi_wizard.tui.app import WizardApp
    from tests.support.tui import environment_report

    pids = tmp_path / "pids"
    os.environ["HANG_PIDS_FILE"], os.environ["HANG_IGNORE_TERM"] = str(pids), "1"
    hits: list[int] = []
    previous = signal.signal(getattr(signal, sig), lambda *a: hits.append(1))  # if the app had no hook
    app = WizardApp(state_path=tmp_path / "state.toml", environment=environment_report(tmp_path))

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            token = CancelToken()
            app.screen.cancel_token = token
            app.run_worker(lambda: P.run_streaming([sys.executable, str(ROOT / "tests/stand_ins/hang.py")],
                                                   cancel=token), thread=True, group="pipeline")
            for _ in range(1500):
                if pids.exists() and pids.read_text().split():
                    break
                await asyncio.sleep(0.02)
            os.kill(os.getpid(), getattr(signal, sig))
            for _ in range(1500):
                if not app.is_running:
                    break
                await asyncio.sleep(0.02)
            return token

    try:
        token = asyncio.run(scenario())
    finally:
        signal.signal(getattr(signal, sig), previous)
        os.environ.pop("HANG_PIDS_FILE", None)
        os.environ.pop("HANG_IGNORE_TERM", None)
    leader, child = map(int, pids.read_text().split())
    assert not hits and token.cancelled and app.return_code == 0
    _gone_or_kill(leader, "the TUI's child group to go")  # its own session: pgid == pid
    assert not alive(leader) and not alive(child)
