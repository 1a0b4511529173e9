"""``lmi-wizard flags BUILDER_SCRIPT [--json]``: the flags a builder script accepts, found without running it."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "flags"
HELP = "list a builder script's flags (build.py, convert_checkpoint.py, tensorrt_llm/commands/build.py) without running it"
ORDER = 40


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", metavar="BUILDER_SCRIPT",
                   help="build.py / convert_checkpoint.py of an example folder, or tensorrt_llm/commands/build.py "
                        "(trtllm-build) of the checkout")
    p.add_argument("--json", action="store_true", help="print one JSON list of {name, action, type, default, choices, help}")


def _short(v, width: int = 40) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= width else s[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.build import discover_flags

    if not args.script.strip():
        raise WizardError("no builder script given", "give the path of build.py / convert_checkpoint.py / "
                          "tensorrt_llm/commands/build.py in the checkout")
    found = discover_flags(args.script)
    if args.json:
        json.dump([f.to_json() for f in found.flags], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(f"{found.path}  ({found.kind}, {len(found.flags)} flags)")
        for f in found.flags:
            default = f.default_source if f.default_source is not None else f.default
            choices = f.choices if f.choices is not None else (f"<{f.choices_source}>" if f.choices_source else "")
            alias = f" ({', '.join(f.aliases)})" if f.aliases else ""
            kind = [f.action] + ([f.type] if f.type and f.action == "store" else [])
            kind += [f"nargs={f.nargs}"] if f.nargs is not None else []
            kind += ["required"] if f.required else []
            print(f"  {f.name}{alias}  [{', '.join(kind)}]"
                  f"  default={_short(repr(default) if default is None else default, 30)}"
                  + (f"  choices={_short(','.join(map(str, choices)) if isinstance(choices, list) else choices, 60)}" if choices else "")
                  + (f"  — {_short(f.help, 70)}" if f.help else ""))
    for note in found.notes:
        print(f"lmi-wizard: note: {note}", file=sys.stderr)
    return 0
