"""Rebuild ``placeholders`` in core/data/fill_template_semantics.json: the ``${…}`` names of every upstream
``config.pbtxt`` template at every tensorrtllm_backend release tag v0.5.0 … v0.19.0 (from v0.20.0 the templates
live in NVIDIA/TensorRT-LLM), so key-history messages name the release where a key came or went.

Usage: python3 scripts/build_placeholder_table.py GIT_DIR_OF_TENSORRTLLM_BACKEND

Models: the five ``all_models/inflight_batcher_llm`` ones under their own names, and the templates that pages
copy over them under ``<dir>/<model>`` (``multimodal/ensemble`` is not the plain ensemble: it gets
``logits_datatype`` only in v0.19.0; ``multimodal/multimodal_encoders``, ``whisper/whisper_bls``). Tags stored
in ../shared/fixtures/pbtxt (``trtllm-1.1.0rc6-…`` included) are scanned from there; tests/test_pbtxt.py checks
that those entries still match the fixture files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "pbtxt"
DATA = ROOT / "core" / "data" / "fill_template_semantics.json"
OTHER = {"multimodal": ("ensemble", "multimodal_encoders"), "whisper": ("whisper_bls",)}


def git(gd: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", gd, *args], capture_output=True, text=True)


def main(gd: str) -> None:
    from lmi_wizard.core.triton import parse_tag, scan_template_tree

    tags = sorted((t for t in git(gd, "tag").stdout.split() if re.match(r"^v\d+\.\d+\.\d+$", t)), key=parse_tag)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for tag in tags:
            sources = {m: f"all_models/inflight_batcher_llm/{m}/config.pbtxt"
                       for m in ("ensemble", "preprocessing", "postprocessing", "tensorrt_llm", "tensorrt_llm_bls")}
            for d, models in OTHER.items():
                sources.update({f"{d}__{m}": f"all_models/{d}/{m}/config.pbtxt" for m in models})
            for model, src in sources.items():
                r = git(gd, "show", f"{tag}:{src}")
                if r.returncode == 0:
                    (root / tag / model).mkdir(parents=True, exist_ok=True)
                    (root / tag / model / "config.pbtxt").write_text(r.stdout, "utf-8")
        mirror = scan_template_tree(root)
    fixtures = scan_template_tree(FIXTURES)
    table: dict[str, dict] = {}
    for src in (mirror, fixtures):  # fixture files win where both have a tag
        for model, by_tag in src.items():
            table.setdefault(model.replace("__", "/"), {}).update(by_tag)
    for model in table:
        table[model] = dict(sorted(table[model].items(), key=lambda kv: parse_tag(kv[0])))
    data = json.loads(DATA.read_text("utf-8"))
    data["placeholders"] = dict(sorted(table.items()))
    data["_comment"] = ("fill_template.py semantics per tag range (fixtures/INDEX.md) and the ${placeholders} of the "
                        "real upstream templates per model and tag: every tensorrtllm_backend tag v0.5.0 … v0.19.0 "
                        "(inflight_batcher_llm models; multimodal/… and whisper/… the templates pages copy over them) "
                        "plus the stored trtllm-1.1.0rc6 ones; built by scripts/build_placeholder_table.py with "
                        "core.triton.scan_template_tree; tests/test_pbtxt.py checks the fixture tags still match "
                        "fixtures/pbtxt.")
    DATA.write_text(json.dumps(data, indent=1) + "\n", "utf-8")
    print(f"{len(table)} models; tags per model: " + ", ".join(f"{m} {len(v)}" for m, v in table.items()))


if __name__ == "__main__":
    main(sys.argv[1])
