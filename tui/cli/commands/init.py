"""``lmi-wizard init [PATH]``: write a commented template recipe (every setting, with its help)."""

from __future__ import annotations

import argparse
import os
import sys

NAME = "init"
HELP = "write a commented template recipe (or the wizard's saved answers as a recipe)"
ORDER = 76
DEFAULT = "lmi-wizard.toml"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", nargs="?", default=DEFAULT,
                        help=f"where to write it (default: {DEFAULT}; '-' prints it)")
    parser.add_argument("--force", action="store_true", help="overwrite PATH when it exists")
    parser.add_argument("--from-state", action="store_true",
                        help="fill in the answers saved by the interactive wizard (see the global --state)")


def run(args) -> int:
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.base.fsutil import atomic_write_text
    from lmi_wizard.core.wizard.recipe import load_state, loads_recipe, template_recipe

    answers = None
    if args.from_state:
        state = load_state(getattr(args, "state", None))
        if not state.answers.explicit():
            raise WizardError(f"no saved answers in {state.path}", "run the wizard first, or leave out --from-state")
        answers = state.answers
    text = template_recipe(answers)
    if answers is None:
        loads_recipe(text)  # the template must load as it is written
    if args.path == "-":
        sys.stdout.write(text)
        return 0
    if os.path.exists(args.path) and not args.force:
        raise WizardError(f"{args.path} already exists", "choose another PATH or pass --force to overwrite it")
    atomic_write_text(args.path, text)
    print(f"wrote {args.path}: edit [model] source (and what else you need), then "
          f"`lmi-wizard plan {args.path}` or `lmi-wizard run {args.path}`")
    return 0
