"""The wheelhouse that carries the wizard into the job: our own wheel plus every dependency as a binary wheel
for the image's Python and platform (``pip download --platform manylinux… --python-version X
--only-binary=:all:``), so the job installs with ``--no-index`` and needs no package index."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..base.errors import WizardError
from ..base.progress import CancelToken, ProgressFn, emit
from ..base.proc import run_streaming

__all__ = ["Wheelhouse", "PLATFORMS", "project_dir", "build_wheelhouse"]

# the LMI images are Ubuntu 22.04/24.04 x86_64 (glibc >= 2.35): manylinux2014 wheels and manylinux_2_28 ones
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")


@dataclass
class Wheelhouse:
    folder: Path
    python: str
    wheels: list[str]
    own: str  # our wheel's file name

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.wheels):
            h.update(name.encode() + b"\0")
        return h.hexdigest()[:16]


def project_dir() -> Optional[Path]:
    """The source tree of this installation (an editable/development install), or None (installed from a wheel)."""
    here = Path(__file__).resolve().parent.parent.parent  # core/remote → core → project root
    if (here / "pyproject.toml").is_file() and (here / "core" / "remote").is_dir():
        return here
    return None


def _pip(python: str, args: Sequence[str], *, what: str, progress: ProgressFn | None,
         cancel: CancelToken | None, env: Optional[dict] = None) -> None:
    tail: list[str] = []

    def on_line(stream: str, line: str) -> None:
        tail.append(line)
        del tail[:-20]
        emit(progress, "wheelhouse", line)

    res = run_streaming([python, "-m", "pip", *args], on_line=on_line, cancel=cancel, env=env)
    if cancel is not None and cancel.cancelled:
        cancel.raise_if_cancelled("wheelhouse")
    if not res.ok:
        last = next((ln for ln in reversed(tail) if ln.strip()), "") or f"exit status {res.returncode}"
        raise WizardError(f"{what} failed: {last.strip()[:300]}",
                          "check the network to the package index (or its mirror: PIP_INDEX_URL), then run again")


def _target_env(python_version: str) -> dict:
    """Marker environment of CPython ``python_version`` on manylinux x86_64 (the LMI images)."""
    return {"python_version": python_version, "python_full_version": python_version + ".0", "os_name": "posix",
            "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
            "platform_python_implementation": "CPython", "implementation_name": "cpython",
            "implementation_version": python_version + ".0", "platform_release": "", "platform_version": ""}


def _metadata(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel."""
    with zipfile.ZipFile(wheel) as z:
        name = next((n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1), None)
        if name is None:
            return []
        text = z.read(name).decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    return [ln.split(":", 1)[1].strip() for ln in head.splitlines() if ln.startswith("Requires-Dist:")]


def missing_requirements(folder: Path, own: str, python_version: str) -> list[str]:
    """Requirements reachable from ``own`` (for the target Python, extras followed) that no wheel in ``folder``
    satisfies, as pip requirement strings without markers."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
    from packaging.version import Version

    wheels: dict[str, list[tuple[Version, Path]]] = {}
    for f in folder.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(f.name)
        wheels.setdefault(canonicalize_name(name), []).append((version, f))
    env = _target_env(python_version)
    own_name = canonicalize_name(parse_wheel_filename(own)[0])
    extras: dict[str, set[str]] = {own_name: {""}}
    todo = [own_name]
    missing: list[str] = []
    while todo:
        pkg = todo.pop()
        for version, path in wheels.get(pkg, [])[:1]:
            for line in _metadata(path):
                req = Requirement(line)
                if req.marker is not None and not any(req.marker.evaluate(dict(env, extra=e)) for e in extras[pkg]):
                    continue
                dep = canonicalize_name(req.name)
                ok = [v for v, _ in wheels.get(dep, []) if req.specifier.contains(v, prereleases=True)]
                if not ok:
                    text = req.name + (f"[{','.join(sorted(req.extras))}]" if req.extras else "") + str(req.specifier)
                    if text not in missing:
                        missing.append(text)
                    continue
                want = {""} | set(req.extras)
                if not want <= extras.get(dep, set()):
                    extras[dep] = extras.get(dep, set()) | want
                    todo.append(dep)
    return missing


def build_wheelhouse(dest: "str | os.PathLike", python_version: str, *, source: "str | os.PathLike | None" = None,
                     platforms: Sequence[str] = PLATFORMS, python: str = sys.executable,
                     progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> Wheelhouse:
    """Fill ``dest`` (made empty first when it holds an older wheelhouse) with our wheel and its dependencies for
    CPython ``python_version`` on ``platforms``. ``source``: the project tree (default: this installation's, else
    the released lmi-wizard of this version from the index)."""
    from .. import __version__

    dest = Path(dest)
    tmp = Path(tempfile.mkdtemp(prefix=".wheelhouse-", dir=dest.parent if dest.parent.is_dir() else None))
    try:
        own_dir = tmp / "own"
        own_dir.mkdir()
        src = Path(source) if source else project_dir()
        if src is not None:
            emit(progress, "wheelhouse", f"building the lmi-wizard wheel from {src}")
            _pip(python, ["wheel", "--no-deps", "-q", "-w", str(own_dir), str(src)], what="building lmi-wizard's wheel",
                 progress=progress, cancel=cancel)
        else:
            _pip(python, ["download", "--no-deps", "-q", "-d", str(own_dir), f"lmi-wizard=={__version__}"],
                 what="downloading lmi-wizard's wheel", progress=progress, cancel=cancel)
        own = sorted(own_dir.glob("lmi_wizard-*.whl"))
        if not own:
            raise WizardError("no lmi-wizard wheel was produced", "build it with `pip wheel --no-deps .` and look")
        out = tmp / "wheels"
        out.mkdir()
        shutil.copy2(own[0], out / own[0].name)
        args = ["download", "-q", "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
                "-d", str(out)]
        for p in platforms:
            args += ["--platform", p]
        emit(progress, "wheelhouse", f"downloading the dependencies for CPython {python_version} ({', '.join(platforms)})")
        _pip(python, args + [str(out / own[0].name)], what=f"pip download for Python {python_version}",
             progress=progress, cancel=cancel)
        # pip evaluates environment markers with the Python running it, not --python-version: a dependency
        # only the target needs (tomli for 3.10 from a 3.11 laptop) is skipped. Close the set for the target.
        for _ in range(5):
            missing = missing_requirements(out, own[0].name, python_version)
            if not missing:
                break
            emit(progress, "wheelhouse", f"adding what Python {python_version} needs: {', '.join(missing)}")
            _pip(python, args + missing, what=f"pip download for Python {python_version}", progress=progress,
                 cancel=cancel)
        else:
            raise WizardError(f"the wheelhouse for Python {python_version} stays incomplete: {', '.join(missing)}",
                              "build it with that Python (`pythonX.Y -m lmi_wizard…` / `remote wheelhouse`) and pass "
                              "--wheelhouse")
        wheels = sorted(p.name for p in out.iterdir() if p.suffix == ".whl")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
        return Wheelhouse(dest, python_version, wheels, own[0].name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
