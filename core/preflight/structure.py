"""Which layout a folder is (Triton or flat), the LMI target whose layout rule applies, and the file-tree
checks (the layout rules of :mod:`..layout`, links that point outside the folder)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Iterable, Optional

from ..base.errors import WizardError
from ..base.fsutil import is_our_temp
from .report import MAX_OBJECTS, _Ctx


# --------------------------------------------------------------------------------------------- layout
def _subfolders_with(root: Path, name: str) -> list[Path]:
    """Sub-folders holding ``name``. Linked sub-folders count: LMI's prebuilt detection (LmiUtils
    .isValidTrtLlmModelRepo, 0.25–0.32/0.34) lists the root with ``Files.isDirectory`` / ``isRegularFile``,
    which follow links."""
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and (p / name).is_file())
    except OSError:
        return []


def infer_layout(root: Path) -> Optional[str]:
    """"triton" (config.pbtxt here or in a sub-folder), "flat" (a root config.json / engines), or None."""
    from .. import layout as L

    try:
        return L.infer_layout(root)
    except WizardError:
        pass
    if _subfolders_with(root, L.PBTXT):
        return L.TRITON
    try:
        names = {p.name for p in root.iterdir()}
    except OSError:
        return None
    if L.CONFIG_JSON in names or any(n.endswith(".engine") for n in names):
        return L.FLAT  # an HF config.json over the engine's, or engines without config: checked as flat
    return None


def _lmi_target(lmi_version: Optional[str], installed: Optional[str], telemetry_file, install_root):
    from ..facts import target

    return target.determine_target(trtllm_version=installed, lmi_override=lmi_version,
                                   telemetry_file=telemetry_file, install_root=install_root)


def _layout_findings(ctx: _Ctx, findings: Iterable, group: str = "layout") -> None:
    for f in findings:
        ctx.add(f.severity, f.code, f.problem, f.fix, None, group)


def _all_rel_files(root: Path, limit: int = MAX_OBJECTS) -> list[str]:
    """Files under ``root`` as '/'-separated relative paths, following linked folders as LMI (Files.isDirectory)
    and ``aws s3 sync`` do; a link loop is a WizardError naming it."""
    from ..base.fsutil import walk_files

    out = []
    for path in walk_files(root, what="model folder"):
        rel = Path(os.path.relpath(path, root))
        if any(is_our_temp(part) for part in rel.parts):
            continue  # partial by definition: never part of the model
        out.append(rel.as_posix())
        if len(out) > limit:
            break
    return out


def _our_temps(ctx: _Ctx, root: Path) -> None:
    """Say when a temp file or staging folder of lmi-wizard is there (a killed download or write left it):
    it is never uploaded (publish skips it) and no check takes it as part of the model."""
    found = []
    for base, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            if is_our_temp(name):
                found.append(Path(base, name))
        dirs[:] = [d for d in dirs if not is_our_temp(d)]
        if len(found) > 20:
            break
    for p in found[:20]:
        ctx.add("warning", "our-temp", f"{ctx.show(p)} is a temp file or staging folder of lmi-wizard left by a "
                "killed step: a partial file, never uploaded and not part of the model",
                f"remove it: rm -r {shlex.quote(str(p))}", p, "layout")


def _symlinks_outside(ctx: _Ctx, folder: Path) -> None:
    """Links inside the model folder that lead outside it (or nowhere): LMI mounts/downloads the folder
    alone, so they dangle there; publish uploads a copy of what they point at."""
    base = folder.resolve()
    count = 0
    for d, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(d, name)
            if not p.is_symlink():
                continue
            count += 1
            if count > 1000:
                return
            try:
                target = p.resolve(strict=True)
            except (OSError, RuntimeError):
                ctx.add("error", "broken-symlink", f"{ctx.show(p)} is a broken link ({os.readlink(p)})",
                        "replace it with the file itself", p, "files")
                continue
            if os.path.commonpath([str(target), str(base)]) != str(base):
                ctx.add("warning", "symlink-outside",
                        f"{ctx.show(p)} links to {target}, outside the model folder: the container does not see "
                        "the target; publish uploads a copy of it",
                        "replace the link with the file itself (or make sure a copy is what you want)", p, "files")
