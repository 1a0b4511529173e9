"""Triton ``config.pbtxt``: fill placeholders like the tag's own ``tools/fill_template.py``, and check.

Fill
----
:func:`fill_text` / :func:`fill_file` reproduce ``fill_template.py`` byte for byte for any substitution
string that the tag's tool accepts (``--tag`` picks the semantics; default: the newest). Per tag range
(see ``core/data/fill_template_semantics.json``, verified from the tags' sources):

=====================  ==========================  ==============================================
range                  argument parsing            defaults the tool always substitutes
=====================  ==========================  ==============================================
v0.5.0 … v0.11.x       naive ``split(",")`` then   none
                       ``split(":")``
v0.12.0 … v0.14.x      naive                       ``max_queue_size=0``
v0.15.x                naive                       ``max_queue_size=0``, ``participant_ids=""``
v0.16.0 … v0.18.x      backslash escapes           ``max_queue_size=0``
v0.19.0 … 1.x          backslash escapes           ``max_queue_size=0``,
(TensorRT-LLM 1.x)                                 ``max_queue_delay_microseconds=0``
=====================  ==========================  ==============================================

The tool reads the file in text mode (so CRLF becomes LF), substitutes with
``string.Template.safe_substitute`` and either writes the result (``-i``) or ``print()``s it (one extra
``\\n``). :attr:`FillResult.text` is what ``-i`` writes, :attr:`FillResult.printed` what it prints.

Where lmi-wizard is deliberately better than the tool (it never produces *different* output for input
the tool accepts; it refuses or accepts more instead):

* Escapes. ``\\,`` and ``\\:`` (v0.16+ syntax) put a ``,`` or ``:`` into a value verbatim. The tool's own
  two-pass unescaping loses ``\\:`` (``engine_dir:/a\\:b`` crashes it); when the tool would stop, the string
  is read once, escape-aware, and the value is written verbatim. This also applies to tags before v0.16
  (whose tool has no escapes at all): if the naive split fails but the escaped reading works, the
  escaped reading is used and a note says the tag's tool would have failed. If the naive split
  succeeds, its (tool-identical) result is used and a note warns when backslashes were taken literally.
* Every requested key must be a ``${key}`` placeholder of the file: an unknown key is an error with a
  suggestion (``decoupled`` → "did you mean ``decoupled_mode``?"); a key that upstream removed from the
  templates is named as obsolete with the release it disappeared in (table built from the real
  templates, ``placeholders`` in the data file); ``skip_obsolete=True`` drops such keys with a note.
  A key that only occurs inside a ``#`` comment (``enable_trt_overlap`` since v0.10.0) is substituted
  there like the tool does, with a note that it has no effect.
* Malformed strings (empty item, no ``:``, two ``:``, empty key, spaces around a key, a duplicate key)
  are one clear :class:`WizardError` instead of an unpack traceback.
* The key check above applies to every tag (the v0.19+ tool only asserts ``key in text``; older tools
  ignore unknown keys silently). ``$name`` without braces counts as a placeholder there, since
  ``string.Template`` substitutes it too; the templates only use ``${name}``.
* ``fill_text`` also takes a mapping (what code should pass): values are used verbatim, no string
  syntax involved. ``format_substitutions`` returns an :class:`EscapedSubstitutions` string that
  ``fill_text`` also reads verbatim with any tag; only a plain ``str`` gets the tag's tool's reading.
  ``tool_substitutions(pairs, tag)`` builds the argument for the tag's own ``fill_template.py`` command.

Check
-----
:func:`check_text` lists every unresolved ``${name}`` outside comments with line, the field it sits in
and a kind: ``blocking`` (unquoted — Triton cannot parse the file — or a string Triton/the backend
cannot work with: ``backend``, ``gpt_model_type`` = ``${batching_strategy}``, ``gpt_model_path``, a
python model's ``tokenizer_dir``/``tokenizer_type``) or ``optional`` (a ``string_value`` parameter where
the backend falls back to its default: fill it or delete the whole ``parameters { … }`` block). It also
reports ``model_transaction_policy.decoupled``, the engine path, whether the text parses as Triton's
``inference.ModelConfig``, and whether the file still is an untouched template (fill not applied).

Text transforms for a live diff preview (nothing touches the disk): :func:`fill_key`,
:func:`delete_parameter`, :func:`set_decoupled`, :func:`set_engine_path`, :func:`unified_diff`.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..base.errors import WizardError
from ..base.fsutil import atomic_write_text
from ..facts.versions import try_parse_version

DATA_FILE = "fill_template_semantics.json"
#: where LMI mounts the model; the tutorial's engine path for a ``tensorrt_llm`` sub-folder
DEFAULT_ENGINE_PATH = "/opt/ml/model/tensorrt_llm/1"
ENGINE_PATH_KEYS = ("gpt_model_path", "engine_dir")
#: what ``pbtxt fill``/``check`` read at most. A real config.pbtxt is ~10 KB (the biggest upstream template ~15 KB);
#: fill and check are linear, so anything up to this is handled (50 MB holding 666k placeholders: ~10 s CPU and
#: ~0.8 GB for ``pbtxt check``, ``bench/bench_pbtxt_check.py``); beyond it the file is refused, naming its size —
#: it cannot be a model configuration, and memory grows with it. (The preflight, core/check.py, stops at 4 MB.)
MAX_PBTXT_BYTES = 64 * 1024 * 1024

# --------------------------------------------------------------------------------------------------
# data: semantics per tag range, placeholders per template
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _data() -> dict:
    from ..data import load

    return load(DATA_FILE)


# what a tag may carry around a PEP 440 version: a ``trtllm-`` prefix and a ``-<git sha>`` suffix
_TAG_AFFIXES = re.compile(r"^(?:trtllm-)?(?P<version>.*?)(?:-[0-9a-f]{7,40})?$", re.IGNORECASE)


def parse_tag(tag: str) -> tuple[int, int, int]:
    """``v0.17.0.post1`` → ``(0, 17, 0)``; raises WizardError for anything else. The version inside the tag
    is read by :func:`versions.parse_version` (the one version parser)."""
    m = _TAG_AFFIXES.match((tag or "").strip())
    v = try_parse_version(m.group("version")) if m else None
    if v is None or v.epoch or not 2 <= len(v.release) <= 3:
        raise WizardError(f"unknown tag `{tag}`: not a release tag like v0.12.0, v0.17.0.post1 or v1.1.0rc6",
                          f"pass --tag with a release tag; known fill_template.py ranges: {known_ranges_text()}")
    r = v.release + (0,)
    return r[0], r[1], r[2]


def _version_tuple(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in s.split("."))


@dataclass(frozen=True)
class Semantics:
    """How one range of tags' ``fill_template.py`` behaves."""

    id: str
    label: str
    escaping: bool  # backslash escapes in the argument (v0.16+)
    defaults: tuple[tuple[str, str], ...]  # always substituted first (user keys override)
    assert_keys: bool  # the tool asserts each requested key occurs in the file (v0.19+)
    tag: str = ""  # the tag asked for

    @property
    def default_dict(self) -> dict[str, str]:
        return dict(self.defaults)


