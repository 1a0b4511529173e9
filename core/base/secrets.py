"""Secrets: which environment variables hold them, what they look like, and ONE way to hide them.

Every output that could carry a credential goes through :class:`Redactor` (or :func:`redact`, the same thing
with no extra values): the run log, run-state.json, the saved recipe, the plan script, progress messages,
errors, ``--json`` reports, the builder's log, S3 and git error texts. A hidden value becomes :data:`MARKER`.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Iterable, Optional
from urllib.parse import quote

MARKER = "***"

# environment variables whose VALUE is a secret (hidden wherever it appears)
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "HF_TOKEN",
              "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
# the AWS ones: what a subprocess that needs no AWS access (the builder) does not get
AWS_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# credentials: the secrets plus the access key id (not secret by itself, but never written into a recipe,
# and hidden in S3 error texts)
CREDENTIAL_ENV = SECRET_ENV + ("AWS_ACCESS_KEY_ID",)

MIN_SECRET_LEN = 4  # shorter values would mangle ordinary text

# token-shaped strings: Hugging Face tokens, AWS access key ids
HF_TOKEN_RE = re.compile(r"hf_[A-Za-z0-9]{20,}")
AWS_KEY_ID_RE = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}(?![A-Za-z0-9])")
# `name = value` / `name: value` where the name says the value is a secret, and signing material in error
# texts (presigned-URL parameters, Authorization header parts, the canonical request S3 echoes back)
ASSIGNMENT_RE = re.compile(r"(?i)\b(aws_secret_access_key|hf_token|hugging_face_hub_token|x-amz-security-token|"
                           r"x-amz-signature|x-amz-credential|signature|credential|awsaccesskeyid|security-token|"
                           r"sessiontoken|session_token)(\s*[=:]\s*)[^\s&,;\"'<>]+")
# user-info in a URL (a mirror URL may carry user:token@)
URL_USERINFO_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")

_REMEMBERED: set[str] = set()  # credentials in use from any source (an AWS profile, SSO…), for S3 texts
_REMEMBERED_LOCK = threading.Lock()


def remember(*values: Optional[str]) -> None:
    """Values a ``remembered`` :class:`Redactor` (:func:`redact_credentials`) hides from now on: the credentials
    a boto3 session resolved, from whatever source."""
    with _REMEMBERED_LOCK:
        _REMEMBERED.update(v for v in values if v and len(v) >= MIN_SECRET_LEN)


def env_values(names: Iterable[str] = SECRET_ENV) -> set[str]:
    """The current values of these environment variables (read when called)."""
    return {v for v in (os.environ.get(n) for n in names) if v and len(v) >= MIN_SECRET_LEN}


def redact_patterns(text: str) -> str:
    """Hide what looks like a secret, whatever its value: tokens, key ids, secret assignments, URL user-info."""
    text = HF_TOKEN_RE.sub(MARKER, text)
    text = AWS_KEY_ID_RE.sub(MARKER, text)
    text = ASSIGNMENT_RE.sub(lambda m: m.group(1) + m.group(2) + MARKER, text)
    return URL_USERINFO_RE.sub(lambda m: m.group(1) + MARKER + "@", text)


class Redactor:
    """Replaces every known secret with :data:`MARKER`: the values of ``env`` (default :data:`SECRET_ENV`, read
    when called, so a value set later is covered too), ``extra`` values (tokens typed into the wizard), the
    :func:`remember`-ed credentials in use with ``remembered`` (values may be hidden URL-encoded too), then the
    token-shaped strings (:func:`redact_patterns`)."""

    def __init__(self, extra: Iterable[str] = (), env: Iterable[str] = SECRET_ENV, *, remembered: bool = False) -> None:
        self._extra = [v for v in extra if v and len(v) >= MIN_SECRET_LEN]
        self._env = tuple(env)
        self._remembered = remembered

    def values(self) -> list[str]:
        vals = set(self._extra) | env_values(self._env)
        if self._remembered:
            with _REMEMBERED_LOCK:
                vals |= _REMEMBERED
        return sorted(vals, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        text = str(text)
        for v in self.values():
            if v in text:
                text = text.replace(v, MARKER)
            if "/" in v or "+" in v or "=" in v:  # as it appears URL-encoded
                text = text.replace(quote(v, safe=""), MARKER)
        return redact_patterns(text)


_DEFAULT = Redactor()
_CREDENTIALS = Redactor(env=CREDENTIAL_ENV, remembered=True)


def redact(text: str) -> str:
    """:class:`Redactor` with no extra values: the environment's secrets, remembered values, token shapes."""
    return _DEFAULT(text)


def redact_credentials(text: str) -> str:
    """:func:`redact`, also hiding the credentials in use (the access key id too, and :func:`remember`-ed
    values from a profile or SSO): for S3 error texts."""
    return _CREDENTIALS(text)
