"""The LMI target: which LMI (DJL Serving) release the model is for, and so which layout it loads.

* LMI 0.25–0.32 (TensorRT-LLM 0.5.0 … 0.12.0) loads the **Triton layout** ("triton"): a sub-folder of
  the model root holding ``config.pbtxt``, ``tokenizer_config.json`` and the engines in ``1/``.
* LMI 0.33 (TensorRT-LLM 0.21.0rc1) loads a **flat engine folder** ("flat"): a root ``config.json`` with a
  top-level ``build_config`` key, tokenizer files beside it.
* 0.33 is the **last** LMI release that published a TensorRT-LLM image. 0.34–0.36 shipped vLLM images only;
  their source still holds a TensorRT-LLM Dockerfile (0.34: Triton layout, 0.12.0; 0.35/0.36: flat, 1.0.0,
  no AOT). They are a target only when the user names the layout (a self-built image).

Every fact lives in ``data/lmi_releases.json`` with the djl-serving file and tag it was read from. Sources of
the target, strongest first: the user's override; the DJL Serving version of the image this runs in
(``/opt/djl/bin/telemetry`` holds "<djl_version> tensorrtllm"; the .deb installs
``/usr/local/djl-serving-<version>/``); the installed tensorrt-llm version; else the newest published release.
Also here: whether an installed TensorRT-LLM still has the engine backend (removed upstream in 1.3.0rc21).
Stdlib only.
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
    """Every release row, 0.25 … 0.36, published TensorRT-LLM image or not (``published``)."""
    return [dict(r) for r in load_release_table()["releases"]]


def published_releases() -> list[dict[str, Any]]:
    """The releases that published a TensorRT-LLM image (0.25 … 0.33)."""
    return [r for r in releases() if r.get("published")]


def last_published() -> str:
    return load_release_table()["last_published_trtllm_image"]


def layout_description(layout: str) -> str:
    return load_release_table()["layouts"][layout]


def _unsnapshot(text: str) -> str:
    """"0.33.0~SNAPSHOT" / "0.33.0-SNAPSHOT" → "0.33.0" (DJL Serving's nightly spelling)."""
    return re.sub(r"[~-]SNAPSHOT$", "", text.strip(), flags=re.I)


def parse_lmi_version(text: str) -> Version:
    """"0.33.0", "0.33", "0.33.0~SNAPSHOT", "0.33.0-SNAPSHOT" → Version; WizardError for text that is not one."""
    return parse_version(_unsnapshot(text))


def _minor(v: Version) -> tuple[int, int]:
    r = v.release + (0,)
    return r[0], r[1]


def release_for_lmi(lmi_version: str) -> dict[str, Any] | None:
    """The table row of this release (matched by major.minor: 0.33.1 → the 0.33.0 row), or None."""
    v = _minor(parse_lmi_version(lmi_version))
    for r in releases():
        if _minor(parse_lmi_version(r["lmi"])) == v:
            return r
    return None


def release_facts(lmi_version: str | None) -> dict[str, Any] | None:
    """The row of this release; for a release newer than the table, the newest row's facts (what the newest
    source reads); None before the first TensorRT-LLM release or when no version is given."""
    if not lmi_version:
        return None
    row = release_for_lmi(lmi_version)
    if row is not None:
        return row
    rows = releases()
    v = _minor(parse_lmi_version(lmi_version))
    if v > _minor(parse_lmi_version(rows[-1]["lmi"])):
        return dict(rows[-1], lmi=lmi_version, published=False, beyond_table=True)
    return None


def layout_for_lmi(lmi_version: str) -> str | None:
    """"0.30.0" → "triton"; "0.33.0" → "flat"; "0.34.0" → "triton" (its source); newer than the table → the
    newest row's layout; before 0.25 (no TensorRT-LLM in LMI) → None."""
    t = load_release_table()
    v = parse_lmi_version(lmi_version)
    if v.key() < parse_lmi_version(t["first_lmi_with_trtllm"]).key():
        return None
    row = release_facts(lmi_version)
    return row["layout"] if row else None


def trtllm_image_published(lmi_version: str) -> bool:
    row = release_for_lmi(lmi_version)
    return bool(row and row.get("published"))


def layout_for_trtllm(trtllm_version: str) -> str:
    """TensorRT-LLM < 0.21 → "triton" (the LMI images up to 0.32); 0.21.0rc1 and later → "flat"."""
    v = parse_version(trtllm_version)
    flat_from = parse_version(load_release_table()["flat_from_trtllm"])
    return "flat" if v.minor() >= flat_from.minor() else "triton"


def releases_for_trtllm(trtllm_version: str) -> tuple[list[dict[str, Any]], bool]:
    """Published LMI releases shipping this TensorRT-LLM: (rows, exact). Rows with the same release numbers but
    a different pre/post/dev/local build are returned with ``exact=False``."""
    v = parse_version(trtllm_version)
    rows = published_releases()
    exact = [r for r in rows if parse_version(r["trtllm"]).public == v.public]
    if exact:
        return exact, True
    near = [r for r in rows if parse_version(r["trtllm"]).release == v.release]
    return near, False


def not_published_text(lmi_version: str) -> str:
    """"LMI 0.35.0 published no TensorRT-LLM image (the last is 0.33.0) …" with what its source holds."""
    row = release_facts(lmi_version)
    s = f"LMI {lmi_version} published no TensorRT-LLM image (the last LMI release with one is {last_published()})"
    if row and not row.get("beyond_table"):
        s += (f"; its source still builds one (TensorRT-LLM {row['trtllm']}, {row['layout']} layout"
              + (", no AOT: its trt_llm_partition.py crashes" if not row.get("aot") else "") + ")")
    return s


def require_published(lmi_version: str, layout: str | None) -> None:
    """Refuse an LMI release without a TensorRT-LLM image as a target, unless the user named the layout (a
    self-built image). WizardError (exit 2) otherwise."""
    if layout or trtllm_image_published(lmi_version):
        return
    if layout_for_lmi(lmi_version) is None:
        return  # before 0.25: the caller says "no TensorRT-LLM support"
    raise WizardError(not_published_text(lmi_version),
                      f"target LMI {last_published()} or earlier, or name the layout of your self-built "
                      f"image with --layout {layout_for_lmi(lmi_version)}")


# --- the TensorRT engine backend of an installed TensorRT-LLM -----------------------------------


def engine_backend_removed(trtllm_version: str | None) -> bool:
    """True for a TensorRT-LLM released after upstream removed the TensorRT engine backend (1.3.0rc21 on):
    it has no ``trtllm-build`` / ``convert_checkpoint.py`` and cannot build engines."""
    v = try_parse_version(trtllm_version) if trtllm_version else None
    if v is None:
        return False
    return v.key() >= parse_version(load_release_table()["engine_backend"]["removed_in"]).key()


def engine_backend_text(trtllm_version: str) -> str:
    eb = load_release_table()["engine_backend"]
    ships = ", ".join(sorted({r["trtllm"] for r in published_releases()}, key=lambda x: parse_version(x).key()))
    return (f"tensorrt-llm {trtllm_version} has no TensorRT engine backend (removed upstream in {eb['removed_in']}; "
            f"PyTorch only): it cannot build engines. Versions that still build engines: up to {eb['last_with']}; "
            f"the LMI images ship {ships}")


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
                     layout_override: str | None = None, trtllm_installed: bool = True,
                     telemetry_file: str | os.PathLike | None = TELEMETRY_FILE,
                     install_root: str | os.PathLike | None = DJL_INSTALL_ROOT) -> LmiTarget:
    """Which LMI release/layout to produce for. Raises WizardError only for a bad override. ``trtllm_installed``
    False: ``trtllm_version`` is the version being built for (an answer), not the one installed here."""
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
        # 0.34+ published no TensorRT-LLM image: a target only with the layout named (a self-built image)
        require_published(lmi_override, layout_override)
        version, source, how = lmi_override, "override", "was chosen by you"
        if not trtllm_image_published(lmi_override):
            how += " (a self-built image: " + not_published_text(lmi_override) + ")"
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
            how = f"ships {'the installed ' if trtllm_installed else ''}tensorrt-llm {trtllm_version}{also}"
            if not exact:
                notes.append(f"LMI {row['lmi']} ships TensorRT-LLM {row['trtllm']}, not {trtllm_version}: "
                             "an engine loads only with the TensorRT-LLM it was built with")
        else:
            layout = layout_for_trtllm(trtllm_version)  # type: ignore[arg-type]
            notes.append(f"no known LMI release ships TensorRT-LLM {trtllm_version}: engines built with it will not "
                         "load in the LMI images this wizard knows ("
                         + ", ".join(f"{r['lmi']}→{r['trtllm']}" for r in published_releases()) + ")")
            how = f"is not known for tensorrt-llm {trtllm_version}; layout chosen from that version"
            if layout_override is not None and layout_override != layout:
                notes.append(f"layout overridden to {layout_override!r} (tensorrt-llm {trtllm_version} suggests {layout!r})")
                layout = layout_override
            return LmiTarget(None, layout, None, "tensorrt-llm", _explain(None, layout, None, how), tuple(notes))
    if version is None:
        row = published_releases()[-1]
        version, source = row["lmi"], "default"
        how = ("is assumed (newest release with a TensorRT-LLM image; no LMI image or tensorrt-llm found here; "
               "choose another with --lmi-version)")
    if row is None:
        row = release_for_lmi(version)
    if row is not None and source == "image" and not row.get("published"):
        notes.append(not_published_text(version) + ": this image is self-built")
    layout = layout_for_lmi(version) or "triton"
    ships = row["trtllm"] if row else None
    # the installed TensorRT-LLM must be the one the LMI image ships
    if trt is not None and ships is not None and source != "tensorrt-llm":
        if parse_version(ships).public != trt.public:
            notes.append(f"LMI {version} ships TensorRT-LLM {ships} but tensorrt-llm {trtllm_version} is installed "
                         f"here: engines built here will not load in LMI {version}")
    if row is None and source in ("override", "image"):
        notes.append(f"LMI {version} is not in the release table (0.25–{releases()[-1]['lmi']}); the newest "
                     "release's facts are used")
    if layout_override is not None and layout_override != layout:
        notes.append(f"layout overridden to {layout_override!r}; LMI {version} loads {layout!r}: "
                     "the model will not load unless you know better")
        layout = layout_override
        how += "; layout overridden by you"
    return LmiTarget(version, layout, ships, source, _explain(version, layout, ships, how), tuple(notes))
