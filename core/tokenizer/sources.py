"""Where tokenizer files come from: a local folder or the Hugging Face Hub (bounded client, one-line errors)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from .common import _inside, safe_name


# --------------------------------------------------------------------------------------------- sources
class _Source:
    kind = ""
    commit: Optional[str] = None

    def listing(self) -> list[tuple[str, Optional[int], dict]]:  # (name, size, extra)
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        raise NotImplementedError


class _LocalSource(_Source):
    kind = "local"

    def __init__(self, folder: Path):
        self.folder = folder

    def listing(self):
        out = []
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except OSError as exc:
            raise WizardError(f"cannot list {self.folder}: {exc.strerror or exc}", "check the folder") from None
        for e in entries:
            extra = {"symlink": e.is_symlink()}
            try:
                if e.is_dir(follow_symlinks=True):
                    extra["dir"] = True
                    out.append((e.name, None, extra))
                    continue
                st = e.stat(follow_symlinks=True)
                if not stat.S_ISREG(st.st_mode):  # a pipe would block the copy forever
                    extra["special"] = True
                    out.append((e.name, None, extra))
                    continue
                out.append((e.name, st.st_size, extra))
            except OSError:
                extra["dangling"] = True
                out.append((e.name, None, extra))
        return out

    def read(self, name: str) -> bytes:
        path = _inside(self.folder, name)
        try:
            with open(path, "rb") as fh:  # follows a symlink: its content is copied, never the link
                return fh.read()
        except OSError as exc:
            raise WizardError(f"cannot read {path}: {exc.strerror or exc}", "check the source folder") from None


class _HubSource(_Source):
    kind = "hub"

    def __init__(self, repo_id: str, revision: Optional[str], endpoint: Optional[str], token, *,
                 commit: Optional[str] = None):
        self.repo_id = repo_id
        self.revision = revision
        self.endpoint = endpoint
        self.token = token  # passed through to huggingface_hub; never logged
        self._tmp: Optional[str] = None
        self._tree: list = []
        self.commit = commit
        if commit is None:  # a plan's source pins the commit it saw; fetch reuses it without a new listing
            self._resolve()

    def _api(self):
        from huggingface_hub import HfApi  # heavy: imported lazily

        from .. import hubnet

        hubnet.install()  # every request bounded by LMI_WIZARD_NET_TIMEOUT, retries quiet
        return HfApi(endpoint=self.endpoint, token=self.token, library_name="lmi-wizard")

    def _resolve(self) -> None:
        try:
            api = self._api()
            # model_info first: fails fast offline (no retry loop) and pins the commit for every later call
            info = api.model_info(self.repo_id, revision=self.revision)
            self.commit = info.sha
            # the tree at that commit, root level only (AutoTokenizer reads nothing below the root)
            self._tree = list(api.list_repo_tree(self.repo_id, revision=self.commit or self.revision,
                                                 recursive=False))
        except Exception as exc:  # noqa: BLE001 - mapped to one clear message
            raise hub_error(exc, self.repo_id, self.endpoint, self.revision) from None

    def listing(self):
        out = []
        for f in self._tree:
            if not hasattr(f, "blob_id"):  # RepoFolder
                out.append((f.path, None, {"dir": True}))
                continue
            extra = {"blob_id": getattr(f, "blob_id", None)}
            lfs = getattr(f, "lfs", None)
            if lfs is not None:
                extra["sha256"] = getattr(lfs, "sha256", None)
            out.append((f.path, getattr(f, "size", None), extra))
        return out

    def download(self, name: str, staging: str) -> Path:
        from huggingface_hub import hf_hub_download

        from .. import hubnet
        from ..base.net import silence_timeout

        hubnet.install()
        if not safe_name(name):  # checked before any request
            raise WizardError(f"refusing unsafe file name {name!r} from {self.repo_id}",
                              "the repository lists a file outside its folder")
        try:
            path = hf_hub_download(self.repo_id, name, revision=self.commit or self.revision, local_dir=staging,
                                   cache_dir=os.path.join(staging, ".hf-cache"), endpoint=self.endpoint,
                                   token=self.token, library_name="lmi-wizard", etag_timeout=silence_timeout())
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:  # this one file cannot be written here: the caller skips it
                raise
            raise hub_error(exc, self.repo_id, self.endpoint, self.revision, name) from None
        except Exception as exc:  # noqa: BLE001
            raise hub_error(exc, self.repo_id, self.endpoint, self.revision, name) from None
        p = Path(path)
        if os.path.commonpath([os.path.realpath(p), os.path.realpath(staging)]) != os.path.realpath(staging):
            raise WizardError(f"refusing {name!r}: it resolved outside the staging folder", None)
        return p

    def read(self, name: str) -> bytes:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="lmi-wizard-plan-")
        return self.download(name, self._tmp).read_bytes()

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _class_names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def hub_error(exc: BaseException, repo_id: str, endpoint: Optional[str], revision: Optional[str] = None,
              filename: Optional[str] = None) -> WizardError:
    """Map a huggingface_hub / transport exception to one clear WizardError (no token in the text)."""
    if isinstance(exc, WizardError):
        return exc
    names = _class_names(exc)
    cause = exc.__cause__
    if "LocalEntryNotFoundError" in names and cause is not None and cause is not exc:
        # hf_hub_download wraps a failed HEAD (403, 5xx, connection) in LocalEntryNotFoundError: judge the cause
        return hub_error(cause, repo_id, endpoint, revision, filename)
    where = endpoint or "https://huggingface.co"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    what = f"{repo_id}" + (f" ({filename})" if filename else "")
    login = "set HF_TOKEN or run `hf auth login` with a token that can read it"
    if "GatedRepoError" in names:
        if status == 403:
            return WizardError(f"{what}: gated repository and your token is not on its access list (HTTP 403)",
                               f"accept the model's terms on {where}/{repo_id} with the account of your token")
        return WizardError(f"{what}: gated repository; access needs a logged-in token (HTTP {status or 401})",
                           f"accept its terms on {where}/{repo_id}, then {login}")
    if "RevisionNotFoundError" in names:
        return WizardError(f"{repo_id}: revision {revision or 'main'!r} not found", "check --revision")
    if "RemoteEntryNotFoundError" in names or ("EntryNotFoundError" in names and status == 404):
        return WizardError(f"{what}: file not found in the repository", "re-run the plan: the repo changed")
    if "RepositoryNotFoundError" in names:
        if status == 401:
            return WizardError(f"{repo_id}: repository not found, or private and your token cannot read it "
                               "(HTTP 401)", f"check the repo id; for a private repo {login}")
        return WizardError(f"{repo_id}: repository not found on {where} (HTTP {status or 404})",
                           "check the repo id (owner/name)")
    if "OfflineModeIsEnabled" in names or (
            "LocalEntryNotFoundError" in names and status is None) or names & {
            "ConnectError", "ConnectTimeout", "TimeoutException", "NetworkError", "TransportError",
            "ConnectionError", "ReadTimeout", "ProxyError"}:
        return WizardError(f"cannot reach the Hugging Face Hub at {where} (offline or blocked)",
                           "check the network / proxy (HF_ENDPOINT for a mirror), or give a local folder "
                           "holding the tokenizer files as the source")
    if "LocalTokenNotFoundError" in names:
        return WizardError("no Hugging Face token found", login)
    if status == 401:
        return WizardError(f"{what}: not authorised (HTTP 401)", login)
    if status == 403:
        return WizardError(f"{what}: forbidden (HTTP 403); the token lacks permission", login)
    if status == 404:
        return WizardError(f"{what}: not found (HTTP 404)", "check the repo id and revision")
    if status is not None:
        return WizardError(f"{what}: the Hub answered HTTP {status}", "try again later")
    return WizardError(f"{what}: download failed ({type(exc).__name__})", "check the network and the repo id")
