"""core/ never imports the front ends (textual, questionary, lmi_wizard.tui)."""

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"
FORBIDDEN = ("textual", "questionary", "lmi_wizard.tui", "tensorrt_llm", "tensorrt")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_core_has_no_front_end_or_trtllm_imports():
    bad = []
    files = sorted(CORE.rglob("*.py"))
    assert files, "core/ has no modules?"
    for path in files:
        for lineno, name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                bad.append(f"{path.relative_to(CORE.parent)}:{lineno} imports {name}")
    assert not bad, "\n".join(bad)


def test_forbidden_import_is_detected(tmp_path):
    # the checker itself must be able to fail
    p = tmp_path / "m.py"
    p.write_text("import os\nfrom textual.app import App\n")
    assert [n for _, n in _imports(p)] == ["os", "textual.app"]


def test_cli_version_does_not_import_heavy_modules():
    code = ("import sys; from lmi_wizard.tui.cli import main as cli; cli.main(['--version']);"
            "heavy=[m for m in ('textual','boto3','huggingface_hub','tensorrt_llm','torch','questionary') if m in sys.modules];"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out


def test_every_package_folder_is_listed_for_wheels():
    """A non-editable install ships only the packages pyproject lists: every folder with an
    __init__.py under core/ and tui/ must be there."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    root = CORE.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("core", "lmi_wizard.core"), ("tui", "lmi_wizard.tui")):
        for init in (root / top).rglob("__init__.py"):
            rel = init.parent.relative_to(root / top)
            found.add(".".join([name, *rel.parts]))
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"
