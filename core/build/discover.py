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


def _contains_add_argument(fn: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "add_argument"
               for n in ast.walk(fn))


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
