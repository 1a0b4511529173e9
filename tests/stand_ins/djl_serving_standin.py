"""STAND-IN for djl-serving (the LMI image's /usr/bin/djl-serving), which cannot run here (Java + GPU + LMI).

It keeps djl-serving's observable contract, as read from its source (deepjavalibrary/djl-serving):

* ``-m NAME=file:DIR`` (``Arguments``); ``SERVING_LOAD_MODELS`` replaces ``-m`` and ``HF_MODEL_ID`` adds a
  model (``ConfigManager`` / ``ModelStore``): both make this stand-in load something else and fail.
* ``SERVING_INFERENCE_ADDRESS`` / ``SERVING_MANAGEMENT_ADDRESS``; the port binds only after the model loaded
  (``ModelServer.start``), after ``STANDIN_LOAD_DELAY`` seconds (default 0.2).
* A folder holding a single sub-folder is descended into (``Utils.getNestedModelDir``).
* LMI's prebuilt rule (``LmiUtils``): triton layout (``STANDIN_LMI`` < 0.33, the default 0.30.0) — a
  sub-folder with ``config.pbtxt`` + ``tokenizer_config.json``, whose ``gpt_model_path`` must hold the
  engines; flat (0.33+) — a root ``config.json`` with ``build_config``. Otherwise it logs
  "Converting model to TensorRT-LLM artifacts" + trt_llm_partition.py, then transformers' "no file named
  pytorch_model.bin", "Failed register workflow", and exits 1.
* ``option.tensor_parallel_degree`` (serving.properties or ``OPTION_TENSOR_PARALLEL_DEGREE``) × PP must be
  the number of rank engines, else TensorRT-LLM's ``mpiSize == tp * pp`` assertion.
* ``GET /ping`` → ``{"NAME": {"status": "Healthy"}}`` 200 (500 + FAILED in ``STANDIN_FAIL=ping500``, the
  ``wait_model_loading=false`` case); ``POST /invocations`` with the rolling-batch schema
  (``{"generated_text", "details": {"generated_tokens", "finish_reason"}}`` when ``details``; ``{"error",
  "code": 424}`` for a bad payload); ``DELETE /models/NAME``.
* Workers (``STANDIN_WORKERS``, default 1) are children in its process group that ignore SIGTERM, like
  LMI's Python workers under mpirun; the leader itself exits on SIGTERM (``STANDIN_LEADER_IGNORES_TERM=1``:
  it does not).

Failures on purpose: ``STANDIN_FAIL`` = arch | version | world | oom | pytorch_bin | convert | generic |
ping500 | exit3 | hang | bad_answer | oom_at_request. ``STANDIN_RECORD=FILE`` receives a JSON record
(argv, environment, pids, what was loaded) so tests can check what the server was given.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

FAIL = os.environ.get("STANDIN_FAIL", "")
RECORD = os.environ.get("STANDIN_RECORD")
record: dict = {"argv": sys.argv[1:], "pid": os.getpid(), "pgid": os.getpgid(0), "workers": [], "events": [],
                "env": {k: v for k, v in os.environ.items()
                        if k.startswith(("SERVING_", "OPTION_", "HF_MODEL_ID"))}}


def log(level: str, where: str, msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {level} {where} {msg}", flush=True)


def save() -> None:
    if RECORD:
        tmp = RECORD + ".tmp"
        Path(tmp).write_text(json.dumps(record, indent=1))
        os.replace(tmp, RECORD)


def fail(*lines: str) -> None:
    for ln in lines:
        print(ln, flush=True)
    log("ERROR", "ModelServer", "Failed register workflow")
    print("java.util.concurrent.CompletionException: ai.djl.engine.EngineException: Failed to initialize model",
          flush=True)
    record["events"].append("failed")
    save()
    time.sleep(0.3)  # djl-serving sleeps 3 s so that /ping can answer, then stops
    log("INFO", "ModelServer", "Stopping model server.")
    sys.exit(1)


# STANDIN_CUDA_MB=N (GPU machines only): each worker really holds N MiB of GPU memory through the CUDA driver
# API (libcuda via ctypes), so that NVML sees what a loaded engine would hold until the worker is killed.
_CUDA = """
import ctypes, os
cu = ctypes.CDLL("libcuda.so.1")
assert cu.cuInit(0) == 0
dev = ctypes.c_int(); assert cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
ctx = ctypes.c_void_p(); assert cu.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev) == 0
ptr = ctypes.c_uint64(); assert cu.cuMemAlloc_v2(ctypes.byref(ptr), int(os.environ["STANDIN_CUDA_MB"]) << 20) == 0
"""


def start_workers(n: int) -> None:
    code = ("import signal,sys,time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            + (_CUDA if os.environ.get("STANDIN_CUDA_MB") else "")
            + "print('ready', flush=True)\nsys.stdout.close()\nwhile True: time.sleep(0.05)\n")
    for _ in range(n):
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)  # same process group
        p.stdout.readline()  # it ignores SIGTERM from here on
        p.stdout.close()
        record["workers"].append(p.pid)
    save()


def parse_models() -> dict[str, str]:
    args = sys.argv[1:]
    models = []
    for i, a in enumerate(args):
        if a in ("-m", "--models") and i + 1 < len(args):
            models.append(args[i + 1])
    if os.environ.get("SERVING_LOAD_MODELS"):
        models = os.environ["SERVING_LOAD_MODELS"].split(",")  # SERVING_<KEY> overrides -m
    if os.environ.get("HF_MODEL_ID"):
        models.append(os.environ["HF_MODEL_ID"])
    if not models:
        print("usage: djl-serving [OPTIONS]\n -m,--models <MODELS>  Models to be loaded at startup.", flush=True)
        sys.exit(1)
    out = {}
    for m in models:
        name, _, url = m.partition("=")
        if not url:
            name, url = "model", m
        out[name] = url
    return out


def nested(d: Path) -> Path:
    entries = [p for p in d.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return nested(entries[0])
    return d


def props(d: Path) -> dict[str, str]:
    out = {}
    f = d / "serving.properties"
    if f.is_file():
        for line in f.read_text().splitlines():
            k, sep, v = line.partition("=")
            if sep:
                out[k.strip()] = v.strip()
    for k, v in os.environ.items():
        if k.startswith("OPTION_"):
            out.setdefault("option." + k[7:].lower(), v)
    return out


def engines_in(d: Path) -> list[str]:
    return sorted(p.name for p in d.glob("*.engine")) if d.is_dir() else []


def load(name: str, url: str) -> None:
    lmi = tuple(int(x) for x in os.environ.get("STANDIN_LMI", "0.30.0").split(".")[:2])
    log("INFO", "ModelInfo", f"Loading model {name} on url {url}")
    if not url.startswith("file:"):
        fail(f"ai.djl.repository.zoo.ModelNotFoundException: Invalid huggingface model id: {url}")
    d = nested(Path(url[5:]))
    record["model_dir"] = str(d)
    record["listing"] = sorted(str(p.relative_to(d)) for p in d.rglob("*"))
    record["inodes"] = {str(p.relative_to(d)): os.stat(p).st_ino for p in d.rglob("*") if p.is_file()}
    p = props(d)
    record["properties"] = p
    save()
    if FAIL == "pytorch_bin":
        fail(f"OSError: Error no file named pytorch_model.bin, model.safetensors, tf_model.h5, model.ckpt.index or "
             f"flax_model.msgpack found in directory {d}.")
    engine_dir = None
    if lmi < (0, 33):
        for sub in sorted(x for x in d.iterdir() if x.is_dir()):
            if (sub / "config.pbtxt").is_file() and (sub / "tokenizer_config.json").is_file():
                m = re.search(r'key:\s*"gpt_model_path"\s*value:\s*\{\s*string_value:\s*"([^"]*)"',
                              (sub / "config.pbtxt").read_text(), re.S)
                engine_dir = Path(m.group(1)) if m else sub / "1"
                record["gpt_model_path"] = str(engine_dir)
                break
    else:
        try:
            cfg = json.loads((d / "config.json").read_text())
        except (OSError, ValueError):
            cfg = {}
        if "build_config" in cfg:
            engine_dir = d
    if engine_dir is None or FAIL == "convert":
        log("INFO", "LmiUtils", "Converting model to TensorRT-LLM artifacts")
        log("INFO", "LmiUtils", "Converting model to TensorRT-LLM artifacts: [python, /opt/djl/partition/"
                                f"trt_llm_partition.py, --properties_dir, /tmp/trtllm1, --model_path, {d}]")
        fail(f"OSError: Error no file named pytorch_model.bin, model.safetensors, tf_model.h5, model.ckpt.index or "
             f"flax_model.msgpack found in directory {d}.")
    start_workers(int(os.environ.get("STANDIN_WORKERS", "1")))
    time.sleep(float(os.environ.get("STANDIN_LOAD_DELAY", "0.2")))
    if FAIL == "arch":
        fail("[TensorRT-LLM][ERROR] 1: [stdArchiveReader.cpp::StdArchiveReaderInitCommon::46] Error Code 1: "
             "Serialization (Serialization assertion stdVersionRead == kSERIALIZATION_VERSION failed.)",
             "[TensorRT-LLM][ERROR] 6: The engine plan file is generated on an incompatible device, expecting "
             "compute 8.6 got compute 9.0, please rebuild.")
    if FAIL == "version":
        fail("[TensorRT-LLM][ERROR] 1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: Serialization "
             "(Serialization assertion magicTagRead == kMAGIC_TAG failed.Version tag does not match. Note: Current "
             "Version: 236, Serialized Engine Version: 228)")
    if FAIL == "oom":
        fail("[TensorRT-LLM][ERROR] CUDA runtime error in cudaMalloc(ptr, n): out of memory",
             "RuntimeError: [TensorRT-LLM][ERROR] Assertion failed: CUDA out of memory (cudaErrorMemoryAllocation)")
    if FAIL == "generic":
        fail("Traceback (most recent call last):", '  File "/tmp/.djl.ai/python/djl_python/tensorrt_llm.py", line 40',
             "ValueError: tokenizer_config.json: unexpected key 'chat_template'")
    tp = int(p.get("option.tensor_parallel_degree", "1"))
    pp = int(p.get("option.pipeline_parallel_degree", "1"))
    n = len(engines_in(engine_dir))
    if FAIL == "world" or (n and n != tp * pp):
        fail(f"[TensorRT-LLM][ERROR] Assertion failed: mpiSize == tp * pp "
             f"(/src/tensorrt_llm/cpp/tensorrt_llm/runtime/worldConfig.cpp:99) mpiSize={n} tp={tp} pp={pp}")
    if not n:
        fail(f"[TensorRT-LLM][ERROR] Assertion failed: no engine found in {engine_dir}")
    log("INFO", "PyProcess", f"Model [{name}] initialized.")


class Handler(BaseHTTPRequestHandler):
    model = "model"

    def log_message(self, fmt, *args):  # djl-serving's access log is on its own logger
        pass

    def _send(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if urlparse(self.path).path == "/ping":
            if FAIL == "ping500":
                log("INFO", "InferenceRequestHandler", f'PING FAILED: {{"{self.model}":{{"status":"FAILED"}}}}')
                return self._send(500, {self.model: {"status": "FAILED"}})
            return self._send(200, {self.model: {"status": "Healthy"}})
        self._send(404, {"code": 404, "type": "ResourceNotFoundException", "message": "Requested resource is not found"})

    def do_POST(self):
        if urlparse(self.path).path != "/invocations":
            return self._send(404, {"code": 404, "message": "not found"})
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        record["events"].append("invocations")
        try:
            req = json.loads(raw)
            inputs, params = req["inputs"], req.get("parameters", {})
            if not isinstance(inputs, str) or not isinstance(params, dict):
                raise ValueError
            n = int(params.get("max_new_tokens", 30))
        except (ValueError, KeyError, TypeError):
            return self._send(424, {"error": "Input is not a valid json", "code": 424})
        record["request"] = req
        save()
        if FAIL == "bad_answer":
            return self._send(424, {"error": "Invalid input: max_new_tokens is too large", "code": 424})
        if FAIL == "oom_at_request":
            log("ERROR", "PyProcess", "[TensorRT-LLM][ERROR] CUDA out of memory while allocating the KV cache")
            return self._send(200, {"generated_text": "", "details": {"finish_reason": "error",
                                                                      "generated_tokens": None, "inputs": None}})
        words = [f"w{i}" for i in range(n)]
        out = {"generated_text": " ".join(words)}
        if params.get("details"):
            out["details"] = {"finish_reason": "length", "generated_tokens": n, "inputs": inputs}
        time.sleep(0.01)
        self._send(200, out)

    def do_DELETE(self):
        path = urlparse(self.path).path
        if path == f"/models/{self.model}":
            record["events"].append("deleted")
            save()
            return self._send(200, {"status": f'Model or workflow "{self.model}" unregistered'})
        self._send(404, {"code": 404, "message": f"Model or workflow not found: {path}"})


def main() -> None:
    if os.environ.get("STANDIN_LEADER_IGNORES_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log("INFO", "ModelServer", "Starting djl-serving: 0.30.0 ...")
    models = parse_models()
    save()
    if FAIL == "exit3":
        start_workers(1)
        print("Unexpected error: java.lang.IllegalStateException", flush=True)
        sys.exit(3)
    if FAIL == "hang":
        start_workers(int(os.environ.get("STANDIN_WORKERS", "1")))
        while True:
            time.sleep(0.05)
    for name, url in models.items():
        load(name, url)
    Handler.model = next(iter(models))
    addrs = {os.environ.get("SERVING_INFERENCE_ADDRESS", "http://127.0.0.1:8080"),
             os.environ.get("SERVING_MANAGEMENT_ADDRESS", "http://127.0.0.1:8080")}
    servers = []
    for a in sorted(addrs):
        u = urlparse(a)
        servers.append(ThreadingHTTPServer((u.hostname, u.port), Handler))
        log("INFO", "ModelServer", f"{'BOTH' if len(addrs) == 1 else 'INFERENCE'} API bind to: {a}")
    record["events"].append("bound")
    save()
    import threading

    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
