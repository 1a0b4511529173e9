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


def _type(field: wizard.Field) -> Callable[[str], Any]:
    """The field's own parser as an argparse ``type`` (a bad value: argparse's one-line error)."""

    def parse(raw: str) -> Any:
        try:
            return field.parse(raw)
        except wizard.FieldError as exc:
            raise argparse.ArgumentTypeError(exc.message + (f" ({exc.fix})" if exc.fix else "")) from None

    parse.__name__ = field.kind.value  # argparse names the type in its messages
    return parse


def add_field_options(parser: argparse.ArgumentParser, keys: Iterable[str], *,
                      defaults: Mapping[str, Any] | None = None, ranges: bool = True) -> None:
    """One option per field of ``keys`` (each must have a ``flag``): ``dest`` is the field's name (``build.tp`` →
    ``args.tp``), the default the field's static default unless ``defaults`` names another (``None``: left to
    the tool), a bool is ``--flag/--no-flag``, a choice lists its values. ``ranges=False`` leaves the field's
    minimum/maximum to the verb's own checks (they may say more, e.g. how many GPUs are realistic)."""
    defaults = dict(defaults or {})
    for key in keys:
        field = wizard.field(key)
        if not field.flag:
            raise ValueError(f"{key} has no command-line flag (Field.flag)")
        if not ranges:
            field = dataclasses.replace(field, minimum=None, maximum=None)
        default = defaults.get(key, _UNSET)
        if default is _UNSET:
            default = None if callable(field.default) else field.default
        kw: dict[str, Any] = {"dest": field.name, "default": default, "help": field.help or field.label}
        if field.kind is wizard.Kind.BOOL:
            parser.add_argument(field.flag, action=argparse.BooleanOptionalAction, **kw)
            continue
        choices = field.options() if not callable(field.choices) else []
        if choices and field.strict_choices:
            kw["choices"] = [c.value for c in choices]
        else:
            kw["type"] = _type(field)
            kw["metavar"] = {wizard.Kind.INT: "N", wizard.Kind.FLOAT: "X"}.get(field.kind, field.name.upper())
        parser.add_argument(field.flag, **kw)


def field_values(args: argparse.Namespace, keys: Iterable[str]) -> dict[str, Any]:
    """The parsed options of ``keys`` as ``{field key: value}`` (None: not given and no default)."""
    return {key: getattr(args, wizard.field(key).name) for key in keys}
