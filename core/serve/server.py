"""djl-serving, started, watched and stopped: the LMI image's own server (``/usr/bin/djl-serving``).

Facts relied on (djl-serving's source, ``deepjavalibrary/djl-serving``):

* ``djl-serving -m NAME=file:DIR`` loads one model at start (``Arguments`` / ``ConfigManager``:
  ``-m`` becomes ``load_models``); every ``SERVING_<KEY>`` variable then overrides config key ``<key>``, so
  ``SERVING_LOAD_MODELS`` would replace ``-m`` and is removed, and ``HF_MODEL_ID`` would add a model
  (``ModelStore``) and is removed too. ``SERVING_INFERENCE_ADDRESS`` / ``SERVING_MANAGEMENT_ADDRESS`` set
  the listening addresses; the same address for both gives one listener (``ModelServer.start``: BOTH).
* The listener binds only after the startup models loaded (``ModelServer.start``: ``loadModels`` then
  ``initializeServer``), so connection refused while the process lives means "loading".
* ``GET /ping`` answers ``{"NAME": {"status": "Healthy"}}`` with 200; 500 when a model FAILED
  (``InferenceRequestHandler`` + ``ModelManager.workerStatus``); 207/200 with PENDING while one loads.
* A load failure logs ``Failed register workflow`` (``ModelServer.loadModels``) and the process exits 1.
* ``DELETE /models/NAME`` on the management address unregisters the model (``ManagementRequestHandler``).
* No shutdown hook: the Python workers (under ``mpirun`` in MPI mode) are cleaned only at the next start,
  so the whole process group is signalled: SIGTERM, then SIGKILL after a grace period, and what is left of
  the group is killed even when djl-serving exited on its own.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional

from ..base.errors import WizardError
from ..base.proc import _check_argv, _leader_gone, _split_lines, group_members
from ..base.secrets import redact
from .diagnose import FAILED_REGISTER
from .staging import ENV_DROPPED

DEFAULT_COMMANDS = ("djl-serving", "/usr/bin/djl-serving", "/opt/djl/bin/djl-serving")
WHERE_IT_RUNS = ("djl-serving is part of the LMI container image (/usr/bin/djl-serving): run lmi-wizard inside "
                 "the LMI image you deploy to, or pass --djl-serving PATH")


def find_djl_serving(cmd: Optional[str] = None) -> Optional[str]:
    """The djl-serving executable: ``cmd`` (a name on PATH or a path), else the LMI image's."""
    for c in ([cmd] if cmd else DEFAULT_COMMANDS):
        found = shutil.which(c)
        if found:
            return os.path.abspath(found)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Ping:
    state: str  # "loading" | "ready" | "failed" | "pending"
    status: Optional[int] = None
    body: Optional[dict] = None


@dataclass
class StopReport:
    deleted: Optional[bool] = None  # DELETE /models/NAME answered 200 (None: not tried)
    sigterm: bool = False
    sigkill: bool = False
    survivors: list[int] = field(default_factory=list)  # pids of the group still alive at the end
    exit_code: Optional[int] = None

    def to_dict(self) -> dict:
        return {"deleted": self.deleted, "sigterm": self.sigterm, "sigkill": self.sigkill,
                "survivors": self.survivors, "exit_code": self.exit_code}


