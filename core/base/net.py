"""How long the wizard waits for a silent network endpoint (Hub, git over http(s)): one setting.

``LMI_WIZARD_NET_TIMEOUT`` (seconds, default 60): a request that receives nothing for that long ends with
one line naming the endpoint and this setting, instead of a silent wait or a storm of retries.
"""

from __future__ import annotations

import os

from .errors import WizardError

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
