"""Builder flags discovered statically from the checkout (the builders import tensorrt and need a GPU, so
they are never imported or run here).

:func:`discover_flags` parses a builder script's ``argparse`` calls with :mod:`ast`: ``add_argument`` on any
parser or group variable, argument groups, helper functions in the same file, and helper functions imported
from the checkout (``add_plugin_argument`` in ``tensorrt_llm/plugin/plugin.py``), whose generated flags are
expanded by the closed interpreter of :mod:`.interp`. Results are cached per file (mtime + size of every
file read).
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Iterable, Optional

from ..base.errors import WizardError
from .interp import (
    _interpret_helper,
    _interpret_statements,
    _module_constants,
    _spec_from_call,
    _Unresolvable,
)
from .specs import BuilderFlags, FlagSpec, builder_kind

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


def _is_add_argument(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"


def _contains_add_argument(fn: ast.AST) -> bool:
    return any(_is_add_argument(n) for n in ast.walk(fn))


# ---- discovery -----------------------------------------------------------------------------------

_CACHE: dict[str, tuple[tuple, BuilderFlags]] = {}


def _check_script(p: Path) -> None:
    try:
        p.stat()
    except FileNotFoundError:
        raise WizardError(f"builder script not found: {p}", "give the path of build.py / convert_checkpoint.py "
                          "/ tensorrt_llm/commands/build.py in the checkout") from None
    if p.is_dir():
        raise WizardError(f"{p} is a folder, not a builder script", "give the path of the script itself")


def _read_script(p: Path) -> tuple[str, ast.Module]:
    """The builder script's text and syntax tree; one clear line when it is not Python."""
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
        return text, ast.parse(text, filename=str(p))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # ValueError: NUL bytes on 3.10
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise WizardError(f"cannot parse {p}: {getattr(exc, 'msg', None) or exc or type(exc).__name__}{where}",
                          "is this a Python builder script of the checkout?") from None
    except OSError as exc:
        raise WizardError(f"cannot read {p}: {exc.strerror}", "check the path and its permissions") from None


def _group_title(call: ast.Call) -> Optional[str]:
    title = None
    if call.args and isinstance(call.args[0], ast.Constant):
        title = str(call.args[0].value)
    for kwn in call.keywords:
        if kwn.arg == "title" and isinstance(kwn.value, ast.Constant):
            title = str(kwn.value.value)
    if call.func.attr == "add_mutually_exclusive_group" and title is None:
        title = "mutually exclusive"
    return title


