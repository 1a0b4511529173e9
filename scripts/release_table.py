#!/usr/bin/env python3
"""README's "LMI releases" table, generated from ``core/data/lmi_releases.json`` (the one source).

    python scripts/release_table.py            # print the table
    python scripts/release_table.py --write    # replace the block between the markers in README.md

``tests/test_release_table.py`` fails when README's block differs from what this prints.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "core" / "data" / "lmi_releases.json"
README = ROOT / "README.md"
START, END = "<!-- release-table:start (scripts/release_table.py) -->", "<!-- release-table:end -->"


def _release(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v.split("rc")[0])[:3])


def _builders(trtllm: str) -> str:
    return "legacy `build.py`" if _release(trtllm) < (0, 8) else "`convert_checkpoint.py` + `trtllm-build`"


def _aot(r: dict) -> str:
    if not r["aot"]:
        return "none (its `trt_llm_partition.py` crashes)"
    flags = "TP + PP flags" if r["partition_pp_flag"] else "TP flag (no PP)"
    if r["aot_seq_key"] == "max_seq_len":
        lengths = "`max_input_len`, `max_seq_len`"
    elif r.get("aot_output_is_seq_len"):
        lengths = "`max_input_len`, `max_output_len` = input + output"
    else:
        lengths = "`max_input_len`, `max_output_len`"
    return f"{flags}; {lengths}"


def _styles(r: dict) -> str:
    parts = []
    if r["pp_keys"]:
        parts.append("PP: " + " + ".join(f"`{k}`" for k in r["pp_keys"]))
    else:
        parts.append("PP > 1 refused (one node starts TP ranks)")
    if r["env_mpi_mode"]:
        parts.append("env adds `OPTION_MPI_MODE=true`; properties `engine=MPI`")
    parts.append("`OPTION_ENGINE` read" if r["option_engine_env"] else "`OPTION_ENGINE` not read")
    if r.get("tutorial_tmp_engine_path"):
        parts.append("`gpt_model_path /tmp` only warned")
    return "; ".join(parts)


def render(table: dict | None = None) -> str:
    t = table or json.loads(DATA.read_text("utf-8"))
    lines = ["| LMI | TensorRT-LLM image | TensorRT-LLM | layout | builder commands | AOT (`trt_llm_partition.py`) "
             "| config styles (env, serving.properties, extracted) |",
             "|---|---|---|---|---|---|---|"]
    for r in t["releases"]:
        if not r["published"]:
            image = "**none published** (self-built only: name the layout)"
        elif r.get("image"):
            image = "SageMaker DLC + Docker Hub"
        elif r.get("sagemaker_dlc") is False:
            image = "Docker Hub only (no SageMaker DLC)"
        else:
            image = "Docker Hub (SageMaker URI not known here)"
        lines.append(f"| {r['lmi']} | {image} | {r['trtllm']} | {r['layout']} | {_builders(r['trtllm'])} | "
                     f"{_aot(r)} | {_styles(r)} |")
    eb = t["engine_backend"]
    lines.append("")
    lines.append(f"0.{_release(t['last_published_trtllm_image'])[1]} is the last LMI release with a TensorRT-LLM "
                 f"image; a TensorRT-LLM from {eb['removed_in']} on has no TensorRT engine backend (PyTorch only) "
                 f"and cannot build engines (the last that can: {eb['last_with']}). Sources of every cell: "
                 "`core/data/lmi_releases.json`.")
    return "\n".join(lines)


def replace_block(text: str, table: str) -> str:
    i, j = text.index(START), text.index(END)
    return text[: i + len(START)] + "\n" + table + "\n" + text[j:]


def main(argv: list[str]) -> int:
    table = render()
    if "--write" in argv:
        README.write_text(replace_block(README.read_text("utf-8"), table), "utf-8")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
