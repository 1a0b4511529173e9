"""Installed versions (real dist-info metadata in tmp dirs), PEP 440 parsing, version → tag against
REAL git repos with REAL tags (file:// URLs for ls-remote, a local checkout), unreachable remotes."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from lmi_wizard.core.facts import versions as V
from lmi_wizard.core.base.errors import WizardError
from tests.support.repos import tagged_config_repo as make_repo


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    base = tmp_path_factory.mktemp("remotes")
    backend = make_repo(base / "tensorrtllm_backend",
                        ["v0.5.0", "v0.11.0", "v0.12.0", "v0.16.0", "v0.17.0", "v0.19.0"],
                        "all_models/inflight_batcher_llm", annotated=True)
    trtllm = make_repo(base / "TensorRT-LLM",
                       ["v0.20.0", "v0.21.0rc1", "v0.21.0", "v1.0.0", "v1.2.0rc6", "v1.2.0rc6.post2"],
                       "triton_backend/all_models/inflight_batcher_llm")
    return backend, trtllm


# --- installed versions -------------------------------------------------------------------------


def _dist(site: Path, name: str, version: str) -> None:
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_installed_versions_from_real_metadata(tmp_path):
    _dist(tmp_path, "tensorrt_llm", "0.12.0.dev2024080600")
    _dist(tmp_path, "tensorrt-cu12", "10.3.0")
    t = V.detect_tensorrt_llm([tmp_path])
    assert t == V.InstalledPackage("tensorrt_llm", True, "0.12.0.dev2024080600", "tensorrt_llm")
    r = V.detect_tensorrt([tmp_path])
    assert r.installed and r.version == "10.3.0" and r.distribution == "tensorrt-cu12"


def test_absent_packages(tmp_path):
    assert V.detect_tensorrt_llm([tmp_path]) == V.InstalledPackage("tensorrt_llm", False)
    assert V.detect_tensorrt([tmp_path]).to_json() == {"installed": False, "version": None, "distribution": None}
    # and in this venv (tensorrt-llm is never a test dependency)
    assert not V.detect_tensorrt_llm().installed


# --- PEP 440 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, release, pre, post, dev, local, public", [
    ("0.12.0", (0, 12, 0), None, None, None, None, "0.12.0"),
    ("v0.12.0", (0, 12, 0), None, None, None, None, "0.12.0"),
    ("0.12.0.dev2024080600", (0, 12, 0), None, None, 2024080600, None, "0.12.0.dev2024080600"),
    ("0.17.0.post1", (0, 17, 0), None, 1, None, None, "0.17.0.post1"),
    ("1.2.0rc6.post2", (1, 2, 0), ("rc", 6), 2, None, None, "1.2.0rc6.post2"),
    ("0.21.0rc1", (0, 21, 0), ("rc", 1), None, None, None, "0.21.0rc1"),
    ("0.13.0+cu124", (0, 13, 0), None, None, None, "cu124", "0.13.0"),
    ("1.1.0rc6+git.2a9abd95", (1, 1, 0), ("rc", 6), None, None, "git.2a9abd95", "1.1.0rc6"),
    ("1.0.0-1", (1, 0, 0), None, 1, None, None, "1.0.0.post1"),
    ("1.0.0.RC2", (1, 0, 0), ("rc", 2), None, None, None, "1.0.0rc2"),
])
def test_parse_version(text, release, pre, post, dev, local, public):
    v = V.parse_version(text)
    assert (v.release, v.pre, v.post, v.dev, v.local, v.public) == (release, pre, post, dev, local, public)


@pytest.mark.parametrize("bad", ["", "abc", "1.2.x", "main", "v"])
def test_parse_version_rejects(bad):
    with pytest.raises(WizardError):
        V.parse_version(bad)
    assert V.try_parse_version(bad) is None


def test_version_ordering():
    order = ["0.12.0.dev1", "0.12.0rc1", "0.12.0", "0.12.0.post1", "0.13.0", "1.2.0rc6", "1.2.0rc6.post2", "1.2.0"]
    shuffled = list(reversed(order))
    assert sorted(shuffled, key=lambda s: V.parse_version(s).key()) == order
    assert V.parse_version("1.0").key() == V.parse_version("1.0.0").key()


_CORPUS = ["0.12.0", "v0.12.0", "0.12.0.dev2024080600", "0.17.0.post1", "1.2.0rc6.post2", "0.21.0rc1",
           "0.13.0+cu124", "1.1.0rc6+git.2a9abd95", "1.0.0-1", "1.0.0.RC2", "1!2.0", "1.0a1", "1.0b2.dev3",
           "1.0-preview-4", "0.9.0.post0.dev1", " 0.33.0 ", "2.0+Local-Build_1", "", "abc", "1.2.x", "main", "v",
           "1.0+", "1.0.dev-1", "01.02.003"]


def _fields(parse, text):
    try:
        v = parse(text)
    except WizardError as exc:
        return ("error", exc.problem, exc.fix)
    return (v.release, v.pre, v.post, v.dev, v.local, v.epoch, v.public, str(v))


def test_parse_version_is_packaging_and_the_stdlib_fallback_agrees_with_it():
    """parse_version goes through packaging.version here; the fallback (for the stdlib-only doctor) reads
    every sample the same way, error text included."""
    from packaging.version import Version as Pep440

    assert V._parser() is V._parse_packaging
    for text in _CORPUS:
        assert _fields(V._parse_fallback, text) == _fields(V._parse_packaging, text), text
    good = [t for t in _CORPUS if V.try_parse_version(t) is not None]
    assert sorted(good, key=lambda t: V.parse_version(t).key()) == sorted(good, key=Pep440)


def test_template_repo_boundary():
    assert V.template_repo_for("0.19.0").github == "triton-inference-server/tensorrtllm_backend"
    assert V.template_repo_for("0.19.0").subdir == "all_models/inflight_batcher_llm"
    r = V.template_repo_for("0.20.0")
    assert r.github == "NVIDIA/TensorRT-LLM" and r.subdir == "triton_backend/all_models/inflight_batcher_llm"
    assert V.template_repo_for("1.2.0rc6.post2").key == "TensorRT-LLM"


# --- version → tag, pure ------------------------------------------------------------------------

BACKEND_TAGS = {"v0.5.0", "v0.11.0", "v0.12.0", "v0.16.0", "v0.17.0", "v0.19.0", "rel-notes"}
TRTLLM_TAGS = {"v0.20.0", "v0.21.0rc1", "v1.0.0", "v1.2.0rc6", "v1.2.0rc6.post2"}


def test_exact_release():
    r = V.resolve_tag("0.12.0", BACKEND_TAGS)
    assert (r.tag, r.exact, r.needs_confirmation, r.tag_verified) == ("v0.12.0", True, False, True)
    assert r.template_repo.key == "tensorrtllm_backend"


def test_dev_build_is_nearest_release_and_needs_confirmation():
    r = V.resolve_tag("0.12.0.dev2024080600", BACKEND_TAGS)
    assert r.tag == "v0.12.0" and not r.exact and r.needs_confirmation
    assert "development build" in r.notes[0]


def test_post_release_uses_its_tag_when_it_exists_else_the_base():
    r = V.resolve_tag("0.17.0.post1", BACKEND_TAGS)
    assert r.tag == "v0.17.0" and not r.exact and not r.needs_confirmation
    assert any("no tag v0.17.0.post1" in n for n in r.notes)
    r = V.resolve_tag("0.17.0.post1", BACKEND_TAGS | {"v0.17.0.post1"})
    assert r.tag == "v0.17.0.post1" and r.exact and r.notes == []


def test_rc_post_and_local_suffixes():
    r = V.resolve_tag("1.2.0rc6.post2", TRTLLM_TAGS)
    assert r.tag == "v1.2.0rc6.post2" and r.exact and r.template_repo.key == "TensorRT-LLM"
    r = V.resolve_tag("1.2.0rc6.post3+cu128", TRTLLM_TAGS)
    assert r.tag == "v1.2.0rc6" and any("local build" in n for n in r.notes)
    r = V.resolve_tag("0.21.0rc1", TRTLLM_TAGS)
    assert r.tag == "v0.21.0rc1" and r.exact


def test_missing_tag_falls_back_to_nearest_older_of_the_same_repo():
    r = V.resolve_tag("0.12.1", BACKEND_TAGS)
    assert r.tag == "v0.12.0" and r.needs_confirmation and not r.exact
    r = V.resolve_tag("1.1.0", TRTLLM_TAGS)
    assert r.tag == "v1.0.0" and r.needs_confirmation
    r = V.resolve_tag("0.20.0", {"v0.19.0"})  # only the other repo's tags: nothing suitable
    assert r.tag is None and any("give the tag yourself" in n for n in r.notes)


def test_offline_derivation_without_tags():
    r = V.resolve_tag("0.17.0.post1", None)
    assert r.tag == "v0.17.0" and not r.tag_verified
    assert any("could not check" in n for n in r.notes)
    r = V.resolve_tag("0.12.0", None)
    assert r.tag == "v0.12.0" and not r.tag_verified and any("not checked" in n for n in r.notes)


# --- real git: ls-remote over file://, a checkout, unreachable remotes --------------------------


def test_parse_ls_remote():
    text = ("a" * 40 + "\trefs/tags/v0.12.0\n" + "b" * 40 + "\trefs/tags/v0.12.0^{}\n"
            + "c" * 40 + "\trefs/heads/main\n")
    assert V.parse_ls_remote(text) == {"v0.12.0"}


def test_ls_remote_file_url(repos):
    backend, trtllm = repos
    listing = V.list_remote_tags(backend.as_uri(), timeout=20)
    assert listing.tags == {"v0.5.0", "v0.11.0", "v0.12.0", "v0.16.0", "v0.17.0", "v0.19.0"}


def test_find_tag_against_real_remotes(repos):
    backend, trtllm = repos
    urls = dict(backend_url=backend.as_uri(), trtllm_url=trtllm.as_uri(), timeout=20)
    r = V.find_tag("0.12.0.dev2024080600", **urls)
    assert r.tag == "v0.12.0" and r.needs_confirmation and r.tag_verified
    assert r.tags_source == f"git ls-remote {backend.as_uri()}"
    r = V.find_tag("0.17.0.post1", **urls)
    assert r.tag == "v0.17.0" and any("no tag v0.17.0.post1" in n for n in r.notes)
    r = V.find_tag("1.2.0rc6.post2", **urls)
    assert r.tag == "v1.2.0rc6.post2" and r.exact and r.template_repo.url == trtllm.as_uri()

def test_find_tag_checks_both_repos_before_020(tmp_path):
    """Up to 0.19 the checkout clones tensorrtllm_backend AND TensorRT-LLM at the tag: both are listed."""
    backend = make_repo(tmp_path / "b", ["v0.11.0", "v0.12.0"], "all_models/inflight_batcher_llm")
    trtllm = make_repo(tmp_path / "t", ["v0.11.0"], "examples")
    r = V.find_tag("0.11.0", backend_url=backend.as_uri(), trtllm_url=trtllm.as_uri(), timeout=20)
    assert r.tag == "v0.11.0" and r.exact and not r.needs_confirmation
    r = V.find_tag("0.12.0", backend_url=backend.as_uri(), trtllm_url=trtllm.as_uri(), timeout=20)
    assert r.tag == "v0.12.0" and r.needs_confirmation and not r.exact
    assert any("not in NVIDIA/TensorRT-LLM" in n for n in r.notes)
    r = V.find_tag("0.12.0", backend_url=backend.as_uri(), trtllm_url=(tmp_path / "none").as_uri(), timeout=20)
    assert r.tag == "v0.12.0" and r.exact and any("TensorRT-LLM's tags not checked" in n for n in r.notes)


def test_find_tag_from_a_local_checkout(repos, tmp_path):
    backend, trtllm = repos
    r = V.find_tag("0.21.0", checkout=trtllm, offline=True)
    assert r.tag == "v0.21.0" and r.exact and r.tags_source == f"checkout {trtllm}"
    assert V.checkout_kind(trtllm) == "TensorRT-LLM" and V.checkout_kind(backend) == "tensorrtllm_backend"
    r = V.find_tag("0.16.0", checkout=trtllm, offline=True)  # wrong repo for 0.16
    assert any("looks like TensorRT-LLM" in n for n in r.notes)
    r = V.find_tag("0.16.0", checkout=tmp_path / "nope", offline=True)
    assert not r.tag_verified and r.tag == "v0.16.0" and any("does not exist" in n for n in r.notes)


def test_unreachable_remote_is_a_note_not_an_exception(tmp_path):
    missing = (tmp_path / "no-such-repo").as_uri()
    r = V.find_tag("0.12.0", backend_url=missing, trtllm_url=missing, timeout=20)
    assert r.tag == "v0.12.0" and not r.tag_verified
    assert any("cannot list tags" in n for n in r.notes)
    assert any("tag derived from the version only" in n for n in r.notes)


def test_offline_never_runs_git(monkeypatch):
    monkeypatch.setattr(V, "list_remote_tags", lambda *a, **k: pytest.fail("network used while offline"))
    r = V.find_tag("0.12.0", offline=True)
    assert r.tag == "v0.12.0" and any("not checked" in n for n in r.notes)


def test_hanging_remote_is_cut_by_the_timeout():
    # a real TCP server that accepts and never answers: git:// ls-remote hangs until our timeout
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        listing = V.list_remote_tags(f"git://127.0.0.1:{srv.getsockname()[1]}/x.git", timeout=1.0)
    finally:
        stop.set()
        t.join()
        for c in conns:
            c.close()
        srv.close()
    # killed by our timeout (the server never answers), reported as a note
    assert listing.tags is None and "no answer within 1 s" in listing.note


def test_release_tuple_for_comparisons():
    assert V.release_tuple("0.14.0rc1") == (0, 14, 0) and V.release_tuple("v0.29") == (0, 29, 0)
    assert V.release_tuple("1.2.0rc6.post2+cu12") == (1, 2, 0) and V.release_tuple("0.12.0.dev2024080600") == (0, 12, 0)
    assert V.release_tuple(None) is None and V.release_tuple("garbage") is None and V.release_tuple("") is None


def test_a_url_setting_is_never_a_git_option(tmp_path):
    marker = tmp_path / "pwned"
    listing = V.list_remote_tags(f"--upload-pack=touch {marker}", timeout=20)
    assert listing.tags is None and "cannot list tags" in listing.note and not marker.exists()


def test_an_absent_package_is_known_without_importlib_metadata_and_a_present_one_is_still_found(tmp_path):
    """Issue 12 §7: the first screen's detection is a folder listing when tensorrt-llm is not there (the
    metadata import and scan cost ~10 ms); installed under either spelling it is found as before."""
    import subprocess
    import sys

    probe = ("import sys\nfrom lmi_wizard.core.facts import versions as V\nr = V.detect_tensorrt_llm()\n"
             "print(r.installed, r.version, 'importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "None", "False"]
    _dist(tmp_path, "tensorrt-llm", "0.21.0rc1")  # a dist-info folder spelled tensorrt_llm-0.21.0rc1.dist-info
    env = dict(__import__("os").environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    assert out == ["True", "0.21.0rc1", "True"]
