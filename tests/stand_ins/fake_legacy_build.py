"""Stand-in for a legacy examples/<model>/build.py (≤0.7; needs a GPU): writes <model>_<dtype>_tp<N>_rank<i>.engine."""
import argparse
import json
import os

p = argparse.ArgumentParser()
p.add_argument("--world_size", type=int, default=1)
p.add_argument("--tp_size", type=int, default=1)
p.add_argument("--pp_size", type=int, default=1)
p.add_argument("--dtype", default="float16")
p.add_argument("--output_dir", default="llama_outputs")
args, unknown = p.parse_known_args()
os.makedirs(args.output_dir, exist_ok=True)
for r in range(args.world_size):
    print(f"[stand-in build.py] rank {r}", flush=True)
    with open(os.path.join(args.output_dir, f"llama_{args.dtype}_tp{args.tp_size}_rank{r}.engine"), "wb") as fh:
        fh.write(b"ENGINE")
with open(os.path.join(args.output_dir, "config.json"), "w") as fh:
    json.dump({"builder_config": {"name": "llama", "precision": args.dtype, "tensor_parallel": args.tp_size,
                                  "pipeline_parallel": args.pp_size}, "plugin_config": {}}, fh)
