"""What runs inside the training job (``lmi-wizard remote job``): read the HF token from Secrets Manager with
the job's role (never from the request), run the recipe with ``lmi-wizard run --json`` on the instance's
volume, and leave the run report and the log in the output folder that SageMaker uploads."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Optional

from ..base.errors import WizardError
from ..base.fsutil import atomic_write_text
from ..base.progress import CancelToken
from ..base.proc import run_streaming

__all__ = ["read_secret", "run_in_job"]


def read_secret(sm_secrets, secret_id: str) -> str:
    """The token in ``secret_id``: its SecretString, or the ``HF_TOKEN`` / ``token`` key of a JSON secret."""
    try:
        value = sm_secrets.get_secret_value(SecretId=secret_id).get("SecretString")
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise WizardError(f"cannot read secret {secret_id!r}: {code}",
                          "create it (aws secretsmanager create-secret --name NAME --secret-string TOKEN) and allow "
                          "the job role secretsmanager:GetSecretValue on it (`lmi-wizard remote policy`)") from None
    if not value:
        raise WizardError(f"secret {secret_id!r} has no string value", "store the token as the secret's string")
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for k in ("HF_TOKEN", "hf_token", "token"):
                if isinstance(data.get(k), str) and data[k]:
                    return data[k]
            raise WizardError(f"secret {secret_id!r} is JSON without an HF_TOKEN key",
                              "store {\"HF_TOKEN\": \"hf_…\"} or the token alone")
    return text


def run_in_job(recipe: str, *, work_dir: str, output: str, token: Optional[str] = None,
               on_line: Callable[[str], None] = lambda s: None, cancel: CancelToken | None = None,
               wizard: Optional[list[str]] = None) -> int:
    """Run ``lmi-wizard run RECIPE --work-dir W --json``; its progress lines go to ``on_line`` (the job's log),
    its report to ``OUTPUT/run.json`` and its log file to ``OUTPUT/run.log``. Returns its exit status."""
    from ..s3 import redact, remember_secrets

    Path(work_dir).mkdir(parents=True, exist_ok=True)
    Path(output).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if token:
        remember_secrets(token)
        env["HF_TOKEN"] = token
    argv = (wizard or [sys.executable, "-c", "import sys; from lmi_wizard.tui.main import main; sys.exit(main())"]) + ["run", recipe, "--work-dir", work_dir, "--json"]
    report: list[str] = []

    def line(stream: str, text: str) -> None:
        if stream == "out":
            report.append(text)
        else:
            on_line(redact(text))

    res = run_streaming(argv, env=env, on_line=line, cancel=cancel, redact=redact)
    text = "\n".join(report)
    atomic_write_text(Path(output) / "run.json", redact(text) + "\n")
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    log = data.get("log") if isinstance(data, dict) else None
    if log and Path(log).is_file():
        shutil.copyfile(log, Path(output) / "run.log")
    on_line(f"lmi-wizard remote job: run exited with {res.returncode}")
    return res.returncode
