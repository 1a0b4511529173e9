"""A folder as ``tree`` prints it (the tutorial's final check), and the same as data for the TUI.

Order follows ``tree`` under a UTF-8 locale (``strcoll``), which is what the tutorial shows:
punctuation is ignored at first, case is folded, so ``tokenizer_config.json`` comes before
``tokenizer.model`` and ``1/`` before ``config.json``. Symlinks are listed as ``name -> target`` and
never followed (no loops, nothing outside the folder is read).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .base.errors import WizardError

MAX_NODES = 20000


@dataclass
class Node:
    name: str
    kind: str  # "dir" | "file" | "symlink" | "other"
    size: int = 0  # file: its size; dir: the total of the files below
    target: Optional[str] = None  # symlink target
    children: list["Node"] = field(default_factory=list)
    truncated: bool = False  # more entries than MAX_NODES

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "size": self.size}
        if self.target is not None:
            d["target"] = self.target
        if self.kind == "dir":
            d["children"] = [c.to_dict() for c in self.children]
        if self.truncated:
            d["truncated"] = True
        return d

    def paths(self, prefix: str = "") -> list[str]:
        """Every path below (files and symlinks; dirs end in "/"), relative, in display order."""
        out = []
        for c in self.children:
            p = f"{prefix}{c.name}"
            if c.kind == "dir":
                out.append(p + "/")
                out.extend(c.paths(p + "/"))
            else:
                out.append(p)
        return out

    def counts(self) -> tuple[int, int]:
        dirs = files = 0
        for c in self.children:
            if c.kind == "dir":
                d, f = c.counts()
                dirs += 1 + d
                files += f
            else:
                files += 1
        return dirs, files


def sort_key(name: str) -> tuple:
    """Like glibc's strcoll in en_US.UTF-8 for file names: letters/digits first, case-folded."""
    alnum = re.sub(r"[^0-9A-Za-z]", "", name).lower()
    return (alnum, name.lower(), name)


def tree_data(path: str | os.PathLike, *, hidden: bool = False,
              exclude: Callable[[str], bool] | None = None) -> Node:
    """Walk ``path`` into nested :class:`Node` s (sizes summed up the tree)."""
    root = Path(path)
    if not root.is_dir():
        raise WizardError(f"{root} is not a folder", "give the model repository folder")
    count = [0]

    def walk(p: Path, name: str) -> Node:
        node = Node(name=name, kind="dir")
        try:
            entries = sorted(os.scandir(p), key=lambda e: sort_key(e.name))
        except OSError as exc:
            raise WizardError(f"cannot list {p}: {exc.strerror or exc}", "check the permissions") from None
        for e in entries:
            if not hidden and e.name.startswith("."):
                continue
            if exclude is not None and exclude(e.name):
                continue
            count[0] += 1
            if count[0] > MAX_NODES:
                node.truncated = True
                break
            if e.is_symlink():
                try:
                    target = os.readlink(e.path)
                except OSError:
                    target = "?"
                child = Node(e.name, "symlink", target=target)
            elif e.is_dir(follow_symlinks=False):
                child = walk(Path(e.path), e.name)
            elif e.is_file(follow_symlinks=False):
                child = Node(e.name, "file", size=e.stat(follow_symlinks=False).st_size)
            else:
                child = Node(e.name, "other")
            node.children.append(child)
            node.size += child.size
        return node

    return walk(root, root.name or str(root))


def render_tree(node: Node, *, root_label: Optional[str] = ".", summary: bool = False,
                sizes: bool = False) -> str:
    """``tree``-style text. ``root_label=None`` leaves out the first line (as the tutorial's listing does)."""
    lines: list[str] = []
    if root_label is not None:
        lines.append(root_label)

    def label(n: Node) -> str:
        s = f"[{n.size:>10}]  " if sizes and n.kind != "dir" else ""
        if n.kind == "symlink":
            return f"{s}{n.name} -> {n.target}"
        return s + n.name

    def rec(n: Node, prefix: str) -> None:
        for i, c in enumerate(n.children):
            last = i == len(n.children) - 1 and not n.truncated
            lines.append(prefix + ("└── " if last else "├── ") + label(c))
            if c.kind == "dir":
                rec(c, prefix + ("    " if last else "│   "))
        if n.truncated:
            lines.append(prefix + "└── …")

    rec(node, "")
    if summary:
        d, f = node.counts()
        lines.append("")
        lines.append(f"{d} director{'y' if d == 1 else 'ies'}, {f} file{'' if f == 1 else 's'}")
    return "\n".join(lines) + "\n"


def tree_text(path: str | os.PathLike, *, root_label: Optional[str] = ".", summary: bool = False,
              hidden: bool = False, sizes: bool = False) -> str:
    return render_tree(tree_data(path, hidden=hidden), root_label=root_label, summary=summary, sizes=sizes)
