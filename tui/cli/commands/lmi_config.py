"""``lmi-wizard lmi-config``: the LMI configuration in the tutorial's three styles, with cross-checks.

Styles: ``env`` (HF_MODEL_ID + OPTION_*), ``properties`` (serving.properties with the S3 model_id),
``extracted`` (serving.properties for artifacts mounted at /opt/ml/model/), ``all``.
``--engine-dir`` reads TP/PP/max batch size/dtype from the engine's config.json and checks the answers
against it; ``--tokenizer-dir`` tells whether the tokenizer ships code (trust_remote_code).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "lmi-config"
HELP = "write the LMI config (env vars, serving.properties, /opt/ml/model layout) and check it"
ORDER = 70


#: the wizard's fields this verb takes as options (``tui/cli/fields.py`` renders them)
FIELD_KEYS = ("build.tp", "build.pp", "lmi.max_rolling_batch_size", "env.lmi_version")


def register(p: argparse.ArgumentParser) -> None:
    from ..fields import add_field_options

    p.add_argument("--model-id", required=True, metavar="URI",
                   help="what LMI loads: triton layout → the parent prefix of the uploaded tensorrt_llm/ "
                        "(s3://bucket/folder1/); flat → the uploaded folder")
    # the degrees and the batch come from the wizard's fields (parsing, range, help); not given, they follow the
    # engine's config.json (--engine-dir), else the LMI defaults
    add_field_options(p, FIELD_KEYS, defaults=dict.fromkeys(FIELD_KEYS), 
                      notes={"build.tp": "Default: the engine's, else 1.", "build.pp": "Default: the engine's, else 1.",
                             "lmi.max_rolling_batch_size": "Default: the engine's max batch size.",
                             "env.lmi_version": "Here: the layout is checked against this release."},
                      metavars={"env.lmi_version": "X.Y.Z"})
    p.add_argument("--dtype", metavar="DTYPE", help="fp16 (default), bf16 or fp32 (extracted style)")
    p.add_argument("--layout", choices=("triton", "flat"),
                   help="triton (LMI 0.25–0.32) or flat (LMI 0.33); default: the --lmi-version's, else triton")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="the tokenizer ships its own code (written as option.trust_remote_code=true)")
    p.add_argument("--engine-dir", metavar="DIR", help="engine folder (its config.json) to check against")
    p.add_argument("--tokenizer-dir", metavar="DIR", help="tokenizer folder: turns trust_remote_code on if needed")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="another option.KEY=VALUE (repeatable)")
    p.add_argument("--style", choices=("env", "properties", "extracted", "all"), default="all")
    p.add_argument("--write", metavar="DIR", help="write the files here (extracted: the /opt/ml/model root)")
    p.add_argument("--force", action="store_true", help="replace existing files with other content")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.lmi import all_styles, check_answers, write_configs

    extra = _extra_options(args)
    layout = _checked_layout(args)
    a = _answers(args, layout, extra)
    findings = check_answers(a)
    errs = [f for f in findings if f.level == "error"]
    written = []
    if args.write and not errs:
        written = write_configs(a, args.write, args.style, force=args.force)
    if args.json:
        doc = all_styles(a)
        doc["written"] = written
        print(json.dumps(doc, indent=2))
    else:
        _print_human(a, args.style, findings, written)
    if errs:
        raise WizardError("; ".join(f.problem for f in errs), "; ".join(f.fix for f in errs if f.fix),
                          exit_code=1)
    return 0


def _extra_options(args: argparse.Namespace) -> dict:
    """``--option KEY=VALUE`` pairs; an --option for the degrees is the same answer as --tp/--pp (cross-checked
    like them, never a second key): it fills ``args.tp``/``args.pp`` when those are not given."""
    from lmi_wizard.core import wizard
    from lmi_wizard.core.base.errors import WizardError

    extra = {}
    for item in args.option:
        if "=" not in item:
            raise WizardError(f"--option {item!r} is not KEY=VALUE", "write e.g. --option max_input_len=1024")
        k, v = item.split("=", 1)
        extra[k.strip()] = v.strip()
    for key, field in (("tensor_parallel_degree", "build.tp"), ("pipeline_parallel_degree", "build.pp"),
                       ("pipeline_parallel_size", "build.pp")):
        f = wizard.field(field)
        for name in (key, "option." + key):
            if name in extra and getattr(args, f.name) is None:
                try:  # the field's own parsing and range, as for --tp/--pp
                    setattr(args, f.name, f.parse(extra.pop(name)))
                except wizard.FieldError as exc:
                    raise WizardError(f"--option {name}: {exc.message}", exc.fix or f"give e.g. {f.flag} 2") from None
    return extra


def _checked_layout(args: argparse.Namespace) -> str:
    """The layout (given, else the --lmi-version's, else triton), after the arguments that cannot work."""
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.facts import target

    if args.lmi_version:
        try:
            target.parse_lmi_version(args.lmi_version)
        except WizardError:
            raise WizardError(f"LMI version {args.lmi_version!r} is not a version", "give e.g. 0.30.0 or 0.33.0") from None
        target.require_published(args.lmi_version, args.layout)  # 0.34+: only a named layout (self-built image)
    layout = args.layout or (target.layout_for_lmi(args.lmi_version) if args.lmi_version else None) or "triton"
    if args.tokenizer_dir and not Path(args.tokenizer_dir).is_dir():
        raise WizardError(f"tokenizer folder not found: {args.tokenizer_dir}",
                          "give the folder holding tokenizer_config.json (e.g. triton_model_repo/tensorrt_llm/)")
    if args.write and Path(args.write).exists() and not Path(args.write).is_dir():
        raise WizardError(f"{args.write} is a file, not a folder", "give the folder the configs are written to")
    return layout


def _answers(args: argparse.Namespace, layout: str, extra: dict):
    """The LMI answers: the arguments, else what the engine's config.json says, else the defaults."""
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.lmi import LmiAnswers, engine_info, normalise
    from lmi_wizard.core.tokenizer import tokenizer_needs_trust_remote_code

    e = engine_info(args.engine_dir) if args.engine_dir else None
    if args.engine_dir and (e is None or (e.tp is None and e.max_batch_size is None)):
        raise WizardError(f"no engine config.json with TP/max batch size in {args.engine_dir}",
                          "give the folder holding the engines and their config.json")
    needs = tokenizer_needs_trust_remote_code(args.tokenizer_dir) if args.tokenizer_dir else None
    return normalise(LmiAnswers(
        model_id=args.model_id, layout=layout,
        tp=args.tp or (e.tp if e and e.tp else 1), pp=args.pp or (e.pp if e and e.pp else 1),
        max_rolling_batch_size=args.max_rolling_batch_size or (e.max_batch_size if e else None),
        dtype=args.dtype or (e.dtype if e and e.dtype else "fp16"),
        trust_remote_code=bool(args.trust_remote_code or needs),
        engine_tp=e.tp if e else None, engine_pp=e.pp if e else None,
        engine_max_batch_size=e.max_batch_size if e else None,
        tokenizer_needs_trust=needs, lmi_version=args.lmi_version, extra=extra))


def _print_human(a, style: str, findings: list, written: list) -> None:
    """The chosen styles as text, warnings on stderr (errors come as one line from the WizardError)."""
    from lmi_wizard.core.lmi import render

    styles = ("env", "properties", "extracted") if style == "all" else (style,)
    titles = {"env": "1. Environment variables", "properties": "2. serving.properties (S3 model_id)",
              "extracted": "3. Extracted artifacts: /opt/ml/model/serving.properties"}
    for s in styles:
        print(f"# {titles[s]}")
        print(render(a, s))
    if "extracted" in styles and a.layout == "triton":
        print(f"# config.pbtxt: gpt_model_path = /opt/ml/model/{a.subfolder}/1\n")
    for f in findings:
        if f.level != "error":
            print(str(f), file=sys.stderr)
    for w in written:
        print(f"wrote {w}")
