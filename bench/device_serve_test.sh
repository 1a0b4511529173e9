#!/usr/bin/env bash
# serve-test on a real GPU machine (no LMI image there, so djl-serving is the test STAND-IN, whose workers
# really hold GPU memory through libcuda: STANDIN_CUDA_MB). Proves on real NVML: the memory the "model" held
# is seen while loaded and is free again after the stop (workers ignore SIGTERM: SIGKILL after --grace).
# Usage (repo root): OUT=/some/dir bench/device_serve_test.sh   — needs python3 + nvidia-ml-py only.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
PP="$(mktemp -d)"; mkdir -p "$PP/lmi_wizard"
ln -s "$ROOT/core" "$PP/lmi_wizard/core"; ln -s "$ROOT/tui" "$PP/lmi_wizard/tui"
export PYTHONPATH="$PP:$ROOT"
PY="${PYTHON:-python3}"
W="$(mktemp -d)"
# a flat engine folder shaped like trtllm-build's output (engines are placeholders: the stand-in does not read them)
"$PY" - "$W/engine" <<'PYEOF'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1]); d.mkdir(parents=True)
(d / "config.json").write_text(json.dumps({"version": "0.21.0", "build_config": {"max_batch_size": 8},
    "pretrained_config": {"dtype": "float16", "mapping": {"world_size": 1, "tp_size": 1, "pp_size": 1}}}))
(d / "rank0.engine").write_bytes(b"ENGINE" * 64)
(d / "tokenizer_config.json").write_text("{}")
PYEOF
mkdir -p "$W/bin"
{ echo "#!$(command -v "$PY")"; cat "$ROOT/tests/stand_ins/djl_serving_standin.py"; } > "$W/bin/djl-serving"
chmod +x "$W/bin/djl-serving"
nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv > "$OUT/nvidia-smi-before.csv" 2>&1
T0=$(date +%s.%N)
STANDIN_LMI=0.33.0 STANDIN_CUDA_MB=${STANDIN_CUDA_MB:-4096} STANDIN_WORKERS=2 STANDIN_RECORD="$W/rec.json" \
  "$PY" -m lmi_wizard.tui.cli.main serve-test "$W/engine" --lmi-version 0.33.0 --djl-serving "$W/bin/djl-serving" \
  --grace 2 --json > "$OUT/serve-test.json" 2> "$OUT/serve-test.err"
echo "rc=$? wall=$("$PY" -c "import time; print(round(time.time() - $T0, 2))") s" > "$OUT/serve-test.rc"
nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv > "$OUT/nvidia-smi-after.csv" 2>&1
"$PY" - "$W/rec.json" > "$OUT/leftovers.txt" <<'PYEOF'
import json, os, sys
r = json.load(open(sys.argv[1]))
left = [p for p in [r["pid"], *r["workers"]] if os.path.exists(f"/proc/{p}") and
        open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
print("processes of the server group still alive:", left)
PYEOF
cp "$W/rec.json" "$OUT/standin-record.json"
rm -rf "$W" "$PP"
echo "results in $OUT"
