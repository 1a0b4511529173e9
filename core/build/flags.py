"""Builder flags: discovered statically from the checkout, and the build intent rendered per version.

Discovery parses a builder script's ``argparse`` calls with :mod:`ast` — the builders import tensorrt and
need a GPU, so they are never imported or run here. It handles ``add_argument`` on any parser or group
variable, argument groups, helper functions in the same file, and helper functions imported from the
checkout (``add_plugin_argument`` in ``tensorrt_llm/plugin/plugin.py``), whose generated flags are expanded
by a small, closed interpreter (only literals, the module's own constants and classes, and typing helpers).

Rendering maps one :class:`BuildIntent` to the exact command(s) of that checkout: the legacy one-step
``build.py`` (0.5–0.7) or ``convert_checkpoint.py`` then ``trtllm-build`` (0.8+). Spellings are derived
from the discovered flags (choices ``enable/disable`` vs ``store_true``; ``--max_seq_len`` vs
``--max_output_len``; …). A flag the builder lacks is never emitted: it is dropped *with a reason*, or
translated (max output length → max sequence length), never silently.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import os
import re
import shlex
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from ..base.errors import WizardError
from ..base.findings import Finding
from ..base.fmt import gib
from ..models import BYTES_PER_DTYPE, tp_split_problem
from ..facts.versions import release_tuple

__all__ = [
    "FlagSpec", "BuilderFlags", "discover_flags", "builder_kind", "find_trtllm_build_source",
    "BuildIntent", "Step", "Dropped", "Finding", "BuildPlan", "GpuFacts", "ModelFacts",
    "render_plan", "validate_intent", "validate_advanced",
]


# --------------------------------------------------------------------------------------------------
# Discovered flags
# --------------------------------------------------------------------------------------------------

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


class _Unresolvable(Exception):
    pass


_MISSING = dataclasses.MISSING


def _src(node: ast.AST, text: str) -> str:
    seg = ast.get_source_segment(text, node)
    if seg is None:
        seg = ast.unparse(node)
    return " ".join(seg.split()) if "\n" in seg else seg


def _literal(node: ast.AST, consts: dict[str, Any]) -> Any:
    """A literal value, a module-level constant, ``CONST.keys()``/``list(CONST)``; else _Unresolvable."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args \
            and node.func.attr in ("keys", "values") and isinstance(node.func.value, ast.Name) \
            and isinstance(consts.get(node.func.value.id), dict):
        d = consts[node.func.value.id]
        return list(d.keys() if node.func.attr == "keys" else d.values())
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "tuple", "sorted") \
            and len(node.args) == 1 and not node.keywords:
        v = _literal(node.args[0], consts)
        return sorted(v) if node.func.id == "sorted" else list(v)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, consts) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand, consts)
    raise _Unresolvable(ast.unparse(node))


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    consts: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                consts[node.targets[0].id] = _literal(node.value, consts)
            except _Unresolvable:
                pass
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            try:
                consts[node.target.id] = _literal(node.value, consts)
            except _Unresolvable:
                pass
    return consts


def _type_text(node: ast.AST, text: str) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return _src(node, text)


def _spec_from_call(call: ast.Call, text: str, consts: dict, rel: str, group: Optional[str]) -> Optional[FlagSpec]:
    names: list[str] = []
    for a in call.args:
        if isinstance(a, ast.Constant) and isinstance(a.value, str):
            names.append(a.value)
        else:
            return None  # dynamic name: handled by the interpreter
    if not names:
        return None
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    return _make_spec(names, kw, text, consts, f"{rel}:{call.lineno}", group, literal=True)


def _make_spec(names, kw, text, consts, origin, group, literal: bool, values: Optional[dict] = None) -> FlagSpec:
    """Build a FlagSpec from option strings and keyword nodes (literal=True) or evaluated values."""
    longs = [n for n in names if n.startswith("--")]
    primary = longs[0] if longs else names[0]
    aliases = [n for n in names if n != primary]
    spec = FlagSpec(name=primary, aliases=aliases, origin=origin, group=group)

    def get(key):
        if literal:
            node = kw.get(key)
            if node is None:
                return _MISSING, None
            try:
                return _literal(node, consts), None
            except _Unresolvable:
                return _MISSING, _src(node, text)
        if key not in values:
            return _MISSING, None
        return values[key], None

    action, action_src = get("action")
    if action is not _MISSING:
        spec.action = str(action)
    elif action_src is not None:
        spec.action = action_src
    if literal and "type" in kw:
        spec.type = _type_text(kw["type"], text)
    elif not literal and "type" in values:
        t = values["type"]
        spec.type = t.__name__ if isinstance(t, type) else str(t).replace("typing.", "")
    if spec.action in ("store_true", "store_false") and spec.type is None:
        spec.type = "bool"
    default, default_src = get("default")
    if default is not _MISSING:
        spec.default = default
    elif default_src is not None:
        spec.default_source = default_src
    elif spec.action == "store_true":
        spec.default = False
    elif spec.action == "store_false":
        spec.default = True
    choices, choices_src = get("choices")
    if choices is not _MISSING:
        spec.choices = []
        for c in choices:  # upstream lists may repeat a value (e.g. "disable" for None twice); argparse doesn't care
            if c not in spec.choices:
                spec.choices.append(c)
    elif choices_src is not None:
        spec.choices_source = choices_src
    h, h_src = get("help")
    spec.help = h if isinstance(h, str) else (h_src if h_src else None)
    n, _ = get("nargs")
    spec.nargs = None if n is _MISSING else n
    c, _ = get("const")
    spec.const = None if c is _MISSING else c
    r, _ = get("required")
    spec.required = bool(r) if r is not _MISSING else False
    d, _ = get("dest")
    spec.dest = d if isinstance(d, str) else primary.lstrip("-").replace("-", "_")
    return spec


# ---- a small, closed interpreter for generated flags ---------------------------------------------

class _Recorder:
    """Stands for the parser/group object inside an interpreted helper: records add_argument calls."""

    def __init__(self, group: Optional[str], origin: str):
        self.group = group
        self.origin = origin
        self.calls: list[tuple[list, dict]] = []

    def add_argument(self, *args, **kwargs):
        self.calls.append((list(args), kwargs))

    def add_argument_group(self, *args, **kwargs):
        return self

    def add_mutually_exclusive_group(self, *args, **kwargs):
        return self


@dataclass
class _DCField:  # what dataclasses.fields() yields
    name: str
    type: Any
    default: Any


@dataclass
class _PField:  # what pydantic's model_fields values look like
    annotation: Any
    default: Any
    description: Optional[str]


class _ClassInfo:
    def __init__(self, name: str, dc_fields: list, p_fields: dict):
        self.name = name
        self._dc_fields = dc_fields
        self.model_fields = p_fields

    def __call__(self, *a, **k):
        return self


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Return(Exception):
    pass


