"""The load test before upload: check, stage, start djl-serving, wait until ready, one prompt, stop, clean up.

:func:`serve_test` is what the ``serve-test`` verb and the pipeline step call. It reports typed progress
(:class:`~..base.progress.Progress`, step ``"serve_test"``; djl-serving's log lines carry
``extra={"log": True}``) and honours a :class:`~..base.progress.CancelToken` at any moment: the server's
process group is stopped and the staging removed before :class:`~..base.errors.Cancelled` is raised.

Outcomes (:attr:`ServeResult.status`): ``ok`` (loaded and answered: exit 0), ``failed`` (did not load or
did not answer, or the GPU memory was not freed: exit 1), ``skipped`` (no djl-serving here: exit 2, one line
saying where it runs). Bad input — including a folder ``check`` refuses, which is refused *before* the
server starts — raises :class:`~..base.errors.WizardError` (exit 2).
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .. import lmi
from ..base.errors import Cancelled, WizardError
from ..base.progress import CancelToken, ProgressFn, emit
from . import diagnose, gpumem
from .defaults import DEFAULT_GRACE, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PROMPT, DEFAULT_TIMEOUT
from .server import WHERE_IT_RUNS, DjlServer, find_djl_serving, free_port
from .staging import CONTAINER_ROOT, Staging, stage

STEP = "serve_test"


@dataclass
class ServeOptions:
    djl_serving: Optional[str] = None  # command or path; default: djl-serving on PATH / /usr/bin/djl-serving
    port: Optional[int] = None  # default: a free port on 127.0.0.1
    timeout: float = DEFAULT_TIMEOUT  # seconds to wait for /ping to be Healthy
    prompt: str = DEFAULT_PROMPT
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    grace: float = DEFAULT_GRACE  # SIGTERM → SIGKILL
    request_timeout: float = 600.0
    model_name: str = "model"
    container_root: str = CONTAINER_ROOT
    check: bool = True  # run core.check on the folder first (refuse before the server starts)
    check_kw: dict = field(default_factory=dict)  # passed to check_dir (tests: installed, gpu_state, …)
    nvml: Any = None  # the pynvml module (None: import it; False: do not check GPU memory)
    free_timeout: float = 30.0  # how long the GPU memory may take to come back after the stop
    poll_interval: float = 0.1

    def validate(self) -> "ServeOptions":
        if self.port is not None and not (0 < int(self.port) < 65536):
            raise WizardError(f"port {self.port} is not a TCP port", "give --port between 1 and 65535, or leave it out")
        for what, v in (("--timeout", self.timeout), ("--max-new-tokens", self.max_new_tokens),
                        ("grace period", self.grace + 1)):
            if not (isinstance(v, (int, float)) and v > 0):
                raise WizardError(f"{what} must be positive, not {v!r}", f"give {what} as a positive number")
        if not str(self.prompt).strip():
            raise WizardError("the prompt is empty", "give --prompt TEXT")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.model_name):
            raise WizardError(f"bad model name {self.model_name!r}", "use letters, digits, _ . -")
        return self


@dataclass
class ServeResult:
    status: str  # ok | failed | skipped | cancelled
    layout: Optional[str] = None
    ready_s: Optional[float] = None
    latency_s: Optional[float] = None
    text: Optional[str] = None
    generated_tokens: Optional[int] = None
    tokens_per_s: Optional[float] = None
    error: Optional[str] = None
    fix: Optional[str] = None
    code: Optional[str] = None  # the diagnosis slug on failure
    model_arg: Optional[str] = None  # NAME=file:DIR as given to -m
    port: Optional[int] = None
    staging: Optional[dict] = None
    stop: Optional[dict] = None
    gpu_freed: Optional[bool] = None
    gpu_used_bytes: Optional[int] = None  # GPU memory the loaded model held (NVML, all GPUs), when known
    notes: list[str] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "failed": 1, "skipped": 2, "cancelled": 130}.get(self.status, 1)

    def to_json(self) -> dict:
        d: dict = {"ok": self.ok, "status": self.status, "ready_s": self.ready_s, "latency_s": self.latency_s,
                   "text": self.text}
        if self.tokens_per_s is not None:
            d["tokens_per_s"] = self.tokens_per_s
            d["generated_tokens"] = self.generated_tokens
        if not self.ok:
            d["error"], d["fix"] = self.error, self.fix
            if self.code:
                d["code"] = self.code
        d.update({"layout": self.layout, "model": self.model_arg, "port": self.port, "staging": self.staging,
                  "stop": self.stop, "gpu_freed": self.gpu_freed, "gpu_used_bytes": self.gpu_used_bytes,
                  "notes": self.notes})
        if not self.ok:
            d["log_tail"] = self.log_tail[-20:]
        return d


def _answer_text(body: object) -> tuple[Optional[str], Optional[int], Optional[str]]:
    """(generated text, generated tokens, error) from LMI's rolling-batch response
    (``{"generated_text", "details": {"generated_tokens", "finish_reason"}}``; error: ``{"error", "code"}``)."""
    if isinstance(body, list) and body and isinstance(body[0], dict):  # dynamic batch: a list of answers
        body = body[0]
    if not isinstance(body, dict):
        return None, None, f"the answer is not LMI's JSON: {str(body)[:200]!r}"
    if "error" in body:
        return None, None, f"the server answered an error: {str(body['error'])[:300]}"
    text = body.get("generated_text")
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    if details.get("finish_reason") == "error":
        return None, None, "the generation failed (finish_reason: error)"
    if not isinstance(text, str):
        return None, None, "the answer has no generated_text"
    n = details.get("generated_tokens")
    return text, (n if isinstance(n, int) and n >= 0 else None), None


def _check_first(model_dir: Path, lmi_version: Optional[str], layout: Optional[str], options: ServeOptions,
                 progress: ProgressFn | None):
    """Run core.check; refuse (WizardError, exit 2) when it finds an error. Returns the report."""
    from ..preflight import check_dir

    emit(progress, STEP, f"checking {model_dir} before starting the server")
    rep = check_dir(model_dir, layout=layout, lmi_version=lmi_version, progress=None, **options.check_kw)
    if rep.errors:
        e = rep.errors[0]
        more = f" (and {len(rep.errors) - 1} more: lmi-wizard check {model_dir})" if len(rep.errors) > 1 else ""
        raise WizardError(f"{model_dir} would not load, so the server was not started: {e.message}{more}",
                          e.fix or f"run lmi-wizard check {model_dir}")
    return rep


def resolve_model(model_dir: str | os.PathLike, lmi_version: Optional[str] = None, layout: Optional[str] = None,
                  options: ServeOptions | None = None, progress: ProgressFn | None = None):
    """(layout, folder holding config.pbtxt or the engines, engine folder, warnings) for ``model_dir``."""
    from .. import layout as L

    options = options or ServeOptions()
    path = Path(os.path.abspath(os.path.expanduser(os.fspath(model_dir))))
    if not path.is_dir():
        raise WizardError(f"model folder not found: {path}" if not path.exists() else f"{path} is not a folder",
                          "pass the compiled model folder (Triton: the folder holding tensorrt_llm/; flat: the "
                          "trtllm-build output)")
    warnings: list[str] = []
    if layout is None and lmi_version:  # the release's layout rule, so a folder one level off is named as such
        from ..facts.target import layout_for_lmi

        try:
            layout = layout_for_lmi(lmi_version)
        except (WizardError, ValueError, TypeError):
            raise WizardError(f"LMI version {lmi_version!r} is not a version", "give e.g. 0.30.0 or 0.33.0") from None
        layout = layout if layout in L.LAYOUTS else None
    if options.check:
        rep = _check_first(path, lmi_version, layout, options, progress)
        warnings = [f"check: {f.message}" for f in rep.warnings]
        layout = rep.layout
        mdir = Path(rep.model_dir) if rep.model_dir else path
        edir = Path(rep.engine_dir) if rep.engine_dir else mdir
    else:
        layout = layout or L.infer_layout(path)
        mdir = L.source_folder(path, layout)
        edir = mdir / "1" if layout == "triton" else mdir
    return layout, mdir, edir, warnings


def serve_test(model_dir: str | os.PathLike, layout: Optional[str] = None, lmi_version: Optional[str] = None,
               answers: Optional[lmi.LmiAnswers] = None, options: ServeOptions | None = None,
               progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ServeResult:
    """Load the compiled model in djl-serving, send one prompt, stop. See the module text.

    ``answers`` are the LMI answers the wizard generated for publish (the pipeline passes them); without them
    they are read from the engine (:func:`..lmi.answers_from_engine`), like ``lmi-config`` does."""
    options = (options or ServeOptions()).validate()
    cancel = cancel or CancelToken()
    cancel.raise_if_cancelled("load test")
    exe = find_djl_serving(options.djl_serving)
    if exe is None:  # one line, before anything else runs (the caller shows it)
        what = f"{options.djl_serving} not found" if options.djl_serving else "djl-serving not found"
        return ServeResult("skipped", layout=layout, error=f"load test skipped: {what}", fix=WHERE_IT_RUNS)
    layout, mdir, edir, notes = resolve_model(model_dir, lmi_version, layout, options, progress)
    if answers is None:
        answers = lmi.answers_from_engine(str(mdir), edir, layout=layout, tokenizer_dir=mdir, lmi_version=lmi_version)
    lmi.normalise(answers)
    res = ServeResult("failed", layout=layout, notes=list(notes))
    before, why = gpumem.snapshot(options.nvml)
    if why:
        res.notes.append(why)
    st: Optional[Staging] = None
    server: Optional[DjlServer] = None
    unregister = lambda: None  # noqa: E731
    try:
        st = stage(mdir, layout, answers, container_root=options.container_root)
        res.staging = st.to_dict()
        for n in st.notes:
            emit(progress, STEP, n)
        cancel.raise_if_cancelled("load test")
        port = int(options.port) if options.port else free_port()
        res.port = port

        def on_line(line: str) -> None:
            emit(progress, STEP, line, extra={"log": True})

        server = DjlServer(exe, options.model_name, st.model_dir, port=port, env=st.env, on_line=on_line)
        res.model_arg = server.model_arg

        def on_cancel() -> None:  # from the UI thread: stop in the background, the run's thread cleans up too
            threading.Thread(target=server.stop, args=(options.grace,), daemon=True).start()

        unregister = cancel.on_cancel(on_cancel)
        emit(progress, STEP, f"starting {exe} -m {server.model_arg} on {server.base}")
        t0 = time.monotonic()
        server.start()
        if server.dropped_env:
            res.notes.append("removed from the server's environment: " + ", ".join(server.dropped_env)
                             + " (each would change what loads)")
        outcome = _wait_ready(server, options, cancel, t0, progress, layout, before)
        if outcome is not None:  # failed
            res.error, res.fix, res.code = outcome
        else:
            res.ready_s = round(time.monotonic() - t0, 3)
            emit(progress, STEP, f"ready after {res.ready_s:.1f} s; sending one prompt "
                                 f"({options.max_new_tokens} new tokens)")
            if before is not None:  # what the loaded model holds on the GPUs (NVML), for the report
                loaded, _ = gpumem.snapshot(options.nvml)
                if loaded is not None:
                    res.gpu_used_bytes = sum(max(0, loaded.used[i] - before.used.get(i, 0)) for i in loaded.used)
            _ask(server, options, res, layout, before, cancel)
    except BaseException as exc:
        unregister()
        _finish(server, st, options, res, before, progress, cancel=None)
        if cancel.cancelled and not isinstance(exc, (KeyboardInterrupt, Cancelled)):
            raise Cancelled("load test") from None  # the server stopped under a request: that is the cancel
        raise
    unregister()
    _finish(server, st, options, res, before, progress, cancel)
    if cancel.cancelled:
        raise Cancelled("load test")
    return res


def _wait_ready(server: DjlServer, options: ServeOptions, cancel: CancelToken, t0: float,
                progress: ProgressFn | None, layout: str, before) -> Optional[tuple[str, str, Optional[str]]]:
    """None when /ping says Healthy, else (error, fix, code)."""
    deadline = t0 + options.timeout
    last_note = t0
    while True:
        cancel.raise_if_cancelled("load test")
        code = server.exited()
        if code is not None or server.failed_register.is_set():
            if code is None:  # djl-serving logs, sleeps 3 s, stops and exits 1: no need to wait for it
                server.stop(options.grace)
                code = server.exited()
            return _explained(server, code, "djl-serving stopped before the model was ready", layout, before)
        p = server.ping(timeout=min(5.0, max(0.5, options.poll_interval * 10)))
        if p.state == "ready":
            return None
        if p.state == "failed":
            return _explained(server, None, f"/ping answered {p.status}: the model FAILED to load ({p.body})",
                              layout, before)
        now = time.monotonic()
        if now >= deadline:
            return (f"the model was not ready after {options.timeout:g} s (/ping: {p.state})",
                    "give it more time (--timeout S; the LMI image's own MODEL_LOADING_TIMEOUT is 1200 s) or read "
                    "the server log above", "timeout")
        if now - last_note >= 30:
            last_note = now
            emit(progress, STEP, f"loading… {now - t0:.0f} s", extra={"elapsed": now - t0})
        cancel.wait(options.poll_interval)


def _explained(server: DjlServer, exit_code: Optional[int], fallback: str, layout: str,
               before) -> tuple[str, str, Optional[str]]:
    """(error, fix, code) from the server's log (diagnose.explain), else ``fallback``."""
    d = diagnose.explain(server.settled_log(), layout=layout, exit_code=exit_code,
                         gpu_others=before.others() if before is not None else ())
    if d is None:
        return (fallback + (f" (exit code {exit_code})" if exit_code is not None else ""),
                "read the server log above", "load-failed")
    return d.problem, d.fix, d.code


