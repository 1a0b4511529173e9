"""The local side of a sync: the files of the model folder, their hashes, a local destination's checks and
its atomic copy (temp file + rename: nothing half-written survives)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path
from typing import Optional

from ..base.errors import Cancelled, WizardError
from ..base.fsutil import MODEL_MARKER, is_our_temp, walk_files
from ..base.progress import CancelToken
from ..layout import Destination, parse_destination
from .client import RESUME_HINT

MiB = 1024 * 1024
PARTIAL_SUFFIX = ".lmi-partial"


@dataclass(frozen=True)
class LocalFile:
    rel: str  # posix path relative to the source folder
    path: Path
    size: int
    mtime: float
    mtime_ns: int = 0


def scan_local(source: "str | os.PathLike", *, left_out: Optional[list] = None) -> list[LocalFile]:
    """Every file under ``source``, sorted by relative path. Links are followed like ``aws s3 sync`` does
    (a linked ``1/`` folder of engines is uploaded, not silently left out); a link back to a folder
    above it (a loop) is refused. Temp files and staging folders of lmi-wizard (``fsutil.is_our_temp``: what
    a killed download or write leaves) are never taken: their relative paths (a folder's with a trailing
    ``/``) are appended to ``left_out``."""
    src = Path(source)
    skipped: list[str] = left_out if left_out is not None else []

    def skip_dir(p: Path) -> bool:
        if is_our_temp(p.name):
            skipped.append(p.relative_to(src).as_posix() + "/")
            return True
        return False

    if not src.is_dir():
        if src.exists():
            raise WizardError(f"{src} is a file, not a folder", "pass the folder that holds the compiled model")
        raise WizardError(f"model folder not found: {src}", "pass the folder that holds the compiled model")
    out = []
    for p in walk_files(src, what="model folder", skip_dir=skip_dir):
        if is_our_temp(p.name):
            skipped.append(p.relative_to(src).as_posix())
            continue
        if p.name == MODEL_MARKER:  # a folder ownership marker (this folder was a destination): not the model's
            continue
        try:
            st = p.stat()
        except FileNotFoundError:
            raise WizardError(f"{p} is a broken link", "fix or remove the link") from None
        except OSError as exc:
            raise WizardError(f"cannot read {p}: {exc.strerror}", "check the permissions") from None
        rel = p.relative_to(src).as_posix()
        if not stat.S_ISREG(st.st_mode):  # a pipe, socket or device: reading it would hang or never end
            raise WizardError(f"{p} is not a regular file (a pipe, socket or device)",
                              "remove it from the model folder")
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            raise WizardError(f"file name {rel!r} is not valid UTF-8 and cannot be an S3 key",
                              "rename the file") from None
        out.append(LocalFile(rel, p, st.st_size, st.st_mtime, st.st_mtime_ns))
    out.sort(key=lambda f: f.rel)
    skipped.sort()
    return out


def describe_left_out(left_out: list[str]) -> str:
    """One line naming the temp files / staging folders of lmi-wizard that a publish saw and did not send."""
    shown = ", ".join(left_out[:5]) + (" …" if len(left_out) > 5 else "")
    return (f"left out {len(left_out)} unfinished temp file(s)/staging folder(s) of lmi-wizard (a killed download "
            f"or write left them; never uploaded): {shown}")


def hashes(path: Path) -> tuple[str, str]:
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 * MiB):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()




def md5_range(path: Path, offset: int, length: int) -> str:
    """MD5 (hex) of ``length`` bytes at ``offset``: the ETag S3 gives the part holding them."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        fh.seek(offset)
        left = length
        while left > 0:
            chunk = fh.read(min(left, 1 * MiB))
            if not chunk:
                break
            md5.update(chunk)
            left -= len(chunk)
    return md5.hexdigest()


def read_range(path: Path, offset: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        out = []
        got = 0
        while got < length:
            chunk = os.pread(fd, length - got, offset + got)
            if not chunk:
                raise OSError(f"{path} got shorter while it was being read")
            out.append(chunk)
            got += len(chunk)
        return b"".join(out)
    finally:
        os.close(fd)


def check_local_destination(source: "str | os.PathLike", dest: "str | Destination", *,
                            model_id: Optional[str] = None) -> None:
    """Refuse a local destination that cannot work, before anything is written: a file (or a file where
    one of its parent folders should be), the model folder itself, a folder inside it (the copy would
    land in what it copies, growing on every run) or a folder above it (the copy would mix with the
    source). Links are resolved. S3 destinations pass."""
    dest = parse_destination(dest)
    if dest.is_s3 or dest.path is None:
        return
    target = dest.path
    p = target
    while not os.path.lexists(p) and p.parent != p:
        p = p.parent
    if os.path.lexists(p) and not p.is_dir():
        where = "" if p == target else f" (a folder of the destination {target})"
        raise WizardError(f"{p} is a file, not a folder{where}",
                          "give a folder as the destination (it is created when missing)")
    src = Path(os.path.realpath(source))
    dst = Path(os.path.realpath(target))
    if dst == src:
        fix = (f"LMI can load it where it is (model_id {model_id}); or give another destination folder"
               if model_id else "give another destination folder")
        raise WizardError(f"the destination {target} is the model folder itself: there is nothing to copy", fix)
    if src in dst.parents:
        raise WizardError(f"the destination {target} is inside the model folder {src}: the copy would land in "
                          f"what it copies", f"choose a destination folder outside {src}")
    if dst in src.parents:
        raise WizardError(f"the destination {target} holds the model folder {src}: the copy would mix with the "
                          f"source", "choose a destination folder that is not above the model folder "
                          "(e.g. a sibling folder)")



def copy_local(dest: Destination, todo: list[LocalFile], meter, cancel: CancelToken) -> set[str]:
    done: set[str] = set()
    for f in todo:
        cancel.raise_if_cancelled("upload")
        target = dest.path / f.rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in target.parent.glob(f".{glob_escape(target.name)}.*.lmi-partial"):  # a killed run's
                stale.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".lmi-partial", dir=target.parent)
        except OSError as exc:
            raise WizardError(f"cannot write to {target.parent}: {exc.strerror}",
                              "choose a writable destination folder") from None
        try:
            with os.fdopen(fd, "wb") as out, open(f.path, "rb") as inp:
                while chunk := inp.read(8 * MiB):
                    if cancel.cancelled:
                        raise Cancelled("upload")
                    out.write(chunk)
                    meter.add(f.rel, f.size, len(chunk))
                out.flush()
                os.fsync(out.fileno())
            shutil.copymode(f.path, tmp)
            os.utime(tmp, (f.mtime, f.mtime))
            os.replace(tmp, target)
            tmp = None
        except OSError as exc:
            raise WizardError(f"cannot copy {f.rel} to {target}: {exc.strerror}",
                              f"check the destination's free space and permissions; {RESUME_HINT}") from None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
        done.add(f.rel)
        meter.add(f.rel, f.size, 0, finished=True)
    return done


