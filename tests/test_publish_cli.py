"""``lmi-wizard publish`` end to end against a real moto S3 server (and a local destination)."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lmi_wizard.tui.cli.main import main
from lmi_wizard.core.s3 import MARKER_NAME as MARKER
from s3server import DROPPED, Gate, s3, s3_server  # noqa: F401  (fixtures)
from tests.support.layouts import HF_CONFIG, TUTORIAL_DEST, TUTORIAL_MODEL_ID, make_flat_repo, make_triton_repo

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    rc = main(["publish", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def source_objects(src: Path, prefix: str) -> dict:
    return {prefix + p.relative_to(src).as_posix(): (p.stat().st_size, hashlib.md5(p.read_bytes()).hexdigest())
            for p in src.rglob("*") if p.is_file()}


def model_objects(s3, bucket: str, prefix: str = "") -> dict:
    """What the model's files are at S3: every object but the ownership marker."""
    return {k: v for k, v in s3.objects(bucket, prefix).items() if not k.endswith("/" + MARKER)
            and k != MARKER}


def test_tutorial_upload_json_then_zero_put_resync(s3, tmp_path, capsys, fixtures_dir):
    s3.make_bucket("lmi-llm")
    trt = make_triton_repo(tmp_path, fixtures_dir)
    s3.log.clear()
    rc, out, err = run_cli(capsys, trt.parent, TUTORIAL_DEST, "--endpoint-url", s3.endpoint_url, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["model_id"] == TUTORIAL_MODEL_ID and doc["layout"] == "triton"
    n = sum(1 for p in trt.rglob("*") if p.is_file())
    assert len(doc["uploaded"]) == n and doc["skipped"] == []
    assert doc["bytes"] == sum(p.stat().st_size for p in trt.rglob("*") if p.is_file())
    assert [e["name"] for e in doc["listing"]] == ["1/", "config.json", "config.pbtxt", "generation_config.json",
                                                  "special_tokens_map.json", "tokenizer.model",
                                                  "tokenizer_config.json"]
    assert doc["listing"][0]["type"] == "PRE" and doc["warnings"] == []
    prefix = TUTORIAL_DEST[len("s3://lmi-llm/"):]
    assert model_objects(s3, "lmi-llm") == source_objects(trt, prefix)
    assert s3.log.count("PutObject") == n + 2  # the files, and the marker: claimed first, completed last
    puts = s3.log.keys("PutObject")
    assert puts[0] == puts[-1] == prefix + MARKER

    s3.log.clear()
    rc, out, err = run_cli(capsys, trt.parent, TUTORIAL_DEST, "--endpoint-url", s3.endpoint_url)
    assert rc == 0, err
    assert s3.log.count("PUT") == 0 and s3.log.count("POST") == 0
    assert f"LMI model_id: {TUTORIAL_MODEL_ID}" in out
    assert "\n                           PRE 1/\n" in out
    assert f"sent 0 file(s), 0 B; {n} unchanged file(s) skipped" in out


def test_standard_endpoint_variable_and_flat_layout(s3, tmp_path, capsys, monkeypatch):
    s3.make_bucket("models")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint_url)
    flat = make_flat_repo(tmp_path)
    rc, out, err = run_cli(capsys, flat, "s3://models/llama-tp2", "--json")  # layout inferred: flat
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["layout"] == "flat" and doc["model_id"] == "s3://models/llama-tp2/"
    assert model_objects(s3, "models") == source_objects(flat, "llama-tp2/")


@pytest.mark.parametrize("case", ["bucket-root", "folder2-only", "no-tokenizer", "hf-config-flat", "no-layout"])
def test_refusals_happen_before_any_request(s3, tmp_path, capsys, case):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    args = [trt, "s3://models/m/tensorrt_llm/"]
    if case == "bucket-root":
        args[1] = "s3://models/"
    elif case == "folder2-only":
        args[1] = "s3://models/tensorrt_llm/"
    elif case == "no-tokenizer":
        (trt / "tokenizer_config.json").unlink()
    elif case == "hf-config-flat":
        flat = make_flat_repo(tmp_path)
        (flat / "config.json").write_text(json.dumps(HF_CONFIG))
        args = [flat, "s3://models/m/", "--layout", "flat"]
    elif case == "no-layout":
        plain = tmp_path / "plain"
        plain.mkdir()
        (plain / "config.json").write_text(json.dumps(HF_CONFIG))
        args = [plain, "s3://models/m/"]
    s3.log.clear()
    rc, out, err = run_cli(capsys, *args, "--endpoint-url", s3.endpoint_url)
    assert rc == 2 and out == ""
    assert err.startswith("lmi-wizard: error: ") and " — fix: " in err and "Traceback" not in err
    expected = {"bucket-root": "two folders", "folder2-only": "two folders", "no-tokenizer": "tokenizer_config.json",
                "hf-config-flat": "build_config", "no-layout": "cannot tell the layout"}[case]
    assert expected in err
    assert s3.log.count() == 0  # not one request, so not one byte


