"""The LMI target: which LMI (DJL Serving) release the model is for, and so which layout it loads.

* LMI 0.25–0.32 (TensorRT-LLM 0.5.0 … 0.12.0) loads the **Triton layout** ("triton"): a sub-folder of
  the model root holding ``config.pbtxt``, ``tokenizer_config.json`` and the engines in ``1/``.
* LMI 0.33 and later (TensorRT-LLM 0.21.0rc1, then 1.x) loads a **flat engine folder** ("flat"): a root
  ``config.json`` with a top-level ``build_config`` key, tokenizer files beside it.

Sources, strongest first: the user's override; the DJL Serving version of the image this runs in
(``/opt/djl/bin/telemetry`` holds "<djl_version> tensorrtllm"; the .deb installs
``/usr/local/djl-serving-<version>/``); the installed tensorrt-llm version; else the newest known LMI
release. The table is ``data/lmi_releases.json``. Stdlib only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..base.errors import WizardError
from ..data import load as load_table
from .versions import Version, parse_version, try_parse_version

LAYOUTS = ("triton", "flat")
TELEMETRY_FILE = "/opt/djl/bin/telemetry"
DJL_INSTALL_ROOT = "/usr/local"
TUTORIAL_NOTE = ("the tutorial pulls a 0.33 image (djl-inference:0.33.0-tensorrtllm0.21.0-cu128) but its `docker run` "
                 "uses deepjavalibrary/djl-serving:0.30.0-tensorrt-llm and it describes the Triton layout "
                 "(triton_model_repo/tensorrt_llm/ with config.pbtxt), which a 0.33 image will not load")


@lru_cache(maxsize=1)
def load_release_table() -> dict[str, Any]:
    return load_table("lmi_releases.json")


def releases() -> list[dict[str, Any]]:
    return [dict(r) for r in load_release_table()["releases"]]


def layout_description(layout: str) -> str:
    return load_release_table()["layouts"][layout]


def _unsnapshot(text: str) -> str:
    """"0.33.0~SNAPSHOT" / "0.33.0-SNAPSHOT" → "0.33.0" (DJL Serving's nightly spelling)."""
    return re.sub(r"[~-]SNAPSHOT$", "", text.strip(), flags=re.I)


def parse_lmi_version(text: str) -> Version:
    """"0.33.0", "0.33", "0.33.0~SNAPSHOT", "0.33.0-SNAPSHOT" → Version; WizardError for text that is not one."""
    return parse_version(_unsnapshot(text))


def layout_for_lmi(lmi_version: str) -> str | None:
    """"0.30.0" → "triton"; "0.33.0"/"0.35.0" → "flat"; before 0.25 (no TensorRT-LLM in LMI) → None."""
    t = load_release_table()
    v = parse_lmi_version(lmi_version)
    if v.key() < parse_lmi_version(t["first_lmi_with_trtllm"]).key():
        return None
    return "flat" if v.minor() >= parse_lmi_version(t["flat_from_lmi"]).minor() else "triton"


def layout_for_trtllm(trtllm_version: str) -> str:
    """TensorRT-LLM < 0.21 → "triton" (the LMI images up to 0.32); 0.21.0rc1 and later → "flat"."""
    v = parse_version(trtllm_version)
    flat_from = parse_version(load_release_table()["flat_from_trtllm"])
    return "flat" if v.minor() >= flat_from.minor() else "triton"


def release_for_lmi(lmi_version: str) -> dict[str, Any] | None:
    v = parse_lmi_version(lmi_version)
    for r in releases():
        if parse_lmi_version(r["lmi"]).minor() == v.minor():
            return r
    return None


def releases_for_trtllm(trtllm_version: str) -> tuple[list[dict[str, Any]], bool]:
    """LMI releases shipping this TensorRT-LLM: (rows, exact). Rows with the same release numbers but a
    different pre/post/dev/local build are returned with ``exact=False``."""
    v = parse_version(trtllm_version)
    exact = [r for r in releases() if parse_version(r["trtllm"]).public == v.public]
    if exact:
        return exact, True
    near = [r for r in releases() if parse_version(r["trtllm"]).release == v.release]
    return near, False


# --- reading the image's DJL Serving version ----------------------------------------------------


def read_djl_serving_version(telemetry_file: str | os.PathLike | None = TELEMETRY_FILE,
                             install_root: str | os.PathLike | None = DJL_INSTALL_ROOT) -> tuple[str, str] | None:
    """(version, where it was read) for the DJL Serving of this image, or None when not an LMI image."""
    if telemetry_file:
        p = Path(telemetry_file)
        try:
            first = p.read_text(encoding="utf-8", errors="replace").split()
        except OSError:
            first = []
        if first and try_parse_version(_unsnapshot(first[0])):
            return _unsnapshot(first[0]), str(p)
    if install_root:
        root = Path(install_root)
        found: list[tuple[Version, str, Path]] = []
        try:
            entries = list(root.glob("djl-serving-*"))
        except OSError:
            entries = []
        for d in entries:
            text = d.name[len("djl-serving-"):]
            v = try_parse_version(_unsnapshot(text))
            if v is not None and d.is_dir():
                found.append((v, text, d))
        if found:
            found.sort(key=lambda x: x[0].key())
            v, text, d = found[-1]
            return _unsnapshot(text), str(d)
    return None


# --- the target ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LmiTarget:
    version: str | None  # LMI release, e.g. "0.33.0" (None: not known)
    layout: str  # "triton" | "flat"
    trtllm_version: str | None  # the TensorRT-LLM that LMI release ships (from the table)
    source: str  # "override" | "image" | "tensorrt-llm" | "default"
    explanation: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "layout": self.layout, "trtllm_version": self.trtllm_version,
                "source": self.source, "explanation": self.explanation, "notes": list(self.notes)}


