"""core/s3.py against a real moto S3 server on 127.0.0.1, through boto3 over HTTP; requests counted server-side."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from pathlib import Path

import pytest

from lmi_wizard.core import s3 as S
from lmi_wizard.core.s3 import transfer as T
from lmi_wizard.core.base.errors import Cancelled, WizardError
from lmi_wizard.core.base.progress import CancelToken
from s3server import DROPPED, Gate, auth_enforced, s3, s3_server  # noqa: F401  (fixtures)

MiB = 1024 * 1024
ODD = ["with space.json", "ünïcødé-名前.txt", "a+b.txt", "hash#tag.txt", "sub dir/x y+z#.bin"]


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def multipart_etag(data: bytes, part: int) -> str:
    parts = [hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part)]
    return hashlib.md5(b"".join(parts)).hexdigest() + f"-{len(parts)}"


def small_files(n=6):
    return {f"f{i}.json": (b'{"i": %d}' % i) * (i + 1) for i in range(n)}


# --------------------------------------------------------------------------- upload, re-sync, listing
def test_upload_then_resync_sends_zero_puts(s3, tmp_path):
    s3.make_bucket("models")
    files = dict(small_files(), **{"1/rank0.engine": os.urandom(300_000)}, **{k: k.encode() * 3 for k in ODD})
    src = tree(tmp_path / "src", files)
    s3.log.clear()
    r = S.sync(src, "s3://models/m/tensorrt_llm/", endpoint_url=s3.endpoint_url)
    assert sorted(r.uploaded) == sorted(files) and r.bytes == sum(map(len, files.values()))
    assert s3.log.count("PutObject") == len(files)
    objs = s3.objects("models", "m/tensorrt_llm/")
    assert objs == {"m/tensorrt_llm/" + k: (len(v), md5(v)) for k, v in files.items()}  # odd keys intact

    s3.log.clear()
    again = S.sync(src, "s3://models/m/tensorrt_llm/", endpoint_url=s3.endpoint_url)
    assert again.uploaded == [] and sorted(again.skipped) == sorted(files) and again.bytes == 0
    assert s3.log.count("PUT") == 0 and s3.log.count("POST") == 0
    assert s3.log.ops() == ["ListObjectsV2"]  # one listing, no HEAD, no PUT


def test_listing_is_like_aws_s3_ls(s3, tmp_path):
    s3.make_bucket("lmi-llm")
    src = tree(tmp_path / "src", {"config.pbtxt": b"x" * 4425, "tokenizer_config.json": b"y" * 954,
                                  "1/config.json": b"{}", "1/rank0.engine": b"e" * 10})
    dest = "s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/baichuan-13b-chat/"
    S.sync(src, dest, endpoint_url=s3.endpoint_url)
    entries = S.list_entries(dest, endpoint_url=s3.endpoint_url)
    assert [(e.name, e.size, e.is_prefix) for e in entries] == [
        ("1/", None, True), ("config.pbtxt", 4425, False), ("tokenizer_config.json", 954, False)]
    assert entries[1].etag == md5(b"x" * 4425)
    lines = S.render_listing(entries).splitlines()
    assert lines[0] == "                           PRE 1/"
    assert lines[1][19:] == "       4425 config.pbtxt" and lines[1][4] == "-" and lines[1][13] == ":"
    assert entries[1].to_dict()["type"] == "OBJ" and entries[0].to_dict()["type"] == "PRE"
    keys = S.list_keys(dest, endpoint_url=s3.endpoint_url)
    assert sorted(keys) == ["1/config.json", "1/rank0.engine", "config.pbtxt", "tokenizer_config.json"]


def test_same_size_changed_file_with_older_mtime_is_reuploaded(s3, tmp_path):
    s3.make_bucket("models")
    src = tree(tmp_path / "src", {"config.pbtxt": b"max_batch_size: 64\n", "other.json": b"{}"})
    S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    pb = src / "config.pbtxt"
    pb.write_bytes(b"max_batch_size: 32\n")  # same size
    os.utime(pb, (1_000_000_000, 1_000_000_000))  # older than the object: aws s3 sync would skip it
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert r.uploaded == ["config.pbtxt"] and r.reasons == {"config.pbtxt": "content"}
    assert s3.log.keys("PutObject") == ["m/t/config.pbtxt"]
    assert s3.objects("models", "m/t/")["m/t/config.pbtxt"][1] == md5(b"max_batch_size: 32\n")
    meta = s3.client.head_object(Bucket="models", Key="m/t/config.pbtxt")["Metadata"]
    assert meta["sha256"] == hashlib.sha256(b"max_batch_size: 32\n").hexdigest()


def test_object_whose_etag_is_not_an_md5_is_checked_by_sha256_then_skipped(s3, tmp_path):
    s3.make_bucket("models")
    data = os.urandom(6 * MiB)  # small for our sync, but put by another tool as multipart (ETag "…-2")
    src = tree(tmp_path / "src", {"tokenizer.model": data})
    from boto3.s3.transfer import TransferConfig
    s3.client.upload_file(str(src / "tokenizer.model"), "models", "m/t/tokenizer.model",
                          Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert r.reasons == {"tokenizer.model": "content"}  # no sha256 to prove it equal: sent once
    assert s3.log.ops().count("HeadObject") == 1
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert r.uploaded == [] and s3.log.count("PUT") == 0


def test_decide_rules():
    big = S.LocalFile("e.engine", Path("/nonexistent"), 100, 2000.5)
    assert S.decide(big, None, threshold=10) == "new"
    assert S.decide(big, S.RemoteFile("e.engine", 99, 3000), threshold=10) == "size"
    assert S.decide(big, S.RemoteFile("e.engine", 100, 1000), threshold=10) == "newer"
    assert S.decide(big, S.RemoteFile("e.engine", 100, 2000.0), threshold=10) is None  # S3 keeps whole seconds
    assert S.decide(big, S.RemoteFile("e.engine", 100, 3000), threshold=10) is None


def test_sha256_metadata_decides_when_etag_is_not_md5(tmp_path):
    p = tmp_path / "c.pbtxt"
    p.write_bytes(b"abc")
    f = S.LocalFile("c.pbtxt", p, 3, p.stat().st_mtime)
    remote = S.RemoteFile("c.pbtxt", 3, 0, etag="0" * 32)  # e.g. SSE-KMS: not the MD5
    sha = hashlib.sha256(b"abc").hexdigest()
    assert S.decide(f, remote, head_sha256=lambda rel: sha) is None
    assert S.decide(f, remote, head_sha256=lambda rel: "0" * 64) == "content"
    assert S.decide(f, remote, head_sha256=lambda rel: None) == "content"


# --------------------------------------------------------------------------- multipart, progress
def test_large_file_goes_multipart_with_progress(s3, tmp_path):
    s3.make_bucket("models")
    big = os.urandom(31 * MiB)
    src = tree(tmp_path / "src", {"1/rank0.engine": big, "config.pbtxt": b"p" * 100})
    events, threads = [], set()

    def progress(ev):
        threads.add(threading.get_ident())
        events.append(ev)

    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, progress=progress,
               part_size=5 * MiB, threshold=5 * MiB)
    assert r.bytes == len(big) + 100
    ops = s3.log.ops()
    assert ops.count("CreateMultipartUpload") == 1 and ops.count("UploadPart") == 7
    assert ops.count("CompleteMultipartUpload") == 1 and ops.count("PutObject") == 1
    assert s3.objects("models", "m/t/")["m/t/1/rank0.engine"] == (len(big), multipart_etag(big, 5 * MiB))
    done = [e.done for e in events]
    assert done == sorted(done) and done[-1] == len(big) + 100 and events[-1].total == len(big) + 100
    finished = [e.extra["file"] for e in events if e.extra["finished"]]
    assert sorted(finished) == ["1/rank0.engine", "config.pbtxt"]
    assert events[-1].extra["files_done"] == 2 and events[-1].extra["files_total"] == 2
    assert all(e.step == "upload" and e.unit == "B" for e in events)
    assert threads - {threading.get_ident()}, "progress callbacks fire from transfer threads"
    s3.log.clear()  # unchanged: the multipart ETag is computed locally for the same part size (no HEAD)
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, part_size=5 * MiB, threshold=5 * MiB)
    assert r.uploaded == [] and s3.log.ops() == ["ListObjectsV2"]


def test_cancel_mid_multipart_then_resume_sends_only_what_is_missing(s3, tmp_path, monkeypatch):
    s3.make_bucket("models")
    big = os.urandom(30 * MiB)
    files = dict(small_files(4), **{"1/rank0.engine": big})
    src = tree(tmp_path / "src", files)
    token = CancelToken()
    # a known point mid-way, whatever the machine's speed: two parts stored, the third held at the server
    # (a cancel from a throttled progress event came too late on a loaded machine: the file had finished)
    gate = Gate(lambda r: r.op == "UploadPart", hold_after=2, answer=DROPPED)
    s3.server.hooks.append(gate)
    raised = []

    def run():
        try:
            S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, cancel=token,
                   part_size=5 * MiB, threshold=5 * MiB, concurrency=2)
        except BaseException as exc:  # noqa: BLE001 — checked below
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        assert gate.reached.wait(60)
        token.cancel()  # as Ctrl-C or the TUI's Cancel button do, from another thread
    finally:
        gate.release()  # the held parts are dropped: they never reach moto
    worker.join(60)
    assert not worker.is_alive() and len(raised) == 1 and isinstance(raised[0], Cancelled), raised
    s3.server.hooks.remove(gate)
    assert len(gate.passed) == 2 and gate.held >= 1  # really cancelled mid multipart
    present = {k[len("m/t/"):] for k in s3.objects("models", "m/t/")}
    assert "1/rank0.engine" not in present
    # the pending upload is kept for the resume (§1: resume by part), with its two stored parts
    (pending,) = s3.client.list_multipart_uploads(Bucket="models")["Uploads"]
    stored = s3.client.list_parts(Bucket="models", Key=pending["Key"], UploadId=pending["UploadId"])["Parts"]
    assert len(stored) == 2
    # the local record (atomic JSON beside the work): upload id, part size, the ETags of the parts sent
    (rec,) = [json.loads(p.read_text()) for p in Path(os.environ["LMI_WIZARD_STATE_DIR"]).iterdir()]
    assert rec["upload_id"] == pending["UploadId"] and rec["part_size"] == 5 * MiB and rec["key"] == "m/t/1/rank0.engine"
    assert rec["parts"] == {str(p["PartNumber"]): p["ETag"].strip('"') for p in stored}

    hashed = []  # with the record, the stored parts are verified by their ETags: no local range is hashed
    real_md5_range = T.md5_range
    monkeypatch.setattr(T, "md5_range", lambda *a: hashed.append(a) or real_md5_range(*a))
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, part_size=5 * MiB, threshold=5 * MiB)
    assert hashed == []
    assert list(Path(os.environ["LMI_WIZARD_STATE_DIR"]).iterdir()) == []  # completed: record dropped
    assert sorted(r.uploaded) == sorted(set(files) - present) and "1/rank0.engine" in r.uploaded
    assert set(s3.log.keys("PutObject")) == {"m/t/" + k for k in set(files) - present - {"1/rank0.engine"}}
    assert s3.log.count("CreateMultipartUpload") == 0 and s3.log.count("UploadPart") == 4  # 6 parts, 2 kept
    assert r.resumed == {"1/rank0.engine": 2} and r.reused_bytes == 10 * MiB and r.aborted == []
    final = s3.objects("models", "m/t/")
    expect = {"m/t/" + k: (len(v), md5(v)) for k, v in files.items()}
    expect["m/t/1/rank0.engine"] = (len(big), multipart_etag(big, 5 * MiB))
    assert final == expect


def test_cancel_from_a_progress_callback_in_a_transfer_thread(s3, tmp_path):
    s3.make_bucket("models")
    src = tree(tmp_path / "src", {"1/rank0.engine": os.urandom(30 * MiB), "a.json": b"{}"})
    token = CancelToken()
    threads = set()

    def progress(ev):  # the first event is never throttled: the cancel lands after the first chunk read
        threads.add(threading.get_ident())
        token.cancel()

    with pytest.raises(Cancelled):
        S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, progress=progress, cancel=token,
               part_size=5 * MiB, threshold=5 * MiB, concurrency=2)
    assert threading.get_ident() not in threads
    assert "m/t/1/rank0.engine" not in s3.objects("models")
    # kept for the resume by part (§1), and the resume completes it
    assert [u["Key"] for u in s3.client.list_multipart_uploads(Bucket="models")["Uploads"]] == ["m/t/1/rank0.engine"]
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, part_size=5 * MiB, threshold=5 * MiB)
    assert "1/rank0.engine" in r.uploaded and r.aborted == []
    data = (src / "1/rank0.engine").read_bytes()
    assert s3.objects("models", "m/t/1/")["m/t/1/rank0.engine"] == (len(data), multipart_etag(data, 5 * MiB))
    assert s3.client.list_multipart_uploads(Bucket="models").get("Uploads", []) == []


def test_pending_upload_of_another_run_is_continued_part_by_part(s3, tmp_path):
    """No local record (another machine, a wiped cache): the pending upload is found, its stored part whose
    bytes differ from the local range is sent again, the missing one sent, nothing aborted."""
    s3.make_bucket("models")
    data = os.urandom(11 * MiB)
    src = tree(tmp_path / "src", {"1/rank0.engine": data, "keep.json": b"{}"})
    key = "m/t/1/rank0.engine"
    old = s3.client.create_multipart_upload(Bucket="models", Key=key)["UploadId"]
    s3.client.upload_part(Bucket="models", Key=key, UploadId=old, PartNumber=1, Body=data[:5 * MiB])  # right
    s3.client.upload_part(Bucket="models", Key=key, UploadId=old, PartNumber=2, Body=b"x" * (5 * MiB))  # wrong
    other = s3.client.create_multipart_upload(Bucket="models", Key="m/t/not-ours.bin")["UploadId"]
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, part_size=5 * MiB, threshold=5 * MiB,
               state_dir=None)
    assert r.aborted == [] and r.resumed == {"1/rank0.engine": 1} and r.bytes == 6 * MiB + 2
    assert s3.log.count("CreateMultipartUpload") == 0 and s3.log.count("UploadPart") == 2  # parts 2 and 3
    assert s3.objects("models", "m/t/1/")[key] == (len(data), multipart_etag(data, 5 * MiB))
    assert s3.client.get_object(Bucket="models", Key=key)["Body"].read() == data
    left = [u["UploadId"] for u in s3.client.list_multipart_uploads(Bucket="models").get("Uploads", [])]
    assert left == [other]  # another key's upload is left alone


@pytest.mark.parametrize("case", ["file-changed", "other-part-size"])
def test_pending_upload_that_cannot_match_the_file_is_aborted(s3, tmp_path, case):
    s3.make_bucket("models")
    src = tree(tmp_path / "src", {"1/rank0.engine": os.urandom(12 * MiB)})
    key = "m/t/1/rank0.engine"
    kw = dict(endpoint_url=s3.endpoint_url, part_size=5 * MiB, threshold=5 * MiB)
    if case == "file-changed":  # the first run stored 2 parts, then the file was rebuilt (new mtime)
        gate = Gate(lambda r: r.op == "UploadPart", hold_after=2, answer=DROPPED)
        s3.server.hooks.append(gate)
        token = CancelToken()
        worker = threading.Thread(target=lambda: pytest.raises(Cancelled, S.sync, src, "s3://models/m/t/",
                                                               cancel=token, concurrency=2, **kw), daemon=True)
        worker.start()
        assert gate.reached.wait(60)
        token.cancel()
        gate.release()
        worker.join(60)
        s3.server.hooks.remove(gate)
        os.utime(src / "1/rank0.engine", (2_000_000_000, 2_000_000_000))
    else:  # parts of 6 MiB: not this sync's 5 MiB parts
        up = s3.client.create_multipart_upload(Bucket="models", Key=key)["UploadId"]
        s3.client.upload_part(Bucket="models", Key=key, UploadId=up, PartNumber=1, Body=b"x" * (6 * MiB))
    (old,) = [u["UploadId"] for u in s3.client.list_multipart_uploads(Bucket="models")["Uploads"]]
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", **kw)
    assert r.aborted == ["1/rank0.engine"] and r.resumed == {}
    assert s3.log.count("AbortMultipartUpload") == 1 and s3.log.count("UploadPart") == 3  # all sent again
    assert s3.client.list_multipart_uploads(Bucket="models").get("Uploads", []) == []
    assert s3.client.get_object(Bucket="models", Key=key)["Body"].read() == (src / "1/rank0.engine").read_bytes()
    assert old


def test_cancel_before_start_sends_nothing(s3, tmp_path):
    s3.make_bucket("models")
    src = tree(tmp_path / "src", small_files(3))
    token = CancelToken()
    token.cancel()
    s3.log.clear()
    with pytest.raises(Cancelled):
        S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, cancel=token)
    assert s3.log.count("PUT") == 0


def test_dry_run_sends_nothing(s3, tmp_path):
    s3.make_bucket("models")
    src = tree(tmp_path / "src", small_files(3))
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, dry_run=True)
    assert sorted(r.uploaded) == sorted(small_files(3)) and r.dry_run
    assert s3.log.ops() == ["ListObjectsV2"]


def test_extra_objects_are_reported_not_deleted(s3, tmp_path):
    s3.make_bucket("models")
    s3.client.put_object(Bucket="models", Key="m/t/old_rank3.engine", Body=b"old")
    src = tree(tmp_path / "src", small_files(2))
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert r.extra == ["old_rank3.engine"]
    assert "m/t/old_rank3.engine" in s3.objects("models")


def test_endpoint_from_the_standard_variable(s3, tmp_path, monkeypatch):
    s3.make_bucket("models")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint_url)
    src = tree(tmp_path / "src", small_files(2))
    s3.log.clear()
    S.sync(src, "s3://models/m/t/")
    assert s3.log.count("PutObject") == 2


# --------------------------------------------------------------------------- errors
def test_no_credentials(s3, tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    assert not Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).exists()
    src = tree(tmp_path / "src", small_files(1))
    s3.log.clear()
    with pytest.raises(WizardError) as ei:
        S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert "no AWS credentials" in ei.value.problem and "aws configure" in ei.value.fix
    assert s3.log.count() == 0


def test_unknown_profile(s3, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    with pytest.raises(WizardError) as ei:
        S.sync(tree(tmp_path / "src", small_files(1)), "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert "profile not found" in ei.value.problem and "AWS_PROFILE" in ei.value.fix


def test_no_such_bucket(s3, tmp_path):
    src = tree(tmp_path / "src", small_files(1))
    with pytest.raises(WizardError) as ei:
        S.sync(src, "s3://missing-bucket/m/t/", endpoint_url=s3.endpoint_url)
    assert "'missing-bucket' does not exist" in ei.value.problem and "aws s3 mb" in ei.value.fix


def _iam_user(s3, policy: str):
    import boto3
    iam = boto3.client("iam", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    iam.create_user(UserName="uploader")
    iam.put_user_policy(UserName="uploader", PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName="uploader")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_access_denied_then_resume(s3, tmp_path, monkeypatch):
    s3.make_bucket("models")
    list_only = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],'
                 '"Resource":"*"}]}')
    key_id, secret = _iam_user(s3, list_only)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    src = tree(tmp_path / "src", small_files(3))
    with auth_enforced():
        with pytest.raises(WizardError) as ei:
            S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert "access denied to s3://models/m/t/" in ei.value.problem and "s3:PutObject" in ei.value.fix
    assert secret not in str(ei.value) and key_id not in str(ei.value)
    assert s3.objects("models") == {}
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)  # permission fixed: resume
    assert sorted(r.uploaded) == sorted(small_files(3))


def test_rejected_credentials(s3, tmp_path):
    s3.make_bucket("models")
    src = tree(tmp_path / "src", small_files(1))
    with auth_enforced(), pytest.raises(WizardError) as ei:  # "testing" is no IAM key
        S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert "rejected the AWS credentials" in ei.value.problem


REDIRECT = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you '
            b'are attempting to access must be addressed using the specified endpoint.</Message>'
            b'<Endpoint>eu-models.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>eu-models</Bucket></Error>')
MALFORMED = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>The '
             b'authorization header is malformed; the region \'us-east-1\' is wrong; expecting \'eu-west-1\''
             b'</Message><Region>eu-west-1</Region></Error>')


@pytest.mark.parametrize("status,body", [("301 Moved Permanently", REDIRECT), ("400 Bad Request", MALFORMED)])
def test_wrong_region(s3, tmp_path, status, body):
    # moto does not emulate a bucket in another region: answer as AWS does (same status, headers, XML)
    s3.make_bucket("eu-models")
    s3.server.hooks.append(lambda env, req: (status, [("Content-Type", "application/xml"),
                                                     ("x-amz-bucket-region", "eu-west-1")], body)
                           if req.path.startswith("/eu-models") else None)
    src = tree(tmp_path / "src", small_files(1))
    s3.log.clear()
    with pytest.raises(WizardError) as ei:
        S.sync(src, "s3://eu-models/m/t/", endpoint_url=s3.endpoint_url)
    assert "another region (eu-west-1)" in ei.value.problem
    assert "AWS_DEFAULT_REGION=eu-west-1" in ei.value.fix
    assert s3.log.count("PUT") == 0


def test_network_loss_closed_port(s3, tmp_path, monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    src = tree(tmp_path / "src", small_files(1))
    with pytest.raises(WizardError) as ei:
        S.sync(src, "s3://models/m/t/", endpoint_url=f"http://127.0.0.1:{port}")
    assert f"cannot reach http://127.0.0.1:{port}" in ei.value.problem
    assert "run the same command again" in ei.value.fix and ei.value.exit_code == 3


def test_network_loss_mid_upload_leaves_a_resumable_state(s3, tmp_path, monkeypatch):
    s3.make_bucket("models")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    files = small_files(5)
    src = tree(tmp_path / "src", files)
    # the server drops the connection for one object, as a broken network would
    def drop(env, req):
        if req.op == "PutObject" and req.path.endswith("f3.json"):
            env["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return ("500 Internal Server Error", [], b"")  # never reaches the client
    s3.server.hooks.append(drop)
    with pytest.raises(WizardError) as ei:
        S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url, concurrency=1)
    assert "run the same command again" in ei.value.fix
    s3.server.hooks.clear()
    present = {k[len("m/t/"):] for k in s3.objects("models", "m/t/")}
    assert "f3.json" not in present
    s3.log.clear()
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert sorted(r.uploaded) == sorted(set(files) - present)
    assert s3.log.count("PutObject") == len(set(files) - present)


def test_redact_hides_secrets(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    text = S.redact("key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY at "
                    "http://user:pw@host/")
    assert "AKIAIOSFODNN7EXAMPLE" not in text and "wJalr" not in text and "user:pw" not in text


# --------------------------------------------------------------------------- local destination
def test_local_destination_same_semantics(tmp_path):
    files = dict(small_files(3), **{"1/rank0.engine": os.urandom(3 * MiB), "odd name+#.txt": b"z"})
    src = tree(tmp_path / "src", files)
    dest = tmp_path / "out" / "m" / "tensorrt_llm"
    r = S.sync(src, dest)
    assert sorted(r.uploaded) == sorted(files)
    assert {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == files
    r2 = S.sync(src, dest)
    assert r2.uploaded == [] and sorted(r2.skipped) == sorted(files)
    (src / "f0.json").write_bytes(b"X" * len(files["f0.json"]))  # same size, new content
    os.utime(src / "f0.json", (1_000_000_000, 1_000_000_000))
    r3 = S.sync(src, dest, threshold=1 * MiB)
    assert r3.uploaded == ["f0.json"] and (dest / "f0.json").read_bytes() == b"X" * len(files["f0.json"])
    entries = S.list_entries(dest)
    assert [e.name for e in entries][:1] == ["1/"] and any(e.name == "odd name+#.txt" for e in entries)


def test_local_destination_cancel_leaves_no_partial_file(tmp_path):
    src = tree(tmp_path / "src", {"big.engine": os.urandom(20 * MiB)})
    dest = tmp_path / "out"
    token = CancelToken()

    def progress(ev):
        if ev.done and ev.done >= 8 * MiB:
            token.cancel()

    with pytest.raises(Cancelled):
        S.sync(src, dest, progress=progress, cancel=token)
    assert [p.name for p in dest.rglob("*")] == []
    (dest / ".big.engine.x1y2.lmi-partial").write_bytes(b"left by a killed run")
    S.sync(src, dest)
    assert [p.name for p in dest.iterdir()] == ["big.engine"]
    assert (dest / "big.engine").read_bytes() == (src / "big.engine").read_bytes()


# --------------------------------------------------------------------------- the test server's Gate
def test_gate_is_reached_only_once_moto_has_stored_what_it_let_through(s3):
    """The kill-mid-upload tests kill the client when ``gate.reached`` is set and then count the objects:
    every request let through must be stored by then, even when moto is slow (a loaded machine)."""
    import time

    s3.make_bucket("models")
    gate = Gate(lambda r: r.op == "PutObject", hold_after=1)

    def slow(env, req):  # runs after the gate let the request through: moto is slow to store "first"
        if req.op == "PutObject" and req.path.endswith("/first"):
            time.sleep(0.5)

    s3.server.hooks.extend([gate, slow])
    put = lambda key: threading.Thread(target=s3.client.put_object,  # noqa: E731
                                       kwargs={"Bucket": "models", "Key": key, "Body": b"x"}, daemon=True)
    first, second = put("first"), put("second")
    first.start()
    deadline = time.monotonic() + 30
    while gate.seen < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    second.start()
    assert gate.reached.wait(30)
    assert set(s3.objects("models")) == {"first"}  # stored before reached; "second" held
    gate.release()  # answer None: the held request goes on to moto
    first.join(30)
    second.join(30)
    assert set(s3.objects("models")) == {"first", "second"} and gate.held == 1 and gate.seen == 2


# --------------------------------------------------------------------------- links in the source
def test_linked_folder_is_uploaded_and_a_loop_refused(s3, tmp_path):
    s3.make_bucket("models")
    store = tree(tmp_path / "store", {"rank0.engine": b"e0" * 100, "rank1.engine": b"e1" * 100})
    src = tree(tmp_path / "src", {"config.pbtxt": b"p", "tokenizer_config.json": b"{}"})
    (src / "1").symlink_to(store, target_is_directory=True)  # engines kept elsewhere, linked in
    r = S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert sorted(r.uploaded) == ["1/rank0.engine", "1/rank1.engine", "config.pbtxt", "tokenizer_config.json"]
    assert s3.objects("models", "m/t/1/") == {"m/t/1/rank0.engine": (200, md5(b"e0" * 100)),
                                              "m/t/1/rank1.engine": (200, md5(b"e1" * 100))}
    (store / "loop").symlink_to(src, target_is_directory=True)
    s3.log.clear()
    with pytest.raises(WizardError) as ei:
        S.sync(src, "s3://models/m/t/", endpoint_url=s3.endpoint_url)
    assert "a loop" in ei.value.problem and "remove the link" in ei.value.fix
    assert s3.log.count() == 0


def _profiles(tmp_path: Path, monkeypatch, **profiles: str) -> None:
    """A credentials file holding the named profiles (name → access key id) and nothing in the environment."""
    creds = tmp_path / "aws-credentials"
    creds.write_text("".join(f"[{name}]\naws_access_key_id = {kid}\naws_secret_access_key = secret-of-{name}\n"
                             for name, kid in profiles.items()))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-none"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)


def test_make_client_with_a_named_profile(s3, tmp_path, monkeypatch):
    """make_client(profile=...) uses that profile for this client only, like `aws --profile`: it wins over an
    AWS_PROFILE set for something else, and the environment is left as it was."""
    s3.make_bucket("models")
    _profiles(tmp_path, monkeypatch, lmi="AKIDLMIPROFILE01", other="AKIDOTHERPROFILE")
    monkeypatch.setenv("AWS_PROFILE", "other")
    c = S.make_client(s3.endpoint_url, region="us-east-1", profile="lmi")
    assert c._request_signer._credentials.access_key == "AKIDLMIPROFILE01"
    assert os.environ["AWS_PROFILE"] == "other"
    r = S.sync(tree(tmp_path / "src", small_files(2)), "s3://models/p/t/", client=c)
    assert sorted(r.uploaded) == ["f0.json", "f1.json"]
    # without a profile: the standard chain (here AWS_PROFILE)
    assert S.make_client(s3.endpoint_url)._request_signer._credentials.access_key == "AKIDOTHERPROFILE"
    monkeypatch.delenv("AWS_PROFILE")
    with pytest.raises(WizardError) as ei:
        S.make_client(s3.endpoint_url)
    assert "no AWS credentials" in ei.value.problem


def test_make_client_with_a_missing_profile_is_one_clear_error(s3, tmp_path, monkeypatch):
    _profiles(tmp_path, monkeypatch, lmi="AKIDLMIPROFILE01")
    s3.log.clear()
    with pytest.raises(WizardError) as ei:
        S.make_client(s3.endpoint_url, profile="does-not-exist")
    assert "profile not found" in ei.value.problem and "does-not-exist" in ei.value.problem
    assert "\n" not in ei.value.problem and "~/.aws/config" in ei.value.fix and "profile" in ei.value.fix
    assert "AWS_PROFILE" not in os.environ and s3.log.count() == 0


# --------------------------------------------------------------------------- §5: every wait is bounded
class SilentServer:
    """A loopback server that accepts every connection, reads the request and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)  # held open, never answered

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("what", ["sync", "list"])
def test_a_silent_endpoint_fails_with_one_line_naming_it_and_the_setting(s3, tmp_path, monkeypatch, what):
    monkeypatch.setenv("LMI_WIZARD_NET_TIMEOUT", "3")  # seconds of silence in all (default 60): Hub, git, S3
    server = SilentServer()
    endpoint = f"http://127.0.0.1:{server.port}"
    src = tree(tmp_path / "src", small_files(1))
    try:
        client = S.make_client(endpoint)
        with pytest.raises(WizardError) as ei:
            if what == "sync":
                S.sync(src, "s3://models/m/t/", client=client, endpoint_url=endpoint)
            else:
                S.list_entries("s3://models/m/t/", client=client)
    finally:
        server.close()
    e = ei.value
    assert f"no answer from {endpoint} for 3 s; 2 quiet retries before" in e.problem and e.exit_code == 3
    assert "LMI_WIZARD_NET_TIMEOUT" in e.fix and "\n" not in e.problem + e.fix
    assert server.accepted == 3 and S.attempts(client) == 3  # the retries happened, quietly, and were counted


def test_timeout_setting_is_checked(monkeypatch):
    monkeypatch.setenv("LMI_WIZARD_NET_TIMEOUT", "soon")
    with pytest.raises(WizardError) as ei:
        S.make_client("http://127.0.0.1:9")
    assert "LMI_WIZARD_NET_TIMEOUT='soon'" in ei.value.problem
    monkeypatch.delenv("LMI_WIZARD_NET_TIMEOUT")
    assert S.timeout_setting() == 60.0