def _group_titles(tree: ast.Module) -> dict[str, Optional[str]]:
    """Variables holding argument groups → their titles."""
    groups: dict[str, Optional[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                isinstance(node.value.func, ast.Attribute) and \
                node.value.func.attr in ("add_argument_group", "add_mutually_exclusive_group"):
            title = _group_title(node.value)
            for t in node.targets:
                if isinstance(t, ast.Name):
                    groups[t.id] = title
    return groups


def _literal_specs(tree: ast.Module, text: str, rel: str, groups: dict, local_funcs: dict,
                   notes: list[str]) -> tuple[list[FlagSpec], set[str]]:
    """The flags ``add_argument`` calls spell out, in source order, and the functions that compute flag names
    (to interpret)."""
    consts = _module_constants(tree)
    parent_fn: dict[int, str] = {}  # so a dynamic add_argument can be attributed to its function
    for fn in local_funcs.values():
        for n in ast.walk(fn):
            parent_fn.setdefault(id(n), fn.name)
    specs: list[FlagSpec] = []
    dynamic_funcs: set[str] = set()
    for node in ast.walk(tree):
        if not _is_add_argument(node):
            continue
        recv = node.func.value
        group = groups.get(recv.id) if isinstance(recv, ast.Name) else None
        spec = _spec_from_call(node, text, consts, rel, group)
        if spec is not None:
            specs.append(spec)
        elif parent_fn.get(id(node)):
            dynamic_funcs.add(parent_fn[id(node)])
        else:
            notes.append(f"{rel}:{node.lineno}: add_argument with a computed name outside a function: skipped")
    specs.sort(key=lambda s: int(s.origin.rsplit(":", 1)[1]))
    return specs, dynamic_funcs


def _generated_specs(dynamic_funcs: set[str], local_funcs: dict, tree: ast.Module, groups: dict, rel: str,
                     notes: list[str]) -> list[FlagSpec]:
    """The flags the script's own functions generate (loops over names), by the closed interpreter."""
    specs: list[FlagSpec] = []
    for fname in sorted(dynamic_funcs):
        try:
            specs.extend(_interpret_statements(local_funcs[fname], tree, groups, rel))
        except _Unresolvable as exc:
            notes.append(f"{rel}: flags generated in {fname}() could not be expanded ({exc})")
    return specs


def _follow_helper(p: Path, name: str, imported: tuple[Optional[str], int, str], group: Optional[str],
                   notes: list[str], sources: list[Path]) -> list[FlagSpec]:
    """The flags of ``name()``, a helper the script imports from the checkout (``add_plugin_argument``)."""
    mod, level, orig = imported
    target = _resolve_module(p, mod, level)
    where = ("." * level) + (mod or "")
    adds_flags = name.startswith("add_") or "argument" in name
    if target is None:
        if adds_flags:
            notes.append(f"{name}() from {where} could not be followed: its source is not in this checkout, "
                         "so the flags it adds are unknown")
        return []
    hit = _find_function(target, orig)
    if hit is None:
        if adds_flags:
            notes.append(f"{name}() not found in {where}: the flags it adds are unknown")
        return []
    hpath, htree, hfn, htext = hit
    sources.append(hpath)
    if not _contains_add_argument(hfn):
        return []
    hrel = os.path.relpath(hpath, p.parent) if hpath.is_absolute() else str(hpath)
    try:
        return list(_interpret_helper(hfn, htree, htext, hrel, group))
    except _Unresolvable as exc:
        notes.append(f"{name}() in {hrel} could not be expanded ({exc}); only its literal flags are listed")
    consts = _module_constants(htree)
    return [s for s in (_spec_from_call(n, htext, consts, hrel, group) for n in ast.walk(hfn) if _is_add_argument(n))
            if s]


def _helper_specs(p: Path, tree: ast.Module, groups: dict, local_funcs: dict, notes: list[str],
                  sources: list[Path]) -> list[FlagSpec]:
    """Helpers imported from the checkout and called with a parser/group: followed."""
    imported: dict[str, tuple[Optional[str], int, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                imported[a.asname or a.name] = (node.module, node.level, a.name)
    specs: list[FlagSpec] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        name = node.func.id
        if name in local_funcs or name not in imported:
            continue
        arg0 = node.args[0]
        group = groups.get(arg0.id) if isinstance(arg0, ast.Name) else None
        specs.extend(_follow_helper(p, name, imported[name], group, notes, sources))
    return specs


def _first_of_each(specs: list[FlagSpec], notes: list[str]) -> list[FlagSpec]:
    """De-duplicated (the first definition kept); a flag defined in two places is noted."""
    seen: dict[str, FlagSpec] = {}
    out: list[FlagSpec] = []
    for s in specs:
        if s.name in seen:
            if s.origin != seen[s.name].origin:
                notes.append(f"{s.name} is defined twice ({seen[s.name].origin}, {s.origin}); the first is used")
            continue
        seen[s.name] = s
        out.append(s)
    return out


def discover_flags(path: str | os.PathLike) -> BuilderFlags:
    """Every flag of the builder script at ``path``, found statically (the script is never run)."""
    p = Path(path)
    _check_script(p)
    key = str(p.resolve())
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == _stamps(hit[1].sources):
        return hit[1]
    text, tree = _read_script(p)
    rel = p.name
    notes: list[str] = []
    sources: list[Path] = [p]
    groups = _group_titles(tree)
    local_funcs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    specs, dynamic_funcs = _literal_specs(tree, text, rel, groups, local_funcs, notes)
    specs += _generated_specs(dynamic_funcs, local_funcs, tree, groups, rel, notes)
    specs += _helper_specs(p, tree, groups, local_funcs, notes, sources)
    out = _first_of_each(specs, notes)
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