def test_dry_run_sends_nothing(s3, tmp_path, capsys):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    s3.log.clear()
    rc, out, err = run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url,
                           "--dry-run")
    assert rc == 0, err
    assert "would send" in out and "LMI model_id: s3://models/m/" in out
    assert s3.log.count("PUT") == 0 and s3.objects("models") == {}


def test_local_destination_without_aws(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    trt = make_triton_repo(tmp_path)
    dest = tmp_path / "models" / "baichuan-13b-tp2" / "baichuan-13b-chat"
    rc, out, err = run_cli(capsys, trt, dest, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["model_id"] == str(dest.parent)
    assert len(doc["uploaded"]) == sum(1 for p in trt.rglob("*") if p.is_file())
    # the model's files, and the folder's ownership marker (one model per folder, a local one too)
    assert {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()} == \
        {p.relative_to(trt).as_posix() for p in trt.rglob("*") if p.is_file()} | {".lmi-wizard-model.json"}
    rc, out, err = run_cli(capsys, trt, dest, "--json")
    assert json.loads(out)["uploaded"] == []


def test_extra_objects_and_a_second_model_are_warned(s3, tmp_path, capsys):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    s3.client.put_object(Bucket="models", Key="m/other/config.pbtxt", Body=b"x")
    s3.client.put_object(Bucket="models", Key="m/other/tokenizer_config.json", Body=b"{}")
    s3.client.put_object(Bucket="models", Key="m/tensorrt_llm/1/old_rank7.engine", Body=b"x")
    # files not written by lmi-wizard in the folder: refused (every time) until --force
    for _ in range(2):
        rc, out, err = run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url)
        assert rc == 2 and "1 file(s) not written by lmi-wizard (1/old_rank7.engine)" in err and "--force" in err
    rc, out, err = run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url, "--json",
                           "--force")
    assert rc == 0, err
    codes = sorted(w["code"] for w in json.loads(out)["warnings"])
    assert codes == ["extra-objects", "several-models"]


def test_secrets_never_printed(s3, tmp_path, capsys, monkeypatch):
    secret = "SeCrEt/ValueThatMustNeverAppear0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    outs = []
    for dest in ("s3://models/m/t/", "s3://no-such-bucket/m/t/"):
        for fmt in ([], ["--json"]):
            rc, out, err = run_cli(capsys, trt, dest, "--endpoint-url", s3.endpoint_url, *fmt)
            outs.append(out + err)
    assert "does not exist" in outs[-1]
    assert not any(secret in o or "AKIAIOSFODNN7EXAMPLE" in o for o in outs)


def _spawn(s3, *argv):
    env = dict(os.environ, **s3.env, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "lmi_wizard.tui.cli.main", "publish", *map(str, argv),
                             "--endpoint-url", s3.endpoint_url], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _many_files(trt: Path, n=12) -> None:
    for i in range(n):
        (trt / f"extra_{i:02d}.json").write_bytes(b"%d" % i * 1000)


def test_killed_publish_then_resume_uploads_only_the_missing_files(s3, tmp_path, capsys):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    _many_files(trt)
    gate = Gate(lambda r: r.op == "PutObject", hold_after=4, answer=DROPPED)  # the claim + 3 files
    s3.server.hooks.append(gate)
    proc = _spawn(s3, trt, "s3://models/m/tensorrt_llm/")
    try:
        assert gate.reached.wait(60), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGKILL)  # killed for real, mid-upload
        proc.wait(timeout=30)
    finally:
        gate.release()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    present = {k[len("m/tensorrt_llm/"):] for k in model_objects(s3, "models")}
    all_files = {p.relative_to(trt).as_posix() for p in trt.rglob("*") if p.is_file()}
    assert len(present) == 3 and present < all_files
    claim = json.loads(s3.client.get_object(Bucket="models", Key="m/tensorrt_llm/" + MARKER)["Body"].read())
    assert claim["status"] == "publishing"  # claimed before the first file; the same model continues below

    s3.server.hooks.clear()
    s3.log.clear()
    rc, out, err = run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert sorted(doc["uploaded"]) == sorted(all_files - present)
    assert sorted(s3.log.keys("PutObject")) == sorted(["m/tensorrt_llm/" + k for k in all_files - present]
                                                      + ["m/tensorrt_llm/" + MARKER] * 2)
    assert model_objects(s3, "models") == source_objects(trt, "m/tensorrt_llm/")  # sizes, ETags equal the source
    done = json.loads(s3.client.get_object(Bucket="models", Key="m/tensorrt_llm/" + MARKER)["Body"].read())
    assert done["status"] == "complete" and done["claimed"] == claim["claimed"]


