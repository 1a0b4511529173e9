"""How long the wizard waits for a silent network endpoint (Hub, git over http(s), S3): one setting; and the
wait, shown while it lasts (:func:`waiting`, :func:`reporting`).

``LMI_WIZARD_NET_TIMEOUT`` (seconds, default 60): a request that receives nothing for that long ends with
one line naming the endpoint and this setting, instead of a silent wait or a storm of retries.
"""

from __future__ import annotations

import os
import threading as _threading
import time as _time
from contextlib import contextmanager as _contextmanager

from .errors import WizardError
from .progress import Progress

SETTING = "LMI_WIZARD_NET_TIMEOUT"
DEFAULT_SILENCE = 60.0


def silence_timeout() -> float:
    """Seconds of silence after which a network wait gives up (the ``LMI_WIZARD_NET_TIMEOUT`` setting)."""
    raw = os.environ.get(SETTING, "").strip()
    if not raw:
        return DEFAULT_SILENCE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 < value <= 24 * 3600):
        raise WizardError(f"{SETTING}={raw!r} is not a number of seconds between 0 and 86400",
                          f"set {SETTING} to the seconds of silence to allow (e.g. 60), or unset it")
    return value


class NetworkSilence(WizardError):
    """An endpoint accepted the connection (or not) and sent nothing for the allowed time."""

    def __init__(self, endpoint: str, seconds: float, retries: int = 0) -> None:
        counted = f"; {retries} quiet retr{'y' if retries == 1 else 'ies'} before" if retries else ""
        super().__init__(f"no answer from {endpoint} for {seconds:g} s{counted}",
                         f"check the network / proxy or the endpoint setting; to wait longer set {SETTING} "
                         f"(seconds, now {seconds:g})")
        self.endpoint = endpoint
        self.seconds = seconds


# --------------------------------------------------------------------------- the wait, shown
# While a request is silent (waiting for an answer, or between quiet retries) the run's progress says so:
# "waiting for <endpoint>: 12 s without an answer (retry 1 of 2; gives up after 60 s)". The clients mark each
# request with :func:`waiting` (or :func:`begin` / :func:`end` from event hooks); a front end, or the pipeline
# for each step, collects with :func:`reporting`. Nothing is said for a request that answers within
# :func:`notice_after` seconds, so retries stay quiet otherwise.
_waits_lock = _threading.Lock()
_waits: dict[int, dict] = {}  # token → {endpoint, t0, attempt, attempts, said}
_sinks: list = []  # (progress, step) of every active reporting(); the innermost receives
_next_token = [0]


def notice_after() -> float:
    """Seconds of silence before a wait is shown: 5 s, or a sixth of the silence setting when that is shorter
    (an S3 attempt waits a third of it: its wait shows before it gives up)."""
    try:
        limit = silence_timeout()
    except WizardError:
        limit = DEFAULT_SILENCE
    return min(5.0, limit / 6)


def begin(endpoint: str, attempt: int = 1, attempts: int = 1) -> int:
    """A request to ``endpoint`` starts waiting (``attempt`` of ``attempts``). Returns the token for :func:`end`."""
    with _waits_lock:
        _next_token[0] += 1
        token = _next_token[0]
        _waits[token] = {"endpoint": endpoint, "t0": _time.monotonic(), "attempt": attempt,
                         "attempts": attempts, "said": 0.0}
    return token


def heard(token: int | None) -> None:
    """Something arrived for the wait ``token`` (a line of git's progress): its silence starts again."""
    if token is not None:
        with _waits_lock:
            w = _waits.get(token)
            if w is not None:
                w["t0"] = _time.monotonic()


def end(token: int | None) -> None:
    if token is not None:
        with _waits_lock:
            _waits.pop(token, None)


@_contextmanager
def waiting(endpoint: str, attempt: int = 1, attempts: int = 1):
    """Mark one request to ``endpoint`` as waiting for its answer while the block runs."""
    token = begin(endpoint, attempt, attempts)
    try:
        yield
    finally:
        end(token)


def wait_message(endpoint: str, seconds: float, attempt: int = 1, attempts: int = 1) -> str:
    """``waiting for <endpoint>: 12 s without an answer (retry 1 of 2; gives up after 60 s)``"""
    try:
        limit = f"; gives up after {silence_timeout():g} s"
    except WizardError:
        limit = ""
    retry = f"retry {attempt - 1} of {attempts - 1}" if attempt > 1 and attempts > 1 else ""
    inner = (retry + limit).lstrip("; ")
    return f"waiting for {endpoint}: {seconds:.0f} s without an answer" + (f" ({inner})" if inner else "")


def _tick(stop: "_threading.Event") -> None:
    while not stop.wait(min(1.0, notice_after() / 2)):
        now = _time.monotonic()
        first = notice_after()
        due = []
        with _waits_lock:
            for w in _waits.values():
                silent = now - w["t0"]
                # first after `first` s of silence, then every `first` s (at most once a second)
                if silent >= first and now - w["said"] >= max(1.0, first):
                    w["said"] = now
                    due.append(wait_message(w["endpoint"], silent, w["attempt"], w["attempts"]))
            sink = _sinks[-1] if _sinks else None
        if sink is None:
            continue
        progress, step = sink
        for msg in dict.fromkeys(due):  # the same endpoint's parallel requests: one line
            try:
                progress(Progress(step=step, message=msg, extra={"waiting": True}))
            except Exception:  # a display problem never stops a request
                pass


@_contextmanager
def reporting(progress, step: str = "network"):
    """While the block runs, silent network waits are reported to ``progress`` as :class:`Progress` lines
    (``extra={"waiting": True}``). ``progress`` None: nothing is reported."""
    if progress is None:
        yield
        return
    stop = _threading.Event()
    with _waits_lock:
        _sinks.append((progress, step))
    ticker = _threading.Thread(target=_tick, args=(stop,), name="net-waits", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        with _waits_lock:
            _sinks.remove((progress, step))
        ticker.join(2)
