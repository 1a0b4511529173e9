"""Benchmark: lmi-wizard's S3 sync vs ``aws s3 sync``, against a local moto server (request counts server-side).

    .venv/bin/python bench/bench_s3_sync.py               # one 2 GiB sparse file + 20 small files
    .venv/bin/python bench/bench_s3_sync.py --size-mb 256 # smaller

Both run as subprocesses (interpreter start-up included for both), both with a 900 s read timeout: moto
assembles a completed multipart object in Python and can take over botocore's default 60 s for 2 GiB on a
busy machine. Prints figures; asserts nothing.
awscli comes from the ``bench`` extra or the system (``--aws PATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def start_server():
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "s3server.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"moto server did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def requests(endpoint: str, reset: bool = False) -> Counter:
    req = urllib.request.Request(endpoint + "/_lmi/requests", method="POST" if reset else "GET",
                                 data=b"" if reset else None)
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.loads(resp.read())
    return Counter() if reset else Counter(r["op"] for r in data)


def timed(argv, env) -> float:
    t = time.monotonic()
    res = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {res.stderr[-2000:]}")
    return time.monotonic() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=2048, help="size of the sparse engine file (MiB)")
    ap.add_argument("--small", type=int, default=20, help="number of small files")
    ap.add_argument("--aws", default=shutil.which("aws"), help="the aws CLI to compare with")
    ap.add_argument("--aws-first", action="store_true", help="run aws s3 sync before lmi-wizard (order effects)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    src = work / "tensorrt_llm"
    (src / "1").mkdir(parents=True)
    with open(src / "1" / "rank0.engine", "wb") as fh:
        fh.truncate(args.size_mb * MiB)  # sparse
    for i in range(args.small):
        (src / f"small_{i:02d}.json").write_bytes(os.urandom(1000 + 997 * i))

    server, endpoint = start_server()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_SHARED_CREDENTIALS_FILE=str(work / "none"), AWS_CONFIG_FILE=str(work / "none"),
               PYTHONPATH=str(ROOT))
    env.pop("AWS_PROFILE", None)
    try:
        import boto3
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
        client.create_bucket(Bucket="bench")
        # warm the server up (first multipart upload, page cache of the sparse file) so order matters less
        from boto3.s3.transfer import TransferConfig
        client.upload_file(str(src / "1" / "rank0.engine"), "bench", "warmup",
                           Config=TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=64 * MiB))
        client.delete_object(Bucket="bench", Key="warmup")
        ours = [sys.executable, "-c",
                "import sys; from lmi_wizard.core.s3 import sync, make_client; "
                "sync(sys.argv[1], sys.argv[2], client=make_client(sys.argv[3], read_timeout=900))",
                str(src), "s3://bench/ours/m/tensorrt_llm/", endpoint]
        print(f"source: 1 sparse file of {args.size_mb} MiB + {args.small} small files; moto at {endpoint}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        rows = []

        def measure(name, argv, run_env, dest_key):
            requests(endpoint, reset=True)
            t_up = timed(argv, run_env)
            r_up = requests(endpoint)
            requests(endpoint, reset=True)
            t_re = timed(argv, run_env)
            r_re = requests(endpoint)
            rows.append((name, t_up, r_up, t_re, r_re))
            client.delete_object(Bucket="bench", Key=dest_key)  # free the server's memory

        jobs = [("lmi-wizard", ours, env, "ours/m/tensorrt_llm/1/rank0.engine")]
        if args.aws:
            theirs = [args.aws, "s3", "sync", str(src), "s3://bench/aws/m/tensorrt_llm/", "--endpoint-url", endpoint,
                      "--only-show-errors", "--cli-read-timeout", "900"]
            aws_env = dict(env)
            aws_env.pop("PYTHONPATH")
            jobs.append(("aws s3 sync", theirs, aws_env, "aws/m/tensorrt_llm/1/rank0.engine"))
            if args.aws_first:
                jobs.reverse()
        else:
            print("aws CLI not found: only lmi-wizard measured (pip install '.[bench]' or pass --aws)")
        for job in jobs:
            measure(*job)
        rows.sort(key=lambda r: r[0] != "lmi-wizard")
        print(f"order: {' then '.join(j[0] for j in jobs)}; load average at the end {os.getloadavg()[0]:.1f}")
        print(f"\n{'tool':<12} {'upload s':>9} {'requests':>9} {'PUTs':>6} {'parts':>6} | {'re-sync s':>9} "
              f"{'requests':>9} {'PUTs':>5}")
        for name, t_up, r_up, t_re, r_re in rows:
            puts_up = r_up["PutObject"] + r_up["UploadPart"]
            puts_re = r_re["PutObject"] + r_re["UploadPart"] + r_re["CreateMultipartUpload"]
            print(f"{name:<12} {t_up:>9.2f} {sum(r_up.values()):>9} {puts_up:>6} {r_up['UploadPart']:>6} | "
                  f"{t_re:>9.2f} {sum(r_re.values()):>9} {puts_re:>5}")
        if len(rows) == 2:
            print(f"\ntime ratio lmi-wizard / aws s3 sync: upload {rows[0][1] / rows[1][1]:.2f}, "
                  f"re-sync {rows[0][3] / rows[1][3]:.2f}")
        for name, _, r_up, _, r_re in rows:
            print(f"{name} upload ops: {dict(r_up)}; re-sync ops: {dict(r_re)}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
