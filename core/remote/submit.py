"""A remote compile of one or several recipes: validate everything before anything is created, stage the
inputs, create one training job per recipe, watch them (states and merged logs), check each destination when
its job ends, and keep a record so that an identical re-submission whose destination still holds a checked
result starts no job.

Staging (default ``s3://<destination bucket>/lmi-wizard-remote/``, or ``--staging``):
``<job>/recipe/recipe.toml`` (the recipe, unchanged), ``wheels/py<X.Y>-<digest>/`` (the wheelhouse, shared by
jobs), ``<job>/output/`` (OutputDataConfig: run.json, run.log) and ``records/<recipe digest>.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..base.errors import WizardError
from ..base.fsutil import read_text
from ..base.progress import CancelToken, ProgressFn, emit
from ..layout import Destination, parse_destination
from ..wizard import Answers, Context
from . import images, instances, job as J, status as S
from .job import check_role
from .logs import MergedLogs

__all__ = ["Options", "Planned", "Outcome", "plan", "plan_texts", "load_recipe_text", "stage", "create", "watch", "verdict", "find_record",
           "RECORDS", "STAGING_DIR"]

STAGING_DIR = "lmi-wizard-remote/"
RECORDS = "records/"


@dataclass
class Options:
    role_arn: Optional[str] = None  # overrides [remote] role
    instance_type: Optional[str] = None  # overrides [remote] instance_type
    image: Optional[str] = None
    python_version: Optional[str] = None  # the image's Python, when --image names an unknown one
    region: str = "us-east-1"
    endpoint_url: Optional[str] = None
    max_runtime_s: int = 6 * 3600
    volume_gb: int = 200
    staging: Optional[str] = None  # s3://bucket/prefix/


@dataclass
class Planned:
    recipe: str  # the path as given
    text: str
    answers: Answers
    instance: instances.Instance
    release: dict
    image: str
    python: str
    destination: Destination
    staging: Destination
    digest: str
    name: str
    spec: J.JobSpec
    request: dict = field(default_factory=dict)


@dataclass
class Outcome:
    planned: Planned
    status: str  # Submitted | InProgress | Completed | Failed | Stopped | Skipped
    failure: Optional[str] = None
    verdict: Optional[str] = None
    checked: Optional[bool] = None

    def to_json(self) -> dict:
        p = self.planned
        doc = {"job": p.name, "recipe": p.recipe, "instance_type": p.instance.type, "status": self.status,
               "destination": p.destination.url}
        if self.failure:
            doc["failure"] = self.failure
        if self.verdict:
            doc["verdict"] = self.verdict
        return doc


# ----------------------------------------------------------------------------------------------- plan
def load_recipe_text(text: str, *, source: str = "recipe", ctx: Context | None = None) -> Answers:
    """A recipe's answers, ``[env] target_arch`` and ``[remote]`` included (the schema's own keys: the recipe
    loader reads them like any other)."""
    from ..wizard.recipe import loads_recipe

    a = loads_recipe(text, source=source, ctx=ctx)
    for key in REMOTE_KEYS:  # the fields' own rules (a run checks them with every step; a remote run here)
        if a.is_set(key):
            found = a.field(key).check(a[key], a)
            if found is not None and found.blocking:
                sec, name = key.split(".", 1)
                raise WizardError(f"{source}: [{sec}] {name}: {found.problem}", found.fix)
    return a


#: the recipe keys a remote compile reads besides the run's own
REMOTE_KEYS = ("env.target_arch", "remote.instance_type", "remote.role", "remote.region", "remote.image",
               "remote.hf_token_secret")


def _staging_for(dest: Destination, override: Optional[str]) -> Destination:
    if override:
        st = parse_destination(override)
        if not st.is_s3:
            raise WizardError(f"--staging {override!r} is not an S3 prefix", "write s3://bucket/prefix/")
        return st
    return Destination("s3", dest.bucket, STAGING_DIR)


def plan(recipes: list[str], opts: Options, *, sm, ctx: Context | None = None,
         now: Optional[float] = None) -> list[Planned]:
    """Everything checked, nothing created: the recipes load, the instance type exists with the recipe's GPU
    architecture and enough GPUs, the release has an image in the region, the destination is on S3, the role
    is an IAM role ARN, every job name is valid and unused. One WizardError (exit 2) on the first problem."""
    if not recipes:
        raise WizardError("no recipe given", "pass one or more recipe files (lmi-wizard init writes one)")
    texts = [(str(path), read_text(Path(path).expanduser(), what="recipe", max_bytes=1 << 20)) for path in recipes]
    return plan_texts(texts, opts, sm=sm, ctx=ctx, now=now)


def plan_texts(recipes: list[tuple[str, str]], opts: Options, *, sm, ctx: Context | None = None,
               now: Optional[float] = None, answers: Optional[list[Answers]] = None) -> list[Planned]:
    """:func:`plan` of ``(name, recipe text)`` pairs (the wizard's Run screen plans the recipe of its answers;
    ``answers``, when given, are those recipes' answers already loaded)."""
    from ..wizard.rules import gpus_needed

    if opts.role_arn:
        check_role(opts.role_arn)
    if not 1 <= opts.volume_gb <= 16384:
        raise WizardError(f"--volume-gb {opts.volume_gb} is out of range", "use 1 to 16384 (GB)")
    if not 1 <= opts.max_runtime_s <= 28 * 24 * 3600:
        raise WizardError(f"--max-runtime {opts.max_runtime_s} is out of range", "use 1 to 2419200 seconds")
    out: list[Planned] = []
    names: set[str] = set()
    for i, (path, text) in enumerate(recipes):
        a = answers[i] if answers else load_recipe_text(text, source=path, ctx=ctx)
        arch = a["env.target_arch"]
        try:
            role = check_role(opts.role_arn or a["remote.role"])
        except WizardError as exc:
            raise WizardError(f"{path}: {exc.problem}", exc.fix.replace("pass ", "pass --role ") + " or set [remote] role"
                              ) from None
        itype = opts.instance_type or (a["remote.instance_type"] if a.is_set("remote.instance_type") else None)
        if not itype:
            proposal = instances.propose(arch, gpus_needed(a))
            raise WizardError(f"{path}: no instance type", f"pass --instance-type {proposal or 'ml.X'} or set "
                              "[remote] instance_type")
        try:
            inst = instances.check_instance(itype, arch, gpus_needed(a))
        except WizardError as exc:
            raise WizardError(f"{path}: {exc.problem}", exc.fix) from None
        release = images.release_of(a["env.lmi_version"], a["env.trtllm_version"])
        image = images.image_uri(release, opts.region, opts.image or a["remote.image"])
        python = images.image_python(release, opts.python_version)
        dest_text = a["destination.uri"] or ""
        dest = parse_destination(dest_text)
        if not dest.is_s3:
            raise WizardError(f"{path}: [destination] uri {dest_text!r} is a local folder; a remote compile publishes "
                              "from the instance, whose disks vanish with it", "set an s3:// destination")
        staging = _staging_for(dest, opts.staging)
        digest = J.recipe_digest(text, image)
        name = J.job_name(a["model.name"] or Path(path).stem, digest, now=(now or time.time()) + i)
        if name in names or S.exists(sm, name):
            raise WizardError(f"a training job named {name} already exists", "submit again in a second")
        names.add(name)
        base = f"s3://{staging.bucket}/{staging.prefix}"
        spec = J.JobSpec(name=name, role_arn=role, image=image, instance_type=inst.type,
                         recipe_s3=f"{base}{name}/recipe/", wheels_s3=f"{base}wheels/py{python}/",
                         output_s3=f"{base}{name}/output/", region=opts.region, volume_gb=opts.volume_gb,
                         max_runtime_s=opts.max_runtime_s, hf_token_secret=a["remote.hf_token_secret"], digest=digest)
        try:
            request = J.build_request(spec)
        except WizardError as exc:
            raise WizardError(f"{path}: {exc.problem}", exc.fix) from None
        out.append(Planned(path, text, a, inst, release, image, python, dest, staging, digest, name, spec, request))
    return out


# ---------------------------------------------------------------------------------------------- record
def _record_key(p: Planned) -> str:
    return f"{p.staging.prefix}{RECORDS}{p.digest}.json"


def find_record(p: Planned, s3) -> Optional[dict]:
    try:
        body = s3.get_object(Bucket=p.staging.bucket, Key=_record_key(p))["Body"].read()
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            return None
        raise WizardError(f"cannot read the remote run record: {code or exc}", "check the staging bucket") from None
    try:
        return json.loads(body)
    except ValueError:
        return None


def write_record(p: Planned, s3, outcome: "Outcome") -> None:
    doc = {"job": p.name, "recipe_digest": p.digest, "image": p.image, "instance_type": p.instance.type,
           "destination": p.destination.url, "status": outcome.status, "checked": bool(outcome.checked),
           "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    s3.put_object(Bucket=p.staging.bucket, Key=_record_key(p), Body=json.dumps(doc, indent=1).encode(),
                  ContentType="application/json")


def check_destination(p: Planned, *, endpoint_url: Optional[str] = None, client=None) -> tuple[bool, str]:
    """``lmi-wizard check`` on the destination, from here (no GPU: the job's architecture was checked before)."""
    from ..preflight import check_target
    from ..facts.gpu import GpuState
    from ..facts.versions import InstalledPackage

    try:
        report = check_target(p.destination.url, endpoint_url=endpoint_url, client=client,
                              lmi_version=p.release["lmi"], installed=InstalledPackage("tensorrt_llm", False),
                              gpu_state=GpuState(False, reason="checked from afar"), telemetry_file=None,
                              install_root=None)
    except WizardError as exc:
        return False, str(exc)
    if report.ok:
        return True, f"check passed ({len(report.warnings)} warning(s)) — LMI model_id: {report.model_id}"
    first = report.errors[0]
    return False, f"check failed: {first.message}" + (f" — fix: {first.fix}" if first.fix else "")


def already_done(p: Planned, s3, *, endpoint_url: Optional[str] = None) -> Optional[Outcome]:
    """An Outcome "Skipped" when an identical recipe already compiled into a destination that still checks."""
    rec = find_record(p, s3)
    if not rec or rec.get("status") != "Completed" or not rec.get("checked"):
        return None
    ok, verdict = check_destination(p, endpoint_url=endpoint_url, client=s3)
    if not ok:
        return None
    p.name = rec.get("job", p.name)
    return Outcome(p, "Skipped", verdict=f"already compiled by {rec.get('job')}; {verdict}", checked=True)


# ---------------------------------------------------------------------------------------------- stage
def stage(planned: list[Planned], s3, wheelhouse_dirs: dict[str, Path], *, progress: ProgressFn | None = None,
          cancel: CancelToken | None = None) -> None:
    """Upload each recipe (unchanged) and each Python's wheelhouse (keys already there are kept)."""
    done_wheels: set[str] = set()
    for p in planned:
        if cancel is not None:
            cancel.raise_if_cancelled("staging")
        bucket = p.staging.bucket
        s3.put_object(Bucket=bucket, Key=_key(p.spec.recipe_s3) + "recipe.toml", Body=p.text.encode())
        emit(progress, "stage", f"{p.name}: recipe → {p.spec.recipe_s3}recipe.toml")
        if p.spec.wheels_s3 in done_wheels:
            continue
        folder = wheelhouse_dirs.get(p.python)
        if folder is None:
            raise WizardError(f"no wheelhouse for Python {p.python}", "build one (lmi-wizard remote run does)")
        prefix = _key(p.spec.wheels_s3)
        have = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            have |= {o["Key"] for o in page.get("Contents", []) or []}
        wanted = {prefix + f.name for f in Path(folder).iterdir() if f.suffix == ".whl"}
        for stale in sorted(have - wanted):  # a wheelhouse of another version: only ours must be there
            s3.delete_object(Bucket=bucket, Key=stale)
        files = sorted(f for f in Path(folder).iterdir() if f.suffix == ".whl" and prefix + f.name not in have)
        for n, f in enumerate(files, 1):
            if cancel is not None:
                cancel.raise_if_cancelled("staging")
            s3.upload_file(str(f), bucket, prefix + f.name)
            emit(progress, "stage", f"wheelhouse py{p.python}: {f.name}", done=n, total=len(files), unit="files")
        done_wheels.add(p.spec.wheels_s3)


def _key(uri: str) -> str:
    return uri[5:].split("/", 1)[1]


# ---------------------------------------------------------------------------------------------- create
def create(p: Planned, sm) -> Outcome:
    try:
        sm.create_training_job(**p.request)
    except Exception as exc:
        raise S.explain(exc, instance_type=p.instance.type, job=p.name) from None
    return Outcome(p, "InProgress")


# ---------------------------------------------------------------------------------------------- watch
def watch(outcomes: list[Outcome], sm, logs_client, *, progress: ProgressFn | None = None,
          cancel: CancelToken | None = None, poll_s: float = 10.0,
          on_poll: Optional[Callable[[], None]] = None) -> list[Outcome]:
    """Poll every job until all are terminal: a progress event per state change (``extra.event == "job"``) and
    per log line (``extra.event == "log"``, merged in timestamp order). Cancel stops every running job."""
    live = {o.planned.name: o for o in outcomes if o.status not in S.TERMINAL + ("Skipped",)}
    tail = MergedLogs(logs_client, list(live))
    stopping = False
    while True:
        if cancel is not None and cancel.cancelled and not stopping:
            stopping = True
            for name, o in live.items():
                if o.status not in S.TERMINAL:
                    st = S.stop(sm, name)  # a job that ended meanwhile is left as it is
                    o.status = st.status if not st.done else o.status
                    if not st.done:
                        emit(progress, "remote", f"{name}: {st.status}", extra={"event": "job", "job": name,
                                                                                 "status": st.status})
        for ln in tail.poll():
            emit(progress, "remote", ln.message, extra={"event": "log", "job": ln.job, "stream": ln.stream,
                                                         "timestamp": ln.timestamp})
        for name, o in live.items():
            if o.status in S.TERMINAL:
                continue
            st = S.describe(sm, name)
            if st.status != o.status or st.failure != o.failure:
                o.status, o.failure = st.status, st.failure
                emit(progress, "remote", f"{name}: {st.status}" + (f" ({st.secondary})" if st.secondary else "")
                     + (f": {st.failure}" if st.failure else ""),
                     extra={"event": "job", "job": name, "status": st.status, "secondary": st.secondary,
                            "failure": st.failure})
        if all(o.status in S.TERMINAL for o in live.values()):
            for ln in tail.poll():  # the last lines written before the end
                emit(progress, "remote", ln.message, extra={"event": "log", "job": ln.job, "stream": ln.stream,
                                                             "timestamp": ln.timestamp})
            return outcomes
        if on_poll is not None:
            on_poll()
        if cancel is not None:
            cancel.wait(poll_s)
        else:
            time.sleep(poll_s)


def verdict(o: Outcome, s3, *, endpoint_url: Optional[str] = None) -> Outcome:
    """After the job: check the destination, one-line verdict, and the record for re-submissions."""
    p = o.planned
    if o.status == "Completed":
        o.checked, o.verdict = check_destination(p, endpoint_url=endpoint_url, client=s3)
        if not o.checked:
            o.status = "Failed"
            o.failure = o.failure or o.verdict
    elif o.status == "Failed":
        o.verdict = f"job failed: {o.failure or 'no reason given'} (log: lmi-wizard remote logs {p.name})"
    elif o.status == "Stopped":
        o.verdict = "job stopped before it finished"
    if o.status in S.TERMINAL:
        write_record(p, s3, o)
    return o
