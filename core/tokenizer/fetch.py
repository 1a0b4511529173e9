"""Carry out a tokenizer plan: stage beside the model folder, then rename into place."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile

from glob import escape as glob_escape
from pathlib import Path
from typing import Optional

from ..base.errors import Cancelled, WizardError
from ..base.fsutil import temp_name
from ..base.progress import CancelToken, ProgressFn, emit
from .common import (
    has_build_config, _inside, _load_json, MAX_META_BYTES, _patched_tokenizer_config, PlannedFile, safe_name,
    SkippedFile, STAGING_KIND, STAGING_PREFIX, STEP, TokenizerPlan, TokenizerResult)
from .sources import _HubSource, _LocalSource
from .plan import plan_tokenizer


# --------------------------------------------------------------------------------------------- fetch
def fetch_tokenizer(plan: TokenizerPlan, *, token=None, force: bool = False,
                    progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> TokenizerResult:
    """Carry out ``plan``: fetch into a staging folder inside ``dest_dir``, then move the files into place.

    Files whose content differs from an existing destination file need ``force=True``. Cancel is honoured
    between files; a cancelled or failed fetch leaves the destination as it was."""
    dest = Path(plan.dest_dir)
    _check_plan(plan, dest, force)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WizardError(f"cannot create {dest}: {exc.strerror or exc}", "choose a writable folder") from None
    _remove_stale_staging(Path(os.path.abspath(dest)))
    todo = [f for f in plan.files if f.status != "unchanged"]
    src = None
    if plan.kind == "hub" and any(f.path not in plan._contents for f in todo):
        src = _HubSource(plan.source, plan.revision, plan.endpoint, token, commit=plan.commit or plan.revision
                         or "main")
    elif plan.kind == "local":
        src = _LocalSource(Path(plan.source).expanduser().resolve())
    try:
        home = Path(os.path.abspath(dest))  # "." has no name; its absolute path does
        staging = tempfile.mkdtemp(prefix=f"{temp_name(home.name, STAGING_KIND)}{os.getpid()}-", dir=home.parent)
    except OSError as exc:
        raise WizardError(f"cannot write in {dest.parent}: {exc.strerror or exc}",
                          "choose a destination in a writable folder") from None
    try:
        staged, skipped, nbytes = _stage(plan, src, todo, Path(staging), dest, progress, cancel)
        if cancel is not None and cancel.cancelled:
            raise Cancelled("tokenizer download")
        written = _into_place(staged, dest)
        emit(progress, STEP, f"{len(written)} files written to {dest}", done=len(todo), total=len(todo),
             unit="files")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TokenizerResult(plan=plan, written=written, unchanged=[f.dest for f in plan.files
                                                                  if f.status == "unchanged"],
                           bytes=nbytes, trust_remote_code=plan.trust_remote_code, dest_dir=str(dest),
                           skipped=skipped)


def _check_plan(plan: TokenizerPlan, dest: Path, force: bool) -> None:
    """Refuses to replace changed files without ``force``, and a plan (from JSON, the TUI) that would write
    outside ``dest``, read an unsafe name or replace the engine's config.json."""
    changed = [f.dest for f in plan.files if f.status == "changed"]
    if changed and not force:
        raise WizardError(f"{dest} already holds different versions of: {', '.join(changed)}",
                          "pass --force to replace them (or choose an empty folder)")
    for f in plan.files:  # validated again: a plan may come from elsewhere (JSON, the TUI)
        _inside(dest, f.dest)
        if not safe_name(f.path):
            raise WizardError(f"refusing unsafe file name {f.path!r}", "re-run the plan")
        if f.dest == "config.json" and has_build_config(dest / "config.json"):
            raise WizardError(f"{dest / 'config.json'} is the engine's config (build_config); refusing to "
                              "replace it with the Hugging Face config.json", "re-run the plan")


def _fetch_one(plan: TokenizerPlan, src, f: PlannedFile, out: Path, staging: Path) -> None:
    """One file to ``out``: from what the plan read already, the Hub, or the local folder (a symlink's target
    is copied, never the link). OSError ENAMETOOLONG goes up to the caller."""
    if f.path in plan._contents:
        out.write_bytes(plan._contents[f.path])
    elif plan.kind == "hub":
        got = src.download(f.path, os.path.join(staging, "hub"))
        shutil.move(str(got), out)
    else:
        try:
            shutil.copyfile(_inside(src.folder, f.path), out)
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise
            raise WizardError(f"cannot copy {f.path} from {plan.source}: {exc.strerror or exc}",
                              "check the source folder") from None


