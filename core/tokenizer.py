"""Tokenizer files beside the engines (tutorial step 5), from the Hugging Face Hub or a local folder.

The tutorial runs ``snapshot_download(allow_patterns=["*.json", "*.txt", "*.model"])`` into
``triton_model_repo/tensorrt_llm/``. That base set misses what many tokenizers need, so the plan widens it
from the repo's own file list:

* Python files named in ``auto_map`` (``AutoTokenizer`` in ``tokenizer_config.json``; ``AutoTokenizer`` and
  ``AutoConfig`` in ``config.json``), plus the modules they import relatively (``from .x import y``) — the
  Baichuan tree in the tutorial holds ``tokenization_baichuan.py`` and ``configuration_baichuan.py``;
* ``*.tiktoken`` vocabularies (Qwen) and ``tokenizer.model`` / ``*.spm`` SentencePiece models.

Never weights (``*.bin``, ``*.safetensors``, ``*.pt``, ``*.pth``, ``*.gguf``, ``*.h5``, ``*.msgpack``,
``*.ckpt``); ``pytorch_model.bin.index.json`` is a small JSON the tutorial keeps. Only files at the repo
root are taken: ``AutoTokenizer.from_pretrained(folder)`` reads nothing below it.

When the tokenizer ships its own code, LMI must load it with ``trust_remote_code``: the plan says so
(``TokenizerPlan.trust_remote_code``) and :mod:`lmi` writes ``option.trust_remote_code=true``.

``config.json`` — the two layouts
---------------------------------
* ``triton`` (LMI 0.25–0.32): the tokenizer goes into ``tensorrt_llm/`` and the engine's own
  ``config.json`` lives in ``tensorrt_llm/1/``; the HF ``config.json`` sits beside the tokenizer as in the
  tutorial's tree.
* ``flat`` (LMI 0.33+): the engines and their ``config.json`` (with ``build_config``, which is how LMI 0.33
  recognises a prebuilt model) share the folder with the tokenizer. A plain ``snapshot_download("*.json")``
  overwrites that file with the HF one and LMI then tries to convert the folder as a Hugging Face
  checkpoint. Here the HF ``config.json`` is never placed under that name in the flat layout, and in any
  layout an existing ``config.json`` holding ``build_config`` is never replaced. It is not needed by the
  tokenizer: ``AutoTokenizer`` reads ``tokenizer_config.json`` first and only falls back to ``config.json``
  (``AutoConfig``) when ``tokenizer_class`` is missing there. For that case the plan copies the tokenizer
  class / ``auto_map.AutoTokenizer`` from the HF config into ``tokenizer_config.json`` (shown as a patch);
  if the HF config does not name one either, the plan warns with the fix. The HF config is kept for
  reference as ``hf_config.json`` (nothing in LMI reads that name).

Why per-file ``hf_hub_download`` rather than one ``snapshot_download`` call: the files are fetched at the
commit resolved once for the plan, one at a time, so the wizard can show progress per file and stop
between files on Cancel; they land in a staging folder first (the Hub client's ``.cache/huggingface``
bookkeeping never reaches the upload folder) and are moved into place only once all have arrived.
Hub file names are checked before any request: ``..``, absolute paths and sub-folders are refused.
Tokens: ``token=None`` lets huggingface_hub use ``HF_TOKEN`` or the saved login; a token is passed through
to the client and never logged or stored in the plan.
"""

from __future__ import annotations

import ast
import errno
import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import Callable, Optional, Sequence

from .base.errors import Cancelled, WizardError
from .base.fsutil import atomic_write_bytes, temp_name
from .base.progress import CancelToken, ProgressFn, emit

LAYOUTS = ("triton", "flat")
BASE_PATTERNS = ("*.json", "*.txt", "*.model")  # the tutorial's build_tokenizer.py
WIDENED_PATTERNS = {
    "*.tiktoken": "tiktoken vocabulary (Qwen-style tokenizers load it by name)",
    "*.spm": "SentencePiece model under another suffix",
}
WEIGHT_SUFFIXES = (".bin", ".safetensors", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".ckpt", ".onnx",
                   ".ot", ".tflite", ".npz")
