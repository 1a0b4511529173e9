#!/usr/bin/env python3
"""Stand-in for the legacy examples/baichuan/build.py (<=0.7; needs a GPU in real life): the tutorial's flags (so
flag discovery and rendering run on it for real), progress lines, the engines + config.json.
HANG_PIDS_FILE=path: never ends (writes "pid child pgid" there; HANG_IGNORE_TERM=1 ignores SIGTERM).
STANDIN_FAIL=1: fails as a CUDA out-of-memory does."""
import argparse
import json
import os
import sys


def parse_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model_version', type=str, default='v1_13b', choices=['v1_7b', 'v1_13b', 'v2_7b', 'v2_13b'])
    parser.add_argument('--model_dir', type=str, default=None)
    parser.add_argument('--dtype', type=str, default='float16', choices=['float32', 'bfloat16', 'float16'])
    parser.add_argument('--world_size', type=int, default=1)
    parser.add_argument('--max_batch_size', type=int, default=8)
    parser.add_argument('--max_input_len', type=int, default=1024)
    parser.add_argument('--max_output_len', type=int, default=1024)
    parser.add_argument('--use_gpt_attention_plugin', nargs='?', const='float16', type=str, default=False,
                        choices=['float16', 'bfloat16', 'float32'])
    parser.add_argument('--use_gemm_plugin', nargs='?', const='float16', type=str, default=False,
                        choices=['float16', 'bfloat16', 'float32'])
    parser.add_argument('--enable_context_fmha', default=False, action='store_true')
    parser.add_argument('--remove_input_padding', default=False, action='store_true')
    parser.add_argument('--parallel_build', default=False, action='store_true')
    parser.add_argument('--use_inflight_batching', action="store_true", default=False)
    parser.add_argument('--paged_kv_cache', action="store_true", default=False)
    parser.add_argument('--output_dir', type=str, default='baichuan_outputs')
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_arguments()
    if os.environ.get("HANG_PIDS_FILE"):  # a builder that never ends, with a child process in its group
        import signal
        import subprocess
        import time
        if os.environ.get("HANG_IGNORE_TERM") == "1":  # stuck in CUDA: only SIGKILL stops it (child inherits)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.2)"])
        path = os.environ["HANG_PIDS_FILE"]
        with open(path + ".tmp", "w") as fh:
            fh.write(f"{os.getpid()} {child.pid} {os.getpgid(0)}\n")
        os.replace(path + ".tmp", path)
        print("[stand-in build.py] building rank 0 (forever) - this one hangs", flush=True)
        while True:
            time.sleep(0.2)
    if os.environ.get("STANDIN_FAIL"):
        print("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr)
        sys.exit(1)
    os.makedirs(args.output_dir, exist_ok=True)
    for rank in range(args.world_size):
        print(f"[stand-in build.py] building rank {rank}/{args.world_size}", flush=True)
        name = f"baichuan_{args.dtype}_tp{args.world_size}_rank{rank}.engine"
        with open(os.path.join(args.output_dir, name), "wb") as fh:
            fh.write(b"ENGINE-%d-" % rank * 64)
    cfg = {"builder_config": {"name": "baichuan", "precision": args.dtype, "tensor_parallel": args.world_size,
                              "max_batch_size": args.max_batch_size, "max_input_len": args.max_input_len,
                              "max_output_len": args.max_output_len},
           "plugin_config": {"gemm_plugin": args.use_gemm_plugin,
                             "gpt_attention_plugin": args.use_gpt_attention_plugin},
           "argv": sys.argv[1:]}
    with open(os.path.join(args.output_dir, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    with open(os.path.join(args.output_dir, "model.cache"), "wb") as fh:
        fh.write(b"timing cache")
    print("[stand-in build.py] done", flush=True)
