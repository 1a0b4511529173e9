"""Preflight: check a model repository that anyone produced, local or in S3, before an endpoint is spent on it.

:func:`check_target` takes a local folder or ``s3://bucket/prefix/`` and returns a :class:`CheckReport`:
findings (``error`` = LMI will not load it / it fails at load, ``warning`` = doubtful, ``info``) each with a
fix and the path it is about. Everything is checked with the modules that make the artifacts, so the rules
are the same ones the wizard follows:

* **layout** — the rule of the LMI release in use (:mod:`.layout`): Triton layout (LMI ≤ 0.32) — a
  sub-folder of ``model_id`` with ``config.pbtxt`` + ``tokenizer_config.json`` (the two-folder rule);
  flat layout (LMI 0.33+) — a root ``config.json`` with ``build_config`` (an HF ``config.json`` copied over
  the engine's is the classic mistake). The layout is given (``layout=``), else inferred from the files;
  when the LMI release is known (``lmi_version=`` or the image this runs in) a different layout is an error.
* **engine** — :func:`.build.validate_engine_dir` (``config.json``, ``rank*.engine`` count vs TP × PP, a
  converted checkpoint instead of engines, empty engines).
* **version** — the engine's ``config.json`` ``version`` (written by ``trtllm-build``; or the build record's)
  against the runtime: the installed ``tensorrt-llm`` (``importlib.metadata``) and the TensorRT-LLM of the
  LMI release. An engine loads only with the TensorRT-LLM it was built with — the most common failure.
* **gpu** — the build record's GPU architecture against this machine's GPUs (:mod:`.gpu`).
* **pbtxt** — :func:`.pbtxt.check_text`: placeholders, parse as ``inference.ModelConfig``, ``decoupled``,
  the engine path as seen inside the container (``/opt/ml/model/<folder>/1``), max batch vs the engine.
* **tokenizer** — ``tokenizer_config.json`` readable, vocabulary files present, the custom code named in
  ``auto_map`` (and what it imports relatively) present.
* **lmi** — ``serving.properties`` (when there is one) against the engine: :func:`.lmi.check_answers`
  (TP, PP, max rolling batch, trust_remote_code).

For ``s3://`` the prefix is listed (:mod:`.s3`) and only small files are downloaded (``*.json``,
``*.pbtxt``, ``*.properties``, ``*.py`` up to a size cap) into a temporary mirror where every other
object is a sparse placeholder of its listed size — engines are never downloaded. Keys that cannot be a
safe local path (``..``, absolute, NUL) are reported and left out; nothing is written outside the mirror.

:func:`check_target` raises :class:`~.errors.WizardError` (exit code 2) only when it cannot check at all
(no such folder, S3 unreachable, no credentials, layout undecidable).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Optional

from .base.errors import WizardError
from .base.findings import Finding
from .base.progress import CancelToken, ProgressFn, emit

SEVERITIES = ("error", "warning", "info")
GROUPS = ("layout", "engine", "version", "gpu", "pbtxt", "tokenizer", "lmi", "files")
GROUP_TITLES = {"layout": "Layout (what LMI looks for)", "engine": "Engine folder", "version": "Engine version",
                "gpu": "GPU architecture", "pbtxt": "config.pbtxt", "tokenizer": "Tokenizer",
                "lmi": "LMI configuration (serving.properties)", "files": "Files"}
MAX_PBTXT_BYTES = 4 * 1024 * 1024  # real config.pbtxt files are ~10 KB; beyond this it is not one
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_SMALL_DOWNLOAD = {".json": MAX_JSON_BYTES, ".pbtxt": MAX_PBTXT_BYTES, ".properties": 1024 * 1024,
                      ".py": 1024 * 1024}
MAX_OBJECTS = 100_000
VOCAB_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model", "merges.txt",
               "sentencepiece.bpe.model", "qwen.tiktoken", "tokenizer.tiktoken")
CONTAINER_ROOT = "/opt/ml/model"


# --------------------------------------------------------------------------------------------- data
def _finding_json(f: Finding) -> dict:
    """check's --json keys (severity/code/message/fix/path/group), ``path`` even when None."""
    return f.to_json() | {"path": f.path, "group": f.group}


@dataclass
class CheckReport:
    target: str
    layout: Optional[str]
    findings: list[Finding] = field(default_factory=list)
    model_id: Optional[str] = None
    model_dir: Optional[str] = None  # the folder holding config.pbtxt (triton) / the engines (flat)
    engine_dir: Optional[str] = None
    lmi: Optional[dict] = None  # the LMI target used for the layout / version rules
    downloaded: list[str] = field(default_factory=list)  # s3: keys fetched (small files only)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict:
        return {"target": self.target, "layout": self.layout, "model_id": self.model_id,
                "model_dir": self.model_dir, "engine_dir": self.engine_dir, "lmi": self.lmi,
                "findings": [_finding_json(f) for f in self.findings], "ok": self.ok,
                "errors": len(self.errors), "warnings": len(self.warnings), "downloaded": self.downloaded}


