"""Assemble ``triton_model_repo/`` (the tutorial's step 4) from a checkout's templates and the engines.

The templates live in ``all_models/inflight_batcher_llm/`` of tensorrtllm_backend (up to 0.19.x) and in
``triton_backend/all_models/inflight_batcher_llm/`` of TensorRT-LLM (0.20 and later);
:func:`find_template_dir` accepts either checkout root, the ``triton_backend`` folder, ``all_models``, or the
``inflight_batcher_llm`` folder itself.

:func:`assemble_repo` copies the chosen model folders (always ``tensorrt_llm``; optionally
``preprocessing``, ``postprocessing``, ``ensemble``, ``tensorrt_llm_bls``) and puts the engine files into
``tensorrt_llm/1/``: by hard link (``engine_mode="link"``) or rename (``"move"``) when the engines are on
the same file system, by copy otherwise (or always, ``"copy"``); the result says which. A link in the engine
folder (``rank1.engine -> ../store/rank1.engine``) is resolved: the file it points to is hard-linked or copied
into ``1/`` (never moved, never re-created as a link whose relative text would point elsewhere from there); a
dangling link is refused. Copies run in the kernel (``copy_file_range``/``sendfile``) in ``CHUNK`` steps, with
progress and cancel between steps. The repo is built in
a temporary sibling folder and renamed into place at the end, so a failure or a cancel leaves no
half-assembled folder (engines moved in are moved back). An existing repo folder is only replaced with
``force=True``.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..base.errors import WizardError
from ..base.fsutil import explain_oserror, walk_files
from ..base.progress import CancelToken, ProgressFn, emit

TEMPLATE_SUBDIRS = (
    "all_models/inflight_batcher_llm",  # triton-inference-server/tensorrtllm_backend ≤ 0.19.x
    "triton_backend/all_models/inflight_batcher_llm",  # NVIDIA/TensorRT-LLM ≥ 0.20
)
MODELS = ("tensorrt_llm", "preprocessing", "postprocessing", "ensemble", "tensorrt_llm_bls")
CHUNK = 64 * 1024 * 1024  # copy step: progress and cancel between steps


def find_template_dir(source: str | os.PathLike) -> Path:
    """The ``inflight_batcher_llm`` folder under ``source`` (a checkout of either repository)."""
    source = Path(source).expanduser()
    if not source.exists():
        raise WizardError(f"template source not found: {source}", "pass the path of a tensorrtllm_backend or "
                          "TensorRT-LLM checkout")
    candidates = [source, source / "inflight_batcher_llm", source / "all_models" / "inflight_batcher_llm",
                  *(source / s for s in TEMPLATE_SUBDIRS)]
    for c in candidates:
        if (c / "tensorrt_llm" / "config.pbtxt").is_file():
            return c
    raise WizardError(
        f"no inflight_batcher_llm templates under {source}",
        "pass a tensorrtllm_backend checkout (all_models/inflight_batcher_llm/, up to v0.19) or a TensorRT-LLM "
        "checkout (triton_backend/all_models/inflight_batcher_llm/, from v0.20)")


def available_models(template_dir: str | os.PathLike) -> list[str]:
    d = Path(template_dir)
    return [m for m in MODELS if (d / m / "config.pbtxt").is_file()]


@dataclass
class AssembleResult:
    repo_dir: Path
    template_dir: Path
    models: list[str]
    engine_files: list[str] = field(default_factory=list)  # relative to tensorrt_llm/1/
    method: str = "none"  # "hardlink" | "rename" | "copy" | "mixed" | "none"
    methods: dict[str, int] = field(default_factory=dict)  # files per method
    same_filesystem: bool | None = None
    bytes: int = 0
    replaced_existing: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.repo_dir / "tensorrt_llm" / "config.pbtxt"

    @property
    def engine_path(self) -> Path:
        return self.repo_dir / "tensorrt_llm" / "1"


def _explain(exc: OSError, what: str) -> WizardError:
    return explain_oserror(exc, what, missing_folder=False, fix="check the paths",
                           no_space_fix="free disk space, or use engine_mode link/move on the same file system")


def _copy_tree_writable(src: Path, dst: Path) -> None:
    """Copy a small template folder; the copy is writable by the user even if the source is not."""
    dst.mkdir(parents=True, exist_ok=True)
    os.chmod(dst, (src.stat().st_mode & 0o7777) | 0o700)
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            _copy_tree_writable(entry, target)
        else:
            shutil.copyfile(entry, target)
            os.chmod(target, (entry.stat().st_mode & 0o7777) | 0o600)


_FALLBACK_ERRNOS = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF,
                    errno.ETXTBSY, errno.EPERM}


def _copy_range(fi: int, fo: int, n: int, way: list[str]) -> int:
    """Copy up to ``n`` bytes from fd ``fi`` to fd ``fo`` at their offsets: in the kernel where it can
    (copy_file_range, then sendfile), else through a buffer. ``way[0]`` remembers which one works."""
    while True:
        try:
            if way[0] == "copy_file_range":
                return os.copy_file_range(fi, fo, n)
            if way[0] == "sendfile":
                return os.sendfile(fo, fi, None, n)
        except (OSError, AttributeError) as exc:  # AttributeError: no os.copy_file_range on this platform
            if isinstance(exc, OSError) and exc.errno not in _FALLBACK_ERRNOS:
                raise  # ENOSPC, EIO…: a real failure
            way[0] = "sendfile" if way[0] == "copy_file_range" else "read"
            continue
        buf = os.read(fi, min(n, 8 * 1024 * 1024))
        view = memoryview(buf)
        while view:
            view = view[os.write(fo, view):]
        return len(buf)


def _copy_file(src: Path, dst: Path, done: list[int], total: int, progress: ProgressFn | None,
               cancel: CancelToken | None) -> None:
    """Copy ``src`` to a new ``dst`` in ``CHUNK`` steps, with progress and cancel between them. The bytes move
    in the kernel (copy_file_range, else sendfile: no trip through Python, about cp's speed; a reflink where
    the file system offers one); holes are not kept."""
    way = ["copy_file_range"]
    with open(src, "rb") as fi, open(dst, "xb") as fo:
        size = os.fstat(fi.fileno()).st_size
        copied = 0
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled("repository assembly")
            want = max(int(CHUNK), 1)
            got = 0
            while got < want:
                n = _copy_range(fi.fileno(), fo.fileno(), want - got, way)
                if n == 0:
                    if copied + got < size and way[0] != "read":  # some file systems answer 0 before the end
                        way[0] = "read"
                        continue
                    break
                got += n
            copied += got
            done[0] += got
            if got:
                emit(progress, "repo", f"copying {src.name}", done=done[0], total=total, unit="B")
            if got < want:
                break
    shutil.copymode(src, dst)


def _engine_files(engine_dir: Path) -> list[tuple[str, Path, Path]]:
    """``(relative path, path in the engine folder, the file to place)`` for every file under ``engine_dir``.
    A link is resolved: what goes into ``1/`` (and so to S3) is the file it points to, wherever that is —
    never the link, whose text would point elsewhere from ``1/``. Linked folders are followed (a loop is
    refused). A dangling link, or one to a pipe or device, is refused with its name."""
    out: list[tuple[str, Path, Path]] = []
    for p in walk_files(engine_dir, what="engine folder"):
        real = Path(os.path.realpath(p))
        try:
            st = os.stat(real)
        except FileNotFoundError:
            target = os.readlink(p) if p.is_symlink() else str(real)
            raise WizardError(f"engine file {p} is a link to {target}, which does not exist (a dangling link)",
                              "point the link at the real engine file, or put the file itself there") from None
        except OSError as exc:
            raise WizardError(f"cannot read engine file {p}: {exc.strerror}", "check the permissions") from None
        if not stat.S_ISREG(st.st_mode):
            raise WizardError(f"{p} is not a regular file (a pipe, socket or device)",
                              "remove it from the engine folder")
        out.append((p.relative_to(engine_dir).as_posix(), p, real))
    out.sort()
    return out


def _wanted_models(template_dir: Path, models: Iterable[str]) -> list[str]:
    """``tensorrt_llm`` plus the chosen models, each with a template in ``template_dir``."""
    have = available_models(template_dir)
    wanted = list(dict.fromkeys(["tensorrt_llm", *models]))
    missing = [m for m in wanted if m not in have]
    if missing:
        raise WizardError(f"model template(s) {', '.join(missing)} not in {template_dir}",
                          f"choose from: {', '.join(have)}")
    return wanted


def _check_repo_dir(repo_dir: Path, force: bool) -> bool:
    """Refuses a repository path that cannot be made or may not be replaced; True when it replaces one."""
    for parent in repo_dir.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise WizardError(f"{parent} is a file, so {repo_dir} cannot be created",
                                  "choose a repository path that does not go through a file")
            break
    if not (repo_dir.exists() or repo_dir.is_symlink()):
        return False
    if not repo_dir.is_dir():
        raise WizardError(f"{repo_dir} exists and is not a folder", "choose another repository path")
    if not any(repo_dir.iterdir()):
        return False
    if not force:
        raise WizardError(f"{repo_dir} already exists and is not empty",
                          "choose another folder, or confirm replacing it (force)")
    return True


def _checked_engines(edir: Path, repo_dir: Path) -> list[tuple[str, Path, Path]]:
    """The engine folder's files (see :func:`_engine_files`); the folder and the repository not inside each other."""
    if not edir.is_dir():
        raise WizardError(f"engine folder not found: {edir}", "pass the --output_dir of the engine build")
    engines = _engine_files(edir)
    if not engines:
        raise WizardError(f"engine folder {edir} is empty", "pass the folder that holds the *.engine files")
    try:
        e_real, r_real = edir.resolve(), repo_dir.resolve()
    except OSError:
        return engines
    if e_real == r_real or r_real in e_real.parents:
        raise WizardError(f"engine folder {edir} is inside {repo_dir}", "build the engines elsewhere")
    if e_real in r_real.parents:
        raise WizardError(f"repository folder {repo_dir} is inside the engine folder {edir}",
                          "put the repository next to the engine folder, not in it")
    return engines


