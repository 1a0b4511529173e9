"""The schema's building blocks: :class:`Kind`, :class:`Choice`, :class:`Field`, :class:`Step`, :class:`FieldError`.

Pure data + callables (the idea of harlequin's ``options.py``, with the renderers kept out of core): the
Textual screens turn a :class:`Field` into an ``Input``/``Switch``/``Select``, the plain mode into a questionary
prompt, the recipe loader into a typed TOML value. Every callable of a field takes the current ``Answers``
(which carries the ``Context``: detection results, the checkout, discovered flags)::

    default(answers) -> value            choices(answers) -> list[Choice | value]
    visible_if(answers) -> bool          validator(value, answers) -> Finding | None
    Step.checks(answers) -> Iterable[Finding]    (cross-field rules and gates, ``Finding.key`` = the field)

Parsing is one small typed function per :class:`Kind` (:data:`PARSERS`); the mapping text form
(``"k:v,k2:v2"``, fill_template's syntax) is :func:`parse_mapping` / :func:`format_mapping`.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

from ..base.errors import WizardError
from ..base.findings import Finding

if TYPE_CHECKING:  # the answers module imports this one
    from .answers import Answers

__all__ = ["Kind", "Choice", "Field", "Step", "FieldError", "PARSERS", "parse_mapping", "format_mapping"]


class Kind(str, Enum):
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    PATH = "path"
    SECRET = "secret"  # never stored; read from Field.env
    MAPPING = "mapping"  # key:value pairs; text form "k:v,k2:v2" (escape , and : with a backslash)
    LIST = "list"  # strings; text form "a,b,c"


@dataclass(frozen=True)
class Choice:
    value: Any
    label: str = ""
    help: str = ""

    @property
    def title(self) -> str:
        return self.label or str(self.value)


class FieldError(WizardError):
    """A value that does not fit its field (wrong type, not one of the choices, rejected by validation)."""

    def __init__(self, key: str, problem: str, fix: str | None = None):
        super().__init__(f"{key}: {problem}", fix)
        self.key = key
        self.message = problem


Callback = Callable[["Answers"], Any]
Validator = Callable[[Any, "Answers"], Optional[Finding]]

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# --------------------------------------------------------------------------------------------------
# one parser per kind: (field, raw) -> value; raw is never None here. Raise FieldError.


def one_line(f: "Field", value: str) -> str:
    """Values end up in shell scripts, logs and config files: a newline or another control character
    in one is never meant (and would let a value write commands into ``lmi-wizard plan``'s script)."""
    bad = _CONTROL_RE.search(value)
    if bad:
        raise FieldError(f.key, f"contains a control character ({bad.group()!r}) in {value[:60]!r}",
                         "write it on one line, without tabs or other control characters")
    return value


def check_range(f: "Field", value: float) -> None:
    if f.minimum is not None and value < f.minimum:
        raise FieldError(f.key, f"{value} is below the minimum {f.minimum:g}", f"use a value of at least {f.minimum:g}")
    if f.maximum is not None and value > f.maximum:
        raise FieldError(f.key, f"{value} is above the maximum {f.maximum:g}", f"use a value of at most {f.maximum:g}")


_TRUE = ("true", "yes", "y", "on", "1", "enable", "enabled")
_FALSE = ("false", "no", "n", "off", "0", "disable", "disabled", "")


def _parse_bool(f: "Field", raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    raise FieldError(f.key, f"expected true or false, got {raw!r}", "write true or false")


def _read_int(raw: Any) -> Optional[int]:
    """A whole number from text (``2``, `` 1_000 ``; empty text: None) or a number; ValueError/TypeError if not one."""
    if isinstance(raw, str):
        s = raw.strip().replace("_", "")
        return int(s, 10) if s else None
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, int):
        return raw
    raise TypeError(raw)


def _read_float(raw: Any) -> Optional[float]:
    """A number from text (empty text: None) or an int/float; ValueError/TypeError if not one."""
    if isinstance(raw, str):
        s = raw.strip()
        return float(s) if s else None
    if isinstance(raw, (int, float)):
        return float(raw)
    raise TypeError(raw)


def _parse_number(f: "Field", raw: Any, read: Callable[[Any], Any], what: str, example: str) -> Any:
    """``read(raw)`` within the field's range (None for empty text); a boolean is not a number. One FieldError
    when it is not one."""
    try:
        if isinstance(raw, bool):
            raise TypeError(raw)
        value = read(raw)
    except (ValueError, TypeError):
        raise FieldError(f.key, f"expected {what}, got {raw!r}", f"write a number such as {example}") from None
    if value is not None:
        check_range(f, value)
    return value


def _parse_int(f: "Field", raw: Any) -> Optional[int]:
    return _parse_number(f, raw, _read_int, "a whole number", "2")


def _parse_float(f: "Field", raw: Any) -> Optional[float]:
    return _parse_number(f, raw, _read_float, "a number", "0.9")


def _parse_mapping_value(f: "Field", raw: Any) -> dict:
    if isinstance(raw, str):
        raw = parse_mapping(raw, key=f.key)
    if not isinstance(raw, Mapping):
        raise FieldError(f.key, f"expected key:value pairs, got {raw!r}", "write k:v,k2:v2")
    out = {}
    for kk, vv in raw.items():
        if not isinstance(vv, (str, int, float, bool)):
            raise FieldError(f.key, f"value of {kk!r} must be a string, number or boolean",
                             "write key = \"value\" pairs")
        one_line(f, str(kk))
        if isinstance(vv, str):
            one_line(f, vv)
        out[str(kk)] = vv
    return out


def _parse_list(f: "Field", raw: Any) -> list:
    if isinstance(raw, str):
        raw = [p.strip() for p in raw.split(",") if p.strip()]
    if isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
        for x in raw:
            one_line(f, x)
        return list(raw)
    raise FieldError(f.key, f"expected a list of strings, got {raw!r}", "write a,b,c")


def _parse_choice(f: "Field", raw: Any) -> Any:
    static = None if callable(f.choices) else f.options()
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
    if static and f.strict_choices:
        for c in static:
            if c.value == raw or (isinstance(raw, str) and str(c.value).lower() == raw.lower()):
                return c.value
        names = [str(c.value) for c in static]
        near = difflib.get_close_matches(str(raw), names, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise FieldError(f.key, f"{raw!r} is not one of {', '.join(names)}", f"{hint}pick one of {', '.join(names)}")
    if not isinstance(raw, (str, int, float, bool)):
        raise FieldError(f.key, f"expected one of the choices, got {raw!r}")
    return raw


def _parse_text(f: "Field", raw: Any) -> str:
    if not isinstance(raw, str):
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and f.kind is Kind.TEXT:
            return str(raw)
        raise FieldError(f.key, f"expected text, got {raw!r}", "write it as a quoted string")
    return one_line(f, raw.strip())


def _parse_secret(f: "Field", raw: Any) -> str:
    if not isinstance(raw, str):
        raise FieldError(f.key, f"expected text, got {raw!r}", "write it as a quoted string")
    return raw


#: how each kind turns what a widget/prompt/TOML gave into its value
PARSERS: dict[Kind, Callable[["Field", Any], Any]] = {
    Kind.BOOL: _parse_bool, Kind.INT: _parse_int, Kind.FLOAT: _parse_float, Kind.MAPPING: _parse_mapping_value,
    Kind.LIST: _parse_list, Kind.CHOICE: _parse_choice, Kind.TEXT: _parse_text, Kind.PATH: _parse_text,
    Kind.SECRET: _parse_secret,
}


# --------------------------------------------------------------------------------------------------
# fields and steps


def _visible(visible_if: Optional[Callable[["Answers"], bool]], answers: "Answers") -> bool:
    """A field's or step's ``visible_if``: shown when there is none, or when it cannot be decided (a rule that
    raises WizardError on half-given answers)."""
    if visible_if is None:
        return True
    try:
        return bool(visible_if(answers))
    except WizardError:
        return True


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    kind: Kind = Kind.TEXT
    help: str = ""
    default: Any = None  # a value, or a callable(answers)
    choices: Any = None  # a sequence of Choice/values, or a callable(answers) returning one
    validator: Optional[Validator] = None
    visible_if: Optional[Callable[["Answers"], bool]] = None
    advanced: bool = False
    required: bool = False
    placeholder: str = ""
    env: Optional[str] = None  # secret: the environment variable that holds it
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    strict_choices: bool = True  # False: the choices are suggestions, any text goes
    pin: Any = False  # a recipe always writes this value, defaulted or not (it describes the machine); or a
    # callable(value) -> bool: written when it says so (the load test: only when on, since recipes default to off)
    flag: Optional[str] = None  # its command-line spelling in the field-backed verbs, e.g. "--tp"
    aliases: tuple[str, ...] = ()  # older/other spellings a verb also accepts (``cli_argv`` writes ``flag``)
    #: the answers its default is derived from: while not set by hand it follows them (``Answers.is_derived``)
    derived_from: tuple[str, ...] = ()
    #: a value set by hand that differs from the derived one is a warning naming both (e.g. llama's example folder
    #: for a Baichuan model); off for fields where an own value is normal (a short name)
    warn_if_not_derived: bool = False

    # -- naming ------------------------------------------------------------------------------
    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def stored(self) -> bool:
        """Whether the value may be written to a recipe / state file (secrets never are)."""
        return self.kind is not Kind.SECRET

    # -- dynamic parts -----------------------------------------------------------------------
    def pins(self, value: Any) -> bool:
        """Whether a recipe writes ``value`` even when it is the default (:attr:`pin`)."""
        return bool(self.pin(value)) if callable(self.pin) else bool(self.pin)

    def default_for(self, answers: "Answers") -> Any:
        if self.kind is Kind.SECRET:
            return os.environ.get(self.env) if self.env else None
        value = self.default(answers) if callable(self.default) else self.default
        if isinstance(value, (list, dict)):
            value = type(value)(value)  # never hand out a shared mutable default
        return value

    def options(self, answers: "Answers | None" = None) -> list[Choice]:
        """The choices as :class:`Choice` objects (empty when the field has none or they are unknown)."""
        raw = self.choices
        if callable(raw):
            if answers is None:
                from .answers import Answers

                answers = Answers()
            try:
                raw = raw(answers)
            except WizardError:
                raw = None
        return [item if isinstance(item, Choice) else Choice(item) for item in raw or ()]

    def is_visible(self, answers: "Answers") -> bool:
        return _visible(self.visible_if, answers)

    # -- values ------------------------------------------------------------------------------
    def parse(self, raw: Any) -> Any:
        """Turn what a widget/prompt/TOML gave into the field's type (:data:`PARSERS`). Raises
        :class:`FieldError`. ``""``/``None`` mean "not set" (``None``) for every kind except text/path (kept)
        and bool (``False``)."""
        if raw is None:
            return None
        return PARSERS[self.kind](self, raw)

    def format(self, value: Any) -> str:
        """The text form of a value, as a text widget/prompt shows it (inverse of :meth:`parse`)."""
        if value is None:
            return ""
        if self.kind is Kind.SECRET:
            return "********" if value else ""
        if self.kind is Kind.BOOL:
            return "true" if value else "false"
        if self.kind is Kind.MAPPING:
            return format_mapping(value)
        if self.kind is Kind.LIST:
            return ",".join(value)
        return str(value)

    def cli_argv(self, value: Any) -> list[str]:
        """The value spelled for the command line (``--tp 2``; a bool as ``--flag`` / ``--no-flag``); ``[]`` when
        the field has no flag or the value is unset."""
        if not self.flag or value is None:
            return []
        if self.kind is Kind.BOOL:
            return [self.flag if value else "--no-" + self.flag[2:]]
        return [self.flag, self.format(value)]

    def finding(self, problem: str, fix: str | None = None, *, code: str = "invalid-value",
                severity: str = "error") -> Finding:
        return Finding(severity, code, problem, fix, key=self.key)

    def check(self, value: Any, answers: "Answers") -> Optional[Finding]:
        """The problem with ``value`` in the context of ``answers`` (a :class:`Finding` keyed by this field),
        or None."""
        if value is None or value == "" or value == [] or value == {}:
            if self.required:
                return self.finding("required" + (f" — {self.placeholder}" if self.placeholder else ""),
                                    code="required")
            return None
        try:
            value = self.parse(value)
        except FieldError as exc:
            return self.finding(exc.message, exc.fix)
        if self.kind is Kind.CHOICE and self.strict_choices and callable(self.choices):
            opts = self.options(answers)
            if opts and value not in [c.value for c in opts]:
                names = [str(c.value) for c in opts]
                near = difflib.get_close_matches(str(value), names, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
                return self.finding(f"{value!r} is not one of: {shown}{hint}", f"write one of: {shown}",
                                    code="not-a-choice")
        if self.validator is None:
            return None
        try:
            found = self.validator(value, answers)
        except WizardError as exc:
            return self.finding(exc.problem, exc.fix)
        if found is None:
            return None
        if isinstance(found, str):  # a plain message (a validator written as a lambda)
            return self.finding(found)
        return found if found.key else found.with_(key=self.key)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    help: str = ""
    fields: tuple[Field, ...] = ()
    checks: Optional[Callable[["Answers"], Iterable[Finding]]] = None  # cross-field rules and gates
    visible_if: Optional[Callable[["Answers"], bool]] = None  # e.g. Triton config only for the Triton layout

    def is_visible(self, answers: "Answers") -> bool:
        return _visible(self.visible_if, answers)

    def visible_fields(self, answers: "Answers", *, advanced: bool = True) -> list[Field]:
        return [f for f in self.fields if f.is_visible(answers) and (advanced or not f.advanced)]



def parse_mapping(text: str, *, key: str = "value") -> dict[str, str]:
    """``"a:1,b:x\\,y"`` → ``{"a": "1", "b": "x,y"}``. ``\\,`` and ``\\:`` escape; empty text → ``{}``."""
    out: dict[str, str] = {}
    if not text.strip():
        return out
    items: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(ch + text[i + 1])
            i += 2
            continue
        if ch == ",":
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur))
    for item in items:
        if not item.strip():
            continue
        # split at the first unescaped ':'
        m = re.match(r"((?:\\.|[^:\\])*):(.*)\Z", item, re.S)
        if not m:
            raise FieldError(key, f"{item.strip()!r} is not a key:value pair",
                             "write key:value pairs separated by commas (escape , and : as \\, \\:)")
        k = _unescape(m.group(1)).strip()
        v = _unescape(m.group(2))
        if not k:
            raise FieldError(key, f"{item.strip()!r} has an empty key", "write key:value")
        out[k] = v
    return out


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def format_mapping(mapping: Mapping[str, Any]) -> str:
    def esc(s: str) -> str:
        return str(s).replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")

    parts = []
    for k, v in mapping.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        parts.append(f"{esc(k)}:{esc(v)}")
    return ",".join(parts)