def _http(method: str, url: str, body: Optional[bytes] = None, timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() or b""


def _json(data: bytes):
    try:
        return json.loads(data.decode("utf-8", errors="replace"))
    except ValueError:
        return None


class DjlServer:
    """One djl-serving process (group) serving one model on 127.0.0.1:``port``."""

    def __init__(self, executable: str, model_name: str, model_dir: Path, *, port: int,
                 env: Mapping[str, str] | None = None, on_line: Callable[[str], None] | None = None,
                 tail_lines: int = 400):
        self.executable = executable
        self.model_name = model_name
        self.model_dir = Path(model_dir)
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.extra_env = dict(env or {})
        self.on_line = on_line
        self.lines: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.failed_register = threading.Event()
        self.proc: Optional[subprocess.Popen] = None
        self.dropped_env: list[str] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._count = 0  # lines read so far (``lines`` keeps only the tail)
        self._stopped: Optional[StopReport] = None
        self.ready = False

    # ---------------------------------------------------------------------------------- start
    @property
    def model_arg(self) -> str:
        return f"{self.model_name}=file:{self.model_dir}"

    @property
    def argv(self) -> list[str]:
        return _check_argv([self.executable, "-m", self.model_arg])

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        self.dropped_env = [k for k in ENV_DROPPED if k in env]
        for k in ENV_DROPPED:
            env.pop(k, None)
        env.update(self.extra_env)
        env["SERVING_INFERENCE_ADDRESS"] = self.base
        env["SERVING_MANAGEMENT_ADDRESS"] = self.base
        return env

    def start(self) -> None:
        try:
            self.proc = subprocess.Popen(self.argv, env=self.environment(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         start_new_session=True)  # own session → own process group
        except OSError as exc:
            raise WizardError(f"cannot start {self.executable}: {exc.strerror or exc}",
                              "check that it is executable (--djl-serving PATH)") from None
        for stream in (self.proc.stdout, self.proc.stderr):
            t = threading.Thread(target=self._read, args=(stream,), daemon=True)
            t.start()
            self._threads.append(t)

    def _read(self, stream) -> None:
        for raw in _split_lines(stream):
            line = redact(raw.decode("utf-8", errors="replace"))
            with self._lock:
                self.lines.append(line)
                self._count += 1
            if FAILED_REGISTER in line:
                self.failed_register.set()
            if self.on_line is not None:
                try:
                    self.on_line(line)
                except Exception:
                    pass
        stream.close()

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def exited(self) -> Optional[int]:
        """The exit code once the leader has exited, else None."""
        if self.proc is None:
            return None
        return self.proc.poll()

    def log(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def settled_log(self, quiet: float = 0.3, limit: float = 2.0) -> list[str]:
        """The log once it has been quiet for ``quiet`` s (at most ``limit`` s): the line that explains a failed
        answer is written around the answer, and the reader threads may not have it yet when the answer came."""
        end, seen = time.monotonic() + limit, -1
        while time.monotonic() < end:
            with self._lock:
                count = self._count
            if count == seen:
                break
            seen = count
            time.sleep(quiet)
        return self.log()

    # ---------------------------------------------------------------------------------- talk
    def ping(self, timeout: float = 5.0) -> Ping:
        try:
            status, data = _http("GET", self.base + "/ping", timeout=timeout)
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError, OSError):
            return Ping("loading")  # not bound yet: djl-serving binds after the startup models loaded
        body = _json(data)
        if status == 500:
            return Ping("failed", status, body if isinstance(body, dict) else None)
        if status == 200 and isinstance(body, dict) and body:
            states = [str(v.get("status", "")) if isinstance(v, dict) else str(v) for v in body.values()]
            if all(s == "Healthy" for s in states):
                self.ready = True
                return Ping("ready", status, body)
        return Ping("pending", status, body if isinstance(body, dict) else None)

    def invoke(self, prompt: str, max_new_tokens: int, timeout: float) -> tuple[int, object, float]:
        """POST /invocations with LMI's rolling-batch schema; (HTTP status, parsed body, seconds)."""
        payload = {"inputs": prompt, "parameters": {"max_new_tokens": int(max_new_tokens), "details": True}}
        t0 = time.monotonic()
        status, data = _http("POST", self.base + "/invocations", json.dumps(payload).encode(), timeout=timeout)
        elapsed = time.monotonic() - t0
        body = _json(data)
        return status, (body if body is not None else data.decode("utf-8", errors="replace")), elapsed

    # ---------------------------------------------------------------------------------- stop
    def stop(self, grace: float = 10.0, *, delete: bool = True) -> StopReport:
        """DELETE the model (when it was ready), SIGTERM the group, SIGKILL what is left after ``grace``.
        Safe to call twice and from two threads: the second call waits for the first and returns its report."""
        with self._stop_lock:
            if self._stopped is not None:
                return self._stopped
            rep = StopReport()
            proc = self.proc
            if proc is None:
                self._stopped = rep
                return rep
            pgid = proc.pid  # start_new_session: the leader's pid is the group id
            if delete and self.ready and proc.poll() is None:
                try:
                    status, _ = _http("DELETE", f"{self.base}/models/{self.model_name}", timeout=max(grace, 5.0))
                    rep.deleted = status == 200
                except (urllib.error.URLError, ConnectionError, OSError):
                    rep.deleted = False
            if group_members(pgid) or not _leader_gone(proc):
                rep.sigterm = self._signal(pgid, signal.SIGTERM)
                self._wait_group(proc, pgid, grace)
            if group_members(pgid) or not _leader_gone(proc):
                rep.sigkill = self._signal(pgid, signal.SIGKILL)
                self._wait_group(proc, pgid, 5.0)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for t in self._threads:
                t.join(timeout=2)
            rep.survivors = group_members(pgid)
            rep.exit_code = proc.returncode
            self._stopped = rep
            return rep

    @staticmethod
    def _signal(pgid: int, sig: int) -> bool:
        try:
            os.killpg(pgid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    @staticmethod
    def _wait_group(proc: subprocess.Popen, pgid: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader so it does not count as alive
            if not group_members(pgid) and _leader_gone(proc):
                return
            time.sleep(0.02)
