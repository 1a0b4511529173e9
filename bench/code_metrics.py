"""Code-shape figures for core/ and tui/: module sizes, longest and most complex functions, duplicate pairs.

    .venv/bin/python bench/code_metrics.py [--top 6] [--longest 5] [--cc 15] [--no-duplicates] [--json]

Prints (and asserts nothing):
- module count and total lines, the largest modules;
- the longest functions (lines from ``def`` to the last line of the body, nested functions counted
  separately and also inside their parent);
- functions over the complexity limit: a cyclomatic-ish count, 1 + one per ``if``/``elif``, loop,
  ``except``, conditional expression, comprehension ``for``/``if``, ``match`` case, ``assert``, and
  one per extra operand of ``and``/``or`` (nested functions count on their own, not in the parent);
- the duplicate pairs the ``duplicates`` tool finds in the whole tree and in core/ + tui/ (when it is on PATH).

Run it before and after a clean-up and put the two in the note; the figures are a map of where to look,
not a verdict.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "tui")


@dataclass(frozen=True)
class Func:
    where: str
    name: str
    lines: int
    cc: int


class _Complexity(ast.NodeVisitor):
    """Decision points of one function body; nested defs and classes are not entered."""

    def __init__(self) -> None:
        self.count = 1

    def _nested(self, node: ast.AST) -> None:  # nested function: measured on its own
        return None

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _nested

    def _one(self, node: ast.AST) -> None:
        self.count += 1
        self.generic_visit(node)

    visit_If = visit_For = visit_AsyncFor = visit_While = visit_IfExp = _one
    visit_ExceptHandler = visit_Assert = visit_match_case = _one

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self.count += len(node.values) - 1
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.count += 1 + len(node.ifs)
        self.generic_visit(node)


def complexity(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    visitor = _Complexity()
    for stmt in fn.body:
        visitor.visit(stmt)
    return visitor.count


def functions(path: Path, rel: str) -> list[Func]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            found.append(Func(f"{rel}:{node.lineno}", node.name, lines, complexity(node)))
    return found


def modules(root: Path) -> list[tuple[str, int]]:
    out = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            out.append((rel, len(path.read_text(encoding="utf-8").splitlines())))
    return out


def duplicate_pairs(repo: Path) -> int | None:
    """The pair count from the first line of ``duplicates`` (None when the tool is not installed)."""
    tool = shutil.which("duplicates")
    if tool is None or not repo.is_dir():
        return None
    first = subprocess.run([tool, "--repo", str(repo), "--most", "1", "--seconds", "120"],
                           capture_output=True, text=True, check=False).stdout.splitlines()
    match = re.search(r"(\d+) pairs?", first[0]) if first else None
    if match:
        return int(match.group(1))
    return 0 if first and first[0].startswith("no duplicates") else None


def measure(root: Path, cc_limit: int, with_duplicates: bool) -> dict:
    mods = modules(root)
    funcs = [f for rel, _ in mods for f in functions(root / rel, rel)]
    report = {
        "modules": len(mods),
        "lines": sum(n for _, n in mods),
        "largest_modules": sorted(mods, key=lambda m: -m[1]),
        "longest_functions": sorted(funcs, key=lambda f: -f.lines),
        "complex_functions": sorted((f for f in funcs if f.cc > cc_limit), key=lambda f: -f.cc),
        "functions": len(funcs),
        "functions_over_60_lines": sum(f.lines > 60 for f in funcs),
    }
    if with_duplicates:
        report["duplicate_pairs_tree"] = duplicate_pairs(root)
        report["duplicate_pairs_core"] = duplicate_pairs(root / "core")
        report["duplicate_pairs_tui"] = duplicate_pairs(root / "tui")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder (default: this checkout)")
    parser.add_argument("--top", type=int, default=6, help="how many largest modules to list")
    parser.add_argument("--longest", type=int, default=5, help="how many longest functions to list")
    parser.add_argument("--cc", type=int, default=15, help="complexity limit: functions above it are listed")
    parser.add_argument("--no-duplicates", action="store_true", help="skip the duplicates tool")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    r = measure(args.root, args.cc, not args.no_duplicates)
    if args.json:
        r = dict(r, largest_modules=r["largest_modules"][: args.top],
                 longest_functions=[asdict(f) for f in r["longest_functions"][: args.longest]],
                 complex_functions=[asdict(f) for f in r["complex_functions"]])
        print(json.dumps(r, indent=1))
        return 0
    print(f"modules: {r['modules']} ({r['lines']} lines), functions: {r['functions']}, "
          f"over 60 lines: {r['functions_over_60_lines']}")
    print(f"largest {args.top} modules:")
    for rel, n in r["largest_modules"][: args.top]:
        print(f"  {n:5d}  {rel}")
    print(f"longest {args.longest} functions:")
    for f in r["longest_functions"][: args.longest]:
        print(f"  {f.lines:5d} lines  cc {f.cc:3d}  {f.name}  {f.where}")
    print(f"functions with complexity > {args.cc}: {len(r['complex_functions'])}")
    for f in r["complex_functions"][:15]:
        print(f"  cc {f.cc:3d}  {f.lines:4d} lines  {f.name}  {f.where}")
    if len(r["complex_functions"]) > 15:
        print(f"  (+{len(r['complex_functions']) - 15} more)")
    if "duplicate_pairs_tree" in r:
        print(f"duplicate pairs (duplicates tool): tree {r['duplicate_pairs_tree']}, "
              f"core/ {r['duplicate_pairs_core']}, tui/ {r['duplicate_pairs_tui']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
