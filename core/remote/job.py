"""The CreateTrainingJob request of a remote compile, and its check against botocore's service model.

The job runs the LMI image's own entrypoint with arguments that create a virtualenv over the image's packages,
install the wizard from the ``wheels`` channel with ``--no-index`` (no package index needed: network isolation
and VPC-only setups work) and hand over to ``lmi-wizard remote job``, which reads the HF token from Secrets
Manager with the job's role and runs the recipe from the ``recipe`` channel. Nothing secret is in the request:
``Environment`` is plain text in DescribeTrainingJob.
"""

from __future__ import annotations

import hashlib
import re
import time
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any, Optional

from ..base.errors import WizardError
from .images import ENTRYPOINT
from .instances import sagemaker_model

__all__ = ["JobSpec", "build_request", "check_role", "ROLE_RE", "validate_request", "job_name", "recipe_digest", "CHANNEL_RECIPE",
           "CHANNEL_WHEELS", "RECIPE_IN_JOB", "WORK_IN_JOB", "OUTPUT_IN_JOB", "DIGEST_TAG"]

CHANNEL_RECIPE = "recipe"
CHANNEL_WHEELS = "wheels"
RECIPE_IN_JOB = f"/opt/ml/input/data/{CHANNEL_RECIPE}/recipe.toml"
WHEELS_IN_JOB = f"/opt/ml/input/data/{CHANNEL_WHEELS}"
# the ML storage volume (--volume-gb; the NVMe instance store on p4d/p5) is mounted under /opt/ml
WORK_IN_JOB = "/opt/ml/input/work"
OUTPUT_IN_JOB = "/opt/ml/output/data"  # uploaded to OutputDataConfig (CompressionType NONE) when the job ends
VENV_IN_JOB = "/opt/lmi-wizard"
DIGEST_TAG = "lmi-wizard:recipe-digest"
# one bash argument (<= 256 characters, a ContainerArguments limit): install, then hand over with the rest
_BOOTSTRAP = (f"set -e; python3 -m venv --system-site-packages {VENV_IN_JOB}; "
              f"{VENV_IN_JOB}/bin/pip install -q --no-index --find-links {WHEELS_IN_JOB} lmi-wizard; "
              f"exec {VENV_IN_JOB}/bin/lmi-wizard remote job \"$@\"")


# an IAM role ARN (CreateTrainingJob's RoleArn pattern, with the partition spelled out)
ROLE_RE = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")


def check_role(arn: Optional[str]) -> str:
    """``arn`` when it is an IAM role ARN; else WizardError naming the shape and where the role comes from."""
    if not ROLE_RE.fullmatch(arn or ""):
        raise WizardError(f"{arn!r} is not an IAM role ARN" if arn else "no IAM role for the job",
                          "pass arn:aws:iam::ACCOUNT:role/NAME (a role SageMaker may assume: `lmi-wizard remote policy`)")
    return arn


@dataclass
class JobSpec:
    name: str
    role_arn: str
    image: str
    instance_type: str
    recipe_s3: str  # s3://…/recipe/ (holds recipe.toml)
    wheels_s3: str  # s3://…/wheels/
    output_s3: str  # s3://…/output/
    region: str
    volume_gb: int = 200
    max_runtime_s: int = 6 * 3600
    hf_token_secret: Optional[str] = None
    digest: str = ""
    tags: dict = field(default_factory=dict)


def recipe_digest(recipe_text: str, image: str) -> str:
    """What makes two submissions identical: the recipe's bytes and the image that compiles it."""
    return hashlib.sha256(recipe_text.encode() + b"\0" + image.encode()).hexdigest()[:32]