_SAFE_BUILTINS = {
    "list": list, "tuple": tuple, "dict": dict, "set": set, "str": str, "int": int, "float": float,
    "bool": bool, "len": len, "isinstance": isinstance, "sorted": sorted, "enumerate": enumerate,
    "zip": zip, "min": min, "max": max, "type": type, "None": None, "True": True,
    "False": False, "repr": repr, "any": any, "all": all,
}
_TYPING = {
    "Optional": typing.Optional, "Literal": typing.Literal, "Union": typing.Union, "List": typing.List,
    "Dict": typing.Dict, "Tuple": typing.Tuple, "Any": typing.Any, "get_origin": typing.get_origin,
    "get_args": typing.get_args,
}


class _Interp:
    """Evaluates a helper function body over a closed namespace. Anything else → _Unresolvable."""

    MAX_STEPS = 20000
    MAX_ITEMS = 5000

    def __init__(self, ns: dict):
        self.ns = ns
        self.steps = 0

    def run_body(self, body, env):
        for st in body:
            self.stmt(st, env)

    def stmt(self, st, env):
        self.steps += 1
        if self.steps > self.MAX_STEPS:
            raise _Unresolvable("too many steps")
        if isinstance(st, ast.Expr):
            if isinstance(st.value, ast.Constant):  # docstring
                return
            self.expr(st.value, env)
        elif isinstance(st, ast.Assign):
            val = self.expr(st.value, env)
            for t in st.targets:
                self.assign(t, val, env)
        elif isinstance(st, ast.AnnAssign):
            if st.value is not None:
                self.assign(st.target, self.expr(st.value, env), env)
        elif isinstance(st, ast.AugAssign) and isinstance(st.target, ast.Name):
            cur = self.lookup(st.target.id, env)
            env[st.target.id] = self.binop(st.op, cur, self.expr(st.value, env))
        elif isinstance(st, ast.If):
            self.run_body(st.body if self.expr(st.test, env) else st.orelse, env)
        elif isinstance(st, ast.For):
            items = list(itertools.islice(iter(self.expr(st.iter, env)), self.MAX_ITEMS + 1))
            if len(items) > self.MAX_ITEMS:
                raise _Unresolvable("loop too long")
            for item in items:
                self.assign(st.target, item, env)
                try:
                    self.run_body(st.body, env)
                except _Continue:
                    continue
                except _Break:
                    break
        elif isinstance(st, ast.Continue):
            raise _Continue()
        elif isinstance(st, ast.Break):
            raise _Break()
        elif isinstance(st, ast.Return):
            raise _Return()
        elif isinstance(st, ast.Pass):
            return
        elif isinstance(st, ast.Raise):
            raise _Unresolvable(f"the helper raises at line {st.lineno}")
        else:
            raise _Unresolvable(f"unsupported statement {type(st).__name__} at line {st.lineno}")

    def assign(self, target, val, env):
        if isinstance(target, ast.Name):
            env[target.id] = val
        elif isinstance(target, (ast.Tuple, ast.List)):
            vals = list(val)
            if len(vals) != len(target.elts):
                raise _Unresolvable("unpacking mismatch")
            for t, v in zip(target.elts, vals):
                self.assign(t, v, env)
        else:
            raise _Unresolvable(f"unsupported assignment target {type(target).__name__}")

    def lookup(self, name, env):
        if name in env:
            return env[name]
        if name in self.ns:
            return self.ns[name]
        raise _Unresolvable(f"unknown name {name}")

    @staticmethod
    def binop(op, a, b):
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Mod):
            return a % b
        if isinstance(op, ast.BitOr):
            return a | b
        raise _Unresolvable(f"unsupported operator {type(op).__name__}")

    def expr(self, node, env):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id, env)
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("__"):
                raise _Unresolvable("dunder attribute")
            obj = self.expr(node.value, env)
            if not isinstance(obj, (str, dict, list, tuple, _Recorder, _ClassInfo, _DCField, _PField)):
                raise _Unresolvable(f"attribute {node.attr} of {type(obj).__name__}")
            try:
                return getattr(obj, node.attr)
            except AttributeError:
                raise _Unresolvable(f"no attribute {node.attr}") from None
        if isinstance(node, ast.Call):
            fn = self.expr(node.func, env)
            args = []
            for a in node.args:
                if isinstance(a, ast.Starred):
                    args.extend(self.expr(a.value, env))
                else:
                    args.append(self.expr(a, env))
            kwargs = {}
            for k in node.keywords:
                if k.arg is None:
                    kwargs.update(self.expr(k.value, env))
                else:
                    kwargs[k.arg] = self.expr(k.value, env)
            if not callable(fn):
                raise _Unresolvable("call of a non-callable")
            try:
                return fn(*args, **kwargs)
            except _Unresolvable:
                raise
            except Exception as exc:  # a closed set of callables; any failure means "cannot expand"
                raise _Unresolvable(f"call failed: {exc}") from None
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.expr(node.left, env), self.expr(node.right, env))
        if isinstance(node, ast.UnaryOp):
            v = self.expr(node.operand, env)
            if isinstance(node.op, ast.Not):
                return not v
            if isinstance(node.op, ast.USub):
                return -v
            raise _Unresolvable("unsupported unary operator")
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                v = True
                for e in node.values:
                    v = self.expr(e, env)
                    if not v:
                        return v
                return v
            v = False
            for e in node.values:
                v = self.expr(e, env)
                if v:
                    return v
            return v
        if isinstance(node, ast.Compare):
            left = self.expr(node.left, env)
            for op, comp in zip(node.ops, node.comparators):
                right = self.expr(comp, env)
                ok = {
                    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
                    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
                    ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
                    ast.Lt: lambda a, b: a < b, ast.Gt: lambda a, b: a > b,
                    ast.LtE: lambda a, b: a <= b, ast.GtE: lambda a, b: a >= b,
                }[type(op)](left, right)
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.expr(node.body if self.expr(node.test, env) else node.orelse, env)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            vals = [self.expr(e, env) for e in node.elts]
            return tuple(vals) if isinstance(node, ast.Tuple) else (set(vals) if isinstance(node, ast.Set) else vals)
        if isinstance(node, ast.Dict):
            return {self.expr(k, env): self.expr(v, env) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Subscript):
            obj = self.expr(node.value, env)
            return obj[self.expr(node.slice, env)]
        if isinstance(node, ast.ListComp) and len(node.generators) == 1:
            gen = node.generators[0]
            out = []
            local = dict(env)
            for item in list(self.expr(gen.iter, local)):
                self.assign(gen.target, item, local)
                if all(self.expr(c, local) for c in gen.ifs):
                    out.append(self.expr(node.elt, local))
            return out
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(str(v.value))
                else:
                    parts.append(format(self.expr(v.value, env), ""))
            return "".join(parts)
        raise _Unresolvable(f"unsupported expression {type(node).__name__}")


def _eval_annotation(node, ns) -> Any:
    interp = _Interp({**_TYPING, "str": str, "int": int, "float": float, "bool": bool, "None": None,
                      "type": type, **ns})
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # string annotation
        node = ast.parse(node.value, mode="eval").body
    return interp.expr(node, {})


