"""Fixes in the front end's words. Core writes a fix once, in the headless spelling (a recipe setting
``trtllm_version under [env]`` / ``[checkout] backend_url``, a verb option ``--backend-url``, a run option
``--resume`` / ``--force``); :func:`for_tui` renders it for the Textual wizard: a setting becomes the field's
label and step (from the schema: ``Field.label``, ``Field.flag``), a run option the key that does it there.

The mapping lives here and in the schema only; screens call :func:`for_tui` on every message they show.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["RUN_KEYS", "field_name", "for_tui"]

#: the run's own options and the keys that do the same on the Run screen
RUN_KEYS = {"--resume": "Ctrl+R", "--force": "Ctrl+F"}


@lru_cache(maxsize=1)
def _tables() -> tuple[dict, dict]:
    from .definition import STEPS

    by_key, by_flag = {}, {}
    for s in STEPS:
        for f in s.fields:
            by_key[f.key] = (f, s)
            if f.flag:
                by_flag[f.flag] = (f, s)
    return by_key, by_flag


def field_name(key: str) -> str | None:
    """``checkout.backend_url`` → ``“tensorrtllm_backend URL” (Checkout, advanced)``; None for an unknown key."""
    by_key, _ = _tables()
    hit = by_key.get(key)
    if hit is None:
        return None
    f, s = hit
    return f"“{f.label}” ({s.title}{', advanced' if f.advanced else ''})"


def _setting(section: str, name: str, whole: str) -> str:
    return field_name(f"{section}.{name}") or whole


_UNDER = re.compile(r"\b([a-z_]+) under \[([a-z_]+)\]")  # trtllm_version under [env]
_ASSIGN = re.compile(r"\b([a-z_]+) = (\"[^\"]*\"|\S+) under \[([a-z_]+)\]")  # trtllm_version = "0.12.0" under [env]
_BRACKET = re.compile(r"\[([a-z_]+)\] ([a-z_]+)\b")  # [checkout] backend_url
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def for_tui(text: str | None) -> str | None:
    """A message or fix as the Textual wizard says it (see the module doc); text without CLI words unchanged."""
    if not text:
        return text
    by_key, by_flag = _tables()
    out = _ASSIGN.sub(lambda m: f"{_setting(m.group(3), m.group(1), m.group(0))} to {m.group(2).strip(chr(34))}"
                      if f"{m.group(3)}.{m.group(1)}" in by_key else m.group(0), text)
    out = _UNDER.sub(lambda m: _setting(m.group(2), m.group(1), m.group(0)), out)
    out = _BRACKET.sub(lambda m: _setting(m.group(1), m.group(2), m.group(0)), out)

    def flag(m: re.Match) -> str:
        word = m.group(1)
        if word in RUN_KEYS:
            return RUN_KEYS[word]
        hit = by_flag.get(word)
        return field_name(hit[0].key) if hit else word

    out = _FLAG.sub(flag, out)
    out = re.sub(r"\b(?:pass|run again with) (Ctrl\+[A-Z])", r"press \1", out)
    out = out.replace(" (`lmi-wizard init` documents every setting)", "")
    return out