# --------------------------------------------------------------------------------------------- helpers
def _read_json(path: Path, limit: int = MAX_JSON_BYTES) -> tuple[Optional[dict], Optional[str]]:
    try:
        if path.stat().st_size > limit:
            return None, f"larger than {limit // (1024 * 1024)} MiB"
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, str(exc)[:200]
    if not isinstance(data, dict):
        return None, "not a JSON object"
    return data, None


def _read_properties(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith(("#", "!")):
            continue
        m = re.match(r"^([^=:\s]+)\s*[=:]\s*(.*)$", s)
        if m:
            out[m.group(1).strip()] = m.group(2).strip()
    return out


def _version_public(text: str):
    from .facts.versions import try_parse_version

    v = try_parse_version(text)
    return v


class _Ctx:
    """Collects findings; maps local paths (of the S3 mirror) back to what the user named."""

    def __init__(self, report: CheckReport, root: Path, shown_root: str):
        self.report = report
        self.root = root
        self.shown_root = shown_root.rstrip("/") if shown_root != "/" else shown_root
        self._seen: set[tuple[str, str, Optional[str]]] = set()

    def show(self, p: "Path | str | None") -> Optional[str]:
        if p is None:
            return None
        p = Path(p)
        try:
            rel = p.relative_to(self.root).as_posix()
        except ValueError:
            return str(p)
        if rel == ".":
            return self.shown_root + ("/" if self.shown_root.startswith("s3://") else "")
        return f"{self.shown_root}/{rel}"

    def text(self, s: Optional[str]) -> Optional[str]:
        if s is None:
            return None
        root = str(self.root)
        if self.shown_root != root and root in s:
            s = s.replace(root, self.shown_root)
        return s

    def add(self, severity: str, code: str, message: str, fix: Optional[str] = None, path=None,
            group: str = "files") -> None:
        shown = self.show(path) if not isinstance(path, str) or not path.startswith("s3://") else path
        key = (code, self.text(message) or "", shown)
        if key in self._seen:
            return
        self._seen.add(key)
        self.report.findings.append(Finding(severity, code, self.text(message) or "", self.text(fix),
                                            path=shown, group=group))

    def has(self, *codes: str) -> bool:
        return any(f.code in codes for f in self.report.findings)


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
    from . import s3 as s3mod
    from .layout import parse_destination

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
    for i, (rel, obj) in enumerate(sorted(listing.items())):
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
                try:
                    body = client.get_object(Bucket=dest.bucket, Key=dest.prefix + rel)["Body"].read(obj.size + 1)
                except Exception as exc:  # noqa: BLE001 - turned into one clear error
                    raise s3mod.explain(exc, dest, endpoint_url) from None
                local.write_bytes(body)
                downloaded.append(rel)
                emit(progress, "check", f"downloaded {rel}", done=i + 1, total=len(listing), unit="objects")
            else:
                with open(local, "wb") as fh:
                    fh.truncate(obj.size)  # sparse: no bytes fetched, no disk used
        except OSError:
            refused.append(rel)
            continue
        sizes[safe.as_posix()] = obj.size
    return downloaded, refused, sizes


# --------------------------------------------------------------------------------------------- layout
def _subfolders_with(root: Path, name: str) -> list[Path]:
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and (p / name).is_file())
    except OSError:
        return []


def infer_layout(root: Path) -> Optional[str]:
    """"triton" (config.pbtxt here or in a sub-folder), "flat" (a root config.json / engines), or None."""
    from . import layout as L

    try:
        return L.infer_layout(root)
    except WizardError:
        pass
    if _subfolders_with(root, L.PBTXT):
        return L.TRITON
    try:
        names = {p.name for p in root.iterdir()}
    except OSError:
        return None
    if L.CONFIG_JSON in names or any(n.endswith(".engine") for n in names):
        return L.FLAT  # an HF config.json over the engine's, or engines without config: checked as flat
    return None


def _lmi_target(lmi_version: Optional[str], installed: Optional[str], telemetry_file, install_root):
    from .facts import target

    return target.determine_target(trtllm_version=installed, lmi_override=lmi_version,
                                   telemetry_file=telemetry_file, install_root=install_root)


def _layout_findings(ctx: _Ctx, findings: Iterable, group: str = "layout") -> None:
    for f in findings:
        ctx.add(f.severity, f.code, f.problem, f.fix, None, group)


def _all_rel_files(root: Path, limit: int = MAX_OBJECTS) -> list[str]:
    out = []
    for base, dirs, files in os.walk(root):
        dirs.sort()
        rel_base = os.path.relpath(base, root)
        for f in files:
            out.append(f if rel_base == "." else f"{Path(rel_base).as_posix()}/{f}")
        if len(out) > limit:
            break
    return out


