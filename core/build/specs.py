"""What discovery finds: one :class:`FlagSpec` per builder flag, a :class:`BuilderFlags` per builder script.

Data only (no parsing): :mod:`.discover` fills them, :mod:`.render` reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional


@dataclass
class FlagSpec:
    name: str                      # as on the command line: "--context_fmha" (or a positional's name)
    aliases: list[str] = field(default_factory=list)
    dest: str = ""
    action: str = "store"          # store, store_true, store_false, store_const, append, count, …
    type: Optional[str] = None     # "int", "str", "float", "str2bool", or source text ("enum_type(X)")
    default: Any = None            # a Python value when literal/resolvable, else None (see default_source)
    default_source: Optional[str] = None  # source text when the default is not a literal
    choices: Optional[list] = None
    choices_source: Optional[str] = None  # source text when the choices could not be resolved
    help: Optional[str] = None
    nargs: Any = None
    const: Any = None
    required: bool = False
    group: Optional[str] = None
    origin: str = ""               # "file.py:123" (generated flags point at the generating call)
    generated: bool = False        # expanded from a loop (plugin flags)

    @property
    def is_switch(self) -> bool:
        return self.action in ("store_true", "store_false", "store_const", "count")

    @property
    def enable_disable(self) -> bool:
        return bool(self.choices) and set(map(str, self.choices)) >= {"enable", "disable"}

    @property
    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]

    def to_json(self) -> dict:
        d = {"name": self.name, "action": self.action, "type": self.type,
             "default": self.default if self.default_source is None else self.default_source,
             "choices": _jsonable(self.choices) if self.choices is not None else None, "help": self.help,
             "aliases": self.aliases, "nargs": self.nargs, "required": self.required, "group": self.group}
        if self.default_source is not None:
            d["default_is_source"] = True
        if self.choices_source is not None and self.choices is None:
            d["choices_source"] = self.choices_source
        return d


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return repr(v)


@dataclass
class BuilderFlags:
    path: Path
    kind: str                      # "legacy-build", "convert", "trtllm-build", "other"
    flags: list[FlagSpec]
    notes: list[str] = field(default_factory=list)  # what could not be followed/resolved, and why
    sources: list[Path] = field(default_factory=list)  # every file read (the script and followed helpers)

    def get(self, name: str) -> Optional[FlagSpec]:
        if not name.startswith("-") and not any(f.name == name for f in self.flags):
            name = "--" + name
        for f in self.flags:
            if name in f.all_names:
                return f
        return None

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def first(self, *names: str) -> Optional[FlagSpec]:
        for n in names:
            f = self.get(n)
            if f is not None:
                return f
        return None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.flags]

    @property
    def display_name(self) -> str:
        """How the person runs it: "trtllm-build" for tensorrt_llm/commands/build.py, else the file name."""
        return "trtllm-build" if self.kind == "trtllm-build" else self.path.name


def builder_kind(path: str | os.PathLike) -> str:
    p = Path(path)
    if p.name == "convert_checkpoint.py":
        return "convert"
    parts = p.parts
    if p.name == "build.py" and len(parts) >= 3 and parts[-2] == "commands" and parts[-3] == "tensorrt_llm":
        return "trtllm-build"
    if p.name == "build.py":
        return "legacy-build"
    return "other"