def job_name(model_name: str, digest: str, *, now: Optional[float] = None) -> str:
    """``lmiw-<model>-<digest8>-<yyyymmdd-hhmmss>``, within the API's name pattern and 63 characters."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model_name or "model").strip("-") or "model"
    tail = f"-{digest[:8]}-{stamp}"
    head = "lmiw-" + slug[: 63 - len("lmiw-") - len(tail)].rstrip("-")
    return head + tail


def container_arguments(spec: JobSpec) -> list[str]:
    args = ["/bin/bash", "-c", _BOOTSTRAP, "lmi-wizard", RECIPE_IN_JOB, "--work-dir", WORK_IN_JOB,
            "--output", OUTPUT_IN_JOB, "--region", spec.region]
    if spec.hf_token_secret:
        args += ["--hf-token-secret", spec.hf_token_secret]
    return args


def _channel(name: str, uri: str) -> dict:
    return {"ChannelName": name, "InputMode": "File", "ContentType": "application/octet-stream",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                            "S3DataDistributionType": "FullyReplicated"}}}


def build_request(spec: JobSpec) -> dict:
    """The CreateTrainingJob body (checked by :func:`validate_request`)."""
    tags = [{"Key": "lmi-wizard", "Value": "remote-compile"}]
    if spec.digest:
        tags.append({"Key": DIGEST_TAG, "Value": spec.digest})
    tags += [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    req = {
        "TrainingJobName": spec.name,
        "RoleArn": spec.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": spec.image,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": [ENTRYPOINT],
            "ContainerArguments": container_arguments(spec),
        },
        "InputDataConfig": [_channel(CHANNEL_RECIPE, spec.recipe_s3), _channel(CHANNEL_WHEELS, spec.wheels_s3)],
        "OutputDataConfig": {"S3OutputPath": spec.output_s3, "CompressionType": "NONE"},
        "ResourceConfig": {"InstanceType": spec.instance_type, "InstanceCount": 1, "VolumeSizeInGB": spec.volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
        # plain text in DescribeTrainingJob: nothing secret ever goes here
        "Environment": {"PYTHONUNBUFFERED": "1", "LMI_WIZARD_REMOTE": "1"},
        "Tags": tags,
    }
    validate_request(req)
    return req


# ------------------------------------------------------------------------------------- model check
_TYPES = {"string": str, "integer": int, "long": int, "boolean": bool, "structure": dict, "list": list, "map": dict,
          "double": float, "float": float}


@lru_cache(maxsize=None)
def _pattern(text: Optional[str]) -> "Optional[re.Pattern]":
    """The model's pattern as a Python regex; None for none, or for the few written in Java's dialect
    (``\\p{…}`` classes) that Python cannot read (their members are then checked for length and type only)."""
    if not text:
        return None
    try:
        return re.compile(text, re.S)
    except re.error:
        return None


def _check(shape, value: Any, path: str, problems: list[str]) -> None:
    t = shape.type_name
    want = _TYPES.get(t)
    if want is not None and (not isinstance(value, want) or (want is int and isinstance(value, bool))):
        problems.append(f"{path}: expected {t}, got {type(value).__name__}")
        return
    meta = shape.metadata
    if t == "string":
        if getattr(shape, "enum", None) and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of the allowed values")
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"{path}: shorter than {meta['min']} characters")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} characters, at most {meta['max']} allowed")
        rx = _pattern(meta.get("pattern"))
        if rx is not None and not rx.fullmatch(value):
            problems.append(f"{path}: {value[:60]!r} does not match {meta['pattern']}")
    elif t in ("integer", "long"):
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: {value} is below {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is above {meta['max']}")
    elif t == "structure":
        for req in meta.get("required", ()):
            if req not in value:
                problems.append(f"{path}.{req}: required")
        for k, v in value.items():
            if k not in shape.members:
                problems.append(f"{path}.{k}: not a member of {shape.name}")
            else:
                _check(shape.members[k], v, f"{path}.{k}", problems)
    elif t == "list":
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"{path}: fewer than {meta['min']} items")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} items, at most {meta['max']} allowed")
        for i, v in enumerate(value):
            _check(shape.member, v, f"{path}[{i}]", problems)
    elif t == "map":
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} entries, at most {meta['max']} allowed")
        for k, v in value.items():
            _check(shape.key, k, f"{path} key {k!r}", problems)
            _check(shape.value, v, f"{path}[{k!r}]", problems)


def request_problems(request: dict, operation: str = "CreateTrainingJob") -> list[str]:
    """Every way ``request`` breaks the operation's input shape (required members, types, enums, lengths,
    patterns, list and map sizes): what the API would answer with a ValidationException."""
    problems: list[str] = []
    _check(sagemaker_model().operation_model(operation).input_shape, request, operation, problems)
    return problems


def validate_request(request: dict) -> None:
    problems = request_problems(request)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise WizardError(f"the training job request is invalid: {problems[0]}{more}",
                          "shorten the value named (a recipe path, a secret name), or report this as a bug")