def _symlinks_outside(ctx: _Ctx, folder: Path) -> None:
    """Links inside the model folder that lead outside it (or nowhere): LMI mounts/downloads the folder
    alone, so they dangle there; publish uploads a copy of what they point at."""
    base = folder.resolve()
    count = 0
    for d, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(d, name)
            if not p.is_symlink():
                continue
            count += 1
            if count > 1000:
                return
            try:
                target = p.resolve(strict=True)
            except (OSError, RuntimeError):
                ctx.add("error", "broken-symlink", f"{ctx.show(p)} is a broken link ({os.readlink(p)})",
                        "replace it with the file itself", p, "files")
                continue
            if os.path.commonpath([str(target), str(base)]) != str(base):
                ctx.add("warning", "symlink-outside",
                        f"{ctx.show(p)} links to {target}, outside the model folder: the container does not see "
                        "the target; publish uploads a copy of it",
                        "replace the link with the file itself (or make sure a copy is what you want)", p, "files")


# --------------------------------------------------------------------------------------------- engine
def _engine_checks(ctx: _Ctx, edir: Path, layout: str) -> dict:
    from .build import run as build

    facts: dict = {"config": None, "record": None, "world_size": None}
    if not edir.is_dir():
        ctx.add("error", "engine-dir-missing", f"no engine folder at {ctx.show(edir)}",
                "put the engines (rank*.engine + config.json from the build) there", edir, "engine")
        return facts
    for f in build.validate_engine_dir(edir, None, target="flat" if layout == "flat" else None):
        if f.code == "not_flat" and ctx.has("hf-config-at-root", "missing-engine-config"):
            continue  # the layout finding already says it, with the fix
        if f.code == "no_config" and layout == "flat" and ctx.has("missing-engine-config"):
            continue
        if f.code in ("format_flat", "format_legacy"):
            continue  # build-time hints; the layout findings say what matters here
        ctx.add(f.severity, f.code.replace("_", "-"), f.problem, f.fix, edir, "engine")
    cfg, _ = _read_json(edir / "config.json")
    facts["config"] = cfg
    facts["record"] = build.read_build_record(edir)
    if cfg is not None:
        from .lmi import engine_info

        info = engine_info(edir)
        facts["info"] = info
        if info.tp:
            facts["world_size"] = info.tp * (info.pp or 1)
    return facts


def _engine_version(cfg: Optional[dict], record: Optional[dict]) -> tuple[Optional[str], str]:
    if isinstance(cfg, dict):
        v = cfg.get("version")
        if isinstance(v, str) and v.strip():
            return v.strip(), "config.json version (trtllm-build)"
        bc = cfg.get("builder_config")
        if isinstance(bc, dict):
            for k in ("tensorrt_llm_version", "version"):
                if isinstance(bc.get(k), str):
                    return bc[k], f"config.json builder_config.{k}"
    if isinstance(record, dict):
        v = record.get("tensorrt_llm") or record.get("checkout_version")
        if isinstance(v, str) and v:
            return v, "build_record.json"
    return None, ""


def _version_checks(ctx: _Ctx, edir: Path, facts: dict, installed, lmi) -> None:
    ver, where = _engine_version(facts.get("config"), facts.get("record"))
    if facts.get("config") is None and facts.get("record") is None:
        return  # nothing to compare (the engine findings say why)
    cfg_path = edir / "config.json"
    if ver is None:
        ctx.add("warning", "engine-version-unknown",
                "the engine does not say which TensorRT-LLM built it (no `version` in config.json, no build record)",
                "make sure it was built with the TensorRT-LLM of the LMI image you deploy to; an engine loads only "
                "with the version that built it", cfg_path, "version")
        return
    ev = _version_public(ver)
    if ev is None:
        ctx.add("warning", "engine-version-unreadable", f"the engine's version {ver!r} ({where}) is not a version",
                "rebuild with trtllm-build of the TensorRT-LLM in the LMI image", cfg_path, "version")
        return
    compared = False
    runtimes = []
    if installed is not None and getattr(installed, "installed", False) and installed.version:
        runtimes.append(("installed tensorrt-llm", installed.version))
    if lmi is not None and lmi.trtllm_version and lmi.source in ("override", "image"):
        runtimes.append((f"LMI {lmi.version}", lmi.trtllm_version))
    for who, rv_text in runtimes:
        rv = _version_public(rv_text)
        if rv is None:
            continue
        compared = True
        if rv.public == ev.public:
            continue
        if rv.release == ev.release:
            ctx.add("warning", "engine-version-build",
                    f"engine built with TensorRT-LLM {ver} ({where}); {who} is {rv_text}: same release, "
                    "different build", f"rebuild with tensorrt-llm {rv_text} if loading fails", cfg_path, "version")
        else:
            ctx.add("error", "engine-version",
                    f"engine built with TensorRT-LLM {ver} ({where}), but {who} is {rv_text}: the engine will not "
                    "load (\"The engine plan file is not compatible with this version of TensorRT\")",
                    f"rebuild the engine with tensorrt-llm {rv_text}, or deploy to an LMI image that ships "
                    f"TensorRT-LLM {ev.public}", cfg_path, "version")
    if not compared:
        ctx.add("info", "engine-version-uncompared",
                f"engine built with TensorRT-LLM {ver} ({where}); no runtime to compare with here "
                "(tensorrt-llm not installed, LMI release unknown)",
                "pass --lmi-version of the image you deploy to (e.g. 0.33.0)", cfg_path, "version")
    elif not ctx.has("engine-version", "engine-version-build"):
        ctx.add("info", "engine-version-seen", f"engine built with TensorRT-LLM {ver} ({where}), the runtime's",
                None, cfg_path, "version")