def _stage(plan: TokenizerPlan, src, todo: list[PlannedFile], staging: Path, dest: Path,
           progress: ProgressFn | None, cancel: CancelToken | None
           ) -> tuple[list[tuple[Path, PlannedFile]], list[SkippedFile], int]:
    """Every file into ``staging/files`` (patched where the plan says): (staged, skipped for a name this file
    system cannot hold, bytes)."""
    total = len(todo)
    staged: list[tuple[Path, PlannedFile]] = []
    skipped: list[SkippedFile] = []
    nbytes = 0
    hf_cfg = {}
    if plan.patches and "config.json" in plan._contents:
        hf_cfg = _load_json(plan._contents["config.json"], "config.json", [])
    files_dir = staging / "files"
    files_dir.mkdir()
    for i, f in enumerate(todo):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("tokenizer download")
        emit(progress, STEP, f"{f.path}", done=i, total=total, unit="files", extra={"file": f.path, "size": f.size})
        out = files_dir / f.dest
        try:
            _fetch_one(plan, src, f, out, staging)
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            # one name this file system cannot hold: skip that file, say so, fetch the others
            skipped.append(SkippedFile(f.path, f"file name too long for {dest}'s file system "
                                               f"({len(f.path.encode())} bytes): skipped"))
            emit(progress, STEP, f"skipped {f.path[:60]}…: name too long for this file system",
                 done=i, total=total, unit="files", extra={"file": f.path, "skipped": True})
            continue
        if f.dest == "tokenizer_config.json" and plan.patches:
            out.write_bytes(_patched_tokenizer_config(out.read_bytes(), hf_cfg))
        nbytes += out.stat().st_size
        staged.append((out, f))
    return staged, skipped, nbytes


def _into_place(staged: list[tuple[Path, PlannedFile]], dest: Path) -> list[str]:
    """All arrived: each staged file renamed into place (same file system, atomic per file)."""
    written = []
    for out, f in staged:
        target = _inside(dest, f.dest)
        if target.is_symlink() or target.is_dir():
            if target.is_dir() and not target.is_symlink():
                raise WizardError(f"{target} is a folder", "remove or rename it")
            target.unlink()
        os.chmod(out, 0o644)
        os.replace(out, target)
        written.append(f.dest)
    return written


def _remove_stale_staging(dest: Path) -> None:
    """Staging folders of killed fetches into ``dest`` (their wizard's pid is gone), beside it, and the
    old-style ones inside it: ours, and partial by definition."""
    from ..base.runlock import start_time

    prefix = temp_name(dest.name, STAGING_KIND)
    try:
        beside = list(dest.parent.glob(glob_escape(prefix) + "*"))
        inside = list(dest.glob(STAGING_PREFIX + "*"))
    except OSError:
        return
    for stale in beside:
        pid = stale.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and start_time(int(pid)) is not None:
            continue  # another live wizard is fetching into the same folder
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    for stale in inside:
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def get_tokenizer(source: str, dest_dir: str | os.PathLike, *, layout: str = "triton",
                  revision: Optional[str] = None, endpoint: Optional[str] = None, token=None,
                  force: bool = False, progress: ProgressFn | None = None,
                  cancel: CancelToken | None = None) -> TokenizerResult:
    """Plan and fetch in one call (the headless path)."""
    plan = plan_tokenizer(source, dest_dir, layout=layout, revision=revision, endpoint=endpoint, token=token,
                          progress=progress, cancel=cancel)
    return fetch_tokenizer(plan, token=token, force=force, progress=progress, cancel=cancel)


def tokenizer_needs_trust_remote_code(folder: str | os.PathLike) -> bool:
    """For a folder already filled: does its tokenizer ship custom code (auto_map AutoTokenizer)?"""
    folder = Path(folder)
    warnings: list[str] = []
    for name in ("tokenizer_config.json", "config.json", "hf_config.json"):
        p = folder / name
        if not p.is_file() or p.stat().st_size > MAX_META_BYTES:
            continue
        obj = _load_json(p.read_bytes(), name, warnings)
        amap = obj.get("auto_map") if isinstance(obj.get("auto_map"), dict) else {}
        if amap.get("AutoTokenizer"):
            return True
    return False
