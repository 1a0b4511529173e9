"""Substitution strings (``key:value,key2:value2``) read and written the way each tag's ``fill_template.py``
does, with the escape-aware reading where the tool would fail. See :mod:`.fill` for the rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..base.errors import WizardError
from .semantics import Semantics, semantics_for

# --------------------------------------------------------------------------------------------------
# substitution strings
# --------------------------------------------------------------------------------------------------

_KEY_RE = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")


def _short(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _split(s: str, delim: str, *, unescape: bool) -> list[str]:
    """Split on unescaped ``delim``. ``unescape=True`` is exactly the v0.16+ tool's ``split``: every escape
    backslash is dropped (a trailing lone backslash disappears); ``False`` keeps the escapes as written."""
    out: list[str] = []
    cur: list[str] = []
    pat = re.compile(r"\\(.)|\\$|" + re.escape(delim) + r"|[^\\" + re.escape(delim) + r"]+", re.S)
    for m in pat.finditer(s):
        tok = m.group(0)
        if tok == delim:
            out.append("".join(cur))
            cur = []
        elif unescape and tok[0] == "\\":
            if m.group(1) is not None:
                cur.append(m.group(1))
        else:
            cur.append(tok)
    out.append("".join(cur))
    return out


def _tool_split(s: str, delim: str) -> list[str]:
    return _split(s, delim, unescape=True)


def _raw_split(s: str, delim: str) -> list[str]:
    return _split(s, delim, unescape=False)


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)|\\$", lambda m: m.group(1) or "", s, flags=re.S)


def _tool_parse(s: str, sem: Semantics) -> tuple[list[tuple[str, str]] | None, str]:
    """What the tag's tool makes of ``s``: pairs, or None and why it would crash."""
    items = _tool_split(s, ",") if sem.escaping else s.split(",")
    pairs = []
    for item in items:
        parts = _tool_split(item, ":") if sem.escaping else item.split(":")
        if len(parts) != 2:
            return None, f"`{_short(item)}` splits into {len(parts)} parts, not key:value"
        pairs.append((parts[0], parts[1]))
    return pairs, ""


def _lenient_parse(s: str) -> list[tuple[str, str]]:
    """lmi-wizard's reading: one escape-aware pass; raises WizardError naming the first bad item."""
    pairs = []
    for n, raw in enumerate(_raw_split(s, ","), 1):
        if raw == "":
            raise WizardError(f"malformed substitution string: item {n} is empty (a stray or trailing comma)",
                              "write key:value pairs separated by single commas, e.g. `decoupled_mode:True,max_beam_width:1`")
        parts = _raw_split(raw, ":")
        if len(parts) == 1:
            raise WizardError(f"malformed substitution string: `{_short(raw)}` has no `:`",
                              "write each item as key:value, e.g. `triton_max_batch_size:64`")
        if len(parts) > 2:
            raise WizardError(f"malformed substitution string: `{_short(raw)}` has more than one `:`",
                              "escape a `:` or `,` that belongs to the value as `\\:` / `\\,` (e.g. `gpu_device_ids:0\\,1`)")
        pairs.append((_unescape(parts[0]), _unescape(parts[1])))
    return pairs


@dataclass
class ParsedSubstitutions:
    pairs: list[tuple[str, str]]
    notes: list[str]
    tool_accepts: bool  # the tag's own fill_template.py would parse the string the same way
    #: with ``strict=False``: what the tool takes silently but has no effect or is surprising (bad key names,
    #: a key given twice — the last value wins)
    warnings: list[str] = field(default_factory=list)


