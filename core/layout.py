"""Where LMI looks for a prebuilt TensorRT-LLM model, as checks.

Two layouts (see NOTES.md, from djl-serving's own source):

* ``"triton"`` (LMI 0.25–0.32): LMI lists the *immediate sub-folders* of the downloaded ``model_id`` and
  takes the model as prebuilt only if one of them holds both ``config.pbtxt`` and
  ``tokenizer_config.json``. So ``tensorrt_llm/`` is uploaded to ``.../folder1/folder2/`` and LMI is given
  ``.../folder1/`` (the tutorial's "two folders"). Pointed one level too deep, LMI converts the folder as a
  Hugging Face model and fails with "no file named pytorch_model.bin ...".
* ``"flat"`` (LMI 0.33+): ``model_id`` is the uploaded folder itself; its root ``config.json`` must have a
  top-level ``build_config`` key (the engine's config, written by ``trtllm-build``); the tokenizer files
  sit beside the engines. A Hugging Face ``config.json`` (no ``build_config``) at the root is the classic
  mistake (a ``snapshot_download`` of ``*.json`` overwrites the engine's one).

Everything here is pure (no boto3, no network): checks run on a local folder (:func:`check_local`) or on a
listing of keys (:func:`check_listing`, reused by a preflight check of what is already on S3).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Optional

from .base.errors import WizardError
from .base.findings import Finding, raise_first

TRITON = "triton"
FLAT = "flat"
LAYOUTS = (TRITON, FLAT)

PBTXT = "config.pbtxt"
TOKENIZER_CONFIG = "tokenizer_config.json"
CONFIG_JSON = "config.json"
TRITON_SUBFOLDER = "tensorrt_llm"  # the Triton model repository's folder that is uploaded

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


# --------------------------------------------------------------------------- findings
# one Finding type for every check (core/base/findings.py): severity "error" (LMI will not load it: refuse)
# or "warning"; raise_first raises the first error as a WizardError (problem + fix).


def _check_layout_name(layout: str) -> str:
    if layout not in LAYOUTS:
        raise WizardError(f"unknown layout {layout!r}",
                          "use --layout triton (LMI 0.25–0.32) or --layout flat (LMI 0.33+)")
    return layout


# --------------------------------------------------------------------------- destinations
@dataclass(frozen=True)
class Destination:
    """An S3 prefix (``kind == "s3"``) or a local folder (``kind == "local"``)."""

    kind: str
    bucket: str = ""
    prefix: str = ""  # "" (bucket root) or "a/b/" — always ends with "/"
    path: Optional[Path] = None  # local folder

    @property
    def is_s3(self) -> bool:
        return self.kind == "s3"

    @property
    def url(self) -> str:
        if self.is_s3:
            return f"s3://{self.bucket}/{self.prefix}"
        return str(self.path)

    @property
    def at_root(self) -> bool:
        """Bucket root, or the file-system root."""
        if self.is_s3:
            return self.prefix == ""
        return self.path is not None and self.path.parent == self.path

    def parent(self) -> Optional["Destination"]:
        if self.at_root:
            return None
        if self.is_s3:
            parts = self.prefix.rstrip("/").split("/")[:-1]
            return Destination("s3", self.bucket, "".join(p + "/" for p in parts))
        return Destination("local", path=self.path.parent)

    @property
    def name(self) -> str:
        if self.is_s3:
            return self.prefix.rstrip("/").rsplit("/", 1)[-1]
        return self.path.name

    def __str__(self) -> str:
        return self.url


def parse_destination(text: "str | os.PathLike | Destination") -> Destination:
    """``s3://bucket/a/b/`` → an S3 prefix; anything else → a local folder (``~`` expanded, made absolute)."""
    if isinstance(text, Destination):
        return text
    raw = os.fspath(text).strip()
    if not raw:
        raise WizardError("empty destination", "give s3://bucket/folder1/folder2/ or a local folder")
    if raw[:5].lower() == "s3://":
        rest = raw[5:]
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise WizardError(f"{raw!r} names no S3 bucket", "write it as s3://bucket/folder1/folder2/")
        if bucket != bucket.lower() and _BUCKET_RE.match(bucket.lower()):
            raise WizardError(f"S3 bucket names are lower-case: {bucket!r} cannot exist",
                              f"write s3://{bucket.lower()}/{key}")
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise WizardError(f"{raw!r} does not name a valid S3 bucket ({bucket!r})",
                              "bucket names are 3–63 characters: lowercase letters, digits, '.', '-'; "
                              "write it as s3://bucket/folder1/folder2/")
        parts = key.split("/")
        if parts and parts[-1] == "":
            parts = parts[:-1]
        if any(p in ("", ".", "..") for p in parts):
            raise WizardError(f"{raw!r} has an empty, '.' or '..' folder name",
                              "write the destination as s3://bucket/folder1/folder2/ with single slashes")
        prefix = "".join(p + "/" for p in parts)
        return Destination("s3", bucket, prefix)
    if raw[:3].lower() == "s3:" or raw[:4].lower() == "s3//":  # a typo would make a local folder "s3:"
        raise WizardError(f"{raw!r} is not a valid S3 URL", "write it as s3://bucket/folder1/folder2/")
    if "://" in raw and not raw.startswith("file://"):
        scheme = raw.split("://", 1)[0]
        raise WizardError(f"unsupported destination scheme {scheme}://",
                          "use s3://bucket/folder1/folder2/ or a local folder")
    if raw.startswith("file://"):
        raw = raw[len("file://"):]
    return Destination("local", path=Path(os.path.abspath(os.path.expanduser(raw))))