def _ask(server: DjlServer, options: ServeOptions, res: ServeResult, layout: str, before, cancel: CancelToken) -> None:
    import urllib.error

    try:
        status, body, elapsed = server.invoke(options.prompt, options.max_new_tokens, options.request_timeout)
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        cancel.raise_if_cancelled("load test")
        res.error, res.fix, res.code = _explained(server, server.exited(), f"the request failed: {exc}", layout,
                                                  before)
        res.error = f"loaded, but did not answer: {res.error}"
        return
    res.latency_s = round(elapsed, 4)
    text, n, err = _answer_text(body)
    if status != 200 or err:
        d = diagnose.explain(server.settled_log(), layout=layout,
                             gpu_others=before.others() if before is not None else ())
        res.error = f"loaded, but the prompt failed (HTTP {status}): {err or str(body)[:300]}"
        res.fix = d.fix if d is not None and d.code != "load-failed" else \
            "read the server log above; the request was " + \
            f'{{"inputs": …, "parameters": {{"max_new_tokens": {options.max_new_tokens}}}}}'
        res.code = d.code if d is not None else "bad-answer"
        return
    res.text = text
    res.generated_tokens = n
    if n is not None and elapsed > 0:
        res.tokens_per_s = round(n / elapsed, 2)
    res.status = "ok"


