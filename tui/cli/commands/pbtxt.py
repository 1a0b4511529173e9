"""``lmi-wizard pbtxt fill|check``: the Triton config.pbtxt step without the full-screen app.

``pbtxt fill CONFIG SUBSTITUTIONS [-i|--in-place] [--tag vX.Y.Z] [--skip-obsolete] [--ignore-unknown]``
    Same argument syntax as ``tools/fill_template.py`` (``key:value,key2:value2``; ``\\,`` and ``\\:``
    escape a comma or colon inside a value). Without ``-i`` the result goes to stdout exactly as the
    tag's tool prints it (file content plus one newline) and the file is unchanged; with ``-i`` the file
    is rewritten atomically with exactly what the tool writes. ``--tag`` picks the tool's semantics
    (default: the newest). Notes (obsolete keys skipped, comment-only keys, what is left) go to stderr.
    A key the file has no placeholder for is an error naming the fix (a typo like ``decoupled:true``);
    ``--ignore-unknown`` makes it a drop-in for the tag's tool: whatever that tool accepts is accepted, the
    bytes are the tool's, and each key the tool would silently ignore is named on stderr as ``warning: …``.

``pbtxt check CONFIG... [--json] [--engine-path PATH] [--tag vX.Y.Z] [--engine DIR]``
    Lists every unresolved ``${name}`` with file, line, field and kind (``blocking`` / ``optional``),
    the ``decoupled`` state, the engine path and whether the file parses as ``inference.ModelConfig``,
    and every value the backend rejects or ignores (``core.triton.value_findings``: scheduler policy,
    KV-cache fraction per ``--tag``, KV-cache tokens against ``--engine``'s max_seq_len × beam) with its fix.
    Exit 0 only when nothing blocks in any file (no blocking placeholder or bad value, every file parses);
    1 when something blocks; 2 for bad input (missing/unreadable file, not a pbtxt, a bad --tag/--engine).

    ``--json`` prints ONE document whatever the number of files::

        {"ok": bool,                      # nothing blocks in any file
         "parses": bool | null,           # every file parses (null: could not try)
         "findings": [{"file", "line", "name", "field", "kind", "reason", "fix", "param"}, ...],
                                          # all files, in argument order
         "values": [{"severity", "code", "problem", "fix", "key", "path", ...}, ...],  # bad values, all files
         "files": [{"file", "ok", "parses", "parse_error", "blocking", "optional", "decoupled",
                    "engine_path", "notes", "untouched_template_of", "findings"}, ...]}

Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys

NAME = "pbtxt"
HELP = "fill a Triton config.pbtxt like fill_template.py (byte-identical), and check what is left"
ORDER = 30


def register(parser) -> None:
    sub = parser.add_subparsers(dest="pbtxt_cmd", metavar="fill|check", parser_class=type(parser))
    sub.required = True
    f = sub.add_parser("fill", help="fill ${placeholders} (same syntax as tools/fill_template.py)",
                       description="Fill ${placeholders} like the tag's tools/fill_template.py. "
                                   "Prints the result unless -i.")
    f.add_argument("config", metavar="CONFIG", help="path of the config.pbtxt")
    f.add_argument("substitutions", metavar="SUBSTITUTIONS",
                   help="key:value,key2:value2 (escape , and : inside a value as \\, and \\:)")
    f.add_argument("-i", "--in-place", "--in_place", dest="in_place", action="store_true",
                   help="rewrite the file (atomically) instead of printing")
    f.add_argument("--tag", metavar="vX.Y.Z", default=None,
                   help="use the semantics of that tag's fill_template.py (default: the newest)")
    f.add_argument("--skip-obsolete", action="store_true",
                   help="drop keys that upstream removed from the templates (e.g. max_num_sequences) instead of failing")
    f.add_argument("--ignore-unknown", action="store_true",
                   help="drop-in for the tag's fill_template.py: keys the file has no placeholder for are ignored "
                        "as that tool ignores them (each named as a warning on stderr) instead of failing")
    f.set_defaults(_pbtxt=_fill)
    c = sub.add_parser("check", help="list unresolved ${placeholders}, decoupled, engine path, parse result",
                       description="Review config.pbtxt files. Exit 0 only when nothing blocks.")
    c.add_argument("configs", metavar="CONFIG", nargs="+", help="config.pbtxt file(s)")
    c.add_argument("--json", action="store_true", help="print one JSON document")
    c.add_argument("--engine-path", metavar="PATH", default=None,
                   help="the engine path expected inside the serving container "
                        "(default: /opt/ml/model/tensorrt_llm/1)")
    c.add_argument("--tag", metavar="vX.Y.Z", default=None,
                   help="the tensorrtllm_backend release the files are for: its rules for values (e.g. "
                        "kv_cache_free_gpu_mem_fraction 1.0 fails the load from v0.10.0; default: every release's)")
    c.add_argument("--engine", metavar="PATH", default=None,
                   help="the engine folder (or its config.json): max_tokens_in_paged_kv_cache must hold one "
                        "max_seq_len × max_beam_width sequence")
    c.set_defaults(_pbtxt=_check)


def run(args) -> int:
    return int(args._pbtxt(args) or 0)


def _err(msg: str) -> None:
    print(f"lmi-wizard: {msg}", file=sys.stderr)


def _fill(args) -> int:
    from lmi_wizard.core.triton import fill_file

    res = fill_file(args.config, args.substitutions, tag=args.tag, in_place=args.in_place,
                    skip_obsolete=args.skip_obsolete, ignore_unknown=args.ignore_unknown)
    if not args.in_place:
        sys.stdout.write(res.printed)
        sys.stdout.flush()
    for warning in res.warnings:
        _err(f"warning: {warning}")
    for note in res.notes:
        _err(f"note: {note}")
    remaining = res.remaining
    where = "written to" if args.in_place else "printed; unchanged on disk (add -i to write it):"
    _err(f"filled {len(res.filled)} placeholder(s) ({res.semantics.label}); {where} {args.config}; "
         f"{len(remaining)} left" + (f" — review with `lmi-wizard pbtxt check {args.config}`" if remaining else ""))
    return 0


def _check(args) -> int:
    from lmi_wizard.core.triton import DEFAULT_ENGINE_PATH, check_file

    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.triton import parse_tag

    expected = args.engine_path or DEFAULT_ENGINE_PATH
    if args.tag:
        parse_tag(args.tag)  # a bad tag is one line and exit 2, not a rule set silently skipped
    if args.engine and not (os.path.isfile(args.engine) or os.path.isfile(os.path.join(args.engine, "config.json"))):
        raise WizardError(f"--engine {args.engine}: no engine config.json there",
                          "pass the engine folder (holding config.json and the rank*.engine files) or its config.json")
    reports = [check_file(p, expected_engine_path=expected, values=True, tag=args.tag, engine_config=args.engine)
               for p in args.configs]
    ok = all(r.ok for r in reports)
    if args.json:
        parses_values = [r.parses for r in reports]
        parses = None if any(p is None for p in parses_values) else all(parses_values)
        doc = {
            "ok": ok,
            "parses": parses,
            "findings": [f.to_json() for r in reports for f in r.findings],
            "values": [f.to_json() for r in reports for f in r.values],  # blocking: rejected/ignored values
            "files": [r.to_json() for r in reports],
        }
        # indented for people; compact when the document is huge (a 50 MB file has ~1M findings)
        print(json.dumps(doc, indent=2 if len(doc.get("findings", ())) <= 10_000 else None))
        return 0 if ok else 1
    for r in reports:
        _print_report(r)
    if len(reports) > 1:
        bad = [r.file for r in reports if not r.ok]
        print(f"{len(reports)} files: " + ("nothing blocks" if ok else f"{len(bad)} blocked ({', '.join(bad)})"))
    return 0 if ok else 1


def _print_report(r) -> None:
    status = "OK" if r.ok else "BLOCKED"
    parse = {True: "parses as inference.ModelConfig", False: "does NOT parse as inference.ModelConfig",
             None: "parse not tried"}[r.parses]
    bad = f", {len(r.values)} bad value(s)" if r.values else ""
    print(f"{r.file}: {status} — {len(r.blocking)} blocking, {len(r.optional)} optional{bad}; {parse}")
    if r.parses is False and r.parse_error:
        print(f"  parse error: {r.parse_error}")
    for f in r.values:
        print(f"  {r.file}: blocking value: {f.problem} — fix: {f.fix}")
    for f in r.blocking:
        print(f"  {r.file}:{f.line}: blocking ${{{f.name}}} in {f.field}: {f.reason}")
    for f in r.optional:
        print(f"  {r.file}:{f.line}: optional ${{{f.name}}} in {f.field}")
    if r.optional:
        print("  (optional: the backend falls back to its default — fill them, or delete each whole "
              "parameters { … } block)")
    d = r.decoupled
    print(f"  decoupled: {d['value'] if d['value'] is not None else '(not set)'}"
          + (f" (line {d['line']})" if d.get("line") else ""))
    e = r.engine_path
    if e.get("param"):
        print(f"  engine path: {e['param']} = {e['value']!r} ({e['state']}; expected {e['expected']})")
    for n in r.notes:
        print(f"  note: {n}")
