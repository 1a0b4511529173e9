"""The recipe keys of a remote (SageMaker) compile: ``[env] target_arch``, ``[remote] instance_type``,
``[remote] hf_token_secret``.

The schema (:data:`core.wizard.FIELDS`) is a static table built from its steps, with no way to register
fields from outside; until these three are added there (``env.target_arch`` in the Environment step,
``remote.*`` in a ``remote`` step or on Review), :func:`split_remote` takes them out of a recipe before the
recipe loader sees the rest, and reads them through the same :class:`Field` rules. Once the schema knows them,
:func:`split_remote` leaves them in place and the loader reads them like any other key.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..base.errors import WizardError
from ..base.findings import Finding
from .answers import Answers
from .context import Context
from .definition import FIELDS
from .schema import Field, FieldError, Kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["TARGET_ARCH", "INSTANCE_TYPE", "HF_TOKEN_SECRET", "REMOTE_FIELDS", "RemoteSettings", "split_remote",
           "load_remote_recipe"]

# a Secrets Manager secret: its name (letters, digits and /_+=.@-) or its full ARN
_SECRET_ID_RE = re.compile(r"(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}")


def _arch_choices(answers: Answers) -> list[str]:
    from ..facts.gpu import load_instance_table

    return list(load_instance_table())


def _validate_instance_type(value: str, answers: Answers) -> Optional[Finding]:
    if not re.fullmatch(r"ml\.[a-z0-9-]+\.[a-z0-9]+", value):
        return Finding("error", "instance-type", f"{value!r} is not a SageMaker instance type",
                       "write it like ml.p5.48xlarge")
    return None


def _validate_secret_id(value: str, answers: Answers) -> Optional[Finding]:
    if not _SECRET_ID_RE.fullmatch(value):
        return Finding("error", "secret-id", f"{value!r} is not a Secrets Manager secret name or ARN",
                       "name the secret (e.g. hf/token) that holds the token, never the token itself")
    return None


TARGET_ARCH = Field(
    "env.target_arch", "Deployment GPU architecture", Kind.CHOICE,
    "The GPU architecture of the instances that will serve the engine (sm80 p4d, sm86 g5, sm89 g6/g6e, sm90 p5). "
    "An engine runs only on the architecture it was built on; a remote compile runs on an instance of this "
    "architecture. Default: this machine's GPU; required when none is visible.",
    default=lambda a: a.ctx.gpu_arch, choices=_arch_choices, placeholder="sm90")
INSTANCE_TYPE = Field(
    "remote.instance_type", "SageMaker instance type", Kind.TEXT,
    "The training instance that compiles on SageMaker (`lmi-wizard remote run`); its GPU architecture must be "
    "the deployment's and it needs at least TP × PP GPUs. --instance-type overrides it.",
    validator=_validate_instance_type, placeholder="ml.p5.48xlarge", advanced=True)
HF_TOKEN_SECRET = Field(
    "remote.hf_token_secret", "Hugging Face token secret", Kind.TEXT,
    "Name or ARN of a Secrets Manager secret holding the Hugging Face token (a plain string, or JSON with an "
    "HF_TOKEN key). The job reads it with its role; the token itself never travels in the request.",
    validator=_validate_secret_id, placeholder="hf/token", advanced=True)
REMOTE_FIELDS: tuple[Field, ...] = (TARGET_ARCH, INSTANCE_TYPE, HF_TOKEN_SECRET)


@dataclass(frozen=True)
class RemoteSettings:
    target_arch: Optional[str] = None
    instance_type: Optional[str] = None
    hf_token_secret: Optional[str] = None


def _parse(f: Field, raw: Any, answers: Answers, source: str) -> Any:
    from .recipe import SECRET_VALUE_RE

    if isinstance(raw, str) and SECRET_VALUE_RE.search(raw):
        raise WizardError(f"{source}: [{f.section}] {f.name}: a token or access key; recipes never hold secrets",
                          "name the Secrets Manager secret that holds it (e.g. hf/token), never the token")
    found = f.check(raw, answers)
    if found is not None:
        raise WizardError(f"{source}: [{f.section}] {f.name}: {found.problem}", found.fix)
    return f.parse(raw)


def split_remote(data: Mapping[str, Any], *, source: str = "recipe",
                 ctx: Context | None = None) -> tuple[dict, RemoteSettings]:
    """``(recipe data without the remote keys the schema does not know yet, their values)``."""
    rest = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    answers = Answers(ctx=ctx)
    values: dict[str, Any] = {}
    for f in REMOTE_FIELDS:
        body = rest.get(f.section)
        raw = body.get(f.name) if isinstance(body, dict) else None
        if raw is not None:
            values[f.name] = _parse(f, raw, answers, source)
        if f.key not in FIELDS and isinstance(body, dict):
            body.pop(f.name, None)
            if not body and f.section == "remote":
                rest.pop(f.section)
    if values.get("target_arch") is None:
        arch = (ctx or Context()).gpu_arch
        values["target_arch"] = arch
    return rest, RemoteSettings(**values)


def load_remote_recipe(text: str, *, source: str = "recipe", ctx: Context | None = None) -> tuple[Answers, RemoteSettings]:
    """The recipe's answers (through the recipe loader) and its remote settings."""
    import tomli_w

    from .recipe import loads_recipe

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WizardError(f"{source} is not valid TOML: {exc}",
                          "fix the line named above (strings need quotes, one [section] per step)") from None
    rest, settings = split_remote(data, source=source, ctx=ctx)
    answers = loads_recipe(tomli_w.dumps(rest) if rest != data else text, source=source, ctx=ctx)
    return answers, settings
