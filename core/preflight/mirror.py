"""An S3 prefix mirrored for the preflight: small files (json, pbtxt, properties, py) downloaded, every other
object a sparse placeholder of its listed size (engines are never downloaded); unsafe keys refused."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Optional

from ..base.errors import WizardError
from ..base.progress import CancelToken, ProgressFn, emit
from .report import MAX_OBJECTS, MAX_SMALL_DOWNLOAD


# --------------------------------------------------------------------------------------------- S3 mirror
def _safe_rel(rel: str) -> Optional[PurePosixPath]:
    """A key relative to the prefix as a safe relative path, or None (``..``, absolute, NUL, empty parts)."""
    if not rel or "\0" in rel or rel.startswith("/") or "\\" in rel:
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    if any(len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
        return None
    return PurePosixPath(*parts)


def _wanted(rel: str, size: int) -> bool:
    suffix = PurePosixPath(rel).suffix.lower()
    cap = MAX_SMALL_DOWNLOAD.get(suffix)
    return cap is not None and size <= cap


def mirror_s3(uri: str, dest_dir: Path, *, endpoint_url: Optional[str] = None, client=None,
              progress: ProgressFn | None = None, cancel: CancelToken | None = None
              ) -> tuple[list[str], list[str], dict[str, int]]:
    """Mirror ``uri`` into ``dest_dir``: small files (json, pbtxt, properties, py) downloaded, everything
    else a sparse placeholder of its listed size. Returns (downloaded keys, refused keys, sizes by key)."""
    from .. import s3 as s3mod
    from ..layout import parse_destination

    dest = parse_destination(uri)
    if client is None:
        client = s3mod.make_client(endpoint_url)
    emit(progress, "check", f"listing {dest.url}")
    listing = s3mod.list_keys(dest, endpoint_url=endpoint_url, client=client)
    if len(listing) > MAX_OBJECTS:
        raise WizardError(f"{dest.url} holds more than {MAX_OBJECTS} objects: this is not one model",
                          "point the check at the model's own prefix")
    downloaded, refused = [], []
    sizes: dict[str, int] = {}
    root = dest_dir.resolve()
    wanted: dict[str, Path] = {}
    for rel, obj in sorted(listing.items()):
        if cancel is not None:
            cancel.raise_if_cancelled("check")
        safe = _safe_rel(rel)
        if safe is None:
            refused.append(rel)
            continue
        local = root.joinpath(*safe.parts)
        try:
            if os.path.commonpath([str(local.resolve()), str(root)]) != str(root):
                refused.append(rel)
                continue
            local.parent.mkdir(parents=True, exist_ok=True)
            if local.is_dir():  # "a" and "a/b" both exist as keys: keep the folder
                refused.append(rel)
                continue
            if _wanted(rel, obj.size):
                wanted[rel] = local
            else:
                with open(local, "wb") as fh:
                    fh.truncate(obj.size)  # sparse: no bytes fetched, no disk used
        except OSError:
            refused.append(rel)
            continue
        sizes[safe.as_posix()] = obj.size
    # the small files, read concurrently like the sync sends (a read error names the read permissions)
    bodies = s3mod.read_objects(client, dest, list(wanted), endpoint_url=endpoint_url, cancel=cancel,
                                max_bytes={rel: listing[rel].size for rel in wanted},
                                on_read=lambda rel, n, total: emit(progress, "check", f"downloaded {rel}", done=n,
                                                                   total=total, unit="objects"))
    for rel, local in wanted.items():
        try:
            local.write_bytes(bodies[rel])
            downloaded.append(rel)
        except OSError:
            refused.append(rel)
            sizes.pop(_safe_rel(rel).as_posix(), None)
    return downloaded, refused, sizes
