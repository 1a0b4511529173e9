"""boto3 clients for the remote compile (SageMaker, CloudWatch Logs, Secrets Manager, S3), one factory."""

from __future__ import annotations

from typing import Optional

from ..base.errors import WizardError

__all__ = ["client", "region_of"]


def _session(region: Optional[str], profile: Optional[str] = None):
    import boto3

    try:
        return boto3.session.Session(region_name=region or None, profile_name=profile or None)
    except Exception as exc:  # a missing profile …
        raise WizardError(f"AWS configuration: {exc}", "check AWS_PROFILE / ~/.aws/config") from None


def region_of(region: Optional[str] = None) -> str:
    """The region to use: ``region``, else boto3's configured one; WizardError when there is none."""
    r = region or _session(None).region_name
    if not r:
        raise WizardError("no AWS region configured", "pass --region (e.g. us-east-1) or set AWS_REGION")
    return r


def client(service: str, *, region: Optional[str] = None, endpoint_url: Optional[str] = None,
           profile: Optional[str] = None):
    """A client for ``service`` from boto3's standard credential chain; WizardError without credentials."""
    from botocore.config import Config

    session = _session(region, profile)
    try:
        creds = session.get_credentials()
    except Exception as exc:
        raise WizardError(f"AWS credentials: {exc}", "run `aws sso login` / `aws configure`") from None
    if creds is None:
        raise WizardError("no AWS credentials found",
                          "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`")
    from ..s3 import remember_secrets

    frozen = creds.get_frozen_credentials()
    remember_secrets(frozen.access_key, frozen.secret_key, frozen.token)
    kw = {"config": Config(user_agent_extra="lmi-wizard", connect_timeout=10, retries={"max_attempts": 4})}
    if endpoint_url:
        kw["endpoint_url"] = endpoint_url
    try:
        return session.client(service, region_name=region_of(region), **kw)
    except ValueError as exc:
        raise WizardError(f"invalid endpoint URL: {exc}", "pass --endpoint-url http(s)://host[:port]") from None