def _finish(server: Optional[DjlServer], st: Optional[Staging], options: ServeOptions, res: ServeResult,
            before, progress: ProgressFn | None, cancel: CancelToken | None) -> None:
    """Stop the server, check the GPU memory is back, remove the staging — on every path."""
    try:
        if server is not None:
            emit(progress, STEP, "stopping djl-serving (DELETE the model, SIGTERM, SIGKILL after "
                                 f"{options.grace:g} s)")
            rep = server.stop(options.grace)
            res.stop = rep.to_dict()
            res.log_tail = server.log()[-40:]
            if rep.survivors:
                res.status = "failed"
                res.error = res.error or f"processes of the server's group survived SIGKILL: {rep.survivors}"
                res.fix = res.fix or "kill them by hand (kill -9 PID); they may be stuck in the GPU driver"
            if before is not None:
                freed, note = gpumem.wait_freed(before, nvml=options.nvml, timeout=options.free_timeout,
                                                cancel=cancel)
                res.gpu_freed = freed
                res.notes.append(note)
                emit(progress, STEP, note)
                if freed is False and res.status == "ok":
                    res.status = "failed"
                    res.error = f"the model loaded and answered, but {note}"
                    res.fix = "look for leftover workers (nvidia-smi) and kill them before the next run"
                    res.code = "gpu-not-freed"
    finally:
        if st is not None:
            st.cleanup()
