#!/usr/bin/env bash
# Run every benchmark and keep what each printed in $BENCH_OUT/<name>.txt (default /tmp/lmi-wizard-bench) (figures only; nothing asserts).
#
#   bash bench/run_all.sh            # full sizes: 10 GiB placement, 2 GiB S3 sync
#   QUICK=1 bash bench/run_all.sh    # smaller: 1 GiB placement, 256 MiB S3 sync, 200k log lines
#
# awscli (for the S3 comparison) comes from the `bench` extra (pip install '.[bench]'), PATH, or AWS_CLI=/path/to/aws.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
OUT="${BENCH_OUT:-${TMPDIR:-/tmp}/lmi-wizard-bench}"
mkdir -p "$OUT"
AWS="${AWS_CLI:-$(command -v aws || true)}"
if [ "${QUICK:-0}" = "1" ]; then
  PLACE=(--size-gib 1 --dense-gib 0.25); S3=(--size-mb 256); TUI=(--runs 3 --lines 200000); START=(--runs 7)
else
  PLACE=(); S3=(); TUI=(); START=()
fi
[ -n "$AWS" ] && S3+=(--aws "$AWS")

run() {  # name, command...
  local name=$1; shift
  echo "=== $name: $*"
  { echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; "$@"; } 2>&1 | tee "$OUT/$name.txt"
  echo
}

run startup "$PY" bench/bench_startup.py "${START[@]}"
run place "$PY" bench/bench_place.py "${PLACE[@]}"
run s3_sync "$PY" bench/bench_s3_sync.py "${S3[@]}"
if [ -f bench/bench_tui.py ]; then
  run tui "$PY" bench/bench_tui.py "${TUI[@]}"
fi
