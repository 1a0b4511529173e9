"""The S3 client: credentials, bounded waits, quiet counted retries, secrets kept out of messages, and every
boto3/botocore failure turned into one :class:`WizardError` naming the problem and the fix.

Waits are bounded: a server that accepts the connection and then says nothing fails after
``LMI_WIZARD_NET_TIMEOUT`` seconds of silence in all (default 60: each of the 3 attempts waits a third of
it), with one line naming the endpoint and the setting (:class:`core.base.net.NetworkSilence`). Retries are botocore's own (quiet); each client
counts its attempts (:func:`attempts`). boto3 is imported lazily (start-up time matters).
"""

from __future__ import annotations

import os
import threading
from typing import Optional

from ..base import net as _net
from ..base import secrets as _secrets
from ..base.errors import WizardError

RESUME_HINT = "then run the same command again: it uploads only what is missing"
TIMEOUT_ENV = _net.SETTING  # LMI_WIZARD_NET_TIMEOUT: one setting for Hub, git and S3
DEFAULT_TIMEOUT = _net.DEFAULT_SILENCE  # seconds of silence before giving up (all attempts together)
ATTEMPTS = 3
CONCURRENCY = 10


# --------------------------------------------------------------------------- secrets
def remember_secrets(*values: Optional[str]) -> None:
    """Values that :func:`redact` always removes (the key id, secret and session token in use)."""
    _secrets.remember(*values)


def redact(text: str) -> str:
    """Remove anything secret-looking from a message: the credentials in use (env or any other source),
    key ids, signing material (presigned-URL parameters, signatures, session tokens), URL user-info
    (``core.base.secrets.redact_credentials``)."""
    return _secrets.redact_credentials(str(text))


# --------------------------------------------------------------------------- errors
_NET_ERRORS = ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
               "ProxyConnectionError", "SSLError", "ProtocolError", "ConnectionError")