def _link_or_rename(src: Path, real: Path, dst: Path, engine_mode: str, linked: bool,
                    moved: list[tuple[Path, Path]]) -> str:
    """Places one engine file without copying where the mode allows: ``hardlink``, ``rename`` or ``copy``
    (the caller copies). A linked file is hard-linked even with ``move``: the file it points to stays."""
    if engine_mode == "link" or (linked and engine_mode == "move"):
        try:
            os.link(real, dst)
            return "hardlink"
        except OSError:
            return "copy"
    if engine_mode == "move":
        try:
            os.rename(src, dst)
            moved.append((src, dst))
            return "rename"
        except OSError:
            return "copy"
    return "copy"


def _place_engines(edir: Path, engines: list[tuple[str, Path, Path]], tmp: Path, engine_mode: str,
                   result: AssembleResult, moved: list[tuple[Path, Path]], progress: ProgressFn | None,
                   cancel: CancelToken | None) -> list[str]:
    """Puts every engine file into ``tmp/tensorrt_llm/1/``, counting the methods in ``result``; returns the
    files that were links in the engine folder (placed as the file they point to)."""
    total = sum(real.stat().st_size for _, _, real in engines)
    result.bytes = total
    dest_root = tmp / "tensorrt_llm" / "1"
    try:
        result.same_filesystem = edir.stat().st_dev == tmp.stat().st_dev
    except OSError:
        result.same_filesystem = None
    done = [0]
    edir_real = Path(os.path.realpath(edir))
    linked_files: list[str] = []
    for rel, src, real in engines:
        if cancel is not None:
            cancel.raise_if_cancelled("repository assembly")
        dst = dest_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists() or dst.is_symlink():
            dst.unlink()  # the engine folder wins over a template's placeholder file
        linked = real != edir_real / rel  # a link, or inside a linked folder
        if linked:
            linked_files.append(rel)
        how = _link_or_rename(src, real, dst, engine_mode, linked, moved)
        if how == "copy":
            _copy_file(real, dst, done, total, progress, cancel)
        else:
            done[0] += dst.stat().st_size
            emit(progress, "repo", f"{how} {rel}", done=done[0], total=total, unit="B")
        result.methods[how] = result.methods.get(how, 0) + 1
        result.engine_files.append(rel)
    kinds = list(result.methods)
    result.method = kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "none")
    return linked_files


