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

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from ..base.errors import WizardError
from ..base.findings import Finding
from ..base.progress import CancelToken, ProgressFn, emit
from .engine import _engine_checks, _gpu_checks, _version_checks
from .mirror import _safe_rel, mirror_s3
from .model_files import _lmi_checks, _other_models_checks, _pbtxt_checks, _tokenizer_checks
from .report import GROUPS, SEVERITIES, CheckReport, _Ctx
from .structure import (
    _all_rel_files,
    _our_temps,
    _layout_findings,
    _subfolders_with,
    _symlinks_outside,
    infer_layout,
)


# --------------------------------------------------------------------------------------------- main
def check_dir(root: "str | os.PathLike", *, layout: Optional[str] = None, shown_root: Optional[str] = None,
              is_s3: bool = False, lmi_version: Optional[str] = None, installed=None, gpu_state=None,
              telemetry_file="__default__", install_root="__default__", report: Optional[CheckReport] = None,
              progress: ProgressFn | None = None) -> CheckReport:
    """Check a local folder (or the mirror of an S3 prefix, shown as ``shown_root``)."""
    from ..facts.versions import detect_tensorrt_llm

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
    _our_temps(ctx, root)
    emit(progress, "check", "detecting the runtime")
    if installed is None:
        installed = detect_tensorrt_llm()
    lmi = _lmi_target(installed, lmi_version, layout, telemetry_file, install_root)
    report.lmi = lmi.to_json()
    inferred = infer_layout(root)
    layout, how = _decide_layout(root, shown, layout, inferred, is_s3)
    report.layout = layout
    _layout_vs_lmi(ctx, layout, how, inferred, lmi)
    where = _locate_model(ctx, report, root, shown, layout, is_s3)
    if where is None:  # a Triton model repository with no model folder in it
        report.model_dir = None
        _finish(ctx, root)
        return report
    mdir, edir = where
    report.model_dir = ctx.show(mdir)
    report.engine_dir = ctx.show(edir)
    if not is_s3:
        _symlinks_outside(ctx, mdir)
    _model_checks(ctx, root, mdir, edir, layout, installed, lmi, gpu_state, lmi_version, progress)
    _finish(ctx, root)
    return report


def _lmi_target(installed, lmi_version: Optional[str], layout: Optional[str], telemetry_file, install_root):
    """The LMI release in use (given, the image this runs in, or the one shipping the installed tensorrt-llm)."""
    from ..facts import target as target_mod

    kw = {}
    if telemetry_file != "__default__":
        kw["telemetry_file"] = telemetry_file
    if install_root != "__default__":
        kw["install_root"] = install_root
    # 0.34+ published no TensorRT-LLM image: checked as a self-built image only when the layout is given
    self_built = bool(lmi_version and layout and not target_mod.trtllm_image_published(lmi_version))
    return target_mod.determine_target(trtllm_version=installed.version if installed.installed else None,
                                       lmi_override=lmi_version, layout_override=layout if self_built else None, **kw)


def _decide_layout(root: Path, shown: str, layout: Optional[str], inferred: Optional[str],
                   is_s3: bool) -> tuple[str, str]:
    """The layout to check as, and how it was decided ("given" / "inferred from the files")."""
    from .. import layout as L

    if layout is not None:
        L._check_layout_name(layout)
        return layout, "given"
    if inferred is None:
        if is_s3 and not any(True for _ in root.iterdir()):
            raise WizardError(f"nothing under {shown}", "check the prefix (aws s3 ls), or upload the model first "
                              "(lmi-wizard publish)")
        raise WizardError(f"cannot tell what {shown} is: no config.pbtxt (Triton layout) and no config.json / "
                          "engines (flat layout)", "point at the model folder, or say which with --layout "
                          "triton|flat")
    return inferred, "inferred from the files"


def _layout_vs_lmi(ctx: _Ctx, layout: str, how: str, inferred: Optional[str], lmi) -> None:
    """The layout against the one the LMI release in use loads, and against what the files look like."""
    from ..facts import target as target_mod

    if lmi.layout != layout and lmi.source in ("override", "image"):
        ctx.add("error", "layout-vs-lmi",
                f"this is the {layout} layout ({how}), but LMI {lmi.version} loads the {lmi.layout} layout: "
                f"{target_mod.layout_description(lmi.layout)}",
                "rebuild for that LMI release's layout (lmi-wizard), or deploy to an LMI release that loads "
                f"the {layout} layout (" + ("0.25–0.32" if layout == "triton" else "0.33+") + ")", None, "layout")
    elif lmi.layout != layout and lmi.source == "tensorrt-llm":
        ctx.add("warning", "layout-vs-lmi",
                f"this is the {layout} layout ({how}); LMI {lmi.version}, which ships the installed tensorrt-llm, "
                f"loads the {lmi.layout} layout", "pass --lmi-version of the image you deploy to", None, "layout")
    if inferred is not None and inferred != layout:
        ctx.add("warning", "layout-given-differs", f"checking as the {layout} layout (given), but the files look "
                f"like the {inferred} layout", f"check with --layout {inferred} if that is what you meant", None,
                "layout")


