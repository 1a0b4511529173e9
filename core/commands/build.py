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
    if "=" in text:
        k, v = text.split("=", 1)
        if "," in v and not v.startswith("["):
            return k.strip(), [x for x in v.split(",") if x]
        return k.strip(), v
    return text.strip(), True


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--example-dir", required=True, metavar="DIR",
                   help="the model's example folder in the checkout (e.g. tensorrt_llm/examples/llama)")
    p.add_argument("--model-dir", metavar="DIR", default="", help="the Hugging Face model folder (weights + config.json)")
    p.add_argument("--output-dir", metavar="DIR", default="trt_engines", help="engine folder (relative: to the example folder)")
    p.add_argument("--checkpoint-dir", metavar="DIR", help="converted checkpoint folder (0.8+; default <output-dir>_ckpt)")
    p.add_argument("--dtype", default="float16", choices=("float16", "bfloat16", "float32"))
    p.add_argument("--tp", type=int, default=1, metavar="N", help="tensor parallel size")
    p.add_argument("--pp", type=int, default=1, metavar="N", help="pipeline parallel size")
    p.add_argument("--world-size", type=int, metavar="N", help="default: TP × PP")
    p.add_argument("--no-gemm-plugin", dest="gemm_plugin", action="store_false")
    p.add_argument("--no-gpt-attention-plugin", dest="gpt_attention_plugin", action="store_false")
    p.add_argument("--no-inflight-batching", dest="inflight_batching", action="store_false")
    p.add_argument("--paged-kv-cache", dest="paged_kv_cache", action="store_true", default=None)
    p.add_argument("--no-paged-kv-cache", dest="paged_kv_cache", action="store_false")
    p.add_argument("--no-context-fmha", dest="context_fmha", action="store_false")
    p.add_argument("--no-remove-input-padding", dest="remove_input_padding", action="store_false")
    p.add_argument("--no-parallel-build", dest="parallel_build", action="store_false")
    p.add_argument("--workers", type=int, metavar="N")
    p.add_argument("--max-batch-size", type=int, metavar="N")
    p.add_argument("--max-input-len", type=int, metavar="N")
    p.add_argument("--max-output-len", type=int, metavar="N")
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
    p.add_argument("--purpose", choices=("build", "serve"), default="build",
                   help="'serve': more GPUs than visible is an error, not a warning")
    p.add_argument("--force", action="store_true", help="overwrite an existing build / serving.properties")
    p.add_argument("--log", metavar="FILE", help="build log (default: lmi-wizard-build-<time>.log in the example folder)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop a step after this long")
    p.add_argument("--dry-run", action="store_true", help="print the rendered commands; run nothing")
    p.add_argument("--json", action="store_true", help="print one JSON document (the plan, or the result)")


def _gpu_facts():
    try:
        from ..gpu import detect_gpus
        from ..flags import GpuFacts

        st = detect_gpus()
        if not st.available or not st.gpus:
            return None
        g = st.gpus[0]
        return GpuFacts.from_capability(g.name, tuple(g.compute_capability), g.memory_total_bytes, st.count)
    except Exception:
        return None


def _model_facts(model_dir: str):
    from pathlib import Path

    from ..errors import WizardError
    from ..flags import ModelFacts

    if not model_dir:
        return None
    cfg = Path(model_dir) / "config.json"
    if not cfg.is_file():
        return None
    try:
        return ModelFacts.from_config(json.loads(cfg.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise WizardError(f"cannot read {cfg}: {exc}", "check the model folder") from None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import WizardError
    from ..flags import BuildIntent, render_plan

    for name in ("tp", "pp", "world_size", "workers", "max_batch_size", "max_input_len", "max_output_len", "max_seq_len"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise WizardError(f"--{name.replace('_', '-')} must be at least 1 (got {v})", "give a positive number")
    intent = BuildIntent(
        model_dir=args.model_dir, output_dir=args.output_dir, checkpoint_dir=args.checkpoint_dir, dtype=args.dtype,
        gemm_plugin=args.gemm_plugin, gpt_attention_plugin=args.gpt_attention_plugin, tp_size=args.tp,
        pp_size=args.pp, world_size=args.world_size, inflight_batching=args.inflight_batching,
        paged_kv_cache=args.paged_kv_cache, context_fmha=args.context_fmha,
        remove_input_padding=args.remove_input_padding, parallel_build=args.parallel_build, workers=args.workers,
        max_batch_size=args.max_batch_size, max_input_len=args.max_input_len, max_output_len=args.max_output_len,
        max_seq_len=args.max_seq_len, advanced=dict(_kv(x) for x in args.advanced),
        advanced_convert=dict(_kv(x) for x in args.advanced_convert))
    gpu = _gpu_facts()
    model = _model_facts(args.model_dir)

    if args.aot:
        from ..flags import validate_intent
        from ..partition import PartitionArgs, partition_plan, write_properties

        if not args.properties_dir:
            raise WizardError("--aot needs --properties-dir", "give a folder the container sees (it gets serving.properties)")
        props = {}
        if args.max_input_len:
            props["max_input_len"] = args.max_input_len
        if args.max_seq_len or (args.max_input_len and args.max_output_len):
            props["max_seq_len"] = args.max_seq_len or args.max_input_len + args.max_output_len
        if args.max_batch_size:
            props["max_rolling_batch_size"] = args.max_batch_size
        props["dtype"] = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}[args.dtype]
        pargs = PartitionArgs(args.properties_dir, args.output_dir, args.model_dir, args.tp, args.pp, props)
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

    if args.dry_run:
        if args.json:
            json.dump(plan.to_json(), sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            print(plan.preview())
            for f in plan.findings:
                print(f"# {f}")
            for n in plan.notes:
                print(f"# note: {n}")
        return 0

    from ..build import run_plan

    if args.aot:
        write_properties(args.properties_dir, pargs, args.aot, force=args.force)
    out = sys.stderr if args.json else sys.stdout

    def on_line(step: str, stream: str, line: str) -> None:
        print(f"[{step}] {line}", file=out, flush=True)

    for f in plan.findings:
        if f.level != "info":
            print(f"lmi-wizard: {f}", file=sys.stderr)
    result = run_plan(plan, on_line=on_line, log_path=args.log, timeout=args.timeout, force=args.force)
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
