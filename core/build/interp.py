"""The closed interpreter behind flag discovery: literal ``add_argument`` calls read from the AST, and the
flags a builder *generates* (``add_plugin_argument`` loops over a dataclass or pydantic model's fields)
expanded by running those few statements over literals, the module's own constants and classes, and typing
helpers only. Nothing of the checkout is imported or run; anything else raises :class:`_Unresolvable`,
which discovery turns into a note.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import typing
from dataclasses import dataclass
from typing import Any, Optional

from .specs import FlagSpec


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
