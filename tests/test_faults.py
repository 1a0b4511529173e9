"""Faults, for real: processes killed with SIGKILL / SIGINT, a real full file system (tmpfs), a real read-only
mount, outputs that already exist.

* upload killed mid-way: ``lmi-wizard publish`` as a subprocess against the moto server, SIGKILLed while a
  multipart upload is in flight (the server holds a part, so the kill lands mid-upload); the re-run sends only
  what is missing and the listing matches the source (sizes and ETags, multipart ETag computed locally).
* builder killed from outside / failing / hanging: the pipeline keeps its state and says where it stopped;
  Ctrl-C (SIGINT to the process group, like a terminal) of ``lmi-wizard build`` and ``lmi-wizard run`` leaves
  no process of the builder's group behind.
* disk full (tmpfs of a few KB) and read-only (bind mount remounted ro) while assembling the repository and
  writing config.pbtxt: one clear error, the old file intact, no temp file or half folder left.
* existing outputs are replaced only with ``--force``.

Mounting needs root (CAP_SYS_ADMIN); without it those tests are skipped with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.procs import alive, group_gone, kill_group, restore_sigint, wait_for

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core import triton as pbtxt
from lmi_wizard.core.triton import repo
from lmi_wizard.core import s3 as s3mod
from lmi_wizard.core import pipeline as P
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.core import wizard as S
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.base.progress import CancelToken
from tests.hubserver import FakeHub, baichuan_repo, llama_repo
from tests.s3server import DROPPED, Gate, s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.builders import CLI, ROOT, hanging_build
from tests.support.pipeline import tutorial_recipe

MiB = 1024 * 1024


# ------------------------------------------------------------------------------------------- upload killed
def _multipart_etag(path: Path, part: int) -> str:
    digests = []
    with open(path, "rb") as fh:
        while chunk := fh.read(part):
            digests.append(hashlib.md5(chunk).digest())
    return hashlib.md5(b"".join(digests)).hexdigest() + f"-{len(digests)}"


def _model_folder(base: Path, fixtures_dir: Path, big_mib: int) -> Path:
    src = base / "tensorrt_llm"
    (src / "1").mkdir(parents=True)
    shutil.copy(fixtures_dir / "pbtxt" / "v0.10.0" / "tensorrt_llm" / "config.pbtxt", src / "config.pbtxt")
    for name, data in llama_repo().files.items():
        if "/" not in name and name.endswith((".json", ".model")):
            (src / name).write_bytes(data)
    for i in range(12):
        (src / f"extra_{i:02d}.json").write_text(json.dumps({"i": i, "pad": "x" * (100 * i)}))
    big = src / "1" / "rank0.engine"
    with open(big, "wb") as fh:  # sparse, with distinct bytes in each part so the part MD5s differ
        fh.truncate(big_mib * MiB)
        for off in range(0, big_mib * MiB, 16 * MiB):
            fh.seek(off)
            fh.write(f"part data at {off}".encode())
    (src / "1" / "config.json").write_text(json.dumps({"builder_config": {"tensor_parallel": 1}}))
    return src


def _publish(src: Path, dest: str, s3, log: Path) -> subprocess.Popen:
    env = dict(os.environ, **s3.env)
    return subprocess.Popen(CLI + ["publish", str(src), dest, "--endpoint-url", s3.endpoint_url], env=env,
                            cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def test_upload_killed_mid_multipart_then_rerun_sends_only_what_is_missing(tmp_path, fixtures_dir, s3):
    s3.make_bucket("models")
    src = _model_folder(tmp_path, fixtures_dir, big_mib=160)
    dest, prefix = "s3://models/llm/m1/tensorrt_llm/", "llm/m1/tensorrt_llm/"
    local = {f.rel: f for f in s3mod.scan_local(src)}
    small = sorted(r for r, f in local.items() if f.size < s3mod.THRESHOLD)
    big_rel = "1/rank0.engine"  # 20 parts of 8 MiB

    # hold every UploadPart after the first: the upload is provably in flight when the kill lands
    gate = Gate(lambda r: r.op == "UploadPart", hold_after=1, answer=DROPPED)
    s3.server.hooks.append(gate)
    proc = _publish(src, dest, s3, tmp_path / "first.log")
    try:
        assert gate.reached.wait(60), (tmp_path / "first.log").read_text()
        # the small files go up in parallel with the engine's parts: wait until they are all there
        wait_for(lambda: set(small) <= {k[len(prefix):] for k in s3.objects("models", prefix)}, 60,
                 "the small files")
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9, mid multipart upload
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        gate.release()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    s3.server.hooks.remove(gate)
    before = {k[len(prefix):]: v for k, v in s3.objects("models", prefix).items()}
    assert big_rel not in before and set(small) <= set(before)
    in_flight = s3.client.list_multipart_uploads(Bucket="models").get("Uploads", [])
    assert [u["Key"] for u in in_flight] == [prefix + big_rel]  # really killed mid-way

    s3.log.clear()
    second = _publish(src, dest, s3, tmp_path / "second.log")
    assert second.wait(120) == 0, (tmp_path / "second.log").read_text()
    marker = prefix + s3mod.MARKER_NAME  # the ownership marker: completed by the re-run
    assert [k for k in s3.log.keys("PutObject") if k != marker] == []  # every small file was there: none sent again
    # the engine resumes by part (issue 12 §1): the pending upload is continued, only the missing parts sent
    assert s3.log.keys("CreateMultipartUpload") == [] and s3.log.count("AbortMultipartUpload") == 0
    assert s3.log.count("UploadPart") == 160 // 8 - 1  # 20 parts of 8 MiB, 1 stored before the kill
    after = {k[len(prefix):]: v for k, v in s3.objects("models", prefix).items() if k != marker}
    assert set(after) == set(local)
    for rel, f in local.items():
        size, etag = after[rel]
        assert size == f.size, rel
        want = (_multipart_etag(f.path, s3mod.PART_SIZE) if f.size >= s3mod.THRESHOLD
                else hashlib.md5(f.path.read_bytes()).hexdigest())
        assert etag == want, rel
    # and the content really is the source's (the engine's parts in order)
    body = s3.client.get_object(Bucket="models", Key=prefix + big_rel, Range="bytes=100663296-100663330")["Body"]
    assert body.read().startswith(b"part data at 100663296")
    # nothing changed: a third run sends nothing at all
    s3.log.clear()
    third = _publish(src, dest, s3, tmp_path / "third.log")
    assert third.wait(60) == 0
    assert s3.log.count("PUT") == 0 and s3.log.count("POST") == 0


# ------------------------------------------------------------------------------------------- builder faults
@pytest.fixture
def hub():
    with FakeHub([baichuan_repo()]) as h:
        yield h


def _state(work: Path) -> dict:
    return json.loads((work / P.RUN_DIR / P.STATE_NAME).read_text())


def test_builder_killed_from_outside_state_kept_says_where_and_resumes(fault_remotes, hub, tmp_path, monkeypatch):
    work = tmp_path / "work"
    pids = tmp_path / "pids"
    monkeypatch.setenv("HANG_PIDS_FILE", str(pids))
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("rep", P.Pipeline(
        tutorial_recipe(fault_remotes, work, "out/b/c/"), hf_endpoint=hub.endpoint).run()))
    t.start()
    leader, child, pgid = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 60, "the builder"))
    os.kill(leader, signal.SIGKILL)  # the OOM killer, or someone's kill -9
    t.join(60)
    assert not t.is_alive()
    rep = out["rep"]
    assert not rep.ok and rep.stopped_at == "build"
    assert "exit status -9" in rep.error and "host" in rep.error.lower()  # explained: killed = host OOM
    assert "--resume" in rep.fix
    wait_for(lambda: group_gone(pgid), 10, "the builder's process group to go")
    assert not alive(child)  # its worker went with it
    state = _state(work)
    assert state["steps"]["checkout"]["status"] == "done" and state["steps"]["build"]["status"] == "failed"
    assert "[stand-in build.py] building rank 0 (forever)" in Path(rep.log_path).read_text()
    monkeypatch.delenv("HANG_PIDS_FILE")
    again = P.Pipeline(tutorial_recipe(fault_remotes, work, "out/b/c/"), resume=True, hf_endpoint=hub.endpoint).run()
    assert again.ok, again.error
    status = {s.name: s.status for s in again.steps}
    assert status["checkout"] == "skipped" and status["build"] == "done"


def test_ctrl_c_of_lmi_wizard_run_cancels_kills_builder_group_and_resume_finishes(fault_remotes, hub, tmp_path):
    work = tmp_path / "work"
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(R.dumps_recipe(tutorial_recipe(fault_remotes, work, "out/b/c/")))
    pids = tmp_path / "pids"
    env = dict(os.environ, HANG_PIDS_FILE=str(pids), HF_ENDPOINT=hub.endpoint)
    log = tmp_path / "run.out"
    proc = subprocess.Popen(CLI + ["run", str(recipe)], env=env, cwd=ROOT, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=restore_sigint)
    pgid = None
    try:
        leader, child, pgid = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 90,
                                                "the builder", proc=proc))
        assert pgid != proc.pid  # the builder has its own process group
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal: SIGINT to the foreground group
        rc = proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kill_group(pgid)  # never leave the builder running when the test fails
    text = log.read_text()
    assert rc != 0, text
    assert "build: cancelled" in text or "cancelled" in text
    wait_for(lambda: group_gone(pgid), 10, "the builder's process group to go")
    assert not alive(leader) and not alive(child)
    state = _state(work)
    assert state["steps"]["build"]["status"] == "cancelled" and state["steps"]["checkout"]["status"] == "done"
    # resume finishes without rebuilding what was done
    env.pop("HANG_PIDS_FILE")
    res = subprocess.run(CLI + ["run", str(recipe), "--resume", "--json"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)
    assert doc["ok"] and {s["name"]: s["status"] for s in doc["steps"]}["checkout"] == "skipped"


def test_failing_builder_in_run_says_where_it_stopped(fault_remotes, hub, tmp_path):
    work = tmp_path / "work"
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(R.dumps_recipe(tutorial_recipe(fault_remotes, work, "out/b/c/")))
    env = dict(os.environ, STANDIN_FAIL="1", HF_ENDPOINT=hub.endpoint)
    res = subprocess.run(CLI + ["run", str(recipe)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "build: FAILED" in out and "Out of GPU memory" in out
    assert _state(work)["steps"]["build"]["status"] == "failed"
    # the same command again refuses to start over silently: it offers --resume / --force
    res = subprocess.run(CLI + ["run", str(recipe)], env=dict(env, STANDIN_FAIL=""), cwd=ROOT, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 2 and "--resume" in res.stderr


def test_ctrl_c_of_lmi_wizard_build_leaves_no_orphan(fixtures_dir, tmp_path):
    ex, pids, env, argv = hanging_build(fixtures_dir, tmp_path)
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=restore_sigint)
    pgid = None
    try:
        leader, child = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 180,
                                          "the builder", proc=proc))
        pgid = os.getpgid(leader)
        assert pgid != os.getpgid(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C; the builder ignores SIGTERM (stuck in CUDA)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kill_group(pgid)  # never leave the builder running when the test fails
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    wait_for(lambda: group_gone(pgid), 10, "the builder's process group to go")
    assert not alive(leader) and not alive(child)
    assert not (ex / "engines").exists()


def test_hanging_builder_stopped_by_timeout(fixtures_dir, tmp_path):
    ex, pids, env, argv = hanging_build(fixtures_dir, tmp_path, ["--timeout", "2"])
    res = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert "time limit" in res.stdout and "convert failed" in res.stdout
    leader, child = map(int, pids.read_text().split())
    wait_for(lambda: not alive(leader) and not alive(child), 10, "the builder to go")
    assert "(stopped after the 2 s time limit)" in res.stdout or "time limit" in (tmp_path / "build.log").read_text()


# ------------------------------------------------------------------------------------------- disk full / read-only
def _mount(args: list[str], what: str):
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (mount)")
    res = subprocess.run(["mount", *args], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"{what}: mount not permitted here ({res.stderr.strip()})")


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def tiny_fs(tmp_path):
    """A real file system of 64 KiB (tmpfs)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    _mount(["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mnt)], "a tiny file system")
    try:
        yield mnt
    finally:
        _umount(mnt)


@pytest.fixture
def read_only(tmp_path):
    """A folder, then the same folder bind-mounted read-only over itself: (folder, make_read_only)."""
    d = tmp_path / "ro"
    d.mkdir()
    mounted = []

    def make_ro():
        _mount(["--bind", str(d), str(d)], "a read-only mount")
        mounted.append(d)
        _mount(["-o", "remount,ro,bind", str(d)], "a read-only mount")

    try:
        yield d, make_ro
    finally:
        for m in mounted:
            _umount(m)


def _fill_disk(mnt: Path) -> None:
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def _names(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def test_disk_full_while_writing_config_pbtxt(tiny_fs, fixtures_dir, capsys):
    cfg = tiny_fs / "config.pbtxt"
    shutil.copy(fixtures_dir / "pbtxt" / "v0.10.0" / "tensorrt_llm" / "config.pbtxt", cfg)
    original = cfg.read_bytes()
    _fill_disk(tiny_fs)
    names = _names(tiny_fs)
    rc = cli.main(["pbtxt", "fill", str(cfg), "triton_backend:tensorrtllm,triton_max_batch_size:64", "-i"])
    err = capsys.readouterr().err
    assert rc == 2 and "no space left on device" in err and "Traceback" not in err
    assert err.count("\n") == 1  # one line
    assert cfg.read_bytes() == original  # the old file is intact, not half-written
    assert _names(tiny_fs) == names  # no temp file left behind


def test_disk_full_while_assembling_the_repository(tiny_fs, fixtures_dir, tmp_path):
    edir = tmp_path / "engines"
    edir.mkdir()
    for r in range(2):
        (edir / f"rank{r}.engine").write_bytes(os.urandom(256 * 1024))  # other file system: copied, and too big
    target = tiny_fs / "triton_model_repo"
    with pytest.raises(WizardError) as e:
        repo.assemble_repo(fixtures_dir / "pbtxt" / "v0.10.0", target, engine_dir=edir)
    assert "no space left on device" in str(e.value)
    assert _names(tiny_fs) == set()  # no half repository, no temp folder
    assert sorted(p.name for p in edir.iterdir()) == ["rank0.engine", "rank1.engine"]  # engines untouched


def test_disk_full_publishing_to_a_local_folder(tiny_fs, fixtures_dir, tmp_path):
    src = tmp_path / "tensorrt_llm"
    src.mkdir()
    shutil.copy(fixtures_dir / "pbtxt" / "v0.10.0" / "tensorrt_llm" / "config.pbtxt", src / "config.pbtxt")
    (src / "tokenizer_config.json").write_text("{}")
    (src / "1").mkdir()
    (src / "1" / "rank0.engine").write_bytes(os.urandom(200 * 1024))
    with pytest.raises(WizardError) as e:
        s3mod.sync(src, tiny_fs / "m" / "tensorrt_llm")
    assert "No space left" in str(e.value) or "no space" in str(e.value).lower()
    assert "again" in e.value.fix  # resumable: run the same command again
    assert not any(n.endswith(".lmi-partial") for n in _names(tiny_fs))


def test_read_only_target_while_writing_config_pbtxt_and_assembling(read_only, fixtures_dir, tmp_path, capsys):
    d, make_ro = read_only
    cfg = d / "config.pbtxt"
    shutil.copy(fixtures_dir / "pbtxt" / "v0.10.0" / "tensorrt_llm" / "config.pbtxt", cfg)
    original = cfg.read_bytes()
    make_ro()
    with pytest.raises(OSError):
        (d / "probe").write_text("x")  # really read-only, even for root
    rc = cli.main(["pbtxt", "fill", str(cfg), "triton_backend:tensorrtllm", "-i"])
    err = capsys.readouterr().err
    assert rc == 2 and "read-only" in err and "Traceback" not in err
    assert cfg.read_bytes() == original
    with pytest.raises(WizardError, match="read-only"):
        repo.assemble_repo(fixtures_dir / "pbtxt" / "v0.10.0", d / "triton_model_repo")
    assert _names(d) == {"config.pbtxt"}


# ------------------------------------------------------------------------------------------- existing outputs
def test_existing_outputs_need_force(tmp_path, fixtures_dir, capsys):
    # lmi-config --write: another TP into a folder that holds a config
    out = tmp_path / "cfg"
    base = ["lmi-config", "--model-id", "s3://b/m/", "--write", str(out)]
    assert cli.main(base + ["--tp", "2"]) == 0
    written = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert written
    capsys.readouterr()
    assert cli.main(base + ["--tp", "4"]) == 2
    assert "--force" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == written
    assert cli.main(base + ["--tp", "4", "--force"]) == 0
    assert b"4" in (out / "serving.properties").read_bytes()

    # tokenizer: a destination holding a different tokenizer
    src = tmp_path / "hf"
    src.mkdir()
    for name, data in llama_repo().files.items():
        if "/" not in name:
            (src / name).write_bytes(data)
    dest = tmp_path / "tok"
    dest.mkdir()
    (dest / "tokenizer_config.json").write_text('{"mine": true}')
    capsys.readouterr()
    assert cli.main(["tokenizer", str(src), str(dest)]) == 2
    assert "--force" in capsys.readouterr().err
    assert json.loads((dest / "tokenizer_config.json").read_text()) == {"mine": True}
    assert cli.main(["tokenizer", str(src), str(dest), "--force"]) == 0
    assert "LlamaTokenizer" in (dest / "tokenizer_config.json").read_text()

    # init / plan -o: an existing recipe or script
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("# mine\n")
    capsys.readouterr()
    assert cli.main(["init", str(recipe)]) == 2
    assert recipe.read_text() == "# mine\n" and "--force" in capsys.readouterr().err

    # the model repository
    rdir = tmp_path / "triton_model_repo"
    (rdir / "tensorrt_llm").mkdir(parents=True)
    (rdir / "tensorrt_llm" / "config.pbtxt").write_text("# mine\n")
    with pytest.raises(WizardError, match="already exists") as e:
        repo.assemble_repo(fixtures_dir / "pbtxt" / "v0.10.0", rdir)
    assert "force" in e.value.fix
    assert (rdir / "tensorrt_llm" / "config.pbtxt").read_text() == "# mine\n"
    res = repo.assemble_repo(fixtures_dir / "pbtxt" / "v0.10.0", rdir, force=True)
    assert res.replaced_existing and "${triton_backend}" in (rdir / "tensorrt_llm" / "config.pbtxt").read_text()


def test_plan_script_and_recipe_files_are_not_overwritten_without_force(fault_remotes, tmp_path, capsys):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(R.dumps_recipe(tutorial_recipe(fault_remotes, tmp_path / "work", "out/b/c/")))
    script = tmp_path / "plan.sh"
    script.write_text("# my own script\n")
    assert cli.main(["plan", str(recipe), "-o", str(script)]) == 2
    assert "--force" in capsys.readouterr().err and script.read_text() == "# my own script\n"
    assert cli.main(["plan", str(recipe), "-o", str(script), "--force"]) == 0
    assert script.read_text().startswith("#!/usr/bin/env bash")
    capsys.readouterr()
    assert cli.main(["init", str(recipe)]) == 2
    assert "--force" in capsys.readouterr().err
    assert "baichuan" in recipe.read_text()  # the recipe is still the user's


# ------------------------------------------------------------------------------------------- issue 12 §6 (small)
EXAMPLE = ROOT / "examples" / "baichuan-tp2.toml"


def test_plan_o_in_a_non_utf8_folder_writes_the_folders_own_bytes(tmp_path, monkeypatch, capsys):
    folder = os.fsencode(tmp_path) + b"/caf\xe9"  # a Latin-1 folder name: not UTF-8
    os.mkdir(folder)
    monkeypatch.chdir(os.fsdecode(folder))
    assert cli.main(["plan", str(EXAMPLE), "--work-dir", "./w", "-o", "plan.sh"]) == 0, capsys.readouterr().err
    data = (Path(os.fsdecode(folder)) / "plan.sh").read_bytes()
    assert b"caf\xe9/w" in data  # the script names the same folder, byte for byte
    assert subprocess.run(["bash", "-n", os.fsdecode(folder) + "/plan.sh"]).returncode == 0
    res = subprocess.run(CLI + ["plan", str(EXAMPLE), "--work-dir", "./w"], cwd=folder, capture_output=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))  # to stdout too: the same bytes
    assert res.returncode == 0 and b"caf\xe9/w" in res.stdout, res.stderr


def test_a_short_trtllm_version_is_reported_on_that_key_not_on_the_derived_tag(tmp_path, capsys):
    text = EXAMPLE.read_text()
    short = tmp_path / "r.toml"
    # PEP 440: v0.12 is 0.12.0, so its tag is v0.12.0 (never a tag "v0.12" that does not exist)
    short.write_text(text.replace('trtllm_version = "0.12.0"', 'trtllm_version = "v0.12"', 1))
    assert 'trtllm_version = "v0.12"' in short.read_text()
    assert cli.main(["plan", str(short), "--work-dir", str(tmp_path / "w")]) == 0
    out = capsys.readouterr().out
    assert "v0.12.0" in out and "--branch v0.12 " not in out
    # a value that is no version is reported on that key, not on the tag derived from it
    bad = tmp_path / "b.toml"
    bad.write_text(text.replace('trtllm_version = "0.12.0"', 'trtllm_version = "0.12.x"', 1))
    assert cli.main(["plan", str(bad), "--work-dir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert "[env] trtllm_version" in err and "'0.12.x'" in err and "[env] tag" not in err
    # a tag the user set is still checked as a tag
    bad.write_text(text.replace('trtllm_version = "0.12.0"', 'trtllm_version = "0.12.0"\ntag = "v0.12"', 1))
    assert cli.main(["plan", str(bad), "--work-dir", str(tmp_path / "w")]) == 2
    assert "[env] tag" in capsys.readouterr().err


def test_every_unknown_key_of_a_fill_string_is_named():
    text = 'name: "tensorrt_llm"\nparameters { key: "x" value { string_value: "${decoupled_mode}" } }\n'
    with pytest.raises(WizardError) as ei:
        pbtxt.fill_text(text, "aaa:1,bbb:2,ccc:3,ddd:4")
    msg = str(ei.value)
    assert all(f"`{k}`" in msg for k in ("aaa", "bbb", "ccc", "ddd")) and "3 more unknown keys" in msg


def test_empty_folder_refusal_names_what_each_layout_needs(tmp_path):
    from lmi_wizard.core import layout as L

    empty = tmp_path / "empty"
    empty.mkdir()
    triton = L.check_local(empty, L.TRITON)[0]
    flat = L.check_local(empty, L.FLAT)[0]
    assert triton.code == flat.code == "empty-folder"
    assert "tensorrt_llm/" in triton.fix and "trtllm-build" not in triton.fix
    assert "trtllm-build output folder" in flat.fix
