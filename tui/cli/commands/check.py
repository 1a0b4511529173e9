"""``lmi-wizard check PATH|s3://bucket/prefix/ [--layout triton|flat] [--endpoint-url URL] [--lmi-version X] [--json]``

Preflight of a model repository that anyone produced, before an endpoint is spent on it: engine folder,
engine version vs the runtime, GPU architecture, config.pbtxt, tokenizer files and custom code, the layout
rule of the LMI release, serving.properties vs the engine. See ``core/preflight/``.

Exit status: 0 nothing blocks, 1 findings that block (errors), 2 could not check.
``--json``: ``{"target", "layout", "findings": [{"severity", "code", "message", "fix", "path", "group"}], "ok", …}``
(also for exit 2: ``{"target", "ok": false, "error", "fix"}``).
"""

from __future__ import annotations

import argparse
import json
import sys

from lmi_wizard.tui.cli.options import add_layout, add_s3_endpoint

NAME = "check"
HELP = "preflight a model repository (local folder or s3://…) that anyone produced: will LMI load it?"
ORDER = 65


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="PATH|s3://bucket/prefix/",
                   help="the model_id folder (Triton: the folder holding tensorrt_llm/; or tensorrt_llm/ itself), "
                        "the flat engine folder, or an S3 prefix")
    add_layout(p, "inferred from the files")
    add_s3_endpoint(p)
    p.add_argument("--lmi-version", metavar="X.Y.Z",
                   help="the LMI release you deploy to (default: this image's, else from the installed tensorrt-llm)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args) -> int:
    from lmi_wizard.core.preflight import check_target, render_human
    from lmi_wizard.core.base.errors import WizardError

    try:
        report = check_target(args.target, layout=args.layout, endpoint_url=args.endpoint_url,
                              lmi_version=args.lmi_version)
    except WizardError as exc:  # could not check: always exit 2 (also for network trouble)
        if args.json:
            print(json.dumps({"target": args.target, "layout": args.layout, "findings": [], "ok": False,
                              "error": exc.problem, "fix": exc.fix}, indent=2))
        print(f"lmi-wizard: error: could not check: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_human(report))
    return report.exit_code
