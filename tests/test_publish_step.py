"""The pipeline's publish step (issue 12 §3, §4): one model per S3 folder through `lmi-wizard run` (the ownership
marker, --force, the TUI's Ctrl+F), a killed publish resumed without --force, resume records under the work
folder, and lmi-wizard's own temp/staging files never published and named in the output.

Real components: the moto S3 server on 127.0.0.1 (tests/s3server.py), the real CLI in process and as a real
process (SIGKILL mid publish), a prebuilt engine folder + a local tokenizer folder (no builder needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lmi_wizard.core import pipeline as P
from lmi_wizard.core import s3 as s3mod
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.tui.cli import main as cli
from tests.s3server import DROPPED, Gate, s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.pipeline import PUBLISH_BUCKET as BUCKET, PUBLISH_DEST as DEST, PUBLISH_PREFIX as PREFIX
from tests.support.pipeline import prebuilt_flat, publish_recipe
from tests.support.tui import async_test, environment_report, text_of

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def _model_files(s3) -> dict:
    return {k[len(PREFIX):]: v for k, v in s3.objects(BUCKET, PREFIX).items() if not k.endswith(s3mod.MARKER_NAME)}


def _marker(s3) -> dict:
    return json.loads(s3.client.get_object(Bucket=BUCKET, Key=PREFIX + s3mod.MARKER_NAME)["Body"].read())


def test_run_into_a_folder_owned_by_another_model_is_refused_until_force(tmp_path, s3, capsys):
    s3.make_bucket(BUCKET)
    qwen = publish_recipe(tmp_path / "qwen", s3, "Qwen/Qwen-7B-Chat", b"Q" * 100)
    assert cli.main(["run", str(qwen)]) == 0, capsys.readouterr()
    capsys.readouterr()
    marker = _marker(s3)
    assert marker["model"] == "Qwen/Qwen-7B-Chat" and marker["status"] == "complete"
    assert marker["source"].endswith(str(tmp_path / "qwen" / "engines"))

    # a second model into the same folder: refused before any file is sent, exit 2, one line naming owner + fix
    baichuan = publish_recipe(tmp_path / "baichuan", s3, "baichuan-inc/Baichuan-13B-Chat", b"B" * 100)
    s3.log.clear()
    assert cli.main(["run", str(baichuan)]) == 2
    cap = capsys.readouterr()
    err = cap.err
    assert err.count("\n") == 1 and err.startswith("lmi-wizard: error: stopped at publish: ")
    assert "holds another model" in err and "'Qwen/Qwen-7B-Chat'" in err and "--force" in err
    assert s3.log.count("PutObject") == 0 and s3.log.count("UploadPart") == 0
    assert s3.client.get_object(Bucket=BUCKET, Key=PREFIX + "rank0.engine")["Body"].read() == b"Q" * 100
    # --resume is no way around it either
    assert cli.main(["run", str(baichuan), "--resume"]) == 2
    assert "holds another model" in capsys.readouterr().err

    # --force: the folder now holds Baichuan's engine and its marker says so
    assert cli.main(["run", str(baichuan), "--force"]) == 0
    out = capsys.readouterr().out
    assert "took over " + DEST + " (--force) from model 'Qwen/Qwen-7B-Chat'" in out
    assert s3.client.get_object(Bucket=BUCKET, Key=PREFIX + "rank0.engine")["Body"].read() == b"B" * 100
    marker = _marker(s3)
    assert marker["model"] == "baichuan-inc/Baichuan-13B-Chat" and marker["status"] == "complete"
    # and the same model again (--resume after a rebuilt engine) needs no --force
    (tmp_path / "baichuan" / "engines" / "rank0.engine").write_bytes(b"C" * 100)
    assert cli.main(["run", str(baichuan), "--resume"]) == 0, capsys.readouterr()
    assert s3.client.get_object(Bucket=BUCKET, Key=PREFIX + "rank0.engine")["Body"].read() == b"C" * 100
    assert _marker(s3)["engine_digest"] != marker["engine_digest"]


def test_run_killed_mid_publish_resumes_without_force(tmp_path, s3, capsys):
    s3.make_bucket(BUCKET)
    recipe = publish_recipe(tmp_path / "qwen", s3, "Qwen/Qwen-7B-Chat", b"Q" * 100)
    src = tmp_path / "qwen" / "engines"
    engine = src / "rank0.engine"
    with open(engine, "wb") as fh:  # 3 parts of 8 MiB, each with its own bytes
        fh.truncate(24 * MiB)
        for off in range(0, 24 * MiB, 8 * MiB):
            fh.seek(off)
            fh.write(f"part at {off}".encode())
    records = tmp_path / "qwen" / "work" / P.RUN_DIR / "uploads"
    # the engine's first part goes through, every later part is held: the run is provably mid publish
    gate = Gate(lambda r: r.op == "UploadPart", hold_after=1, answer=DROPPED)
    s3.server.hooks.append(gate)
    log = tmp_path / "first.log"
    proc = subprocess.Popen([sys.executable, "-m", "lmi_wizard.tui.main", "run", str(recipe)], cwd=tmp_path,
                            env=dict(os.environ, **s3.env), stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        assert gate.reached.wait(120), log.read_text()
        # the resume record of the engine's upload (upload id, part ETags) is kept with the run
        deadline = time.monotonic() + 60
        while not list(records.glob("*.json")):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9, mid publish
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        gate.release()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    s3.server.hooks.remove(gate)
    assert _marker(s3)["status"] == "publishing"  # the claim is there, the publish is not finished
    local = {f.rel for f in s3mod.scan_local(src)}
    assert "rank0.engine" not in _model_files(s3)
    assert not list(Path(s3.env["LMI_WIZARD_STATE_DIR"]).glob("**/*.json"))  # not in the user-wide folder

    s3.log.clear()
    assert cli.main(["run", str(recipe), "--resume"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "publish: done" in out and "resumed 1 interrupted upload(s)" in out
    assert s3.log.count("CreateMultipartUpload") == 0 and s3.log.count("UploadPart") == 2  # 3 parts, 1 kept
    assert set(_model_files(s3)) == local
    body = s3.client.get_object(Bucket=BUCKET, Key=PREFIX + "rank0.engine", Range=f"bytes={16 * MiB}-{16 * MiB + 20}")
    assert body["Body"].read().startswith(f"part at {16 * MiB}".encode())
    assert _marker(s3)["status"] == "complete" and _marker(s3)["model"] == "Qwen/Qwen-7B-Chat"


def test_our_temp_and_staging_files_are_never_published_and_are_named(tmp_path, s3, capsys):
    s3.make_bucket(BUCKET)
    recipe = publish_recipe(tmp_path / "qwen", s3, "Qwen/Qwen-7B-Chat", b"Q" * 100)
    src = tmp_path / "qwen" / "engines"
    # what a killed atomic write and a killed tokenizer download leave: inside the model folder and beside it
    (src / ".config.json.lmi-wizard-tmp-k3j2.tmp").write_text("{half")
    staging = src / ".lmi-wizard-staging-4242"
    (staging / "sub").mkdir(parents=True)
    (staging / "tokenizer.model").write_bytes(b"partial" * 1000)
    (staging / "sub" / "more.bin").write_bytes(b"x")
    beside = src.parent / ".engines.lmi-wizard-staging-77"
    beside.mkdir()
    (beside / "rank0.engine").write_bytes(b"partial")
    assert cli.main(["run", str(recipe)]) == 0
    out = capsys.readouterr().out
    keys = set(_model_files(s3))
    assert "rank0.engine" in keys and "config.json" in keys
    assert not [k for k in keys if "lmi-wizard" in k], keys
    # the run's tokenizer step cleared its stale staging folder; the temp file of a killed write is named
    note = next(line for line in out.splitlines() if "left out 1 unfinished" in line)
    assert note.strip().startswith("note: ") and ".config.json.lmi-wizard-tmp-k3j2.tmp" in note
    assert beside.is_dir()  # beside the model folder: not the run's to remove, never part of the model
    (staging / "sub").mkdir(parents=True)
    (staging / "tokenizer.model").write_bytes(b"partial" * 1000)
    (staging / "sub" / "more.bin").write_bytes(b"x")
    # the publish verb says the same, and its JSON lists them
    assert cli.main(["publish", str(src), f"s3://{BUCKET}/other/", "--endpoint-url", s3.endpoint_url]) == 0
    out = capsys.readouterr().out
    assert "left out 2 unfinished" in out and ".lmi-wizard-staging-4242/" in out
    assert not [k for k in s3.objects(BUCKET, "other/") if "lmi-wizard-" in k.replace(s3mod.MARKER_NAME, "")]
    assert cli.main(["publish", str(src), f"s3://{BUCKET}/other/", "--endpoint-url", s3.endpoint_url,
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["left_out"] == [".config.json.lmi-wizard-tmp-k3j2.tmp", ".lmi-wizard-staging-4242/"]
    # check names them too, and does not take them for part of the model
    cli.main(["check", str(src), "--json"])
    doc = json.loads(capsys.readouterr().out)
    temps = [f for f in doc["findings"] if f["code"] == "our-temp"]
    assert len(temps) == 2 and all("never uploaded" in f["problem"] for f in temps), doc["findings"]
    assert {Path(f["path"]).name for f in temps} == {".config.json.lmi-wizard-tmp-k3j2.tmp", ".lmi-wizard-staging-4242"}


@async_test
async def test_tui_ctrl_f_publishes_over_another_models_folder(tmp_path, s3):
    """The Run screen stops at publish with the owner named and offers Ctrl+F; Ctrl+F (the TUI's --force)
    reaches the publish step and takes the folder over."""
    from textual.widgets import Button

    from lmi_wizard.tui.app import WizardApp
    from tests.support.tui import wait_for

    s3.make_bucket(BUCKET)
    theirs = {"tool": "lmi-wizard", "version": 1, "model": "Qwen/Qwen-7B-Chat", "source": "elsewhere:/models/qwen",
              "engine_digest": "sha256:" + "0" * 64, "layout": "flat", "status": "complete",
              "claimed": "2026-12-01T00:00:00+00:00", "updated": "2026-12-01T00:00:00+00:00"}
    s3.client.put_object(Bucket=BUCKET, Key=PREFIX + s3mod.MARKER_NAME, Body=json.dumps(theirs).encode())
    s3.client.put_object(Bucket=BUCKET, Key=PREFIX + "rank0.engine", Body=b"Q" * 100)
    a = prebuilt_flat(tmp_path, DEST, f'endpoint_url = "{s3.endpoint_url}"')
    a["model.source"] = "baichuan-inc/Baichuan-13B-Chat"
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "run", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="1.0.0"), start_at="run",
                    pipeline_options={"s3_endpoint": s3.endpoint_url})
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: not app.screen.running and app.screen.report is not None, 120)
        rep = app.screen.report
        assert not rep.ok and rep.stopped_at == "publish" and "'Qwen/Qwen-7B-Chat'" in rep.error, rep.error
        assert "Ctrl+F" in text_of(app, "#message")
        assert app.screen.query_one("#next", Button).disabled
        assert s3.client.get_object(Bucket=BUCKET, Key=PREFIX + "rank0.engine")["Body"].read() == b"Q" * 100
        await pilot.press("ctrl+f")
        await pilot.pause(0.2)
        await wait_for(pilot, lambda: not app.screen.running and app.screen.report is not None, 120)
        assert app.screen.report.ok, (app.screen.report.error, app.screen.report.fix)
    assert s3.client.get_object(Bucket=BUCKET, Key=PREFIX + "rank0.engine")["Body"].read() == b"E" * 100
    assert _marker(s3)["model"] == "baichuan-inc/Baichuan-13B-Chat"


def test_a_local_destination_folder_holds_one_model_too(tmp_path, capsys):
    """The same marker, as a file in the local destination folder: another model is refused until --force,
    the same model's rebuilt engine replaces its own, and `check` does not take the marker for a temp file."""
    dest = tmp_path / "published" / "chat"

    def recipe(base: Path, source: str, engine: bytes) -> Path:
        a = prebuilt_flat(base, str(dest))
        a["model.source"] = source
        (base / "engines" / "rank0.engine").write_bytes(engine)
        path = base / "recipe.toml"
        path.write_text(R.dumps_recipe(a))
        return path

    qwen = recipe(tmp_path / "qwen", "Qwen/Qwen-7B-Chat", b"Q" * 100)
    assert cli.main(["run", str(qwen)]) == 0, capsys.readouterr()
    capsys.readouterr()
    marker = json.loads((dest / s3mod.MARKER_NAME).read_text())
    assert marker["model"] == "Qwen/Qwen-7B-Chat" and marker["status"] == "complete"
    assert s3mod.read_owner(str(dest))["model"] == "Qwen/Qwen-7B-Chat"

    baichuan = recipe(tmp_path / "baichuan", "baichuan-inc/Baichuan-13B-Chat", b"B" * 100)
    assert cli.main(["run", str(baichuan)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds another model" in err and "'Qwen/Qwen-7B-Chat'" in err and "--force" in err
    assert (dest / "rank0.engine").read_bytes() == b"Q" * 100
    assert cli.main(["run", str(baichuan), "--force"]) == 0
    capsys.readouterr()
    assert (dest / "rank0.engine").read_bytes() == b"B" * 100
    assert json.loads((dest / s3mod.MARKER_NAME).read_text())["model"] == "baichuan-inc/Baichuan-13B-Chat"

    # files not written by lmi-wizard in a local folder: refused too
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("by hand")
    assert cli.main(["publish", str(tmp_path / "qwen" / "engines"), str(mine)]) == 2
    err = capsys.readouterr().err
    assert "1 file(s) not written by lmi-wizard (notes.txt)" in err and "--force" in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]

    # the marker is neither a temp file nor a model file for check
    capsys.readouterr()
    cli.main(["check", str(dest)])
    out = capsys.readouterr().out
    assert "temp file or staging folder" not in out and "lmi-wizard-model" not in out.replace(
        "published by lmi-wizard", "")
