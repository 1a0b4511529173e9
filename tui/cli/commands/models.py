"""``lmi-wizard models --checkout DIR [--source HF_ID|PATH] [--model NAME]``: model folders and the model.

Lists the checkout's example folders with their builder (``convert_checkpoint`` or legacy ``build.py``).
With ``--source`` (a Hugging Face repo id — only its config.json is fetched — or a local folder) it also
reads the model's config.json, picks the example folder, estimates the size, and says whether LMI would
compile this architecture itself (JIT).
"""

from __future__ import annotations

import argparse
import json
import os

NAME = "models"
HELP = "list the checkout's model folders and builders; read a model's config.json (HF id or folder)"
ORDER = 35


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkout", metavar="DIR", help="checkout made by `lmi-wizard checkout`")
    p.add_argument("--source", metavar="HF_ID|PATH", help="the model: Hugging Face repo id or local folder")
    p.add_argument("--model", metavar="NAME", help="example folder to use (default: picked from config.json)")
    p.add_argument("--revision", metavar="REV", help="HF branch, tag or commit (default main)")
    p.add_argument("--endpoint", metavar="URL", help="Hugging Face endpoint (default $HF_ENDPOINT or huggingface.co)")
    p.add_argument("--all", action="store_true", help="also list folders without a builder")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core import models as m
    from lmi_wizard.core.base import fmt

    if args.checkout is None and args.source is None:
        raise WizardError("nothing to show", "give --checkout DIR and/or --source HF_ID|PATH")
    for opt, v in (("--checkout", args.checkout), ("--source", args.source), ("--model", args.model)):
        if v is not None and not v.strip():
            raise WizardError(f"{opt} is empty", "give a value or leave the option out")
    out: dict = {}
    examples = []
    if args.checkout:
        examples = m.list_examples(args.checkout)
        out["examples"] = [e.to_dict() for e in examples if args.all or e.buildable]
    chosen = None
    if args.model:
        if not args.checkout:
            raise WizardError("--model needs --checkout", "give the checkout folder too")
        chosen = m.find_example(args.checkout, args.model)
    cfg = None
    if args.source:
        token = os.environ.get("HF_TOKEN") or None
        cfg = m.load_model_config(args.source, endpoint=args.endpoint or os.environ.get("HF_ENDPOINT") or None,
                                  token=token, revision=args.revision)
        out["model"] = cfg.summary()
        out["jit"] = m.jit_support(cfg).to_dict()
        if args.checkout and chosen is None:
            chosen = m.pick_example(args.checkout, cfg)
    if chosen is not None:
        out["chosen"] = chosen.to_dict()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if args.checkout:
        shown = [e for e in examples if args.all or e.buildable]
        print(f"Model folders in {args.checkout} ({len(shown)}):")
        for e in shown:
            b = e.builder or "not buildable"
            if e.also:
                b += " (+ " + ", ".join(e.also) + ")"
            print(f"  {e.name:<20} {b:<28} examples/{e.rel}")
    if cfg is not None:
        s = cfg.summary()
        n = s["parameters_estimate"]
        print(f"Model {cfg.source} ({cfg.kind}): {', '.join(cfg.architectures) or cfg.model_type}")
        print(f"  hidden {s['hidden_size']}, layers {s['num_hidden_layers']}, heads {s['num_attention_heads']}"
              f" (kv {s['num_key_value_heads']}), vocab {s['vocab_size']}, dtype {s['torch_dtype'] or '?'}")
        if n:
            wb = s["weight_bytes_estimate"]
            print(f"  ~{fmt.human_params(n)} parameters: ~{fmt.human_bytes(wb['float16'])} in fp16/bf16, "
                  f"~{fmt.human_bytes(wb['int8'])} in int8/fp8, ~{fmt.human_bytes(wb['int4'])} in int4")
        print(f"  JIT: {out['jit']['reason']}")
    if chosen is not None:
        print(f"Example folder: {chosen.name} (examples/{chosen.rel}, builder {chosen.builder})")
    return 0