def _ranges() -> list[dict]:
    return _data()["ranges"]


def known_ranges_text() -> str:
    return "; ".join(r["label"] for r in _ranges())


def semantics_for(tag: str | None = None) -> Semantics:
    """The fill semantics of ``tag`` (``None``: the newest)."""
    ranges = _ranges()
    if tag is None or str(tag).strip() == "":
        chosen = ranges[-1]
        tag = "newest"
    else:
        ver = parse_tag(tag)
        chosen = None
        for r in ranges:
            lo = _version_tuple(r["from"])
            hi = _version_tuple(r["to"]) if r.get("to") else None
            if ver[: len(lo)] >= lo and (hi is None or ver[: len(hi)] < hi):
                chosen = r
                break
        if chosen is None:
            newest = ranges[-1].get("to")
            if newest and ver >= _version_tuple(newest) + (0,) * (3 - len(_version_tuple(newest))):
                raise WizardError(f"unknown tag `{tag}`: newer than any fill_template.py lmi-wizard knows "
                                  f"(newest: {ranges[-1]['label']})",
                                  "check the tag; if that release's tools/fill_template.py is unchanged, pass "
                                  "--tag of the newest known release (or leave --tag out)")
            raise WizardError(f"unknown tag `{tag}`: no fill_template.py is known for it",
                              f"known ranges: {known_ranges_text()}")
    return Semantics(
        id=chosen["id"], label=chosen["label"], escaping=bool(chosen["escaping"]),
        defaults=tuple((k, str(v)) for k, v in chosen["defaults"].items()),
        assert_keys=bool(chosen.get("assert_keys")), tag=str(tag),
    )


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


def parse_substitutions(s: str, sem: Semantics | None = None) -> ParsedSubstitutions:
    """Parse ``key:value,key2:value2`` like the tag's tool would, or better where the tool would crash."""
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


# --------------------------------------------------------------------------------------------------
# placeholders
# --------------------------------------------------------------------------------------------------

# a ${…} as it stands in the file (whatever is inside, up to the closing brace on the line), read left to right
# like ``re.findall(r"\$\{([^}\n]*)\}")`` (the same matches where group 2 is "}") but in one pass: a ``${`` whose
# line ends before any ``}`` is taken to the line end in one match (group 2 ""); findall would try again at every
# later ``${`` of that line, quadratic on a long line of them
_BRACED_SCAN = re.compile(r"\$\{([^}\n]*)(\}?)")
# the code part of a line: everything up to a ``#`` outside quotes (outside "…"/'…' strings, a backslash
# escaping the next character; a string left open runs to the line end); it always matches, so it never backtracks
_CODE_PREFIX = re.compile(r"""(?:[^"'#\n]+|"(?:[^"\\\n]+|\\.?)*"?|'(?:[^'\\\n]+|\\.?)*'?)*""")


def _comment_at(text: str, start: int, end: int) -> int:
    """Where the ``#`` comment of the line ``text[start:end]`` starts (``end`` when it has none)."""
    h = text.find("#", start, end)
    if h < 0:
        return end
    if text.find('"', start, h) < 0 and text.find("'", start, h) < 0:
        return h
    return _CODE_PREFIX.match(text, start, end).end()


class _CommentLines:
    """Is an offset outside a ``#`` comment? For increasing offsets, in linear total time: each line is
    looked at once, however many offsets fall into it."""

    def __init__(self, text: str):
        self.text, self.end, self.cs = text, -1, -1  # current line's end (its \\n) and comment start

    def live(self, pos: int) -> bool:
        if pos > self.end:
            t = self.text
            start = t.rfind("\n", max(self.end, 0), pos) + 1
            end = t.find("\n", pos)
            if end < 0:
                end = len(t)
            self.end, self.cs = end, _comment_at(t, start, end)
        return pos < self.cs


# string.Template's own pattern: $$ (escape), ${name}, $name
_TEMPLATE_RE = re.compile(r"\$(?:\$|\{([_a-zA-Z][_a-zA-Z0-9]*)\}|([_a-zA-Z][_a-zA-Z0-9]*))")
# every ``$name`` / ``${name}`` wherever it starts (also the one inside ``$$name``): one match per ``$``
_BARE_AT = re.compile(r"\$(?=\{([_a-zA-Z][_a-zA-Z0-9]*)\}|([_a-zA-Z][_a-zA-Z0-9]*))")


def placeholder_names(text: str, *, bare: bool = False) -> tuple[set[str], set[str]]:
    """Names of ``${name}`` placeholders: (outside comments, only inside ``#`` comments). With ``bare``,
    ``$name`` counts too (what ``string.Template`` substitutes; upstream templates only use ``${name}``).

    A name is live when any occurrence of its ``${name}`` (``$name`` too with ``bare``) stands before the
    ``#`` comment of its line — also one nested in a malformed ``${x${name}``. Linear: one regex pass collects
    the names, and only the lines holding a ``#`` are looked at again (a 50 MB file with 666k distinct names:
    well under a second of CPU)."""
    if bare:
        lines = _CommentLines(text)
        names = {b or n for b, n in _TEMPLATE_RE.findall(text) if b or n}
        live = set()
        for m in _BARE_AT.finditer(text):
            name = m.group(1) or m.group(2)
            if name in names and name not in live and lines.live(m.start()):
                live.add(name)
        return live, names - live
    found = _BRACED_SCAN.findall(text)
    names = {n for n, closed in found if closed}
    in_comment: dict[str, int] = {}  # name → occurrences after the # of their line
    pos = text.find("#")
    while pos >= 0:
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        if end < 0:
            end = len(text)
        cs = _comment_at(text, start, end)
        if text.find("${", cs, end) >= 0:  # the line's matches, read from its start as the whole-text pass did
            for m in _BRACED_SCAN.finditer(text, start, end):
                if m.start() >= cs and m.group(2):
                    in_comment[m.group(1)] = in_comment.get(m.group(1), 0) + 1
        pos = text.find("#", end)
    if not in_comment:
        return names, set()
    total = dict.fromkeys(in_comment, 0)
    for n, closed in found:
        if n in total and closed:
            total[n] += 1
    commented = {n for n, k in in_comment.items() if k == total[n]}
    if commented and any("${" in n for n in names):
        return _names_nested(text)
    return names - commented, commented


