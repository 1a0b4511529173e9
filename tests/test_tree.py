"""tree-style rendering and the data form for the TUI."""

from __future__ import annotations

import os

import pytest

from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.tree import Node, render_tree, sort_key, tree_data, tree_text


def _make(root, paths):
    for p in paths:
        path = root / p
        if p.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * (len(p)))


def test_glyphs_nesting_and_summary(tmp_path):
    _make(tmp_path, ["a/b/c.txt", "a/d.txt", "e.txt"])
    assert tree_text(tmp_path, summary=True) == (
        ".\n"
        "├── a\n"
        "│   ├── b\n"
        "│   │   └── c.txt\n"
        "│   └── d.txt\n"
        "└── e.txt\n"
        "\n"
        "2 directories, 3 files\n")
    assert tree_text(tmp_path, root_label=None).startswith("├── a\n")


def test_locale_like_order():
    names = ["tokenizer.model", "tokenizer_config.json", "config.pbtxt", "1", "config.json",
             "configuration_baichuan.py", "Zeta", "alpha"]
    assert sorted(names, key=sort_key) == ["1", "alpha", "config.json", "config.pbtxt",
                                           "configuration_baichuan.py", "tokenizer_config.json",
                                           "tokenizer.model", "Zeta"]


def test_data_form_sizes_symlinks_hidden(tmp_path):
    _make(tmp_path, ["m/1/rank0.engine", "m/config.pbtxt", ".cache/x"])
    (tmp_path / "m" / "link").symlink_to(tmp_path)  # a loop if followed
    node = tree_data(tmp_path)
    d = node.to_dict()
    m = d["children"][0]
    assert m["name"] == "m" and m["kind"] == "dir"
    assert m["size"] == len("m/1/rank0.engine") + len("m/config.pbtxt")
    kinds = {c["name"]: c["kind"] for c in m["children"]}
    assert kinds == {"1": "dir", "config.pbtxt": "file", "link": "symlink"}
    assert ".cache" not in [c["name"] for c in d["children"]]
    assert ".cache" in [c.name for c in tree_data(tmp_path, hidden=True).children]
    assert f"link -> {tmp_path}" in render_tree(node)
    assert node.paths() == ["m/", "m/1/", "m/1/rank0.engine", "m/config.pbtxt", "m/link"]
    assert node.counts() == (2, 3)
    assert "[        16]  rank0.engine" in render_tree(node, sizes=True)


def test_not_a_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(WizardError, match="not a folder"):
        tree_data(tmp_path / "f")


def test_truncation(tmp_path, monkeypatch):
    import lmi_wizard.core.tree as t

    monkeypatch.setattr(t, "MAX_NODES", 3)
    _make(tmp_path, [f"f{i}" for i in range(6)])
    node = tree_data(tmp_path)
    assert node.truncated and len(node.children) == 3
    assert render_tree(node).endswith("└── …\n")
