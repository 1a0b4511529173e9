"""core/repo: assembling triton_model_repo/ from a checkout's templates (both repository layouts) and the
engines (hard link / rename / copy), atomically, with progress and cancel."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lmi_wizard.core.triton import repo
from lmi_wizard.core.base.errors import Cancelled, WizardError
from lmi_wizard.core.base.progress import CancelToken

from conftest import FIXTURES


def make_checkout(root: Path, tag: str, layout: str) -> Path:
    """A partial checkout: the real upstream config.pbtxt of every model of ``tag`` at its repo path, and the
    ``1/`` folder upstream keeps next to it (python models' model.py is not in the fixtures: a one-line file)."""
    sub = "all_models/inflight_batcher_llm" if layout == "backend" else "triton_backend/all_models/inflight_batcher_llm"
    base = root / sub
    for cfg in sorted((FIXTURES / "pbtxt" / tag).glob("*/config.pbtxt")):
        d = base / cfg.parent.name
        (d / "1").mkdir(parents=True)
        shutil.copyfile(cfg, d / "config.pbtxt")
        if cfg.parent.name in ("preprocessing", "postprocessing", "tensorrt_llm_bls"):
            (d / "1" / "model.py").write_text("# upstream model.py (not in the fixtures)\n")
        else:
            (d / "1" / ".gitkeep").write_text("")
    return root


def make_engines(d: Path, size: int = 3 * 1024 * 1024) -> Path:
    d.mkdir(parents=True)
    (d / "rank0.engine").write_bytes(os.urandom(size))
    (d / "rank1.engine").write_bytes(os.urandom(1024))
    (d / "config.json").write_text('{"builder_config": {}}\n')
    return d


@pytest.mark.parametrize("tag,layout", [("v0.16.0", "backend"),
                                        ("trtllm-1.1.0rc6-2a9abd95", "trtllm")])
def test_find_template_dir_accepts_either_root(tmp_path, tag, layout):
    root = make_checkout(tmp_path / "checkout", tag, layout)
    expected = next(root.rglob("inflight_batcher_llm"))
    starts = [root, expected, expected.parent]
    if layout == "trtllm":
        starts.append(root / "triton_backend")
    for start in starts:
        assert repo.find_template_dir(start) == expected
    with pytest.raises(WizardError, match="no inflight_batcher_llm templates"):
        repo.find_template_dir(tmp_path)
    with pytest.raises(WizardError, match="not found"):
        repo.find_template_dir(tmp_path / "nope")


def test_assemble_with_hard_links(tmp_path):
    checkout = make_checkout(tmp_path / "tensorrtllm_backend", "v0.16.0", "backend")
    engines = make_engines(tmp_path / "engines")
    events = []
    res = repo.assemble_repo(checkout, tmp_path / "triton_model_repo", engine_dir=engines, progress=events.append)
    trt = tmp_path / "triton_model_repo" / "tensorrt_llm"
    assert res.models == ["tensorrt_llm"] and sorted(p.name for p in (tmp_path / "triton_model_repo").iterdir()) == ["tensorrt_llm"]
    assert (trt / "config.pbtxt").read_bytes() == (FIXTURES / "pbtxt/v0.16.0/tensorrt_llm/config.pbtxt").read_bytes()
    assert res.method == "hardlink" and res.same_filesystem is True and res.methods == {"hardlink": 3}
    for name in ("rank0.engine", "rank1.engine", "config.json"):
        assert (trt / "1" / name).stat().st_ino == (engines / name).stat().st_ino
    assert sorted(res.engine_files) == ["config.json", "rank0.engine", "rank1.engine"]
    assert res.config_path == trt / "config.pbtxt" and res.engine_path == trt / "1"
    assert os.access(trt / "config.pbtxt", os.W_OK)  # the read-only fixture became a writable copy
    assert events and events[-1].message.startswith("assembled")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".triton_model_repo")]


def test_assemble_all_models_from_a_tensorrt_llm_checkout_by_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(repo, "CHUNK", 4 * 1024 * 1024)  # 64 MiB steps in use: smaller here to see several
    checkout = make_checkout(tmp_path / "TensorRT-LLM", "v0.19.0", "trtllm")
    engines = make_engines(tmp_path / "engines", size=20 * 1024 * 1024)
    events = []
    res = repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=engines, engine_mode="copy",
                             models=repo.MODELS, progress=events.append)
    assert sorted(res.models) == sorted(repo.MODELS)
    for m in repo.MODELS:
        assert (tmp_path / "repo" / m / "config.pbtxt").is_file()
    assert (tmp_path / "repo" / "preprocessing" / "1" / "model.py").is_file()
    eng = tmp_path / "repo" / "tensorrt_llm" / "1" / "rank0.engine"
    assert eng.read_bytes() == (engines / "rank0.engine").read_bytes()
    assert eng.stat().st_ino != (engines / "rank0.engine").stat().st_ino
    assert res.method == "copy" and res.bytes == sum(p.stat().st_size for p in engines.iterdir())
    done = [e.done for e in events if e.done is not None]
    assert done == sorted(done) and done[-1] == res.bytes and len(done) >= 7  # chunked progress (20 MiB / 4 MiB)