def _names_nested(text: str) -> tuple[set[str], set[str]]:
    """:func:`placeholder_names` for a text with ``${x${y}``: ``${y}`` also occurs there (where that part of the
    line is code, ``y`` is live). One pass over every match."""
    lines = _CommentLines(text)
    live: set[str] = set()
    names: set[str] = set()
    nested: dict[str, list[tuple[str, int, int]]] = {}  # last name inside ${x${y…} → (name, end, comment start)
    for m in _BRACED_SCAN.finditer(text):
        name = m.group(1)
        if not m.group(2):  # a ${ with no } on its line
            continue
        names.add(name)
        if "${" in name:
            lines.live(m.start())
            nested.setdefault(name.rsplit("${", 1)[1], []).append((name, m.end(), lines.cs))
            if m.start() < lines.cs:
                live.add(name)
        elif name not in live and lines.live(m.start()):
            live.add(name)
    commented = names - live
    for name in list(commented):
        token = "${" + name
        for outer, end, cs in nested.get(name.rsplit("${", 1)[-1], ()):
            if outer.endswith(token) and end - len(token) - 1 < cs:
                commented.discard(name)
                live.add(name)
                break
    return live, commented


def scan_template_tree(root: str | os.PathLike) -> dict:
    """``{model: {tag: {"live": [...], "commented": [...]}}}`` for ``root/<tag>/<model>/config.pbtxt``
    (how ``placeholders`` in the data file is built from the real upstream templates)."""
    root = Path(root)
    table: dict[str, dict[str, dict[str, list[str]]]] = {}
    for cfg in sorted(root.glob("*/*/config.pbtxt")):
        tag, model = cfg.parent.parent.name, cfg.parent.name
        live, commented = placeholder_names(cfg.read_text("utf-8"))
        table.setdefault(model, {})[tag] = {"live": sorted(live), "commented": sorted(commented)}
    for model in table:
        table[model] = dict(sorted(table[model].items(), key=lambda kv: parse_tag(kv[0])))
    return dict(sorted(table.items()))


def _table() -> dict:
    return _data()["placeholders"]


def _pretty_tag(tag: str) -> str:
    m = re.match(r"^trtllm-(.*?)(?:-[0-9a-f]{7,40})?$", tag)
    return f"TensorRT-LLM {m.group(1)}" if m else tag


def key_history(key: str, model: str | None = None) -> dict:
    """Where ``key`` occurs in the known templates: per model, first/last tag live, tags only commented."""
    out = {}
    for mdl, tags in _table().items():
        if model and mdl != model:
            continue
        live = [t for t, v in tags.items() if key in v["live"]]
        commented = [t for t, v in tags.items() if key in v["commented"]]
        if not live and not commented:
            continue
        order = list(tags)
        info = {"live": live, "commented": commented, "tags": order}
        if live:
            last = live[-1]
            after = order[order.index(last) + 1:]
            info["removed_in"] = after[0] if after and not any(t in live for t in after) else None
            info["commented_from"] = next((t for t in after if t in commented), None)
        out[mdl] = info
    return out


def explain_missing_key(key: str, live_names: Iterable[str], model: str | None = None) -> tuple[str, str, bool]:
    """Why ``key`` is not a placeholder of a file: (problem, fix, obsolete?)."""
    live_names = sorted(set(live_names))
    everywhere = key_history(key)  # every model's templates
    if model:
        info = everywhere.get(model)
        elsewhere = {} if info else everywhere
    else:  # model unknown: judge by tensorrt_llm first, then any model
        info = everywhere.get("tensorrt_llm") or next(iter(everywhere.values()), None)
        elsewhere = {}
    hist_any = elsewhere
    if info and info.get("live"):
        last = info["live"][-1]
        if info.get("removed_in"):
            gone = info["removed_in"]
            extra = ""
            if info.get("commented_from"):
                extra = f"; from {_pretty_tag(info['commented_from'])} it is only a comment (deprecated, no effect)"
            return (f"`{key}` is obsolete: upstream removed it from the templates in {_pretty_tag(gone)} "
                    f"(last in {_pretty_tag(last)}){extra}, and this file has no ${{{key}}}",
                    f"drop `{key}:…` from the substitution string (or pass --skip-obsolete)", True)
        first = info["live"][0]
        others = sorted(m for m in everywhere if model and m != model)
        also = f" (it is also a placeholder of {', '.join(others)})" if others else ""
        if first == info["tags"][0]:
            return (f"this file has no ${{{key}}} left: already filled, or its block was deleted{also}",
                    f"drop `{key}:…`, or run `lmi-wizard pbtxt check FILE` to see what is left", False)
        return (f"`{key}` is not a placeholder of this file; templates have it from {_pretty_tag(first)} on "
                f"— already filled, or the file is older than that{also}",
                f"drop `{key}:…`, or use the template of the matching release", False)
    if hist_any:
        models = ", ".join(sorted(hist_any))
        return (f"`{key}` is not a placeholder of this file; it belongs to the {models} config.pbtxt",
                f"fill it in that model's config.pbtxt, not here", False)
    close = difflib.get_close_matches(key, live_names, n=1, cutoff=0.6)
    if not close:
        close = [n for n in live_names if key in n or n in key][:1]
    if close:
        return (f"`{key}` is not a placeholder of this file — did you mean `{close[0]}`?",
                f"use `{close[0]}:…`; `lmi-wizard pbtxt check FILE` lists the placeholders left", False)
    return (f"`{key}` is not a placeholder of this file",
            "`lmi-wizard pbtxt check FILE` lists the placeholders it has", False)


# --------------------------------------------------------------------------------------------------
# fill
# --------------------------------------------------------------------------------------------------


@dataclass
class FillResult:
    text: str  # what fill_template.py -i writes
    original: str
    semantics: Semantics
    requested: dict[str, str]  # keys the user asked for (after skip_obsolete)
    defaults_used: dict[str, str]  # tag defaults that replaced a placeholder
    filled: list[str]  # placeholder names replaced
    skipped: list[str] = field(default_factory=list)  # obsolete keys dropped
    notes: list[str] = field(default_factory=list)
    path: str | None = None
    written: bool = False

    @property
    def printed(self) -> str:
        """What fill_template.py prints without -i (print() adds one newline)."""
        return self.text + "\n"

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @property
    def remaining(self) -> list[str]:
        return sorted(placeholder_names(self.text)[0])


