"""Benchmark: lmi-wizard's S3 sync vs ``aws s3 sync``, against a local moto server (request counts server-side),
in rotated rounds (lmi-wizard first in even rounds, aws first in odd ones); medians and paired ratios.
Then ``check s3://``'s small-file reads: one GET after another (the code before issue 12) vs concurrent.

    .venv/bin/python bench/bench_s3_sync.py                      # 2 GiB sparse engine + 20 small files, 5 rounds
    .venv/bin/python bench/bench_s3_sync.py --size-mb 10240      # 10 GiB
    .venv/bin/python bench/bench_s3_sync.py --size-mb 256 --rounds 3 --check-objects 500   # quick

Both tools run as subprocesses (interpreter start-up included for both), both with a 900 s read timeout:
moto assembles a completed multipart object in Python and can take long for multi-GB objects on a busy
machine. ``--with-before`` adds the previous sync (s3transfer, 64 MiB parts). Prints figures; asserts nothing.
awscli comes from the ``bench`` extra or the system (``--aws PATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024

OURS = ("import sys; from lmi_wizard.core.s3 import sync, make_client; "
        "sync(sys.argv[1], sys.argv[2], client=make_client(sys.argv[3], timeout=2700), state_dir=None)")
# the sync before issue 12: s3transfer's TransferManager, 64 MiB parts and threshold, 10 threads
BEFORE = ("import sys, os, boto3; from boto3.s3.transfer import TransferConfig; "
          "from botocore.config import Config; from s3transfer.manager import TransferManager; "
          "c = boto3.client('s3', endpoint_url=sys.argv[3], config=Config(read_timeout=900, max_pool_connections=14)); "
          "src, dest = sys.argv[1], sys.argv[2][5:]; b, p = dest.split('/', 1); "
          "cfg = TransferConfig(multipart_threshold=64*2**20, multipart_chunksize=64*2**20, max_concurrency=10); "
          "m = TransferManager(c, cfg); "
          "fs = [m.upload(os.path.join(r, n), b, p + os.path.relpath(os.path.join(r, n), src)) "
          "for r, _, ns in os.walk(src) for n in ns]; [f.result() for f in fs]; m.shutdown()")


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
    with urllib.request.urlopen(req, timeout=60) as resp:
        data = json.loads(resp.read())
    return Counter() if reset else Counter(r["op"] for r in data)


CPU: dict = {}  # argv[0..2] → client CPU seconds (user + system) of the last run


def timed(argv, env) -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    res = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {res.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.monotonic() - t


def delete_prefix(client, bucket: str, prefix: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", []) or []]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def bench_check(client, endpoint: str, n: int, rounds: int) -> None:
    """check s3://'s small-file reads: the serial loop of the code before vs s3.read_objects."""
    from lmi_wizard.core import s3 as S
    from lmi_wizard.core.check import mirror_s3
    from lmi_wizard.core.layout import parse_destination

    for i in range(n):
        client.put_object(Bucket="bench", Key=f"check/m/cfg/{i:05d}.json", Body=json.dumps({"i": i}).encode() * 8)
    dest = parse_destination("s3://bench/check/m/")
    ours = S.make_client(endpoint)
    rels = sorted(S.list_keys(dest, client=ours))
    serial, conc, mirror = [], [], []
    for _ in range(rounds):
        t = time.monotonic()
        for rel in rels:  # what mirror_s3 did before: one GET after another
            ours.get_object(Bucket=dest.bucket, Key=dest.prefix + rel)["Body"].read()
        serial.append(time.monotonic() - t)
        t = time.monotonic()
        got = S.read_objects(ours, dest, rels)
        conc.append(time.monotonic() - t)
        assert len(got) == len(rels)
        with tempfile.TemporaryDirectory() as d:
            t = time.monotonic()
            mirror_s3(dest.url, Path(d), client=ours)
            mirror.append(time.monotonic() - t)
    s, c, m = statistics.median(serial), statistics.median(conc), statistics.median(mirror)
    print(f"\ncheck s3:// small-file reads, {n} .json objects, median of {rounds}:")
    print(f"  one GET after another (before) {s:7.2f} s")
    print(f"  s3.read_objects, 10 at once    {c:7.2f} s   ratio {c / s:.2f}")
    print(f"  check.mirror_s3 (list + reads + writes, after) {m:7.2f} s")
    delete_prefix(client, "bench", "check/")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=2048, help="size of the sparse engine file (MiB)")
    ap.add_argument("--small", type=int, default=20, help="number of small files")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--aws", default=shutil.which("aws"), help="the aws CLI to compare with")
    ap.add_argument("--with-before", action="store_true", help="also the sync before issue 12 (64 MiB parts)")
    ap.add_argument("--check-objects", type=int, default=2000, help="0: skip the check benchmark")
    ap.add_argument("--dir", default=None, help="where the source tree is made (default: a temp folder)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-s3-", dir=args.dir))
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
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("AWS_PROFILE", None)
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    try:
        import boto3
        from botocore.config import Config

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              config=Config(read_timeout=900))
        client.create_bucket(Bucket="bench")
        # warm the server up (first multipart upload, page cache of the sparse file) so order matters less
        from boto3.s3.transfer import TransferConfig
        client.upload_file(str(src / "1" / "rank0.engine"), "bench", "warmup",
                           Config=TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB))
        client.delete_object(Bucket="bench", Key="warmup")
        tools = [("lmi-wizard", lambda dest: [sys.executable, "-c", OURS, str(src), dest, endpoint], env)]
        if args.aws:
            aws_env = dict(env)
            aws_env.pop("PYTHONPATH")
            if os.environ.get("PYTHONPATH"):  # awscli installed there (e.g. unpacked wheels)
                aws_env["PYTHONPATH"] = os.environ["PYTHONPATH"]
            tools.append(("aws s3 sync", lambda dest: [args.aws, "s3", "sync", str(src), dest, "--endpoint-url",
                                                       endpoint, "--only-show-errors", "--cli-read-timeout", "900"],
                          aws_env))
        else:
            print("aws CLI not found: only lmi-wizard measured (pip install '.[bench]' or pass --aws)")
        if args.with_before:
            tools.append(("before", lambda dest: [sys.executable, "-c", BEFORE, str(src), dest, endpoint], env))
        print(f"source: 1 sparse file of {args.size_mb} MiB + {args.small} small files; moto at {endpoint}; "
              f"{args.rounds} rotated rounds; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        results: dict[str, list] = {name: [] for name, _, _ in tools}
        for r in range(args.rounds):
            order = tools[r % len(tools):] + tools[:r % len(tools)]
            for name, argv_for, run_env in order:
                prefix = f"{name.split()[0]}/r{r}/m/tensorrt_llm/"
                dest = f"s3://bench/{prefix}"
                requests(endpoint, reset=True)
                t_up = timed(argv_for(dest), run_env)
                cpu_up = CPU["last"]
                r_up = requests(endpoint)
                requests(endpoint, reset=True)
                t_re = timed(argv_for(dest), run_env) if name != "before" else float("nan")
                r_re = requests(endpoint)
                results[name].append((t_up, r_up, t_re, r_re, cpu_up))
                delete_prefix(client, "bench", prefix)  # free the server's memory
                print(f"  round {r + 1}: {name:<12} upload {t_up:8.2f} s (client CPU {cpu_up:6.2f} s)  "
                      f"re-sync {t_re:6.2f} s", flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        print(f"\n{'tool':<12} {'upload s (median)':>17} {'client CPU s':>12} {'requests':>9} {'PUTs':>6} "
              f"{'parts':>6} | {'re-sync s':>9} {'requests':>9} {'PUTs':>5}")
        med = {}
        for name, rows in results.items():
            t_up = statistics.median(x[0] for x in rows)
            t_re = statistics.median(x[2] for x in rows)
            med[name] = (t_up, t_re)
            r_up, r_re = rows[-1][1], rows[-1][3]
            puts_up = r_up["PutObject"] + r_up["UploadPart"]
            puts_re = r_re["PutObject"] + r_re["UploadPart"] + r_re["CreateMultipartUpload"]
            cpu = statistics.median(x[4] for x in rows)
            print(f"{name:<12} {t_up:>17.2f} {cpu:>12.2f} {sum(r_up.values()):>9} {puts_up:>6} {r_up['UploadPart']:>6} | "
                  f"{t_re:>9.2f} {sum(r_re.values()):>9} {puts_re:>5}")
        if "aws s3 sync" in results:
            a = results["aws s3 sync"]
            for name in results:
                if name == "aws s3 sync":
                    continue
                paired = [o[0] / t[0] for o, t in zip(results[name], a)]
                print(f"\ntime ratio {name} / aws s3 sync (< 1: faster): upload median "
                      f"{med[name][0] / med['aws s3 sync'][0]:.2f} (paired rounds {min(paired):.2f}–{max(paired):.2f})"
                      + (f", re-sync {med[name][1] / med['aws s3 sync'][1]:.2f}" if name != "before" else ""))
                print(f"speed ratio (aws time / {name} time): {med['aws s3 sync'][0] / med[name][0]:.2f}×")
        for name, rows in results.items():
            print(f"{name} upload ops: {dict(rows[-1][1])}; re-sync ops: {dict(rows[-1][3])}")
        if args.check_objects:
            bench_check(client, endpoint, args.check_objects, 3)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