def _gpu_checks(ctx: _Ctx, edir: Path, facts: dict, gpu_state) -> None:
    from .facts import gpu as gpu_mod

    rec = facts.get("record")
    rec_path = edir / "build_record.json"
    built = None
    if isinstance(rec, dict):
        gpus = rec.get("gpus") or []
        if gpus and isinstance(gpus[0], dict) and gpus[0].get("arch"):
            built = (gpus[0]["arch"], gpus[0].get("name") or "?")
    if built is None:
        if facts.get("config") is not None:
            ctx.add("info", "gpu-arch-unknown",
                    "no build record with the GPU the engine was built on: an engine runs only on the GPU "
                    "architecture it was built for", "deploy to an instance with the build machine's GPU "
                    "architecture", rec_path, "gpu")
        return
    arch, name = built
    fams = gpu_mod.instance_families_for(arch)
    fam_text = ", ".join(f"ml.{f}.*" for f in fams) or "no family known"
    if gpu_state is None or not gpu_state.available or not gpu_state.gpus:
        ctx.add("info", "gpu-none-here", f"engine built on {name} ({arch}): it deploys to {fam_text}; no GPU "
                "visible here to compare", None, rec_path, "gpu")
        return
    here = gpu_state.gpus[0].arch
    if here != arch:
        ctx.add("error", "gpu-arch",
                f"engine built on {name} ({arch}), this machine has {gpu_state.gpus[0].name} ({here}): TensorRT "
                "engines run only on the architecture they were built for",
                f"deploy to {fam_text}, or rebuild on a {here} machine", rec_path, "gpu")
    ws = facts.get("world_size")
    if isinstance(ws, int) and ws > gpu_state.count:
        ctx.add("warning", "gpu-count", f"the engine needs {ws} GPUs (TP × PP); this machine has {gpu_state.count}",
                f"serve it on an instance with at least {ws} GPUs", edir, "gpu")


# --------------------------------------------------------------------------------------------- pbtxt
_MAX_BATCH_RE = re.compile(r"^max_batch_size\s*:\s*(\d+)", re.M)


