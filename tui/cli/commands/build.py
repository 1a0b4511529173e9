"""``lmi-wizard build --example-dir DIR [intent options] [--dry-run] [--json]``: render and run the build.

The flags are discovered from the checkout the example folder belongs to; the command(s) are rendered for
that version (legacy ``build.py``, or ``convert_checkpoint.py`` + ``trtllm-build``), or LMI's own
ahead-of-time tool with ``--aot LMI_VERSION``. ``--dry-run`` prints them without running anything.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

NAME = "build"
HELP = "build the TensorRT-LLM engines from an example folder of the checkout (--dry-run: only print the commands)"
ORDER = 45


def _kv(text: str) -> tuple[str, object]:
    """``FLAG=VALUE`` (``a,b`` → a list, for nargs='+') or a bare ``FLAG`` (a switch)."""
    from lmi_wizard.core.base.errors import WizardError

    k, sep, v = text.partition("=")
    k = k.strip()
    if not k.lstrip("-"):
        raise WizardError(f"--set {text!r} names no flag", "give it as FLAG=VALUE (e.g. --set max_beam_width=2), "
                          "or a bare FLAG for a switch")
    if not sep:
        return k, True
    if "," in v and not v.startswith("["):
        return k, [x for x in v.split(",") if x]
    return k, v


#: fields whose value the verb leaves to the builder when not given (the wizard's defaults are for its own runs)
BUILDER_DEFAULTS = {"build.max_batch_size": None, "build.max_input_len": None, "build.max_output_len": None,
                    "build.paged_kv_cache": None}


def register(p: argparse.ArgumentParser) -> None:
    from lmi_wizard.core import wizard

    from ..fields import add_field_options

    p.add_argument("--example-dir", required=True, metavar="DIR",
                   help="the model's example folder in the checkout (e.g. tensorrt_llm/examples/llama)")
    p.add_argument("--model-dir", metavar="DIR", default="", help="the Hugging Face model folder (weights + config.json)")
    p.add_argument("--output-dir", metavar="DIR", default="trt_engines", help="engine folder (relative: to the example folder)")
    p.add_argument("--checkpoint-dir", metavar="DIR", help="converted checkpoint folder (0.8+; default <output-dir>_ckpt)")
    p.add_argument("--world-size", type=int, metavar="N", help="default: TP × PP")
    # the build intent's options come from the wizard's Build fields (defaults, choices, parsing, help); the
    # lengths, the batch size and the paged KV cache are left to the builder's own defaults unless given
    add_field_options(p, wizard.BUILD_FLAG_KEYS, ranges=False, defaults=BUILDER_DEFAULTS)
    p.add_argument("--workers", type=int, metavar="N")
    p.add_argument("--max-seq-len", type=int, metavar="N")
    p.add_argument("--set", dest="advanced", action="append", default=[], metavar="FLAG=VALUE",
                   help="an advanced flag of the build step (build.py / trtllm-build), checked against its choices; "
                        "repeatable; a bare FLAG for a switch")
    p.add_argument("--set-convert", dest="advanced_convert", action="append", default=[], metavar="FLAG=VALUE",
                   help="an advanced flag of convert_checkpoint.py")
    p.add_argument("--python", default="python3", help="Python that runs the example scripts (default python3)")
    p.add_argument("--trtllm-build", default="trtllm-build", metavar="CMD", help="the trtllm-build command")
    p.add_argument("--trtllm-version", metavar="X.Y.Z", help="TensorRT-LLM version of the checkout (default: read from it)")
    p.add_argument("--aot", metavar="LMI_VERSION",
                   help="use LMI's own ahead-of-time tool (trt_llm_partition.py) of this LMI version instead")
    p.add_argument("--properties-dir", metavar="DIR", help="(--aot) folder for serving.properties, visible in the container")
    p.add_argument("--layout", choices=("triton", "flat"),
                   help="the LMI target (see `lmi-wizard doctor`): 'flat' (LMI 0.33+) needs trtllm-build output, "
                        "checked after the build")
    p.add_argument("--purpose", choices=("build", "serve"), default="build",
                   help="'serve': more GPUs than visible is an error, not a warning")
    p.add_argument("--force", action="store_true", help="overwrite an existing build / serving.properties")
    p.add_argument("--log", metavar="FILE", help="build log (default: lmi-wizard-build-<time>.log in the example folder)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop a step after this long")
    p.add_argument("--dry-run", action="store_true", help="print the rendered commands; run nothing")
    p.add_argument("--json", action="store_true", help="print one JSON document (the plan, or the result)")


def _gpu_facts():
    from lmi_wizard.core.build import GpuFacts
    from lmi_wizard.core.facts.gpu import detect_gpus

    return GpuFacts.from_gpu_state(detect_gpus())  # detect_gpus never raises


def _model(model_dir: str, dry_run: bool) -> tuple[str, object, list[str]]:
    """(the --model_dir to pass, the model's config or None, warnings). A local folder is made absolute (the
    builders run in the example folder) and its config.json read by models.load_model_config; a Hugging Face
    id is passed on as is. A path that does not exist is an error before anything runs (a warning in a dry run)."""
    import os

    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.models import load_model_config, looks_like_hf_id, looks_like_path

    if not model_dir:
        return "", None, []
    path = os.path.expanduser(model_dir)
    if os.path.exists(path):
        cfg = load_model_config(path)  # a folder, or its config.json (then the folder is what the builder needs)
        folder = os.path.dirname(path) if os.path.isfile(path) else path
        return os.path.abspath(folder or "."), cfg, []
    if looks_like_path(model_dir) or not looks_like_hf_id(model_dir.strip()):
        err = WizardError(f"model folder not found: {model_dir}",
                          "give the folder with the Hugging Face model files (config.json and the weights), "
                          "or a Hugging Face id (org/name)")
        if not dry_run:
            raise err
        return model_dir, None, [str(err)]
    return model_dir, None, [f"{model_dir} is not a local folder: passed on as a Hugging Face id (the converter "
                             "downloads it; the size checks are skipped)"]


def _from_here(program: str) -> str:
    """``venv/bin/python`` → absolute (the steps run in the example folder); a bare name stays for PATH."""
    import os

    return os.path.abspath(program) if os.sep in program and not os.path.isabs(program) else program


def _check_args(args: argparse.Namespace) -> None:
    """Bad option values: one clear error each, before anything is rendered or run."""
    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.facts.versions import try_parse_version

    for name in ("tp", "pp", "world_size", "workers", "max_batch_size", "max_input_len", "max_output_len", "max_seq_len"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise WizardError(f"--{name.replace('_', '-')} must be at least 1 (got {v})", "give a positive number")
    for name, example in (("output_dir", "trt_engines"), ("python", "python3"), ("trtllm_build", "trtllm-build")):
        if not str(getattr(args, name)).strip():
            raise WizardError(f"--{name.replace('_', '-')} is empty", f"give a value such as {example} or leave it out")
    try:
        if not shlex.split(args.trtllm_build):
            raise ValueError("empty")
    except ValueError as exc:
        raise WizardError(f"--trtllm-build {args.trtllm_build!r} is not a command line ({exc})",
                          "give the command, e.g. --trtllm-build trtllm-build") from None
    for name in ("trtllm_version", "aot"):
        v = getattr(args, name)
        if v is not None and try_parse_version(v) is None:
            raise WizardError(f"--{name.replace('_', '-')} {v!r} is not a version", "give it like 0.12.0")
    if args.timeout is not None and not (args.timeout > 0 and args.timeout < float("inf")):
        raise WizardError(f"--timeout must be a positive number of seconds (got {args.timeout:g})", "e.g. --timeout 3600")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lmi_wizard.core.base.errors import WizardError
    from lmi_wizard.core.build import BuildIntent, render_plan

    _check_args(args)
    # programs given as relative paths are relative to where the person typed, not to the example folder
    args.python = _from_here(args.python)
    args.trtllm_build = shlex.join([_from_here(t) if i == 0 else t for i, t in enumerate(shlex.split(args.trtllm_build))])
    model_dir, model, warnings = _model(args.model_dir, args.dry_run)
    intent = BuildIntent(
        model_dir=model_dir, output_dir=args.output_dir, checkpoint_dir=args.checkpoint_dir, dtype=args.dtype,
        gemm_plugin=args.gemm_plugin, gpt_attention_plugin=args.gpt_attention_plugin, tp_size=args.tp,
        pp_size=args.pp, world_size=args.world_size, inflight_batching=args.inflight_batching,
        paged_kv_cache=args.paged_kv_cache, context_fmha=args.context_fmha,
        remove_input_padding=args.remove_input_padding, parallel_build=args.parallel_build, workers=args.workers,
        max_batch_size=args.max_batch_size, max_input_len=args.max_input_len, max_output_len=args.max_output_len,
        max_seq_len=args.max_seq_len, advanced=dict(_kv(x) for x in args.advanced),
        advanced_convert=dict(_kv(x) for x in args.advanced_convert))
    gpu = _gpu_facts()

    if args.aot:
        from lmi_wizard.core.build import LMI_DTYPE, validate_intent
        from lmi_wizard.core.build.partition import (PartitionArgs, aot_length_properties, partition_plan,
                                                     write_properties)

        if args.advanced or args.advanced_convert:
            raise WizardError("--set/--set-convert do not apply to --aot (LMI's partition tool takes no builder flags)",
                              "leave them out, or build with the checkout's builders (drop --aot)")
        if not args.properties_dir:
            raise WizardError("--aot needs --properties-dir", "give a folder the container sees (it gets serving.properties)")
        # the length keys that release's AOT path reads (max_output_len ≤ 0.32, max_seq_len 0.33+)
        props = aot_length_properties(args.aot, args.max_input_len, args.max_output_len, args.max_seq_len)
        if args.max_batch_size:
            props["max_rolling_batch_size"] = args.max_batch_size
        props["dtype"] = LMI_DTYPE[args.dtype]
        pargs = PartitionArgs(args.properties_dir, args.output_dir, model_dir, args.tp, args.pp, props)
        plan = partition_plan(args.properties_dir, pargs, args.aot, python=args.python)
        plan.findings = validate_intent(intent, gpu=gpu, model=model, purpose=args.purpose)
        plan.intent = intent
    else:
        plan = render_plan(args.example_dir, intent, python=args.python, trtllm_build=shlex.split(args.trtllm_build),
                           trtllm_version=args.trtllm_version, gpu=gpu, model=model, purpose=args.purpose)
    errors = plan.errors
    if errors:
        e = errors[0]
        raise WizardError(e.message, e.fix)
    if args.layout == "flat" and plan.layout == "legacy":
        raise WizardError(f"{args.example_dir} builds with the legacy build.py, whose engines LMI 0.33+ (flat layout) "
                          "does not load", "use a TensorRT-LLM checkout at the version of that LMI image "
                          "(convert_checkpoint.py + trtllm-build), or --layout triton for LMI ≤ 0.32")

    if args.dry_run:
        if args.json:
            json.dump(dict(plan.to_json(), warnings=warnings), sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            print(plan.preview())
            for w in warnings:
                print(f"# warning: {w}")
            for f in plan.findings:
                print(f"# {f}")
            for n in plan.notes:
                print(f"# note: {n}")
        return 0

    from lmi_wizard.core.build.run import run_plan

    if args.aot:
        write_properties(args.properties_dir, pargs, args.aot, force=args.force)
    out = sys.stderr if args.json else sys.stdout

    def on_line(step: str, stream: str, line: str) -> None:
        print(f"[{step}] {line}", file=out, flush=True)

    for w in warnings:
        print(f"lmi-wizard: warning: {w}", file=sys.stderr)
    for f in plan.findings:
        if f.level != "info":
            print(f"lmi-wizard: {f}", file=sys.stderr)
    result = run_plan(plan, on_line=on_line, log_path=args.log, timeout=args.timeout, force=args.force,
                      target=args.layout)
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(result.summary())
        if result.ok:
            for f in result.findings:
                print(f"  {f}")
            if result.record_path:
                print(f"  build record: {result.record_path}")
        else:
            s = result.failed_step
            if s is not None:
                print("  last lines:")
                for line in s.tail[-10:]:
                    print(f"    {line}")
            for f in result.findings:
                print(f"  {f}")
        print(f"  log: {result.log_path}")
    return 0 if result.ok else 1