def _explain(version: str | None, layout: str, trtllm: str | None, how: str) -> str:
    who = f"LMI {version}" if version else "this LMI target"
    ships = f" (TensorRT-LLM {trtllm})" if trtllm else ""
    s = f"{who}{ships} {how}; it loads the {'Triton' if layout == 'triton' else 'flat'} layout: " \
        f"{layout_description(layout)}."
    if layout == "flat":
        s += f" Note: {TUTORIAL_NOTE}."
    else:
        s += (" This is the layout the tutorial describes (it loads in the 0.30 image the tutorial's `docker run` "
              "uses, not in the 0.33 image it pulls).")
    return s


def determine_target(*, trtllm_version: str | None = None, lmi_override: str | None = None,
                     layout_override: str | None = None,
                     telemetry_file: str | os.PathLike | None = TELEMETRY_FILE,
                     install_root: str | os.PathLike | None = DJL_INSTALL_ROOT) -> LmiTarget:
    """Which LMI release/layout to produce for. Raises WizardError only for a bad override."""
    notes: list[str] = []
    if layout_override is not None and layout_override not in LAYOUTS:
        raise WizardError(f"unknown layout {layout_override!r}", "use one of: triton, flat")
    trt = try_parse_version(trtllm_version) if trtllm_version else None
    if trtllm_version and trt is None:
        notes.append(f"installed tensorrt-llm version {trtllm_version!r} is not a version; ignored")

    version: str | None = None
    source = "default"
    how = ""
    if lmi_override:
        try:
            parse_lmi_version(lmi_override)
        except WizardError:
            raise WizardError(f"not an LMI version: {lmi_override!r}", "give it as 0.33.0 (or 0.30.0, …)") from None
        if layout_for_lmi(lmi_override) is None:
            raise WizardError(f"LMI {lmi_override} has no TensorRT-LLM support",
                              f"use LMI {load_release_table()['first_lmi_with_trtllm']} or later")
        version, source, how = lmi_override, "override", "was chosen by you"
    else:
        found = read_djl_serving_version(telemetry_file, install_root)
        if found and layout_for_lmi(found[0]) is not None:
            version, source, how = found[0], "image", f"is the image this runs in (read from {found[1]})"
        elif found:
            notes.append(f"DJL Serving {found[0]} ({found[1]}) has no TensorRT-LLM support; ignored")
    row = release_for_lmi(version) if version else None
    if version is None and trt is not None:
        rows, exact = releases_for_trtllm(trtllm_version)  # type: ignore[arg-type]
        if rows:
            row = rows[-1]
            version, source = row["lmi"], "tensorrt-llm"
            also = f" (also {', '.join(r['lmi'] for r in rows[:-1])})" if len(rows) > 1 else ""
            how = f"ships the installed tensorrt-llm {trtllm_version}{also}"
            if not exact:
                notes.append(f"LMI {row['lmi']} ships TensorRT-LLM {row['trtllm']}, not {trtllm_version}: "
                             "an engine loads only with the TensorRT-LLM it was built with")
        else:
            layout = layout_for_trtllm(trtllm_version)  # type: ignore[arg-type]
            notes.append(f"no known LMI release ships TensorRT-LLM {trtllm_version}: engines built with it will not "
                         "load in the LMI images this wizard knows ("
                         + ", ".join(f"{r['lmi']}→{r['trtllm']}" for r in releases()) + ")")
            how = f"is not known for tensorrt-llm {trtllm_version}; layout chosen from that version"
            if layout_override is not None and layout_override != layout:
                notes.append(f"layout overridden to {layout_override!r} (tensorrt-llm {trtllm_version} suggests {layout!r})")
                layout = layout_override
            return LmiTarget(None, layout, None, "tensorrt-llm", _explain(None, layout, None, how), tuple(notes))
    if version is None:
        row = releases()[-1]
        version, source = row["lmi"], "default"
        how = ("is assumed (newest known release; no LMI image or tensorrt-llm found here; "
               "choose another with --lmi-version)")
    if row is None:
        row = release_for_lmi(version)
    layout = layout_for_lmi(version) or "triton"
    ships = row["trtllm"] if row else None
    # the installed TensorRT-LLM must be the one the LMI image ships
    if trt is not None and ships is not None and source != "tensorrt-llm":
        if parse_version(ships).public != trt.public:
            notes.append(f"LMI {version} ships TensorRT-LLM {ships} but tensorrt-llm {trtllm_version} is installed "
                         f"here: engines built here will not load in LMI {version}")
    if row is None and source in ("override", "image"):
        notes.append(f"LMI {version} is not in the release table; layout derived from the version "
                     f"(flat from {load_release_table()['flat_from_lmi']})")
    if layout_override is not None and layout_override != layout:
        notes.append(f"layout overridden to {layout_override!r}; LMI {version} loads {layout!r}: "
                     "the model will not load unless you know better")
        layout = layout_override
        how += "; layout overridden by you"
    return LmiTarget(version, layout, ships, source, _explain(version, layout, ships, how), tuple(notes))
