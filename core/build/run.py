"""Run the build: each command in its own process group, streamed, cancellable; then check what it made.

:func:`run_plan` runs a :class:`~lmi_wizard.core.build.render.BuildPlan` step by step (cwd = the example folder),
sending every output line to a callback and a log file. A failure comes back with the exit status, the last
lines and — when a known error string appears (table in ``data/build_errors.json``) — what it means and the
fix. After success :func:`validate_engine_dir` checks the engine folder and a ``build_record.json`` is
written next to the engines (atomically).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from ..base.errors import Cancelled, WizardError
from ..data import load as load_table
from ..base.findings import Finding
from .render import BuildPlan
from ..base.fsutil import atomic_write_text
from ..base.proc import run_streaming
from ..base.progress import CancelToken, ProgressFn, emit

RECORD_NAME = "build_record.json"
_RANK_RE = re.compile(r"(?:^|_)rank(\d+)\.engine$")
_CKPT_RE = re.compile(r"^rank(\d+)\.safetensors$")

LineFn = Callable[[str, str, str], None]  # (step name, stream "out"/"err", line)


# --------------------------------------------------------------------------------------------------
# Known errors
# --------------------------------------------------------------------------------------------------

@dataclass
class KnownError:
    id: str
    explanation: str
    fix: str
    line: str = ""   # the output line that matched


@lru_cache(maxsize=1)
def _error_table() -> list[dict]:
    data = load_table("build_errors.json")
    table = []
    for e in data["errors"]:
        e = dict(e)
        if "regex" in e:
            e["_re"] = re.compile(e["regex"], re.IGNORECASE)
        e["match"] = [m.lower() for m in e.get("match", [])]
        table.append(e)
    return table


def explain_failure(lines: list[str], returncode: Optional[int] = None) -> Optional[KnownError]:
    """The first known error found in ``lines`` (last lines first), or what the exit status alone says."""
    table = _error_table()
    for entry in table:
        for line in reversed(lines):
            low = line.lower()
            if any(m in low for m in entry["match"]) or ("_re" in entry and entry["_re"].search(line)):
                return KnownError(entry["id"], entry["explanation"], entry["fix"], line.strip())
    if returncode in (-9, 137):
        host = next(e for e in table if e["id"] == "host_oom")
        return KnownError("host_oom", host["explanation"], host["fix"], f"exit status {returncode} (SIGKILL)")
    return None


# --------------------------------------------------------------------------------------------------
# Engine folder validation (also used by the preflight check)
# --------------------------------------------------------------------------------------------------

def _engine_ranks(folder: Path) -> dict[int, Path]:
    ranks: dict[int, Path] = {}
    for p in folder.glob("*.engine"):
        m = _RANK_RE.search(p.name)
        if m and p.is_file():
            ranks.setdefault(int(m.group(1)), p)
    return ranks


def _config_world_size(cfg: dict) -> Optional[int]:
    pc = cfg.get("pretrained_config")
    if isinstance(pc, dict):
        mp = pc.get("mapping") or {}
        if isinstance(mp.get("world_size"), int):
            return mp["world_size"]
        tp, pp = mp.get("tp_size"), mp.get("pp_size", 1)
        if isinstance(tp, int) and isinstance(pp, int):
            return tp * pp
    bc = cfg.get("builder_config")  # legacy build.py engines
    if isinstance(bc, dict):
        tp, pp = bc.get("tensor_parallel"), bc.get("pipeline_parallel", 1)
        if isinstance(tp, int) and isinstance(pp, int):
            return tp * pp
    mp = cfg.get("mapping")  # a converted checkpoint's config.json
    if isinstance(mp, dict) and isinstance(mp.get("world_size"), int):
        return mp["world_size"]
    return None


def engine_format(cfg: dict) -> str:
    """"flat" (trtllm-build output, LMI 0.33+ loads it as is), "legacy" (build.py), "checkpoint", "unknown"."""
    if isinstance(cfg.get("build_config"), dict) and "pretrained_config" in cfg:
        return "flat"
    if "builder_config" in cfg:
        return "legacy"
    if "architecture" in cfg and "mapping" in cfg:
        return "checkpoint"
    return "unknown"


def validate_engine_dir(path: str | os.PathLike, expect_world_size: Optional[int] = None,
                        target: Optional[str] = None) -> list[Finding]:
    """What is wrong (level "error"), doubtful ("warning") or worth saying ("info") about an engine folder.

    ``target``: "flat" (LMI 0.33+: the folder itself is the artifact, it must be trtllm-build output) or
    "triton" (LMI ≤ 0.32: the engines go into tensorrt_llm/1/ of the model repository); None: no target check.
    """
    d = Path(path)
    out: list[Finding] = []
    if not d.is_dir():
        return [Finding("error", "engine_dir_missing", f"engine folder not found: {d}", "build the engines first")]
    ranks = _engine_ranks(d)
    ckpt = [p for p in d.glob("rank*.safetensors") if _CKPT_RE.match(p.name)]
    cfg_path = d / "config.json"
    cfg: Optional[dict] = None
    if not cfg_path.is_file():
        if ckpt and not ranks:
            return [Finding("error", "checkpoint_only", f"{d} holds a converted checkpoint (rank*.safetensors), "
                            "not engines", "run trtllm-build on it (--checkpoint_dir) to make the engines")]
        out.append(Finding("error", "no_config", f"{d} has no config.json", "use the folder the builder wrote "
                           "(its --output_dir), and do not delete config.json"))
    else:
        try:
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
            if not isinstance(cfg, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            out.append(Finding("error", "bad_config", f"{cfg_path} is not readable JSON ({exc})",
                               "rebuild; the build was probably interrupted"))
            cfg = None
    if not ranks:
        if ckpt or (cfg is not None and engine_format(cfg) == "checkpoint"):
            out.append(Finding("error", "checkpoint_only", f"{d} holds a converted checkpoint (rank*.safetensors), "
                               "not engines", "run trtllm-build on it (--checkpoint_dir) to make the engines"))
        else:
            out.append(Finding("error", "no_engines", f"no rank*.engine files in {d}", "run the build step"))
        return out
    empty = sorted(p.name for p in ranks.values() if p.stat().st_size == 0)
    if empty:
        out.append(Finding("error", "empty_engine", f"empty engine file(s): {', '.join(empty)}",
                           "rebuild; the build was interrupted"))
    n = len(ranks)
    if sorted(ranks) != list(range(n)):
        out.append(Finding("error", "rank_gap", f"engine ranks {sorted(ranks)} are not 0..{n - 1}",
                           "rebuild into an empty folder"))
    cfg_ws = _config_world_size(cfg) if cfg is not None else None
    if expect_world_size is not None and n != expect_world_size:
        out.append(Finding("error", "rank_count", f"{n} engine file(s) for world size {expect_world_size}",
                           "rebuild with the world size you will serve with (TP × PP)"))
    if cfg_ws is not None and cfg_ws != n:
        out.append(Finding("error", "config_world_size", f"config.json says world size {cfg_ws}, "
                           f"but there are {n} engine file(s)", "rebuild into an empty folder"))
    if cfg is not None:
        fmt = engine_format(cfg)
        if target == "flat" and fmt != "flat":
            out.append(Finding("error", "not_flat", f"{d}/config.json has no pretrained_config + build_config: "
                               "LMI 0.33+ loads only trtllm-build output", "build with convert_checkpoint.py + "
                               "trtllm-build of the TensorRT-LLM version in that LMI image"))
        if fmt == "flat":
            out.append(Finding("info", "format_flat", "trtllm-build engine folder (config.json with "
                               "pretrained_config + build_config): LMI 0.33+ loads it as is; for LMI ≤ 0.32 it goes "
                               "into tensorrt_llm/1/ of a Triton model repository", None))
        elif fmt == "legacy":
            out.append(Finding("info", "format_legacy", "legacy build.py engines: they go into tensorrt_llm/1/ of a "
                               "Triton model repository (LMI ≤ 0.32)", None))
    return out


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------

@dataclass
class StepResult:
    name: str
    argv: list[str]
    returncode: int
    elapsed: float
    tail: list[str] = field(default_factory=list)
    error: Optional[KnownError] = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class BuildResult:
    ok: bool
    steps: list[StepResult]
    engine_dir: Path
    findings: list[Finding] = field(default_factory=list)
    log_path: Optional[Path] = None
    record_path: Optional[Path] = None

    @property
    def failed_step(self) -> Optional[StepResult]:
        return next((s for s in self.steps if not s.ok), None)

    def failure(self) -> Optional[Finding]:
        """Why the build failed, the fix in its own field (None when it succeeded): the failed step with
        its known error, else the first error of the engine-folder check."""
        if self.ok:
            return None
        s = self.failed_step
        if s is not None:
            problem = f"{s.name} failed with exit status {s.returncode}"
            if s.error:
                return Finding("error", f"build-{s.error.id}", f"{problem}: {s.error.explanation}", s.error.fix)
            return Finding("error", "build-failed", problem)
        errs = [f for f in self.findings if f.blocking]
        if errs:
            more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
            return errs[0].with_(problem=errs[0].problem + more)
        return Finding("error", "build-failed", "build failed")

    def summary(self) -> str:
        """One line for a person: "engines ready in …", or the failure with its fix."""
        if self.ok:
            return f"engines ready in {self.engine_dir}"
        s = self.failed_step
        if s is not None:
            return self.failure().text()
        errs = [f for f in self.findings if f.level == "error"]
        return "; ".join(str(f) for f in errs) or "build failed"

    def to_json(self) -> dict:
        return {
            "ok": self.ok, "engine_dir": str(self.engine_dir), "summary": self.summary(),
            "log_path": str(self.log_path) if self.log_path else None,
            "record_path": str(self.record_path) if self.record_path else None,
            "steps": [{"name": s.name, "argv": s.argv, "returncode": s.returncode, "elapsed": round(s.elapsed, 3),
                       "tail": s.tail, "error": asdict(s.error) if s.error else None} for s in self.steps],
            "findings": [f.to_json() | {"level": f.severity} for f in self.findings],
        }


def redact(line: str) -> str:
    """Mask secrets in a log line (``core.base.secrets.redact``: the environment's secrets, tokens, AWS keys)."""
    from ..base.secrets import redact as _redact

    return _redact(line)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def environment_facts() -> dict:
    """tensorrt-llm / tensorrt versions and the GPUs, for the build record (never raises)."""
    facts: dict = {"tensorrt_llm": None, "tensorrt": None, "gpus": [], "gpu_note": None}
    try:
        from ..facts.versions import detect_tensorrt, detect_tensorrt_llm
        t = detect_tensorrt_llm()
        facts["tensorrt_llm"] = t.version if t.installed else None
        t = detect_tensorrt()
        facts["tensorrt"] = t.version if t.installed else None
    except Exception as exc:  # a detection problem never stops the record
        facts["versions_note"] = f"version detection failed: {exc}"
    try:
        from ..facts.gpu import detect_gpus
        st = detect_gpus()
        facts["gpus"] = [{"name": g.name, "arch": g.arch, "memory_total_bytes": g.memory_total_bytes}
                         for g in st.gpus]
        if not st.available:
            facts["gpu_note"] = st.reason
    except Exception as exc:
        facts["gpu_note"] = f"GPU detection failed: {exc}"
    return facts


def _check_output_free(plan: BuildPlan, force: bool) -> None:
    d = plan.engine_dir
    if d.exists() and not d.is_dir():
        raise WizardError(f"the engine folder {d} is a file", "choose another output folder")
    if d.is_dir() and not force and (_engine_ranks(d) or (d / "config.json").exists()):
        raise WizardError(f"{d} already holds a build", "choose another output folder, or confirm overwriting "
                          "(--force)")


def _check_programs(plan: BuildPlan, env: Optional[dict]) -> None:
    """Every step's program exists before the first one runs (a missing trtllm-build after a 20-minute
    conversion is a waste). A path with a slash is looked up from the step's folder, as the kernel does."""
    import shutil

    path = (env if env is not None else os.environ).get("PATH", os.defpath)
    for step in plan.steps:
        exe = step.argv[0] if step.argv else ""
        if os.sep in exe:
            p = Path(exe) if os.path.isabs(exe) else step.cwd / exe
            ok = p.is_file() and os.access(p, os.X_OK)
        else:
            ok = bool(exe) and shutil.which(exe, path=path) is not None
        if not ok:
            raise WizardError(f"{step.name}: program not found: {exe or '(empty)'}",
                              f"install it or give its path (e.g. --python / --trtllm-build); nothing was run")


def run_plan(plan: BuildPlan, *, on_line: Optional[LineFn] = None, log_path: str | os.PathLike | None = None,
             progress: ProgressFn | None = None, cancel: CancelToken | None = None,
             env: Optional[dict] = None, timeout: Optional[float] = None, force: bool = False,
             record: bool = True, env_facts: Optional[dict] = None, target: Optional[str] = None) -> BuildResult:
    """Run every step of ``plan``; stop at the first failure. Raises Cancelled when cancelled (the whole
    process group is gone by then) and WizardError for a plan with errors, before anything runs.
    ``target`` ("flat"/"triton"/None) is handed to :func:`validate_engine_dir` for the check after success."""
    errs = plan.errors
    if errs:
        e = errs[0]
        raise WizardError(e.message, e.fix)
    if not plan.steps:
        raise WizardError("nothing to run: the plan has no steps", "render the plan first")
    _check_output_free(plan, force)
    _check_programs(plan, env)
    first_cwd = plan.steps[0].cwd
    if not first_cwd.is_dir():
        raise WizardError(f"example folder not found: {first_cwd}", "check the checkout")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log = Path(log_path) if log_path else first_cwd / f"lmi-wizard-build-{stamp}.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"# lmi-wizard build {_utc_now()}\n")
    except OSError as exc:
        raise WizardError(f"cannot write the build log {log}: {exc.strerror}", "choose a writable folder") from None
    started, t0 = _utc_now(), time.monotonic()
    results: list[StepResult] = []
    total = len(plan.steps)
    for i, step in enumerate(plan.steps):
        if cancel is not None:
            cancel.raise_if_cancelled("build")
        emit(progress, "build", f"{step.name}: {step.shell}", done=i, total=total, unit="steps",
             extra={"step": step.name})
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"$ (cd {step.cwd} && {redact(step.shell)})\n")

        def line_cb(stream: str, line: str, _name=step.name) -> None:
            if on_line is not None:
                on_line(_name, stream, line)
            if progress is not None:
                emit(progress, "build", line, extra={"step": _name, "stream": stream})

        res = run_streaming(step.argv, cwd=step.cwd, env=env, on_line=line_cb, log_path=log, cancel=cancel,
                            timeout=timeout, tail_lines=40, redact=redact)
        if res.cancelled and cancel is not None and cancel.cancelled:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"# cancelled during {step.name}\n")
            raise Cancelled(f"build ({step.name})")
        sr = StepResult(step.name, list(step.argv), res.returncode if not res.cancelled else -9, res.elapsed, res.tail)
        if res.cancelled:  # timed out
            sr.tail = sr.tail + [f"(stopped after the {timeout:.0f} s time limit)"]
        if not sr.ok:
            sr.error = explain_failure(res.tail, sr.returncode)
            results.append(sr)
            emit(progress, "build", f"{step.name} failed (exit status {sr.returncode})", done=i, total=total,
                 unit="steps", extra={"step": step.name, "failed": True})
            return BuildResult(False, results, plan.engine_dir, [], log, None)
        results.append(sr)
    findings = validate_engine_dir(plan.engine_dir, plan.world_size, target=target)
    ok = not any(f.level == "error" for f in findings)
    record_path = None
    if ok and record:
        record_path = write_build_record(plan, results, started, time.monotonic() - t0, env_facts)
    emit(progress, "build", "engines ready" if ok else "engine folder check failed", done=total, total=total,
         unit="steps", extra={"ok": ok})
    return BuildResult(ok, results, plan.engine_dir, findings, log, record_path)


