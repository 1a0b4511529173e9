"""``lmi-wizard doctor [--json]``: what this machine can do — GPUs, TensorRT-LLM, LMI target.

Runs with the standard library (+ pynvml) only, so it also works on a bare GPU machine:
``python3 -m lmi_wizard.tui.cli.commands.doctor --json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Sequence

NAME = "doctor"
HELP = "show GPUs, installed TensorRT-LLM/TensorRT, the matching template tag and the LMI target"
ORDER = 10


def register(p: argparse.ArgumentParser) -> None:
    from lmi_wizard.core.facts.target import DJL_INSTALL_ROOT, TELEMETRY_FILE
    from lmi_wizard.core.facts.versions import BACKEND_URL, DEFAULT_TIMEOUT, TRTLLM_URL

    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--offline", action="store_true", help="do not ask the git remotes for tags")
    p.add_argument("--checkout", metavar="DIR", help="read tags from this local checkout instead of the remote")
    p.add_argument("--backend-url", default=BACKEND_URL, metavar="URL",
                   help="tensorrtllm_backend git URL (templates up to 0.19.x)")
    p.add_argument("--trtllm-url", default=TRTLLM_URL, metavar="URL",
                   help="TensorRT-LLM git URL (templates from 0.20)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"limit for the tag lookup (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--lmi-version", metavar="X.Y.Z", help="the LMI release you deploy to (default: detected)")
    p.add_argument("--layout", choices=("triton", "flat"), help="override the artifact layout")
    # where the LMI image keeps its DJL Serving version (probe paths; for tests and unusual images)
    p.add_argument("--djl-telemetry", default=TELEMETRY_FILE, metavar="FILE", help=argparse.SUPPRESS)
    p.add_argument("--djl-root", default=DJL_INSTALL_ROOT, metavar="DIR", help=argparse.SUPPRESS)


def _gib(n: int) -> str:
    from lmi_wizard.core.base.fmt import gib

    return gib(n)


def render_human(report) -> str:
    lines: list[str] = []
    g = report.gpu
    if g.available:
        lines.append(f"GPU           {g.summary()}")
        for info in g.gpus:
            cc = ".".join(str(x) for x in info.compute_capability)
            mig = " MIG on" if info.mig_enabled else ""
            lines.append(f"  [{info.index}] {info.name}  {_gib(info.memory_total_bytes)}  compute {cc} ({info.arch}){mig}")
        fam = ", ".join(f"ml.{f}.*" for f in report.deploy_instance_families) or "none known"
        lines.append(f"Deploy to     {fam}  (same GPU architecture as the build machine)")
    else:
        lines.append(f"GPU           {g.reason}")
    t = report.tensorrt_llm
    if t.installed:
        tag = report.tag
        extra = ""
        if tag is not None:
            state = "verified" if tag.tag_verified else "not verified"
            conf = ", confirm it" if tag.needs_confirmation else ""
            extra = f" → templates {tag.template_repo.github}@{tag.tag or '?'} ({state}{conf}) {tag.template_repo.subdir}/"
        lines.append(f"TensorRT-LLM  {t.version}{extra}")
    else:
        lines.append("TensorRT-LLM  not installed")
    r = report.tensorrt
    lines.append(f"TensorRT      {r.version + ' (' + r.distribution + ')' if r.installed else 'not installed'}")
    lmi = report.lmi
    ver = f"LMI {lmi.version}" if lmi.version else "LMI (unknown release)"
    lines.append(f"LMI target    {ver} → {lmi.layout} layout  [{lmi.source}]")
    lines.extend(textwrap.wrap(lmi.explanation, width=100, initial_indent=" " * 14, subsequent_indent=" " * 14, break_on_hyphens=False))
    cannot = report.cannot_do()
    if cannot:
        lines.append("Cannot do here:")
        for c in cannot:
            lines.extend(textwrap.wrap(c, width=100, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False))
    notes = report.all_notes()
    if notes:
        lines.append("Notes:")
        for n in notes:
            lines.extend(textwrap.wrap(n, width=100, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import os

    from lmi_wizard.core.facts.environment import gather
    from lmi_wizard.core.base.errors import WizardError

    if not (args.timeout > 0 and args.timeout < float("inf")):
        raise WizardError(f"--timeout must be a positive number of seconds, not {args.timeout:g}", "e.g. --timeout 4")
    if args.lmi_version is not None and not args.lmi_version.strip():
        raise WizardError("--lmi-version is empty", "give the LMI release you deploy to, e.g. --lmi-version 0.33.0, "
                          "or leave it out to detect it")
    if args.checkout is not None and not os.path.isdir(args.checkout):
        what = "is a file, not a checkout folder" if os.path.exists(args.checkout) else "not found"
        raise WizardError(f"checkout {what}: {args.checkout}" if what == "not found" else f"{args.checkout} {what}",
                          "give the folder of a tensorrtllm_backend or TensorRT-LLM clone, or drop --checkout")

    report = gather(lookup_tags=True, offline=bool(getattr(args, "offline", False)),
                    checkout=getattr(args, "checkout", None),
                    backend_url=args.backend_url, trtllm_url=args.trtllm_url, timeout=args.timeout,
                    lmi_override=getattr(args, "lmi_version", None), layout_override=getattr(args, "layout", None),
                    telemetry_file=args.djl_telemetry, install_root=args.djl_root)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_human(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (no other verb modules imported): ``python -m lmi_wizard.tui.cli.commands.doctor``."""
    from lmi_wizard.core.base.errors import WizardError

    p = argparse.ArgumentParser(prog="lmi-wizard doctor", description=HELP)
    register(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except WizardError as exc:
        print(f"lmi-wizard: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
