"""Fetching one file (``config.json``) of a Hugging Face repo: the real client, a quick reachability probe so a
dead network fails at once instead of after the client's retries, and one clear error per failure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .base.errors import WizardError



class RepoNotFound(WizardError):
    """The Hub answered that the repo does not exist (404): a fact about the id, not about the network."""

def _reachable(url: str, timeout: float) -> bool:
    """A quick TCP connect to the endpoint (skipped behind a proxy, which the client handles itself)."""
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                                       "all_proxy")):
        return True
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname:
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def download_config(repo_id: str, *, endpoint: Optional[str] = None, token: Optional[str] = None,
                    revision: Optional[str] = None, cache_dir=None, local_files_only: bool = False,
                    etag_timeout: Optional[float] = None) -> Path:
    """The local path of ``config.json`` of Hugging Face repo ``repo_id`` (only that file is fetched; the local
    cache when offline). Every failure is one WizardError naming the problem and the fix; the token never
    reaches a message."""
    try:
        import huggingface_hub as hf
        from huggingface_hub import errors as hf_errors
    except ImportError:  # pragma: no cover - a declared dependency
        raise WizardError("huggingface_hub is not installed", "pip install huggingface_hub, or give a local folder")
    from . import hubnet
    from .base.net import silence_timeout

    hubnet.install()  # every request bounded by LMI_WIZARD_NET_TIMEOUT (None: the setting), retries quiet
    etag_timeout = etag_timeout or silence_timeout()
    where = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    page = f"{where.rstrip('/')}/{repo_id}"
    if not local_files_only and not _reachable(where, min(5.0, etag_timeout)):
        # the client would retry a dead network for ~25 s; use the local cache or say "offline" at once
        local_files_only = True
    try:
        path = hf.hf_hub_download(repo_id, "config.json", revision=revision, endpoint=endpoint, token=token,
                                  cache_dir=cache_dir, local_files_only=local_files_only,
                                  etag_timeout=etag_timeout)
    except WizardError:  # the bounded client's NetworkSilence: already one line naming the setting
        raise
    except hf_errors.GatedRepoError:
        raise WizardError(f"Hugging Face repo {repo_id} is gated and this token has no access",
                          f"accept the model's license on {page} and set HF_TOKEN to a token of that account") from None
    except hf_errors.RepositoryNotFoundError:
        hint = "" if token or os.environ.get("HF_TOKEN") else " (or is private and no HF_TOKEN is set)"
        raise RepoNotFound(f"HF id {repo_id} does not exist{hint}",
                          f"check the spelling on {page}; for a private repo set HF_TOKEN") from None
    except hf_errors.RevisionNotFoundError:
        raise WizardError(f"revision {revision!r} not found in {repo_id}", "check the branch, tag or commit") from None
    except hf_errors.LocalEntryNotFoundError:
        raise WizardError(f"cannot reach the Hugging Face Hub at {where} to fetch {repo_id}/config.json, and it is "
                          "not in the local cache (offline?)",
                          "connect to the network, set HF_ENDPOINT to a reachable mirror, or download the model and "
                          "give its local folder") from None
    except hf_errors.EntryNotFoundError:
        raise WizardError(f"{repo_id} has no config.json", "is it a transformers model? give a model repo "
                          "with config.json, or a local folder") from None
    except hf_errors.OfflineModeIsEnabled:
        raise WizardError(f"HF_HUB_OFFLINE is set and {repo_id}/config.json is not cached",
                          "unset HF_HUB_OFFLINE or give a local model folder") from None
    except hf_errors.HFValidationError as exc:
        raise WizardError(f"{repo_id!r} is not a valid Hugging Face repo id ({exc})",
                          "give a repo id like org/name") from None
    except hf_errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise WizardError(f"the Hugging Face Hub refused access to {repo_id} (HTTP {status})",
                              "set HF_TOKEN to a token with read access to this repo") from None
        raise WizardError(f"the Hugging Face Hub answered HTTP {status} for {repo_id}/config.json",
                          "try again later, or give a local model folder") from None
    except (OSError, ConnectionError) as exc:
        raise WizardError(f"cannot fetch {repo_id}/config.json from {where}: {type(exc).__name__}",
                          "check the network or HF_ENDPOINT, or give a local model folder") from None
    except Exception as exc:  # httpx transport errors etc. — never a traceback for a network problem
        name = type(exc).__name__
        if "Connect" in name or "Timeout" in name or "Network" in name or "Transport" in name:
            raise WizardError(f"cannot reach the Hugging Face Hub at {where} ({name})",
                              "check the network or HF_ENDPOINT, or give a local model folder") from None
        raise
    return Path(path)