def _class_infos(tree: ast.Module, aliases: dict) -> dict[str, _ClassInfo]:
    out = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        dc_fields, p_fields = [], {}
        for st in node.body:
            if not (isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name)):
                continue
            name = st.target.id
            try:
                ann = _eval_annotation(st.annotation, aliases)
            except (_Unresolvable, Exception):
                ann = ast.unparse(st.annotation)
            default, desc, private = _MISSING, None, False
            v = st.value
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("field", "Field", "PrivateAttr"):
                private = v.func.id == "PrivateAttr"
                kw = {k.arg: k.value for k in v.keywords if k.arg}
                dnode = kw.get("default", v.args[0] if v.args and v.func.id == "Field" else None)
                if dnode is not None:
                    try:
                        default = ast.literal_eval(dnode)
                    except (ValueError, TypeError, SyntaxError):
                        default = ast.unparse(dnode)
                if "description" in kw:
                    try:
                        desc = ast.literal_eval(kw["description"])
                    except (ValueError, TypeError, SyntaxError):
                        desc = ast.unparse(kw["description"])
            elif v is not None:
                try:
                    default = ast.literal_eval(v)
                except (ValueError, TypeError, SyntaxError):
                    default = ast.unparse(v)
            dc_fields.append(_DCField(name, ann, default))
            if not name.startswith("_") and not private:
                p_fields[name] = _PField(ann, None if default is _MISSING else default, desc)
        out[node.name] = _ClassInfo(node.name, dc_fields, p_fields)
    return out


def _interp_namespace(tree: ast.Module, consts: dict) -> dict:
    aliases: dict[str, Any] = {}
    for node in tree.body:  # typing aliases such as DefaultPluginDtype = Literal[...]
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                val = _eval_annotation(node.value, aliases)
            except Exception:
                continue
            if typing.get_origin(val) is not None:
                aliases[node.targets[0].id] = val
    classes = _class_infos(tree, aliases)

    def fields_(obj):
        if isinstance(obj, _ClassInfo):
            return list(obj._dc_fields)
        raise _Unresolvable("fields() of an unknown object")

    return {**_SAFE_BUILTINS, **_TYPING, **consts, **aliases, **classes, "fields": fields_}


def _recorded_specs(rec: _Recorder, consts: dict, rel: str) -> list[FlagSpec]:
    specs = []
    for args, kwargs in rec.calls:
        if not args or not all(isinstance(a, str) for a in args):
            continue
        spec = _make_spec(args, {}, "", consts, rec.origin, rec.group, literal=False, values=kwargs)
        spec.generated = True
        specs.append(spec)
    return specs


# ---- module resolution for imported helpers -------------------------------------------------------

def _resolve_module(file: Path, module: Optional[str], level: int) -> Optional[Path]:
    """File of ``from <module> import …`` as seen from ``file`` (relative or absolute within the tree)."""
    parts = module.split(".") if module else []
    candidates: list[Path] = []
    if level:
        base = file.parent
        for _ in range(level - 1):
            base = base.parent
        candidates.append(base.joinpath(*parts))
    else:
        for anc in file.parents:
            candidates.append(anc.joinpath(*parts))
    for c in candidates:
        if c.with_suffix(".py").is_file():
            return c.with_suffix(".py")
        if (c / "__init__.py").is_file():
            return c / "__init__.py"
        if c.is_dir() and parts:
            return c  # a package without __init__ in this (partial) checkout: search its modules
    return None


