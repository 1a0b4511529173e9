"""SageMaker compile helpers shared by test_remote and test_remote_wizard: the role, a remote recipe, a stand-in
wheelhouse, log events put into moto's CloudWatch Logs. The ``aws`` fixture (moto + the SageMaker stand-in) is in
tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

from lmi_wizard.core.remote import logs as L

ROLE = "arn:aws:iam::123456789012:role/lmi-compile"


def recipe(tmp: Path, name: str, *, dest: str = None, tp: int = 2, arch: str = "sm90", secret: str = "hf/token",
           instance: str = None, extra: str = "") -> Path:
    text = f"""format = 1

[env]
trtllm_version = "0.21.0rc1"
target_arch = "{arch}"

[model]
source = "meta-llama/Llama-2-7b-hf"
name = "{name}"

[build]
tp = {tp}

[destination]
uri = "{dest or f's3://models/{name}/'}"

[remote]
hf_token_secret = "{secret}"
""" + (f'instance_type = "{instance}"\n' if instance else "") + extra
    p = tmp / f"{name}.toml"
    p.write_text(text)
    return p


def wheelhouse_standin(tmp: Path) -> Path:
    """STAND-IN wheelhouse for the submit tests (the real one is built and installed in the slow test below)."""
    d = tmp / "wheels"
    d.mkdir()
    (d / "lmi_wizard-0.1.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    return d


def put_log_events(logs, stream: str, events: list[tuple[int, str]]) -> None:
    try:
        logs.create_log_group(logGroupName=L.LOG_GROUP)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=L.LOG_GROUP, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=L.LOG_GROUP, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in events])
