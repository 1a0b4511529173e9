"""Atomic writes: temp file in the same folder + fsync + rename. Nothing half-written survives."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path

from .errors import WizardError


# Every temporary name lmi-wizard makes holds this marker (atomic-write temp files, the tokenizer's staging
# folder); temp clones end in ``.cloning-<pid>``. Publish and check call :func:`is_our_temp` /
# :func:`in_our_temp` and never take such a file (a killed download leaves a partial file there).
TEMP_MARKER = ".lmi-wizard-"
# the one name with that marker that is finished, not temp: the folder ownership marker that publish keeps
# (core.s3.marker) — never a temp file, never a model file
MODEL_MARKER = ".lmi-wizard-model.json"
_CLONING = re.compile(r"^\..+\.cloning-\d+$")


def is_our_temp(name: str) -> bool:
    """True for a file or folder name that lmi-wizard uses for something not finished (a temp file, a
    staging folder, a temp clone): never published, never checked as part of the model."""
    name = os.path.basename(str(name).rstrip("/"))
    return name.startswith(".") and name != MODEL_MARKER and (TEMP_MARKER in name or bool(_CLONING.match(name)))


def in_our_temp(rel: str | os.PathLike) -> bool:
    """True when any part of the relative path ``rel`` is one of our temp names (a file inside a staging
    folder is as partial as the folder)."""
    return any(is_our_temp(part) for part in Path(rel).parts)


def temp_name(final_name: str, kind: str = "tmp") -> str:
    """The prefix of a temp name beside ``final_name`` that :func:`is_our_temp` recognises."""
    return f".{final_name}{TEMP_MARKER}{kind}-"


def explain_oserror(exc: OSError, what: str, *, no_space_fix: str = "free disk space or choose another location",
                    missing_folder: bool = True, fix: str = "check the path") -> WizardError:
    """One line for a failed file operation: ``cannot {what}: <why>`` with its fix (permission / read-only,
    disk full, a missing folder — unless ``missing_folder`` is off —, else the system's reason)."""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WizardError(f"cannot {what}: permission denied or read-only file system",
                           "choose a writable location or fix the permissions")
    if exc.errno == errno.ENOSPC:
        return WizardError(f"cannot {what}: no space left on device", no_space_fix)
    if missing_folder and exc.errno == errno.ENOENT:
        return WizardError(f"cannot {what}: folder does not exist", "create the folder first")
    return WizardError(f"cannot {what}: {exc.strerror or exc}", fix)


def _explain_oserror(path: Path, exc: OSError, verb: str) -> WizardError:
    return explain_oserror(exc, f"{verb} {path}")


def _current_umask() -> int:
    # read once, at import (single-threaded): os.umask() both reads and sets, so calling it later
    # from several threads could briefly leave a wrong mask in place
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically. Keeps the existing file's mode when there is one.

    A symlink is written through (its target is replaced, the link stays), as an editor would.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise WizardError(f"cannot write {path}: it is a folder", "pass a file path")
    directory = path.parent if str(path.parent) else Path(".")
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        except OSError as exc:
            raise _explain_oserror(path, exc, "write") from None
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=temp_name(path.name), suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, mode)
            os.replace(tmp_name, path)
            tmp_name = None
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except FileNotFoundError:
                    pass
    except OSError as exc:
        raise _explain_oserror(path, exc, "write") from None


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8", mode: int | None = None) -> None:
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        bad = text[exc.start:exc.end]
        raise WizardError(f"cannot write {path}: the text holds {bad!r}, which {encoding} cannot encode",
                          "remove that character from the value you entered") from None
    atomic_write_bytes(path, data, mode=mode)


def read_text(path: str | os.PathLike, *, what: str = "file", max_bytes: int | None = None) -> str:
    """Read a UTF-8 text file or raise a WizardError naming the problem."""
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise WizardError(f"{path} is a folder, not a {what}", f"pass the path of the {what} itself")
        if not stat.S_ISREG(st.st_mode):  # a pipe or device would block or never end
            raise WizardError(f"{path} is not a regular file (a pipe, socket or device), not a {what}",
                              f"pass the path of the {what} itself")
        with open(path, "rb") as fh:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise WizardError(f"{what} not found: {path}", "check the path") from None
    except OSError as exc:
        raise _explain_oserror(path, exc, "read") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise WizardError(f"{path} is larger than {max_bytes} bytes; it is not a {what}",
                          f"pass the right {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WizardError(f"{path} is not a text file (not UTF-8); it is not a {what}",
                          f"pass the right {what}") from None


def walk_files(root: str | os.PathLike, *, what: str = "folder", skip_dir=None):
    """Every path of a non-folder entry under ``root``, following linked folders like ``aws s3 sync``
    does. A linked folder that leads back to one it is in (a loop) is refused, naming ``what`` (e.g.
    "engine folder") in the fix. Sorted per folder; the caller stats each path and decides what a link
    to nothing, a pipe or a device means for it. ``skip_dir(path) -> bool``: folders not to enter."""
    root = os.fspath(root)
    chain_of: dict[str, tuple[str, ...]] = {root: (os.path.realpath(root),)}  # real folders above each one
    for top, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        if skip_dir is not None:
            dirs[:] = [d for d in dirs if not skip_dir(Path(top, d))]
        chain = chain_of.pop(top, (os.path.realpath(top),))
        for d in dirs:
            real = os.path.realpath(os.path.join(top, d))
            if any(r == real or r.startswith(real.rstrip(os.sep) + os.sep) for r in chain):
                raise WizardError(f"{Path(top, d)} links back to {real}, a folder it is in (a loop)",
                                  f"remove the link from the {what}")
            chain_of[os.path.join(top, d)] = chain + (real,)
        for name in sorted(files):
            yield Path(top, name)
