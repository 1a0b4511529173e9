"""A tolerant scanner of protobuf text format that reads ``${…}`` where a value stands: fields, values,
``parameters`` blocks, each with its position (linear in the file size; bench/bench_pbtxt_check.py)."""

from __future__ import annotations

import contextlib
import gc
import re
from dataclasses import dataclass, field

from .subst import _unescape

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


def _recorded_values(text: str, rec: list[int], ri: int, pos: int, ts: int, stack: list[_Frame],
                     values: list[_Value]) -> int:
    """Identifier/number values of the recorded fields (``rec[ri:]``) in the skipped gap ``[pos, ts)``;
    returns the index of the first recorded position at or after ``ts``."""
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
    return ri


def _close(sc: _Scan, stack: list[_Frame], tok: str, pos: int, ts: int) -> None:
    """A closing bracket: ends the message or list on top (a stray one is ignored)."""
    if tok == "]":
        if stack and stack[-1].kind == "list":
            stack.pop()
        return
    if stack and stack[-1].kind == "msg":
        fr = stack.pop()
        if fr.param_idx is not None:
            sc.params[fr.param_idx].end = pos
        if fr.name == "model_transaction_policy" and not stack:
            sc.mtp = (fr.open_at, ts)


def _list_item(sc: _Scan, stack: list[_Frame], top: _Frame, gi: int, tok: str, ts: int, pos: int) -> None:
    """A token inside ``name: [ … ]``: items are named after the list."""
    if gi == 3:
        if tok == "[":
            stack.append(_Frame("?", "list", ts, ts))
            return
        fr = _Frame(top.name, "msg", ts, ts, index=top.index)
        top.index += 1
        if len(stack) == 1 and top.name == "parameters":
            fr.param_idx = len(sc.params)
            sc.params.append(ParamBlock(None, ts, -1, in_list=True))
        stack.append(fr)
    elif gi == 2 or "${" in tok:
        sc.values.append(_Value(list(stack), "", "ph" if gi == 2 else "str", ts, pos, tok))


_ATTRIBUTES = frozenset({"name", "key", "string_value"})


def _attribute(sc: _Scan, stack: list[_Frame], top: _Frame, name: str, tok: str, ts: int, pos: int) -> None:
    """A quoted ``name``/``key``/``string_value`` labels the message it sits in (and its parameters block)."""
    if name == "name" and top.label is None:
        top.label = _unquote(tok)
    elif name == "key" and top.key is None:
        top.key = _unquote(tok)
        if top.param_idx is not None:
            sc.params[top.param_idx].key = top.key
    elif name == "string_value" and top.name == "value" and len(stack) >= 2 and stack[-2].param_idx is not None:
        pb = sc.params[stack[-2].param_idx]
        if pb.value_span is None:
            pb.value = _unquote(tok)
            pb.value_span = (ts, pos)


def _scan_text(text: str) -> _Scan:
    """One pass over ``text``: ``_FAST`` at the top level, ``_GEN`` inside messages. What runs once per block
    or message of a big file (a whole parameters block, an opening bracket) stays inline: a call
    there cost 2-3 % of the scan (bench/bench_pbtxt_check.py); rarer cases are the helpers above."""
    sc = _Scan()
    stack: list[_Frame] = []
    values, params = sc.values, sc.params
    rec = _recorded_positions(text)
    ri = 0
    pos = 0
    fast_match, gen_match = _FAST.match, _GEN.match
    while True:
        if stack:
            m = gen_match(text, pos)
            gi = m.lastindex
            off = 0
        else:
            m = fast_match(text, pos)
            if m.lastindex <= 3:  # a whole parameters block (inline: the commonest match of a big file)
                key_tok, val_tok = m.group(2, 3)
                key = key_tok[1:-1] if "\\" not in key_tok else _unquote(key_tok)
                vs = m.start(3)
                ve = vs + len(val_tok)
                pos = m.end()
                params.append(ParamBlock(key, m.start(1), pos,
                                         val_tok[1:-1] if "\\" not in val_tok else _unquote(val_tok), (vs, ve)))
                if "${" in val_tok:
                    values.append(_Value(_PARAM_VALUE_PATH, "string_value", "str", vs, ve, val_tok,
                                         f'parameters["{key}"]', key))
                continue
            gi = m.lastindex - 3  # _FAST has 3 groups before _GEN's
            off = 3
        ts = m.start(gi + off)
        if rec[ri] < ts:
            ri = _recorded_values(text, rec, ri, pos, ts, stack, values)
        if gi == 5:  # end of text
            break
        gs, pos = pos, m.end()
        if gi == 4:
            if sc.bad is None:
                sc.bad = ts
            continue
        tok = m.group(gi + off)
        if gi == 3 and tok in "}>]":
            _close(sc, stack, tok, pos, ts)
            continue
        top = stack[-1] if stack else None
        if top is not None and top.kind == "list":
            _list_item(sc, stack, top, gi, tok, ts, pos)
            continue
        got = _gap_name(text, gs, ts)
        name, name_at = got if got is not None else ("?", ts)
        if gi == 3:  # { < [ (inline: once per message of a big file)
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
        if gi == 1 and top is not None and name in _ATTRIBUTES:
            _attribute(sc, stack, top, name, tok, ts, pos)
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
