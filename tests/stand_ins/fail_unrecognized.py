"""Stand-in builder of another version: a strict argparse that does not know the flags it is given."""
import argparse

p = argparse.ArgumentParser(prog="trtllm-build")
p.add_argument("--checkpoint_dir")
p.add_argument("--output_dir")
print("[stand-in] parsing arguments", flush=True)
p.parse_args()  # exits 2 with "error: unrecognized arguments: ..."
