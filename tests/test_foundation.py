"""proc (process groups, streaming, cancel), fsutil (atomic writes), errors and the CLI shell."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from tests.support.procs import alive as _alive

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.base import fsutil, proc
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.base.progress import CancelToken


def test_run_streaming_streams_lines_in_order(tmp_path):
    lines = []
    log = tmp_path / "log.txt"
    res = proc.run_streaming([sys.executable, "-c", "import sys\nfor i in range(200): print(i)\nsys.stderr.write('oops\\n')\nsys.exit(3)"],
                             on_line=lambda s, l: lines.append((s, l)), log_path=log)
    assert res.returncode == 3 and not res.ok
    assert [l for s, l in lines if s == "out"] == [str(i) for i in range(200)]
    assert ("err", "oops") in lines
    assert log.read_text().count("\n") == 201
    assert res.tail[-1] in ("oops", "199")


def test_run_streaming_rejects_shell_strings():
    with pytest.raises(TypeError):
        proc.run_streaming("echo hi")


def test_missing_program_is_a_clear_error():
    with pytest.raises(WizardError, match="program not found"):
        proc.run_streaming(["/nonexistent/builder"])


def test_cancel_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    # the leader starts a grandchild that ignores SIGTERM; both must die on cancel
    script = (
        "import subprocess, sys, time\n"
        f"c = subprocess.Popen([sys.executable, '-c', 'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(c.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    token = CancelToken()
    started = threading.Event()

    def on_line(stream, line):
        if line == "started":
            started.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", proc.run_streaming([sys.executable, "-c", script], on_line=on_line, cancel=token)))
    t.start()
    assert started.wait(20)
    child = int(pidfile.read_text())
    t0 = time.monotonic()
    token.cancel()
    t.join(10)
    assert not t.is_alive()
    assert time.monotonic() - t0 < 4
    assert result["r"].cancelled
    deadline = time.monotonic() + 3
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "grandchild survived the cancel"


def test_timeout_kills(tmp_path):
    t0 = time.monotonic()
    res = proc.run_streaming([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert res.cancelled and time.monotonic() - t0 < 5


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "config.pbtxt"
    target.write_text("old")
    os.chmod(target, 0o640)
    fsutil.atomic_write_text(target, "new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(WizardError, match="no space left"):
        fsutil.atomic_write_text(target, "half")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["config.pbtxt"], "temp file left behind"


def test_atomic_write_into_read_only_dir(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    with pytest.raises(WizardError, match="permission denied"):
        fsutil.atomic_write_text(d / "x", "y")


def test_read_text_errors(tmp_path):
    with pytest.raises(WizardError, match="not found"):
        fsutil.read_text(tmp_path / "nope", what="config.pbtxt")
    with pytest.raises(WizardError, match="is a folder"):
        fsutil.read_text(tmp_path, what="config.pbtxt")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(WizardError, match="not a text file"):
        fsutil.read_text(tmp_path / "bin", what="config.pbtxt")


def test_cli_without_verb_and_front_end_is_one_line_error(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no verb" in err


def test_console_script_version():
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "lmi-wizard"), "--version"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("lmi-wizard ")


def test_unknown_verb_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["frobnicate"])
    assert e.value.code == 2
    assert "fix:" in capsys.readouterr().err


def test_carriage_return_progress_lines_arrive_separately():
    lines = []
    code = ("import sys,time\n"
            "for p in (10, 50, 100):\n"
            "    sys.stderr.write(f'Receiving objects: {p}%\\r'); sys.stderr.flush()\n"
            "sys.stderr.write('done\\r\\n'); sys.stdout.write('a\\r\\nb\\n\\nc')\n")
    proc.run_streaming([sys.executable, "-c", code], on_line=lambda s, l: lines.append((s, l)))
    assert [l for s, l in lines if s == "err"] == ["Receiving objects: 10%", "Receiving objects: 50%",
                                                   "Receiving objects: 100%", "done"]
    assert [l for s, l in lines if s == "out"] == ["a", "b", "", "c"]


def test_split_lines_handles_crlf_across_chunks():
    import io

    class Chunky(io.RawIOBase):
        def __init__(self, parts):
            self.parts = list(parts)

        def read1(self, n=-1):
            return self.parts.pop(0) if self.parts else b""

    assert list(proc._split_lines(Chunky([b"x\r", b"\ny\r", b"z\n"]))) == [b"x", b"y", b"z"]


def test_cancel_from_a_signal_handler_does_not_stall():
    """A SIGINT handler that cancels while the main thread waits in run_streaming returns fast."""
    import signal as _signal

    token = CancelToken()
    old = _signal.signal(_signal.SIGALRM, lambda *a: token.cancel())
    try:
        _signal.setitimer(_signal.ITIMER_REAL, 0.5)
        t0 = time.monotonic()
        res = proc.run_streaming([sys.executable, "-c", "import time; time.sleep(60)"], cancel=token)
        elapsed = time.monotonic() - t0
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, old)
    assert res.cancelled
    assert elapsed < 3.5, f"cancel from a signal handler took {elapsed:.1f}s"


def test_a_verb_imports_only_its_own_module():
    code = ("import sys; from lmi_wizard.tui.cli import main as cli\n"
            "try:\n    cli.main(['doctor', '--offline', '--json'])\nexcept SystemExit: pass\n"
            "print('VERBS', sorted(m for m in sys.modules if m.startswith('lmi_wizard.tui.cli.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "VERBS ['lmi_wizard.tui.cli.commands.doctor']" in out, out


def test_every_verb_module_is_named_after_its_verb(capsys):
    mods = cli._command_modules()
    assert len(mods) >= 10
    for mod in mods:
        assert mod.__name__.rsplit(".", 1)[1] == mod.NAME.replace("-", "_")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(m.NAME in out for m in mods)


def test_unknown_verb_still_lists_the_verbs(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--state", "x.toml", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def test_atomic_write_goes_through_a_symlink(tmp_path):
    real = tmp_path / "real.pbtxt"
    real.write_text("old")
    link = tmp_path / "link.pbtxt"
    link.symlink_to(real.name)
    fsutil.atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.pbtxt", "real.pbtxt"]


def test_atomic_write_refuses_a_folder_and_unencodable_text(tmp_path):
    with pytest.raises(WizardError, match="is a folder"):
        fsutil.atomic_write_text(tmp_path, "x")
    with pytest.raises(WizardError, match="cannot encode"):
        fsutil.atomic_write_text(tmp_path / "f", "bad \udcff surrogate")
    assert not (tmp_path / "f").exists()


def test_new_file_mode_follows_the_umask(tmp_path):
    fsutil.atomic_write_text(tmp_path / "new", "x")
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o666 & ~fsutil._UMASK


def test_read_text_refuses_a_pipe_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(WizardError, match="not a regular file"):
        fsutil.read_text(fifo, what="config.pbtxt")


def test_json_verbs_answer_a_bad_input_with_a_json_document(capsys, tmp_path):
    import json

    assert cli.main(["pbtxt", "check", str(tmp_path / "missing.pbtxt"), "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["ok"] is False and "not found" in doc["error"] and doc["exit_code"] == 2
    assert captured.err.count("\n") == 1


def test_an_unexpected_exception_is_one_line_unless_debugging(capsys, monkeypatch):
    import argparse

    def boom(args):
        raise RuntimeError("kaputt")

    monkeypatch.delenv("LMI_WIZARD_DEBUG", raising=False)
    assert cli._dispatch(argparse.Namespace(_run=boom), None) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: kaputt" in err and "LMI_WIZARD_DEBUG=1" in err
    monkeypatch.setenv("LMI_WIZARD_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli._dispatch(argparse.Namespace(_run=boom), None)
