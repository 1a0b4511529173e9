"""Stand-in for convert_checkpoint.py (the real one needs tensorrt-llm): writes config.json + rank*.safetensors."""
import argparse
import json
import os
import sys

p = argparse.ArgumentParser()
p.add_argument("--model_dir")
p.add_argument("--output_dir", default="tllm_checkpoint")
p.add_argument("--dtype", default="float16")
p.add_argument("--tp_size", type=int, default=1)
p.add_argument("--pp_size", type=int, default=1)
args, unknown = p.parse_known_args()
world = args.tp_size * args.pp_size
os.makedirs(args.output_dir, exist_ok=True)
print(f"[stand-in convert] model {args.model_dir} → {args.output_dir} (tp {args.tp_size}, pp {args.pp_size})", flush=True)
for r in range(world):
    with open(os.path.join(args.output_dir, f"rank{r}.safetensors"), "wb") as fh:
        fh.write(b"\0" * 16)
    print(f"[stand-in convert] rank {r} saved", flush=True)
print("[stand-in convert] warning: fake weights", file=sys.stderr, flush=True)
with open(os.path.join(args.output_dir, "config.json"), "w") as fh:
    json.dump({"architecture": "LlamaForCausalLM", "dtype": args.dtype,
               "mapping": {"world_size": world, "tp_size": args.tp_size, "pp_size": args.pp_size}}, fh)