def _pbtxt_checks(ctx: _Ctx, mdir: Path, facts: dict) -> None:
    from . import triton

    path = mdir / "config.pbtxt"
    try:
        size = path.stat().st_size
    except OSError:
        return  # the layout finding says it is missing
    if size > MAX_PBTXT_BYTES:
        ctx.add("error", "pbtxt-too-large", f"{ctx.show(path)} is {size // (1024 * 1024)} MiB: a model configuration "
                "is a few KB; this is not one", "put the tensorrt_llm config.pbtxt of the tensorrtllm_backend tag "
                "there (lmi-wizard pbtxt fill)", path, "pbtxt")
        return
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        ctx.add("error", "pbtxt-not-text", f"{ctx.show(path)} is not UTF-8 text", "regenerate config.pbtxt", path,
                "pbtxt")
        return
    except OSError as exc:
        ctx.add("error", "pbtxt-unreadable", f"cannot read {ctx.show(path)}: {exc.strerror}", "check permissions",
                path, "pbtxt")
        return
    expected = f"{CONTAINER_ROOT}/{mdir.name}/1"
    rep = triton.check_text(text, "config.pbtxt", expected_engine_path=expected)
    for f in rep.findings:
        where = f"{ctx.show(path)}:{f.line}"
        if f.kind == "blocking":
            ctx.add("error", "pbtxt-placeholder", f"line {f.line}: ${{{f.name}}} in {f.field} is not filled: {f.reason}",
                    f.fix, where, "pbtxt")
        else:
            ctx.add("warning", "pbtxt-placeholder-optional", f"line {f.line}: ${{{f.name}}} in {f.field}: {f.reason}",
                    f.fix, where, "pbtxt")
    if rep.parses is False:
        ctx.add("error", "pbtxt-parse", f"config.pbtxt does not parse as Triton's ModelConfig: {rep.parse_error}",
                "fill every placeholder (lmi-wizard pbtxt check shows them) and fix the syntax", path, "pbtxt")
    dec = rep.decoupled
    state = dec.get("state")
    if state == "invalid":
        ctx.add("error", "pbtxt-decoupled", f"decoupled has the value {dec.get('value')!r}, not a boolean",
                "set model_transaction_policy { decoupled: True }", path, "pbtxt")
    elif state in ("false", "missing"):
        ctx.add("warning", "pbtxt-decoupled",
                "decoupled mode is off" + (" (no model_transaction_policy)" if state == "missing" else "")
                + ": LMI streams tokens through the decoupled tensorrtllm model",
                "set model_transaction_policy { decoupled: True } as the tutorial does", path, "pbtxt")
    eng = rep.engine_path
    est = eng.get("state")
    msg_val = eng.get("value")
    if est in ("placeholder", "empty", "relative", "host_path", "missing"):
        what = {"placeholder": "is still a placeholder", "empty": "is empty", "relative": f"{msg_val!r} is relative",
                "host_path": f"{msg_val!r} is a path on the build machine",
                "missing": "is not set (no gpt_model_path parameter)"}[est]
        ctx.add("error", "pbtxt-engine-path",
                f"the engine path {what}: inside the LMI container the engines are at {expected}",
                f"set gpt_model_path to {expected} (lmi-wizard pbtxt fill … -i)", path, "pbtxt")
    elif est == "other_container_path":
        ctx.add("warning", "pbtxt-engine-path",
                f"the engine path {msg_val!r} differs from {expected}, where this folder's 1/ is inside the container",
                f"set gpt_model_path to {expected} unless the engines really are at {msg_val}", path, "pbtxt")
    info = facts.get("info")
    m = _MAX_BATCH_RE.search(text)
    if m and info is not None and info.max_batch_size and int(m.group(1)) > info.max_batch_size:
        ctx.add("error", "pbtxt-max-batch",
                f"config.pbtxt max_batch_size {m.group(1)} exceeds the engine's max batch size {info.max_batch_size}",
                f"set max_batch_size to {info.max_batch_size} or less (triton_max_batch_size)", path, "pbtxt")
    for n in rep.notes:
        if "untouched" in n or "every placeholder of the upstream template" in n:
            ctx.add("info", "pbtxt-untouched", n, "run lmi-wizard pbtxt fill … -i", path, "pbtxt")


# --------------------------------------------------------------------------------------------- tokenizer
def _tokenizer_checks(ctx: _Ctx, mdir: Path, layout: str) -> Optional[bool]:
    """Returns whether the tokenizer needs trust_remote_code (None: no tokenizer_config.json)."""
    from .tokenizer import _auto_map_refs, _relative_imports, safe_name

    tc_path = mdir / "tokenizer_config.json"
    if not tc_path.exists():
        return None  # the layout finding reports it
    tc, err = _read_json(tc_path)
    if tc is None:
        ctx.add("error", "tokenizer-config-bad", f"tokenizer_config.json is not readable JSON ({err})",
                "download the tokenizer files again (lmi-wizard tokenizer)", tc_path, "tokenizer")
        tc = {}
    try:
        names = {p.name for p in mdir.iterdir()}
    except OSError:
        names = set()
    if not any(n in names for n in VOCAB_FILES) and not any(n.endswith((".tiktoken", ".model")) for n in names):
        ctx.add("warning", "tokenizer-vocab-missing",
                "no tokenizer vocabulary file (tokenizer.json, tokenizer.model, vocab.*, *.tiktoken) beside "
                "tokenizer_config.json", "download the tokenizer files (lmi-wizard tokenizer)", mdir, "tokenizer")
    needs = False
    sources = [("tokenizer_config.json", tc)]
    for extra in ("config.json", "hf_config.json"):
        p = mdir / extra
        if p.is_file():
            cfg, _ = _read_json(p)
            if cfg is not None and "build_config" not in cfg:
                sources.append((extra, cfg))
    wanted: dict[str, str] = {}
    for fname, obj in sources:
        amap = obj.get("auto_map")
        if not isinstance(amap, dict):
            continue
        for cls, value in amap.items():
            if fname != "tokenizer_config.json" and cls not in ("AutoTokenizer", "AutoConfig"):
                continue  # model code (AutoModel…) is not loaded for an engine
            for ref in _auto_map_refs(value):
                if cls == "AutoTokenizer" or fname == "tokenizer_config.json":
                    needs = True
                if "--" in ref:
                    repo, _, rest = ref.partition("--")
                    ctx.add("warning", "custom-code-remote",
                            f"{fname} auto_map {cls} loads code from another repository ({repo}) at load time",
                            "make sure the endpoint can reach the Hugging Face Hub, or copy that code here", mdir,
                            "tokenizer")
                    continue
                module = ref.rsplit(".", 1)[0]
                wanted.setdefault(module.replace(".", "/") + ".py", f"{fname} auto_map {cls}")
    # relative imports of the custom code files that are here
    seen = set()
    queue = list(wanted)
    while queue:
        py = queue.pop()
        if py in seen or len(seen) > 200:
            continue
        seen.add(py)
        p = mdir / py
        if p.is_file() and p.stat().st_size <= MAX_SMALL_DOWNLOAD[".py"]:
            try:
                src = p.read_bytes()
            except OSError:
                continue
            for mod in _relative_imports(src):
                dep = f"{mod}.py"
                if dep not in wanted:
                    wanted[dep] = f"imported by {py}"
                    queue.append(dep)
    for py, why in sorted(wanted.items()):
        if not safe_name(py.split("/")[-1]) or ".." in py.split("/"):
            ctx.add("error", "custom-code-unsafe", f"{why} names {py!r}, which is not a file name",
                    "fix auto_map in the tokenizer files", mdir, "tokenizer")
            continue
        if not (mdir / py).is_file():
            ctx.add("error", "custom-code-missing",
                    f"{py} is missing ({why}): the tokenizer ships custom code that LMI cannot load without it",
                    f"download {py} beside tokenizer_config.json (lmi-wizard tokenizer fetches it)", mdir / py,
                    "tokenizer")
    return needs