def test_move_renames_and_cross_filesystem_copies(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.13.0", "backend")
    engines = make_engines(tmp_path / "engines")
    res = repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=engines, engine_mode="move")
    assert res.method == "rename" and not any(engines.iterdir())
    assert (tmp_path / "repo/tensorrt_llm/1/rank0.engine").stat().st_size == 3 * 1024 * 1024
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to try")
    other = shm / f"lmiw-{os.getpid()}"
    try:
        make_engines(other)
        res = repo.assemble_repo(checkout, tmp_path / "repo2", engine_dir=other, engine_mode="link")
        assert res.method == "copy" and res.same_filesystem is False
        assert any("not on the same file system" in n for n in res.notes)
        res = repo.assemble_repo(checkout, tmp_path / "repo3", engine_dir=other, engine_mode="move")
        assert res.method == "copy" and (other / "rank0.engine").exists()
        assert any("still in" in n for n in res.notes)
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_refuses_to_overwrite_unless_forced(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    dest = tmp_path / "repo"
    dest.mkdir()
    repo.assemble_repo(checkout, dest)  # an empty folder is fine
    (dest / "mine.txt").write_text("keep me")
    with pytest.raises(WizardError, match="already exists") as ei:
        repo.assemble_repo(checkout, dest, models=["ensemble"])
    assert "force" in ei.value.fix and (dest / "mine.txt").read_text() == "keep me"
    res = repo.assemble_repo(checkout, dest, models=["ensemble"], force=True)
    assert res.replaced_existing and not (dest / "mine.txt").exists() and (dest / "ensemble").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "repo"]  # no temp or backup left


def test_cancel_during_copy_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(repo, "CHUNK", 1024 * 1024)
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    engines = make_engines(tmp_path / "engines", size=20 * 1024 * 1024)
    token = CancelToken()

    def progress(ev):
        if ev.done and ev.done >= repo.CHUNK:
            token.cancel()

    with pytest.raises(Cancelled):
        repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=engines, engine_mode="copy",
                           progress=progress, cancel=token)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "engines"]


def test_cancel_after_moves_puts_the_engines_back(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    engines = make_engines(tmp_path / "engines")
    before = sorted(p.name for p in engines.iterdir())
    token = CancelToken()

    def progress(ev):
        if ev.message.startswith("rename"):
            token.cancel()

    with pytest.raises(Cancelled):
        repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=engines, engine_mode="move",
                           progress=progress, cancel=token)
    assert sorted(p.name for p in engines.iterdir()) == before
    assert not (tmp_path / "repo").exists()


def test_bad_inputs(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.5.0", "backend")
    with pytest.raises(WizardError, match="tensorrt_llm_bls not in") as ei:
        repo.assemble_repo(checkout, tmp_path / "repo", models=["tensorrt_llm_bls"])
    assert "preprocessing" in ei.value.fix
    with pytest.raises(WizardError, match="engine folder not found"):
        repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WizardError, match="is empty"):
        repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=tmp_path / "empty")
    with pytest.raises(WizardError, match="engine_mode"):
        repo.assemble_repo(checkout, tmp_path / "repo", engine_mode="symlink")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(WizardError, match="not a folder"):
        repo.assemble_repo(checkout, tmp_path / "afile")
    assert not (tmp_path / "repo").exists()


def test_no_engine_file_is_noted(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    d = tmp_path / "weird"
    d.mkdir()
    (d / "readme.txt").write_text("x")
    res = repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=d)
    assert any("no *.engine" in n for n in res.notes)


def test_unwritable_destination_is_a_clear_error(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
    elif os.system(f"chattr +i {ro} 2>/dev/null") != 0:
        pytest.skip("root without chattr: cannot make a folder unwritable")
    try:
        with pytest.raises(WizardError, match="permission denied|read-only"):
            repo.assemble_repo(checkout, ro / "repo")
    finally:
        if os.geteuid() == 0:
            os.system(f"chattr -i {ro}")
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []


def test_repository_inside_the_engine_folder_or_through_a_file_is_refused(tmp_path, monkeypatch):
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    engines = make_engines(tmp_path / "engines")
    before = sorted(p.name for p in engines.iterdir())
    with pytest.raises(WizardError, match="inside the engine folder"):
        repo.assemble_repo(checkout, engines / "triton_model_repo", engine_dir=engines)
    assert sorted(p.name for p in engines.iterdir()) == before  # nothing written into the engines
    (tmp_path / "afile").write_text("x")
    with pytest.raises(WizardError, match="is a file, so"):
        repo.assemble_repo(checkout, tmp_path / "afile" / "repo", engine_dir=engines)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WizardError, match="no repository folder given"):  # '' is not the current folder
        repo.assemble_repo(checkout, "", engine_dir=engines)


