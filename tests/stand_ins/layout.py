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
