"""Triton ``config.pbtxt``: fill placeholders like the tag's own ``tools/fill_template.py``.

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
  ignore unknown keys silently). ``ignore_unknown=True`` (``pbtxt fill --ignore-unknown``) is the drop-in
  mode: whatever the tag's tool accepts is accepted and written byte for byte as the tool writes it (a key
  given twice takes its last value), each key the tool ignores is named in :attr:`FillResult.warnings`
  with why, and where the v0.19+ tool's assertion stops, this stops too (tests/test_fill_corpus.py replays
  upstream's own command lines against the real tools). ``$name`` without braces counts as a placeholder there, since
  ``string.Template`` substitutes it too; the templates only use ``${name}``.
* ``fill_text`` also takes a mapping (what code should pass): values are used verbatim, no string
  syntax involved. ``format_substitutions`` returns an :class:`EscapedSubstitutions` string that
  ``fill_text`` also reads verbatim with any tag; only a plain ``str`` gets the tag's tool's reading.
  ``tool_substitutions(pairs, tag)`` builds the argument for the tag's own ``fill_template.py`` command.
"""

from __future__ import annotations

import difflib
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..base.errors import WizardError
from ..base.fsutil import atomic_write_text
from .scan import looks_like_pbtxt
from .semantics import Semantics, _data, parse_tag, semantics_for
from .subst import (
    _KEY_RE,
    EscapedSubstitutions,
    ParsedSubstitutions,
    _lenient_parse,
    _short,
    parse_substitutions,
)

#: where LMI mounts the model; the tutorial's engine path for a ``tensorrt_llm`` sub-folder
DEFAULT_ENGINE_PATH = "/opt/ml/model/tensorrt_llm/1"
ENGINE_PATH_KEYS = ("gpt_model_path", "engine_dir")
#: what ``pbtxt fill``/``check`` read at most. A real config.pbtxt is ~10 KB (the biggest upstream template ~15 KB);
#: fill and check are linear, so anything up to this is handled (50 MB holding 666k placeholders: ~10 s CPU and
#: ~0.8 GB for ``pbtxt check``, ``bench/bench_pbtxt_check.py``); beyond it the file is refused, naming its size —
#: it cannot be a model configuration, and memory grows with it. (The preflight, core/preflight/, stops at 4 MB.)
MAX_PBTXT_BYTES = 64 * 1024 * 1024


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


_NAMED_KEYS = 20  # an error line names this many of the other unknown keys, then counts the rest


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


def _table() -> dict:  # = semantics.placeholder_table()
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
            where = f"the {model} template" if model else "the templates"
            return (f"`{key}` is obsolete: upstream removed it from {where} in {_pretty_tag(gone)} "
                    f"(last in {_pretty_tag(last)}){extra}, and this file has no ${{{key}}}",
                    f"drop `{key}:…` from the substitution string (or pass --skip-obsolete)", True)
        first = info["live"][0]
        others = sorted(m for m in everywhere if model and m != model)
        also = f" (it is also a placeholder of {', '.join(others)})" if others else ""
        if first == info["tags"][0]:
            return (f"this file has no ${{{key}}} left: already filled, or its block was deleted{also}",
                    f"drop `{key}:…`, or run `lmi-wizard pbtxt check FILE` to see what is left", False)
        whose = f"the {model} template has" if model else "templates have"
        return (f"`{key}` is not a placeholder of this file; {whose} it from {_pretty_tag(first)} on "
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
    #: with ``ignore_unknown``: keys the file has no placeholder for (the tool ignores them silently)
    ignored: list[str] = field(default_factory=list)
    #: what the tool does silently and a person should hear about (one line each: the ignored keys, a key twice)
    warnings: list[str] = field(default_factory=list)
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
    name = m.group(1) if m and m.group(1) in known | {k.rsplit("/", 1)[-1] for k in known} else None
    if name is None and path is not None and Path(path).parent.name in known:
        name = Path(path).parent.name
    if name == "ensemble" and re.search(r'model_name\s*:\s*"multimodal_encoders"', text):
        return "multimodal/ensemble"  # all_models/multimodal/ensemble: not the plain one (its own key history)
    if name is not None and name not in known:
        return next(k for k in sorted(known) if k.rsplit("/", 1)[-1] == name)  # multimodal_encoders, whisper_bls
    return name


def tool_placeholders(text: str) -> set[str]:
    """The names ``string.Template(text).safe_substitute`` would replace — exactly what the tool fills (its own
    pattern: ``${name}`` and ``$name``, ``$$`` an escape; comments are text to it)."""
    return {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)
            if m.group("named") or m.group("braced")}