def parse_substitutions(s: str, sem: Semantics | None = None, *, strict: bool = True) -> ParsedSubstitutions:
    """Parse ``key:value,key2:value2`` like the tag's tool would, or better where the tool would crash.

    ``strict`` (the default) refuses keys the tool takes without effect (empty, spaces around, not a
    placeholder name) and a key given twice. ``strict=False`` is the drop-in reading (``pbtxt fill
    --ignore-unknown``): such keys are kept as the tool keeps them (a later value of a key wins) and each is
    named in :attr:`ParsedSubstitutions.warnings`."""
    sem = sem or semantics_for(None)
    if not isinstance(s, str) or s == "":
        raise WizardError("malformed substitution string: it is empty",
                          "pass key:value pairs separated by commas, e.g. `decoupled_mode:True`")
    notes: list[str] = []
    pairs, why = _tool_parse(s, sem)
    tool_accepts = pairs is not None
    if pairs is None:
        pairs = _lenient_parse(s)
        notes.append(f"fill_template.py of {sem.label} would stop on this string ({why}); "
                     "lmi-wizard reads `\\,` and `\\:` as escapes and writes the values verbatim")
    elif "\\" in s:
        if not sem.escaping:
            notes.append(f"fill_template.py of {sem.label} has no `\\` escapes: backslashes are kept literally, "
                         "as that tool does (escapes need v0.16 or later)")
        else:
            try:
                single = dict(_lenient_parse(s))
            except WizardError:
                single = None
            differ = [k for k, v in pairs if single is not None and k in single and single[k] != v]
            if single is None:
                notes.append(f"fill_template.py of {sem.label} unescapes twice (`\\\\:` becomes `:`); "
                             "the values written are the tool's: "
                             + ", ".join(f"{k}={_short(v, 40)!r}" for k, v in pairs[:3]))
            elif differ:
                k = differ[0]
                notes.append(f"fill_template.py of {sem.label} unescapes twice: `{k}` gets {dict(pairs)[k]!r} "
                             f"(one unescaping would give {single[k]!r}); the tool's value is written")
    seen: dict[str, str] = {}
    if not strict:
        warnings: list[str] = []
        for key, value in pairs:
            if key in seen and seen[key] != value:
                warnings.append(f"key `{_short(key)}` is given twice: the last value ({_short(value, 30)!r}) is used, "
                                "as fill_template.py does")
            seen[key] = value
        return ParsedSubstitutions(pairs=pairs, notes=notes, tool_accepts=tool_accepts, warnings=warnings)
    for key, value in pairs:
        if key == "":
            raise WizardError(f"malformed substitution string: `:{_short(value)}` has an empty key",
                              "write key:value, e.g. `decoupled_mode:True`")
        if key != key.strip():
            raise WizardError(f"malformed substitution string: key `{_short(key)}` has spaces around it",
                              "remove the spaces around commas and colons: `a:1,b:2`")
        if not _KEY_RE.match(key):
            raise WizardError(f"malformed substitution string: `{_short(key)}` is not a placeholder name",
                              "keys are the names inside ${…}: letters, digits and _")
        if key in seen:
            raise WizardError(f"malformed substitution string: key `{key}` is given twice "
                              f"(`{_short(seen[key], 30)}` and `{_short(value, 30)}`)", "keep one of them")
        seen[key] = value
    return ParsedSubstitutions(pairs=pairs, notes=notes, tool_accepts=tool_accepts)


class EscapedSubstitutions(str):
    """A substitution string built by :func:`format_substitutions` from exact values.

    :func:`fill_text` reads it ONCE, escape-aware, whatever the tag, so every value lands in the file exactly
    as given (a plain ``str`` is read the way the tag's own tool reads it, which for these strings would
    keep escape backslashes before v0.16 and drop them twice from v0.16 on)."""

    __slots__ = ()


def format_substitutions(pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> EscapedSubstitutions:
    """Build an escaped (``\\,`` ``\\:`` ``\\\\``) substitution string from exact values, for :func:`fill_text`
    or for showing to a person. The result is an :class:`EscapedSubstitutions`: passed to :func:`fill_text`
    it writes the values verbatim with any ``tag``. For the command line of a tag's own
    ``fill_template.py`` use :func:`tool_substitutions` instead (that tool unescapes differently)."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")

    return EscapedSubstitutions(",".join(f"{esc(k)}:{esc(v)}" for k, v in items))


def tool_substitutions(pairs: Mapping[str, str] | Iterable[tuple[str, str]], tag: str | None = None) -> str:
    """The argument for ``tag``'s own ``tools/fill_template.py`` that makes it write exactly these values.

    v0.16+ tools unescape twice (once splitting on ``,``, once on ``:``), so values are escaped twice;
    older tools have no escapes, so values go in as they are, and a value holding ``,`` or ``:`` cannot be
    expressed at all: WizardError (lmi-wizard's own ``pbtxt fill`` accepts it)."""
    sem = semantics_for(tag)
    items = list(pairs.items() if isinstance(pairs, Mapping) else pairs)
    out = []
    for k, v in items:
        k, v = str(k), str(v)
        if not _KEY_RE.match(k):
            raise WizardError(f"`{_short(k)}` is not a placeholder name", "keys are the names inside ${…}")
        if sem.escaping:
            inner = v.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")
            v = inner.replace("\\", "\\\\").replace(",", "\\,")
        elif "," in v or ":" in v:
            raise WizardError(f"fill_template.py of {sem.label} cannot write `{k}` = {_short(v, 40)!r}: it splits "
                              "the argument on every `,` and `:`",
                              f"use `lmi-wizard pbtxt fill` (it reads `\\,` and `\\:`), or a tag from v0.16 on")
        out.append(f"{k}:{v}")
    return ",".join(out)
