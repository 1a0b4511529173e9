"""``lmi-wizard remote run|status|logs|stop|policy|wheelhouse``: compile on SageMaker (a Training job in the LMI
image of the recipe's release, on an instance of the deployment's GPU architecture)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

NAME = "remote"
HELP = "compile on SageMaker: run recipes as Training jobs on the deployment's GPU, watch, stop, IAM policy"
ORDER = 85

EPILOG = ("exit codes: 0 submitted (and, when waiting, every job succeeded and its destination checks); 1 a job "
          "failed or was stopped (or SageMaker refused it: quota); 2 refused before anything was created.")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", metavar="R", help="AWS region (default: [remote] region of a recipe, else your AWS "
                   "configuration)")
    p.add_argument("--endpoint-url", metavar="URL", help="one endpoint for SageMaker, CloudWatch Logs, Secrets "
                   "Manager and S3 (tests, VPC endpoints)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def register(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    sub = parser.add_subparsers(dest="remote_verb", metavar="SUBVERB", parser_class=type(parser))
    sub.required = True
    r = sub.add_parser("run", help="submit one job per recipe, watch them, check each destination")
    r.add_argument("recipes", nargs="+", metavar="RECIPE")
    r.add_argument("--role", metavar="ARN", help="IAM role the job runs as (default: [remote] role; `remote policy`)")
    r.add_argument("--instance-type", metavar="ml.X", help="training instance (default: [remote] instance_type)")
    r.add_argument("--image", metavar="URI", help="the LMI image (default: [remote] image, else the release's DLC "
                   "image in the region)")
    r.add_argument("--python-version", metavar="3.X", help="the image's Python, when --image is not a known release")
    r.add_argument("--max-runtime", type=int, default=6 * 3600, metavar="S", help="stop the job after S seconds")
    r.add_argument("--volume-gb", type=int, default=200, metavar="N", help="ML storage volume (GB)")
    r.add_argument("--staging", metavar="S3URI", help="where inputs, outputs and records go (default: "
                   "s3://<destination bucket>/lmi-wizard-remote/)")
    r.add_argument("--wheelhouse", metavar="DIR", help="a wheelhouse built before (`remote wheelhouse`) instead of "
                   "building one now")
    r.add_argument("--no-wait", action="store_true", help="submit and return")
    r.add_argument("--poll", type=float, default=10.0, metavar="S", help=argparse.SUPPRESS)
    _common(r)
    s = sub.add_parser("status", help="state of jobs (default: the recent lmi-wizard jobs)")
    s.add_argument("jobs", nargs="*", metavar="JOB")
    _common(s)
    lg = sub.add_parser("logs", help="a job's CloudWatch log")
    lg.add_argument("job", metavar="JOB")
    lg.add_argument("--follow", action="store_true", help="keep reading until the job ends")
    lg.add_argument("--poll", type=float, default=5.0, metavar="S", help=argparse.SUPPRESS)
    _common(lg)
    st = sub.add_parser("stop", help="stop jobs (StopTrainingJob)")
    st.add_argument("jobs", nargs="+", metavar="JOB")
    _common(st)
    po = sub.add_parser("policy", help="print the IAM policies the caller and the job role need (JSON)")
    po.add_argument("--recipe", action="append", default=[], metavar="RECIPE", help="fill in its buckets and secret")
    po.add_argument("--role", metavar="ARN", help="the job role (for the caller's iam:PassRole)")
    po.add_argument("--bucket", action="append", default=[], metavar="NAME", help="a bucket the job uses")
    w = sub.add_parser("wheelhouse", help="build the wheelhouse the job installs from (no index needed)")
    w.add_argument("folder", metavar="DIR")
    w.add_argument("--python-version", required=True, metavar="3.X")
    j = sub.add_parser("job", help="(what runs inside the training job)")
    j.add_argument("recipe")
    j.add_argument("--work-dir", required=True)
    j.add_argument("--output", required=True)
    j.add_argument("--region")
    j.add_argument("--hf-token-secret")


def _clients(args, *services):
    from lmi_wizard.core.remote import aws

    region = aws.region_of(args.region)
    return region, [aws.client(s, region=region, endpoint_url=args.endpoint_url) for s in services]


def _dump(doc) -> None:
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")


class _Printer:
    """Job states as a table line per change and log lines prefixed by the job (stderr with --json)."""

    def __init__(self, out, names):
        self.out = out
        self.width = max([len(n) for n in names] + [4])
        self.lock = threading.Lock()

    def __call__(self, ev) -> None:
        extra = ev.extra or {}
        with self.lock:
            if extra.get("event") == "log":
                self.out.write(f"{extra['job']:<{self.width}} | {ev.message}\n")
            elif extra.get("event") == "job":
                self.out.write(f"{extra['job']:<{self.width}} ▶ {ev.message.split(': ', 1)[-1]}\n")
            elif ev.message:
                self.out.write(f"  {ev.step} | {ev.message}\n")
            self.out.flush()


def _recipe_region(paths) -> "str | None":
    from pathlib import Path

    from lmi_wizard.core.base.fsutil import read_text
    from lmi_wizard.core.remote.submit import load_recipe_text

    for path in paths:
        answers = load_recipe_text(read_text(Path(path), what="recipe"), source=path)
        if answers.is_set("remote.region"):
            return answers["remote.region"]
    return None


def _run(args) -> int:
    import tempfile
    from pathlib import Path

    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.base.progress import CancelToken
    from lmi_wizard.core.remote import submit as R
    from lmi_wizard.core.remote.wheelhouse import build_wheelhouse

    out = sys.stderr if args.json else sys.stdout
    if not args.region:  # [remote] region of the first recipe that names one
        args.region = _recipe_region(args.recipes)
    region, (sm, logs, s3) = _clients(args, "sagemaker", "logs", "s3")
    opts = R.Options(role_arn=args.role, instance_type=args.instance_type, image=args.image,
                     python_version=args.python_version, region=region, endpoint_url=args.endpoint_url,
                     max_runtime_s=args.max_runtime, volume_gb=args.volume_gb, staging=args.staging)
    planned = R.plan(args.recipes, opts, sm=sm)  # exit 2 on any problem: nothing created yet
    outcomes, todo = [], []
    for p in planned:
        skip = R.already_done(p, s3, endpoint_url=args.endpoint_url)
        if skip:
            print(f"{p.recipe}: {skip.verdict} — no job started", file=out)
            outcomes.append(skip)
        else:
            todo.append(p)
    printer = _Printer(out, [p.name for p in planned])
    if todo:
        pythons = sorted({p.python for p in todo})
        houses = {}
        tmp = None
        if args.wheelhouse:
            if len(pythons) > 1:
                raise WizardError(f"the recipes need wheelhouses for Python {', '.join(pythons)}; --wheelhouse is one",
                                  "submit the recipes of each release separately")
            houses[pythons[0]] = Path(args.wheelhouse)
            if not any(Path(args.wheelhouse).glob("lmi_wizard-*.whl")):
                raise WizardError(f"{args.wheelhouse} holds no lmi_wizard wheel", "build it with `lmi-wizard remote "
                                  f"wheelhouse DIR --python-version {pythons[0]}`")
        else:
            tmp = Path(tempfile.mkdtemp(prefix="lmi-wizard-wheels-"))
            for py in pythons:
                houses[py] = build_wheelhouse(tmp / f"py{py}", py, progress=printer).folder
        R.stage(todo, s3, houses, progress=printer)
        for p in todo:
            try:
                outcomes.append(R.create(p, sm))
                print(f"{p.name}: submitted ({p.instance.type}, {p.image}) for {p.recipe}", file=out)
            except WizardError as exc:
                print(f"lmi-wizard: error: {p.recipe}: {exc}", file=sys.stderr)
                outcomes.append(R.Outcome(p, "Failed", failure=exc.problem, verdict=str(exc)))
    if not args.no_wait:
        cancel = CancelToken()
        previous = {}

        def on_signal(signum, frame):
            print("\nlmi-wizard: stopping the jobs… (StopTrainingJob)", file=sys.stderr)
            threading.Thread(target=cancel.cancel, daemon=True).start()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[sig] = signal.signal(sig, on_signal)
            except ValueError:  # not the main thread (tests)
                pass
        try:
            running = [o for o in outcomes if o.status == "InProgress"]
            R.watch(running, sm, logs, progress=printer, cancel=cancel, poll_s=args.poll)
        finally:
            for sig, h in previous.items():
                signal.signal(sig, h)
        for o in outcomes:
            if o.status != "Skipped" and o.verdict is None:
                R.verdict(o, s3, endpoint_url=args.endpoint_url)
            print(f"{o.planned.name}: {o.status} — {o.verdict or ''}".rstrip(" —"), file=out)
    if args.json:
        _dump([o.to_json() for o in outcomes])
    bad = [o for o in outcomes if o.status in ("Failed", "Stopped", "Stopping")]
    return 1 if bad else 0


def _status(args) -> int:
    from lmi_wizard.core.remote import status as S

    _, (sm,) = _clients(args, "sagemaker")
    names = args.jobs or S.list_jobs(sm)
    states = [S.describe(sm, n) for n in names]
    if args.json:
        _dump([{"job": s.name, "status": s.status, "secondary": s.secondary, "instance_type": s.instance_type,
                "failure": s.failure} for s in states])
    else:
        if not states:
            print("no lmi-wizard training jobs")
        w = max([len(s.name) for s in states] + [3])
        for s in states:
            print(f"{s.name:<{w}}  {s.status:<10} {s.secondary:<12} {s.instance_type or ''}"
                  + (f"  {s.failure}" if s.failure else ""))
    return 1 if any(s.status in ("Failed", "Stopped") for s in states) else 0


def _logs(args) -> int:
    import time

    from lmi_wizard.core.remote import status as S
    from lmi_wizard.core.remote.logs import JobLogs

    _, (sm, logs) = _clients(args, "sagemaker", "logs")
    state = S.describe(sm, args.job)
    tail = JobLogs(logs, args.job)
    lines = []
    while True:
        for ln in tail.poll():
            if args.json:
                lines.append({"stream": ln.stream, "timestamp": ln.timestamp, "message": ln.message})
            else:
                print(ln.message, flush=True)
        if not args.follow or state.done:
            break
        time.sleep(args.poll)
        state = S.describe(sm, args.job)
    if args.json:
        _dump({"job": args.job, "status": state.status, "failure": state.failure, "lines": lines})
    elif state.failure:
        print(f"{args.job}: {state.status}: {state.failure}", file=sys.stderr)
    return 0


def _stop(args) -> int:
    from lmi_wizard.core.remote import status as S

    _, (sm,) = _clients(args, "sagemaker")
    states = [S.stop(sm, n) for n in args.jobs]
    if args.json:
        _dump([{"job": s.name, "status": s.status} for s in states])
    else:
        for s in states:
            print(f"{s.name}: {s.status}")
    return 0


def _policy(args) -> int:
    from pathlib import Path

    from lmi_wizard.core.base.fsutil import read_text
    from lmi_wizard.core.layout import parse_destination
    from lmi_wizard.core.remote.policy import policies
    from lmi_wizard.core.remote.submit import load_recipe_text

    buckets, secret, role = list(args.bucket), None, args.role
    for path in args.recipe:
        answers = load_recipe_text(read_text(Path(path), what="recipe"), source=path)
        dest = parse_destination(answers["destination.uri"] or "")
        if dest.is_s3:
            buckets.append(dest.bucket)
        secret = secret or answers["remote.hf_token_secret"]
        role = role or answers["remote.role"]
    _dump(policies(buckets=buckets, secret=secret, role_arn=role))
    return 0


def _wheelhouse(args) -> int:
    from lmi_wizard.core.remote.wheelhouse import build_wheelhouse

    house = build_wheelhouse(args.folder, args.python_version,
                             progress=lambda ev: print(f"  {ev.message}", file=sys.stderr))
    print(f"{house.folder}: {len(house.wheels)} wheels for CPython {house.python} (lmi-wizard: {house.own})")
    return 0


def _job(args) -> int:
    from lmi_wizard.core.remote import aws
    from lmi_wizard.core.remote.inside import read_secret, run_in_job

    token = None
    if args.hf_token_secret:
        token = read_secret(aws.client("secretsmanager", region=args.region), args.hf_token_secret)
        print(f"lmi-wizard remote job: HF token read from secret {args.hf_token_secret}", flush=True)
    return run_in_job(args.recipe, work_dir=args.work_dir, output=args.output, token=token,
                      on_line=lambda s: print(s, flush=True))


def run(args) -> int:
    return {"run": _run, "status": _status, "logs": _logs, "stop": _stop, "policy": _policy,
            "wheelhouse": _wheelhouse, "job": _job}[args.remote_verb](args)