def test_ctrl_c_cancels_cleanly(s3, tmp_path):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    _many_files(trt)
    gate = Gate(lambda r: r.op == "PutObject", hold_after=1, answer=DROPPED)
    s3.server.hooks.append(gate)
    proc = _spawn(s3, trt, "s3://models/m/tensorrt_llm/")
    try:
        assert gate.reached.wait(60)
        proc.send_signal(signal.SIGINT)
        gate.release()
        out, err = proc.communicate(timeout=60)
    finally:
        gate.release()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "upload cancelled" in err and "Traceback" not in err


def test_second_ctrl_c_stops_at_once_while_the_endpoint_does_not_answer(s3, tmp_path):
    s3.make_bucket("models")
    gate = Gate(lambda r: r.op == "ListObjectsV2", hold_after=0, answer=DROPPED)  # the listing never answers
    s3.server.hooks.append(gate)
    proc = _spawn(s3, make_triton_repo(tmp_path), "s3://models/m/tensorrt_llm/")
    try:
        assert gate.reached.wait(60)
        proc.send_signal(signal.SIGINT)  # the first asks the upload to stop; nothing to stop yet
        first, fd = b"", proc.stderr.fileno()
        while b"Ctrl-C again to stop at once" not in first:  # the handler ran: a second signal is not merged
            assert select.select([fd], [], [], 30)[0], "no answer to the first Ctrl-C"
            chunk = os.read(fd, 4096)
            assert chunk, "the process ended on the first Ctrl-C"
            first += chunk
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # well before the 60 s read timeout and its retries
    finally:
        gate.release()
        s3.server.hooks.remove(gate)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert s3.objects("models") == {}


def test_check_remote_sees_what_lmi_will_see(s3, tmp_path, capsys):
    from lmi_wizard.core.s3 import check_remote

    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    assert run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url)[0] == 0
    assert check_remote("s3://models/m/", "triton", endpoint_url=s3.endpoint_url) == []
    deep = check_remote("s3://models/m/tensorrt_llm/", "triton", endpoint_url=s3.endpoint_url)
    assert [f.code for f in deep] == ["one-level-too-deep"] and "s3://models/m/" in deep[0].fix

    flat = make_flat_repo(tmp_path)
    assert run_cli(capsys, flat, "s3://models/flat/", "--endpoint-url", s3.endpoint_url)[0] == 0
    assert check_remote("s3://models/flat/", "flat", endpoint_url=s3.endpoint_url) == []
    s3.client.put_object(Bucket="models", Key="flat/config.json", Body=json.dumps(HF_CONFIG).encode())
    found = check_remote("s3://models/flat/", "flat", endpoint_url=s3.endpoint_url)
    assert [f.code for f in found if f.level == "error"] == ["hf-config-at-root"]
    local = tmp_path / "localdest"
    assert run_cli(capsys, flat, local / "llama", "--layout", "flat")[0] == 0
    assert check_remote(str(local / "llama"), "flat") == []


# --------------------------------------------------------------------------- bad local destinations
@pytest.mark.parametrize("case", ["is-a-file", "under-a-file", "the-source", "link-to-source", "inside-source",
                                  "above-source", "source-is-a-file", "pipe-in-source"])
