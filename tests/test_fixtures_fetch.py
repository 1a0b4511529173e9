"""Where the upstream fixtures come from: tests/support/fixtures.py (the lookup order, the one-line skip) and
scripts/fetch_fixtures.py (pinned refs + sha256 from tests/data/fixtures.lock.json), run as a real subprocess
against a real HTTP mirror on 127.0.0.1 laid out like raw.githubusercontent.com."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support import fixtures as F

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "fetch_fixtures.py"
LOCK = json.loads((ROOT / "tests" / "data" / "fixtures.lock.json").read_text())


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})), cwd=ROOT)


def test_lookup_order_and_one_line_skip(tmp_path, monkeypatch):
    monkeypatch.setenv(F.ENV, str(tmp_path / "missing"))
    assert F.locate() is None and not F.available()  # the env var is exclusive: no fall-through to ../shared
    with pytest.raises(pytest.skip.Exception) as ei:
        F.fixtures_root()
    assert str(ei.value) == F.HOW and "\n" not in F.HOW and "scripts/fetch_fixtures.py" in F.HOW
    [only] = F.params([Path("a"), Path("b")], ["a", "b"])
    assert only.id == "no-fixtures" and only.marks[0].kwargs["reason"] == F.HOW
    assert F.fixture_glob("pbtxt/*") == []
    lazy = F.FIXTURES / "pbtxt" / "v0.5.0"  # building a path touches nothing
    assert "pbtxt/v0.5.0" in repr(lazy)
    with pytest.raises(pytest.skip.Exception):
        lazy.is_dir()  # using it does: the test skips
    monkeypatch.setenv(F.ENV, str(tmp_path))
    assert F.fixtures_root() == tmp_path and (F.FIXTURES / "x").path() == tmp_path / "x"
    assert F.params([1, 2]) == [pytest.param(1), pytest.param(2)]


def test_a_local_copy_counts_only_once_complete(tmp_path, monkeypatch):
    monkeypatch.delenv(F.ENV, raising=False)
    monkeypatch.setenv("LMI_WIZARD_SHARED", str(tmp_path / "no-shared"))
    local = tmp_path / ".fixtures"
    monkeypatch.setattr(F, "LOCAL", local)
    local.mkdir()
    assert F.locate() is None  # half-fetched: not used
    (local / F.COMPLETE).write_text("ok\n")
    assert F.locate() == local


def test_the_lock_file_is_the_fixtures_in_use(fixtures_dir):
    """Every fixture file is in the lock with its bytes' sha256, and nothing else is (a file added to
    ../shared/fixtures without a pinned source fails here)."""
    have = {p.relative_to(fixtures_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in fixtures_dir.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert have == {e["path"]: e["sha256"] for e in LOCK["files"]}
    for e in LOCK["files"]:
        assert ("local" in e) != ("repo" in e), e
        if "repo" in e:  # pinned: a release tag or a commit prefix of at least 12 hex digits
            assert e["repo"] in ("NVIDIA/TensorRT-LLM", "triton-inference-server/tensorrtllm_backend"), e
            assert e["ref"].startswith("v") or (len(e["ref"]) >= 12 and int(e["ref"], 16) >= 0), e
        else:
            assert hashlib.sha256((ROOT / e["local"]).read_bytes()).hexdigest() == e["sha256"], e


@pytest.fixture
def mirror(tmp_path, fixtures_dir):
    """A real HTTP server on 127.0.0.1 serving <owner>/<repo>/<ref>/<path>, built from the fixtures' bytes."""
    root = tmp_path / "mirror"
    for e in LOCK["files"]:
        if "repo" in e:
            dst = root / e["repo"] / e["ref"] / e["src"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes((fixtures_dir / e["path"]).read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port_url() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def test_fetch_verifies_is_a_no_op_offline_and_fails_in_one_line(tmp_path, mirror, fixtures_dir):
    root, url = mirror
    dest = tmp_path / "dest"
    res = _run("--dest", str(dest), "--base-url", url)
    assert res.returncode == 0, res.stderr
    assert f"{len(LOCK['files'])} fetched, 0 already there" in res.stdout
    assert (dest / ".complete").is_file()
    for e in LOCK["files"]:
        assert (dest / e["path"]).read_bytes() == (fixtures_dir / e["path"]).read_bytes(), e["path"]
    offline = _closed_port_url()
    # everything there: offline is a no-op
    res = _run("--dest", str(dest), "--base-url", offline)
    assert res.returncode == 0 and f"0 fetched, {len(LOCK['files'])} already there" in res.stdout, res.stderr
    # one file missing and the network unreachable: one line, exit 2, and the copy is no longer "complete"
    victim = next(e for e in LOCK["files"] if "repo" in e)
    (dest / victim["path"]).unlink()
    res = _run("--dest", str(dest), "--base-url", offline)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "cannot reach 127.0.0.1" in res.stderr
    assert "Traceback" not in res.stderr and not (dest / ".complete").exists()
    # the mirror serves other bytes: refused in one line naming the file, nothing written
    (root / victim["repo"] / victim["ref"] / victim["src"]).write_bytes(b"tampered\n")
    res = _run("--dest", str(dest), "--base-url", url)
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert victim["path"] in res.stderr and "sha256" in res.stderr
    assert not (dest / victim["path"]).exists() and not list((dest / victim["path"]).parent.glob(".*.part"))
    # a file the mirror does not have: one line, exit 1
    (root / victim["repo"] / victim["ref"] / victim["src"]).unlink()
    res = _run("--dest", str(dest), "--base-url", url)
    assert res.returncode == 1 and "HTTP 404" in res.stderr and res.stderr.count("\n") == 1


def test_default_run_is_a_no_op_when_fixtures_are_found(tmp_path):
    res = _run(env={F.ENV: str(tmp_path)})
    assert res.returncode == 0 and "nothing to fetch" in res.stdout
