"""One description of the wizard's steps and fields, rendered by both front ends.

Pure data + callables (the idea of harlequin's ``options.py``, with the renderers kept out of core):
the Textual screens turn a :class:`Field` into an ``Input``/``Switch``/``Select``, the plain mode into a
questionary ``text``/``confirm``/``select``/``password`` prompt, the recipe loader into a typed TOML value —
all from the same :data:`STEPS`. Nothing here imports a front end.

Every callable of a field takes the current :class:`Answers` (which carries the :class:`Context`: detection
results, the checkout, discovered flags)::

    default(answers) -> value            choices(answers) -> list[Choice | value]
    visible_if(answers) -> bool          validator(value, answers) -> str | None   (error message)

Keys are dotted, ``section.name``: the section is the recipe's TOML table (``build.tp`` → ``[build] tp``).
Fields of kind ``secret`` (tokens) are never stored: not in recipes, state files or logs; their value comes
from the environment variable named by ``Field.env`` or, for this process only, from what the user typed.

A front end drives a step like this::

    for f in step.visible_fields(answers, advanced=show_advanced):
        widget = render(f, value=answers[f.key], choices=f.options(answers))
        ...
        answers[f.key] = f.parse(raw_text)            # raises FieldError (a WizardError) on a bad value
    problems = validate_step(step, answers)           # errors block Next; warnings are shown
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from collections.abc import MutableMapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from ..base.errors import WizardError
from ..facts.versions import release_tuple, try_parse_version

__all__ = [
    "Kind", "Choice", "Field", "Step", "Problem", "FieldError", "Answers", "Context", "gpu_facts", "build_intent",
    "STEPS", "FIELDS", "step", "field", "steps_for", "validate_field", "validate_step", "validate_all",
    "resolve_layout", "resolve_tag", "lmi_model_id", "suggest_key", "parse_mapping", "format_mapping",
    "work_path", "local_source", "model_ref", "destination_text", "trtllm_version", "uses_backend_repo",
]


# --------------------------------------------------------------------------------------------------
# building blocks


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


@dataclass(frozen=True)
class Problem:
    key: str  # a field key, or the step key for a cross-field problem
    message: str
    severity: str = "error"  # "error" blocks Next / run; "warning" and "info" are shown

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


Callback = Callable[["Answers"], Any]


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    kind: Kind = Kind.TEXT
    help: str = ""
    default: Any = None  # a value, or a callable(answers)
    choices: Any = None  # a sequence of Choice/values, or a callable(answers) returning one
    validator: Optional[Callable[[Any, "Answers"], Optional[str]]] = None
    visible_if: Optional[Callable[["Answers"], bool]] = None
    advanced: bool = False
    required: bool = False
    placeholder: str = ""
    env: Optional[str] = None  # secret: the environment variable that holds it
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    strict_choices: bool = True  # False: the choices are suggestions, any text goes
    pin: bool = False  # a recipe always writes this value, defaulted or not (it describes the machine)

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
            try:
                raw = raw(answers if answers is not None else Answers())
            except WizardError:
                raw = None
        out: list[Choice] = []
        for item in raw or ():
            out.append(item if isinstance(item, Choice) else Choice(item))
        return out

    def is_visible(self, answers: "Answers") -> bool:
        if self.visible_if is None:
            return True
        try:
            return bool(self.visible_if(answers))
        except WizardError:
            return True

    # -- values ------------------------------------------------------------------------------
    def parse(self, raw: Any) -> Any:
        """Turn what a widget/prompt/TOML gave into the field's type. Raises :class:`FieldError`.

        ``""``/``None`` mean "not set" (``None``) for every kind except text/path (kept) and
        bool (``False``)."""
        k = self.kind
        if raw is None:
            return None
        if k is Kind.BOOL:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str):
                low = raw.strip().lower()
                if low in ("true", "yes", "y", "on", "1", "enable", "enabled"):
                    return True
                if low in ("false", "no", "n", "off", "0", "disable", "disabled", ""):
                    return False
            if isinstance(raw, int) and raw in (0, 1):
                return bool(raw)
            raise FieldError(self.key, f"expected true or false, got {raw!r}", "write true or false")
        if k is Kind.INT:
            if isinstance(raw, bool):
                raise FieldError(self.key, f"expected a whole number, got {raw!r}", "write a number such as 2")
            if isinstance(raw, str):
                s = raw.strip().replace("_", "")
                if s == "":
                    return None
                try:
                    raw = int(s, 10)
                except ValueError:
                    raise FieldError(self.key, f"expected a whole number, got {raw!r}",
                                     "write a number such as 2") from None
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            if not isinstance(raw, int):
                raise FieldError(self.key, f"expected a whole number, got {raw!r}", "write a number such as 2")
            self._check_range(raw)
            return raw
        if k is Kind.FLOAT:
            if isinstance(raw, bool):
                raise FieldError(self.key, f"expected a number, got {raw!r}", "write a number such as 0.9")
            if isinstance(raw, str):
                s = raw.strip()
                if s == "":
                    return None
                try:
                    raw = float(s)
                except ValueError:
                    raise FieldError(self.key, f"expected a number, got {raw!r}",
                                     "write a number such as 0.9") from None
            if not isinstance(raw, (int, float)):
                raise FieldError(self.key, f"expected a number, got {raw!r}", "write a number such as 0.9")
            raw = float(raw)
            self._check_range(raw)
            return raw
        if k is Kind.MAPPING:
            if isinstance(raw, str):
                raw = parse_mapping(raw, key=self.key)
            if isinstance(raw, Mapping):
                out = {}
                for kk, vv in raw.items():
                    if not isinstance(vv, (str, int, float, bool)):
                        raise FieldError(self.key, f"value of {kk!r} must be a string, number or boolean",
                                         "write key = \"value\" pairs")
                    self._one_line(str(kk))
                    if isinstance(vv, str):
                        self._one_line(vv)
                    out[str(kk)] = vv
                return out
            raise FieldError(self.key, f"expected key:value pairs, got {raw!r}", "write k:v,k2:v2")
        if k is Kind.LIST:
            if isinstance(raw, str):
                raw = [p.strip() for p in raw.split(",") if p.strip()]
            if isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
                for x in raw:
                    self._one_line(x)
                return list(raw)
            raise FieldError(self.key, f"expected a list of strings, got {raw!r}", "write a,b,c")
        if k is Kind.CHOICE:
            static = None if callable(self.choices) else self.options()
            if isinstance(raw, str):
                raw = raw.strip()
                if raw == "":
                    return None
            if static and self.strict_choices:
                for c in static:
                    if c.value == raw or (isinstance(raw, str) and str(c.value).lower() == raw.lower()):
                        return c.value
                names = [str(c.value) for c in static]
                near = difflib.get_close_matches(str(raw), names, n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                raise FieldError(self.key, f"{raw!r} is not one of {', '.join(names)}",
                                 f"{hint}pick one of {', '.join(names)}")
            if not isinstance(raw, (str, int, float, bool)):
                raise FieldError(self.key, f"expected one of the choices, got {raw!r}")
            return raw
        # text, path, secret
        if not isinstance(raw, str):
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and k is Kind.TEXT:
                return str(raw)
            raise FieldError(self.key, f"expected text, got {raw!r}", "write it as a quoted string")
        if k is Kind.SECRET:
            return raw
        return self._one_line(raw.strip())

    def _one_line(self, value: str) -> str:
        """Values end up in shell scripts, logs and config files: a newline or another control character
        in one is never meant (and would let a value write commands into ``lmi-wizard plan``'s script)."""
        bad = _CONTROL_RE.search(value)
        if bad:
            raise FieldError(self.key, f"contains a control character ({bad.group()!r}) in {value[:60]!r}",
                             "write it on one line, without tabs or other control characters")
        return value

    def _check_range(self, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise FieldError(self.key, f"{value} is below the minimum {self.minimum:g}",
                             f"use a value of at least {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise FieldError(self.key, f"{value} is above the maximum {self.maximum:g}",
                             f"use a value of at most {self.maximum:g}")

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

    def check(self, value: Any, answers: "Answers") -> Optional[str]:
        """Error message for ``value`` in the context of ``answers``, or None."""
        if value is None or value == "" or value == [] or value == {}:
            if self.required:
                return "required" + (f" — {self.placeholder}" if self.placeholder else "")
            return None
        try:
            value = self.parse(value)
        except FieldError as exc:
            return exc.message + (f" — fix: {exc.fix}" if exc.fix else "")
        if self.kind is Kind.CHOICE and self.strict_choices and callable(self.choices):
            opts = self.options(answers)
            if opts and value not in [c.value for c in opts]:
                names = [str(c.value) for c in opts]
                near = difflib.get_close_matches(str(value), names, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
                return f"{value!r} is not one of: {shown}{hint}"
        if self.validator is not None:
            try:
                return self.validator(value, answers)
            except WizardError as exc:
                return str(exc)
        return None


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    help: str = ""
    fields: tuple[Field, ...] = ()
    checks: Optional[Callable[["Answers"], Iterable[Problem]]] = None  # cross-field checks
    visible_if: Optional[Callable[["Answers"], bool]] = None  # e.g. Triton config only for the Triton layout

    def is_visible(self, answers: "Answers") -> bool:
        if self.visible_if is None:
            return True
        try:
            return bool(self.visible_if(answers))
        except WizardError:
            return True

    def visible_fields(self, answers: "Answers", *, advanced: bool = True) -> list[Field]:
        return [f for f in self.fields if f.is_visible(answers) and (advanced or not f.advanced)]


# --------------------------------------------------------------------------------------------------
# mapping text form (fill_template's "k:v,k2:v2" with v0.16+ backslash escapes)


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


# --------------------------------------------------------------------------------------------------
# context: facts the fields consult


class Context:
    """Detection results, the checkout and discovered flags, computed lazily and cached.

    Front ends and tests may set facts up front (``Context(installed_trtllm="0.12.0", gpu_count=2)``);
    otherwise the core detection modules are asked on first use. Every lookup tolerates a missing module or
    a failed detection (the answer is then ``None`` and the fields fall back to plain defaults).
    """

    def __init__(self, **facts: Any) -> None:
        self._facts: dict[str, Any] = dict(facts)
        self._lock = threading.RLock()

    def __contains__(self, name: str) -> bool:
        return name in self._facts

    def set(self, name: str, value: Any) -> None:
        with self._lock:
            self._facts[name] = value

    def forget(self, *names: str) -> None:
        with self._lock:
            for n in names or list(self._facts):
                self._facts.pop(n, None)

    def fact(self, name: str, compute: Callable[[], Any], *, cache_empty: bool = True) -> Any:
        """``compute()`` once, cached under ``name``; a failure reads as None. With ``cache_empty=False`` an
        empty or failed result is not kept (asked again next time: the checkout may exist by then)."""
        with self._lock:
            if name in self._facts:
                return self._facts[name]
        try:
            value = compute()
        except (WizardError, ImportError, OSError, ValueError):
            value = None
        if not cache_empty and not value:
            return value
        with self._lock:
            self._facts.setdefault(name, value)
            return self._facts[name]

    # --- detection (core/gpu.py, core/versions.py, core/target.py) -----------------------------
    @property
    def installed_trtllm(self) -> Optional[str]:
        """Installed tensorrt-llm version string, or None."""
        return self.fact("installed_trtllm", _detect_trtllm)

    @property
    def gpus(self) -> list:
        return self.fact("gpus", _detect_gpus) or []

    @property
    def gpu_count(self) -> Optional[int]:
        if "gpu_count" in self._facts:
            return self._facts["gpu_count"]
        g = self.gpus
        return len(g) if g else (0 if self.fact("gpus", _detect_gpus) is not None else None)

    @property
    def gpu_arch(self) -> Optional[str]:
        """e.g. ``sm90`` for the first GPU."""
        if "gpu_arch" in self._facts:
            return self._facts["gpu_arch"]
        for g in self.gpus:
            arch = getattr(g, "arch", None) or (g.get("arch") if isinstance(g, dict) else None)
            if arch:
                return arch
        return None

    @property
    def gpu_memory_bytes(self) -> Optional[int]:
        if "gpu_memory_bytes" in self._facts:
            return self._facts["gpu_memory_bytes"]
        for g in self.gpus:
            mem = getattr(g, "memory_total_bytes", None) or (
                g.get("memory_total_bytes") if isinstance(g, dict) else None)
            if mem:
                return int(mem)
        return None

    # --- the model (core/models.py) --------------------------------------------------------------
    def model_config(self, source: str | None, *, fetch: bool = False, endpoint: str | None = None,
                     token: str | None = None):
        """``core.models.ModelConfig`` of the model: a local folder is read at once; a Hub repo only with
        ``fetch=True`` (front ends call that from a worker) or when a front end set it before. None when
        unknown or unreadable."""
        if not source:
            return None
        key = f"model_config:{source}"
        if key in self._facts:
            return self._facts[key]
        p = Path(os.path.expanduser(str(source)))
        if not (p.is_dir() or fetch):
            return None
        from .. import models

        return self.fact(key, lambda: models.load_model_config(str(source), endpoint=endpoint, token=token),
                         cache_empty=False)

    # --- the checkout (core/checkout.py, core/models.py, core/flags.py) -------------------------
    def examples(self, checkout_dir: str | os.PathLike | None) -> list[str]:
        """Model example folder names of the checkout (empty when there is none yet)."""
        if not checkout_dir:
            return []
        key = f"examples:{os.fspath(checkout_dir)}"
        return self.fact(key, lambda: _list_examples(Path(checkout_dir)), cache_empty=False) or []


def _detect_trtllm() -> Optional[str]:
    from ..facts import versions

    return versions.detect_tensorrt_llm().version


def _detect_gpus() -> Optional[list]:
    """The GPUs (``core.gpu.GpuInfo``); ``[]`` when none is visible."""
    from ..facts import gpu

    state = gpu.detect_gpus()
    return list(state.gpus) if state.available else []


def _list_examples(checkout: Path) -> list[str]:
    try:
        from .. import models  # type: ignore[attr-defined]
    except ImportError:
        models = None
    fn = getattr(models, "list_examples", None) if models else None
    if callable(fn):
        res = fn(checkout, include_unbuildable=False)
        names = []
        for item in res:
            names.append(item if isinstance(item, str) else getattr(item, "name", str(item)))
        return names
    # minimal fallback: folders that hold a builder script
    names: set[str] = set()
    for base in (checkout / "tensorrt_llm" / "examples", checkout / "examples"):
        for sub in (base, base / "models" / "core", base / "models" / "contrib"):
            if sub.is_dir():
                for d in sub.iterdir():
                    if (d / "build.py").is_file() or (d / "convert_checkpoint.py").is_file():
                        names.add(d.name)
    return sorted(names)


# --------------------------------------------------------------------------------------------------
# answers


class Answers(MutableMapping):
    """The wizard's answers, keyed by field key; a key never set reads as its field's default.

    Secrets (kind ``secret``) are kept in memory only, never exported by :meth:`explicit`/:meth:`to_sections`.
    Setting a value parses it (``answers["build.tp"] = "2"`` stores ``2``) and raises :class:`FieldError`.
    """

    def __init__(self, values: Mapping[str, Any] | None = None, *, ctx: Context | None = None,
                 steps: Sequence[Step] | None = None) -> None:
        self.ctx = ctx if ctx is not None else Context()
        self.steps = tuple(steps) if steps is not None else STEPS
        self._fields = {f.key: f for s in self.steps for f in s.fields}
        self._values: dict[str, Any] = {}
        self._secrets: dict[str, str] = {}
        self._resolving: set[str] = set()
        for k, v in (values or {}).items():
            self[k] = v

    # mapping protocol over every field key
    def field(self, key: str) -> Field:
        try:
            return self._fields[key]
        except KeyError:
            raise FieldError(key, "no such setting", _suggest_fix(key, self._fields)) from None

    def __getitem__(self, key: str) -> Any:
        f = self.field(key)
        if f.kind is Kind.SECRET:
            return self._secrets.get(key) or f.default_for(self)
        if key in self._values:
            return self._values[key]
        if key in self._resolving:  # a default that depends on itself: treat as unset
            return None
        self._resolving.add(key)
        try:
            return f.default_for(self)
        except WizardError:
            return None
        finally:
            self._resolving.discard(key)

    def __setitem__(self, key: str, value: Any) -> None:
        f = self.field(key)
        parsed = f.parse(value)
        if f.kind is Kind.SECRET:
            if parsed:
                self._secrets[key] = parsed
            else:
                self._secrets.pop(key, None)
            return
        if parsed is None:
            self._values.pop(key, None)
        else:
            self._values[key] = parsed

    def __delitem__(self, key: str) -> None:
        self.field(key)
        self._values.pop(key, None)
        self._secrets.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Answers({self.explicit()!r})"

    def is_set(self, key: str) -> bool:
        self.field(key)
        return key in self._values or key in self._secrets

    def set_default(self, key: str, value: Any) -> None:
        """Set only when the user has not answered yet."""
        if not self.is_set(key):
            self[key] = value

    def update_from(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            self[k] = v

    def copy(self) -> "Answers":
        new = Answers(ctx=self.ctx, steps=self.steps)
        new._values = dict(self._values)
        new._secrets = dict(self._secrets)
        return new

    def explicit(self) -> dict[str, Any]:
        """Values the user set (no defaults, no secrets)."""
        return {k: v for k, v in self._values.items() if self._fields[k].stored}

    def resolved(self, *, include_hidden: bool = False) -> dict[str, Any]:
        """Every field's current value (defaults included, secrets excluded), visible fields only
        unless ``include_hidden``; ``None`` values are left out."""
        out = {}
        for s in self.steps:
            step_visible = s.is_visible(self)
            for f in s.fields:
                if not f.stored:
                    continue
                if not include_hidden and not (step_visible and f.is_visible(self)):
                    continue
                v = self[f.key]
                if v is not None:
                    out[f.key] = v
        return out

    def section(self, name: str) -> dict[str, Any]:
        """``{"tp": 2, ...}`` for section ``build``: every field of that section, defaults included."""
        return {f.name: self[f.key] for f in self._fields.values() if f.section == name and f.stored}

    def to_sections(self, *, include_defaults: bool = True) -> dict[str, dict[str, Any]]:
        """Nested ``{section: {name: value}}`` for a recipe (secrets never included)."""
        flat = self.resolved() if include_defaults else self.explicit()
        out: dict[str, dict[str, Any]] = {}
        for s in self.steps:  # keep the steps' order
            for f in s.fields:
                if f.key in flat:
                    out.setdefault(f.section, {})[f.name] = flat[f.key]
        return out

    def secret(self, key: str) -> Optional[str]:
        """A secret's value for this process (typed in, or from its environment variable)."""
        return self[key]

    def secret_values(self) -> list[str]:
        """Every secret value known (typed in or in the environment): what redaction must hide."""
        vals = set(v for v in self._secrets.values() if v)
        for f in self._fields.values():
            if f.kind is Kind.SECRET and f.env and os.environ.get(f.env):
                vals.add(os.environ[f.env])
        return sorted(vals)

    # convenience for the callables
    @property
    def layout(self) -> str:
        return resolve_layout(self)

    @property
    def tag(self) -> Optional[str]:
        return resolve_tag(self)


def suggest_key(key: str, known: Iterable[str]) -> Optional[str]:
    known = list(known)
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if near:
        return near[0]
    tail = key.rsplit(".", 1)[-1]
    tails = {k.rsplit(".", 1)[-1]: k for k in known}
    near = difflib.get_close_matches(tail, list(tails), n=1, cutoff=0.6)
    return tails[near[0]] if near else None


def _suggest_fix(key: str, known: Iterable[str]) -> str:
    near = suggest_key(key, known)
    return f"did you mean {near!r}?" if near else "see `lmi-wizard init` for every setting"


# --------------------------------------------------------------------------------------------------
# derived values used by several fields and by the pipeline


def trtllm_version(answers: Answers) -> Optional[str]:
    return answers["env.trtllm_version"]


def resolve_tag(answers: Answers) -> Optional[str]:
    """The git tag to check out: ``env.tag`` if set, else derived from the TensorRT-LLM version."""
    tag = answers["env.tag"] if answers.is_set("env.tag") else None
    if tag:
        return tag
    return _tag_for_version(trtllm_version(answers))


def _tag_for_version(version: str | None) -> Optional[str]:
    """``0.12.0`` → ``v0.12.0`` (derived from the version alone; the checkout step verifies the tag)."""
    if not version:
        return None
    from ..facts import versions

    try:
        return versions.resolve_tag(version).tag
    except (WizardError, ValueError):
        return None


def resolve_layout(answers: Answers) -> str:
    """``triton`` (LMI 0.25–0.32) or ``flat`` (LMI 0.33+): ``env.lmi_layout`` unless ``auto``; then from
    ``env.lmi_version`` when given, else from the TensorRT-LLM version (``core.target``)."""
    chosen = answers["env.lmi_layout"] or "auto"
    if chosen != "auto":
        return chosen
    from ..facts import target

    lmi = answers["env.lmi_version"]
    if lmi:
        try:
            found = target.layout_for_lmi(lmi)
            if found:
                return found
        except (WizardError, ValueError):
            pass
    version = trtllm_version(answers)
    if version:
        try:
            return target.layout_for_trtllm(version)
        except (WizardError, ValueError):
            pass
    return "triton"


def uses_backend_repo(answers: Answers) -> bool:
    """Up to 0.19.x the templates live in tensorrtllm_backend; from 0.20 in TensorRT-LLM/triton_backend."""
    # the tag first (a hand-set tag wins: ``v0.13.0-custom`` names the release it is based on), else the version
    tag = resolve_tag(answers)
    base = re.match(r"\s*v?\d+(?:\.\d+)+", tag) if tag else None
    parsed = (release_tuple(tag) or (release_tuple(base.group()) if base else None)
              or release_tuple(trtllm_version(answers)))
    return parsed is None or parsed < (0, 20, 0)


def work_path(answers: Answers, value: str | os.PathLike | None) -> Optional[Path]:
    """A path answer made absolute: relative paths are relative to ``checkout.work_dir``."""
    if value is None or value == "":
        return None
    p = Path(os.path.expanduser(os.fspath(value)))
    if not p.is_absolute():
        base = Path(os.path.expanduser(answers["checkout.work_dir"] or "."))
        p = base / p
    return Path(os.path.abspath(p))


def local_source(answers: Answers, value: str | os.PathLike | None) -> Optional[Path]:
    """A model or tokenizer source as a local folder (absolute; a relative one is relative to the work folder,
    like every other path answer), or None when it is a Hugging Face repo id. A value is local when it starts
    with ``/``, ``.`` or ``~``, or when a folder of that name exists in the work folder."""
    if value is None or value == "":
        return None
    text = os.fspath(value)
    p = work_path(answers, text)
    if text.startswith(("/", ".", "~")) or (p is not None and p.exists()):
        return p
    return None


def model_ref(answers: Answers, key: str = "model.source") -> Optional[str]:
    """``model.source`` (or another source field) as the builder / loader takes it: an absolute local folder,
    or the Hub repo id as written."""
    value = answers[key]
    if not value:
        return None
    local = local_source(answers, value)
    return str(local) if local is not None else str(value)


def destination_text(answers: Answers) -> Optional[str]:
    """``destination.uri`` with a local folder made absolute (relative to the work folder)."""
    dest = answers["destination.uri"]
    if not dest:
        return None
    if str(dest).lower().startswith("s3://"):
        return str(dest)
    return str(work_path(answers, dest))


def lmi_model_id(answers: Answers) -> Optional[str]:
    """The ``model_id`` LMI loads: Triton layout → the parent of the destination (two-folder rule);
    flat layout → the destination itself. None when the destination cannot work (see its validation)."""
    dest = destination_text(answers)
    if not dest:
        return None
    from .. import layout as layout_mod

    try:
        model_id, _ = layout_mod.destination_findings(dest, resolve_layout(answers))
    except WizardError:
        return None
    return model_id


def _default_model_name(answers: Answers) -> Optional[str]:
    src = answers["model.source"]
    if not src:
        return None
    name = Path(str(src).rstrip("/")).name or str(src)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower()
    return name or None


def _validate_tokenizer_source(value: str, answers: Answers) -> Optional[str]:
    p = local_source(answers, value)
    if p is not None:
        if not p.is_dir():
            return f"local folder {value} does not exist" if not p.exists() else f"{value} is a file, not a folder"
        if not any((p / n).is_file() for n in ("tokenizer_config.json", "tokenizer.json", "tokenizer.model")) \
                and not any(p.glob("*.tiktoken")):
            return f"{value} holds no tokenizer (tokenizer_config.json, tokenizer.json, tokenizer.model or *.tiktoken)"
        return None
    if not _is_hf_id(value):
        return f"{value!r} is neither a Hugging Face repo id (owner/name) nor an existing local folder"
    return None


def _is_hf_id(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}", s)) and ".." not in s


def _validate_model_source(value: str, answers: Answers) -> Optional[str]:
    p = local_source(answers, value)
    if p is not None:
        if not p.exists():
            return f"local folder {value} does not exist" + (f" ({p})" if str(p) != value else "")
        if not p.is_dir():
            return f"{value} is a file; a local model is a folder holding config.json"
        if not (p / "config.json").is_file():
            return f"{value} has no config.json; it is not a Hugging Face model folder"
        return None
    if not _is_hf_id(value):
        return (f"{value!r} is neither a Hugging Face repo id (owner/name, e.g. baichuan-inc/Baichuan-13B-Chat) "
                "nor an existing local folder")
    return None


def _examples_for(answers: Answers) -> list[str]:
    return answers.ctx.examples(_checkout_dir(answers))


def _checkout_dir(answers: Answers) -> Optional[Path]:
    return work_path(answers, answers["checkout.dir"])


def _default_example(answers: Answers) -> Optional[str]:
    """The example folder for the model's architecture (``core.models.pick_example``) when its config is
    known (a local folder, or fetched by a front end), else the folder whose name the model id contains."""
    examples = _examples_for(answers)
    if not examples:
        return None
    cfg = answers.ctx.model_config(model_ref(answers))
    if cfg is not None:
        from .. import models

        try:
            return models.pick_example(_checkout_dir(answers), cfg).name
        except (WizardError, OSError):
            pass
    src = (answers["model.source"] or "").lower()
    for ex in sorted(examples, key=len, reverse=True):
        if ex.lower() in src:
            return ex
    return None


def _default_rolling_batch(answers: Answers) -> Optional[int]:
    """The engine's max batch size: from the build answers, or read from a prebuilt engine's config.json."""
    if _method(answers) == "prebuilt":
        edir = work_path(answers, answers["build.engine_dir"])
        if edir is not None and (edir / "config.json").is_file():
            from .. import lmi

            try:
                mb = lmi.engine_info(edir).max_batch_size
            except (WizardError, OSError, ValueError):
                mb = None
            if mb:
                return mb
    return answers["build.max_batch_size"] or 64


def _validate_tp(value: int, answers: Answers) -> Optional[str]:
    if value < 1:
        return "must be at least 1"
    if value & (value - 1):
        return f"{value} is not a power of two; TensorRT-LLM shards over 1, 2, 4, 8 … GPUs"
    cfg = answers.ctx.model_config(model_ref(answers)) if answers["model.source"] else None
    fn = getattr(cfg, "tp_problem", None)
    if callable(fn):
        return fn(value)
    return None


def _validate_destination(value: str, answers: Answers) -> Optional[str]:
    from .. import layout as layout_mod

    if not value.lower().startswith("s3://"):
        value = str(work_path(answers, value)) if "://" not in value else value
    try:
        _, findings = layout_mod.destination_findings(value, resolve_layout(answers))
    except WizardError as exc:
        return str(exc)
    errs = layout_mod.errors(findings)
    if not errs:
        return None
    return errs[0].problem + (f" — fix: {errs[0].fix}" if errs[0].fix else "")


def _folder_problem(p: Optional[Path]) -> Optional[str]:
    """A folder the run creates or fills: it, or the first part of its path that exists, must be a folder."""
    if p is None:
        return None
    for part in (p, *p.parents):
        if part.exists():
            if not part.is_dir():
                return f"{part} is a file, not a folder" + (f" (on the way to {p})" if part != p else "")
            return None
    return None


def _validate_work_dir(value: str, answers: Answers) -> Optional[str]:
    return _folder_problem(Path(os.path.abspath(os.path.expanduser(value))))


def _validate_out_folder(value: str, answers: Answers) -> Optional[str]:
    """An output folder (relative to the work folder)."""
    return _folder_problem(work_path(answers, value))


#: parameters blocks Triton cannot load without (core.pbtxt.LOAD_FATAL_PARAMS) or that hold the engine path
#: (core.pbtxt.ENGINE_PATH_KEYS): never deleted, they must be filled
_UNDELETABLE_PARAMS = ("gpt_model_path", "gpt_model_type", "engine_dir")
_PARAM_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _validate_delete_params(value: list, answers: Answers) -> Optional[str]:
    """``triton.delete_params``: parameter keys (any name is accepted; one the template lacks is reported by
    the config step), but not a block Triton needs."""
    for key in value or ():
        if not _PARAM_KEY_RE.match(key):
            return f"{key!r} is not a parameters key (letters, digits, _ . -) — fix: write key,key2"
        if key in _UNDELETABLE_PARAMS:
            return (f"the parameters block {key} cannot be deleted: Triton needs it to load the engine — "
                    f"fix: remove {key} from the list and fill it instead")
    return None


def _validate_url(value: str, answers: Answers) -> Optional[str]:
    if not re.match(r"^(https?|file|ssh|git)://", value) and not re.match(r"^[\w.-]+@[\w.-]+:", value) \
            and not Path(value).is_absolute():
        return f"{value!r} is not a git URL (https://…, file://…, git@host:…) or an absolute path"
    return None


def _validate_endpoint(value: str, answers: Answers) -> Optional[str]:
    if not re.match(r"^https?://[^\s/]+", value):
        return f"{value!r} is not an http(s) URL"
    return None


_VERSION_HINT = "such as 0.12.0, 0.21.0rc1 or 0.17.0.post1"


def _validate_version(value: str, answers: Answers) -> Optional[str]:
    v = try_parse_version(str(value))
    if v is None or len(v.release) < 2:
        return f"{value!r} is not a version {_VERSION_HINT}"
    return None


def _validate_lmi_version(value: str, answers: Answers) -> Optional[str]:
    """An LMI (DJL Serving) release: a version, also DJL's nightly spelling ``0.33.0-SNAPSHOT``."""
    from ..facts.target import parse_lmi_version

    try:
        v = parse_lmi_version(str(value))
    except WizardError:
        v = None
    if v is None or len(v.release) < 2:
        return f"{value!r} is not an LMI version such as 0.30.0 or 0.33.0-SNAPSHOT"
    return None


def _validate_tag(value: str, answers: Answers) -> Optional[str]:
    if not re.fullmatch(r"v?\d+\.\d+\.\d+[\w.+-]*", value):
        return f"{value!r} is not a release tag such as v0.12.0"
    return None


def _validate_extra_flags(value: Mapping[str, Any], answers: Answers) -> Optional[str]:
    for k in value:
        if not re.fullmatch(r"--?[A-Za-z][\w-]*", k):
            return f"{k!r} is not a command-line flag (write it as --name)"
    return None


def _is_triton(answers: Answers) -> bool:
    return resolve_layout(answers) == "triton"


def _method(answers: Answers) -> str:
    return answers["build.method"] or "checkout"


def _builds_here(answers: Answers) -> bool:
    return _method(answers) == "checkout"


def _not_prebuilt(answers: Answers) -> bool:
    return _method(answers) != "prebuilt"


# --------------------------------------------------------------------------------------------------
# cross-field checks


def _check_environment(answers: Answers) -> Iterable[Problem]:
    version = trtllm_version(answers)
    installed = answers.ctx.installed_trtllm
    if not version:
        yield Problem("env.trtllm_version", "tensorrt-llm is not installed here and no version is given; "
                      "set the TensorRT-LLM version the engine is for (it picks the git tag and the LMI layout)")
    elif installed and release_tuple(version) is not None and release_tuple(installed) != release_tuple(version):
        yield Problem("env.trtllm_version", f"the recipe is for TensorRT-LLM {version} but {installed} is "
                      "installed; an engine built here will only load on the installed version", "warning")
    elif not installed and _builds_here(answers):
        yield Problem("env.trtllm_version", "tensorrt-llm is not installed here: the build step cannot run "
                      "on this machine (plan and review still work)", "warning")
    if answers.ctx.gpu_count == 0 and _builds_here(answers):
        yield Problem("env", "no NVIDIA GPU visible: engines can only be built on a GPU of the deployment's "
                      "architecture", "warning")


# where a core.flags finding belongs in the form
_FINDING_KEYS = {
    "parallel_size": "build.tp", "tp_pp_world": "build.tp", "world_gt_gpus": "build.tp", "tp_heads": "build.tp",
    "tp_kv_heads": "build.tp", "weights_memory": "build.tp", "pp_layers": "build.pp", "dtype": "build.dtype",
    "max_batch_size": "build.max_batch_size", "max_input_len": "build.max_input_len",
    "max_output_len": "build.max_output_len", "max_seq_len": "build.max_output_len",
    "workers": "build.parallel_build", "ifb_paged": "build.paged_kv_cache", "ifb_plugins": "build.inflight_batching",
    "context_fmha_sm": "build.context_fmha", "sm75_unsupported": "env.trtllm_version", "sm_too_old": "env",
}


def gpu_facts(ctx: "Context"):
    """``core.flags.GpuFacts`` of the first visible GPU (or of the facts a front end/test set), or None."""
    from ..build.flags import GpuFacts

    gpus = ctx.gpus
    if gpus:
        g = gpus[0]
        cc = getattr(g, "compute_capability", None)
        if cc:
            return GpuFacts.from_capability(getattr(g, "name", ""), tuple(cc), getattr(g, "memory_total_bytes", None),
                                            len(gpus))
    arch, count = ctx.gpu_arch, ctx.gpu_count
    m = re.fullmatch(r"sm(\d+)", arch or "")
    if m or count:
        return GpuFacts("", int(m.group(1)) if m else None, ctx.gpu_memory_bytes, count or 0)
    return None


def build_intent(answers: Answers, *, model_dir: str = "", output_dir: str | None = None):
    """The Build step's answers as a ``core.flags.BuildIntent`` (what the renderer and the validation take).
    ``build.extra_flags`` keys written ``convert:--flag`` go to convert_checkpoint.py, the others to the
    build step."""
    from ..build.flags import BuildIntent

    advanced: dict = {}
    convert: dict = {}
    for k, v in dict(answers["build.extra_flags"] or {}).items():
        if k.startswith("convert:"):
            convert[k.split(":", 1)[1]] = v
        else:
            advanced[k] = v
    return BuildIntent(
        model_dir=model_dir, output_dir=output_dir if output_dir is not None else str(answers["build.output_dir"]),
        dtype=answers["build.dtype"] or "float16", gemm_plugin=bool(answers["build.gemm_plugin"]),
        gpt_attention_plugin=bool(answers["build.gpt_attention_plugin"]), tp_size=answers["build.tp"] or 1,
        pp_size=answers["build.pp"] or 1, inflight_batching=bool(answers["build.inflight_batching"]),
        paged_kv_cache=answers["build.paged_kv_cache"], context_fmha=bool(answers["build.context_fmha"]),
        remove_input_padding=bool(answers["build.remove_input_padding"]),
        parallel_build=bool(answers["build.parallel_build"]), max_batch_size=answers["build.max_batch_size"],
        max_input_len=answers["build.max_input_len"], max_output_len=answers["build.max_output_len"],
        advanced=advanced, advanced_convert=convert)


def _check_build(answers: Answers) -> Iterable[Problem]:
    method = _method(answers)
    if method == "prebuilt":
        if not answers["build.engine_dir"]:
            yield Problem("build.engine_dir", "required when the build method is 'prebuilt'")
        return
    mi, mo = answers["build.max_input_len"], answers["build.max_output_len"]
    if mi and mo and mi + mo > 1_048_576:
        yield Problem("build.max_output_len", "max input + output length is implausibly large")
    if method == "checkout" and not answers["model.example"]:
        yield Problem("model.example", "pick the example folder whose builder fits this model")
    # the version/GPU/model-aware rules live in core.flags
    from ..build.flags import validate_intent

    model = answers.ctx.model_config(model_ref(answers)) if answers["model.source"] else None
    try:
        findings = validate_intent(build_intent(answers), gpu=gpu_facts(answers.ctx), model=model,
                                   trtllm_version=trtllm_version(answers), purpose="build")
    except (WizardError, TypeError, ValueError):
        findings = []
    for f in findings:
        key = _FINDING_KEYS.get(f.code, "build")
        sev = {"error": "error", "warning": "warning"}.get(f.level, "info")
        yield Problem(key, f.message + (f" — fix: {f.fix}" if f.fix else ""), sev)


def _check_destination(answers: Answers) -> Iterable[Problem]:
    mbs = answers["lmi.max_rolling_batch_size"]
    bmax = answers["build.max_batch_size"]
    if mbs and bmax and mbs > bmax and _not_prebuilt(answers):
        yield Problem("lmi.max_rolling_batch_size", f"{mbs} is above the engine's max batch size {bmax}")


# --------------------------------------------------------------------------------------------------
# the steps

_DTYPES = (Choice("float16", "float16 (fp16)"), Choice("bfloat16", "bfloat16"), Choice("float32", "float32"))

ENVIRONMENT = Step(
    "environment", "Environment",
    "GPUs, installed TensorRT-LLM / TensorRT, the matching git tag and the layout this LMI release loads. "
    "An engine only runs on the GPU architecture and TensorRT-LLM version it was built with.",
    fields=(
        Field("env.trtllm_version", "TensorRT-LLM version", Kind.TEXT,
              "The tensorrt-llm version the engine is built for; detected from the installed package. "
              "Set it to plan for another container.",
              default=lambda a: a.ctx.installed_trtllm, validator=_validate_version, placeholder="0.12.0",
              required=True, pin=True),
        Field("env.tag", "Git tag", Kind.TEXT,
              "Tag of TensorRT-LLM (and tensorrtllm_backend up to 0.19) to check out; derived from the version.",
              default=lambda a: _tag_for_version(trtllm_version(a)), validator=_validate_tag,
              advanced=True, placeholder="v0.12.0"),
        Field("env.lmi_layout", "LMI artifact layout", Kind.CHOICE,
              "Which layout the LMI container loads: the Triton layout (LMI 0.25–0.32: tensorrt_llm/ with "
              "config.pbtxt and 1/) or the flat engine folder (LMI 0.33+: config.json with build_config). "
              "auto derives it from the TensorRT-LLM version.",
              default="auto",
              choices=(Choice("auto", "auto (from the version)"), Choice("triton", "Triton layout (LMI ≤ 0.32)"),
                       Choice("flat", "flat engine folder (LMI ≥ 0.33)"))),
        Field("env.lmi_version", "LMI (DJL Serving) version", Kind.TEXT,
              "The LMI release that will serve the model, when known (e.g. 0.30.0); informational.",
              validator=_validate_lmi_version, advanced=True, placeholder="0.30.0"),
    ),
    checks=_check_environment,
)

CHECKOUT = Step(
    "checkout", "Checkout",
    "The sources at the matching tag, as the tutorial clones them: tensorrtllm_backend with TensorRT-LLM "
    "in its tensorrt_llm/ folder (from 0.20 only TensorRT-LLM). An existing checkout at the right tag is reused.",
    fields=(
        Field("checkout.work_dir", "Work folder", Kind.PATH,
              "Where the checkout, the engines, the model repository and the log go.", default=".",
              required=True, validator=_validate_work_dir),
        Field("checkout.dir", "Checkout folder", Kind.PATH,
              "The checkout, relative to the work folder.",
              default=lambda a: "tensorrtllm_backend" if uses_backend_repo(a) else "TensorRT-LLM",
              required=True, validator=_validate_out_folder),
        Field("checkout.backend_url", "tensorrtllm_backend URL", Kind.TEXT,
              "Remote of the Triton backend (a mirror works).",
              default="https://github.com/triton-inference-server/tensorrtllm_backend",
              validator=_validate_url, advanced=True, visible_if=uses_backend_repo),
        Field("checkout.trtllm_url", "TensorRT-LLM URL", Kind.TEXT, "Remote of TensorRT-LLM (a mirror works).",
              default="https://github.com/NVIDIA/TensorRT-LLM", validator=_validate_url, advanced=True),
        Field("checkout.shallow", "Shallow clone", Kind.BOOL,
              "Clone only the tag (no history): much faster.", default=True, advanced=True),
    ),
)

MODEL = Step(
    "model", "Model",
    "The model to compile (a Hugging Face repo id or a local folder with config.json) and the example folder "
    "of the checkout whose builder handles its architecture.",
    fields=(
        Field("model.source", "Model (HF id or local folder)", Kind.TEXT,
              "e.g. baichuan-inc/Baichuan-13B-Chat, or /models/my-llama", required=True,
              validator=_validate_model_source, placeholder="baichuan-inc/Baichuan-13B-Chat"),
        Field("model.revision", "Revision", Kind.TEXT, "Branch, tag or commit on the hub (default: main).",
              advanced=True),
        Field("model.example", "Example folder", Kind.CHOICE,
              "examples/<name> in the checkout (examples/models/core|contrib/<name> in newer trees).",
              default=_default_example, choices=_examples_for, visible_if=_not_prebuilt,
              placeholder="baichuan"),
        Field("model.name", "Short name", Kind.TEXT,
              "Names the engine folder and the destination's last folder.", default=_default_model_name,
              validator=lambda v, a: None if re.fullmatch(r"[A-Za-z0-9][\w.-]*", v)
              else "use letters, digits, '.', '_' and '-' only"),
    ),
)

BUILD = Step(
    "build", "Build flags",
    "What to build, in words; the wizard spells it as this version's builder wants it. The preview shows "
    "the exact command(s).",
    fields=(
        Field("build.method", "Build with", Kind.CHOICE,
              "The checkout's example builder (build.py, or convert_checkpoint.py + trtllm-build), LMI's own "
              "ahead-of-time tool (for architectures LMI compiles itself), or an engine folder built before.",
              default="checkout",
              choices=(Choice("checkout", "example builder from the checkout"),
                       Choice("lmi-partition", "LMI's trt_llm_partition.py"),
                       Choice("prebuilt", "an existing engine folder"))),
        Field("build.engine_dir", "Engine folder", Kind.PATH,
              "Folder holding config.json and rank*.engine.",
              visible_if=lambda a: _method(a) == "prebuilt"),
        Field("build.dtype", "Data type", Kind.CHOICE, "Weights and activations precision.", default="float16",
              choices=_DTYPES, visible_if=_not_prebuilt),
        Field("build.tp", "Tensor parallel (GPUs)", Kind.INT,
              "Shards the model over this many GPUs; equals tensor_parallel_degree in LMI.",
              default=1, minimum=1, maximum=64, validator=_validate_tp, visible_if=_not_prebuilt),
        Field("build.pp", "Pipeline parallel", Kind.INT, "Pipeline stages (world size = TP × PP).",
              default=1, minimum=1, maximum=64, advanced=True, visible_if=_not_prebuilt),
        Field("build.gemm_plugin", "GEMM plugin", Kind.BOOL, "Use the GEMM plugin in the build's dtype.",
              default=True, visible_if=_builds_here),
        Field("build.gpt_attention_plugin", "GPT attention plugin", Kind.BOOL,
              "Use the GPT attention plugin in the build's dtype (needed for inflight batching).",
              default=True, visible_if=_builds_here),
        Field("build.inflight_batching", "Inflight batching", Kind.BOOL,
              "Continuous batching with LMI (--use_inflight_batching; paged KV cache in newer versions).",
              default=True, visible_if=_builds_here),
        Field("build.paged_kv_cache", "Paged KV cache", Kind.BOOL, "Paged KV cache.", default=True,
              advanced=True, visible_if=_builds_here),
        Field("build.context_fmha", "Context FMHA", Kind.BOOL, "Fused attention in the context phase (sm80+).",
              default=True, visible_if=_builds_here),
        Field("build.remove_input_padding", "Remove input padding", Kind.BOOL, "Pack inputs without padding.",
              default=True, visible_if=_builds_here),
        Field("build.parallel_build", "Parallel build", Kind.BOOL, "Build ranks in parallel (--workers).",
              default=True, visible_if=_builds_here),
        Field("build.max_batch_size", "Max batch size", Kind.INT, "Largest batch the engine accepts.",
              default=64, minimum=1, maximum=65536, visible_if=_not_prebuilt),
        Field("build.max_input_len", "Max input length", Kind.INT, "Tokens of prompt.", default=2048,
              minimum=1, visible_if=_not_prebuilt),
        Field("build.max_output_len", "Max output length", Kind.INT,
              "Tokens generated (→ max_seq_len = input + output on builders that only know max_seq_len).",
              default=512, minimum=1, visible_if=_not_prebuilt),
        Field("build.output_dir", "Engine output folder", Kind.PATH,
              "Where the builder writes the engines, relative to the work folder.",
              default=lambda a: f"engines/{a['model.name'] or 'model'}-{a['build.dtype'] or 'float16'}-"
                                f"tp{a['build.tp'] or 1}" + (f"-pp{a['build.pp']}" if (a['build.pp'] or 1) > 1 else ""),
              advanced=True, visible_if=_not_prebuilt, validator=_validate_out_folder),
        Field("build.extra_flags", "Advanced builder flags", Kind.MAPPING,
              "Any other flag the builder has (discovered from the checkout), e.g. --model_version:v1_13b. "
              "A flag without a value is written as --flag:true.",
              default=lambda a: {}, validator=_validate_extra_flags, advanced=True, visible_if=_builds_here),
    ),
    checks=_check_build,
)

TRITON = Step(
    "triton", "Triton config",
    "Fill tensorrt_llm/config.pbtxt like the tag's tools/fill_template.py, then review every ${…} left.",
    fields=(
        Field("triton.batch_scheduler_policy", "Batch scheduler policy", Kind.CHOICE,
              "max_utilization packs more requests; guaranteed_no_evict never pauses one.",
              default="max_utilization", choices=("max_utilization", "guaranteed_no_evict")),
        Field("triton.kv_cache_free_gpu_mem_fraction", "KV cache share of free GPU memory", Kind.FLOAT,
              "Fraction of the GPU memory left after loading the engine that the KV cache takes.",
              default=0.95, minimum=0.01, maximum=1.0),
        Field("triton.decoupled", "Decoupled (streaming)", Kind.BOOL,
              "model_transaction_policy { decoupled: True }, as the tutorial sets it.", default=True),
        Field("triton.engine_path", "Engine path in the container", Kind.TEXT,
              "gpt_model_path / engine_dir as seen inside the serving container.",
              default="/opt/ml/model/tensorrt_llm/1", required=True),
        Field("triton.optional_placeholders", "Unfilled optional parameters", Kind.CHOICE,
              "What to do with string parameters still holding ${…}: delete their block (the backend then "
              "uses its default, as the tutorial does for max_tokens_in_paged_kv_cache) or keep them.",
              default="delete", choices=(Choice("delete", "delete their parameter blocks"),
                                         Choice("keep", "keep them (must be filled by hand)"))),
        Field("triton.delete_params", "Parameters blocks to delete", Kind.LIST,
              "Keys of parameters { … } blocks to delete whatever the choice above (the placeholder review's "
              "Delete key adds one), e.g. max_tokens_in_paged_kv_cache,kv_cache_host_memory_bytes.",
              default=lambda a: [], advanced=True, validator=_validate_delete_params),
        Field("triton.repo_dir", "Triton model repository", Kind.PATH,
              "Where triton_model_repo/ (with tensorrt_llm/ inside) is assembled, relative to the work folder.",
              default="triton_model_repo", advanced=True, validator=_validate_out_folder),
        Field("triton.substitutions", "More substitutions", Kind.MAPPING,
              "Other key:value pairs for fill_template, e.g. max_beam_width:1,exclude_input_in_output:true.",
              default=lambda a: {}, advanced=True),
    ),
    visible_if=_is_triton,
)

DESTINATION = Step(
    "destination", "Tokenizer & destination",
    "The tokenizer files from the hub (the tutorial's *.json, *.txt, *.model, widened to custom code and "
    "*.tiktoken), where the result goes (S3 or a local folder) and the LMI settings.",
    fields=(
        Field("tokenizer.source", "Tokenizer source", Kind.TEXT,
              "Hugging Face repo id or local folder; defaults to the model.", default=lambda a: a["model.source"],
              validator=_validate_tokenizer_source),
        Field("tokenizer.extra_patterns", "Extra file patterns", Kind.LIST,
              "More glob patterns to fetch with the tokenizer (never weights).", default=lambda a: [], advanced=True),
        Field("tokenizer.hf_token", "Hugging Face token", Kind.SECRET,
              "For private or gated repos. Never stored: read from HF_TOKEN (or your saved login).",
              env="HF_TOKEN", advanced=True),
        Field("destination.uri", "Destination", Kind.TEXT,
              "s3://bucket/folder1/folder2/ or a local folder. Triton layout: LMI's model_id is folder1 "
              "(the two-folder rule); flat layout: the folder itself.",
              default=lambda a: f"lmi-model/{a['model.name'] or 'model'}/", required=True,
              validator=_validate_destination, placeholder="s3://my-bucket/trtllm/baichuan-13b-tp2/baichuan-13b-chat/"),
        Field("destination.endpoint_url", "S3 endpoint URL", Kind.TEXT,
              "Another S3-compatible endpoint (AWS_ENDPOINT_URL works too).",
              validator=_validate_endpoint, advanced=True,
              visible_if=lambda a: str(a["destination.uri"] or "").startswith("s3://")),
        Field("destination.region", "AWS region", Kind.TEXT, "Region of the bucket (default: your AWS config).",
              advanced=True, visible_if=lambda a: str(a["destination.uri"] or "").startswith("s3://")),
        Field("destination.profile", "AWS profile", Kind.TEXT,
              "Named profile from ~/.aws (keys themselves are never asked for or stored).", advanced=True,
              visible_if=lambda a: str(a["destination.uri"] or "").startswith("s3://")),
        Field("lmi.max_rolling_batch_size", "LMI max rolling batch size", Kind.INT,
              "option.max_rolling_batch_size; at most the engine's max batch size.",
              default=lambda a: _default_rolling_batch(a), minimum=1),
        Field("lmi.output_dir", "LMI configs folder", Kind.PATH,
              "Where serving.properties and the environment file are written, relative to the work folder.",
              default="lmi-configs", advanced=True, validator=_validate_out_folder),
    ),
    checks=_check_destination,
)

REVIEW = Step("review", "Review",
              "The whole run as a shell script and the recipe it came from. Nothing has run yet.")
RUN = Step("run", "Run", "Every step's output in one log; Cancel stops the running process group.")
DONE = Step("done", "Done", "The final tree, the destination listing, the three LMI configurations, "
            "and where the log and the recipe were saved.")

STEPS: tuple[Step, ...] = (ENVIRONMENT, CHECKOUT, MODEL, BUILD, TRITON, DESTINATION, REVIEW, RUN, DONE)
FIELDS: dict[str, Field] = {f.key: f for s in STEPS for f in s.fields}
_STEPS_BY_KEY = {s.key: s for s in STEPS}


def step(key: str) -> Step:
    try:
        return _STEPS_BY_KEY[key]
    except KeyError:
        raise WizardError(f"no wizard step named {key!r}", _suggest_fix(key, _STEPS_BY_KEY)) from None


def field(key: str) -> Field:
    try:
        return FIELDS[key]
    except KeyError:
        raise FieldError(key, "no such setting", _suggest_fix(key, FIELDS)) from None


def steps_for(answers: Answers) -> list[Step]:
    """The steps this run shows (the Triton config step only for the Triton layout)."""
    return [s for s in answers.steps if s.is_visible(answers)]


def validate_field(key: str, value: Any, answers: Answers) -> Optional[str]:
    """Error message for putting ``value`` in field ``key`` (a raw text value is parsed first)."""
    return answers.field(key).check(value, answers)


def validate_step(s: Step | str, answers: Answers, *, advanced: bool = True) -> list[Problem]:
    """Every problem of one step: each visible field's value, then the step's cross-field checks.
    Errors (``Problem.blocking``) keep the user on the step; warnings are shown."""
    s = step(s) if isinstance(s, str) else s
    problems: list[Problem] = []
    if not s.is_visible(answers):
        return problems
    for f in s.visible_fields(answers, advanced=advanced):
        msg = f.check(answers[f.key], answers)
        if msg:
            problems.append(Problem(f.key, msg))
    if s.checks is not None:
        seen = {(p.key, p.message) for p in problems}
        for p in s.checks(answers):
            if (p.key, p.message) not in seen:
                problems.append(p)
    return problems


def validate_all(answers: Answers) -> list[Problem]:
    out: list[Problem] = []
    for s in steps_for(answers):
        out.extend(validate_step(s, answers))
    return out
