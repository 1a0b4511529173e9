#!/usr/bin/env python3
"""Stand-in for the trtllm-build command."""
import argparse
import json
import os

p = argparse.ArgumentParser()
p.add_argument("--checkpoint_dir", required=True)
p.add_argument("--output_dir", required=True)
p.add_argument("--max_batch_size", type=int, default=8)
args, unknown = p.parse_known_args()
with open(os.path.join(args.checkpoint_dir, "config.json")) as fh:
    ckpt = json.load(fh)
world = ckpt["mapping"]["world_size"]
os.makedirs(args.output_dir, exist_ok=True)
for r in range(world):
    print(f"[stand-in trtllm-build] rank {r}/{world}", flush=True)
    with open(os.path.join(args.output_dir, f"rank{r}.engine"), "wb") as fh:
        fh.write(b"ENGINE" * 32)
cfg = dict(ckpt, build_config={"max_batch_size": args.max_batch_size, "args": unknown})
cfg["pretrained_config"] = {"mapping": ckpt["mapping"], "dtype": ckpt["dtype"]}
with open(os.path.join(args.output_dir, "config.json"), "w") as fh:
    json.dump(cfg, fh)