def _find_function(path: Path, name: str, depth: int = 0) -> Optional[tuple[Path, ast.Module, ast.FunctionDef, str]]:
    if depth > 3:
        return None
    files: list[Path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.py"))
    else:
        files = [path]
    for f in files:
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
            tree = ast.parse(text, filename=str(f))
        except (OSError, SyntaxError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return f, tree, node, text
        for node in tree.body:  # re-exported: from .plugin import add_plugin_argument
            if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
                orig = next(a.name for a in node.names if (a.asname or a.name) == name)
                target = _resolve_module(f, node.module, node.level)
                if target is not None and target != f:
                    hit = _find_function(target, orig, depth + 1)
                    if hit:
                        return hit
    return None


def _contains_add_argument(fn: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "add_argument"
               for n in ast.walk(fn))


def _interpret_helper(fn: ast.FunctionDef, tree: ast.Module, text: str, rel: str, group: Optional[str],
                      param_index: int = 0) -> list[FlagSpec]:
    consts = _module_constants(tree)
    ns = _interp_namespace(tree, consts)
    params = [a.arg for a in fn.args.args]
    if not params:
        raise _Unresolvable(f"{fn.name}() takes no parser")
    rec = _Recorder(group, f"{rel}:{fn.lineno}")
    env = {params[min(param_index, len(params) - 1)]: rec}
    for p in params:
        env.setdefault(p, None)
    try:
        _Interp(ns).run_body(fn.body, env)
    except _Return:
        pass
    return _recorded_specs(rec, consts, rel)


def _interpret_statements(fn: ast.FunctionDef, tree: ast.Module, groups: dict, rel: str) -> list[FlagSpec]:
    """Expand the statements of a local function that add flags with computed names (loops), binding each
    receiver variable (parser or group) to a recorder. Earlier simple assignments are replayed when they can be."""
    consts = _module_constants(tree)
    interp = _Interp(_interp_namespace(tree, consts))
    env: dict[str, Any] = {}
    recorders: list[_Recorder] = []
    out: list[FlagSpec] = []
    for st in fn.body:
        dyn = [n for n in ast.walk(st) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr == "add_argument" and any(not isinstance(a, ast.Constant) for a in n.args)]
        if not dyn:
            if isinstance(st, ast.Assign):
                try:
                    interp.stmt(st, env)
                except (_Unresolvable, _Return, _Break, _Continue):
                    pass
            continue
        for call in dyn:
            recv = call.func.value
            if not isinstance(recv, ast.Name):
                raise _Unresolvable("add_argument on a computed receiver")
            if not isinstance(env.get(recv.id), _Recorder):
                rec = _Recorder(groups.get(recv.id), f"{rel}:{st.lineno}")
                env[recv.id] = rec
                recorders.append(rec)
        lits = [n for n in ast.walk(st) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "add_argument" and all(isinstance(a, ast.Constant) for a in n.args)]
        if lits:
            raise _Unresolvable("literal and computed flags in one statement")
        interp.stmt(st, env)
    for rec in recorders:
        out.extend(_recorded_specs(rec, consts, rel))
    return out


# ---- discovery -----------------------------------------------------------------------------------

_CACHE: dict[str, tuple[tuple, BuilderFlags]] = {}


def discover_flags(path: str | os.PathLike) -> BuilderFlags:
    """Every flag of the builder script at ``path``, found statically (the script is never run)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise WizardError(f"builder script not found: {p}", "give the path of build.py / convert_checkpoint.py "
                          "/ tensorrt_llm/commands/build.py in the checkout") from None
    if p.is_dir():
        raise WizardError(f"{p} is a folder, not a builder script", "give the path of the script itself")
    key = str(p.resolve())
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == _stamps(hit[1].sources):
        return hit[1]
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
        tree = ast.parse(text, filename=str(p))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # ValueError: NUL bytes on 3.10
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise WizardError(f"cannot parse {p}: {getattr(exc, 'msg', None) or exc or type(exc).__name__}{where}",
                          "is this a Python builder script of the checkout?") from None
    except OSError as exc:
        raise WizardError(f"cannot read {p}: {exc.strerror}", "check the path and its permissions") from None
    rel = p.name
    consts = _module_constants(tree)
    notes: list[str] = []
    specs: list[FlagSpec] = []
    sources: list[Path] = [p]

    # variables holding argument groups → their titles
    groups: dict[str, Optional[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                isinstance(node.value.func, ast.Attribute) and \
                node.value.func.attr in ("add_argument_group", "add_mutually_exclusive_group"):
            title = None
            if node.value.args and isinstance(node.value.args[0], ast.Constant):
                title = str(node.value.args[0].value)
            for kwn in node.value.keywords:
                if kwn.arg == "title" and isinstance(kwn.value, ast.Constant):
                    title = str(kwn.value.value)
            if node.value.func.attr == "add_mutually_exclusive_group" and title is None:
                title = "mutually exclusive"
            for t in node.targets:
                if isinstance(t, ast.Name):
                    groups[t.id] = title

    local_funcs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    imported: dict[str, tuple[Optional[str], int, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                imported[a.asname or a.name] = (node.module, node.level, a.name)

    dynamic_funcs: set[str] = set()
    # walk function by function so a dynamic add_argument can be attributed to its function
    parent_fn: dict[int, str] = {}
    for fn in local_funcs.values():
        for n in ast.walk(fn):
            parent_fn.setdefault(id(n), fn.name)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"):
            continue
        recv = node.func.value
        group = groups.get(recv.id) if isinstance(recv, ast.Name) else None
        spec = _spec_from_call(node, text, consts, rel, group)
        if spec is None:
            fname = parent_fn.get(id(node))
            if fname:
                dynamic_funcs.add(fname)
            else:
                notes.append(f"{rel}:{node.lineno}: add_argument with a computed name outside a function: skipped")
            continue
        specs.append(spec)
    specs.sort(key=lambda s: int(s.origin.rsplit(":", 1)[1]))

    for fname in sorted(dynamic_funcs):
        fn = local_funcs[fname]
        try:
            specs.extend(_interpret_statements(fn, tree, groups, rel))
        except _Unresolvable as exc:
            notes.append(f"{rel}: flags generated in {fname}() could not be expanded ({exc})")

    # helpers imported from the checkout and called with a parser/group: follow them
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        name = node.func.id
        if name in local_funcs or name not in imported:
            continue
        arg0 = node.args[0]
        group = groups.get(arg0.id) if isinstance(arg0, ast.Name) else None
        mod, level, orig = imported[name]
        target = _resolve_module(p, mod, level)
        where = ("." * level) + (mod or "")
        if target is None:
            if name.startswith("add_") or "argument" in name:
                notes.append(f"{name}() from {where} could not be followed: its source is not in this checkout, "
                             "so the flags it adds are unknown")
            continue
        hit = _find_function(target, orig)
        if hit is None:
            if name.startswith("add_") or "argument" in name:
                notes.append(f"{name}() not found in {where}: the flags it adds are unknown")
            continue
        hpath, htree, hfn, htext = hit
        sources.append(hpath)
        if not _contains_add_argument(hfn):
            continue
        hrel = os.path.relpath(hpath, p.parent) if hpath.is_absolute() else str(hpath)
        try:
            specs.extend(_interpret_helper(hfn, htree, htext, hrel, group))
        except _Unresolvable as exc:
            notes.append(f"{name}() in {hrel} could not be expanded ({exc}); only its literal flags are listed")
            for n in ast.walk(hfn):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "add_argument":
                    s = _spec_from_call(n, htext, _module_constants(htree), hrel, group)
                    if s:
                        specs.append(s)

    # de-duplicate (keep first), note duplicates
    seen: dict[str, FlagSpec] = {}
    out: list[FlagSpec] = []
    for s in specs:
        if s.name in seen:
            if s.origin != seen[s.name].origin:
                notes.append(f"{s.name} is defined twice ({seen[s.name].origin}, {s.origin}); the first is used")
            continue
        seen[s.name] = s
        out.append(s)
    if not out:
        notes.append(f"{rel}: no argparse flags found: is this a builder script (build.py, convert_checkpoint.py, "
                     "tensorrt_llm/commands/build.py)?")
    result = BuilderFlags(p, builder_kind(p), out, notes, sources)
    _CACHE[key] = (_stamps(sources), result)
    return result


def _stamps(paths: Iterable[Path]) -> tuple:
    out = []
    for q in paths:
        try:
            st = q.stat()
            out.append((str(q), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(q), None, None))
    return tuple(out)


def find_trtllm_build_source(start: str | os.PathLike) -> Optional[Path]:
    """``tensorrt_llm/commands/build.py`` (trtllm-build's source) in the checkout around ``start``."""
    s = Path(start).resolve()
    for anc in [s, *s.parents]:
        cand = anc / "tensorrt_llm" / "commands" / "build.py"
        if cand.is_file():
            return cand
    return None


def checkout_version(start: str | os.PathLike) -> Optional[str]:
    """The TensorRT-LLM version in ``tensorrt_llm/version.py`` of the checkout around ``start``, if any."""
    s = Path(start).resolve()
    for anc in [s, *s.parents]:
        v = anc / "tensorrt_llm" / "version.py"
        if v.is_file():
            m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", v.read_text(errors="replace"))
            if m:
                return m.group(1)
    return None


# --------------------------------------------------------------------------------------------------
# Intent → commands
# --------------------------------------------------------------------------------------------------

DTYPES = ("float16", "bfloat16", "float32")
MAX_WORLD_SIZE = 1024  # TP × PP above this is a typo, not a cluster


@dataclass
class BuildIntent:
    """What the person wants, independent of how a TensorRT-LLM version spells it."""

    model_dir: str = ""                  # the Hugging Face model folder (weights + config.json)
    output_dir: str = "trt_engines"      # where the engines go (relative paths: to the example folder)
    checkpoint_dir: Optional[str] = None  # convert_checkpoint.py output (0.8+); default <output_dir>_ckpt
    dtype: str = "float16"
    gemm_plugin: bool = True
    gpt_attention_plugin: bool = True
    tp_size: int = 1
    pp_size: int = 1
    world_size: Optional[int] = None     # None: tp × pp
    inflight_batching: bool = True
    paged_kv_cache: Optional[bool] = None  # None: follows inflight_batching
    context_fmha: bool = True
    remove_input_padding: bool = True
    parallel_build: bool = True
    workers: Optional[int] = None        # None: world size when parallel_build
    max_batch_size: Optional[int] = None
    max_input_len: Optional[int] = None
    max_output_len: Optional[int] = None
    max_seq_len: Optional[int] = None
    advanced: dict = field(default_factory=dict)          # extra flags of the build step (build.py / trtllm-build)
    advanced_convert: dict = field(default_factory=dict)  # extra flags of convert_checkpoint.py

    @property
    def effective_world_size(self) -> int:
        return self.world_size if self.world_size is not None else self.tp_size * self.pp_size

    @property
    def effective_paged_kv(self) -> bool:
        return self.inflight_batching if self.paged_kv_cache is None else self.paged_kv_cache

    @classmethod
    def tutorial(cls, **kw) -> "BuildIntent":
        """The tutorial's intent: FP16, gemm + gpt attention plugins, world size 2, inflight batching,
        context FMHA, remove input padding, parallel build, max input 2048, max output 512."""
        base = dict(dtype="float16", gemm_plugin=True, gpt_attention_plugin=True, tp_size=2, pp_size=1,
                    world_size=2, inflight_batching=True, context_fmha=True, remove_input_padding=True,
                    parallel_build=True, max_input_len=2048, max_output_len=512)
        base.update(kw)
        return cls(**base)


@dataclass
class Dropped:
    intent: str        # which intent item ("context FMHA", "advanced --foo")
    flag: Optional[str]
    reason: str


@dataclass
class Step:
    name: str                      # "convert", "trtllm-build", "build" (legacy), "partition"
    argv: list[str]
    cwd: Path
    builder: Optional[Path] = None  # the source its flags were discovered from
    output_dir: Optional[Path] = None

    @property
    def shell(self) -> str:
        return shlex.join(self.argv)


@dataclass
class BuildPlan:
    steps: list[Step]
    engine_dir: Path
    world_size: int
    tp_size: int
    pp_size: int
    layout: str                    # "legacy" or "two-step" or "partition"
    dropped: list[Dropped] = field(default_factory=list)
    translations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # discovery notes of the builders used
    intent: Optional[BuildIntent] = None
    trtllm_version: Optional[str] = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def preview(self) -> str:
        lines = []
        for s in self.steps:
            lines.append(f"# {s.name} (in {s.cwd})")
            lines.append(_pretty_shell(s.argv))
        for t in self.translations:
            lines.append(f"# translated: {t}")
        for d in self.dropped:
            lines.append(f"# dropped {d.flag or d.intent}: {d.reason}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "layout": self.layout, "engine_dir": str(self.engine_dir), "world_size": self.world_size,
            "tp_size": self.tp_size, "pp_size": self.pp_size, "trtllm_version": self.trtllm_version,
            "steps": [{"name": s.name, "argv": s.argv, "shell": s.shell, "cwd": str(s.cwd),
                       "builder": str(s.builder) if s.builder else None} for s in self.steps],
            "translations": self.translations,
            "dropped": [dataclasses.asdict(d) for d in self.dropped],
            "findings": [f.to_json() | {"level": f.severity} for f in self.findings],
            "notes": self.notes,
        }


def _pretty_shell(argv: Sequence[str]) -> str:
    """One flag (and its values) per line, shell-quoted, joined with backslash-newlines."""
    parts = [shlex.quote(a) for a in argv]
    lines, cur = [], []
    for a, q in zip(argv, parts):
        if a.startswith("--") and cur:
            lines.append(" ".join(cur))
            cur = []
        cur.append(q)
    if cur:
        lines.append(" ".join(cur))
    return " \\\n    ".join(lines)


class _Emitter:
    """Collects argv for one step; refuses flags the builder lacks (recording why)."""

    def __init__(self, flags: BuilderFlags, step: str, plan_dropped: list[Dropped]):
        self.flags = flags
        self.step = step
        self.argv: list[str] = []
        self.dropped = plan_dropped
        self.used: set[str] = set()

    def has(self, name: str) -> bool:
        return self.flags.has(name)

    def put(self, name: str, *values: Any) -> bool:
        spec = self.flags.get(name)
        if spec is None:
            return False
        self.used.add(spec.name)
        self.argv.append(spec.name)
        for v in values:
            self.argv.append(_fmt(v))
        return True

    def must(self, intent: str, name: str, value: Any) -> None:
        if not self.put(name, value):
            self.drop(intent, name, f"no {name} in {self.step}: it uses its default instead")

    def drop(self, intent: str, flag: Optional[str], reason: str) -> None:
        self.dropped.append(Dropped(intent, flag, f"{self.step}: {reason}"))

    def switch(self, intent: str, on: bool, names: Sequence[str], dtype: Optional[str] = None) -> None:
        """Turn a feature on/off with whatever spelling the builder has.

        enable/disable choices → ``--x enable|disable``; dtype choices → ``--x <dtype|auto>``;
        store_true → bare flag when on (nothing when off); nargs='?' with dtype choices → ``--x dtype``.
        """
        spec = self.flags.first(*names)
        if spec is None:
            if on:
                self.drop(intent, names[0], f"no {' / '.join(names)} flag in {self.step}"
                          + (f" ({self.flags.notes[0]})" if self.flags.notes else ""))
            return
        ch = [str(c) for c in spec.choices] if spec.choices else None
        if spec.action == "store_true":
            if on:
                self.put(spec.name)
            return
        if spec.action == "store_false":
            if not on:
                self.put(spec.name)
            return
        if spec.enable_disable:
            self.put(spec.name, "enable" if on else "disable")
            return
        if ch and dtype is not None:
            if not on:
                if "disable" in ch:
                    self.put(spec.name, "disable")
                return  # nargs='?' plugins: off = flag absent
            if "auto" in ch and self.flags.kind == "trtllm-build":
                self.put(spec.name, "auto")  # follows the checkpoint's dtype
            elif dtype in ch:
                self.put(spec.name, dtype)
            else:
                self.drop(intent, spec.name, f"{dtype} is not among its choices {ch}")
            return
        if spec.type in ("bool", "str2bool") or (spec.type in ("str", None) and ch is None):
            self.put(spec.name, "true" if on and spec.type in ("bool", "str2bool") else ("enable" if on else "disable"))
            return
        self.drop(intent, spec.name, f"cannot tell how to set {spec.name} (action {spec.action}, choices {ch})")


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def validate_advanced(flags: BuilderFlags, name: str, value: Any) -> list[str]:
    """argv for an advanced flag ``name`` = ``value`` checked against the discovered type/choices.

    ``value`` True/None for a switch; a list for nargs='+'. Raises WizardError for an unknown flag or a
    value the builder would refuse.
    """
    spec = flags.get(name)
    if spec is None:
        raise WizardError(f"{flags.display_name} has no flag {name if name.startswith('-') else '--' + name}",
                          f"see `lmi-wizard flags {shlex.quote(str(flags.path))}` for the flags this checkout knows")
    if spec.is_switch:
        if value in (True, None, "", "true", "True", "1"):
            return [spec.name]
        if value in (False, "false", "False", "0"):
            return []
        raise WizardError(f"{spec.name} is a switch ({spec.action}) and takes no value (got {value!r})",
                          f"pass {spec.name} on its own, or leave it out")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if spec.nargs in (None, "?") and len(values) > 1:
        raise WizardError(f"{spec.name} takes one value, got {len(values)}", "give a single value")
    if value is None or value is True:
        if spec.nargs == "?":
            return [spec.name]
        raise WizardError(f"{spec.name} needs a value", f"give {spec.name}=VALUE")
    out = [spec.name]
    for v in values:
        sv = _fmt(v)
        if spec.type == "int":
            try:
                int(sv)
            except ValueError:
                raise WizardError(f"{spec.name} expects an integer, got {sv!r}", "give a whole number") from None
        elif spec.type == "float":
            try:
                float(sv)
            except ValueError:
                raise WizardError(f"{spec.name} expects a number, got {sv!r}", "give a number") from None
        elif spec.type == "str2bool" and sv.lower() not in ("true", "false", "yes", "no", "1", "0", "t", "f", "y", "n"):
            raise WizardError(f"{spec.name} expects true/false, got {sv!r}", "give true or false")
        if spec.choices is not None and sv not in [str(c) for c in spec.choices]:
            raise WizardError(f"{sv!r} is not a valid value for {spec.name}",
                              f"choose one of: {', '.join(map(str, spec.choices))}")
        out.append(sv)
    return out


def _apply_advanced(em: _Emitter, advanced: dict) -> None:
    for name, value in advanced.items():
        argv = validate_advanced(em.flags, name, value)
        spec = em.flags.get(name)
        if spec.name in em.used:  # the advanced value wins over the intent's
            idx = em.argv.index(spec.name)
            end = idx + 1
            while end < len(em.argv) and not em.argv[end].startswith("--"):
                end += 1
            del em.argv[idx:end]
        em.used.add(spec.name)
        em.argv.extend(argv)


def _lengths(em: _Emitter, intent: BuildIntent, translations: list[str]) -> None:
    if intent.max_batch_size is not None:
        if not em.put("--max_batch_size", intent.max_batch_size):
            em.drop("max batch size", "--max_batch_size", f"no --max_batch_size in {em.flags.display_name}")
    if intent.max_input_len is not None:
        if not em.put("--max_input_len", intent.max_input_len):
            em.drop("max input length", "--max_input_len", f"no --max_input_len in {em.flags.display_name}")
    out_len, seq_len = intent.max_output_len, intent.max_seq_len
    if out_len is None and seq_len is None:
        return
    if em.has("--max_output_len") and not em.has("--max_seq_len"):
        if out_len is None:
            if intent.max_input_len is None:
                em.drop("max sequence length", "--max_seq_len", "this builder takes --max_output_len; give the "
                        "max input length too so it can be computed")
                return
            out_len = seq_len - intent.max_input_len
            translations.append(f"max sequence length {seq_len} → --max_output_len {out_len} "
                                f"(= {seq_len} − max input {intent.max_input_len}; {em.step} has no --max_seq_len)")
        em.put("--max_output_len", out_len)
        return
    if em.has("--max_seq_len"):
        if seq_len is None:
            if intent.max_input_len is None:
                em.drop("max output length", "--max_output_len", "this builder has --max_seq_len, not "
                        "--max_output_len; give the max input length so it can be computed")
                return
            seq_len = intent.max_input_len + out_len
            translations.append(f"max output length {out_len} → --max_seq_len {seq_len} "
                                f"(= max input {intent.max_input_len} + max output {out_len}; "
                                f"{em.step} has no --max_output_len)")
        em.put("--max_seq_len", seq_len)
        return
    em.drop("max output length", "--max_output_len", f"neither --max_output_len nor --max_seq_len in {em.flags.display_name}")


def _parallelism(em: _Emitter, intent: BuildIntent, world: int, legacy: bool) -> None:
    tp, pp = intent.tp_size, intent.pp_size
    if legacy and em.has("--world_size"):
        em.put("--world_size", world)
    if em.has("--tp_size"):
        em.put("--tp_size", tp)
        if em.has("--pp_size"):
            em.put("--pp_size", pp)
        elif pp != 1:
            em.drop("pipeline parallelism", "--pp_size", f"no --pp_size in {em.flags.display_name}")
    elif em.has("--world_size") and not legacy:
        if pp != 1:
            em.drop("pipeline parallelism", "--pp_size", f"only --world_size in {em.flags.display_name}")
        em.put("--world_size", world)
    elif not (legacy and em.has("--world_size")) and world > 1:
        em.drop("world size / tensor parallelism", "--tp_size",
                f"no --tp_size / --world_size in {em.flags.display_name}")


def _put_dtype(em: _Emitter, dtype: str) -> bool:
    """``--dtype`` when the builder has it (False when not); a dtype outside its choices is an error."""
    spec = em.flags.get("--dtype")
    if spec is None:
        return False
    if spec.choices and dtype not in spec.choices:
        raise WizardError(f"dtype {dtype!r} is not accepted by {em.flags.display_name}",
                          f"choose one of: {', '.join(map(str, spec.choices))}")
    return em.put("--dtype", dtype)


def render_plan(example_dir: str | os.PathLike, intent: BuildIntent, *, python: str = "python3",
                trtllm_build: Sequence[str] = ("trtllm-build",), trtllm_build_source: Optional[str | os.PathLike] = None,
                trtllm_version: Optional[str] = None, gpu: Optional["GpuFacts"] = None,
                model: Optional["ModelFacts"] = None, purpose: str = "build") -> BuildPlan:
    """The exact command(s) for ``intent`` in this checkout's example folder, with what was dropped or
    translated and the validation findings. Raises WizardError for inputs that cannot be rendered at all."""
    ex = Path(example_dir)
    if not ex.is_dir():
        what = f"{ex} is a file, not an example folder" if ex.exists() else f"example folder not found: {ex}"
        raise WizardError(what, "give a folder like <checkout>/examples/llama")
    legacy_src, convert_src = ex / "build.py", ex / "convert_checkpoint.py"
    if trtllm_version is None:
        trtllm_version = checkout_version(ex)
    world = intent.effective_world_size
    findings = validate_intent(intent, gpu=gpu, model=model, trtllm_version=trtllm_version, purpose=purpose)
    # automatic adjustments the findings explain
    if gpu is not None and gpu.sm is not None and gpu.sm < 80 and intent.context_fmha:
        intent = dataclasses.replace(intent, context_fmha=False)
    dropped: list[Dropped] = []
    translations: list[str] = []
    out_dir = Path(intent.output_dir)
    engine_dir = out_dir if out_dir.is_absolute() else ex / out_dir

    if convert_src.is_file():
        cflags = discover_flags(convert_src)
        bsrc = Path(trtllm_build_source) if trtllm_build_source else find_trtllm_build_source(ex)
        if bsrc is None or not bsrc.is_file():
            raise WizardError(f"trtllm-build's source (tensorrt_llm/commands/build.py) not found above {ex}",
                              "use a full TensorRT-LLM checkout at the installed version")
        bflags = discover_flags(bsrc)
        ckpt = intent.checkpoint_dir or (str(out_dir) + "_ckpt" if str(out_dir) not in ("", ".") else "tllm_checkpoint")
        conv = _Emitter(cflags, "convert_checkpoint.py", dropped)
        if intent.model_dir:
            if not conv.put("--model_dir", intent.model_dir):
                conv.drop("model folder", "--model_dir", "no --model_dir in convert_checkpoint.py")
        conv.must("checkpoint folder", "--output_dir", ckpt)
        if not _put_dtype(conv, intent.dtype):
            conv.drop("dtype", "--dtype", "no --dtype in convert_checkpoint.py")
        _parallelism(conv, intent, world, legacy=False)
        if intent.parallel_build and world > 1 and conv.has("--workers"):
            conv.put("--workers", intent.workers or world)
        _apply_advanced(conv, intent.advanced_convert)

        bld = _Emitter(bflags, "trtllm-build", dropped)
        bld.must("checkpoint folder", "--checkpoint_dir", ckpt)
        bld.must("engine folder", "--output_dir", str(out_dir))
        bld.switch("gemm plugin", intent.gemm_plugin, ["--gemm_plugin", "--use_gemm_plugin"], intent.dtype)
        bld.switch("gpt attention plugin", intent.gpt_attention_plugin,
                   ["--gpt_attention_plugin", "--use_gpt_attention_plugin"], intent.dtype)
        if intent.inflight_batching and not bflags.has("--use_inflight_batching"):
            translations.append("inflight batching → paged KV cache (trtllm-build has no --use_inflight_batching; "
                                "in-flight batching needs paged KV cache, the gpt attention plugin and removed "
                                "input padding)")
        if bflags.has("--use_inflight_batching"):
            bld.switch("inflight batching", intent.inflight_batching, ["--use_inflight_batching"])
        paged = intent.effective_paged_kv
        kvt = bflags.get("--kv_cache_type")
        if kvt is not None:
            bld.put("--kv_cache_type", "paged" if paged else "continuous")
        else:
            bld.switch("paged KV cache", paged, ["--paged_kv_cache"])
        bld.switch("context FMHA", intent.context_fmha, ["--context_fmha", "--enable_context_fmha"])
        bld.switch("remove input padding", intent.remove_input_padding, ["--remove_input_padding"])
        if intent.parallel_build and world > 1:
            if bflags.has("--workers"):
                bld.put("--workers", intent.workers or world)
            elif bflags.has("--parallel_build"):
                bld.put("--parallel_build")
            else:
                bld.drop("parallel build", "--workers", "no --workers / --parallel_build in trtllm-build")
        _lengths(bld, intent, translations)
        _apply_advanced(bld, intent.advanced)
        steps = [Step("convert", [python, "convert_checkpoint.py", *conv.argv], ex, convert_src, ex / ckpt),
                 Step("trtllm-build", [*trtllm_build, *bld.argv], ex, bsrc, engine_dir)]
        notes = [f"convert_checkpoint.py: {n}" for n in cflags.notes] + [f"trtllm-build: {n}" for n in bflags.notes]
        layout = "two-step"
    elif legacy_src.is_file():
        if intent.advanced_convert:
            raise WizardError(f"advanced convert_checkpoint.py flags ({', '.join(intent.advanced_convert)}) given, but "
                              f"{ex} builds in one step with the legacy build.py",
                              "set them on build.py instead (--set), after checking `lmi-wizard flags build.py`")
        lflags = discover_flags(legacy_src)
        em = _Emitter(lflags, "build.py", dropped)
        if intent.model_dir:
            if not em.put("--model_dir", intent.model_dir):
                em.drop("model folder", "--model_dir", "no --model_dir in build.py")
        _put_dtype(em, intent.dtype)
        em.switch("gemm plugin", intent.gemm_plugin, ["--use_gemm_plugin", "--gemm_plugin"], intent.dtype)
        em.switch("gpt attention plugin", intent.gpt_attention_plugin,
                  ["--use_gpt_attention_plugin", "--gpt_attention_plugin"], intent.dtype)
        _parallelism(em, intent, world, legacy=True)
        em.must("engine folder", "--output_dir", str(out_dir))
        em.switch("inflight batching", intent.inflight_batching, ["--use_inflight_batching"])
        em.switch("paged KV cache", intent.effective_paged_kv, ["--paged_kv_cache"])
        em.switch("context FMHA", intent.context_fmha, ["--enable_context_fmha", "--context_fmha"])
        em.switch("remove input padding", intent.remove_input_padding, ["--remove_input_padding"])
        if intent.parallel_build and world > 1:
            if lflags.has("--parallel_build"):
                em.put("--parallel_build")
            elif lflags.has("--workers"):
                em.put("--workers", intent.workers or world)
            else:
                em.drop("parallel build", "--parallel_build", "no --parallel_build in build.py")
        _lengths(em, intent, translations)
        _apply_advanced(em, intent.advanced)
        steps = [Step("build", [python, "build.py", *em.argv], ex, legacy_src, engine_dir)]
        notes = [f"build.py: {n}" for n in lflags.notes]
        layout = "legacy"
    else:
        raise WizardError(f"no builder in {ex}: neither convert_checkpoint.py nor build.py",
                          "choose a model folder of the checkout that has one")
    if gpu is not None and gpu.sm is not None and gpu.sm < 80 and not intent.context_fmha:
        translations.append(f"context FMHA turned off: it needs sm80+, this GPU is sm{gpu.sm}")
    return BuildPlan(steps, engine_dir, world, intent.tp_size, intent.pp_size, layout, dropped, translations,
                     findings, notes, intent, trtllm_version)


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------

@dataclass
class GpuFacts:
    name: str = ""
    sm: Optional[int] = None          # compute capability as an int: 75, 80, 86, 89, 90
    memory_bytes: Optional[int] = None
    count: int = 0                    # visible GPUs

    @classmethod
    def from_capability(cls, name: str, capability: tuple[int, int], memory_bytes: Optional[int], count: int):
        return cls(name, capability[0] * 10 + capability[1], memory_bytes, count)

    @classmethod
    def from_gpu_state(cls, state) -> Optional["GpuFacts"]:
        """From :class:`gpu.GpuState` (GPU 0 and the visible count); None when no GPU is visible."""
        if not getattr(state, "available", False) or not state.gpus:
            return None
        g = state.gpus[0]
        return cls.from_capability(g.name, tuple(g.compute_capability), g.memory_total_bytes, len(state.gpus))


@dataclass
class ModelFacts:
    num_attention_heads: Optional[int] = None
    num_key_value_heads: Optional[int] = None
    num_parameters: Optional[int] = None
    hidden_size: Optional[int] = None
    num_hidden_layers: Optional[int] = None
    vocab_size: Optional[int] = None
    intermediate_size: Optional[int] = None

    @classmethod
    def from_config(cls, cfg: dict) -> "ModelFacts":
        """From a Hugging Face config.json dict, read by :class:`models.ModelConfig` (one place for the key
        spellings of every family and for the parameter estimate)."""
        from ..models import ModelConfig

        facts = cls.coerce(ModelConfig("config.json", "dict", Path("config.json"), dict(cfg)))
        if isinstance(cfg.get("num_parameters"), int):
            facts.num_parameters = cfg["num_parameters"]
        return facts

    @classmethod
    def coerce(cls, obj) -> Optional["ModelFacts"]:
        """A ModelFacts from None, ModelFacts, a config.json dict, or a :class:`models.ModelConfig`."""
        if obj is None or isinstance(obj, ModelFacts):
            return obj
        if isinstance(obj, dict):
            return cls.from_config(obj)
        facts = cls(**{f.name: getattr(obj, f.name, None) for f in dataclasses.fields(cls)})
        est = getattr(obj, "estimate_parameters", None)
        if facts.num_parameters is None and callable(est):
            facts.num_parameters = est()
        return facts

    def estimated_parameters(self) -> Optional[int]:
        """``num_parameters`` when known, else the estimate of :meth:`models.ModelConfig.estimate_parameters`
        from these fields."""
        if self.num_parameters:
            return self.num_parameters
        from ..models import ModelConfig

        raw = {k: v for k, v in dataclasses.asdict(self).items() if v is not None and k != "num_parameters"}
        return ModelConfig("facts", "dict", Path("config.json"), raw).estimate_parameters()

    def kv_bytes_per_token(self, dtype_bytes: float) -> Optional[float]:
        h, n = self.hidden_size, self.num_hidden_layers
        if not (h and n and self.num_attention_heads):
            return None
        kv = self.num_key_value_heads or self.num_attention_heads
        return 2 * n * kv * (h / self.num_attention_heads) * dtype_bytes


def validate_intent(intent: BuildIntent, *, gpu: Optional[GpuFacts] = None, model=None,
                    trtllm_version: Optional[str] = None, purpose: str = "build") -> list[Finding]:
    """Reasons an intent will not build or serve here. ``purpose``: "build" or "serve"."""
    out: list[Finding] = []
    tp, pp = intent.tp_size, intent.pp_size
    world = intent.effective_world_size
    model = ModelFacts.coerce(model)
    for name, v in (("tensor parallel size", tp), ("pipeline parallel size", pp), ("world size", world)):
        if not isinstance(v, int) or v < 1:
            out.append(Finding("error", "parallel_size", f"{name} must be a positive whole number (got {v})",
                               "use 1, 2, 4 or 8"))
    if isinstance(world, int) and world > MAX_WORLD_SIZE:
        out.append(Finding("error", "world_too_large", f"world size {world} (TP {tp} × PP {pp}) is not a realistic "
                           f"number of GPUs (at most {MAX_WORLD_SIZE})",
                           "use the GPU count of the instance you deploy to (1, 2, 4 or 8)"))
    if intent.world_size is not None and tp * pp != intent.world_size:
        out.append(Finding("error", "tp_pp_world", f"TP × PP = {tp} × {pp} = {tp * pp}, but the world size is "
                           f"{intent.world_size}", "make TP × PP equal the world size"))
    if intent.dtype not in DTYPES:
        out.append(Finding("error", "dtype", f"dtype {intent.dtype!r} is not one of {', '.join(DTYPES)}",
                           "use float16 or bfloat16"))
    for name in ("max_batch_size", "max_input_len", "max_output_len", "max_seq_len", "workers"):
        v = getattr(intent, name)
        if v is not None and (not isinstance(v, int) or v < 1):
            out.append(Finding("error", name, f"{name} must be a positive whole number (got {v})", None))
    if intent.max_seq_len is not None and intent.max_input_len is not None and intent.max_seq_len <= intent.max_input_len:
        out.append(Finding("error", "max_seq_len", f"max sequence length {intent.max_seq_len} leaves no room for "
                           f"output after max input {intent.max_input_len}", "make max_seq_len > max_input_len"))
    if intent.inflight_batching and not intent.effective_paged_kv:
        out.append(Finding("warning", "ifb_paged", "inflight batching needs the paged KV cache", "enable paged KV cache"))
    if intent.inflight_batching and not (intent.gpt_attention_plugin and intent.remove_input_padding):
        out.append(Finding("warning", "ifb_plugins", "inflight batching needs the gpt attention plugin and removed "
                           "input padding", "turn both on"))
    ver = release_tuple(trtllm_version)
    if gpu is not None:
        if world > gpu.count:
            if purpose == "serve":
                out.append(Finding("error", "world_gt_gpus", f"world size {world} needs {world} GPUs, this machine "
                                   f"shows {gpu.count}", "serve on an instance with enough GPUs or lower TP"))
            else:
                out.append(Finding("warning", "world_gt_gpus", f"world size {world} > {gpu.count} visible GPU(s): "
                                   "the build runs serially (slower), and serving needs "
                                   f"{world} GPUs of this architecture", None))
        if gpu.sm is not None:
            if gpu.sm < 80 and intent.context_fmha:
                out.append(Finding("warning", "context_fmha_sm", f"context FMHA needs sm80+ (Ampere or newer); "
                                   f"{gpu.name or 'this GPU'} is sm{gpu.sm}, so it is turned off", None))
            if gpu.sm == 75 and ver is not None and ver >= (0, 14, 0):
                out.append(Finding("error", "sm75_unsupported", f"TensorRT-LLM {trtllm_version} no longer supports "
                                   f"sm75 (T4, {gpu.name or 'this GPU'}); support ended with 0.14",
                                   "use an LMI image with TensorRT-LLM ≤ 0.13 or an sm80+ GPU (A10G, L4, A100, H100)"))
            if gpu.sm < 70:
                out.append(Finding("error", "sm_too_old", f"sm{gpu.sm} is not supported by TensorRT-LLM",
                                   "use a Volta (sm70) or newer GPU"))
    if model is not None:
        hit = tp_split_problem(model.num_attention_heads, model.num_key_value_heads, tp) if isinstance(tp, int) else None
        if hit:
            out.append(Finding("error", *hit))
        if model.num_hidden_layers and pp > model.num_hidden_layers:
            out.append(Finding("error", "pp_layers", f"PP {pp} is more than the model's {model.num_hidden_layers} layers",
                               "lower PP"))
        params = model.estimated_parameters()
        if params and gpu is not None and gpu.memory_bytes and tp >= 1 and pp >= 1:
            b = BYTES_PER_DTYPE.get(intent.dtype, 2)
            per_gpu = params * b / (tp * pp)
            mem = gpu.memory_bytes
            kv_tok = model.kv_bytes_per_token(b)
            seq = intent.max_seq_len or ((intent.max_input_len or 0) + (intent.max_output_len or 0)) or None
            kv_need = kv_tok * seq * (intent.max_batch_size or 1) / (tp * pp) if kv_tok and seq else None
            if per_gpu > 0.95 * mem:
                out.append(Finding("error", "weights_memory", f"weights ≈ {gib(per_gpu)} per GPU "
                                   f"({params / 1e9:.1f} B params × {b:g} B / TP {tp}{f' / PP {pp}' if pp > 1 else ''}) "
                                   f"do not fit in {gib(mem)}", "raise TP/PP or use a GPU with more memory"))
            elif per_gpu > 0.8 * mem or (kv_need and per_gpu + kv_need > 0.9 * mem):
                extra = f" + KV cache for batch {intent.max_batch_size or 1} × {seq} tokens ≈ {gib(kv_need)}" if kv_need else ""
                out.append(Finding("warning", "weights_memory", f"weights ≈ {gib(per_gpu)} per GPU{extra} of "
                                   f"{gib(mem)}: little headroom for the KV cache",
                                   "raise TP, lower max batch size / lengths, or use a bigger GPU"))
            else:
                out.append(Finding("info", "weights_memory", f"weights ≈ {gib(per_gpu)} per GPU of {gib(mem)}", None))
    return out
