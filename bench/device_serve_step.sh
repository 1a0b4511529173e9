#!/usr/bin/env bash
# The serve_test pipeline step on a real GPU machine (issue 14). No LMI image there, so djl-serving is the test
# STAND-IN, on PATH, whose workers really hold GPU memory through libcuda (STANDIN_CUDA_MB). Proves with real
# detection (NVML through core.facts.environment): the wizard's session turns the load test ON by itself (GPUs
# visible + djl-serving found), the run loads → answers → stops (GPU memory seen while loaded, free again after)
# and only then publishes; a failing load stops the run before publish with nothing published.
# Usage (repo root): OUT=/some/dir bench/device_serve_step.sh   — needs python3 + nvidia-ml-py only.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
PP="$(mktemp -d)"; mkdir -p "$PP/lmi_wizard"
ln -s "$ROOT/core" "$PP/lmi_wizard/core"; ln -s "$ROOT/tui" "$PP/lmi_wizard/tui"
export PYTHONPATH="$PP:$ROOT"
PY="${PYTHON:-python3}"
W="$(mktemp -d)"
mkdir -p "$W/bin"
{ echo "#!$(command -v "$PY")"; cat "$ROOT/tests/stand_ins/djl_serving_standin.py"; } > "$W/bin/djl-serving"
chmod +x "$W/bin/djl-serving"
export PATH="$W/bin:$PATH" STANDIN_LMI=0.33.0 STANDIN_CUDA_MB="${STANDIN_CUDA_MB:-4096}" STANDIN_WORKERS=2
nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv > "$OUT/nvidia-smi-before.csv" 2>&1
"$PY" - "$W" "$OUT" <<'PYEOF' > "$OUT/serve-step.txt" 2>&1
import json, os, sys, time
from pathlib import Path

from lmi_wizard.core.facts import environment
from lmi_wizard.core.pipeline import Pipeline
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.core.wizard.session import Session

W, OUT = Path(sys.argv[1]), Path(sys.argv[2])


def folders(name):
    e, t = W / name / "engine", W / name / "tok"
    e.mkdir(parents=True)
    t.mkdir(parents=True)
    (e / "config.json").write_text(json.dumps({"version": "0.21.0rc1", "build_config": {"max_batch_size": 8},
        "pretrained_config": {"dtype": "float16", "mapping": {"world_size": 1, "tp_size": 1, "pp_size": 1}}}))
    (e / "rank0.engine").write_bytes(b"ENGINE" * 64)
    (t / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    (t / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    (t / "tokenizer.json").write_text("{}")
    return e, t


def recipe(name):
    e, t = folders(name)
    return (f'[env]\ntrtllm_version = "0.21.0rc1"\n[checkout]\nwork_dir = "{W / name / "work"}"\n'
            f'[model]\nsource = "{t}"\n[build]\nmethod = "prebuilt"\nengine_dir = "{e}"\n'
            f'[destination]\nuri = "published/model"\n')


env = environment.gather(lookup_tags=False)
print("GPUs:", env.gpu.summary())
s = Session(state_path=W / "state.toml", environment=env)
a = R.loads_recipe(recipe("ok"), ctx=s.ctx)  # the wizard's context: the default follows this machine
print("wizard default serve_test.enabled:", a["serve_test.enabled"], "| djl-serving:", s.ctx.djl_serving)
print("recipe default (fresh context):", R.loads_recipe(recipe("rec"))["serve_test.enabled"])
pipe = Pipeline(a, serve_options={"grace": 2.0})
print("steps:", [st.name for st in pipe.steps])
t0 = time.monotonic()
events = []
rep = pipe.run(progress=lambda ev: events.append(ev))
print(f"run ok={rep.ok} in {time.monotonic() - t0:.2f} s; error={rep.error}")
doc = rep.outputs.get("serve_test", {})
print("serve_test:", json.dumps({k: doc.get(k) for k in ("ok", "ready_s", "latency_s", "tokens_per_s", "text",
                                                           "gpu_used_bytes", "gpu_freed", "stop", "notes")}))
print("steps:", [(x.name, x.status, round(x.elapsed, 2)) for x in rep.steps])
print("published:", sorted(p.name for p in (W / "ok" / "work" / "published" / "model").iterdir()))
(OUT / "report.json").write_text(json.dumps(rep.to_dict(), indent=1, default=str))
(OUT / "run.log").write_text(Path(rep.log_path).read_text())
# a failing load (the engine built for another GPU): stopped before publish, nothing published
os.environ["STANDIN_FAIL"] = "arch"
b = R.loads_recipe(recipe("fail"), ctx=s.ctx)
bad = Pipeline(b, serve_options={"grace": 2.0}).run()
print(f"failing load: ok={bad.ok} stopped_at={bad.stopped_at}\n  error: {bad.error}\n  fix: {bad.fix}")
print("published after the failure:", (W / "fail" / "work" / "published").exists())
PYEOF
echo "rc=$?" >> "$OUT/serve-step.txt"
nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv > "$OUT/nvidia-smi-after.csv" 2>&1
ps -eo pid,pgid,args | grep -c "$W/bin/[d]jl-serving" | sed 's/^/djl-serving processes left: /' >> "$OUT/serve-step.txt"
rm -rf "$W" "$PP"
cat "$OUT/serve-step.txt"
