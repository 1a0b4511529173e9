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
    from lmi_wizard.core.base.fsutil import atomic_write_bytes
    from lmi_wizard.core.pipeline.engine import Pipeline
    from lmi_wizard.core.wizard.recipe import load_recipe

    answers = load_recipe(args.recipe)
    pipe = Pipeline(answers, work_dir=args.work_dir, recipe_source=args.recipe)
    pipe.check()  # a script for answers that cannot run would only fail half-way
    script = pipe.plan_script()
    # a folder name that is not UTF-8 (bytes the file system holds, decoded with surrogateescape) goes into the
    # script as those same bytes: the script then names the same folder. Only other characters are refused.
    try:
        data = script.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        bad = script[exc.start:exc.end]
        raise WizardError(f"the plan holds {bad!r}, which no file name or UTF-8 text can hold",
                          "remove that character from the recipe value that holds it") from None
    if not args.output or args.output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    if os.path.exists(args.output) and not args.force:
        raise WizardError(f"{args.output} already exists", "choose another file or pass --force")
    atomic_write_bytes(args.output, data, mode=0o755)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
