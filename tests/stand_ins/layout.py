"""Lay out (partial) TensorRT-LLM checkouts in a temp dir from the real builder sources in the fixtures.

Only copies: the files are the unmodified upstream sources of ../shared/fixtures/trtllm-src/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SRC = "trtllm-src"

# version label → [(fixture dir, repo-relative path)], and the example folder inside the checkout
LAYOUTS = {
    # ≈0.5: the legacy one-step builder
    "0.5": ([("0.5.0~027cd518", "examples/llama/build.py")], "examples/llama"),
    # 0.8.0: trtllm-build at the tag; its plugin.py and converter are not among the fixtures, so the
    # 0.11.dev llama converter (same --tp_size/--pp_size/--dtype flags) stands in as the converter
    "0.8": ([("0.8.0", "tensorrt_llm/commands/build.py"),
             ("0.11.0.dev2024060400", "examples/llama/convert_checkpoint.py")], "examples/llama"),
    "0.11": ([("0.11.0.dev2024060400", "tensorrt_llm/commands/build.py"),
              ("0.11.0.dev2024060400", "tensorrt_llm/plugin/plugin.py"),
              ("0.11.0.dev2024060400", "examples/llama/convert_checkpoint.py")], "examples/llama"),
    "main": ([("main-65f1d153", "tensorrt_llm/commands/build.py"),
              ("main-c20322ff", "tensorrt_llm/plugin/plugin.py"),
              ("main-fd96a08b", "examples/models/core/llama/convert_checkpoint.py")], "examples/models/core/llama"),
}


def make_checkout(fixtures_dir: Path, dest: Path, version: str) -> Path:
    """Copy the real sources for ``version`` into ``dest``; return the example folder."""
    files, example = LAYOUTS[version]
    for fx, rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fixtures_dir / SRC / fx / rel, target)
    return dest / example


HERE = Path(__file__).resolve().parent


def install_stand_in(name: str, dest: Path) -> Path:
    """Put the stand-in ``name`` (e.g. "fake_convert.py") at ``dest``, replacing the real builder there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / name, dest)
    return dest


def install_console_script(bin_dir: Path, command: str, stand_in: str, python: str) -> Path:
    """An executable ``bin_dir/command`` (like the trtllm-build console script) running the stand-in."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / command
    target.write_text(f"#!{python}\n" + (HERE / stand_in).read_text())
    target.chmod(0o755)
    return target


# ---- per LMI release: the real sources of the TensorRT-LLM its image shipped (fixtures INDEX.md) -------------
# LMI release → (TensorRT-LLM version, fixture folder, example folder prefix, {file: fixture folder it comes
# from when the release's own folder lacks it, with why}). Baichuan's builder is missing for some eras: the
# nearest era's is used, and the reason is kept next to it (the tests print it).
_B07 = ("lmi-0.26-trtllm-0.7.1", "examples/baichuan/build.py")
_B011 = ("lmi-0.29-trtllm-0.11.0", "examples/baichuan/convert_checkpoint.py")
_B012 = ("lmi-0.30-0.32-trtllm-0.12.0", "examples/baichuan/convert_checkpoint.py")
RELEASES = {
    "0.25": ("0.5.0", "lmi-0.25-trtllm-0.5.0", "examples",
             {"baichuan": (_B07, "no baichuan build.py is stored for 0.5.0: the 0.7.1 one (nearest era) stands in")}),
    "0.26": ("0.7.1", "lmi-0.26-trtllm-0.7.1", "examples", {}),
    "0.27": ("0.8.0", "lmi-0.27-trtllm-0.8.0", "examples",
             {"baichuan": (_B011, "no baichuan convert_checkpoint.py is stored for 0.8.0: the v0.10.0 one (nearest) "
                                  "stands in")}),
    "0.28": ("0.9.0", "lmi-0.28-trtllm-0.9.0", "examples",
             {"baichuan": (_B011, "no baichuan convert_checkpoint.py is stored for 0.9.0: the v0.10.0 one (nearest) "
                                  "stands in")}),
    "0.29": ("0.11.0", "lmi-0.29-trtllm-0.11.0", "examples", {}),
    "0.30": ("0.12.0", "lmi-0.30-0.32-trtllm-0.12.0", "examples", {}),
    "0.31": ("0.12.0", "lmi-0.30-0.32-trtllm-0.12.0", "examples", {}),
    "0.32": ("0.12.0", "lmi-0.30-0.32-trtllm-0.12.0", "examples", {}),
    "0.33": ("0.21.0rc1", None, "examples/models/core",
             {"baichuan": (_B012, "0.21.0rc1 is not stored: recent main's sources stand in for trtllm-build and "
                                  "llama; baichuan (examples/models/contrib) has no stored recent converter, the "
                                  "0.12.0 one stands in")}),
}


def release_files(fixtures_dir: Path, lmi: str) -> tuple[dict[str, str], dict[str, str]]:
    """({repo-relative path: text} of a TensorRT-LLM checkout shaped like LMI ``lmi``'s sources, {model: note}
    for every builder taken from another era). Models: llama and baichuan."""
    version, folder, prefix, borrowed = RELEASES[lmi]
    base = fixtures_dir / SRC
    files: dict[str, str] = {}
    if folder is None:  # 0.33: the recent-main texts, placed as that tree lays them out
        for fx, rel in LAYOUTS["main"][0]:
            files[rel] = (base / fx / rel).read_text()
    else:
        for p in sorted((base / folder).rglob("*.py")):
            files[p.relative_to(base / folder).as_posix()] = p.read_text()
    notes: dict[str, str] = {}
    for model, ((fx, rel), why) in borrowed.items():
        name = Path(rel).name
        if prefix != "examples":
            place = "contrib" if model == "baichuan" else "core"
            files[f"examples/models/{place}/{model}/{name}"] = (base / fx / rel).read_text()
        else:
            files[f"examples/{model}/{name}"] = (base / fx / rel).read_text()
        notes[model] = why
    files["tensorrt_llm/version.py"] = f'__version__ = "{version}"\n'
    return files, notes
