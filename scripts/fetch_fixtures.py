#!/usr/bin/env python3
"""Get the upstream fixtures the tests read (real upstream templates, fill_template.py tools, builder sources)
into tests/.fixtures, from GitHub at the PINNED refs of tests/data/fixtures.lock.json, each checked against its
sha256. The project's own part (indexes, the recorded H200 NVML answers) is copied from tests/data/fixtures.

    python scripts/fetch_fixtures.py            # no-op when fixtures are already found (LMI_WIZARD_FIXTURES,
                                                # ../shared/fixtures, or a complete tests/.fixtures)
    python scripts/fetch_fixtures.py --dest DIR # fill DIR (files already there and verified are kept)

Offline with everything present: a no-op, exit 0. Network unreachable while something is missing: one line
on stderr, exit 2. A download whose checksum differs: one line naming the file, exit 1; nothing half-written
survives (each file is written to a temp name and renamed). Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "tests" / "data" / "fixtures.lock.json"
DEFAULT_DEST = ROOT / "tests" / ".fixtures"
COMPLETE = ".complete"  # tests/support/fixtures.py only uses tests/.fixtures once this marker is there


class FetchError(Exception):
    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.code = code


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def found_elsewhere() -> Path | None:
    """Where the tests already find fixtures without this script (same order as tests/support/fixtures.py)."""
    env = os.environ.get("LMI_WIZARD_FIXTURES")
    if env:
        return Path(env) if Path(env).is_dir() else None
    shared = Path(os.environ.get("LMI_WIZARD_SHARED", ROOT.parent / "shared")) / "fixtures"
    return shared if shared.is_dir() else None


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - https URLs from the lock file
            return resp.read()
    except urllib.error.HTTPError as exc:
        raise FetchError(f"fetch_fixtures: {url} answered HTTP {exc.code}: the pinned file is not there; "
                         "set LMI_WIZARD_FIXTURES to a copy of the fixtures instead", 1) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        host = url.split("/")[2]
        raise FetchError(f"fetch_fixtures: cannot reach {host} ({reason}): fixtures not fetched; retry online "
                         "or set LMI_WIZARD_FIXTURES to a copy of the fixtures", 2) from None


def fetch(dest: Path, *, base_url: str | None = None, timeout: float = 30.0) -> tuple[int, int]:
    """Fill ``dest``; return (fetched, kept). Raises FetchError (one line) on a network or checksum problem."""
    lock = json.loads(LOCK.read_text())
    template = base_url.rstrip("/") + "/{repo}/{ref}/{src}" if base_url else lock["raw_url"]
    fetched = kept = 0
    (dest / COMPLETE).unlink(missing_ok=True)
    for entry in lock["files"]:
        target = dest / entry["path"]
        if target.is_file() and _sha256(target.read_bytes()) == entry["sha256"]:
            kept += 1
            continue
        if "local" in entry:
            data = (ROOT / entry["local"]).read_bytes()
        else:
            data = _download(template.format(**entry), timeout)
        if _sha256(data) != entry["sha256"]:
            where = entry.get("local") or template.format(**entry)
            raise FetchError(f"fetch_fixtures: {entry['path']} from {where} does not match its sha256 in "
                             f"{LOCK.relative_to(ROOT)}: not written", 1)
        _write_atomic(target, data)
        fetched += 1
    _write_atomic(dest / COMPLETE, b"every file of tests/data/fixtures.lock.json is here and verified\n")
    return fetched, kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", type=Path, help=f"folder to fill (default {DEFAULT_DEST.relative_to(ROOT)}, "
                                              "only when no fixtures are found elsewhere)")
    ap.add_argument("--base-url", help="mirror laid out as <base>/<owner>/<repo>/<ref>/<path> (default GitHub raw)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per download")
    args = ap.parse_args(argv)
    if args.dest is None:
        elsewhere = found_elsewhere()
        if elsewhere is not None:
            print(f"fixtures found at {elsewhere}: nothing to fetch")
            return 0
    dest = args.dest or DEFAULT_DEST
    try:
        fetched, kept = fetch(dest, base_url=args.base_url, timeout=args.timeout)
    except FetchError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("fetch_fixtures: interrupted; run it again to finish", file=sys.stderr)
        return 130
    print(f"fixtures ready in {dest}: {fetched} fetched, {kept} already there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