def _engine_notes(result: AssembleResult, edir: Path, engine_mode: str, linked_files: list[str]) -> None:
    """What the user should know about how the engines were placed."""
    if linked_files:
        result.notes.append(f"{len(linked_files)} engine file(s) in {edir} are links ("
                            + ", ".join(linked_files[:3]) + ("…" if len(linked_files) > 3 else "")
                            + "): the files they point to were placed in 1/"
                            + (" (linked, not moved: they stay where they are)" if engine_mode == "move" else ""))
    if engine_mode in ("link", "move") and "copy" in result.methods:
        result.notes.append(f"engines copied ({result.methods['copy']} file(s)): "
                            + ("not on the same file system as the repository"
                               if result.same_filesystem is False else "a hard link/rename was refused"))
    if engine_mode == "move" and "copy" in result.methods:
        result.notes.append(f"the copied engine files are still in {edir}")
    if not any(f.endswith(".engine") for f in result.engine_files):
        result.notes.append(f"no *.engine file in {edir}: is it the engine build's output folder?")


def _into_place(tmp: Path, repo_dir: Path, replaced: bool) -> None:
    """Renames the assembled ``tmp`` to ``repo_dir``; a replaced repository is restored if that fails."""
    if not replaced:
        if repo_dir.exists():
            repo_dir.rmdir()  # empty folder
        os.rename(tmp, repo_dir)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{repo_dir.name}.old-", dir=repo_dir.parent))
    os.rmdir(backup)
    os.rename(repo_dir, backup)
    try:
        os.rename(tmp, repo_dir)
    except OSError:
        os.rename(backup, repo_dir)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _roll_back(moved: list[tuple[Path, Path]], tmp: Path) -> None:
    """Puts moved engines back where they were and removes the half-assembled folder."""
    for src, dst in reversed(moved):
        try:
            os.rename(dst, src)
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)