def explain(exc: BaseException, dest=None, endpoint_url: Optional[str] = None, *,
            reading: bool = False, client=None) -> WizardError:
    """One clear WizardError for a boto3/botocore failure. ``reading``: the request read (check, listing)
    rather than wrote: the permissions and the hint named are the reader's. ``client``: the client that
    failed (its endpoint, timeout setting and attempts are named)."""
    if isinstance(exc, WizardError):
        return exc
    where = dest.url if dest is not None else "S3"
    if endpoint_url is None and client is not None:
        endpoint_url = getattr(client, "_lmi_endpoint", None) or getattr(getattr(client, "meta", None),
                                                                         "endpoint_url", None)
    hint = "then run the same command again" if reading else RESUME_HINT
    name = type(exc).__name__
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
        return WizardError(f"no AWS credentials found for {where} ({redact(exc)})",
                           "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure` "
                           "(or `aws sso login`) on this machine")
    if "ProfileNotFound" in names:
        return WizardError(f"AWS profile not found ({redact(exc)})",
                           "check AWS_PROFILE (or the profile given: --profile, the recipe's [destination] profile) "
                           "and the profiles in ~/.aws/config (`aws configure list-profiles`)")
    if names & {"UnauthorizedSSOTokenError", "SSOTokenLoadError", "TokenRetrievalError"}:
        return WizardError(f"the AWS SSO session has expired or is missing ({name})", "run `aws sso login`")
    if "NoRegionError" in names:
        return WizardError("no AWS region configured", "set AWS_DEFAULT_REGION (e.g. us-east-1)")
    if names & set(_NET_ERRORS):
        ep = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "S3"
        verb = "reading" if reading else "writing"
        tries = attempts(client)
        tried = f" after {tries} attempt(s)" if tries else ""
        if names & {"ReadTimeoutError", "ConnectTimeoutError"}:
            err = _net.NetworkSilence(redact(ep), timeout_setting(), max(0, tries - 1))
            err.problem += f" while {verb} {where}"
            err.fix += f"; {hint}"
            err.exit_code = 3
            return err
        return WizardError(f"cannot reach {redact(ep)} ({redact(exc)}){tried} while {verb} {where}",
                           f"check the network connection and --endpoint-url; {hint}", exit_code=3)
    if "ClientError" in names and hasattr(exc, "response"):
        err = exc.response.get("Error", {}) or {}
        code = str(err.get("Code", ""))
        msg = redact(err.get("Message", "") or "")
        meta = exc.response.get("ResponseMetadata", {}) or {}
        status = meta.get("HTTPStatusCode")
        headers = {k.lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
        region = err.get("Region") or headers.get("x-amz-bucket-region")
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException",
                    "301") or status == 301:
            problem = f"the bucket of {where} is in another region" + (f" ({region})" if region else "")
            fix = (f"set AWS_DEFAULT_REGION={region}" if region else
                   "set AWS_DEFAULT_REGION to the bucket's region") + f"; {RESUME_HINT}"
            return WizardError(problem, fix)
        if code == "NoSuchBucket":
            bucket = dest.bucket if dest is not None and dest.is_s3 else err.get("BucketName", "")
            return WizardError(f"bucket {bucket!r} does not exist (or is not visible to these credentials)",
                               f"create it (`aws s3 mb s3://{bucket}`) or correct the bucket name")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                    "TokenRefreshRequired", "InvalidClientTokenId"):
            return WizardError(f"S3 rejected the AWS credentials in use ({code})",
                               "refresh them (aws sso login / new keys) or pick the right AWS_PROFILE")
        if code in ("AccessDenied", "AllAccessDisabled", "403", "Forbidden") or status == 403:
            if reading:
                return WizardError(f"access denied to {where} ({code}{': ' + msg if msg else ''})",
                                   "the credentials in use need s3:ListBucket on the bucket and s3:GetObject on "
                                   f"the prefix; {hint}")
            return WizardError(f"access denied to {where} ({code}{': ' + msg if msg else ''})",
                               "the credentials in use need s3:ListBucket on the bucket and s3:PutObject "
                               f"(+ multipart) on the prefix; {RESUME_HINT}")
        if code in ("404", "NotFound", "405", "MethodNotAllowed") or (not code and status in (404, 405)):
            ep = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "the S3 endpoint"
            return WizardError(f"{redact(ep)} answered HTTP {status or code} for {where}: is it an S3 endpoint?",
                               "check --endpoint-url (or AWS_ENDPOINT_URL), e.g. https://s3.<region>.amazonaws.com, "
                               "and the bucket name")
        if code in ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout") or (status or 0) >= 500:
            return WizardError(f"S3 is not answering properly ({code}: {msg})", f"wait a moment; {hint}",
                               exit_code=3)
        return WizardError(f"S3 refused the request for {where}: {code or status} {msg}".rstrip(),
                           f"check the destination and permissions; {hint}")
    if isinstance(exc, OSError):
        return WizardError(f"cannot read a file to upload: {redact(exc)}", "check the model folder")
    return WizardError(f"{'reading' if reading else 'upload to'} {where} failed: {name}: {redact(exc)}", hint)


# --------------------------------------------------------------------------- clients
_LOADER = None
_LOADER_LOCK = threading.Lock()


def _botocore_session():
    """A fresh botocore session (fresh credentials and config each time) sharing one model loader:
    parsing the S3 service model costs ~0.5 s per client otherwise."""
    global _LOADER
    import botocore.session
    from botocore.loaders import create_loader

    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = create_loader()
        loader = _LOADER
        # boto3 appends its data path on every Session(): keep the shared list from growing
        seen: list = []
        for p in loader.search_paths:
            if p not in seen:
                seen.append(p)
        loader.search_paths[:] = seen
    bs = botocore.session.get_session()
    bs.register_component("data_loader", loader)
    return bs


def timeout_setting() -> float:
    """Seconds of silence an S3 request may wait in all: ``LMI_WIZARD_NET_TIMEOUT`` (default 60), the one
    setting of every network wait (:mod:`core.base.net`)."""
    return _net.silence_timeout()


def _max_attempts() -> int:
    raw = os.environ.get("AWS_MAX_ATTEMPTS", "").strip()
    try:
        return max(1, int(raw)) if raw else ATTEMPTS
    except ValueError:
        return ATTEMPTS


