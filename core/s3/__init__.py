"""S3 (or a local folder) as the place LMI loads the model from: upload like ``aws s3 sync`` with part-level
resume, list like ``aws s3 ls``, one model per folder (ownership marker), bounded waits.

Modules: :mod:`.client` (credentials, timeouts, errors, secrets), :mod:`.local` (the model folder's files),
:mod:`.parts` (part size, resume records, pending uploads), :mod:`.transfer` (the upload pool),
:mod:`.marker` (folder ownership), :mod:`.sync` (what to send), :mod:`.listing` (reading a prefix).
"""

from .client import (ATTEMPTS, CONCURRENCY, DEFAULT_TIMEOUT, RESUME_HINT, TIMEOUT_ENV, attempts, explain,
                     make_client, redact, remember_secrets, timeout_setting)
from .listing import Entry, bucket_problem, check_remote, list_entries, list_keys, read_objects, read_owner, render_listing
from .local import LocalFile, check_local_destination, describe_left_out, hashes, scan_local
from .marker import MARKER_NAME, Owner, describe as describe_owner, engine_digest, owner_for
from .parts import BASE_PART, STATE_ENV, StateStore, default_state_dir, multipart_etag, part_size_for
from .sync import (COMPARE_THRESHOLD, PART_SIZE, THRESHOLD, RemoteFile, SyncResult, decide, list_remote,
                   read_marker, sync)
from .transfer import SHA256_META

_hashes = hashes  # the name before the split

__all__ = [
    "ATTEMPTS", "BASE_PART", "COMPARE_THRESHOLD", "CONCURRENCY", "DEFAULT_TIMEOUT", "MARKER_NAME", "PART_SIZE",
    "RESUME_HINT", "SHA256_META", "STATE_ENV", "THRESHOLD", "TIMEOUT_ENV", "Entry", "LocalFile", "Owner",
    "RemoteFile", "StateStore", "SyncResult", "attempts", "bucket_problem", "check_local_destination", "check_remote", "decide",
    "default_state_dir", "describe_left_out", "describe_owner", "engine_digest", "explain", "hashes", "list_entries", "list_keys",
    "list_remote", "make_client", "multipart_etag", "owner_for", "part_size_for", "read_marker", "read_objects",
    "read_owner", "redact", "remember_secrets", "render_listing", "scan_local", "sync", "timeout_setting",
]