def assemble_repo(template_source: str | os.PathLike, repo_dir: str | os.PathLike, *,
                  engine_dir: str | os.PathLike | None = None, models: Iterable[str] = ("tensorrt_llm",),
                  engine_mode: str = "link", force: bool = False, progress: ProgressFn | None = None,
                  cancel: CancelToken | None = None) -> AssembleResult:
    """Build ``repo_dir`` (e.g. ``triton_model_repo``) with ``<model>/`` folders and the engines in
    ``tensorrt_llm/1/``. ``engine_mode``: ``link`` (hard link, copy across file systems), ``move``
    (rename, copy across file systems — the source is then kept) or ``copy``."""
    if engine_mode not in ("link", "move", "copy"):
        raise WizardError(f"unknown engine_mode `{engine_mode}`", "use link, move or copy")
    template_dir = find_template_dir(template_source)
    wanted = _wanted_models(template_dir, models)
    if not str(repo_dir or "").strip():
        raise WizardError("no repository folder given", "give the folder to build, e.g. triton_model_repo")
    repo_dir = Path(repo_dir).expanduser()
    replaced = _check_repo_dir(repo_dir, force)
    edir = Path(engine_dir).expanduser() if engine_dir is not None else None
    engines = _checked_engines(edir, repo_dir) if edir is not None else []
    try:
        repo_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{repo_dir.name}.tmp-", dir=repo_dir.parent))
    except OSError as exc:
        raise _explain(exc, f"create {repo_dir}") from None
    result = AssembleResult(repo_dir=repo_dir, template_dir=template_dir, models=wanted, replaced_existing=replaced)
    moved: list[tuple[Path, Path]] = []  # (engine source, where it went) for rollback
    try:
        for m in wanted:
            if cancel is not None:
                cancel.raise_if_cancelled("repository assembly")
            _copy_tree_writable(template_dir / m, tmp / m)
            emit(progress, "repo", f"copied template {m}/")
        (tmp / "tensorrt_llm" / "1").mkdir(exist_ok=True)
        if edir is not None:
            linked_files = _place_engines(edir, engines, tmp, engine_mode, result, moved, progress, cancel)
            _engine_notes(result, edir, engine_mode, linked_files)
        if cancel is not None:
            cancel.raise_if_cancelled("repository assembly")
        _into_place(tmp, repo_dir, replaced)
        emit(progress, "repo", f"assembled {repo_dir}")
        return result
    except BaseException as exc:
        _roll_back(moved, tmp)
        if isinstance(exc, OSError):
            raise _explain(exc, f"assemble {repo_dir}") from None
        raise  # WizardError, Cancelled (and anything unexpected) unchanged
