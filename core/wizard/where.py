"""Where the run happens (Review): here, or on SageMaker (``core.remote``); the deployment's GPU architecture.

The Review step's fields and rules: ``remote run`` checks the same things before anything is created (the one
rule for an instance type is ``core.remote.instances.check_instance``, for a role ``core.remote.job.check_role``).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from ..base.errors import WizardError
from ..base.findings import Finding, error
from .answers import Answers, builds_here, local_source, trtllm_version
from .rules import gpus_needed, invalid, runs_remote

def arch_choices(answers: Answers) -> list:
    """``env.target_arch``'s choices: the architectures of the instance table, each with its instance families."""
    from ..facts.gpu import load_instance_table
    from .schema import Choice

    return [Choice(arch, f"{arch} — {row.get('name', '')}: " + ", ".join(f["family"] for f in row["families"]))
            for arch, row in load_instance_table().items()]


def propose_instance(answers: Answers) -> Optional[str]:
    """``remote.instance_type``'s default: the smallest training instance of the deployment's architecture with
    TP × PP GPUs."""
    from ..remote import instances

    return instances.propose(answers["env.target_arch"], gpus_needed(answers))


def instance_choices(answers: Answers) -> list[str]:
    from ..remote import instances

    arch = answers["env.target_arch"]
    return [i.type for i in instances.candidates(arch, gpus_needed(answers))] if arch else []


def validate_instance_type(value: str, answers: Answers) -> Optional[Finding]:
    """A training instance type botocore knows, of the deployment's architecture, with TP × PP GPUs
    (``core.remote.instances.check_instance``: the one rule, also ``remote run``'s)."""
    from ..remote import instances

    try:
        if answers["env.target_arch"]:
            instances.check_instance(value, answers["env.target_arch"], gpus_needed(answers))
        else:
            instances.describe(value)
    except WizardError as exc:
        return invalid(exc.problem, exc.fix, code="instance-type")
    return None


def validate_role(value: str, answers: Answers) -> Optional[Finding]:
    from ..remote.job import check_role

    try:
        check_role(value)
    except WizardError as exc:
        return invalid(exc.problem, exc.fix.replace("pass ", "write "), code="role-arn")
    return None


# a Secrets Manager secret: its name (letters, digits and /_+=.@-) or its full ARN
_SECRET_ID_RE = re.compile(r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}")


def validate_secret_id(value: str, answers: Answers) -> Optional[Finding]:
    if not _SECRET_ID_RE.fullmatch(value):
        return invalid(f"{value!r} is not a Secrets Manager secret name or ARN",
                       "name the secret (e.g. hf/token) that holds the token, never the token itself", code="secret-id")
    return None


def validate_image(value: str, answers: Answers) -> Optional[Finding]:
    from ..remote import images

    try:
        images.image_uri({}, "", value)
    except WizardError as exc:
        return invalid(exc.problem.replace("--image ", ""), exc.fix, code="image-uri")
    return None


def validate_region(value: str, answers: Answers) -> Optional[Finding]:
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", value):
        return invalid(f"{value!r} is not an AWS region", "write it like us-east-1")
    return None


def remote_region(answers: Answers) -> Optional[str]:
    """``remote.region``'s default: the destination bucket's region, else the AWS configuration's."""
    if answers["destination.region"]:
        return answers["destination.region"]
    try:
        import boto3

        return boto3.session.Session().region_name
    except Exception:  # noqa: BLE001 - no boto3 configuration: the field asks
        return None


def _remote_command(answers: Answers, instance: Optional[str] = None) -> str:
    return ("lmi-wizard remote run RECIPE --role ARN --instance-type "
            f"{instance or propose_instance(answers) or 'ml.X'}")


def check_review(answers: Answers) -> Iterable[Finding]:
    """Where the run happens. Here: an engine runs only on the GPU architecture it was built on, so building on
    this machine's GPU for another ``env.target_arch`` is refused (the fix: compile on SageMaker). On SageMaker:
    what ``remote run`` checks before anything is created (``core.remote``: the instance type, the role, the
    release's image in the region, an S3 destination), said on Review."""
    arch, local = answers["env.target_arch"], answers.ctx.gpu_arch
    if not runs_remote(answers):
        if builds_here(answers) and arch and local and arch != local:
            yield error("arch-mismatch", f"this machine's GPU is {local}; the engine is for {arch} (the deployment's "
                        "GPU, [env] target_arch): an engine runs only on the architecture it was built on",
                        "run it on SageMaker: " + _remote_command(answers) + " (or choose \"Run on SageMaker\" "
                        "on Review)", key="run.where")
        return
    if not arch:
        yield error("no-target-arch", "the deployment's GPU architecture is not known (no GPU visible here)",
                    "set [env] target_arch (Environment, advanced: sm90 p5, sm89 g6/g6e, sm86 g5, sm80 p4d)",
                    key="env.target_arch")
    if not answers["remote.instance_type"]:
        yield error("required", "required: the training instance that compiles", "write one like ml.p5.48xlarge",
                    key="remote.instance_type")
    if not answers["remote.role"]:
        yield error("required", "required: the IAM role the job runs as",
                    "write arn:aws:iam::ACCOUNT:role/NAME (`lmi-wizard remote policy` prints what it needs)",
                    key="remote.role")
    dest = str(answers["destination.uri"] or "")
    if not dest.lower().startswith("s3://"):
        yield error("remote-local-destination", f"the destination {dest!r} is a local folder; a remote compile "
                    "publishes from the instance, whose disks vanish with it", "set an s3:// destination",
                    key="destination.uri")
    if local_source(answers, answers["model.source"]) is not None:
        yield error("remote-local-model", f"the model {answers['model.source']} is a folder of this machine; the job "
                    "cannot read it", "use a Hugging Face repo id (the job downloads it)", key="model.source")
    if not answers["remote.image"]:
        from ..remote import images

        try:
            release = images.release_of(answers["env.lmi_version"], trtllm_version(answers))
            region = answers["remote.region"]
            if region:
                images.image_uri(release, region)
            images.image_python(release)
        except WizardError as exc:
            yield error("remote-image", exc.problem, exc.fix.replace("pass --image URI", "set the LMI image")
                        .replace("--python-version", "the Python version"), key="remote.image")
    if not answers["remote.region"]:
        yield error("required", "required: no AWS region configured", "write one like us-east-1",
                    key="remote.region")