def destination_findings(dest: "str | Destination", layout: str) -> tuple[Optional[str], list[Finding]]:
    """The LMI ``model_id`` that follows from uploading to ``dest`` under ``layout``, and what is wrong with it."""
    _check_layout_name(layout)
    dest = parse_destination(dest)
    where = "bucket root" if dest.is_s3 else "file-system root"
    if layout == TRITON:
        parent = dest.parent()
        if parent is None or parent.at_root:
            if dest.is_s3:
                example = f"s3://{dest.bucket}/<model>/{dest.name or TRITON_SUBFOLDER}/"
                fix = (f"upload into two folders, e.g. {example}, and LMI gets s3://{dest.bucket}/<model>/")
            else:
                fix = "upload into two folders, e.g. /path/<model>/tensorrt_llm/, and LMI gets /path/<model>/"
            return None, [Finding(
                "error", "triton-needs-two-folders",
                f"{dest.url} cannot work with the Triton layout: LMI would be given the {where}, "
                f"and it looks for config.pbtxt + tokenizer_config.json in a sub-folder of model_id",
                fix)]
        return _model_id_str(parent), []
    if dest.at_root:
        return None, [Finding(
            "error", "flat-at-root",
            f"{dest.url} is the {where}: LMI would download everything there as the model",
            f"upload into a folder, e.g. {'s3://' + dest.bucket + '/<model>/' if dest.is_s3 else '/path/<model>/'}")]
    return _model_id_str(dest), []


def _model_id_str(dest: Destination) -> str:
    return dest.url if dest.is_s3 else str(dest.path)


def model_id_for(dest: "str | Destination", layout: str) -> str:
    """The ``model_id`` to give LMI: Triton layout → the parent prefix of ``dest``; flat → ``dest`` itself.
    Raises WizardError (with the fix) for a destination that cannot work."""
    model_id, findings = destination_findings(dest, layout)
    raise_first(findings)
    assert model_id is not None
    return model_id


