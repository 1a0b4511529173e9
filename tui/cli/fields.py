"""Command-line options rendered from the wizard's fields (the argparse analogue of harlequin's ``to_click``).

A field-backed verb declares which ``core.wizard`` fields it takes (``Field.flag`` is the option's spelling) and
gets their options from here: the help, the choices, the default and the parsing come from the schema, so the
verb, the wizard and recipes cannot drift apart. :func:`field_values` reads the parsed options back as answers;
``core.wizard.cli_argv`` is the inverse (answers → options).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable, Iterable, Mapping

from lmi_wizard.core import wizard

_UNSET = object()


def _type(field: wizard.Field, *, checked: bool = False) -> Callable[[str], Any]:
    """The field's own parser as an argparse ``type`` (a bad value: argparse's one-line error). ``checked``: the
    field's validator runs too, on answers holding only this value (for validators that need no other answer)."""

    def parse(raw: str) -> Any:
        try:
            value = field.parse(raw)
        except wizard.FieldError as exc:
            raise argparse.ArgumentTypeError(exc.message + (f" ({exc.fix})" if exc.fix else "")) from None
        if checked and value is not None:
            found = field.check(value, wizard.Answers({field.key: value}))
            if found is not None and found.blocking:
                raise argparse.ArgumentTypeError(found.problem + (f" ({found.fix})" if found.fix else ""))
        return value

    parse.__name__ = field.kind.value  # argparse names the type in its messages
    return parse


def _help(field: wizard.Field, notes: Mapping[str, str], key: str) -> str:
    text = field.help or field.label
    return f"{text} {notes[key]}" if key in notes else text


def add_field_options(parser: argparse.ArgumentParser, keys: Iterable[str], *,
                      defaults: Mapping[str, Any] | None = None, ranges: bool = True,
                      checked: Iterable[str] = (), notes: Mapping[str, str] | None = None,
                      metavars: Mapping[str, str] | None = None) -> None:
    """One option per field of ``keys`` (each must have a ``flag``; ``Field.aliases`` are further spellings):
    ``dest`` is the field's name (``build.tp`` → ``args.tp``), the default the field's static default unless
    ``defaults`` names another (``None``: left to the tool), a required field without a static default is a
    required option, a bool is ``--flag/--no-flag``, a choice lists its values, a list is repeatable (each
    ``--flag a,b`` extends it). ``ranges=False`` leaves the field's minimum/maximum to the verb's own checks
    (they may say more, e.g. how many GPUs are realistic). ``checked``: keys whose validator runs on the value
    alone while parsing (see :func:`_type`). ``notes``: what the verb adds to a field's help (e.g. its own
    default when the option is not given); ``metavars``: a placeholder other than the field's name."""
    defaults = dict(defaults or {})
    checked = set(checked)
    notes = dict(notes or {})
    for key in keys:
        field = wizard.field(key)
        if not field.flag:
            raise ValueError(f"{key} has no command-line flag (Field.flag)")
        if not ranges:
            field = dataclasses.replace(field, minimum=None, maximum=None)
        default = defaults.get(key, _UNSET)
        if default is _UNSET:
            default = None if callable(field.default) else field.default
        kw: dict[str, Any] = {"dest": field.name, "default": default, "help": _help(field, notes, key)}
        if field.required and default is None:
            kw["required"] = True
        names = (field.flag, *field.aliases)
        if field.kind is wizard.Kind.BOOL:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, **kw)
            continue
        choices = field.options() if not callable(field.choices) else []
        if choices and field.strict_choices:
            kw["choices"] = [c.value for c in choices]
        else:
            kw["type"] = _type(field, checked=key in checked)
            kw["metavar"] = (metavars or {}).get(key) or _metavar(field)
        if field.kind is wizard.Kind.LIST:
            kw["action"] = "extend"
        parser.add_argument(*names, **kw)


def add_field_argument(parser: argparse.ArgumentParser, key: str, *, metavar: str | None = None,
                       checked: bool = False, note: str = "") -> None:
    """The field ``key`` as a positional argument (``dest``: the field's name), parsed by the field."""
    field = wizard.field(key)
    parser.add_argument(field.name, metavar=metavar or _metavar(field), type=_type(field, checked=checked),
                        help=_help(field, {key: note} if note else {}, key))


def _metavar(field: wizard.Field) -> str:
    return {wizard.Kind.INT: "N", wizard.Kind.FLOAT: "X"}.get(field.kind, field.name.upper())


def field_values(args: argparse.Namespace, keys: Iterable[str]) -> dict[str, Any]:
    """The parsed options of ``keys`` as ``{field key: value}`` (None: not given and no default)."""
    return {key: getattr(args, wizard.field(key).name) for key in keys}
