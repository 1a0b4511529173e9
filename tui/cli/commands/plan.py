"""``lmi-wizard plan RECIPE``: the recipe as the equivalent shell script (the tutorial's commands, filled in)."""

from __future__ import annotations

import argparse
import os
import sys

NAME = "plan"
HELP = "print the shell script a recipe amounts to (nothing runs)"
ORDER = 78


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", metavar="RECIPE", help="recipe file (TOML)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the script to FILE (executable) instead of stdout")
    parser.add_argument("--force", action="store_true", help="overwrite FILE when it exists")
    parser.add_argument("--work-dir", metavar="DIR", help="work folder (overrides [checkout] work_dir, which is relative to the recipe's folder; "
                             "this one is relative to the current directory)")


def run(args) -> int:
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.base.fsutil import atomic_write_text
    from lmi_wizard.core.pipeline.engine import Pipeline
    from lmi_wizard.core.wizard.recipe import load_recipe

    answers = load_recipe(args.recipe)
    pipe = Pipeline(answers, work_dir=args.work_dir, recipe_source=args.recipe)
    pipe.check()  # a script for answers that cannot run would only fail half-way
    script = pipe.plan_script()
    if not args.output or args.output == "-":
        sys.stdout.write(script)
        return 0
    if os.path.exists(args.output) and not args.force:
        raise WizardError(f"{args.output} already exists", "choose another file or pass --force")
    atomic_write_text(args.output, script, mode=0o755)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