# ------------------------------------------------------------------------------------------- links, fast copy
def test_links_in_the_engine_folder_are_placed_as_the_files_they_point_to(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    store = make_engines(tmp_path / "store")
    edir = tmp_path / "build" / "engines"
    edir.mkdir(parents=True)
    (edir / "rank0.engine").symlink_to(os.path.relpath(store / "rank0.engine", edir))  # relative
    (edir / "rank1.engine").symlink_to(store / "rank1.engine")  # absolute
    (edir / "config.json").write_text("{}")
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "extra.bin").write_bytes(b"E" * 10)
    (edir / "shards").symlink_to(tmp_path / "shards", target_is_directory=True)  # a linked folder is followed
    for mode, how in (("link", "hardlink"), ("copy", "copy"), ("move", None)):
        res = repo.assemble_repo(checkout, tmp_path / f"repo-{mode}", engine_dir=edir, engine_mode=mode)
        one = res.engine_path
        assert sorted(res.engine_files) == ["config.json", "rank0.engine", "rank1.engine", "shards/extra.bin"]
        assert not any(p.is_symlink() for p in one.rglob("*"))  # real files: the bytes go to S3, not a link
        for name in ("rank0.engine", "rank1.engine"):
            assert (one / name).read_bytes() == (store / name).read_bytes()
        assert (one / "shards" / "extra.bin").read_bytes() == b"E" * 10
        if how:
            assert res.methods == {how: 4}
        assert any("links" in n and "rank0.engine" in n for n in res.notes)
    assert res.methods == {"hardlink": 3, "rename": 1}  # move: only the file that is really in the folder moves
    assert (edir / "rank0.engine").is_symlink() and (store / "rank0.engine").is_file()  # links and targets stay
    assert (tmp_path / "shards" / "extra.bin").is_file() and not (edir / "config.json").exists()


def test_a_dangling_link_or_a_loop_in_the_engine_folder_is_refused(tmp_path):
    checkout = make_checkout(tmp_path / "b", "v0.16.0", "backend")
    edir = make_engines(tmp_path / "engines")
    (edir / "rank2.engine").symlink_to(Path("..") / "store" / "rank2.engine")
    with pytest.raises(WizardError, match=r"rank2.engine is a link to \.\./store/rank2.engine, which does not "
                                          r"exist \(a dangling link\)") as e:
        repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=edir)
    assert "real engine file" in e.value.fix
    (edir / "rank2.engine").unlink()
    (edir / "sub").mkdir()
    (edir / "sub" / "up").symlink_to(edir, target_is_directory=True)
    with pytest.raises(WizardError, match="a loop"):
        repo.assemble_repo(checkout, tmp_path / "repo", engine_dir=edir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "engines"]  # nothing left behind


@pytest.mark.parametrize("broken", ["none", "copy_file_range", "both", "zero"])
def test_copy_is_exact_whichever_kernel_copy_works(tmp_path, monkeypatch, broken):
    """copy_file_range → sendfile → read/write: each fallback gives the same bytes; progress in CHUNK steps."""
    import errno

    monkeypatch.setattr(repo, "CHUNK", 1024 * 1024)
    src = tmp_path / "rank0.engine"
    data = os.urandom(3 * 1024 * 1024 + 12345)
    src.write_bytes(data)
    os.chmod(src, 0o640)
    calls = {"cfr": 0, "sendfile": 0}
    real_cfr, real_sendfile = os.copy_file_range, os.sendfile

    def cfr(*a):
        calls["cfr"] += 1
        if broken in ("copy_file_range", "both"):
            raise OSError(errno.EXDEV, "cross-device")
        if broken == "zero" and calls["cfr"] > 1:
            return 0  # what some file systems answer before the end
        return real_cfr(*a)

    def sendfile(*a):
        calls["sendfile"] += 1
        if broken == "both":
            raise OSError(errno.ENOSYS, "no sendfile")
        return real_sendfile(*a)

    monkeypatch.setattr(os, "copy_file_range", cfr)
    monkeypatch.setattr(os, "sendfile", sendfile)
    done, events = [0], []
    repo._copy_file(src, tmp_path / "out", done, len(data), events.append, None)
    assert (tmp_path / "out").read_bytes() == data and done[0] == len(data)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o640
    assert [e.done for e in events] == [2**20, 2 * 2**20, 3 * 2**20, len(data)]
    assert calls["sendfile"] == {"none": 0, "zero": 0, "both": 1, "copy_file_range": 5}[broken]  # 4 steps + EOF
    with pytest.raises(FileExistsError):  # never writes over a file
        repo._copy_file(src, tmp_path / "out", [0], len(data), None, None)


def test_copy_error_is_not_hidden_by_a_fallback(tmp_path, monkeypatch):
    import errno

    def full(*a):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full)
    (tmp_path / "a").write_bytes(b"x" * 100)
    with pytest.raises(OSError) as e:
        repo._copy_file(tmp_path / "a", tmp_path / "b", [0], 100, None, None)
    assert e.value.errno == errno.ENOSPC