def normalize_newlines(text: str) -> str:
    """What reading a file in Python text mode does (the tool reads that way)."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def model_of(text: str, path: str | os.PathLike | None = None) -> str | None:
    """The inflight_batcher_llm model a config belongs to (from ``name:`` or the folder name)."""
    known = set(_table())
    m = re.search(r'^name\s*:\s*"([^"]*)"', text[:20000], re.M)
    if m and m.group(1) in known:
        return m.group(1)
    if path is not None:
        parent = Path(path).parent.name
        if parent in known:
            return parent
    return None


def fill_text(text: str, substitutions: str | Mapping[str, str], *, tag: str | None = None, path: str | os.PathLike | None = None,
              skip_obsolete: bool = False) -> FillResult:
    """Fill ``text`` (the file's content, as read) like ``fill_template.py`` of ``tag`` would.

    ``substitutions`` — three forms, and which one you pass decides how values are read:

    * a **Mapping** ``{key: value}`` — PREFERRED from code (pipeline, TUI): every value is written VERBATIM,
      whatever the tag; no string syntax, no escaping, nothing to get wrong;
    * an :class:`EscapedSubstitutions` (what :func:`format_substitutions` returns) — read once, escape-aware,
      so values are verbatim too, whatever the tag;
    * a plain **str** — what a person typed for ``fill_template.py``: read exactly like that tag's tool
      reads it (byte-identical output): before v0.16 a backslash stays in the value, from v0.16 escapes are
      removed twice. Do NOT build such a string from values in code: pass the Mapping."""
    sem = semantics_for(tag)
    if isinstance(substitutions, Mapping):  # from code: values verbatim, no string syntax involved
        pairs = [(str(k), str(v)) for k, v in substitutions.items()]
        if not pairs:
            raise WizardError("nothing to fill: no substitutions given", "give at least one key:value")
        for k, _ in pairs:
            if not _KEY_RE.match(k):
                raise WizardError(f"`{_short(k)}` is not a placeholder name", "keys are the names inside ${…}")
        parsed = ParsedSubstitutions(pairs=pairs, notes=[], tool_accepts=True)
    elif isinstance(substitutions, EscapedSubstitutions):
        if not substitutions:
            raise WizardError("nothing to fill: no substitutions given", "give at least one key:value")
        return fill_text(text, dict(_lenient_parse(substitutions)), tag=tag, path=path, skip_obsolete=skip_obsolete)
    else:
        parsed = parse_substitutions(substitutions, sem)
    original = text
    text = normalize_newlines(text)
    notes = list(parsed.notes)
    for key, value in parsed.pairs:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise WizardError(f"the value of `{key}` is not valid UTF-8 text (bytes the terminal could not decode)",
                              "type the value again as plain text") from None
        if "\n" in value or "\r" in value or "\0" in value:
            notes.append(f"the value of `{key}` holds a line break or NUL: written as given (as fill_template.py "
                         "does), but a quoted pbtxt string cannot contain it — Triton will not parse the file")
    if text != original:
        notes.append("line endings become LF, as fill_template.py (text mode) writes them")
    live, commented = placeholder_names(text, bare="$" in text.replace("${", ""))
    model = model_of(text, path)
    requested: dict[str, str] = {}
    skipped: list[str] = []
    errors: list[tuple[str, str, bool]] = []
    for key, value in parsed.pairs:
        if key in live:
            requested[key] = value
        elif key in commented:
            requested[key] = value
            info = key_history(key).get(model or "tensorrt_llm", {})
            since = info.get("commented_from")
            notes.append(f"`{key}` only occurs inside a # comment here"
                         + (f" (deprecated, a comment since {_pretty_tag(since)})" if since else "")
                         + ": it is substituted there, as fill_template.py does, but has no effect")
        else:
            problem, fix, obsolete = explain_missing_key(key, live, model)
            if obsolete and skip_obsolete:
                skipped.append(key)
                notes.append(f"skipped: {problem}")
                continue
            errors.append((problem, fix, obsolete))
    if errors:
        problem, fix, _ = errors[0]
        more = f" (and {len(errors) - 1} more unknown key{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise WizardError(problem + more, fix)
    mapping = sem.default_dict
    mapping.update(requested)
    new = string.Template(text).safe_substitute(mapping)
    used_defaults = {k: v for k, v in sem.defaults if k not in requested and (k in live or k in commented)}
    filled = sorted(k for k in mapping if k in live or k in commented)
    res = FillResult(text=new, original=original, semantics=sem, requested=requested, defaults_used=used_defaults,
                     filled=filled, skipped=skipped, notes=notes, path=str(path) if path is not None else None)
    if not res.changed:
        res.notes.append("the fill changed nothing")
    return res


def _read_pbtxt(path: str | os.PathLike) -> str:
    import stat

    from ..base.fsutil import read_text

    try:
        st = os.stat(path)
    except OSError:
        st = None  # read_text names the problem
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        raise WizardError(f"{path} is not a regular file (a pipe, device or socket); it is not a config.pbtxt",
                          "pass the config.pbtxt file itself")
    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size > MAX_PBTXT_BYTES:
        raise WizardError(f"{path} is {st.st_size / 2**20:.1f} MiB ({st.st_size} bytes): not a config.pbtxt "
                          f"(they are ~10 KB; lmi-wizard reads at most {MAX_PBTXT_BYTES // 2**20} MiB)",
                          "pass the config.pbtxt of a model, e.g. triton_model_repo/tensorrt_llm/config.pbtxt")
    text = read_text(path, what="config.pbtxt", max_bytes=MAX_PBTXT_BYTES)
    if not looks_like_pbtxt(text):
        raise WizardError(f"{path} is not a pbtxt (Triton model configuration text)",
                          "pass the config.pbtxt of a model, e.g. triton_model_repo/tensorrt_llm/config.pbtxt")
    return text


def fill_file(path: str | os.PathLike, substitutions: str, *, tag: str | None = None, in_place: bool = False,
              skip_obsolete: bool = False) -> FillResult:
    """Fill the file at ``path``; with ``in_place`` write it atomically (mode kept)."""
    text = _read_pbtxt(path)
    res = fill_text(text, substitutions, tag=tag, path=path, skip_obsolete=skip_obsolete)
    if in_place:
        # like the tool's open(path, "w"): a symlink is written through (its target changes, the link stays)
        atomic_write_text(os.path.realpath(path) if os.path.islink(path) else path, res.text)
        res.written = True
    return res


# --------------------------------------------------------------------------------------------------
# scanner (protobuf text format, tolerant of ${…})
# --------------------------------------------------------------------------------------------------

# one match per token, leading whitespace folded in; a field name swallows its ":" (fewer matches: the
# scanner is linear and runs ~2 tokens per µs-ish in CPython, so big files stay usable)
_TOK = re.compile(
    r"""\s*(?:
       (\#[^\n]*)                                      # 1 comment
      |("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')     # 2 string
      |(\$\{[^}\n]*\})                                # 3 bare placeholder
      |([A-Za-z_][A-Za-z0-9_]*)(\s*:)?                  # 4 identifier, 5 its colon
      |([-+]?(?:[0-9]|\.[0-9])[0-9A-Za-z_.+-]*)         # 6 number
      |([{}\[\]<>:,;])                                  # 7 punctuation
      |(\S)                                             # 8 anything else
    )""",
    re.X,
)
_RECORDED_FIELDS = frozenset({"decoupled", "backend", "platform", "max_batch_size"})


def _unquote(tok: str) -> str:
    body = tok[1:-1]
    if "\\" not in body:
        return body
    try:
        return bytes(body, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return _unescape(body)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass(slots=True)
class _Frame:
    name: str
    kind: str  # "msg" | "list"
    start: int  # offset of the field name (or of "{" for list items)
    open_at: int  # offset of the opening bracket
    label: str | None = None  # name: "…" inside
    key: str | None = None  # key: "…" inside (parameters)
    index: int = 0  # items seen (lists)
    param_idx: int | None = None  # index in _Scan.params for a top-level parameters block


@dataclass(slots=True)
class _Value:
    path: list[_Frame]
    field: str
    kind: str  # str | ph | ident | num
    start: int
    end: int
    raw: str
    label: str | None = None  # precomputed field label (fast path); else from path
    param: str | None = None  # with label: the parameters key it sits in


@dataclass(slots=True)
class ParamBlock:
    key: str | None
    start: int  # offset of `parameters`
    end: int  # offset just after the closing bracket
    value: str | None = None  # string_value, unquoted
    value_span: tuple[int, int] | None = None
    in_list: bool = False


@dataclass
class _Scan:
    values: list[_Value] = field(default_factory=list)
    params: list[ParamBlock] = field(default_factory=list)
    mtp: tuple[int, int] | None = None  # model_transaction_policy { … } span of brackets (open, close)
    bad: int | None = None  # offset of the first character the tokenizer could not read


def _field_label(frames: list[_Frame], fld: str) -> str:
    """``max_batch_size``, ``input["encoder_input_features"].data_type``, ``parameters["gpt_model_type"]``…"""
    parts: list[str] = []
    prev: _Frame | None = None
    for i, f in enumerate(frames):
        if f.kind == "list":
            if i == len(frames) - 1:
                parts.append(f.name)
            prev = f
            continue
        label = f.key if f.name == "parameters" and f.key is not None else f.label
        if label is not None and (f.name == "parameters" or (prev is not None and prev.kind == "list")):
            parts.append(f'{f.name}["{label}"]')
        elif prev is not None and prev.kind == "list":
            parts.append(f"{f.name}[{f.index}]")
        else:
            parts.append(f.name)
        prev = f
    if parts and parts[0].startswith("parameters[") and parts[1:] in ([], ["value"]) and fld in ("string_value", ""):
        return parts[0]
    if fld and (not frames or frames[-1].kind != "list"):
        parts.append(fld)
    return ".".join(parts)


# The scanner only stops at what carries structure or a placeholder: brackets, strings, ${…}, comments and
# characters protobuf text cannot contain. Names, numbers, identifiers, ":" "," ";" are skipped by one
# C-speed character class; a token's field name is read back from the skipped gap. The common
# ``parameters { key: "…" value { string_value: "…" } }`` block is one match (top level only). Values of
# the few fields read as identifiers/numbers (decoupled, backend, platform, max_batch_size) are found by
# one pass of their own (str.find). Linear; bench/bench_pbtxt_check.py prints the figures.
_STR = r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_SQSTR = r"'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
_SKIP = r"[A-Za-z0-9_\s:,;.+\-]*(?:\#[^\n]*[A-Za-z0-9_\s:,;.+\-]*)*"  # names, numbers, punctuation, comments
# unreadable: one character, or a ``${`` with no ``}`` on its line up to the line end (one character there, the next
# match would read up to the line end again at every later ``${`` of that line: quadratic on a long line of them)
_GEN_ALTS = (_SKIP + r"(?:(" + _STR + "|" + _SQSTR + r")|(\$\{[^}\n]*\})|([{}\[\]<>])"
             r"|(\$\{[^}\n]*|[^A-Za-z0-9_\s:,;.+\-#])"
             r"|(\Z))")  # the end alternative: a match never fails, so the skip never backtracks
_GEN = re.compile(_GEN_ALTS)  # 1 string, 2 placeholder, 3 bracket, 4 unreadable, 5 end of text
_FAST = re.compile(  # 1 parameters block (2 key, 3 string_value), then _GEN's groups shifted by 3
    r"(?:\s*\#[^\n]*){0,16}\s*(parameters\s*:?\s*\{\s*key\s*:\s*(" + _STR + r")\s*value\s*:?\s*\{"
    r"\s*string_value\s*:\s*(" + _STR + r")\s*\}\s*\})|" + _GEN_ALTS)
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _recorded_positions(text: str) -> list[int]:
    """Offsets of the words in ``_RECORDED_FIELDS`` (whole words), ascending, plus a sentinel past the end.
    ``str.find`` per word: far faster than one regex alternation over the whole text."""
    out: list[int] = []
    n = len(text)
    for word in _RECORDED_FIELDS:
        i = text.find(word)
        while i >= 0:
            j = i + len(word)
            if (i == 0 or text[i - 1] not in _WORD_CHARS) and (j >= n or text[j] not in _WORD_CHARS):
                out.append(i)
            i = text.find(word, j)
    out.sort()
    out.append(n + 1)
    return out


def _gap_name(text: str, gs: int, ts: int) -> tuple[str, int] | None:
    """The field name at the end of the skipped gap ``text[gs:ts]`` (``name``, ``name:``) and its offset."""
    g = text[gs:ts]
    if "#" in g:  # the gap holds comments (no strings): the name is on the last line with code before a #
        end = len(g)
        while True:
            ls = g.rfind("\n", 0, end) + 1
            code = g[ls:end].split("#", 1)[0]
            if code.strip() or ls == 0:
                g = g[:ls] + code  # a prefix of the gap: offsets stay right
                break
            end = ls - 1
    g = g.rstrip()
    if g.endswith(":"):
        g = g[:-1].rstrip()
    if not g or g[-1] not in _WORD_CHARS:
        return None
    w = g.rsplit(None, 1)[-1]
    if not w.isidentifier():
        for sep in ":,;.+-":
            w = w.rsplit(sep, 1)[-1]
        if not w.isidentifier():
            return None
    return w, gs + len(g) - len(w)
_RECORDED_VALUE = re.compile(
    r"([A-Za-z_]+)\s*:?\s*([-+]?(?:[0-9]|\.[0-9])[0-9A-Za-z_.+-]*|[A-Za-z_][A-Za-z0-9_]*)(?![0-9A-Za-z_.+-])(?!\s*:)")
_PARAM_VALUE_PATH = [_Frame("parameters", "msg", -1, -1), _Frame("value", "msg", -1, -1)]


def _scan(text: str) -> _Scan:
    with _gc_paused():
        return _scan_text(text)


def _scan_text(text: str) -> _Scan:
    sc = _Scan()
    stack: list[_Frame] = []
    values = sc.values
    params = sc.params
    rec = _recorded_positions(text)
    ri = 0
    pos = 0
    fast_match, gen_match = _FAST.match, _GEN.match
    while True:
        off = 0  # _FAST has 3 groups before _GEN's
        if stack:
            m = gen_match(text, pos)
            gi = m.lastindex
        else:
            m = fast_match(text, pos)
            gi = m.lastindex
            if gi <= 3:  # a whole top-level parameters { key value { string_value } } block
                key_tok, val_tok = m.group(2, 3)
                key = key_tok[1:-1] if "\\" not in key_tok else _unquote(key_tok)
                vs = m.start(3)
                ve = vs + len(val_tok)
                end = m.end()
                params.append(ParamBlock(key, m.start(1), end,
                                         val_tok[1:-1] if "\\" not in val_tok else _unquote(val_tok), (vs, ve)))
                if "${" in val_tok:
                    values.append(_Value(_PARAM_VALUE_PATH, "string_value", "str", vs, ve, val_tok,
                                         f'parameters["{key}"]', key))
                pos = end
                continue
            gi -= 3
            off = 3
        ts = m.start(gi + off)
        # identifier/number values of the recorded fields in the skipped gap [pos, ts)
        while rec[ri] < ts:
            p = rec[ri]
            ri += 1
            if p < pos or (stack and (len(stack) > 1 or stack[-1].kind == "list")):
                continue
            if text.find("#", max(pos, text.rfind("\n", 0, p) + 1), p) >= 0:  # inside a comment
                continue
            b = p - 1
            while b >= pos and text[b] in " \t\r\n":
                b -= 1
            if b >= pos and text[b] == ":":  # the word is a value, not a field name
                continue
            v = _RECORDED_VALUE.match(text, p, ts)
            if v is not None:
                tok = v.group(2)
                values.append(_Value(list(stack), v.group(1), "num" if tok[0] in "+-.0123456789" else "ident",
                                     v.start(2), v.end(2), tok))
        if gi == 5:  # end of text
            break
        gs, pos = pos, m.end()
        if gi == 4:
            if sc.bad is None:
                sc.bad = ts
            continue
        tok = m.group(gi + off)
        if gi == 3:
            if tok == "}" or tok == ">":
                if stack and stack[-1].kind == "msg":
                    fr = stack.pop()
                    if fr.param_idx is not None:
                        params[fr.param_idx].end = pos
                    if fr.name == "model_transaction_policy" and not stack:
                        sc.mtp = (fr.open_at, ts)
                continue
            if tok == "]":
                if stack and stack[-1].kind == "list":
                    stack.pop()
                continue
        top = stack[-1] if stack else None
        if top is not None and top.kind == "list":  # list items: named after the list
            if gi == 3:
                if tok == "[":
                    stack.append(_Frame("?", "list", ts, ts))
                    continue
                fr = _Frame(top.name, "msg", ts, ts, index=top.index)
                top.index += 1
                if len(stack) == 1 and top.name == "parameters":
                    fr.param_idx = len(params)
                    params.append(ParamBlock(None, ts, -1, in_list=True))
                stack.append(fr)
            elif gi == 2 or "${" in tok:
                values.append(_Value(list(stack), "", "ph" if gi == 2 else "str", ts, pos, tok))
            continue
        got = _gap_name(text, gs, ts)
        name, name_at = got if got is not None else ("?", ts)
        if gi == 3:  # { < [
            if tok == "[":
                stack.append(_Frame(name, "list", name_at, ts))
                continue
            fr = _Frame(name, "msg", name_at, ts)
            if name == "parameters" and not stack:
                fr.param_idx = len(params)
                params.append(ParamBlock(None, name_at, -1))
            stack.append(fr)
            continue
        # a string (1) or an unquoted placeholder (2), as the value of field `name`
        if gi == 2 or "${" in tok or (len(stack) <= 1 and name in _RECORDED_FIELDS):
            values.append(_Value(list(stack), name, "ph" if gi == 2 else "str", ts, pos, tok))
        if top is not None and gi == 1:
            if name == "name" and top.label is None:
                top.label = _unquote(tok)
            elif name == "key" and top.key is None:
                top.key = _unquote(tok)
                if top.param_idx is not None:
                    params[top.param_idx].key = top.key
            elif name == "string_value" and top.name == "value" and len(stack) >= 2 \
                    and stack[-2].param_idx is not None:
                pb = params[stack[-2].param_idx]
                if pb.value_span is None:
                    pb.value = _unquote(tok)
                    pb.value_span = (ts, pos)
    return sc


#: top-level fields of Triton's inference.ModelConfig (model_config.proto), to tell a config.pbtxt from other
#: ``key: value`` text (``/proc/cpuinfo``, YAML…)
MODEL_CONFIG_FIELDS = frozenset({
    "backend", "batch_input", "batch_output", "cc_model_filenames", "default_model_filename", "dynamic_batching",
    "ensemble_scheduling", "input", "instance_group", "max_batch_size", "metric_tags", "model_metrics",
    "model_operations", "model_repository_agents", "model_transaction_policy", "model_warmup", "name",
    "optimization", "output", "parameters", "platform", "response_cache", "runtime", "sequence_batching",
    "version_policy",
})


def looks_like_pbtxt(text: str) -> bool:
    """A cheap test that ``text`` is a Triton model configuration in protobuf text: the first field (after
    comments) is a top-level ``inference.ModelConfig`` field followed by ``:``, ``{`` or ``<``."""
    head = text[:65536]
    m = _TOK.match(head)
    while m is not None and m.lastindex == 1:
        m = _TOK.match(head, m.end())
    if m is None or m.lastindex not in (4, 5) or m.group(4) not in MODEL_CONFIG_FIELDS:
        return False
    if m.lastindex == 5:
        return True
    m2 = _TOK.match(head, m.end())
    while m2 is not None and m2.lastindex == 1:
        m2 = _TOK.match(head, m2.end())
    return m2 is not None and m2.group(7) in ("{", "<", ":")


# --------------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------------

#: quoted parameters that stop the model at load when left as ${…} (see the backend's model_instance_state.cc)
LOAD_FATAL_PARAMS = {
    "gpt_model_type": "the tensorrtllm backend stops on a gpt_model_type other than "
                      "V1/inflight_batching/inflight_fused_batching",
    "gpt_model_path": "the tensorrtllm backend finds no engine (\"Both encoder and decoder model paths are empty\")",
}
#: the same for python models (preprocessing/postprocessing load their tokenizer from these)
LOAD_FATAL_PYTHON_PARAMS = {
    "tokenizer_dir": "the python model cannot load its tokenizer",
    "tokenizer_type": "the python model rejects an unknown tokenizer_type",
}


@dataclass(slots=True)
class Placeholder:
    """A ``${…}`` left in a config.pbtxt: where it is and whether it blocks loading (a placeholder record,
    not a problem-with-fix: ``reason``/``fix`` say why it matters and what value it wants)."""

    file: str
    line: int
    name: str
    field: str
    kind: str  # "blocking" | "optional"
    reason: str = ""
    fix: str = ""
    param: str | None = None  # the parameters key, when it sits in a parameters block

    def to_json(self) -> dict:  # = dataclasses.asdict(self), without its deep copy (a big file has 100k's)
        return {"file": self.file, "line": self.line, "name": self.name, "field": self.field, "kind": self.kind,
                "reason": self.reason, "fix": self.fix, "param": self.param}


@dataclass
class CheckReport:
    file: str
    findings: list[Placeholder]
    parses: bool | None  # None: tritonclient/protobuf not installed
    parse_error: str | None
    decoupled: dict
    engine_path: dict
    notes: list[str]
    untouched_template_of: list[str]

    @property
    def blocking(self) -> list[Placeholder]:
        return [f for f in self.findings if f.kind == "blocking"]

    @property
    def optional(self) -> list[Placeholder]:
        return [f for f in self.findings if f.kind == "optional"]

    @property
    def ok(self) -> bool:
        """Nothing blocks: no blocking placeholder and the file parses (or parsing could not be tried)."""
        return not self.blocking and self.parses is not False

    def to_json(self) -> dict:
        return {
            "file": self.file, "parses": self.parses, "parse_error": self.parse_error, "ok": self.ok,
            "blocking": len(self.blocking), "optional": len(self.optional),
            "decoupled": self.decoupled, "engine_path": self.engine_path, "notes": self.notes,
            "untouched_template_of": self.untouched_template_of,
            "findings": [f.to_json() for f in self.findings],
        }


class _Lines:
    """Line numbers for increasing offsets in linear total time."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        if offset < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.line


def parse_model_config(text: str) -> tuple[bool | None, str | None]:
    """Does ``text`` parse as Triton's ``inference.ModelConfig``? (None when tritonclient is missing)."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError:  # pragma: no cover - both are runtime deps
        return None, "tritonclient[grpc] / protobuf not installed: cannot parse as inference.ModelConfig"
    try:
        text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as exc:
        return False, str(exc)
    except Exception as exc:  # protobuf may raise others on odd input
        return False, f"{type(exc).__name__}: {exc}"
    return True, None


def _parse_model_config(text: str, sc: _Scan) -> tuple[bool | None, str | None]:
    """:func:`parse_model_config`, cut short when the scan found an unquoted ``${…}``: protobuf's text parser
    stops at the first bad token, so parsing up to the end of that line gives the same error (same line and
    column) without splitting the rest of a big file."""
    first = min((v.start for v in sc.values if v.kind == "ph"), default=None)
    end = text.find("\n", first) if first is not None else -1
    if end >= 0:
        parses, err = parse_model_config(text[:end])
        at = re.match(r"(\d+):(\d+) :", err or "")
        line_start = text.rfind("\n", 0, first) + 1
        # the same error only when it is at or before the $ (an error at the cut would be the prefix's own end)
        if parses is False and at and (int(at[1]), int(at[2])) <= (text.count("\n", 0, first) + 1,
                                                                    first - line_start + 1):
            return parses, err
    return parse_model_config(text)


def _top_value(sc: _Scan, name: str) -> _Value | None:
    for v in sc.values:
        if not v.path and v.field == name:
            return v
    return None


def check_text(text: str, path: str | os.PathLike = "config.pbtxt", *,
               expected_engine_path: str | None = DEFAULT_ENGINE_PATH, parse: bool = True) -> CheckReport:
    """Review a config.pbtxt: unresolved placeholders, decoupled, engine path, parse result."""
    with _gc_paused():
        return _check_text(text, path, expected_engine_path=expected_engine_path, parse=parse)


@contextlib.contextmanager
def _gc_paused():
    """The scan makes one small object per token/finding and none of them form cycles: the cyclic GC's
    repeated full passes over a growing heap would make a big file quadratic-ish."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _check_text(text: str, path: str | os.PathLike, *, expected_engine_path: str | None, parse: bool) -> CheckReport:
    file = str(path)
    sc = _scan(text)
    lines = _Lines(text)
    backend_v = _top_value(sc, "backend")
    backend = _unquote(backend_v.raw) if backend_v is not None and backend_v.kind == "str" else None
    is_python = backend == "python"
    findings: list[Placeholder] = []
    for v in sc.values:
        raw = v.raw
        if v.kind == "ph":
            names = [raw[2:-1]]
        elif v.kind == "str" and "${" in raw:
            if raw.startswith('"${') and raw.find("}") == len(raw) - 2 and raw.count("$") == 1:
                names = [raw[3:-2]]  # the usual "${name}"
            else:
                names = [n for n, closed in _BRACED_SCAN.findall(raw) if closed]
        else:
            continue
        if not names:
            continue
        line = lines.at(v.start)
        if v.label is not None:
            fld, param = v.label, v.param
        else:
            fld = _field_label(v.path, v.field)
            param = next((f.key for f in v.path if f.name == "parameters" and f.key is not None), None)
        for name in names:
            if v.kind == "ph":
                kind, reason = "blocking", "unquoted: Triton cannot parse the file until it is filled"
                fix = f"fill `{name}`"
            elif param is not None and not is_python and param in LOAD_FATAL_PARAMS:
                kind, reason, fix = "blocking", LOAD_FATAL_PARAMS[param], f"fill `{name}`"
            elif param is not None and is_python and param in LOAD_FATAL_PYTHON_PARAMS:
                kind, reason, fix = "blocking", LOAD_FATAL_PYTHON_PARAMS[param], f"fill `{name}`"
            elif param is not None:
                kind = "optional"
                reason = "string_value parameter: the backend falls back to its default when it cannot read it"
                fix = f'fill `{name}` or delete the whole parameters {{ key: "{param}" … }} block'
            elif not v.path and v.field in ("backend", "platform"):
                kind, reason = "blocking", f"Triton looks for a backend literally named `{_unquote(v.raw)}` and fails to load"
                fix = f"fill `{name}` (tensorrt_llm: `tensorrtllm`)"
            else:
                kind, reason, fix = "blocking", "Triton uses this string literally", f"fill `{name}`"
            findings.append(Placeholder(file, line, name, fld, kind, reason, fix, param))
    notes: list[str] = []
    # decoupled
    dec: dict = {"value": None, "line": None, "state": "missing"}
    for v in sc.values:
        if len(v.path) == 1 and v.path[0].name == "model_transaction_policy" and v.field == "decoupled":
            dec = {"value": v.raw, "line": lines.at(v.start)}
            # protobuf's text format booleans, exactly (it rejects "TRUE"; Triton parses with it)
            dec["state"] = "placeholder" if v.kind == "ph" else (
                "true" if v.raw in ("true", "True", "t", "1") else
                "false" if v.raw in ("false", "False", "f", "0") else "invalid")
            break
    if dec["state"] == "missing":
        notes.append("no model_transaction_policy { decoupled: … }: Triton treats the model as not decoupled; "
                     "the tutorial sets decoupled: True")
    elif dec["state"] == "false":
        notes.append(f"decoupled is {dec['value']} (line {dec['line']}); the tutorial sets "
                     "model_transaction_policy { decoupled: True }")
    elif dec["state"] == "invalid":
        notes.append(f"decoupled has the value {dec['value']!r} (line {dec['line']}), which is not a boolean")
    # engine path
    eng: dict = {"param": None, "value": None, "line": None, "state": "missing", "expected": expected_engine_path}
    for pb in sc.params:
        if pb.key in ENGINE_PATH_KEYS:
            eng.update(param=pb.key, value=pb.value, line=lines.at(pb.value_span[0]) if pb.value_span else lines.at(pb.start))
            val = pb.value or ""
            if "${" in val:
                eng["state"] = "placeholder"
            elif not val:
                eng["state"] = "empty"
            elif not val.startswith("/"):
                eng["state"] = "relative"
            elif expected_engine_path and val.rstrip("/") == expected_engine_path.rstrip("/"):
                eng["state"] = "ok"
            elif val.startswith("/opt/ml/model/"):
                eng["state"] = "other_container_path"
            else:
                eng["state"] = "host_path"
            break
    if backend in ("tensorrtllm", "${triton_backend}") or (eng["param"] is not None):
        msgs = {
            "placeholder": f"engine path {eng['param']} is still a placeholder; inside the LMI container it must be "
                           f"{expected_engine_path}",
            "empty": f"engine path {eng['param']} is empty; it must be {expected_engine_path}",
            "relative": f"engine path {eng['value']!r} is relative; it must be the path inside the serving "
                        f"container, {expected_engine_path}",
            "host_path": f"engine path {eng['value']!r} looks like a path on this machine; inside the LMI container "
                         f"the engines are at {expected_engine_path}",
            "other_container_path": f"engine path {eng['value']!r} differs from {expected_engine_path}: make sure the "
                                    "folder name matches the one uploaded",
            "missing": "no gpt_model_path parameter: the tensorrtllm backend cannot find the engines",
        }
        if eng["state"] in msgs and not (eng["state"] == "missing" and backend is None):
            notes.append(msgs[eng["state"]])
    # untouched template? (every name found above is live, so only a template holding all of them can match:
    # a file with other names skips the whole-text pass)
    found = {f.name for f in findings}
    candidates = [(f"{tag}/{model}", set(v["live"])) for model, tags in _table().items()
                  for tag, v in tags.items() if found <= set(v["live"])]
    live = placeholder_names(text)[0] if candidates else found
    untouched: list[str] = []
    if live:
        untouched = [name for name, tlive in candidates if tlive == live]
        if untouched:
            notes.append("the file still has every placeholder of the upstream template "
                         f"({', '.join(untouched[:3])}{'…' if len(untouched) > 3 else ''}): no fill was applied — "
                         "fill_template.py without -i only prints the result")
    parses, perr = (_parse_model_config(text, sc) if parse else (None, "not tried"))
    if sc.bad is not None:
        notes.append(f"unreadable character at line {lines.at(sc.bad)}")
    return CheckReport(file, findings, parses, perr, dec, eng, notes, untouched)


def check_file(path: str | os.PathLike, *, expected_engine_path: str | None = DEFAULT_ENGINE_PATH) -> CheckReport:
    return check_text(_read_pbtxt(path), path, expected_engine_path=expected_engine_path)


# --------------------------------------------------------------------------------------------------
# text transforms for a live diff preview
# --------------------------------------------------------------------------------------------------


def fill_key(text: str, key: str, value: str) -> str:
    """Replace every ``${key}`` (only that key; nothing else changes, ``$$`` included)."""
    if not _KEY_RE.match(key or ""):
        raise WizardError(f"`{key}` is not a placeholder name", "keys are the names inside ${…}")
    token = "${" + key + "}"
    if token not in text:
        problem, fix, _ = explain_missing_key(key, placeholder_names(text)[0], model_of(text))
        raise WizardError(problem, fix)
    return text.replace(token, value)


def _line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole lines when only whitespace is around it."""
    ls = text.rfind("\n", 0, start) + 1
    if text[ls:start].strip() == "":
        start = ls
    le = text.find("\n", end)
    le = len(text) if le < 0 else le
    if text[end:le].strip() == "":
        end = le + 1 if le < len(text) else le
    return start, end


def parameter_blocks(text: str) -> list[ParamBlock]:
    """Every top-level ``parameters`` block: key, offsets, ``string_value`` (unquoted) and its span."""
    return list(_scan(text).params)


def parameter_keys(text: str) -> list[str]:
    return [p.key for p in _scan(text).params if p.key is not None]


def delete_parameter(text: str, key: str) -> str:
    """Remove every top-level ``parameters { key: "<key>" … }`` block (whole lines)."""
    sc = _scan(text)
    blocks = [p for p in sc.params if p.key == key and p.end > 0]
    if not blocks:
        keys = [p.key for p in sc.params if p.key]
        close = difflib.get_close_matches(key, keys, n=1)
        hint = f" — did you mean `{close[0]}`?" if close else ""
        raise WizardError(f"no parameters block with key \"{key}\"{hint}",
                          "`lmi-wizard pbtxt check FILE` lists the parameters with placeholders")
    out = text
    for pb in sorted(blocks, key=lambda p: p.start, reverse=True):
        start, end = _line_span(out, pb.start, pb.end)
        if pb.in_list:
            # drop one adjacent comma so the list stays valid
            m = re.match(r"\s*,", out[end:])
            if m:
                end += m.end()
                end = _line_span(out, start, end)[1]
            else:
                before = out[:start].rstrip()
                if before.endswith(","):
                    start = len(before) - 1
        # don't leave two blank lines where the block was
        if end < len(out) and out[end] == "\n" and (start == 0 or out[start - 2: start] == "\n\n"):
            end += 1
        out = out[:start] + out[end:]
    return out


def set_decoupled(text: str, value: bool = True) -> str:
    """Set ``model_transaction_policy { decoupled: True|False }`` (adds the field or block if missing)."""
    lit = "True" if value else "False"
    sc = _scan(text)
    for v in sc.values:
        if len(v.path) == 1 and v.path[0].name == "model_transaction_policy" and v.field == "decoupled":
            return text[: v.start] + lit + text[v.end:]
    if sc.mtp is not None:
        open_at = sc.mtp[0]
        return text[: open_at + 1] + f"\n  decoupled: {lit}" + text[open_at + 1:]
    block = f"\nmodel_transaction_policy {{\n  decoupled: {lit}\n}}\n"
    mb = _top_value(sc, "max_batch_size")
    if mb is not None:
        le = text.find("\n", mb.end)
        le = len(text) if le < 0 else le
        return text[:le] + "\n" + block.rstrip("\n") + text[le:]
    return text + ("" if text.endswith("\n") or not text else "\n") + block.lstrip("\n")


def set_engine_path(text: str, path: str = DEFAULT_ENGINE_PATH, *, param: str = "gpt_model_path") -> str:
    """Set the engine path parameter's string_value (adds the parameters block if missing)."""
    sc = _scan(text)
    for pb in sc.params:
        if pb.key == param and pb.value_span is not None:
            s, e = pb.value_span
            return text[:s] + _quote(path) + text[e:]
    block = f'parameters: {{\n  key: "{param}"\n  value: {{\n    string_value: {_quote(path)}\n  }}\n}}\n'
    return text + ("" if text.endswith("\n") or not text else "\n") + block


def unified_diff(old: str, new: str, path: str = "config.pbtxt", *, context: int = 3) -> str:
    """A unified diff ``a/path`` → ``b/path`` (empty when equal)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}", n=context))