# --------------------------------------------------------------------------------------------- serving.properties
def _lmi_checks(ctx: _Ctx, props_path: Optional[Path], layout: str, facts: dict, needs_trust: Optional[bool],
                lmi_version: Optional[str], mdir: Path) -> None:
    from . import lmi

    if props_path is None:
        ctx.add("info", "no-serving-properties",
                "no serving.properties here: TP and batch size are checked when LMI's configuration is known",
                "cross-check with `lmi-wizard lmi-config --engine-dir … --tp N`", None, "lmi")
        return
    props = _read_properties(props_path)
    info = facts.get("info")
    tp_raw = props.get("option.tensor_parallel_degree") or props.get("tensor_parallel_degree")
    if tp_raw is not None and tp_raw.strip().lower() == "max":
        ctx.add("warning", "properties-tp-max", "option.tensor_parallel_degree=max: LMI uses every GPU of the "
                "instance, which must equal the engine's TP", f"write the engine's TP ({getattr(info, 'tp', '?')})",
                props_path, "lmi")
        tp_raw = None
    trust_raw = props.get("option.trust_remote_code")
    if trust_raw is not None and trust_raw.strip().lower() != "true" and layout == "flat":
        ctx.add("warning", "properties-trust-false",
                f"option.trust_remote_code={trust_raw}: LMI 0.33+ passes it to TensorRT-LLM as a raw string, where "
                "any non-empty value reads as true", "remove the key when no custom code is needed", props_path, "lmi")
    model_id = props.get("option.model_id") or props.get("model_id") or (
        f"{CONTAINER_ROOT}" if layout == "flat" else f"{CONTAINER_ROOT}/")
    try:
        a = lmi.LmiAnswers(
            model_id=model_id, tp=tp_raw or (info.tp if info and info.tp else 1),
            pp=props.get("option.pipeline_parallel_degree") or (info.pp if info and info.pp else 1),
            max_rolling_batch_size=props.get("option.max_rolling_batch_size") or None,
            dtype=props.get("option.dtype") or (info.dtype if info and info.dtype else "fp16"),
            layout=layout, trust_remote_code=(trust_raw or "").strip().lower() == "true",
            engine_tp=info.tp if info else None, engine_pp=info.pp if info else None,
            engine_max_batch_size=info.max_batch_size if info else None,
            tokenizer_needs_trust=needs_trust, lmi_version=lmi_version, subfolder=mdir.name)
        found = lmi.check_answers(a)
    except WizardError as exc:
        ctx.add("error", "properties-invalid", f"serving.properties: {exc.problem}", exc.fix, props_path, "lmi")
        return
    # the fix, spelled for the file at hand (lmi.py's fixes name lmi-config's options)
    fixes = {
        "tp-mismatch": f"set option.tensor_parallel_degree={a.engine_tp}, or rebuild the engine with TP {a.tp}",
        "pp-mismatch": f"set option.pipeline_parallel_degree={a.engine_pp}",
        "batch-over-engine": f"set option.max_rolling_batch_size={a.engine_max_batch_size} or less, or rebuild with "
                             "a larger --max_batch_size",
        "trust-remote-code": "add option.trust_remote_code=true",
        "trust-not-needed": "remove option.trust_remote_code",
    }
    for f in found:
        if f.code.startswith("model-id") and "option.model_id" not in props:
            continue
        if f.code == "batch-unset":
            continue
        ctx.add(f.severity, f.code, f"serving.properties: {f.problem}", fixes.get(f.code, f.fix),
                props_path, "lmi")