MAX_META_BYTES = 4 * 1024 * 1024  # tokenizer_config.json / config.json / *.py read for planning
STEP = "tokenizer"
STAGING_PREFIX = ".lmi-wizard-staging-"  # where versions before 0.x staged: inside dest_dir (cleaned when seen)
# staging now lives BESIDE dest_dir (same file system, so the final moves are renames), never inside the model
# folder: a killed download's partial file is never in what publish uploads. Named by fsutil.temp_name, so
# publish and check recognise it (fsutil.is_our_temp), with the pid of the wizard that owns it.
STAGING_KIND = "staging"


# --------------------------------------------------------------------------------------------- data
@dataclass
class PlannedFile:
    path: str  # name in the source (repo path or file in the local folder)
    dest: str  # name in the destination folder
    size: Optional[int]
    reason: str  # why it is taken ("tutorial pattern *.json", "auto_map AutoTokenizer", …)
    status: str = "new"  # new | changed | unchanged
    symlink: bool = False  # local source: a symlink, copied as content


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class TokenizerPlan:
    source: str
    kind: str  # "hub" | "local"
    dest_dir: str
    layout: str
    revision: Optional[str]
    commit: Optional[str]
    files: list[PlannedFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    patterns: list[dict] = field(default_factory=list)  # [{pattern, reason}] base + widened, explained
    trust_remote_code: bool = False
    trust_reason: str = ""
    patches: list[str] = field(default_factory=list)  # edits made to downloaded files (flat layout)
    warnings: list[str] = field(default_factory=list)
    endpoint: Optional[str] = None
    # contents already read while planning (tokenizer_config.json, config.json, *.py): not serialised
    _contents: dict = field(default_factory=dict, repr=False)

    @property
    def total_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_contents", None)
        d["total_bytes"] = self.total_bytes
        return d


@dataclass
class TokenizerResult:
    plan: TokenizerPlan
    written: list[str]  # destination names written
    unchanged: list[str]  # destination names already identical
    bytes: int
    trust_remote_code: bool
    dest_dir: str
    skipped: list[SkippedFile] = field(default_factory=list)  # files the fetch could not write (name too long)

    def to_dict(self) -> dict:
        return {"dest_dir": self.dest_dir, "written": self.written, "unchanged": self.unchanged,
                "skipped": [asdict(s) for s in self.skipped],
                "bytes": self.bytes, "trust_remote_code": self.trust_remote_code, "plan": self.plan.to_dict()}


# --------------------------------------------------------------------------------------------- helpers
def safe_name(name: str) -> bool:
    """A plain file name at the folder root: no separators, no ``..``, not absolute, no NUL."""
    if not name or name in (".", "..") or "\0" in name:
        return False
    if "/" in name or "\\" in name or name.startswith(("~",)):
        return False
    if os.path.isabs(name) or re.match(r"^[A-Za-z]:", name):
        return False
    return True


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing anything that would land outside ``folder``."""
    if not safe_name(name):
        raise WizardError(f"refusing unsafe file name {name!r}", "the source lists a file outside its folder")
    target = (folder / name)
    if os.path.commonpath([os.path.abspath(target), os.path.abspath(folder)]) != os.path.abspath(folder):
        raise WizardError(f"refusing unsafe file name {name!r}", "the source lists a file outside its folder")
    return target


def is_weight(name: str) -> bool:
    low = name.lower()
    return low.endswith(WEIGHT_SUFFIXES)


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _load_json(data: bytes | None, what: str, warnings: list[str]) -> dict:
    if data is None:
        return {}
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        warnings.append(f"{what} is not valid JSON ({exc}); its auto_map is ignored")
        return {}
    return obj if isinstance(obj, dict) else {}


def has_build_config(config_path: Path) -> bool:
    """True if ``config_path`` is an engine config (a JSON object with top-level ``build_config``)."""
    try:
        if config_path.is_file() and config_path.stat().st_size <= MAX_META_BYTES:
            obj = json.loads(config_path.read_text("utf-8"))
            return isinstance(obj, dict) and "build_config" in obj
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return False


def _auto_map_refs(value) -> list[str]:
    """``auto_map`` values: "mod.Class", ["mod.Class", None] or "other/repo--mod.Class"."""
    refs = value if isinstance(value, (list, tuple)) else [value]
    return [r for r in refs if isinstance(r, str) and r]


def _relative_imports(source: bytes) -> list[str]:
    """Modules a custom-code file imports relatively (``from .x import y`` / ``from . import x``)."""
    try:
        tree = ast.parse(source.decode("utf-8", "replace"))
    except SyntaxError:
        text = source.decode("utf-8", "replace")
        return re.findall(r"^\s*from\s+\.(\w+)\s+import", text, flags=re.M)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.append(node.module.split(".")[0])
            else:
                out.extend(a.name for a in node.names)
    return out


EXTRA_REASON = "extra pattern (tokenizer.extra_patterns)"
PATTERN_FIX = "give glob patterns of file names at the folder root, e.g. *.py or README.md"


def pattern_problem(pattern: str) -> Optional[str]:
    """Why ``pattern`` cannot be an extra tokenizer file pattern (None: it can). Files are taken from the folder
    root only, so a pattern naming a sub-folder would never match."""
    if not isinstance(pattern, str) or not pattern.strip():
        return f"extra tokenizer pattern {pattern!r} is empty"
    if "/" in pattern or "\\" in pattern:
        return f"extra tokenizer pattern {pattern!r} names a sub-folder; only files at the folder root are fetched"
    return None


def _match_reason(name: str, extra_patterns: Sequence[str] = ()) -> Optional[str]:
    for pat in BASE_PATTERNS:
        if fnmatch.fnmatchcase(name, pat):
            return f"tutorial pattern {pat}"
    for pat, why in WIDENED_PATTERNS.items():
        if fnmatch.fnmatchcase(name, pat):
            return f"{pat}: {why}"
    for pat in extra_patterns:
        if fnmatch.fnmatchcase(name, pat):
            return f"{pat}: {EXTRA_REASON}"
    return None


def looks_like_repo_id(text: str) -> bool:
    from .models import is_hf_id

    return is_hf_id(text)


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

        from . import hubnet

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

        from . import hubnet
        from .base.net import silence_timeout

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


# --------------------------------------------------------------------------------------------- plan
def _check_dest(dest: Path) -> None:
    """The destination is a folder, or can become one: not a file, and no file on the way to it."""
    if dest.exists() and not dest.is_dir():
        raise WizardError(f"{dest} is a file, not a folder", "give the folder the tokenizer files go to")
    for parent in dest.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WizardError(f"{parent} is a file, so {dest} cannot be created",
                                  "give a folder path that does not go through a file")
            break


def plan_tokenizer(source: str, dest_dir: str | os.PathLike, *, layout: str = "triton",
                   revision: Optional[str] = None, endpoint: Optional[str] = None, token=None,
                   extra_patterns: Sequence[str] = (),
                   progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> TokenizerPlan:
    """Decide which files to fetch and why, without writing into ``dest_dir``.

    ``extra_patterns``: more glob patterns (``fnmatch``, over the names at the folder root) whose files are
    fetched too (the wizard's ``tokenizer.extra_patterns``); weights never are, whatever the pattern.

    ``source`` is a local folder or a Hub repo id (``owner/name``). For a Hub repo this reads the file list
    and the small files that decide the widening (``tokenizer_config.json``, ``config.json``, custom-code
    ``*.py``); nothing else is downloaded."""
    if layout not in LAYOUTS:
        raise WizardError(f"unknown layout {layout!r}", "use --layout triton (LMI 0.25–0.32) or flat (LMI 0.33+)")
    if not str(source or "").strip():
        raise WizardError("no tokenizer source given",
                          "give a local folder or a Hub repo id (owner/name, e.g. baichuan-inc/Baichuan-13B-Chat)")
    if not str(dest_dir or "").strip():
        raise WizardError("no destination folder given", "give the folder the tokenizer files go to, e.g. "
                          "triton_model_repo/tensorrt_llm/")
    dest = Path(dest_dir).expanduser()
    _check_dest(dest)
    if endpoint is not None and not re.match(r"^https?://[^/\s]+", str(endpoint)):
        raise WizardError(f"Hub endpoint {endpoint!r} is not an http(s) URL",
                          "give e.g. --endpoint https://huggingface.co (or leave it out)")
    src_path = Path(os.path.expanduser(str(source)))
    if src_path.is_dir():
        src: _Source = _LocalSource(src_path.resolve())
        kind = "local"
        if dest.exists() and src_path.resolve() == dest.resolve():
            raise WizardError("the source folder and the destination are the same folder",
                              "give the folder the tokenizer files come from, or a Hub repo id")
    elif src_path.exists():
        raise WizardError(f"{source} is a file, not a folder or a Hub repo id",
                          "give the folder that holds tokenizer_config.json, or owner/name of a Hub repo")
    elif looks_like_repo_id(str(source)):
        emit(progress, STEP, f"listing {source} on the Hub")
        src = _HubSource(str(source), revision, endpoint, token)
        kind = "hub"
    else:
        raise WizardError(f"{source}: no such folder, and not a Hub repo id",
                          "give a local folder or owner/name (e.g. baichuan-inc/Baichuan-13B-Chat)")
    extra = list(dict.fromkeys(extra_patterns or ()))
    for pat in extra:
        bad = pattern_problem(pat)
        if bad:
            raise WizardError(bad, PATTERN_FIX)
    try:
        return _plan(src, kind, str(source), dest, layout, revision, endpoint, progress, cancel, extra)
    finally:
        if isinstance(src, _HubSource):
            src.close()


def _name_max(dest: Path) -> int:
    """The longest file name (bytes) the file system of ``dest`` (or its nearest existing parent) holds."""
    for p in (dest, *dest.parents):
        try:
            if p.is_dir():
                return int(os.pathconf(p, "PC_NAME_MAX"))
        except (OSError, ValueError):
            break
    return 255


def _plan(src: _Source, kind: str, source: str, dest: Path, layout: str, revision, endpoint,
          progress, cancel, extra_patterns: Sequence[str] = ()) -> TokenizerPlan:
    plan = TokenizerPlan(source=source, kind=kind, dest_dir=str(dest), layout=layout,
                         revision=revision if kind == "hub" else None, commit=src.commit,
                         endpoint=endpoint if kind == "hub" else None)
    plan.patterns = [{"pattern": p, "reason": "the tutorial's build_tokenizer.py"} for p in BASE_PATTERNS]
    plan.patterns += [{"pattern": p, "reason": why} for p, why in WIDENED_PATTERNS.items()]
    plan.patterns += [{"pattern": p, "reason": EXTRA_REASON} for p in extra_patterns]
    listing = src.listing()
    name_max = _name_max(dest)
    names = {}
    for name, size, extra in listing:
        if not safe_name(name):
            plan.skipped.append(SkippedFile(name, "unsafe file name (outside the folder): refused"))
            continue
        if extra.get("dir"):
            plan.skipped.append(SkippedFile(name + "/", "sub-folder: the tokenizer reads only the folder root"))
            continue
        if extra.get("dangling"):
            plan.skipped.append(SkippedFile(name, "broken symlink"))
            continue
        if extra.get("special"):
            plan.skipped.append(SkippedFile(name, "not a regular file (pipe, device or socket)"))
            continue
        if len(name.encode("utf-8", "surrogateescape")) > name_max:
            plan.skipped.append(SkippedFile(name, f"file name is {len(name.encode('utf-8', 'surrogateescape'))} "
                                                  f"bytes; the file system of {dest} holds names up to {name_max}"))
            continue
        names[name] = (size, extra)

    def read(name: str) -> Optional[bytes]:
        if name not in names:
            return None
        size = names[name][0]
        if size is not None and size > MAX_META_BYTES:
            plan.warnings.append(f"{name} is {size} bytes; too large to inspect")
            return None
        if cancel is not None:
            cancel.raise_if_cancelled("tokenizer plan")
        if name not in plan._contents:
            plan._contents[name] = src.read(name)
        return plan._contents[name]

    tok_cfg = _load_json(read("tokenizer_config.json"), "tokenizer_config.json", plan.warnings)
    hf_cfg = _load_json(read("config.json"), "config.json", plan.warnings)
    if "tokenizer_config.json" not in names:
        plan.warnings.append("no tokenizer_config.json in the source: LMI will not take the folder as a "
                             "prebuilt TensorRT-LLM model (it looks for it beside config.pbtxt / the engines)")

    # custom code named by auto_map
    code: dict[str, str] = {}  # file -> reason
    remote_refs: list[str] = []
    trust_reasons: list[str] = []
    tok_map = tok_cfg.get("auto_map") if isinstance(tok_cfg.get("auto_map"), dict) else {}
    cfg_map = hf_cfg.get("auto_map") if isinstance(hf_cfg.get("auto_map"), dict) else {}
    wanted = [("tokenizer_config.json", k, v) for k, v in tok_map.items() if k in ("AutoTokenizer", "AutoConfig")]
    wanted += [("config.json", k, v) for k, v in cfg_map.items() if k in ("AutoTokenizer", "AutoConfig")]
    for origin, key, value in wanted:
        for ref in _auto_map_refs(value):
            if "--" in ref:
                remote_refs.append(f"{origin} auto_map {key} → {ref}")
                continue
            module = ref.rsplit(".", 1)[0]
            fname = module.replace(".", "/") + ".py"
            if fname not in names:
                plan.warnings.append(f"{origin} auto_map {key} names {ref}, but {fname} is not in the source")
                continue
            code.setdefault(fname, f"auto_map {key} in {origin} ({ref})")
    # relative imports of those modules, transitively
    todo = list(code)
    while todo:
        fname = todo.pop()
        data = read(fname)
        if data is None:
            continue
        for mod in _relative_imports(data):
            dep = mod + ".py"
            if dep in names and dep not in code:
                code[dep] = f"imported by {fname}"
                todo.append(dep)
    tokenizer_code = tok_map.get("AutoTokenizer") or cfg_map.get("AutoTokenizer")
    if tokenizer_code:
        src_name = "tokenizer_config.json" if tok_map.get("AutoTokenizer") else "config.json"
        trust_reasons.append(f"the tokenizer is custom code ({src_name} auto_map AutoTokenizer → "
                             f"{', '.join(_auto_map_refs(tokenizer_code))})")
    elif not tok_cfg.get("tokenizer_class") and cfg_map.get("AutoConfig") and layout == "triton":
        trust_reasons.append("tokenizer_config.json names no tokenizer_class, so AutoTokenizer loads the "
                             f"custom config class {cfg_map['AutoConfig']}")
    if remote_refs:
        plan.warnings.append("auto_map points at code in another repository (" + "; ".join(remote_refs) + "); "
                             "LMI would download it at load time — copy that code into this folder or make "
                             "sure the endpoint can reach the Hub")
    if trust_reasons:
        plan.trust_remote_code = True
        plan.trust_reason = "; ".join(trust_reasons)
        plan.patterns.append({"pattern": ", ".join(sorted(code)) or "(auto_map)",
                              "reason": "custom tokenizer code named by auto_map: LMI needs "
                                        "option.trust_remote_code=true"})
    elif code:
        plan.patterns.append({"pattern": ", ".join(sorted(code)), "reason": "custom code named by auto_map"})

    # choose files
    engine_cfg_here = has_build_config(dest / "config.json")
    for name in sorted(names):
        size, extra = names[name]
        if is_weight(name):
            plan.skipped.append(SkippedFile(name, "weights: never needed beside a compiled engine"))
            continue
        reason = code.get(name) or _match_reason(name, extra_patterns)
        if reason is None:
            plan.skipped.append(SkippedFile(name, "not part of the tokenizer"))
            continue
        dest_name = name
        if name == "config.json" and (layout == "flat" or engine_cfg_here):
            why = ("flat layout: config.json is the engine's (its build_config is how LMI 0.33 "
                   "recognises a prebuilt model)" if layout == "flat" else
                   f"{dest / 'config.json'} is an engine config (build_config); it is never replaced")
            dest_name = "hf_config.json"
            reason = f"HF config kept for reference as hf_config.json — {why}"
        plan.files.append(PlannedFile(name, dest_name, size, reason, symlink=bool(extra.get("symlink"))))

    # flat layout: AutoTokenizer must not need config.json
    if layout == "flat" and "tokenizer_config.json" in names and not tok_cfg.get("tokenizer_class"):
        cls = hf_cfg.get("tokenizer_class")
        if cls or cfg_map.get("AutoTokenizer"):
            parts = []
            if cls:
                parts.append(f'"tokenizer_class": "{cls}"')
            if cfg_map.get("AutoTokenizer"):
                parts.append('"auto_map": {"AutoTokenizer": …} from config.json')
            plan.patches.append("tokenizer_config.json: add " + " and ".join(parts) + " (AutoTokenizer would "
                                "otherwise read the engine's config.json, which has no model_type)")
        else:
            plan.warnings.append("tokenizer_config.json names no tokenizer_class; in the flat layout "
                                 "AutoTokenizer would read the engine's config.json (no model_type) and fail — "
                                 "fix: add \"tokenizer_class\" (e.g. \"LlamaTokenizerFast\") to "
                                 "tokenizer_config.json")
    if layout == "triton" and engine_cfg_here:
        plan.warnings.append(f"{dest} holds an engine config.json: with the triton layout the tokenizer goes in "
                             "tensorrt_llm/ and the engines in tensorrt_llm/1/")
    if layout == "flat" and not engine_cfg_here:
        plan.warnings.append(f"{dest / 'config.json'} with build_config not found yet: the flat layout needs the "
                             "engines (and their config.json) in this folder before upload")

    # compare with what is there already
    for f in plan.files:
        target = dest / f.dest
        if not target.is_file() or target.is_symlink():
            f.status = "new" if not target.exists() else "changed"
            continue
        size, extra = names[f.path]
        patched = f.dest == "tokenizer_config.json" and bool(plan.patches)
        try:
            if size is not None and not patched and target.stat().st_size != size:
                f.status = "changed"
                continue
            data = target.read_bytes()
        except OSError:
            f.status = "changed"
            continue
        if patched and f.path in plan._contents:
            try:
                same = _patched_tokenizer_config(plan._contents[f.path], hf_cfg) == data
            except (UnicodeDecodeError, ValueError):
                same = False
        elif f.path in plan._contents:
            same = plan._contents[f.path] == data
        elif extra.get("sha256"):
            same = hashlib.sha256(data).hexdigest() == extra["sha256"]
        elif extra.get("blob_id"):
            same = _git_blob_sha1(data) == extra["blob_id"]
        elif kind == "local":
            try:
                same = src.read(f.path) == data
            except WizardError:
                same = False
        else:
            same = False
        f.status = "unchanged" if same else "changed"
    emit(progress, STEP, f"plan: {len(plan.files)} files, {len(plan.skipped)} skipped",
         done=0, total=len(plan.files), unit="files")
    return plan


# --------------------------------------------------------------------------------------------- fetch
def _patched_tokenizer_config(data: bytes, hf_cfg: dict) -> bytes:
    obj = json.loads(data.decode("utf-8"))
    if hf_cfg.get("tokenizer_class") and not obj.get("tokenizer_class"):
        obj["tokenizer_class"] = hf_cfg["tokenizer_class"]
    amap = hf_cfg.get("auto_map") if isinstance(hf_cfg.get("auto_map"), dict) else {}
    if amap.get("AutoTokenizer"):
        obj.setdefault("auto_map", {})
        if isinstance(obj["auto_map"], dict):
            obj["auto_map"].setdefault("AutoTokenizer", amap["AutoTokenizer"])
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def fetch_tokenizer(plan: TokenizerPlan, *, token=None, force: bool = False,
                    progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> TokenizerResult:
    """Carry out ``plan``: fetch into a staging folder inside ``dest_dir``, then move the files into place.

    Files whose content differs from an existing destination file need ``force=True``. Cancel is honoured
    between files; a cancelled or failed fetch leaves the destination as it was."""
    dest = Path(plan.dest_dir)
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
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WizardError(f"cannot create {dest}: {exc.strerror or exc}", "choose a writable folder") from None
    _remove_stale_staging(Path(os.path.abspath(dest)))
    todo = [f for f in plan.files if f.status != "unchanged"]
    total = len(todo)
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
    staged: list[tuple[Path, PlannedFile]] = []
    skipped: list[SkippedFile] = []
    nbytes = 0
    hf_cfg = {}
    if plan.patches and "config.json" in plan._contents:
        hf_cfg = _load_json(plan._contents["config.json"], "config.json", [])
    try:
        files_dir = Path(staging) / "files"
        files_dir.mkdir()
        for i, f in enumerate(todo):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("tokenizer download")
            emit(progress, STEP, f"{f.path}", done=i, total=total, unit="files",
                 extra={"file": f.path, "size": f.size})
            out = files_dir / f.dest
            try:
                if f.path in plan._contents:
                    data = plan._contents[f.path]
                    out.write_bytes(data)
                elif plan.kind == "hub":
                    got = src.download(f.path, os.path.join(staging, "hub"))  # type: ignore[union-attr]
                    shutil.move(str(got), out)
                else:  # local: stream the content (a symlink's target is copied, never the link)
                    try:
                        shutil.copyfile(_inside(src.folder, f.path), out)  # type: ignore[union-attr]
                    except OSError as exc:
                        if exc.errno == errno.ENAMETOOLONG:
                            raise
                        raise WizardError(f"cannot copy {f.path} from {plan.source}: {exc.strerror or exc}",
                                          "check the source folder") from None
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
        if cancel is not None and cancel.cancelled:
            raise Cancelled("tokenizer download")
        written = []
        for out, f in staged:  # all arrived: move into place (same file system, atomic per file)
            target = _inside(dest, f.dest)
            if target.is_symlink() or target.is_dir():
                if target.is_dir() and not target.is_symlink():
                    raise WizardError(f"{target} is a folder", "remove or rename it")
                target.unlink()
            os.chmod(out, 0o644)
            os.replace(out, target)
            written.append(f.dest)
        emit(progress, STEP, f"{len(written)} files written to {dest}", done=total, total=total, unit="files")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TokenizerResult(plan=plan, written=written, unchanged=[f.dest for f in plan.files
                                                                  if f.status == "unchanged"],
                           bytes=nbytes, trust_remote_code=plan.trust_remote_code, dest_dir=str(dest),
                           skipped=skipped)


def _remove_stale_staging(dest: Path) -> None:
    """Staging folders of killed fetches into ``dest`` (their wizard's pid is gone), beside it, and the
    old-style ones inside it: ours, and partial by definition."""
    from .base.runlock import start_time

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