def test_local_destinations_and_sources_that_cannot_work(tmp_path, capsys, case):
    trt = make_triton_repo(tmp_path)
    (tmp_path / "afile").write_text("x")
    src, dest = trt, tmp_path / "out" / "m" / "tensorrt_llm"
    expected = {
        "is-a-file": (tmp_path / "afile", "afile is a file, not a folder"),
        "under-a-file": (tmp_path / "afile" / "m" / "t", "afile is a file, not a folder (a folder of the destination"),
        "the-source": (trt, "is the model folder itself: there is nothing to copy"),
        "link-to-source": (tmp_path / "link", "is the model folder itself"),
        "inside-source": (trt / "out" / "tensorrt_llm", "is inside the model folder"),
        "above-source": (trt.parent, "holds the model folder"),
        "source-is-a-file": (dest, "afile is a file, not a folder"),
        "pipe-in-source": (dest, "is not a regular file (a pipe, socket or device)"),
    }
    dest, text = expected[case]
    if case == "link-to-source":
        dest.symlink_to(trt)
    if case == "source-is-a-file":
        src = tmp_path / "afile"
    if case == "pipe-in-source":
        os.mkfifo(trt / "pipe")  # reading it would hang: refused before any read
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    rc, out, err = run_cli(capsys, src, dest)
    assert rc == 2 and out == "" and text in err, err
    assert err.count("\n") == 1 and " — fix: " in err and "Traceback" not in err
    if case == "the-source":
        assert f"model_id {trt.parent}" in err  # it can be used where it is
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before  # nothing written


# --------------------------------------------------------------------------- odd servers, secrets
def test_an_endpoint_that_is_not_s3(s3, tmp_path, capsys):
    s3.server.hooks.append(lambda env, req: ("404 Not Found", [("Content-Type", "text/html")],
                                             b"<html><body>Not Found</body></html>"))
    rc, out, err = run_cli(capsys, make_triton_repo(tmp_path), "s3://models/m/t/", "--endpoint-url", s3.endpoint_url)
    assert rc == 2 and out == ""
    assert f"{s3.endpoint_url} answered HTTP 404" in err and "is it an S3 endpoint?" in err and "--endpoint-url" in err


def _echo_signing_material(status: str, code: str):
    """Answer like S3 does when it echoes the request's signing material (SignatureDoesNotMatch puts the
    canonical request, with ``x-amz-security-token:<token>``, in the error), plus a presigned URL."""
    def hook(env, req):
        token = env.get("HTTP_X_AMZ_SECURITY_TOKEN", "")
        auth = env.get("HTTP_AUTHORIZATION", "")
        key_id = auth.split("Credential=", 1)[-1].split("/", 1)[0]
        url = (f"https://b.s3.amazonaws.com/k?X-Amz-Credential={key_id}%2F20260101&amp;X-Amz-Signature=0123abcd"
               f"&amp;X-Amz-Security-Token={token}")
        body = (f"<Error><Code>{code}</Code><Message>token {token} auth {auth} key {key_id} url {url} "
                f"canonical x-amz-security-token:{token}</Message></Error>").encode()
        return status, [("Content-Type", "application/xml")], body
    return hook


@pytest.mark.parametrize("status,code", [("400 Bad Request", "OddError"), ("500 Internal Server Error", "InternalError"),
                                         ("403 Forbidden", "AccessDenied")])
def test_secrets_from_a_profile_file_never_printed_even_when_the_server_echoes_them(s3, tmp_path, capsys,
                                                                                   monkeypatch, status, code):
    key_id, secret, token = "AKIAPROFILEKEY9876543", "Pr0file/Secret+Value=abc", "Pr0fileSessionToken/xyz+987=="
    creds = tmp_path / "credentials"
    creds.write_text(f"[qa]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
                     f"aws_session_token = {token}\n")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "qa")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3.server.hooks.append(_echo_signing_material(status, code))
    trt = make_triton_repo(tmp_path)
    outs = []
    for fmt in ([], ["--json"]):
        rc, out, err = run_cli(capsys, trt, "s3://models/m/t/", "--endpoint-url", s3.endpoint_url, *fmt)
        assert rc in (2, 3) and err.startswith("lmi-wizard: error: ") and err.count("\n") == 1
        outs.append(out + err)
    text = "\n".join(outs)
    assert "token ***" in text or code == "AccessDenied"  # the server's text is shown, redacted (core.base.secrets.MARKER)
    from urllib.parse import quote
    for value in (key_id, secret, token, quote(token, safe=""), "0123abcd", "Signature=", "x-amz-security-token:P"):
        assert value not in text.replace("Signature=***", "")