# --------------------------------------------------------------------------------------------- main
def check_dir(root: "str | os.PathLike", *, layout: Optional[str] = None, shown_root: Optional[str] = None,
              is_s3: bool = False, lmi_version: Optional[str] = None, installed=None, gpu_state=None,
              telemetry_file="__default__", install_root="__default__", report: Optional[CheckReport] = None,
              progress: ProgressFn | None = None) -> CheckReport:
    """Check a local folder (or the mirror of an S3 prefix, shown as ``shown_root``)."""
    from . import layout as L
    from .facts import target as target_mod
    from .facts.gpu import detect_gpus
    from .facts.versions import detect_tensorrt_llm

    root = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    shown = shown_root or str(root)
    if report is None:
        report = CheckReport(target=shown, layout=layout)
    if not root.exists():
        raise WizardError(f"model folder not found: {root}", "pass the folder that holds the compiled model, "
                          "or s3://bucket/prefix/")
    if not root.is_dir():
        raise WizardError(f"{root} is a file, not a folder", "pass the folder that holds the compiled model")
    ctx = _Ctx(report, root, shown)
    emit(progress, "check", "detecting the runtime")
    if installed is None:
        installed = detect_tensorrt_llm()
    kw = {}
    if telemetry_file != "__default__":
        kw["telemetry_file"] = telemetry_file
    if install_root != "__default__":
        kw["install_root"] = install_root
    try:
        lmi = target_mod.determine_target(trtllm_version=installed.version if installed.installed else None,
                                          lmi_override=lmi_version, **kw)
    except WizardError:
        raise
    report.lmi = lmi.to_json()
    inferred = infer_layout(root)
    if layout is None:
        if inferred is None:
            if is_s3 and not any(True for _ in root.iterdir()):
                raise WizardError(f"nothing under {shown}", "check the prefix (aws s3 ls), or upload the model first "
                                  "(lmi-wizard publish)")
            raise WizardError(f"cannot tell what {shown} is: no config.pbtxt (Triton layout) and no config.json / "
                              "engines (flat layout)", "point at the model folder, or say which with --layout "
                              "triton|flat")
        layout = inferred
        how = "inferred from the files"
    else:
        L._check_layout_name(layout)
        how = "given"
    report.layout = layout
    # the layout of the LMI release in use
    if lmi.layout != layout:
        if lmi.source in ("override", "image"):
            ctx.add("error", "layout-vs-lmi",
                    f"this is the {layout} layout ({how}), but LMI {lmi.version} loads the {lmi.layout} layout: "
                    f"{target_mod.layout_description(lmi.layout)}",
                    "rebuild for that LMI release's layout (lmi-wizard), or deploy to an LMI release that loads "
                    f"the {layout} layout (" + ("0.25–0.32" if layout == "triton" else "0.33+") + ")", None, "layout")
        elif lmi.source == "tensorrt-llm":
            ctx.add("warning", "layout-vs-lmi",
                    f"this is the {layout} layout ({how}); LMI {lmi.version}, which ships the installed tensorrt-llm, "
                    f"loads the {lmi.layout} layout", "pass --lmi-version of the image you deploy to", None, "layout")
    if inferred is not None and inferred != layout:
        ctx.add("warning", "layout-given-differs", f"checking as the {layout} layout (given), but the files look "
                f"like the {inferred} layout", f"check with --layout {inferred} if that is what you meant", None,
                "layout")

    # where the model is, and the rule LMI applies to model_id
    mdir = root
    if layout == L.TRITON:
        if (root / L.PBTXT).is_file():
            # the uploaded folder itself (folder2): model_id is its parent
            if is_s3:
                model_id, fl = L.destination_findings(shown, L.TRITON)
                _layout_findings(ctx, fl)
            else:
                model_id = str(root.parent)
            report.model_id = model_id
            if model_id:
                ctx.add("info", "model-id", f"this is the uploaded model folder: LMI's model_id is its parent "
                        f"{model_id}" + ("/" if is_s3 and not model_id.endswith("/") else ""), None, None, "layout")
            _layout_findings(ctx, L.check_local(root, L.TRITON))
        else:
            keys = _all_rel_files(root)
            _layout_findings(ctx, L.check_listing(keys, shown, L.TRITON))
            subs = _subfolders_with(root, L.PBTXT)
            valid = [s for s in subs if (s / L.TOKENIZER_CONFIG).is_file()]
            chosen = (valid or subs or [None])[0]
            report.model_id = shown if (valid or subs) else None
            if chosen is None:
                report.model_dir = None
                _finish(ctx, root)
                return report
            mdir = chosen
            _layout_findings(ctx, L.check_local(mdir, L.TRITON))
        edir = mdir / "1"
    else:
        _layout_findings(ctx, L.check_local(root, L.FLAT))
        report.model_id = shown
        edir = root
    report.model_dir = ctx.show(mdir)
    report.engine_dir = ctx.show(edir)
    if not is_s3:
        _symlinks_outside(ctx, mdir)

    emit(progress, "check", "engine folder")
    facts = _engine_checks(ctx, edir, layout)
    _version_checks(ctx, edir, facts, installed, lmi)
    if gpu_state is None:
        gpu_state = detect_gpus()
    _gpu_checks(ctx, edir, facts, gpu_state)
    if layout == L.TRITON:
        emit(progress, "check", "config.pbtxt")
        _pbtxt_checks(ctx, mdir, facts)
    emit(progress, "check", "tokenizer")
    needs = _tokenizer_checks(ctx, mdir, layout)
    props = next((p for p in (root / "serving.properties", mdir / "serving.properties") if p.is_file()), None)
    _lmi_checks(ctx, props, layout, facts, needs, lmi_version or (lmi.version if lmi.source in ("override", "image")
                                                                   else None), mdir)
    _finish(ctx, root)
    return report