def write_build_record(plan: BuildPlan, results: list[StepResult], started: str, elapsed: float,
                       env_facts: Optional[dict] = None) -> Path:
    facts = env_facts if env_facts is not None else environment_facts()
    rec = {
        "tool": "lmi-wizard",
        "tensorrt_llm": facts.get("tensorrt_llm"),
        "tensorrt": facts.get("tensorrt"),
        "checkout_version": plan.trtllm_version,
        "gpus": facts.get("gpus", []),
        "gpu_note": facts.get("gpu_note"),
        "world_size": plan.world_size, "tp_size": plan.tp_size, "pp_size": plan.pp_size,
        "layout": plan.layout,
        "steps": [{"name": r.name, "argv": [redact(a) for a in r.argv], "elapsed_s": round(r.elapsed, 3)}
                  for r in results],
        "intent": asdict(plan.intent) if plan.intent is not None else None,
        "translations": plan.translations,
        "dropped": [asdict(d) for d in plan.dropped],
        "started": started, "finished": _utc_now(), "elapsed_s": round(elapsed, 3),
    }
    path = plan.engine_dir / RECORD_NAME
    atomic_write_text(path, json.dumps(rec, indent=2) + "\n")
    return path


def read_build_record(engine_dir: str | os.PathLike) -> Optional[dict]:
    p = Path(engine_dir) / RECORD_NAME
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
