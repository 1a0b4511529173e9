"""Stand-in for trtllm-build (needs a GPU): reads the checkpoint, writes rank*.engine + config.json."""
import argparse
import json
import os

p = argparse.ArgumentParser()
p.add_argument("--checkpoint_dir", required=True)
p.add_argument("--output_dir", default="engine_outputs")
p.add_argument("--max_input_len", type=int, default=1024)
p.add_argument("--max_seq_len", type=int)
p.add_argument("--max_output_len", type=int)
args, unknown = p.parse_known_args()
with open(os.path.join(args.checkpoint_dir, "config.json")) as fh:
    ckpt = json.load(fh)
world = ckpt["mapping"]["world_size"]
os.makedirs(args.output_dir, exist_ok=True)
for r in range(world):
    print(f"[stand-in trtllm-build] building rank {r}/{world}", flush=True)
    with open(os.path.join(args.output_dir, f"rank{r}.engine"), "wb") as fh:
        fh.write(b"ENGINE" * 4)
build_config = {"max_input_len": args.max_input_len, "max_seq_len": args.max_seq_len,
                "max_output_len": args.max_output_len, "extra_args": unknown}
with open(os.path.join(args.output_dir, "config.json"), "w") as fh:
    json.dump({"version": "stand-in", "pretrained_config": ckpt, "build_config": build_config}, fh)
print("[stand-in trtllm-build] done", flush=True)
