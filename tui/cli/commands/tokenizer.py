"""``lmi-wizard tokenizer SOURCE DEST_DIR``: put the tokenizer files beside the engines (tutorial step 5).

SOURCE is a Hugging Face repo id (``owner/name``) or a local folder. DEST_DIR is the folder LMI reads the
tokenizer from: ``triton_model_repo/tensorrt_llm/`` (triton layout) or the engine folder (flat layout).
The token comes from ``HF_TOKEN`` or the saved login (``hf auth login``) and is never printed.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "tokenizer"
HELP = "download/copy the tokenizer files (tutorial step 5) into the model folder, weights never"
ORDER = 50


def register(p: argparse.ArgumentParser) -> None:
    from ..fields import add_field_argument, add_field_options

    add_field_argument(p, "tokenizer.source", metavar="SOURCE")
    p.add_argument("dest", metavar="DEST_DIR",
                   help="triton layout: triton_model_repo/tensorrt_llm/; flat layout: the engine folder")
    p.add_argument("--layout", choices=("triton", "flat"), default="triton",
                   help="triton (LMI 0.25–0.32, default) or flat (LMI 0.33+)")
    p.add_argument("--endpoint", metavar="URL", help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)")
    p.add_argument("--revision", metavar="REV", help="branch, tag or commit (default: main)")
    add_field_options(p, ["tokenizer.extra_patterns"], checked=["tokenizer.extra_patterns"],
                      metavars={"tokenizer.extra_patterns": "GLOB"},
                      notes={"tokenizer.extra_patterns": "Repeatable; GLOB or GLOB,GLOB."})
    p.add_argument("--dry-run", action="store_true", help="show the plan (files and why) and write nothing")
    p.add_argument("--force", action="store_true", help="replace files in DEST_DIR that differ")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _size(n) -> str:
    from lmi_wizard.core.base.fmt import human_bytes

    return human_bytes(n)


def render_plan(plan) -> str:
    lines = [f"Tokenizer from {plan.source} ({plan.kind}"
             + (f", commit {plan.commit[:12]}" if plan.commit else "") + f") → {plan.dest_dir} [{plan.layout}]"]
    lines.append("Files:")
    for f in plan.files:
        name = f.path if f.dest == f.path else f"{f.path} → {f.dest}"
        lines.append(f"  {f.status:<9} {name:<40} {_size(f.size):>10}  {f.reason}")
    if plan.skipped:
        lines.append("Skipped:")
        for s in plan.skipped:
            lines.append(f"  {s.path:<50} {s.reason}")
    lines.append("Patterns: " + "; ".join(f"{p['pattern']} ({p['reason']})" for p in plan.patterns))
    if plan.trust_remote_code:
        lines.append(f"trust_remote_code: will be set — {plan.trust_reason}")
    else:
        lines.append("trust_remote_code: not needed")
    for p in plan.patches:
        lines.append(f"patch: {p}")
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from lmi_wizard.core.tokenizer import fetch_tokenizer, plan_tokenizer
    from lmi_wizard.core.tree import tree_text

    def progress(ev):
        if not args.json and ev.extra.get("file") and ev.total:
            print(f"  [{(ev.done or 0) + 1}/{ev.total}] {ev.extra['file']}", file=sys.stderr)

    plan = plan_tokenizer(args.source, args.dest, layout=args.layout, revision=args.revision,
                          endpoint=args.endpoint, extra_patterns=args.extra_patterns or ())
    if args.dry_run:
        if args.json:
            print(json.dumps({"dry_run": True, "plan": plan.to_dict()}, indent=2))
        else:
            print(render_plan(plan))
        return 0
    if not args.json:
        print(render_plan(plan))
    result = fetch_tokenizer(plan, force=args.force, progress=progress)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"Wrote {len(result.written)} files ({_size(result.bytes)}), {len(result.unchanged)} unchanged.")
        print(tree_text(result.dest_dir, root_label=result.dest_dir), end="")
    return 0