# one cause, one finding: the layout rule and the engine check both see these
_SAME_CAUSE = {"engine-count": "config-world-size", "not-flat": "hf-config-at-root"}


def _finish(ctx: _Ctx, root: Path) -> None:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    gorder = {g: i for i, g in enumerate(GROUPS)}
    fs = ctx.report.findings
    present = {f.code for f in fs}
    worst: dict[str, int] = {}
    for f in fs:
        worst[f.code] = min(worst.get(f.code, 9), order.get(f.severity, 9))
    ctx.report.findings = fs = [f for f in fs if _SAME_CAUSE.get(f.code) not in present
                                and order.get(f.severity, 9) == worst[f.code]]
    ctx.report.findings.sort(key=lambda f: (gorder.get(f.group, 99), order.get(f.severity, 9)))


def check_target(target: str, *, layout: Optional[str] = None, endpoint_url: Optional[str] = None, client=None,
                 lmi_version: Optional[str] = None, installed=None, gpu_state=None,
                 telemetry_file="__default__", install_root="__default__",
                 progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> CheckReport:
    """Check ``target`` (a local folder or ``s3://bucket/prefix/``). ``installed`` (a
    :class:`~.versions.InstalledPackage`), ``gpu_state`` (a :class:`~.gpu.GpuState`) and the LMI image probe
    paths exist for tests; by default they are detected."""
    text = os.fspath(target).strip()
    if not text:
        raise WizardError("nothing to check", "pass a model folder or s3://bucket/prefix/")
    kw = dict(layout=layout, lmi_version=lmi_version, installed=installed, gpu_state=gpu_state,
              telemetry_file=telemetry_file, install_root=install_root, progress=progress)
    if text[:5].lower() != "s3://":
        return check_dir(text, **kw)
    from .layout import parse_destination

    dest = parse_destination(text)
    if not dest.prefix:
        raise WizardError(f"{dest.url} is a bucket root", "pass the model's prefix, e.g. s3://bucket/folder1/")
    tmp = Path(tempfile.mkdtemp(prefix="lmi-wizard-check-"))
    try:
        mirror = tmp / "m"
        mirror.mkdir()
        downloaded, refused, _ = mirror_s3(dest.url, mirror, endpoint_url=endpoint_url, client=client,
                                           progress=progress, cancel=cancel)
        report = CheckReport(target=dest.url, layout=layout, downloaded=downloaded)
        if not downloaded and not any(mirror.iterdir()) and not refused:
            raise WizardError(f"nothing under {dest.url}", "check the prefix (aws s3 ls), or upload the model first "
                              "(lmi-wizard publish)")
        check_dir(mirror, shown_root=dest.url, is_s3=True, report=report, **kw)
        for rel in refused[:20]:
            report.findings.insert(0, Finding(
                "warning", "odd-key", f"object key {dest.prefix + rel!r} is not a usable file path (empty, '.' or '..' "
                "segment, or too long): LMI's download may skip or misplace it", "remove or rename the object",
                path=dest.url + rel, group="files"))
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------- text
def render_human(report: CheckReport) -> str:
    lines = [f"lmi-wizard check {report.target}",
             f"  layout: {report.layout or '?'}"
             + (f"   LMI model_id: {report.model_id}" if report.model_id else "")]
    if report.lmi and report.lmi.get("version"):
        lines.append(f"  LMI target: {report.lmi['version']} (TensorRT-LLM {report.lmi.get('trtllm_version') or '?'}, "
                     f"{report.lmi.get('source')})")
    mark = {"error": "✗ error  ", "warning": "! warning", "info": "· info   "}
    by_group: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_group.setdefault(f.group, []).append(f)
    for g in sorted(by_group, key=lambda g: GROUPS.index(g) if g in GROUPS else 99):
        lines.append("")
        lines.append(GROUP_TITLES.get(g, g))
        for f in by_group[g]:
            where = f"  [{f.path}]" if f.path and f.severity != "info" else ""
            lines.append(f"  {mark.get(f.severity, f.severity)} {f.text()}{where}")
    lines.append("")
    ne, nw = len(report.errors), len(report.warnings)
    if ne:
        lines.append(f"{ne} error(s), {nw} warning(s): LMI will not load this model as it is.")
    else:
        lines.append(f"no blocking problem found ({nw} warning(s)).")
    return "\n".join(lines)
