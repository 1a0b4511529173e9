"""README's "LMI releases" table is generated from core/data/lmi_releases.json (one source)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lmi_wizard.core.facts import target

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("release_table", ROOT / "scripts" / "release_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_table_is_the_generated_one():
    mod = _script()
    readme = (ROOT / "README.md").read_text("utf-8")
    assert mod.replace_block(readme, mod.render()) == readme, "run: python scripts/release_table.py --write"


def test_table_has_every_release_and_follows_the_data():
    mod = _script()
    table = dict(target.load_release_table())
    text = mod.render(table)
    rows = [line for line in text.splitlines() if line.startswith("| 0.")]
    assert [r.split("|")[1].strip() for r in rows] == [r["lmi"] for r in target.releases()]
    assert "| 0.35.0 | **none published**" in text and "crashes" in rows[-1]
    # a change of the data changes the table (it is generated, not typed)
    changed = dict(table, releases=[dict(r, trtllm="9.9.9") if r["lmi"] == "0.31.0" else r for r in table["releases"]])
    assert "| 0.31.0 | Docker Hub only (no SageMaker DLC) | 9.9.9 |" in mod.render(changed)
