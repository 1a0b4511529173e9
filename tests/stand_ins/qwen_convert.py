#!/usr/bin/env python3
"""Stand-in for examples/models/core/qwen/convert_checkpoint.py."""
import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument('--model_dir', type=str, default=None)
parser.add_argument('--tp_size', type=int, default=1)
parser.add_argument('--pp_size', type=int, default=1)
parser.add_argument('--dtype', type=str, default='auto', choices=['auto', 'float16', 'bfloat16', 'float32'])
parser.add_argument('--output_dir', type=str, default='tllm_checkpoint')
parser.add_argument('--workers', type=int, default=1)
args = parser.parse_args()
world = args.tp_size * args.pp_size
os.makedirs(args.output_dir, exist_ok=True)
for r in range(world):
    print(f"[stand-in convert] rank {r} of {args.model_dir}", flush=True)
    with open(os.path.join(args.output_dir, f"rank{r}.safetensors"), "wb") as fh:
        fh.write(b"\0" * 16)
with open(os.path.join(args.output_dir, "config.json"), "w") as fh:
    json.dump({"architecture": "QWenForCausalLM", "dtype": args.dtype,
               "mapping": {"world_size": world, "tp_size": args.tp_size, "pp_size": args.pp_size}}, fh)
