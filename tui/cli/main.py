"""Command line entry point: ``lmi-wizard [--plain] [VERB ...]``.

Verbs live in ``tui/cli/commands/<module>.py``; each module defines::

    NAME = "doctor"            # the verb on the command line
    HELP = "one line"          # shown in --help
    def register(parser): ...  # add its arguments to an argparse sub-parser
    def run(args) -> int: ...  # do it; return the exit code

Modules are discovered automatically, so adding a verb touches no other file. Keep the module's
top-level imports light (start-up time is measured in bench/): import heavy things inside ``run``.

Every :class:`~lmi_wizard.core.base.errors.WizardError` becomes one line on stderr and its exit code
(2 by default); no traceback reaches the user for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
from typing import Callable, Sequence

from lmi_wizard.core import __version__
from lmi_wizard.core.base.errors import WizardError


# the signals that end the wizard from outside: Ctrl-C, `timeout`/CI/systemd, an SSH session closing
ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the main thread is, like Ctrl-C's KeyboardInterrupt: every verb then
    takes the Ctrl-C path (core kills the child's process group, removes its temp folders, keeps its state)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP end a verb like Ctrl-C does (verbs with a cancel token install their own)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, _raise_terminated)
        except ValueError:  # not the main thread (tests calling main() from a worker)
            pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} — fix: see `{self.prog} --help`\n")


def _module_names() -> list[str]:
    from . import commands

    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_"))


def _load(name: str):
    mod = importlib.import_module(f"{__package__}.commands.{name}")
    if not (hasattr(mod, "NAME") and hasattr(mod, "run")):
        return None
    if mod.NAME != name.replace("_", "-"):
        # the fast path below finds a verb's module by its name; keep the two in step
        raise RuntimeError(f"tui/cli/commands/{name}.py declares NAME={mod.NAME!r}; name the module after its verb")
    return mod


def _command_modules(only: str | None = None):
    """Verb modules, sorted for --help. With ``only`` (a verb from the command line), import just
    that module when it exists: start-up then pays for one verb's imports, not all of them."""
    names = _module_names()
    if only is not None and only.replace("-", "_") in names:
        names = [only.replace("-", "_")]
    mods = [m for m in (_load(n) for n in names) if m is not None]
    mods.sort(key=lambda m: (getattr(m, "ORDER", 50), m.NAME))
    return mods


def _verb_in(argv: Sequence[str]) -> str | None:
    """The verb named on the command line (first word that is not an option), if any."""
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
            continue
        if arg in ("-h", "--help"):
            return None  # global help lists every verb
        if arg == "--state":
            skip_next = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given ``argv``, only the sub-parser of the verb it names (when it is one)."""
    parser = _Parser(
        prog="lmi-wizard",
        description="From a GPU box and a model to a compiled TensorRT-LLM model that LMI loads from S3. "
        "Without a verb, starts the full-screen wizard.",
    )
    parser.add_argument("--version", action="version", version=f"lmi-wizard {__version__}")
    parser.add_argument("--plain", action="store_true", help="ask the wizard's questions as plain prompts (no full-screen app)")
    parser.add_argument("--state", metavar="FILE", help="where the wizard keeps its answers (default: ~/.config/lmi-wizard/state.toml)")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    verb = _verb_in(argv) if argv is not None else None
    if argv is not None and verb is None and not any(a in ("-h", "--help") for a in argv):
        return parser  # no verb: the front end starts; it needs no verb module (start-up, bench_tui.py)
    for mod in _command_modules(verb):
        p = sub.add_parser(mod.NAME, help=getattr(mod, "HELP", None), description=getattr(mod, "HELP", None))
        if hasattr(mod, "register"):
            mod.register(p)
        p.set_defaults(_run=mod.run)
    return parser


def _fail(exc: WizardError, args: argparse.Namespace | None = None) -> int:
    print(f"lmi-wizard: error: {exc}", file=sys.stderr)
    if args is not None and getattr(args, "json", False):
        # machines reading --json get a document on stdout too, never an empty answer
        import json

        print(json.dumps({"ok": False, "error": exc.problem, "fix": exc.fix, "exit_code": exc.exit_code}))
    return exc.exit_code


def main(argv: Sequence[str] | None = None, front_end: Callable[[argparse.Namespace], int] | None = None) -> int:
    """Run a verb. Without one, hand over to ``front_end`` (the console script passes the
    Textual/plain launcher from ``lmi_wizard.tui.main``; core itself never imports a front end)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # fast paths: no verb module import for --version
    if argv == ["--version"]:
        print(f"lmi-wizard {__version__}")
        return 0
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    return _dispatch(args, front_end)


def _dispatch(args: argparse.Namespace, front_end) -> int:
    install_signal_handlers()
    try:
        if getattr(args, "_run", None) is None:
            if front_end is None:
                raise WizardError("no verb given", "run `lmi-wizard --help` for the list of verbs")
            return int(front_end(args) or 0)
        return int(args._run(args) or 0)
    except WizardError as exc:
        return _fail(exc, args)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print("lmi-wizard: interrupted" + (f" ({signal.Signals(signum).name})" if signum != signal.SIGINT else ""),
              file=sys.stderr)
        return 128 + int(signum)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("LMI_WIZARD_DEBUG"):
            raise
        print(f"lmi-wizard: internal error: {type(exc).__name__}: {exc} — this is a bug in lmi-wizard; "
              "please report it with the output of the same command run with LMI_WIZARD_DEBUG=1",
              file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