# --------------------------------------------------------------------------- local folders
def _read_json(path: Path) -> tuple[Optional[dict], Optional[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, str(exc)
    if not isinstance(data, dict):
        return None, "not a JSON object"
    return data, None


def _is_engine_config(data: Optional[dict]) -> bool:
    return isinstance(data, dict) and "build_config" in data


def infer_layout(repo_dir: "str | os.PathLike") -> str:
    """``config.pbtxt`` inside (at the root or in ``tensorrt_llm/``) → triton; a root ``config.json`` with
    ``build_config`` → flat; otherwise WizardError with the fix."""
    repo = Path(repo_dir)
    if not repo.is_dir():
        raise _not_a_folder(repo)
    if (repo / PBTXT).is_file() or (repo / TRITON_SUBFOLDER / PBTXT).is_file():
        return TRITON
    data, _ = _read_json(repo / CONFIG_JSON) if (repo / CONFIG_JSON).is_file() else (None, None)
    if _is_engine_config(data):
        return FLAT
    raise WizardError(
        f"cannot tell the layout of {repo}: no config.pbtxt (Triton layout) and no engine config.json "
        f"with build_config at its root (flat layout)",
        "pass the tensorrt_llm/ folder of the Triton model repository or the trtllm-build output folder, "
        "or say which with --layout triton|flat")


def _not_a_folder(path: Path) -> WizardError:
    """The error for a model folder that is missing or is a file."""
    if path.exists():
        return WizardError(f"{path} is a file, not a folder",
                           "pass the folder that holds the compiled model (its parent folder?)")
    return WizardError(f"model folder not found: {path}", "pass the folder that holds the compiled model")


def source_folder(repo_dir: "str | os.PathLike", layout: str) -> Path:
    """The folder that is uploaded. For the Triton layout a whole Triton model repository
    (``triton_model_repo/`` with ``tensorrt_llm/config.pbtxt`` inside) means its ``tensorrt_llm/`` folder."""
    _check_layout_name(layout)
    repo = Path(os.path.abspath(os.path.expanduser(os.fspath(repo_dir))))
    if layout == TRITON and not (repo / PBTXT).exists() and (repo / TRITON_SUBFOLDER / PBTXT).is_file():
        return repo / TRITON_SUBFOLDER
    return repo


def _engines(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(".engine"))
    except OSError:
        return []


def check_local(repo_dir: "str | os.PathLike", layout: str) -> list[Finding]:
    """Check the folder that will be uploaded (see :func:`source_folder`) against ``layout``'s rule."""
    _check_layout_name(layout)
    src = source_folder(repo_dir, layout)
    if not src.exists():
        return [Finding("error", "missing-folder", f"model folder not found: {src}",
                        "pass the folder that holds the compiled model")]
    if not src.is_dir():
        return [Finding("error", "not-a-folder", f"{src} is a file, not a folder",
                        "pass the folder that holds the compiled model")]
    names = {p.name for p in src.iterdir()}
    keys = []
    chain_of: dict[str, tuple[str, ...]] = {os.fspath(src): (os.path.realpath(src),)}
    for root, dirs, files in os.walk(src, followlinks=True):  # like the upload: linked folders count
        chain = chain_of.pop(root, (os.path.realpath(root),))
        keep = []
        for d in dirs:
            real = os.path.realpath(os.path.join(root, d))
            if not any(r == real or r.startswith(real.rstrip(os.sep) + os.sep) for r in chain):  # no loops
                keep.append(d)
                chain_of[os.path.join(root, d)] = chain + (real,)
        dirs[:] = keep
        rel_root = os.path.relpath(root, src)
        for f in files:
            keys.append(f if rel_root == "." else PurePosixPath(Path(rel_root).as_posix(), f).as_posix())
        if len(keys) > 100_000:
            break

    def read(rel: str) -> Optional[bytes]:
        try:
            return (src / rel).read_bytes()
        except OSError:
            return None

    findings = _check_keys(keys, layout, read, where=str(src), local=True)
    if not names:
        what = ("the tensorrt_llm/ folder of the Triton model repository (config.pbtxt, the tokenizer files, "
                "1/ with the engines)" if layout == TRITON else
                "the trtllm-build output folder (config.json with build_config, rank*.engine) with the tokenizer "
                "files beside")
        findings.insert(0, Finding("error", "empty-folder", f"{src} is empty", f"pass {what}"))
    return findings


# --------------------------------------------------------------------------- listings
def check_listing(keys: Iterable[str], model_id: str, layout: str,
                  read: Optional[Callable[[str], Optional[bytes]]] = None) -> list[Finding]:
    """Check what LMI will find under ``model_id``. ``keys`` are paths *relative to model_id*
    ('/'-separated, e.g. ``"tensorrt_llm/config.pbtxt"``). ``read(rel_key)`` (optional) returns a small
    object's bytes, so the flat layout's ``config.json`` can be checked for ``build_config``."""
    _check_layout_name(layout)
    rels = [k.lstrip("/") for k in keys if k and not k.endswith("/")]
    if not rels:
        return [Finding("error", "nothing-there", f"nothing under {model_id}",
                        "upload the model first (lmi-wizard publish)")]
    findings: list[Finding] = []
    if layout == TRITON:
        findings = _check_triton_listing(rels, model_id)
    else:
        findings = _check_keys(rels, layout, read, where=model_id, local=False)
    return findings


def _check_triton_listing(rels: list[str], model_id: str) -> list[Finding]:
    root_files = {r for r in rels if "/" not in r}
    sub: dict[str, set[str]] = {}
    for r in rels:
        parts = r.split("/")
        if len(parts) == 2:
            sub.setdefault(parts[0], set()).add(parts[1])
        elif len(parts) > 2:
            sub.setdefault(parts[0], set())
    valid = sorted(d for d, files in sub.items() if PBTXT in files and TOKENIZER_CONFIG in files)
    if len(valid) == 1:
        return []
    if len(valid) > 1:
        return [Finding("warning", "several-models",
                        f"{len(valid)} sub-folders of {model_id} hold a Triton model ({', '.join(valid)}): "
                        f"LMI takes whichever it lists first",
                        "keep one model per model_id folder")]
    base = model_id.rstrip("/")
    if PBTXT in root_files:
        parent = base.rsplit("/", 1)[0] + "/"
        return [Finding("error", "one-level-too-deep",
                        f"{model_id} holds config.pbtxt itself: LMI only looks in its sub-folders, converts it "
                        f"as a Hugging Face model and fails with \"no file named pytorch_model.bin ...\"",
                        f"give LMI the parent folder {parent} as model_id")]
    half = sorted(d for d, files in sub.items() if PBTXT in files)
    if half:
        return [Finding("error", "missing-tokenizer-config",
                        f"{base}/{half[0]}/ has config.pbtxt but no tokenizer_config.json: LMI will not take "
                        f"it as a prebuilt model",
                        f"put the tokenizer files (tokenizer_config.json, …) into {half[0]}/ beside config.pbtxt")]
    deeper = sorted({r.rsplit("/", 1)[0] for r in rels if r.endswith("/" + PBTXT) and r.count("/") >= 2})
    if deeper:
        first = deeper[0]
        return [Finding("error", "one-level-too-high",
                        f"config.pbtxt is at {base}/{first}/, more than one folder below model_id",
                        f"give LMI {base}/{first.rsplit('/', 1)[0]}/ as model_id")]
    if CONFIG_JSON in root_files:
        return [Finding("error", "no-triton-model",
                        f"no sub-folder of {model_id} holds config.pbtxt + tokenizer_config.json "
                        f"(it has a root config.json: a flat-layout upload?)",
                        "use the flat layout (LMI 0.33+), or upload the tensorrt_llm/ folder one level down")]
    return [Finding("error", "no-triton-model",
                    f"no sub-folder of {model_id} holds config.pbtxt + tokenizer_config.json",
                    "upload the Triton repository's tensorrt_llm/ folder to <model_id>/tensorrt_llm/")]


def _check_keys(rels: list[str], layout: str, read, *, where: str, local: bool) -> list[Finding]:
    """Check the files of the folder that is uploaded (triton: folder2; flat: model_id)."""
    root = {r for r in rels if "/" not in r}
    findings: list[Finding] = []
    base = where.rstrip("/")
    if layout == TRITON:
        engine_cfg = None
        if PBTXT not in root:
            cfg_bytes = read(CONFIG_JSON) if (read and CONFIG_JSON in root) else None
            if cfg_bytes is not None:
                try:
                    engine_cfg = json.loads(cfg_bytes)
                except ValueError:
                    engine_cfg = None
            if _is_engine_config(engine_cfg):
                findings.append(Finding("error", "flat-repo-as-triton",
                                        f"{base} has no config.pbtxt but an engine config.json (flat layout)",
                                        "use --layout flat (LMI 0.33+)"))
            elif any(r.endswith("/" + PBTXT) for r in rels) and local:
                sub = sorted(r.rsplit("/", 1)[0] for r in rels if r.endswith("/" + PBTXT))[0]
                findings.append(Finding("error", "missing-pbtxt",
                                        f"{base} has no config.pbtxt at its top (there is one in {sub}/)",
                                        f"upload {base}/{sub} instead"))
            else:
                findings.append(Finding("error", "missing-pbtxt",
                                        f"{base} has no config.pbtxt: LMI (Triton layout) takes the model as "
                                        f"prebuilt only from a folder with config.pbtxt and tokenizer_config.json",
                                        "pass the tensorrt_llm/ folder of the Triton model repository"))
        if TOKENIZER_CONFIG not in root:
            findings.append(Finding("error", "missing-tokenizer-config",
                                    f"{base} has no tokenizer_config.json: LMI will not take it as a prebuilt model",
                                    "download the tokenizer files into it, beside config.pbtxt "
                                    "(the wizard's tokenizer step)"))
        if not any(r.endswith(".engine") for r in rels):
            findings.append(Finding("warning", "no-engines", f"no *.engine file under {base}",
                                    "build the engines (trtllm-build) into its 1/ folder before uploading"))
        return findings

    # flat
    if CONFIG_JSON not in root:
        hint = " (config.pbtxt found: a Triton-layout repo?)" if any(
            r == PBTXT or r.endswith("/" + PBTXT) for r in rels) else ""
        findings.append(Finding("error", "missing-engine-config",
                                f"{base} has no config.json at its root{hint}: LMI 0.33+ takes the folder as "
                                f"prebuilt only if its config.json has build_config",
                                "upload the trtllm-build output folder (config.json + rank*.engine)"
                                + (", or use --layout triton" if hint else "")))
        cfg = None
    else:
        cfg = None
        data = read(CONFIG_JSON) if read else None
        if data is not None:
            try:
                cfg = json.loads(data)
            except ValueError:
                findings.append(Finding("error", "bad-config-json", f"{base}/config.json is not valid JSON",
                                        "restore the engine's config.json written by trtllm-build"))
            else:
                if not _is_engine_config(cfg):
                    findings.append(Finding(
                        "error", "hf-config-at-root",
                        f"{base}/config.json has no top-level build_config: it is a Hugging Face model "
                        f"config, not the engine's (a tokenizer download of *.json overwrote it?); LMI would "
                        f"try to convert the folder as a Hugging Face model",
                        "put the engine's config.json (from trtllm-build's output) back and download the "
                        "tokenizer without config.json"))
                    cfg = None
    if TOKENIZER_CONFIG not in root:
        findings.append(Finding("error", "missing-tokenizer-config",
                                f"{base} has no tokenizer_config.json beside the engines",
                                "download the tokenizer files into the engine folder (without config.json)"))
    engines = sorted(r for r in root if r.endswith(".engine"))
    if not engines:
        findings.append(Finding("warning", "no-engines", f"no rank*.engine file at {base}",
                                "upload the trtllm-build output folder (config.json + rank*.engine)"))
    elif isinstance(cfg, dict):
        mapping = (cfg.get("pretrained_config") or {}).get("mapping") or {}
        world = mapping.get("world_size")
        if world is None and "tp_size" in mapping:
            world = int(mapping.get("tp_size", 1)) * int(mapping.get("pp_size", 1))
        if isinstance(world, int) and world != len(engines):
            findings.append(Finding("warning", "engine-count",
                                    f"config.json says world_size {world} but {len(engines)} engine file(s) are there",
                                    "upload every rank*.engine of the build"))
    return findings