class _Attempts:
    """Counts every HTTP attempt a client makes (retries included): botocore retries quietly, we count."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, **kwargs) -> None:
        with self._lock:
            self.count += 1


class _Waits:
    """Marks every attempt of a client as a network wait (core.base.net), so a silent S3 endpoint shows in the
    run's progress ("waiting for <endpoint>: 12 s … (retry 1 of 2 …)"). Requests sending a large body (parts,
    big files) are not marked: their time is the upload's, shown by its own bar."""

    def __init__(self) -> None:
        self.endpoint = "S3"
        self._local = threading.local()

    def start(self, request=None, **kwargs) -> None:
        self.stop()
        try:
            size = int((request.headers or {}).get("Content-Length") or 0)
        except (AttributeError, TypeError, ValueError):
            size = 0
        if size > 1024 * 1024:
            return None
        retries = (getattr(request, "context", None) or {}).get("retries") or {}
        self._local.token = _net.begin(redact(self.endpoint), int(retries.get("attempt") or 1),
                                       int(retries.get("max") or 1))
        return None  # never a response: botocore sends the request

    def stop(self, **kwargs) -> None:
        _net.end(getattr(self._local, "token", None))
        self._local.token = None
        return None  # never a retry decision


def attempts(client) -> int:
    """HTTP attempts made by a client of :func:`make_client` (0 for another client)."""
    counter = getattr(client, "_lmi_attempts", None)
    return counter.count if counter is not None else 0


def make_client(endpoint_url: Optional[str] = None, *, region: Optional[str] = None,
                max_pool_connections: int = CONCURRENCY + 4, read_timeout: Optional[float] = None,
                profile: Optional[str] = None, timeout: Optional[float] = None):
    """An S3 client from boto3's standard credential chain. Raises WizardError when there are no
    credentials at all (before any request). Waits are bounded: ``timeout`` (default
    ``LMI_WIZARD_NET_TIMEOUT`` or 60 s) of silence in all, shared by the attempts (3, or ``AWS_MAX_ATTEMPTS``);
    ``read_timeout`` sets one attempt's read wait directly. ``profile``: a named profile of ~/.aws for this
    client only (like ``aws --profile``; the environment, ``AWS_PROFILE`` included, is left as it is); a
    missing one is one clear WizardError."""
    import boto3
    from botocore.config import Config

    total = timeout if timeout is not None else timeout_setting()
    tries = _max_attempts()
    per_try = max(1.0, total / tries)
    try:
        session = boto3.session.Session(botocore_session=_botocore_session(), region_name=region,
                                        profile_name=profile or None)
        creds = session.get_credentials()
    except Exception as exc:  # broken profile, sso expired …
        raise explain(exc) from None
    if creds is None:
        raise WizardError("no AWS credentials found",
                          "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure` "
                          "(or `aws sso login`) on this machine")
    try:
        frozen = creds.get_frozen_credentials()
    except Exception as exc:  # an expired SSO session, a failing credential process …
        raise explain(exc) from None
    remember_secrets(frozen.access_key, frozen.secret_key, frozen.token)
    extra = {}
    try:  # botocore >= 1.36: no CRC32 trailers of our own choosing; we send Content-MD5 ourselves
        Config(request_checksum_calculation="when_required")
        extra["request_checksum_calculation"] = "when_required"
        extra["response_checksum_validation"] = "when_required"
    except TypeError:
        pass
    cfg = Config(max_pool_connections=max_pool_connections, user_agent_extra="lmi-wizard",
                 connect_timeout=min(10.0, per_try), read_timeout=read_timeout or per_try,
                 retries={"total_max_attempts": tries, "mode": os.environ.get("AWS_RETRY_MODE") or "standard"}, **extra)
    kw = {"config": cfg}
    if endpoint_url:
        kw["endpoint_url"] = endpoint_url
    try:
        client = session.client("s3", **kw)
    except ValueError as exc:  # bad endpoint URL
        raise WizardError(f"invalid endpoint URL: {redact(exc)}", "pass --endpoint-url http(s)://host[:port]") from None
    counter = _Attempts()
    client.meta.events.register("before-send.s3", counter)
    client._lmi_attempts = counter
    client._lmi_endpoint = endpoint_url or client.meta.endpoint_url
    waits = _Waits()
    waits.endpoint = client._lmi_endpoint
    client.meta.events.register("before-send.s3", waits.start)
    client.meta.events.register_first("needs-retry.s3", waits.stop)
    return client