def fill_text(text: str, substitutions: str | Mapping[str, str], *, tag: str | None = None, path: str | os.PathLike | None = None,
              skip_obsolete: bool = False, ignore_unknown: bool = False) -> FillResult:
    """Fill ``text`` (the file's content, as read) like ``fill_template.py`` of ``tag`` would.

    ``substitutions`` — three forms, and which one you pass decides how values are read:

    * a **Mapping** ``{key: value}`` — PREFERRED from code (pipeline, TUI): every value is written VERBATIM,
      whatever the tag; no string syntax, no escaping, nothing to get wrong;
    * an :class:`EscapedSubstitutions` (what :func:`format_substitutions` returns) — read once, escape-aware,
      so values are verbatim too, whatever the tag;
    * a plain **str** — what a person typed for ``fill_template.py``: read exactly like that tag's tool
      reads it (byte-identical output): before v0.16 a backslash stays in the value, from v0.16 escapes are
      removed twice. Do NOT build such a string from values in code: pass the Mapping.

    ``ignore_unknown`` — the drop-in mode (``pbtxt fill --ignore-unknown``): everything the tag's tool accepts
    is accepted and the result is the tool's, byte for byte: a key the file has no placeholder for is ignored
    like the tool ignores it (named in :attr:`FillResult.warnings`, with why — obsolete, another model's, a
    typo), a key given twice takes its last value. From v0.19 the tool stops on a key that does not occur in
    the file at all (its ``assert key in text``): so does this, naming the key. Default (strict): any such key
    is an error naming the fix."""
    sem = semantics_for(tag)
    if ignore_unknown:
        return _fill_dropin(text, substitutions, sem, path)
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
            errors.append((problem, fix, key))
    if errors:
        problem, fix, _ = errors[0]
        shown = [f"`{_short(k)}`" for _, _, k in errors[1:1 + _NAMED_KEYS]]
        others = ", ".join(shown) + (f", … {len(errors) - 1 - len(shown)} more" if len(errors) - 1 > len(shown) else "")
        more = (f" (and {len(errors) - 1} more unknown key{'s' if len(errors) > 2 else ''}: {others})"
                if len(errors) > 1 else "")
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


def _fill_dropin(text: str, substitutions: str | Mapping[str, str], sem: Semantics,
                 path: str | os.PathLike | None) -> FillResult:
    """:func:`fill_text` with ``ignore_unknown``: the tag's tool, exactly, plus a warning per ignored key."""
    if isinstance(substitutions, Mapping):
        parsed = ParsedSubstitutions(pairs=[(str(k), str(v)) for k, v in substitutions.items()], notes=[],
                                     tool_accepts=True)
    elif isinstance(substitutions, EscapedSubstitutions):
        parsed = ParsedSubstitutions(pairs=_lenient_parse(substitutions), notes=[], tool_accepts=True)
    else:
        parsed = parse_substitutions(substitutions, sem, strict=False)
    if not parsed.pairs:
        raise WizardError("nothing to fill: no substitutions given", "give at least one key:value")
    original = text
    text = normalize_newlines(text)
    notes, warnings = list(parsed.notes), list(parsed.warnings)
    if text != original:
        notes.append("line endings become LF, as fill_template.py (text mode) writes them")
    names = tool_placeholders(text)
    model = model_of(text, path)
    commented = placeholder_names(text, bare=True)[1] if "#" in text else set()
    mapping = sem.default_dict
    ignored: list[str] = []
    for key, value in parsed.pairs:
        mapping[key] = value  # the tool's sub_dict[key] = value: unknown keys are in it too, without effect
        if key in names:
            if key in commented:
                info = key_history(key).get(model or "tensorrt_llm", {})
                since = info.get("commented_from")
                notes.append(f"`{key}` only occurs inside a # comment here"
                             + (f" (deprecated, a comment since {_pretty_tag(since)})" if since else "")
                             + ": it is substituted there, as fill_template.py does, but has no effect")
            continue
        if sem.assert_keys and key not in text:
            raise WizardError(f"fill_template.py of {sem.label} stops on `{_short(key)}`: the key does not occur in "
                              f"the file (its `assert key in text`), so it writes nothing",
                              f"drop `{_short(key)}:…` from the substitution string")
        if key in ignored:
            continue
        ignored.append(key)
        if not _KEY_RE.match(key):
            why = f"`{_short(key)}` is not a placeholder name"
        else:
            why = explain_missing_key(key, names, model)[0]
        warnings.append(f"ignored `{_short(key)}` (fill_template.py ignores it silently): {why}")
    new = string.Template(text).safe_substitute(mapping)
    requested = {k: v for k, v in parsed.pairs if k in names}
    used_defaults = {k: v for k, v in sem.defaults if k not in requested and k in names}
    res = FillResult(text=new, original=original, semantics=sem, requested=requested, defaults_used=used_defaults,
                     filled=sorted(k for k in mapping if k in names), notes=notes, path=str(path) if path is not None else None,
                     ignored=ignored, warnings=warnings)
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
              skip_obsolete: bool = False, ignore_unknown: bool = False) -> FillResult:
    """Fill the file at ``path``; with ``in_place`` write it atomically (mode kept)."""
    text = _read_pbtxt(path)
    res = fill_text(text, substitutions, tag=tag, path=path, skip_obsolete=skip_obsolete,
                    ignore_unknown=ignore_unknown)
    if in_place:
        # like the tool's open(path, "w"): a symlink is written through (its target changes, the link stays)
        atomic_write_text(os.path.realpath(path) if os.path.islink(path) else path, res.text)
        res.written = True
    return res
