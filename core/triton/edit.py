"""Text transforms of a config.pbtxt for a live diff preview (nothing touches the disk): :func:`fill_key`,
:func:`delete_parameter`, :func:`set_decoupled`, :func:`set_engine_path`,
:func:`cap_max_batch_size`, :func:`unified_diff`."""

from __future__ import annotations

import difflib
import re

from ..base.errors import WizardError
from .check import _top_value
from .fill import DEFAULT_ENGINE_PATH, explain_missing_key, model_of, placeholder_names
from .scan import ParamBlock, _quote, _scan
from .subst import _KEY_RE

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


def cap_max_batch_size(text: str, engine_max: int) -> tuple[str, int | None]:
    """A literal top-level ``max_batch_size: N`` above the engine's ``engine_max`` lowered to it (the v0.5.0
    template hard-codes 128, which Triton would then send to an engine built for fewer). Returns the text and
    the old value when it changed (else None); a placeholder or a value within the engine's is left alone."""
    mb = _top_value(_scan(text), "max_batch_size")
    if mb is None or mb.kind != "num":
        return text, None
    try:
        old = int(mb.raw)
    except ValueError:
        return text, None
    if old <= engine_max:
        return text, None
    return text[: mb.start] + str(engine_max) + text[mb.end:], old


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
