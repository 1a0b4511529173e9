"""The Hugging Face Hub client, bounded: every request ends within the silence setting, retries are quiet.

huggingface_hub's shared ``httpx`` client has no timeout (``timeout=None``) and its back-off retries a
timed-out request up to five times, logging a line each time. :func:`install` (called before every use of
the client: the tokenizer, the model lookup) gives it a client whose requests time out after
``LMI_WIZARD_NET_TIMEOUT`` seconds of silence and turn that into one :class:`~core.base.net.NetworkSilence`
(a WizardError the back-off does not retry: a silent endpoint is not made faster by asking again).
Connection errors are still retried by the client, quietly: its retry lines are counted, not printed.
Proxies from the environment keep working (the client is the library's own class, only ``send`` wraps).
"""

from __future__ import annotations

import logging
import threading

from .base.net import NetworkSilence, silence_timeout, waiting

_lock = threading.Lock()
_installed_for: float | None = None


class _RetryCounter(logging.Filter):
    """Swallows huggingface_hub's per-retry warnings and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "Retrying in" in msg or "thrown while requesting" in msg or "Retry " in msg:
            if "Retrying in" in msg or "Retry " in msg:
                self.count += 1
            return False
        return True


RETRIES = _RetryCounter()


def install() -> None:
    """Make huggingface_hub use the bounded client (idempotent; again when the setting changed)."""
    global _installed_for
    seconds = silence_timeout()
    with _lock:
        if _installed_for == seconds:
            return
        import httpx2
        from huggingface_hub.utils import _http

        class _BoundedClient(httpx2.Client):
            def send(self, request, *args, **kwargs):
                # huggingface_hub passes timeout=None explicitly on API calls (model_info, list_repo_tree):
                # no limit at all. Every part of the wait without a limit gets the setting.
                t = dict(request.extensions.get("timeout") or {})
                for part in ("connect", "read", "write", "pool"):
                    if t.get(part) is None:
                        t[part] = seconds
                request.extensions["timeout"] = t
                where = f"{request.url.scheme}://{request.url.netloc.decode()}"
                try:
                    with waiting(where):  # a silent wait shows in the run's progress (core.base.net)
                        return super().send(request, *args, **kwargs)
                except httpx2.TimeoutException as exc:
                    waited = (request.extensions.get("timeout") or {}).get("read") or seconds
                    raise NetworkSilence(where, float(waited), RETRIES.count) from exc

        def factory() -> httpx2.Client:
            return _BoundedClient(event_hooks={"request": [_http.hf_request_event_hook]}, follow_redirects=True,
                                  timeout=httpx2.Timeout(seconds))

        _http.set_client_factory(factory)
        log = logging.getLogger(_http.__name__)
        if RETRIES not in log.filters:
            log.addFilter(RETRIES)
        _installed_for = seconds