def _locate_model(ctx: _Ctx, report: CheckReport, root: Path, shown: str, layout: str,
                  is_s3: bool) -> Optional[tuple[Path, Path]]:
    """Where the model and its engines are, with the rule LMI applies to model_id; None when a Triton
    repository holds no model folder."""
    from .. import layout as L

    if layout != L.TRITON:
        _layout_findings(ctx, L.check_local(root, L.FLAT))
        report.model_id = shown
        return root, root
    if (root / L.PBTXT).is_file():  # the uploaded folder itself (folder2): model_id is its parent
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
        return root, root / "1"
    _layout_findings(ctx, L.check_listing(_all_rel_files(root), shown, L.TRITON))
    subs = _subfolders_with(root, L.PBTXT)
    valid = [s for s in subs if (s / L.TOKENIZER_CONFIG).is_file()]
    chosen = (valid or subs or [None])[0]
    report.model_id = shown if (valid or subs) else None
    if chosen is None:
        return None
    _layout_findings(ctx, L.check_local(chosen, L.TRITON))
    return chosen, chosen / "1"


def _model_checks(ctx: _Ctx, root: Path, mdir: Path, edir: Path, layout: str, installed, lmi, gpu_state,
                  lmi_version: Optional[str], progress: ProgressFn | None) -> None:
    """Engine, version, GPU, config.pbtxt, tokenizer and serving.properties checks of the located model."""
    from .. import layout as L
    from ..facts.gpu import detect_gpus

    emit(progress, "check", "engine folder")
    facts = _engine_checks(ctx, edir, layout)
    _version_checks(ctx, edir, facts, installed, lmi)
    if gpu_state is None:
        gpu_state = detect_gpus()
    _gpu_checks(ctx, edir, facts, gpu_state)
    if layout == L.TRITON:
        emit(progress, "check", "config.pbtxt")
        _pbtxt_checks(ctx, mdir, facts, lmi, edir)
        if mdir != root:
            _other_models_checks(ctx, root, mdir)
    emit(progress, "check", "tokenizer")
    needs = _tokenizer_checks(ctx, mdir, layout)
    props = next((p for p in (root / "serving.properties", mdir / "serving.properties") if p.is_file()), None)
    _lmi_checks(ctx, props, layout, facts, needs, lmi_version or (lmi.version if lmi.source in ("override", "image")
                                                                   else None), mdir)


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


def _show_s3_owner(report: CheckReport, dest, endpoint_url: Optional[str], client) -> None:
    """The ownership marker ``publish`` keeps in the uploaded folder (the prefix itself, or the model folder
    under it), as an info line."""
    from .. import s3 as s3mod

    places = [dest.url]
    if report.model_dir and report.model_dir.startswith("s3://") and report.model_dir.rstrip("/") != dest.url.rstrip("/"):
        places.append(report.model_dir.rstrip("/") + "/")
    for place in places:
        owner = s3mod.read_owner(place, endpoint_url=endpoint_url, client=client)
        if owner is not None:
            report.findings.insert(0, Finding("info", "s3-owner", "published by lmi-wizard: "
                                              + s3mod.describe_owner(owner), None,
                                              path=place + s3mod.MARKER_NAME, group="files"))
            return


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
    from ..layout import parse_destination

    dest = parse_destination(text)
    if not dest.prefix:
        raise WizardError(f"{dest.url} is a bucket root", "pass the model's prefix, e.g. s3://bucket/folder1/")
    from .. import s3 as s3mod

    if client is None:
        client = s3mod.make_client(endpoint_url)
    tmp = Path(tempfile.mkdtemp(prefix="lmi-wizard-check-"))
    try:
        # named like the prefix's last folder: the engine path the check names is the one LMI will see
        # (/opt/ml/model/<folder>/1), never the mirror's own name
        last = _safe_rel(dest.prefix.rstrip("/").rsplit("/", 1)[-1])
        mirror = tmp / (last.as_posix() if last is not None else "m")
        mirror.mkdir()
        downloaded, refused, _ = mirror_s3(dest.url, mirror, endpoint_url=endpoint_url, client=client,
                                           progress=progress, cancel=cancel)
        report = CheckReport(target=dest.url, layout=layout, downloaded=downloaded)
        if not downloaded and not any(mirror.iterdir()) and not refused:
            raise WizardError(f"nothing under {dest.url}", "check the prefix (aws s3 ls), or upload the model first "
                              "(lmi-wizard publish)")
        check_dir(mirror, shown_root=dest.url, is_s3=True, report=report, **kw)
        _show_s3_owner(report, dest, endpoint_url, client)
        for rel in refused[:20]:
            report.findings.insert(0, Finding(
                "warning", "odd-key", f"object key {dest.prefix + rel!r} is not a usable file path (empty, '.' or '..' "
                "segment, or too long): LMI's download may skip or misplace it", "remove or rename the object",
                path=dest.url + rel, group="files"))
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
