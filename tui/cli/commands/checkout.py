"""``lmi-wizard checkout [--tag vX.Y.Z] --dest DIR``: clone the sources at the tag (or reuse a checkout at it).

Without ``--tag``, the tag matching the installed tensorrt-llm (as ``doctor`` finds it) is used, when it is exact.

Up to 0.19: tensorrtllm_backend with TensorRT-LLM in its ``tensorrt_llm`` folder; from 0.20: TensorRT-LLM only.
``--dry-run`` says what would be done. ``--json`` prints one JSON document (the plan, or the checkout).
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "checkout"
HELP = "clone tensorrtllm_backend / TensorRT-LLM at the tag (shallow), or reuse a checkout already at it"
ORDER = 30


#: the Checkout/Environment fields this verb takes as options (their flags, defaults, help and parsing)
FIELD_KEYS = ("env.tag", "checkout.dir", "checkout.backend_url", "checkout.trtllm_url")


def register(p: argparse.ArgumentParser) -> None:
    from ..fields import add_field_options

    add_field_options(p, FIELD_KEYS, checked=("checkout.backend_url", "checkout.trtllm_url"),
                      notes={"env.tag": "Default: the tag matching the installed tensorrt-llm, as "
                                        "`lmi-wizard doctor` finds it.",
                             "checkout.dir": "Created; reused when already at the tag.",
                             "checkout.backend_url": "Used up to 0.19."},
                      metavars={"env.tag": "vX.Y.Z", "checkout.backend_url": "URL", "checkout.trtllm_url": "URL"})
    p.add_argument("--depth", type=int, default=1, metavar="N", help="clone depth (0: full history; default 1)")
    p.add_argument("--log", metavar="FILE", help="append git's output to FILE")
    p.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def detected_tag(backend_url: str, trtllm_url: str) -> str:
    """The tag for the installed tensorrt-llm (what doctor shows); a WizardError when it needs a person."""
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.facts.versions import detect_tensorrt_llm, find_tag, try_parse_version

    installed = detect_tensorrt_llm()
    if not installed.installed or try_parse_version(installed.version) is None:
        raise WizardError("no --tag given and tensorrt-llm is not installed here, so there is no version to match",
                          "give the tag of the tensorrt-llm in your LMI image, e.g. --tag v0.12.0")
    res = find_tag(installed.version, backend_url=backend_url, trtllm_url=trtllm_url)
    if res.tag is None or res.needs_confirmation:
        why = "; ".join(res.notes) or "the tag needs confirmation"
        hint = f"--tag {res.tag}" if res.tag else "--tag vX.Y.Z"
        raise WizardError(f"tensorrt-llm {installed.version} has no exact release tag ({why})",
                          f"confirm the tag yourself: {hint}")
    for note in res.notes:
        print(f"lmi-wizard: note: {note}", file=sys.stderr)
    return res.tag


def run(args: argparse.Namespace) -> int:
    from lmi_wizard.core.checkout import checkout, plan_checkout

    if args.tag is None:
        args.tag = detected_tag(args.backend_url, args.trtllm_url)

    depth = None if args.depth == 0 else args.depth  # negative: plan_checkout says why not
    kw = dict(backend_url=args.backend_url, trtllm_url=args.trtllm_url, depth=depth)
    if args.dry_run:
        plan = plan_checkout(args.tag, args.dir, **kw)
        if args.json:
            print(json.dumps(plan.to_dict(), indent=2))
            return 0 if plan.ok else plan.error.exit_code
        if plan.error is not None:
            raise plan.error
        for note in plan.notes:
            print(f"lmi-wizard: note: {note}", file=sys.stderr)
        print(f"Checkout {plan.tag} into {plan.dest} ({plan.layout}):")
        for s in plan.steps:
            print(f"  - {s.describe()}")
            if s.argv:
                print("      " + " ".join(s.argv))
        r = plan.result
        print(f"Templates: {r.template_dir}\nExamples:  {r.examples_dir}")
        return 0

    state = {"last": None}

    def progress(ev) -> None:
        if ev.extra.get("phase") == "note":
            print(f"lmi-wizard: note: {ev.message}", file=sys.stderr, flush=True)
            return
        if args.json:
            return
        pct = ev.extra.get("percent")
        key = (ev.extra.get("repo"), ev.extra.get("phase"), None if pct is None else pct // 10)
        if key == state["last"]:
            return
        state["last"] = key
        print(f"  {ev.message}", file=sys.stderr, flush=True)

    co = checkout(args.tag, args.dir, log_path=args.log, progress=progress, **kw)
    if args.json:
        print(json.dumps(co.to_dict(), indent=2))
    else:
        how = "reused (already at the tag, no local changes)" if co.reused else "ready"
        print(f"Checkout {co.tag} {how}: {co.root}")
        if co.backend_root is not None:
            print(f"  tensorrtllm_backend  {co.backend_root}")
        print(f"  TensorRT-LLM         {co.trtllm_root}")
        print(f"  templates            {co.template_dir}")
        print(f"  examples             {co.examples_dir}")
    return 0