def test_profile_option_picks_the_named_profile(s3, tmp_path, capsys, fixtures_dir, monkeypatch):
    """`publish --profile NAME` signs with that profile (moto accepts any key); an unknown one is one line."""
    s3.make_bucket("lmi-llm")
    trt = make_triton_repo(tmp_path, fixtures_dir)
    creds = tmp_path / "aws-credentials"
    creds.write_text("[lmi]\naws_access_key_id = AKIDLMIPROFILE01\naws_secret_access_key = s3cr3t-of-lmi\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-none"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    rc, out, err = run_cli(capsys, trt.parent, TUTORIAL_DEST, "--endpoint-url", s3.endpoint_url, "--json")
    assert rc == 2 and "no AWS credentials" in err  # no profile named: the chain finds nothing
    rc, out, err = run_cli(capsys, trt.parent, TUTORIAL_DEST, "--endpoint-url", s3.endpoint_url, "--json",
                           "--profile", "lmi")
    assert rc == 0, err
    assert json.loads(out)["uploaded"]
    rc, out, err = run_cli(capsys, trt.parent, TUTORIAL_DEST, "--endpoint-url", s3.endpoint_url,
                           "--profile", "nope")
    assert rc == 2 and "profile not found" in err and err.count("\n") == 1
    assert "s3cr3t-of-lmi" not in out + err


# --------------------------------------------------------------------------- §1: resume by part after SIGKILL
def test_sigkill_after_k_of_n_parts_then_rerun_sends_only_the_missing_parts(s3, tmp_path, capsys):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    engine = trt / "1" / "baichuan_float16_tp2_rank0.engine"
    data = os.urandom(40 * 1024 * 1024)  # 5 parts of 8 MiB (aws s3's part size)
    engine.write_bytes(data)
    key = "m/tensorrt_llm/1/baichuan_float16_tp2_rank0.engine"
    k, n, part = 2, 5, 8 * 1024 * 1024
    gate = Gate(lambda r: r.op == "UploadPart", hold_after=k, answer=DROPPED)  # k parts stored, the rest held
    s3.server.hooks.append(gate)
    proc = _spawn(s3, trt, "s3://models/m/tensorrt_llm/")
    try:
        assert gate.reached.wait(60), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        gate.release()  # the held parts never reach moto: the client is gone
        if proc.poll() is None:
            proc.kill()
    s3.server.hooks.remove(gate)
    assert proc.returncode == -signal.SIGKILL
    (up,) = s3.client.list_multipart_uploads(Bucket="models", Prefix=key)["Uploads"]
    stored = s3.client.list_parts(Bucket="models", Key=key, UploadId=up["UploadId"])["Parts"]  # nothing in flight
    assert len(stored) == k

    s3.log.clear()
    rc, out, err = run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url, "--json")
    assert rc == 0, err
    doc = json.loads(out)
    parts = [r for r in s3.log.requests if r.op == "UploadPart"]
    assert len(parts) == n - k and sum(r.bytes for r in parts) == (n - k) * part  # only the missing parts
    assert s3.log.count("CreateMultipartUpload") == 0 and s3.log.count("CompleteMultipartUpload") == 1
    assert s3.log.count("AbortMultipartUpload") == 0
    assert doc["resumed"] == {"1/baichuan_float16_tp2_rank0.engine": k} and doc["reused_bytes"] == k * part
    assert s3.client.get_object(Bucket="models", Key=key)["Body"].read() == data  # identical bytes
    assert s3.client.list_multipart_uploads(Bucket="models").get("Uploads", []) == []


# --------------------------------------------------------------------------- §4: one model per folder
def _marker(s3, prefix):
    return json.loads(s3.client.get_object(Bucket="models", Key=prefix + MARKER)["Body"].read())


def test_a_folder_of_another_model_is_refused_every_time_until_force(s3, tmp_path, capsys):
    s3.make_bucket("models")
    first = make_triton_repo(tmp_path / "baichuan")
    (first / "tokenizer_config.json").write_text(json.dumps({"name_or_path": "baichuan-inc/Baichuan-13B-Chat"}))
    second = make_triton_repo(tmp_path / "qwen")
    (second / "tokenizer_config.json").write_text(json.dumps({"name_or_path": "Qwen/Qwen-7B-Chat"}))
    (second / "config.json").write_text(json.dumps(dict(HF_CONFIG, model_type="qwen")))
    dest = "s3://models/m/tensorrt_llm/"
    assert run_cli(capsys, first, dest, "--endpoint-url", s3.endpoint_url)[0] == 0
    owned = _marker(s3, "m/tensorrt_llm/")
    assert owned["model"] == "baichuan-inc/Baichuan-13B-Chat" and owned["status"] == "complete"
    before = s3.objects("models")
    for _ in range(2):  # every time, not only the first
        s3.log.clear()
        rc, out, err = run_cli(capsys, second, dest, "--endpoint-url", s3.endpoint_url)
        assert rc == 2 and "holds another model: model 'baichuan-inc/Baichuan-13B-Chat'" in err and "--force" in err
        assert s3.log.count("PUT") == 0 and s3.objects("models") == before  # nothing replaced
    rc, out, err = run_cli(capsys, second, dest, "--endpoint-url", s3.endpoint_url, "--force")
    assert rc == 0, err
    assert "taken over (--force) for model 'Qwen/Qwen-7B-Chat'" in out
    assert _marker(s3, "m/tensorrt_llm/")["model"] == "Qwen/Qwen-7B-Chat"
    got = s3.client.get_object(Bucket="models", Key="m/tensorrt_llm/config.json")["Body"].read()
    assert json.loads(got)["model_type"] == "qwen"
    # now the folder is Qwen's: Baichuan is the one refused
    rc, out, err = run_cli(capsys, first, dest, "--endpoint-url", s3.endpoint_url)
    assert rc == 2 and "model 'Qwen/Qwen-7B-Chat'" in err


