"""The engine folder against the runtime: :func:`..build.validate_engine_dir`, the TensorRT-LLM version it was
built with against the installed one and the LMI image's, and the GPU architecture and count (TP × PP) it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .report import _Ctx, _read_json, _version_public


# --------------------------------------------------------------------------------------------- engine
def _engine_checks(ctx: _Ctx, edir: Path, layout: str) -> dict:
    from ..build import run as build

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
        from ..lmi import engine_info

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
    from ..facts import gpu as gpu_mod

    rec = facts.get("record")
    rec_path = edir / "build_record.json"
    # the GPU count comes from the engine's own config (mapping tp × pp), with or without a build record
    ws = facts.get("world_size")
    if isinstance(ws, int) and gpu_state is not None and gpu_state.available and ws > gpu_state.count:
        ctx.add("warning", "gpu-count", f"the engine needs {ws} GPUs (TP × PP in its config.json); this machine has "
                f"{gpu_state.count}", f"serve it on an instance with at least {ws} GPUs", edir, "gpu")
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
