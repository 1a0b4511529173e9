"""Stand-in builder that fails the way a too-small GPU does."""
import sys

print("[TensorRT-LLM] building rank 0", flush=True)
print("Traceback (most recent call last):", file=sys.stderr)
print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr, flush=True)
sys.exit(1)
