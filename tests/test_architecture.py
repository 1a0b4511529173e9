"""Import contracts, checked on the source with ``ast`` (import-linter's grimp cannot follow this project's
package-dir mapping ``lmi_wizard.core`` → ``core/``, ``lmi_wizard.tui`` → ``tui/``; this is the same contract):

- layers, highest first: front ends (``lmi_wizard.tui``) > ``core.pipeline`` (and ``core.remote.submit``/``inside``, which run
  the whole job elsewhere) > ``core.wizard`` > domain (``core.build``, ``core.triton``, ``core.tokenizer``, ``core.s3``,
  ``core.layout``, ``core.lmi``, ``core.preflight``, ``core.checkout``, ``core.models``, ``core.tree``, ``core.hub``,
  ``core.sizing``, ``core.serve``, the rest of ``core.remote``) > ``core.facts`` > ``core.base``; a module imports only its own layer or lower ones (``core.data``
  holds data files and may be read by any layer); every core module must be placed;
- ``core`` never imports textual, questionary, argparse, the front ends, tensorrt_llm or tensorrt;
- ``tui.screens`` never import ``core.pipeline.steps`` (screens go through the pipeline's public preview API);
- every import counts, the deferred ones inside functions too; each deferred import of a third-party package
  (kept out of module level for start-up speed) is listed in ``DEFERRED`` with its reason.

Where today's code breaks a layer, the import is in ``ALLOWED_VIOLATIONS`` with a comment: the list may only
shrink (an entry no longer needed fails too, so it is removed when the code is fixed)."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"
TOPS = {"core": "lmi_wizard.core", "tui": "lmi_wizard.tui"}

FRONT, PIPELINE, WIZARD, DOMAIN, FACTS, BASE = 6, 5, 4, 3, 2, 1
LAYER_NAMES = {FRONT: "front ends", PIPELINE: "core.pipeline", WIZARD: "core.wizard", DOMAIN: "domain",
               FACTS: "core.facts", BASE: "core.base"}
DOMAIN_PACKAGES = ("build", "triton", "tokenizer", "s3", "layout", "lmi", "check", "preflight", "checkout", "models",
                   "tree", "hub", "hubnet", "sizing", "serve")
PIPELINE_PACKAGES = ("pipeline",)
# core.remote is split: its catalogs (instances, images, job shapes, policy, status, logs) are domain facts the
# wizard's rules read; the modules that run a whole recipe elsewhere sit beside the pipeline, above the wizard
REMOTE_PIPELINE_MODULES = ("lmi_wizard.core.remote.submit", "lmi_wizard.core.remote.inside")
FORBIDDEN_IN_CORE = ("textual", "questionary", "argparse", "lmi_wizard.tui", "tensorrt_llm", "tensorrt")

# (importing module, imported module) → why it is still there. Layer breaks of today's code, being removed.
ALLOWED_VIOLATIONS: dict[tuple[str, str], str] = {
    # none at a847cc8+: after the split every import already goes down (deferred ones included). Add an entry
    # here only with a comment naming who removes it, e.g.
    # ("lmi_wizard.core.facts.x", "lmi_wizard.core.pipeline.engine"): "paths object moves to core.base (h-…)",
}

# (importing module, third-party top package) → why it is imported inside a function, not at module level.
DEFERRED: dict[tuple[str, str], str] = {
    ("lmi_wizard.core.facts.gpu", "pynvml"): "NVML is loaded only when GPUs are read (and is absent off-GPU)",
    ("lmi_wizard.core.serve.gpumem", "pynvml"): "NVML only while a load test samples GPU memory",
    ("lmi_wizard.core.facts.versions", "packaging"): "parsed on first use: `--version` and verb parsing stay light",
    ("lmi_wizard.core.hub", "huggingface_hub"): "~0.3 s import; only config.json look-ups on the Hub need it",
    ("lmi_wizard.core.hubnet", "huggingface_hub"): "~0.3 s import; only Hub requests need it",
    ("lmi_wizard.core.hubnet", "httpx2"): "the Hub client's HTTP stack; only Hub requests need it",
    ("lmi_wizard.core.tokenizer.sources", "huggingface_hub"): "~0.3 s import; only Hub downloads need it",
    ("lmi_wizard.core.s3.client", "boto3"): "~0.5 s import; only S3 destinations need it",
    ("lmi_wizard.core.s3.client", "botocore"): "comes with boto3; only S3 destinations need it",
    ("lmi_wizard.core.remote.aws", "boto3"): "~0.5 s import; only remote runs on AWS need it",
    ("lmi_wizard.core.remote.aws", "botocore"): "comes with boto3; only remote runs on AWS need it",
    ("lmi_wizard.core.remote.instances", "botocore"): "botocore's data only when instance types are looked up",
    ("lmi_wizard.core.remote.wheelhouse", "packaging"): "wheel tags only when a wheelhouse is built",
    ("lmi_wizard.core.wizard.where", "boto3"): "only the remote-run rules that ask AWS need it",
    ("lmi_wizard.core.triton.check", "google"): "protobuf text_format: only the strict parse of a config.pbtxt",
    ("lmi_wizard.core.triton.check", "tritonclient"): "Triton's ModelConfig proto: only the strict parse",
    ("lmi_wizard.tui.plain", "questionary"): "plain mode only; `--version`/verbs never load it",
    ("lmi_wizard.tui.screens.base", "textual"): "widgets built on demand inside screen methods",
    ("lmi_wizard.tui.screens.environment", "textual"): "a worker helper imported where the look-up runs",
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts[1:])
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([TOPS[rel.parts[0]], *parts])


def layer_of(name: str) -> int | None:
    """The layer of an lmi_wizard module (None: not layered — the core package itself, core.data, outsiders)."""
    if name == "lmi_wizard.tui" or name.startswith("lmi_wizard.tui."):
        return FRONT
    parts = name.split(".")
    if parts[:2] != ["lmi_wizard", "core"] or len(parts) < 3:
        return None
    sub = parts[2]
    if sub in PIPELINE_PACKAGES or any(name == m or name.startswith(m + ".") for m in REMOTE_PIPELINE_MODULES):
        return PIPELINE
    if sub == "remote":
        return DOMAIN
    return {"wizard": WIZARD, "facts": FACTS, "base": BASE}.get(sub, DOMAIN if sub in DOMAIN_PACKAGES else None)


def imports_of(path: Path, mod: str | None = None) -> list[tuple[int, str, bool]]:
    """(line, imported module, deferred) for every import in ``path``; relative imports made absolute; ``from
    pkg import name`` yields ``pkg.name`` too (it may be a sub-module). ``if TYPE_CHECKING:`` imports are skipped
    (never run)."""
    if mod is None:
        mod = module_name(path) if path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in TOPS else "m"
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other, deferred)
                continue
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((child.lineno, a.name, deferred) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                out.append((child.lineno, target, deferred))
                out.extend((child.lineno, f"{target}.{a.name}", deferred) for a in child.names if a.name != "*")
            visit(child, inner)

    visit(tree, False)
    return out


@cache
def project_modules() -> dict[str, Path]:
    mods = {}
    for top in TOPS:
        for p in sorted((ROOT / top).rglob("*.py")):
            mods[module_name(p)] = p
    return mods


def _is_module(name: str) -> bool:
    return name in project_modules()


def layer_breaks() -> dict[tuple[str, str], str]:
    """(importer, imported) → 'path:line layer → layer' for every import that goes UP a layer."""
    found = {}
    for mod, path in project_modules().items():
        low = layer_of(mod)
        if low is None:
            continue
        for line, name, _ in imports_of(path, mod):
            if not name.startswith("lmi_wizard.") or not _is_module(name):
                continue
            high = layer_of(name)
            if high is not None and high > low:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found[(mod, name)] = (f"{where}:{line} {LAYER_NAMES[low]} imports "
                                      f"{LAYER_NAMES[high]} ({name})")
    return found


def test_layers_only_import_downwards():
    found = layer_breaks()
    new = {k: v for k, v in found.items() if k not in ALLOWED_VIOLATIONS}
    assert not new, "imports that go up a layer:\n" + "\n".join(sorted(new.values()))
    stale = sorted(set(ALLOWED_VIOLATIONS) - set(found))
    assert not stale, f"fixed, remove from ALLOWED_VIOLATIONS: {stale}"


def test_every_core_module_has_a_layer():
    """A new core package must be placed in the layer map above (else its imports would go unchecked)."""
    unplaced = sorted(m for m in project_modules()
                      if layer_of(m) is None and m not in ("lmi_wizard.core", "lmi_wizard.core.data"))
    assert not unplaced, f"add to DOMAIN_PACKAGES / PIPELINE_PACKAGES or a layer: {unplaced}"


def test_core_has_no_front_end_argparse_or_trtllm_imports():
    bad = []
    files = sorted(CORE.rglob("*.py"))
    assert files, "core/ has no modules?"
    for path in files:
        for lineno, name, _ in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_CORE):
                bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    assert not bad, "\n".join(bad)


def test_screens_do_not_reach_into_pipeline_steps():
    bad = []
    for path in sorted((ROOT / "tui" / "screens").rglob("*.py")):
        for lineno, name, _ in imports_of(path):
            if name == "lmi_wizard.core.pipeline.steps" or name.startswith("lmi_wizard.core.pipeline.steps."):
                bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    assert not bad, "\n".join(bad)


def test_every_deferred_third_party_import_is_listed_with_its_reason():
    std = sys.stdlib_module_names
    found = set()
    for mod, path in project_modules().items():
        for _, name, deferred in imports_of(path):
            top = name.split(".")[0]
            if deferred and top and top not in std and top != "lmi_wizard":
                found.add((mod, top))
    unlisted = sorted(found - set(DEFERRED))
    assert not unlisted, f"deferred imports without a reason in DEFERRED: {unlisted}"
    stale = sorted(set(DEFERRED) - found)
    assert not stale, f"no longer deferred, remove from DEFERRED: {stale}"
    assert all(reason.strip() for reason in DEFERRED.values())


@pytest.mark.parametrize("source, want", [
    ("import os\nfrom textual.app import App\n", [("os", False), ("textual.app", False), ("textual.app.App", False)]),
    ("def f():\n    import boto3\n", [("boto3", True)]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import textual\n",
     [("typing", False), ("typing.TYPE_CHECKING", False)]),
])
def test_the_import_scanner_sees_what_it_must(tmp_path, source, want):
    p = tmp_path / "m.py"
    p.write_text(source)
    assert [(n, d) for _, n, d in imports_of(p)] == want


def test_relative_and_deferred_imports_resolve_to_their_layer(tmp_path, monkeypatch):
    """The layer check can fail: a core.facts module importing the pipeline inside a function is a break."""
    assert module_name(ROOT / "core" / "facts" / "gpu.py") == "lmi_wizard.core.facts.gpu"
    assert layer_of("lmi_wizard.core.facts.gpu") == FACTS and layer_of("lmi_wizard.core.check") == DOMAIN
    assert layer_of("lmi_wizard.tui.screens.build") == FRONT and layer_of("lmi_wizard.core.data") is None
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..pipeline import engine\n")
    [(_, name, deferred)] = [i for i in imports_of(probe, "lmi_wizard.core.facts.probe")
                             if i[1] == "lmi_wizard.core.pipeline"]
    assert deferred and layer_of(name) == PIPELINE > FACTS
    fake = {"lmi_wizard.core.facts.probe": probe, "lmi_wizard.core.pipeline": probe}
    monkeypatch.setattr(sys.modules[__name__], "project_modules", lambda: fake)
    monkeypatch.setattr(sys.modules[__name__], "_is_module", lambda n: n in fake)
    assert ("lmi_wizard.core.facts.probe", "lmi_wizard.core.pipeline") in layer_breaks()


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
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in TOPS.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]))
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"


# ------------------------------------------------------------------------------------- the tests themselves
def imports_of_test_modules(folder: Path) -> list[str]:
    """'path:line imports M' for each import, anywhere under ``folder`` (tests/), of one of its test modules
    (``test_*.py``), spelled ``tests.test_x``, ``from tests import test_x`` or bare ``test_x``. A test module
    never imports another: shared helpers live in tests/support/<topic>.py, shared fixtures in tests/conftest.py
    (a test module imported by another runs its own tests' module-level code twice and hides its fixtures'
    origin)."""
    modules = {p.stem for p in folder.glob("test_*.py")}
    bad = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue  # tests/.fixtures: upstream files, not ours
        for line, name, _ in imports_of(path):
            parts = name.split(".")
            parts = parts[1:] if parts[0] == "tests" else parts
            if parts and parts[0] in modules:
                bad.setdefault((str(rel), line), f"tests/{rel}:{line} imports {'.'.join(parts[:1])}")
    return [bad[k] for k in sorted(bad)]


def test_no_test_module_imports_another():
    bad = imports_of_test_modules(ROOT / "tests")
    assert not bad, ("test modules importing test modules (move the helper to tests/support/<topic>.py or the "
                     "fixture to tests/conftest.py):\n" + "\n".join(bad))


def test_the_test_import_check_can_fail(tmp_path):
    (tmp_path / "support").mkdir()
    (tmp_path / "support" / "tui.py").write_text("from tests.support.pipeline import LEGACY_BUILD\n")
    (tmp_path / "test_b.py").write_text("X = 1\n")
    (tmp_path / "test_a.py").write_text("from tests.support.tui import app_at\nfrom tests.test_b import X\n"
                                        "def f():\n    import test_b\n    from tests import test_b as b\n")
    (tmp_path / "conftest.py").write_text("import tests.test_b\n")
    assert imports_of_test_modules(tmp_path) == ["tests/conftest.py:1 imports test_b", "tests/test_a.py:2 imports test_b",
                                             "tests/test_a.py:4 imports test_b", "tests/test_a.py:5 imports test_b"]
