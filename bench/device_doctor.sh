#!/usr/bin/env bash
# Run `lmi-wizard doctor` for real on a GPU machine that has Python + nvidia-ml-py but none of
# lmi-wizard's other dependencies and no network. Usage (from the repo root):
#   OUT=/some/dir bench/device_doctor.sh
# Makes `lmi_wizard` importable without pip (a temp dir with lmi_wizard/core -> ./core, lmi_wizard/tui -> ./tui) and writes
# nvidia-smi, doctor --json, doctor (human), the import check and timings under $OUT.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
PP="$(mktemp -d)"
mkdir -p "$PP/lmi_wizard"
ln -s "$ROOT/core" "$PP/lmi_wizard/core"
ln -s "$ROOT/tui" "$PP/lmi_wizard/tui"
export PYTHONPATH="$PP"
PY="${PYTHON:-python3}"
{
  echo "date: $(date -u)"; uname -a; "$PY" --version
  "$PY" -c 'import importlib.metadata as m; print("nvidia-ml-py", m.version("nvidia-ml-py"))' 2>&1
} > "$OUT/env.txt" 2>&1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
nvidia-smi --query-gpu=index,name,memory.total,compute_cap,driver_version --format=csv > "$OUT/nvidia-smi-query.csv" 2>&1
# 1. JSON (offline: the device has no network) and timing
T0=$(date +%s.%N)
"$PY" -m lmi_wizard.tui.cli.commands.doctor --json --offline > "$OUT/doctor.json" 2> "$OUT/doctor-json.err"
RC=$?
T1=$(date +%s.%N)
echo "doctor --json --offline: rc=$RC, $(echo "$T1 - $T0" | bc 2>/dev/null || python3 -c "print($T1-$T0)") s wall (process start included)" > "$OUT/doctor-json.time"
cat "$OUT/doctor-json.err" >> "$OUT/doctor-json.time"
# 2. human output, default settings (tag lookup would time out after --timeout seconds without network)
"$PY" -m lmi_wizard.tui.cli.commands.doctor --timeout 3 > "$OUT/doctor.txt" 2>&1; echo "rc=$?" >> "$OUT/doctor.txt"
# 3. the full CLI dispatcher too (imports every verb module: shows whether they stay light)
"$PY" -m lmi_wizard.tui.cli.main doctor --offline > "$OUT/cli-doctor.txt" 2>&1; echo "rc=$?" >> "$OUT/cli-doctor.txt"
# 4. which non-stdlib modules the doctor path imports
"$PY" - > "$OUT/imports.txt" 2>&1 <<'PYEOF'
import sys
from lmi_wizard.core.facts.environment import gather
r = gather(offline=True)
top = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'__main__'})
print("non-stdlib top-level modules:", top)
print("gpus:", [(g.name, g.arch, g.memory_total_bytes) for g in r.gpu.gpus])
PYEOF
# 5. timing of the detection itself (10 runs)
"$PY" - > "$OUT/timing.txt" 2>&1 <<'PYEOF'
import time
from lmi_wizard.core.facts.gpu import detect_gpus
ts = []
for _ in range(10):
    t = time.perf_counter(); s = detect_gpus(); ts.append(time.perf_counter() - t)
print(f"detect_gpus: min {min(ts)*1000:.1f} ms, max {max(ts)*1000:.1f} ms over 10 runs; available={s.available}")
PYEOF
for f in env.txt nvidia-smi.txt doctor.txt doctor.json doctor-json.time imports.txt timing.txt cli-doctor.txt; do
  echo "=== $f"; cat "$OUT/$f"
done
rm -rf "$PP"
