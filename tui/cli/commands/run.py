"""``lmi-wizard run RECIPE``: the whole pipeline headless, with a progress display fit for CI logs."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

NAME = "run"
HELP = "run a recipe headless: checkout, build, assemble, config, tokenizer, publish, LMI configs"
ORDER = 80


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", metavar="RECIPE", help="recipe file (TOML; `lmi-wizard init` writes one)")
    parser.add_argument("--resume", action="store_true",
                        help="skip the steps an earlier run of this work folder finished and that are still valid")
    parser.add_argument("--force", action="store_true",
                        help="replace outputs that already exist (engine folder, model repository, destination)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (the run report) on stdout; progress goes to stderr")
    parser.add_argument("--work-dir", metavar="DIR", help="work folder (overrides [checkout] work_dir, which is relative to the recipe's folder; "
                             "this one is relative to the current directory)")
    parser.add_argument("--python", metavar="PYTHON", default="python3",
                        help="interpreter for the builder scripts (default: python3)")


def run(args) -> int:
    from ..console import ConsoleProgress
    from lmi_wizard.core.pipeline import Pipeline
    from lmi_wizard.core.base.progress import CancelToken
    from lmi_wizard.core.wizard.recipe import load_recipe

    answers = load_recipe(args.recipe)
    pipe = Pipeline(answers, work_dir=args.work_dir, force=args.force, resume=args.resume, python=args.python,
                    recipe_source=args.recipe)
    pipe.check()  # answers that cannot run: one line, exit 2, nothing written
    out = sys.stderr if args.json else sys.stdout
    display = ConsoleProgress(out)
    cancel = CancelToken()
    previous: dict = {}

    def on_signal(signum, frame):  # Ctrl-C / SIGTERM (CI timeouts) / SIGHUP: stop cleanly (process group killed, state kept)
        if cancel.cancelled:
            raise KeyboardInterrupt
        print(f"\nlmi-wizard: {signal.Signals(signum).name}: cancelling… (Ctrl-C again to abort)", file=sys.stderr)
        # not here: this handler runs in the main thread, which may be inside Popen.wait() holding its lock;
        # killing the process group from here would wait on that same lock
        threading.Thread(target=cancel.cancel, name="cancel", daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # Ctrl-C, timeout/CI, SSH closing
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread
            pass
    try:
        print(f"lmi-wizard run {args.recipe}: {len(pipe.steps)} steps in {pipe.work_dir}"
              + (" (resume)" if args.resume else ""), file=out, flush=True)
        report = pipe.run(progress=display, cancel=cancel)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if report.ok:
            print("", file=out)
            print(f"LMI model_id: {report.model_id}", file=out)
            from lmi_wizard.core.serve import done_lines

            for line in done_lines(report.outputs.get("serve_test")):
                print(line, file=out)
            if report.outputs.get("tree"):
                print(report.outputs["tree"], file=out)
            if report.outputs.get("listing"):
                print(f"\n{report.outputs.get('destination')}:\n{report.outputs['listing']}", file=out)
            lmi_dir = report.outputs.get("lmi_dir")
            if lmi_dir:
                print(f"\nLMI configurations in {lmi_dir}: lmi.env, serving.properties, extracted/serving.properties",
                      file=out)
        print(f"log: {report.log_path}\nrecipe: {report.recipe_path}", file=out)
    if report.ok:
        return 0
    if cancel.cancelled:
        print(f"lmi-wizard: cancelled during {report.stopped_at} — fix: {report.fix}", file=sys.stderr)
        return 130
    print(f"lmi-wizard: error: stopped at {report.stopped_at}: {report.error}"
          + (f" — fix: {report.fix}" if report.fix else ""), file=sys.stderr)
    return report.exit_code or 1