def test_model_name_names_the_owner_so_a_runs_output_publishes_again_without_force(s3, tmp_path, capsys):
    """`run` records [model] source; the verb's default is the tokenizer's name_or_path: --model-name makes
    them the same model (no --force), and a different name is still refused."""
    s3.make_bucket("models")
    repo = make_triton_repo(tmp_path / "m")
    (repo / "tokenizer_config.json").write_text(json.dumps({"name_or_path": "/tmp/some/download/folder"}))
    dest = "s3://models/n/tensorrt_llm/"
    ep = ("--endpoint-url", s3.endpoint_url)
    assert run_cli(capsys, repo, dest, *ep, "--model-name", "baichuan-inc/Baichuan-13B-Chat")[0] == 0
    assert _marker(s3, "n/tensorrt_llm/")["model"] == "baichuan-inc/Baichuan-13B-Chat"
    rc, out, err = run_cli(capsys, repo, dest, *ep)  # default name: the tokenizer's folder, another model
    assert rc == 2 and "model 'baichuan-inc/Baichuan-13B-Chat'" in err and "--force" in err
    rc, out, err = run_cli(capsys, repo, dest, *ep, "--model-name", "baichuan-inc/Baichuan-13B-Chat")
    assert rc == 0, err


def test_a_rebuilt_engine_of_the_same_model_replaces_it_without_force(s3, tmp_path, capsys):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    dest = "s3://models/m/tensorrt_llm/"
    assert run_cli(capsys, trt, dest, "--endpoint-url", s3.endpoint_url)[0] == 0
    old = _marker(s3, "m/tensorrt_llm/")
    engine = trt / "1" / "baichuan_float16_tp2_rank0.engine"
    engine.write_bytes(b"rebuilt" * 1000)  # the same model, built again
    s3.log.clear()
    rc, out, err = run_cli(capsys, trt, dest, "--endpoint-url", s3.endpoint_url, "--json")
    assert rc == 0, err
    assert json.loads(out)["uploaded"] == ["1/baichuan_float16_tp2_rank0.engine"]
    new = _marker(s3, "m/tensorrt_llm/")
    assert new["engine_digest"] != old["engine_digest"] and new["status"] == "complete"
    assert new["model"] == old["model"] and new["claimed"] == old["claimed"]
    assert s3.client.get_object(Bucket="models", Key="m/tensorrt_llm/1/baichuan_float16_tp2_rank0.engine")[
        "Body"].read() == b"rebuilt" * 1000
    s3.log.clear()  # and nothing changed since: not one PUT, the marker included
    assert run_cli(capsys, trt, dest, "--endpoint-url", s3.endpoint_url)[0] == 0
    assert s3.log.count("PUT") == 0 and s3.log.count("POST") == 0


def test_dry_run_reports_the_bytes_it_would_send(s3, tmp_path, capsys):
    s3.make_bucket("models")
    trt = make_triton_repo(tmp_path)
    total = sum(p.stat().st_size for p in trt.rglob("*") if p.is_file())
    rc, out, err = run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url,
                           "--dry-run", "--json")
    assert rc == 0 and json.loads(out)["bytes"] == total
    from lmi_wizard.core.base.fmt import human_bytes
    rc, out, err = run_cli(capsys, trt, "s3://models/m/tensorrt_llm/", "--endpoint-url", s3.endpoint_url,
                           "--dry-run")
    assert f"would send 9 file(s), {human_bytes(total)} (" in out and s3.objects("models") == {}
