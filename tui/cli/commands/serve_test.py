"""``lmi-wizard serve-test PATH [--lmi-version V] [--djl-serving CMD] [--port N] [--timeout S] [--prompt TEXT]
[--max-new-tokens N] [--grace S] [--json]``

The load test before upload: LMI's own server (djl-serving, in the LMI image) loads what was built, exactly
as it will be uploaded, answers one prompt, and is stopped (nothing left running, GPU memory checked free).
See ``core/serve``.

Exit status: 0 loaded and answered, 1 did not load or did not answer, 2 could not run (bad input, a folder
``check`` refuses, no djl-serving), 130 interrupted. ``--json``: one document on stdout (``ok``, ``ready_s``,
``latency_s``, ``text``, ``tokens_per_s`` when known, ``error``/``fix`` on failure); djl-serving's log then
goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

NAME = "serve-test"
HELP = "load the compiled model in LMI's own server (djl-serving), send one prompt, stop: before the upload"
ORDER = 66


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH",
                   help="the compiled model: Triton layout, the folder holding tensorrt_llm/ (or tensorrt_llm/ "
                        "itself); flat layout, the trtllm-build output folder")
    p.add_argument("--lmi-version", metavar="X.Y.Z",
                   help="the LMI release you deploy to (default: this image's, else from the installed tensorrt-llm)")
    p.add_argument("--djl-serving", metavar="CMD", help="the djl-serving executable (default: djl-serving on PATH, "
                                                       "/usr/bin/djl-serving)")
    p.add_argument("--port", type=int, metavar="N", help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--timeout", type=float, metavar="S", default=1200.0,
                   help="seconds to wait for the model to load (default 1200, the image's MODEL_LOADING_TIMEOUT)")
    p.add_argument("--prompt", metavar="TEXT", default="What is Deep Learning?", help="the prompt to send")
    p.add_argument("--max-new-tokens", type=int, metavar="N", default=32, help="tokens to generate (default 32)")
    p.add_argument("--grace", type=float, metavar="S", default=10.0,
                   help="seconds between SIGTERM and SIGKILL when stopping the server (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON document (the server log goes to stderr)")


def _on_sigterm(signum, frame):  # a CI timeout or `kill`: clean up like Ctrl+C does
    raise KeyboardInterrupt


def run(args) -> int:
    from lmi_wizard.core.base.errors import Cancelled, WizardError
    from lmi_wizard.core.serve import ServeOptions, render_human, serve_test

    log_out = sys.stderr if args.json else sys.stdout

    def progress(ev) -> None:
        if ev.extra.get("log"):
            print(ev.message, file=log_out, flush=True)
        elif ev.message:
            print(f"lmi-wizard: {ev.message}", file=sys.stderr, flush=True)

    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        opts = ServeOptions(djl_serving=args.djl_serving, port=args.port, timeout=args.timeout, prompt=args.prompt,
                            max_new_tokens=args.max_new_tokens, grace=args.grace)
        res = serve_test(args.path, lmi_version=args.lmi_version, options=opts, progress=progress)
    except (KeyboardInterrupt, Cancelled):
        if args.json:
            print(json.dumps({"ok": False, "status": "cancelled", "error": "interrupted",
                              "fix": "run it again; nothing was left running"}, indent=2))
        print("lmi-wizard: serve-test interrupted: the server was stopped and the staging removed", file=sys.stderr)
        return 130
    except WizardError as exc:
        if args.json:
            print(json.dumps({"ok": False, "status": "error", "error": exc.problem, "fix": exc.fix}, indent=2))
        print(f"lmi-wizard: error: {exc}", file=sys.stderr)
        return exc.exit_code if exc.exit_code != 130 else 130
    finally:
        signal.signal(signal.SIGTERM, old)
    if args.json:
        print(json.dumps(res.to_json(), indent=2))
    if res.status == "skipped":  # one line saying where it can run
        print(f"lmi-wizard: {res.error} — {res.fix}", file=sys.stderr)
    elif not args.json:
        print(render_human(res))
    return res.exit_code
