"""The wizard's whole run, step by step: what the TUI's Run screen and ``lmi-wizard run RECIPE`` execute.

Order (steps that do not apply to the answers are left out)::

    environment → checkout → build (or LMI's AOT partition, or a prebuilt engine folder)
      → assemble (Triton layout: triton_model_repo/tensorrt_llm/ with the engines in 1/)
      → config (Triton layout: config.pbtxt filled like fill_template.py, decoupled, engine path, review)
      → tokenizer → publish (S3 or a local folder) → lmi (the three LMI configurations) → final (tree, listing)

Each step is a :class:`PipelineStep` with ``plan(answers, ctx) -> list[str]`` (shell lines for
``lmi-wizard plan``), ``run(answers, ctx, progress, cancel) -> StepResult`` and
``still_valid(record, ctx) -> bool``. A run records every finished step in ``<work>/.lmi-wizard/run-state.json``
with what it produced (paths, sizes, sha256 for files up to 16 MiB, size + mtime beyond) and a digest of its
inputs (the answers it reads and the outputs of the steps it uses). ``resume=True`` skips a step whose
record is complete, whose inputs are unchanged and whose outputs are still there and unchanged; anything
else is redone, and so is every step that uses what it produced.

Everything is logged to ``<work>/.lmi-wizard/run.log``; secret values (``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``HF_TOKEN`` … from the environment, and tokens typed into the wizard) are replaced by
``***`` in the log, in progress messages, in errors and in the plan. Outputs that already exist and that
this work folder's run did not make are never replaced without ``force``.

Progress: ``progress(Progress)`` receives, in order, for each step an event with
``extra["event"] == "step"`` and ``extra["status"]`` in ``running | done | skipped | failed | cancelled``
(plus ``index``, ``count``, ``title``, ``elapsed``, ``summary``), and between them the step's own events
(``extra["event"] == "progress"``, with ``done``/``total`` for bars, or a log line in ``message``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shlex
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from ..base import runlock
from ..base.errors import Cancelled, WizardError
from ..base.fsutil import atomic_write_text
from ..base.findings import raise_first
from ..base.fmt import human_bytes as _human
from ..base.progress import CancelToken, Progress, ProgressFn
from ..wizard import (Answers, build_intent, destination_text, gpu_facts, lmi_model_id, model_ref, needs_checkout,
                      resolve_layout, resolve_tag, uses_backend_repo, validate_all, work_path)

RUN_DIR = ".lmi-wizard"
STATE_NAME = "run-state.json"
LOG_NAME = "run.log"
LOCK_NAME = "lock"
RECIPE_NAME = "recipe.toml"
HASH_LIMIT = 16 * 1024 * 1024  # files up to this size get a sha256; larger ones size + mtime
STATE_FORMAT = 1
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "HF_TOKEN",
              "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN")
AWS_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

__all__ = [
    "Pipeline", "PipelineStep", "StepResult", "RunContext", "RunReport", "Redactor", "build_pipeline",
    "plan_script", "file_record", "file_still_valid", "RUN_DIR", "STATE_NAME", "LOG_NAME",
]


# --------------------------------------------------------------------------------------------------
# secrets


class Redactor:
    """Replaces every known secret value with ``***``: the environment's ``SECRET_ENV`` values (read when
    called, so a value set later is covered too), extra values (tokens typed into the wizard), credentials
    in URLs, and token-shaped strings (``hf_…``, AWS key ids)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._extra = [v for v in extra if v and len(v) >= 4]

    def values(self) -> list[str]:
        vals = set(self._extra)
        for name in SECRET_ENV:
            v = os.environ.get(name)
            if v and len(v) >= 4:
                vals.add(v)
        return sorted(vals, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for v in self.values():
            if v in text:
                text = text.replace(v, "***")
        from ..build.run import redact as _redact_tokens
        from ..checkout import redact_url

        return redact_url(_redact_tokens(text))


# --------------------------------------------------------------------------------------------------
# what a step produced


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_record(path: str | os.PathLike, check: str = "auto") -> dict:
    """``{path, size, mtime_ns, sha256, check}`` for one file. ``check``: ``hash`` (content), ``stat``
    (size + mtime), ``exists``, or ``auto`` (hash up to 16 MiB, stat beyond)."""
    p = Path(path)
    st = p.stat()
    if check == "auto":
        check = "hash" if st.st_size <= HASH_LIMIT else "stat"
    rec = {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "check": check}
    if check == "hash":
        rec["sha256"] = _sha256(p)
    return rec


def file_still_valid(rec: dict) -> bool:
    """Whether the file a :func:`file_record` describes is still there and unchanged."""
    p = Path(rec["path"])
    try:
        st = p.stat()
    except OSError:
        return False
    if not p.is_file():
        return False
    check = rec.get("check", "stat")
    if check == "exists":
        return True
    if st.st_size != rec.get("size"):
        return False
    if check == "stat":
        return st.st_mtime_ns == rec.get("mtime_ns")
    if check == "hash":
        if st.st_mtime_ns == rec.get("mtime_ns"):
            return True
        try:
            return _sha256(p) == rec.get("sha256")
        except OSError:
            return False
    return True


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class StepResult:
    """What one step produced. ``outputs`` are values later steps use (JSON-able); ``files`` are
    :func:`file_record` dicts checked by ``--resume``."""

    outputs: dict = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)
    summary: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return _digest({"outputs": self.outputs,
                        "files": [(f["path"], f["size"], f.get("sha256") or f.get("mtime_ns")) for f in self.files
                                  if f.get("check") != "exists"]})


# --------------------------------------------------------------------------------------------------
# run context


class RunLog:
    """The run's log file: one timestamped line per event, secrets redacted, thread-safe."""

    def __init__(self, path: Path, redact: Redactor) -> None:
        self.path = path
        self.redact = redact
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8", errors="replace")

    def write(self, step: str, text: str) -> None:
        now = _dt.datetime.now().strftime("%H:%M:%S")
        lines = self.redact(str(text)).splitlines() or [""]
        with self._lock:
            if self._fh.closed:
                return
            for line in lines:
                self._fh.write(f"{now} [{step}] {line}\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


@dataclass
class RunContext:
    """Shared by the steps of one run (or one plan)."""

    answers: Answers
    work_dir: Path
    run_dir: Path
    force: bool = False
    python: str = "python3"
    trtllm_build: tuple[str, ...] = ("trtllm-build",)
    redact: Redactor = field(default_factory=Redactor)
    outputs: dict = field(default_factory=dict)  # what finished steps produced, by key
    digests: dict = field(default_factory=dict)  # step name → digest of what it produced
    records: dict = field(default_factory=dict)  # step name → record from an earlier run (run-state)
    log: Optional[RunLog] = None
    hf_endpoint: Optional[str] = None
    s3_endpoint: Optional[str] = None
    owned: bool = False  # set per step: an earlier run of this work folder made this step's outputs

    def path(self, value: str | os.PathLike | None) -> Optional[Path]:
        return work_path(self.answers, value)

    @property
    def may_replace(self) -> bool:
        """Whether this step may replace outputs that already exist."""
        return self.force or self.owned

    def note(self, step: str, text: str) -> None:
        if self.log is not None:
            self.log.write(step, text)

    @property
    def log_path(self) -> Optional[Path]:
        return self.log.path if self.log is not None else None


def _q(p: Any) -> str:
    return shlex.quote(str(p))


# the plan's lmi_wizard snippets run on the interpreter lmi-wizard itself runs on (a venv or pipx install is
# not what `python3` finds on PATH)
_LMI_PYTHON = shlex.quote(sys.executable or "python3")


# --------------------------------------------------------------------------------------------------
# steps


class PipelineStep:
    name = ""
    title = ""
    keys: tuple[str, ...] = ()  # answers this step reads (a section name means all of it)
    uses: tuple[str, ...] = ()  # earlier steps whose outputs it uses
    always_run = False  # cheap checks that are redone on every run

    def applies(self, a: Answers) -> bool:
        return True

    def inputs(self, a: Answers, ctx: RunContext) -> dict:
        vals: dict[str, Any] = {}
        for k in self.keys:
            if "." in k:
                vals[k] = a[k]
            else:
                vals.update({f"{k}.{n}": v for n, v in a.section(k).items()})
        vals.update({f"after:{u}": ctx.digests.get(u) for u in self.uses})
        return vals

    def plan(self, a: Answers, ctx: RunContext) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, a: Answers, ctx: RunContext, progress: ProgressFn | None,
            cancel: CancelToken | None) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def still_valid(self, record: dict, ctx: RunContext | None = None) -> bool:
        """Whether what an earlier run of this step produced is still there, unchanged."""
        if self.always_run or record.get("status") != "done":
            return False
        return all(file_still_valid(f) for f in record.get("files", []))

    def restore(self, record: dict, ctx: RunContext) -> None:
        ctx.outputs.update(record.get("outputs", {}))


# -- 1. environment ----------------------------------------------------------------------------------


class EnvironmentStep(PipelineStep):
    name, title = "environment", "Environment check"
    keys = ("env",)
    always_run = True

    def plan(self, a, ctx):
        v = a["env.trtllm_version"] or "?"
        return [f"# the engine only loads on the TensorRT-LLM it was built with ({v}) and the same GPU architecture",
                f"pip show tensorrt-llm 2>/dev/null | grep -qx {_q('Version: ' + v)} || "
                f"echo {_q(f'warning: tensorrt-llm {v} is not what is installed here (pip show tensorrt-llm)')} >&2",
                "nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv || "
                "echo 'warning: no NVIDIA GPU visible' >&2"]

    def run(self, a, ctx, progress, cancel):
        from ..facts import environment

        layout_choice = a["env.lmi_layout"]
        report = environment.gather(lookup_tags=False, lmi_override=a["env.lmi_version"] or None,
                                    layout_override=None if layout_choice in (None, "auto") else layout_choice)
        notes = list(report.cannot_do())
        installed, wanted = report.tensorrt_llm.version, a["env.trtllm_version"]
        if installed and wanted and (a["build.method"] or "checkout") == "checkout" and \
                _release(installed) != _release(wanted):
            raise WizardError(f"the recipe builds for TensorRT-LLM {wanted}, but {installed} is installed here: "
                              "the engines would only load on the installed version",
                              f"run it in the LMI container that has tensorrt-llm {wanted}, or set "
                              f"trtllm_version = \"{installed}\" under [env]")
        # blocking problems were refused before the run started (Pipeline.refusal); the warnings are notes
        # (those about the machine are already in the report's own notes)
        notes += [f"{p.severity}: {p}" for p in validate_all(a)
                  if not p.blocking and not p.key.startswith("env")]
        if wanted and not a.is_set("env.tag"):
            from ..facts import versions

            try:
                res = versions.resolve_tag(wanted)
                if res.needs_confirmation or not res.exact:
                    notes += [n for n in res.notes if "offline" not in n and "not checked" not in n]
            except WizardError:
                pass
        layout = resolve_layout(a)
        out = {"layout": layout, "tag": resolve_tag(a), "trtllm_version": a["env.trtllm_version"],
               "installed_trtllm": report.tensorrt_llm.version, "gpus": report.gpu.summary(),
               "lmi": report.lmi.to_json()}
        summary = (f"TensorRT-LLM {a['env.trtllm_version']} (installed: {report.tensorrt_llm.version or 'none'}), "
                   f"{report.gpu.summary()}; {layout} layout")
        return StepResult(out, [], summary, notes)


def _release(version: str):
    """``0.12.0.dev2024080600`` / ``0.12.0+local`` / ``v0.12.0`` → the release an engine is tied to (numbers and
    pre-release: ``1.2.0rc6`` is not ``1.2.0``)."""
    from ..facts.versions import try_parse_version

    v = try_parse_version(version)
    return (v.release + (0,) * (3 - len(v.release)), v.pre) if v is not None else str(version)


# -- 2. checkout --------------------------------------------------------------------------------------


_CHECKOUT_OPTIONS = (("--backend-url/--trtllm-url", "[checkout] backend_url / trtllm_url"),
                     ("--dest", "[checkout] dir"))


def _recipe_spelling(fix: str | None) -> str | None:
    """A fix written for ``lmi-wizard checkout``'s options, in the recipe's settings."""
    for option, setting in _CHECKOUT_OPTIONS:
        fix = fix.replace(option, setting) if fix else fix
    return fix


class CheckoutStep(PipelineStep):
    name, title = "checkout", "Checkout"
    keys = ("env.trtllm_version", "env.tag", "checkout")

    def applies(self, a):
        return needs_checkout(a)

    def _args(self, a, ctx):
        tag = resolve_tag(a)
        if not tag:
            raise WizardError("no git tag: the TensorRT-LLM version is unknown",
                              "set trtllm_version (or tag) under [env]")
        return tag, ctx.path(a["checkout.dir"]), dict(backend_url=a["checkout.backend_url"],
                                                    trtllm_url=a["checkout.trtllm_url"],
                                                    depth=1 if a["checkout.shallow"] else None)

    def plan(self, a, ctx):
        from .. import checkout

        tag, dest, kw = self._args(a, ctx)
        plan = checkout.plan_checkout(tag, dest, **kw)
        lines = []
        if plan.error is not None:
            lines.append(f"# refuses: {plan.error}")
        for s in plan.steps:
            if s.action == "reuse":
                lines.append(f"# {s.describe()}")
                continue
            if s.action == "replace-empty":
                lines.append(f"rm -rf {_q(s.dest)}   # the empty tensorrt_llm submodule folder")
            lines.append(shlex.join(s.argv))
        return lines

    def run(self, a, ctx, progress, cancel):
        from .. import checkout

        tag, dest, kw = self._args(a, ctx)
        try:
            co = checkout.checkout(tag, dest, progress=progress, cancel=cancel, **kw)
        except WizardError as exc:  # core.checkout speaks of `lmi-wizard checkout`'s options: say it the recipe's way
            if isinstance(exc, Cancelled):
                raise
            raise WizardError(exc.problem, _recipe_spelling(exc.fix), exit_code=exc.exit_code) from None
        out = {"checkout_root": str(co.root), "template_dir": str(co.template_dir),
               "examples_dir": str(co.examples_dir), "trtllm_root": str(co.trtllm_root),
               "backend_root": str(co.backend_root) if co.backend_root else None, "tag": co.tag}
        return StepResult(out, [], f"{'reused' if co.reused else 'cloned'} {co.layout} checkout at {co.tag} in {co.root}")

    def still_valid(self, record, ctx=None):
        if record.get("status") != "done" or ctx is None:
            return False
        from .. import checkout

        try:
            tag, dest, kw = self._args(ctx.answers, ctx)
            plan = checkout.plan_checkout(tag, dest, **kw)
        except WizardError:
            return False
        return plan.ok and not plan.clones


# -- 3. build -----------------------------------------------------------------------------------------


def _model_dir_arg(a: Answers, ctx: RunContext) -> str:
    return model_ref(a) or ""


def _lmi_version(a: Answers) -> str:
    if a["env.lmi_version"]:
        return a["env.lmi_version"]
    from ..facts import target

    t = target.determine_target(trtllm_version=a["env.trtllm_version"], telemetry_file=None, install_root=None)
    if not t.version:
        raise WizardError("cannot tell which LMI release runs the partition tool",
                          "set lmi_version under [env] (e.g. 0.30.0)")
    return t.version


class BuildStep(PipelineStep):
    name, title = "build", "Build engines"
    keys = ("env.trtllm_version", "env.tag", "env.lmi_layout", "env.lmi_version", "build", "model.source",
            "model.example", "model.revision")
    uses = ("checkout",)

    # what to run -----------------------------------------------------------------------------------
    def _example(self, a, ctx, *, allow_guess: bool):
        from .. import models

        root = ctx.outputs.get("checkout_root") or str(ctx.path(a["checkout.dir"]))
        name = a["model.example"]
        if not name:
            if not allow_guess:
                return None
            cfg = models.load_model_config(_model_dir_arg(a, ctx), endpoint=ctx.hf_endpoint,
                                           token=a.secret("tokenizer.hf_token"), revision=a["model.revision"])
            return models.pick_example(root, cfg)
        return models.find_example(root, name)

    def _partition(self, a, ctx):
        from ..build import LMI_DTYPE, partition

        lmi = _lmi_version(a)
        out = ctx.path(a["build.output_dir"])
        props = ctx.run_dir / "partition-properties"
        args = partition.PartitionArgs(
            properties_dir=str(props), output_dir=str(out), model_path=_model_dir_arg(a, ctx),
            tensor_parallel_degree=a["build.tp"], pipeline_parallel_degree=a["build.pp"],
            properties={"dtype": LMI_DTYPE[a["build.dtype"]],
                        "max_rolling_batch_size": a["build.max_batch_size"],
                        "max_input_len": a["build.max_input_len"], "max_output_len": a["build.max_output_len"]})
        plan = partition.partition_plan(props, args, lmi, python=ctx.python)
        return plan, args, lmi

    def render(self, a, ctx, *, allow_guess: bool = True):
        """The BuildPlan (build.BuildPlan) for the answers, or None when the checkout is not there yet."""
        from ..build import render_plan

        method = a["build.method"] or "checkout"
        if method == "lmi-partition":
            return self._partition(a, ctx)[0]
        ex = self._example(a, ctx, allow_guess=allow_guess)
        if ex is None:
            return None
        intent = build_intent(a, model_dir=_model_dir_arg(a, ctx), output_dir=str(ctx.path(a["build.output_dir"])))
        return render_plan(ex.path, intent, python=ctx.python, trtllm_build=ctx.trtllm_build,
                                 trtllm_version=a["env.trtllm_version"], gpu=gpu_facts(a.ctx))

    def plan(self, a, ctx):
        method = a["build.method"] or "checkout"
        if method == "prebuilt":
            return [f"# use the engines already built in {ctx.path(a['build.engine_dir'])}"]
        if method == "lmi-partition":
            from ..build import partition

            plan, args, lmi = self._partition(a, ctx)
            props = Path(args.properties_dir)
            return [f"mkdir -p {_q(props)}",
                    f"cat > {_q(props / 'serving.properties')} <<'EOF'",
                    *partition.serving_properties_text(args, lmi).splitlines(), "EOF",
                    *(shlex.join(s.argv) for s in plan.steps)]
        root = ctx.path(a["checkout.dir"])
        if not (root and root.is_dir()):
            return self._plan_without_checkout(a, ctx, root)
        try:
            plan = self.render(a, ctx, allow_guess=False)
        except WizardError as exc:
            return [f"# cannot render the build command yet: {exc}"]
        if plan is None:  # no [model] example: picked from the model's architecture when it runs
            return self._plan_without_checkout(a, ctx, root)
        lines = []
        for s in plan.steps:
            lines.append(f"cd {_q(s.cwd)}")
            lines.append(shlex.join(s.argv))
        lines += [f"# translated: {t}" for t in plan.translations]
        lines += [f"# dropped {d.flag or d.intent}: {d.reason}" for d in plan.dropped]
        lines += [f"# {f}" for f in plan.findings if f.level in ("error", "warning")]
        lines.append(f"cd {_q(ctx.work_dir)}")
        return lines

    def _plan_without_checkout(self, a, ctx, root: Path) -> list[str]:
        """The build before the checkout exists: its flags are discovered from the builder of that tag, so
        ``lmi-wizard build`` renders and runs the exact command then (``lmi-wizard plan`` shows it once the
        checkout is there)."""
        it = build_intent(a, model_dir=_model_dir_arg(a, ctx), output_dir=str(ctx.path(a["build.output_dir"])))
        pick = ["--model", a["model.example"]] if a["model.example"] else ["--source", it.model_dir]
        argv = ["--model-dir", it.model_dir, "--output-dir", it.output_dir, "--dtype", it.dtype,
                "--tp", str(it.tp_size), "--pp", str(it.pp_size), "--python", ctx.python,
                "--trtllm-build", shlex.join(ctx.trtllm_build), "--layout", resolve_layout(a)]
        for flag, on in (("--no-gemm-plugin", not it.gemm_plugin), ("--no-gpt-attention-plugin", not it.gpt_attention_plugin),
                         ("--no-inflight-batching", not it.inflight_batching), ("--no-context-fmha", not it.context_fmha),
                         ("--no-remove-input-padding", not it.remove_input_padding),
                         ("--no-parallel-build", not it.parallel_build),
                         ("--paged-kv-cache", it.paged_kv_cache is True), ("--no-paged-kv-cache", it.paged_kv_cache is False)):
            if on:
                argv.append(flag)
        for flag, value in (("--max-batch-size", it.max_batch_size), ("--max-input-len", it.max_input_len),
                            ("--max-output-len", it.max_output_len), ("--trtllm-version", a["env.trtllm_version"])):
            if value:
                argv += [flag, str(value)]
        for opt, table in (("--set", it.advanced), ("--set-convert", it.advanced_convert)):
            for k, v in table.items():
                argv.append(f"{opt}={k}" if v is True else f"{opt}={k}={v}")
        why = (f"the checkout is not there yet: the builder's flags are discovered from it" if not root.is_dir() else
               "no [model] example: the folder is picked from the model's architecture")
        return [f"# {why}, so lmi-wizard renders and runs the exact command (`lmi-wizard plan` prints it once "
                f"{root} exists and [model] example is set)",
                "example_dir=$(lmi-wizard models --checkout " + shlex.join([str(root), *pick]) + " --json | "
                "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"chosen\"][\"path\"])')",
                'lmi-wizard build --example-dir "$example_dir" ' + shlex.join(argv)]

    # doing it --------------------------------------------------------------------------------------
    def run(self, a, ctx, progress, cancel):
        from ..build import run as build

        method = a["build.method"] or "checkout"
        layout = resolve_layout(a)
        if method == "prebuilt":
            edir = ctx.path(a["build.engine_dir"])
            errs = [f for f in build.validate_engine_dir(
                edir, a["build.tp"] * a["build.pp"] if a.is_set("build.tp") else None, target=layout)
                if f.level == "error"]
            if errs:
                raise WizardError(f"prebuilt engine folder: {errs[0].message}", errs[0].fix)
            return self._result(a, ctx, edir, layout, "prebuilt engines", [])
        if method == "lmi-partition":
            from ..build import partition

            plan, args, lmi = self._partition(a, ctx)
            Path(args.properties_dir).mkdir(parents=True, exist_ok=True)
            partition.write_properties(args.properties_dir, args, lmi, force=True)
        else:
            plan = self.render(a, ctx)
        if plan.errors:
            e = plan.errors[0]
            raise WizardError(f"the build cannot run: {e.message}", e.fix)
        edir = Path(plan.engine_dir)
        self._make_room(edir, ctx)
        build_log = ctx.run_dir / "build.log"
        env = {k: v for k, v in os.environ.items() if k not in AWS_SECRET_ENV}  # the builder needs no AWS keys
        try:
            res = build.run_plan(plan, log_path=build_log, progress=progress, cancel=cancel,
                                 env=env, force=True)
        finally:
            _scrub(build_log, ctx.redact)
        if not res.ok:
            failed = res.failed_step
            last = ""
            if failed is not None and failed.error is None and failed.tail:
                last = f"; last output: {failed.tail[-1].strip()[:300]}"
            raise WizardError(f"build failed: {ctx.redact(res.summary() + last)}",
                              f"see {build_log}; fix the cause and run again with --resume")
        target_errs = [f for f in build.validate_engine_dir(edir, plan.world_size, target=layout)
                       if f.level == "error"] if method != "lmi-partition" else []
        if target_errs:
            raise WizardError(f"the engines do not fit the {layout} layout: {target_errs[0].message}",
                              target_errs[0].fix)
        notes = [f"translated: {t}" for t in plan.translations] + \
                [f"dropped {d.flag or d.intent}: {d.reason}" for d in plan.dropped]
        notes += [str(f) for f in res.findings if f.level == "warning"]
        commands = [ctx.redact(s.shell) for s in plan.steps]
        if method == "lmi-partition" and layout == "triton":
            return self._result(a, ctx, edir, layout, "partitioned", notes, commands, repo_dir=Path(plan.steps[0].output_dir or edir))
        return self._result(a, ctx, edir, layout, "built", notes, commands)

    def _make_room(self, edir: Path, ctx: RunContext) -> None:
        """An engine folder that already holds a build is replaced only when this work folder's run made
        it (``--resume`` redoing the step) or with ``force``."""
        from ..build import run as build

        if not edir.exists():
            return
        holds = any(edir.glob("*rank*.engine")) or (edir / "config.json").exists()
        if not holds:
            return
        if not ctx.may_replace:
            raise WizardError(f"{edir} already holds a build", "choose another [build] output_dir, "
                              "continue the earlier run with --resume, or replace it with --force")
        ctx.note(self.name, f"removing the earlier build in {edir}")
        for p in list(edir.iterdir()):
            if p.is_file() and (p.name.endswith(".engine") or p.name in ("config.json", build.RECORD_NAME)):
                p.unlink()

    def _result(self, a, ctx, edir: Path, layout: str, verb: str, notes, commands=(), repo_dir=None):
        files = [file_record(p, "stat") for p in sorted(edir.iterdir())
                 if p.is_file() and (p.name.endswith(".engine") or p.name in ("config.json",))]
        out = {"engine_dir": str(edir), "commands": list(commands)}
        if layout == "flat":
            out["model_dir"] = str(edir)  # the engine folder is the artifact; tokenizer files go beside it
        if repo_dir is not None:
            out["model_dir"] = str(repo_dir / "tensorrt_llm") if (repo_dir / "tensorrt_llm").is_dir() else str(repo_dir)
        n = sum(1 for f in files if f["path"].endswith(".engine"))
        size = sum(f["size"] for f in files)
        return StepResult(out, files, f"{verb}: {n} engine file(s), {_human(size)} in {edir}", notes)


def _scrub(path: Path, redact: Redactor) -> None:
    """Rewrite a log another module wrote with our redaction (values it cannot know about)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    clean = "\n".join(redact(line) for line in text.split("\n"))
    if clean != text:
        atomic_write_text(path, clean)


# -- 4. assemble (Triton layout) --------------------------------------------------------------------


def _triton_built_here(a: Answers) -> bool:
    return resolve_layout(a) == "triton" and (a["build.method"] or "checkout") != "lmi-partition"


class AssembleStep(PipelineStep):
    name, title = "assemble", "Assemble triton_model_repo"
    keys = ("triton.repo_dir",)
    uses = ("checkout", "build")

    def applies(self, a):
        return _triton_built_here(a)

    def _paths(self, a, ctx):
        repo = ctx.path(a["triton.repo_dir"])
        edir = Path(ctx.outputs["engine_dir"]) if "engine_dir" in ctx.outputs else (
            ctx.path(a["build.engine_dir"]) if a["build.method"] == "prebuilt" else ctx.path(a["build.output_dir"]))
        return repo, edir

    def plan(self, a, ctx):
        repo, edir = self._paths(a, ctx)
        tmpl = _template_dir(a, ctx)
        t = repo / "tensorrt_llm"
        return [f"mkdir -p {_q(t / '1')}",
                f"cp -r {_q(tmpl / 'tensorrt_llm')}/* {_q(t)}/",
                f"cp {_q(edir)}/* {_q(t / '1')}/   # lmi-wizard hard-links them when on the same file system"]

    def run(self, a, ctx, progress, cancel):
        from ..triton import repo as repo_mod

        repo, edir = self._paths(a, ctx)
        if repo.exists() and any(repo.iterdir()) and not ctx.may_replace:
            raise WizardError(f"{repo} already exists and is not empty",
                              "choose another [triton] repo_dir, continue the earlier run with --resume, "
                              "or replace it with --force")
        src = ctx.outputs.get("checkout_root") or str(ctx.path(a["checkout.dir"]))
        res = repo_mod.assemble_repo(src, repo, engine_dir=edir, engine_mode="link", force=ctx.may_replace,
                                     progress=progress, cancel=cancel)
        t = repo / "tensorrt_llm"
        files = [file_record(p, "stat") for p in sorted((t / "1").iterdir()) if p.is_file()]
        files.append(file_record(t / "config.pbtxt", "exists"))  # the config step owns its content
        return StepResult({"repo_dir": str(repo), "model_dir": str(t), "engine_copy": str(t / "1"),
                           "template_dir": str(res.template_dir)}, files,
                          f"{len(res.engine_files)} engine file(s) into {t / '1'} ({res.method}) from {res.template_dir}",
                          list(res.notes))


# -- 5. config.pbtxt (Triton layout) ----------------------------------------------------------------

from ..wizard.triton_config import (ConfigFill, fill_config, fill_pairs as _fill_pairs,  # noqa: F401
                                     known_template_keys as _known_template_keys, wanted_substitutions)
from ..wizard.triton_config import config_findings as wizard_gates_before_build


def _backend_dir(a: Answers, ctx: RunContext) -> Path:
    """Where the Triton backend's files are in the checkout: its root up to 0.19, ``triton_backend/`` after."""
    root = ctx.path(a["checkout.dir"])
    return root if uses_backend_repo(a) else root / "triton_backend"


def _tools_dir(a: Answers, ctx: RunContext) -> Path:
    return _backend_dir(a, ctx) / "tools"


def _template_dir(a: Answers, ctx: RunContext) -> Path:
    return _backend_dir(a, ctx) / "all_models" / "inflight_batcher_llm"


class ConfigStep(PipelineStep):
    name, title = "config", "Fill config.pbtxt"
    keys = ("triton", "build.max_batch_size", "build.dtype", "env.tag", "env.trtllm_version")
    uses = ("assemble",)

    def applies(self, a):
        return _triton_built_here(a)

    def _config_path(self, a, ctx) -> Path:
        return ctx.path(a["triton.repo_dir"]) / "tensorrt_llm" / "config.pbtxt"

    def plan(self, a, ctx):
        from .. import triton as pbtxt

        cfg = self._config_path(a, ctx)
        tmpl = Path(ctx.outputs.get("template_dir") or _template_dir(a, ctx)) / "tensorrt_llm" / "config.pbtxt"
        if tmpl.is_file():
            pairs = _fill_pairs(a, tmpl.read_text(encoding="utf-8"))
            note = []
        else:
            pairs = dict(wanted_substitutions(a))
            known = _known_template_keys(resolve_tag(a))
            if known is not None:
                pairs = {k: v for k, v in pairs.items() if k in known[1]}
                note = [f"# (the checkout is not there yet: keys as in the {known[0]} template; the run fills "
                        "what the checkout's own template has)"]
            else:
                note = ["# (template not there yet: every key the wizard can fill is listed; the run requests "
                        "only those in the tag's template)"]
            pairs.update({k: str(v) for k, v in (a["triton.substitutions"] or {}).items()})
        tag = resolve_tag(a)
        try:  # escaped the way this tag's own tool reads its argument
            lines = note + [f"python3 {_q(_tools_dir(a, ctx) / 'fill_template.py')} -i {_q(cfg)} "
                            f"{_q(pbtxt.tool_substitutions(pairs, tag))}"]
        except WizardError as exc:  # e.g. a value with `,` or `:` that a pre-0.16 tool cannot express
            lines = note + [f"# {exc.problem}: filled by lmi-wizard's reimplementation of that tool instead",
                            f"{_LMI_PYTHON} - <<'LMI_WIZARD_EOF'", "from lmi_wizard.core import triton as pbtxt",
                            "from lmi_wizard.core.base.fsutil import atomic_write_text",
                            f"path = {str(cfg)!r}",
                            f"atomic_write_text(path, pbtxt.fill_text(open(path).read(), {dict(pairs)!r}, "
                            f"tag={tag!r}).text)", "LMI_WIZARD_EOF"]
        decoupled = bool(a["triton.decoupled"])
        named = list(dict.fromkeys(a["triton.delete_params"] or ()))
        lines += ["# what the tutorial then edits by hand (vi): model_transaction_policy { decoupled: "
                  f"{decoupled} }}, the engine path as the container sees it"
                  + (f", the parameters blocks {', '.join(named)} deleted" if named else "")
                  + (", and every parameters { … } block still holding ${…} deleted"
                     if a["triton.optional_placeholders"] == "delete" else ""),
                  f"{_LMI_PYTHON} - <<'LMI_WIZARD_EOF'", "from lmi_wizard.core import triton as pbtxt",
                  "from lmi_wizard.core.base.fsutil import atomic_write_text",
                  f"path = {str(cfg)!r}",
                  f"text = pbtxt.set_decoupled(open(path).read(), {decoupled!r})",
                  "for key in pbtxt.ENGINE_PATH_KEYS:",
                  "    if key in pbtxt.parameter_keys(text):",
                  f"        text = pbtxt.set_engine_path(text, {a['triton.engine_path']!r}, param=key)"]
        if named:
            lines += [f"for param in {named!r}:",
                      "    if param in pbtxt.parameter_keys(text):",
                      "        text = pbtxt.delete_parameter(text, param)"]
        if a["triton.optional_placeholders"] == "delete":
            lines += ["for param in dict.fromkeys(f.param for f in pbtxt.check_text(text).optional if f.param):",
                      "    text = pbtxt.delete_parameter(text, param)"]
        lines += ["atomic_write_text(path, text)", "LMI_WIZARD_EOF",
                  f"lmi-wizard pbtxt check --engine-path {_q(a['triton.engine_path'])} {_q(cfg)}   # nothing may block"]
        return lines

    def run(self, a, ctx, progress, cancel):
        from .. import triton as pbtxt

        cfg = self._config_path(a, ctx)
        from ..base.fsutil import read_text

        # always from the tag's template, so a changed answer is filled again (the repo's copy is already filled)
        tmpl = Path(ctx.outputs["template_dir"]) / "tensorrt_llm" / "config.pbtxt" \
            if ctx.outputs.get("template_dir") else None
        src = tmpl if tmpl is not None and tmpl.is_file() else cfg
        text = read_text(src, what="config.pbtxt", max_bytes=pbtxt.MAX_PBTXT_BYTES)
        tag = ctx.outputs.get("tag") or resolve_tag(a)
        filled = fill_config(a, text, path=cfg, tag=tag)
        text, report, pairs, deleted, notes = filled.text, filled.report, filled.pairs, filled.deleted, filled.notes
        if pairs:
            ctx.note(self.name, f"filled {', '.join(sorted(pairs))} like {tag}'s fill_template.py")
        if report.blocking:
            names = sorted({f.name for f in report.blocking})
            f0 = report.blocking[0]
            raise WizardError(f"config.pbtxt still has blocking placeholders: {', '.join(names)} "
                              f"(line {f0.line}, {f0.field})",
                              f"add them under [triton] substitutions, e.g. substitutions = {{ {names[0]} = \"…\" }}")
        if report.parses is False:
            raise WizardError(f"the filled config.pbtxt does not parse as a Triton model config: {report.parse_error}",
                              "check [triton] substitutions for a value of the wrong type")
        atomic_write_text(cfg, text)
        left = [f.name for f in report.optional]
        if left:
            notes.append("optional placeholders kept: " + ", ".join(sorted(set(left))))
        notes += [n for n in report.notes]
        summ = f"{len(pairs)} value(s) filled, {len(deleted)} optional block(s) deleted, decoupled " \
               f"{'True' if a['triton.decoupled'] else 'False'}; nothing blocks"
        return StepResult({"config_pbtxt": str(cfg), "substitutions": pairs}, [file_record(cfg, "hash")], summ, notes)


# -- 6. tokenizer -----------------------------------------------------------------------------------


def tokenizer_source(a: Answers) -> str:
    """``tokenizer.source`` (default: the model) with a local folder made absolute (relative to the work folder)."""
    return model_ref(a, "tokenizer.source") or model_ref(a) or ""


class TokenizerStep(PipelineStep):
    name, title = "tokenizer", "Tokenizer files"
    keys = ("tokenizer.source", "tokenizer.extra_patterns", "model.source", "model.revision")
    uses = ("build", "assemble")

    def _dest(self, a, ctx) -> Path:
        if "model_dir" in ctx.outputs:
            return Path(ctx.outputs["model_dir"])
        if _triton_built_here(a):
            return ctx.path(a["triton.repo_dir"]) / "tensorrt_llm"
        method = a["build.method"] or "checkout"
        if method == "prebuilt":
            return ctx.path(a["build.engine_dir"])
        if method == "lmi-partition" and resolve_layout(a) == "triton":
            return ctx.path(a["build.output_dir"]) / "tensorrt_llm"  # the partition tool writes a Triton repo
        return ctx.path(a["build.output_dir"])

    def _source(self, a, ctx=None) -> str:
        return tokenizer_source(a)

    def plan(self, a, ctx):
        from ..tokenizer import BASE_PATTERNS

        patterns = list(BASE_PATTERNS)  # the tutorial's; the extra patterns go to the verb (weights never)
        src, dest = self._source(a, ctx), self._dest(a, ctx)
        layout = resolve_layout(a)
        verb = ["lmi-wizard", "tokenizer", src, str(dest), "--layout", layout]
        if a["model.revision"]:
            verb += ["--revision", a["model.revision"]]
        for pat in a["tokenizer.extra_patterns"] or []:
            verb += ["--pattern", pat]
        if layout == "flat":
            return ["# not the tutorial's snapshot_download of *.json: here it would overwrite the engine's config.json "
                    "(LMI then no longer sees build_config); lmi-wizard keeps the Hugging Face one as hf_config.json",
                    shlex.join(verb)]
        if Path(src).is_dir():
            return ["# the tokenizer files of the local folder (the tutorial's patterns, widened to custom tokenizer "
                    "code and *.tiktoken; never weights)", shlex.join(verb)]
        kw = f", revision={a['model.revision']!r}" if a["model.revision"] else ""
        return ["python3 - <<'LMI_WIZARD_EOF'   # the tutorial's build_tokenizer.py",
                "from huggingface_hub import snapshot_download",
                f"snapshot_download(repo_id={src!r}, local_dir={str(dest)!r},",
                f"                  allow_patterns={patterns!r}{kw})",
                "LMI_WIZARD_EOF",
                "# and what those patterns miss: custom tokenizer code named in auto_map, *.tiktoken (never weights)",
                shlex.join(verb)]

    def run(self, a, ctx, progress, cancel):
        from .. import tokenizer

        dest = self._dest(a, ctx)
        src = self._source(a, ctx)
        plan = tokenizer.plan_tokenizer(src, dest, layout=resolve_layout(a), revision=a["model.revision"],
                                        endpoint=ctx.hf_endpoint, token=a.secret("tokenizer.hf_token"),
                                        extra_patterns=list(a["tokenizer.extra_patterns"] or []),
                                        progress=progress, cancel=cancel)
        res = tokenizer.fetch_tokenizer(plan, token=a.secret("tokenizer.hf_token"), force=ctx.may_replace,
                                        progress=progress, cancel=cancel)
        names = list(dict.fromkeys(res.written + res.unchanged))
        files = [file_record(dest / n, "hash") for n in names if (dest / n).is_file()]
        notes = list(plan.warnings) + [f"patched: {p}" for p in plan.patches]
        if plan.trust_remote_code:
            notes.append(f"trust_remote_code will be set: {plan.trust_reason}")
        return StepResult({"tokenizer_files": names, "trust_remote_code": plan.trust_remote_code,
                           "tokenizer_dir": str(dest), "model_dir": str(dest)}, files,
                          f"{len(res.written)} file(s) written, {len(res.unchanged)} unchanged in {dest}", notes)


# -- 7. publish -------------------------------------------------------------------------------------


class PublishStep(PipelineStep):
    name, title = "publish", "Publish"
    keys = ("destination",)
    uses = ("build", "assemble", "config", "tokenizer")

    def _endpoint(self, a, ctx):
        return a["destination.endpoint_url"] or ctx.s3_endpoint or os.environ.get("AWS_ENDPOINT_URL") or None

    def _client(self, a, ctx):
        from .. import s3

        dest = destination_text(a)
        if not dest.lower().startswith("s3://"):
            return None
        # the recipe's profile, for this client only (like `aws --profile`): the environment is left alone, and an
        # AWS_PROFILE set for something else does not override it
        return s3.make_client(self._endpoint(a, ctx), region=a["destination.region"],
                              profile=a["destination.profile"] or None)

    def plan(self, a, ctx):
        src = Path(ctx.outputs.get("model_dir") or TokenizerStep()._dest(a, ctx))
        dest = destination_text(a)
        mid = lmi_model_id(a)
        if dest.lower().startswith("s3://"):
            opts = []
            for flag, value in (("--endpoint-url", self._endpoint(a, ctx)), ("--profile", a["destination.profile"]),
                                ("--region", a["destination.region"])):
                if value:
                    opts += [flag, value]
            tail = (" " + shlex.join(opts)) if opts else ""
            return [f"aws s3 sync {_q(str(src) + '/')} {_q(dest)}{tail}",
                    f"# LMI model_id: {mid}",
                    f"aws s3 ls {_q(dest)}{tail}"]
        return [f"mkdir -p {_q(dest)}", f"cp -r {_q(str(src) + '/.')} {_q(dest + '/')}",
                f"# LMI model_id: {mid}", f"ls -l {_q(dest)}"]

    def run(self, a, ctx, progress, cancel):
        from .. import layout as layout_mod
        from .. import s3

        layout = resolve_layout(a)
        src = Path(ctx.outputs.get("model_dir") or TokenizerStep()._dest(a, ctx))
        dest = destination_text(a)
        model_id = layout_mod.model_id_for(dest, layout)
        findings = layout_mod.check_local(src, layout)
        errs = [f for f in findings if f.blocking]
        if errs:
            raise WizardError(f"refusing to publish {src}: {errs[0].problem}", errs[0].fix)
        client = self._client(a, ctx)
        endpoint = self._endpoint(a, ctx)
        existing = s3.list_keys(dest, endpoint_url=endpoint, client=client)
        # what the sync sends, enumerated the way it does (linked folders followed, like `aws s3 sync`), so the
        # record and its resume check cover everything uploaded
        ours = {f.rel for f in s3.scan_local(src)}
        if existing and not ctx.may_replace:
            raise WizardError(f"{dest} already holds {len(existing)} file(s) "
                              f"({', '.join(sorted(existing)[:3])}{' …' if len(existing) > 3 else ''})",
                              "choose another destination, continue the earlier run with --resume, "
                              "or publish over it with --force")
        res = s3.sync(src, dest, endpoint_url=endpoint, client=client, progress=progress, cancel=cancel)
        keys = s3.list_keys(dest, endpoint_url=endpoint, client=client)
        record = [{"key": k, "size": v.size} for k, v in sorted(keys.items()) if k in ours]
        notes = [f"warning: {f.problem}" for f in findings if f.level != "error"]
        if res.extra:
            notes.append(f"{len(res.extra)} file(s) at the destination that this model does not have: "
                         + ", ".join(res.extra[:5]))
        return StepResult({"destination": dest, "model_id": model_id, "published": record,
                           "uploaded": res.uploaded, "skipped": len(res.skipped), "bytes_sent": res.bytes},
                          [], f"{len(res.uploaded)} file(s) sent ({_human(res.bytes)}), {len(res.skipped)} "
                              f"unchanged → {dest}; LMI model_id {model_id}", notes)

    def still_valid(self, record, ctx=None):
        if record.get("status") != "done" or ctx is None:
            return False
        from .. import s3

        a = ctx.answers
        try:
            keys = s3.list_keys(destination_text(a), endpoint_url=self._endpoint(a, ctx), client=self._client(a, ctx))
        except WizardError:
            return False
        for item in record.get("outputs", {}).get("published", []):
            got = keys.get(item["key"])
            if got is None or got.size != item["size"]:
                return False
        return bool(record.get("outputs", {}).get("published"))


# -- 8. LMI configurations --------------------------------------------------------------------------


class LmiStep(PipelineStep):
    name, title = "lmi", "LMI configurations"
    keys = ("lmi", "env.lmi_version", "build.tp", "build.pp", "build.dtype")
    uses = ("publish", "tokenizer")

    def _answers(self, a, ctx):
        from .. import lmi

        engine_dir = Path(ctx.outputs.get("engine_copy") or ctx.outputs.get("engine_dir") or
                          ctx.path(a["build.output_dir"]))
        model_id = ctx.outputs.get("model_id") or lmi_model_id(a) or "s3://bucket/prefix/"
        kw = {"lmi_version": a["env.lmi_version"]}
        if (a["build.method"] or "checkout") != "prebuilt":
            kw["dtype"] = a["build.dtype"]
        return lmi.answers_from_engine(model_id, engine_dir, layout=resolve_layout(a),
                                       tokenizer_dir=ctx.outputs.get("tokenizer_dir"),
                                       max_rolling_batch_size=a["lmi.max_rolling_batch_size"], **kw)

    def plan(self, a, ctx):
        from .. import lmi

        out = ctx.path(a["lmi.output_dir"])
        la = lmi.LmiAnswers(model_id=lmi_model_id(a) or "s3://bucket/prefix/", tp=a["build.tp"], pp=a["build.pp"],
                            max_rolling_batch_size=a["lmi.max_rolling_batch_size"],
                            dtype=a["build.dtype"], layout=resolve_layout(a), lmi_version=a["env.lmi_version"])
        src = tokenizer_source(a)
        known = Path(src).is_dir()
        if known:  # a local tokenizer folder tells now whether it ships its own code (a Hub repo: at run time)
            from .. import tokenizer

            try:
                with tempfile.TemporaryDirectory(prefix="lmi-wizard-plan-") as tmp:
                    la.trust_remote_code = tokenizer.plan_tokenizer(src, tmp, layout=la.layout).trust_remote_code
            except WizardError:
                known = False
        lmi.normalise(la)
        lines = [f"mkdir -p {_q(out / 'extracted')}"]
        for name, text in (("lmi.env", lmi.env_text(la)), ("serving.properties", lmi.serving_properties(la)),
                           ("extracted/serving.properties", lmi.extracted_properties(la))):
            lines += [f"cat > {_q(out / name)} <<'EOF'", *text.splitlines(), "EOF"]
        if not known:
            lines.append("# (option.trust_remote_code=true is added when the tokenizer ships its own code)")
        return lines

    def run(self, a, ctx, progress, cancel):
        from .. import lmi

        la = self._answers(a, ctx)
        out = ctx.path(a["lmi.output_dir"])
        written = lmi.write_configs(la, out, "all", force=ctx.may_replace)
        findings = lmi.check_answers(la)
        errs = [f for f in findings if f.level == "error"]
        if errs:
            raise WizardError(f"LMI configuration: {errs[0].problem}", errs[0].fix)
        files = [file_record(p, "hash") for p in sorted(out.rglob("*")) if p.is_file()]
        styles = lmi.all_styles(la)
        return StepResult({"lmi_dir": str(out), "lmi": {"env": styles["env"],
                                                        "serving_properties": styles["serving_properties"],
                                                        "extracted": styles["extracted"]["serving_properties"]},
                           "lmi_written": written}, files,
                          f"lmi.env, serving.properties, extracted/serving.properties in {out}",
                          [f"warning: {f.problem}" for f in findings if f.level == "warning"])


# -- 9. final tree and listing ----------------------------------------------------------------------


class FinalStep(PipelineStep):
    name, title = "final", "Final tree and listing"
    uses = ("publish", "lmi")
    always_run = True

    def plan(self, a, ctx):
        src = Path(ctx.outputs.get("model_dir") or TokenizerStep()._dest(a, ctx))
        return [f"tree {_q(src)} 2>/dev/null || find {_q(src)} | sort"]

    def run(self, a, ctx, progress, cancel):
        from .. import layout as layout_mod
        from .. import s3, tree

        src = Path(ctx.outputs.get("model_dir") or TokenizerStep()._dest(a, ctx))
        tree_txt = tree.tree_text(src, root_label=src.name)
        dest = ctx.outputs.get("destination") or destination_text(a)
        pub = PublishStep()
        client = pub._client(a, ctx)
        endpoint = pub._endpoint(a, ctx)
        entries = s3.list_entries(dest, endpoint_url=endpoint, client=client)
        listing = s3.render_listing(entries)
        layout = resolve_layout(a)
        model_id = ctx.outputs.get("model_id") or layout_mod.model_id_for(dest, layout)
        keys = s3.list_keys(model_id, endpoint_url=endpoint, client=client)
        findings = layout_mod.check_listing(list(keys), model_id, layout)
        errs = [f for f in findings if f.blocking]
        if errs:
            raise WizardError(f"LMI would not load {model_id}: {errs[0].problem}", errs[0].fix)
        notes = [f"warning: {f.problem}" for f in findings]
        return StepResult({"tree": tree_txt, "listing": listing, "listing_entries": [e.to_dict() for e in entries]},
                          [], f"LMI loads {model_id} as a prebuilt {layout}-layout model", notes)


STEP_CLASSES = (EnvironmentStep, CheckoutStep, BuildStep, AssembleStep, ConfigStep, TokenizerStep, PublishStep,
                LmiStep, FinalStep)


# --------------------------------------------------------------------------------------------------
# the pipeline


@dataclass
class StepReport:
    name: str
    title: str
    status: str  # pending | running | done | skipped | failed | cancelled
    elapsed: float = 0.0
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    error: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunReport:
    ok: bool
    steps: list[StepReport]
    outputs: dict
    work_dir: str
    log_path: str
    state_path: str
    recipe_path: Optional[str]
    error: Optional[str] = None
    fix: Optional[str] = None
    stopped_at: Optional[str] = None

    @property
    def model_id(self) -> Optional[str]:
        return self.outputs.get("model_id")

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.outputs.items() if k not in ("listing_entries",)}
        return {"ok": self.ok, "error": self.error, "fix": self.fix, "stopped_at": self.stopped_at,
                "model_id": self.model_id, "work_dir": self.work_dir, "log": self.log_path,
                "state": self.state_path, "recipe": self.recipe_path,
                "steps": [s.to_dict() for s in self.steps], "outputs": out,
                "listing": self.outputs.get("listing_entries", [])}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _auto_picked(p, a: Answers) -> bool:
    """An unset example folder is not a problem: the build step picks it from the model's architecture."""
    return p.key == "model.example" and not a.is_set("model.example")


def _setting(key: str) -> str:
    """``build.tp`` → ``[build] tp`` (how a recipe spells it); other keys as they are."""
    sec, dot, name = key.partition(".")
    return f"[{sec}] {name}" if dot else key


class _RunLock:
    """One run per work folder at a time: an exclusive ``flock`` on ``.lmi-wizard/lock`` (released by the
    kernel when the process dies, so a killed run never leaves a stale lock), holding the owner's pid."""

    def __init__(self, path: Path, work_dir: Path) -> None:
        self.path, self.work_dir, self._fd = path, work_dir, None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                owner = os.read(fd, 64).decode(errors="replace").strip() or "?"
            finally:
                os.close(fd)
            raise WizardError(f"another lmi-wizard run (pid {owner}) is using the work folder {self.work_dir}",
                              "wait for it to finish, or give this recipe its own [checkout] work_dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            finally:
                os.close(self._fd)  # closing drops the flock
                self._fd = None


class Pipeline:
    """The ordered steps for one set of answers. ``plan_script()`` prints, ``run()`` does."""

    def __init__(self, answers: Answers, *, work_dir: str | os.PathLike | None = None, force: bool = False,
                 resume: bool = False, python: str = "python3", trtllm_build: Iterable[str] = ("trtllm-build",),
                 hf_endpoint: str | None = None, s3_endpoint: str | None = None,
                 recipe_source: str | None = None) -> None:
        self.answers = answers
        if work_dir is not None:
            answers["checkout.work_dir"] = str(Path(os.path.expanduser(os.fspath(work_dir))).absolute())
        wd = Path(os.path.abspath(os.path.expanduser(answers["checkout.work_dir"] or ".")))
        self.work_dir = wd
        self.run_dir = wd / RUN_DIR
        self.state_path = self.run_dir / STATE_NAME
        self.force = force
        self.resume = resume
        self.recipe_source = recipe_source
        self.ctx = RunContext(answers=answers, work_dir=wd, run_dir=self.run_dir, force=force, python=python,
                              trtllm_build=tuple(trtllm_build),
                              redact=Redactor(answers.secret_values()),
                              hf_endpoint=hf_endpoint or os.environ.get("HF_ENDPOINT") or None,
                              s3_endpoint=s3_endpoint)
        self.steps: list[PipelineStep] = [cls() for cls in STEP_CLASSES if cls().applies(answers)]

    # ---- plan --------------------------------------------------------------------------------------
    def plan_script(self) -> str:
        """The run as a bash script: the tutorial's commands, filled in. Nothing is run or written."""
        a = self.answers
        red = self.ctx.redact
        lines = ["#!/usr/bin/env bash",
                 "# lmi-wizard plan" + (f" of {self.recipe_source}" if self.recipe_source else "") +
                 ": the equivalent of `lmi-wizard run`, as shell commands.",
                 f"# layout: {resolve_layout(a)} (LMI {'0.25–0.32' if resolve_layout(a) == 'triton' else '0.33+'}); "
                 f"TensorRT-LLM {a['env.trtllm_version'] or '(unknown)'} at tag {resolve_tag(a) or '(unknown)'}; "
                 f"LMI model_id: {lmi_model_id(a) or '(no destination that works yet)'}",
                 "# credentials (HF_TOKEN, AWS) come from the environment; none is written here.",
                 "set -euo pipefail",
                 f"mkdir -p {_q(self.work_dir)} && cd {_q(self.work_dir)}"]
        for i, step in enumerate(self.steps, 1):
            lines.append("")
            lines.append(f"# ---- {i}. {step.title} " + "-" * max(3, 70 - len(step.title)))
            try:
                body = step.plan(a, self.ctx)
            except WizardError as exc:
                body = [f"# cannot plan this step: {exc}"]
            lines.extend(body)
        return red("\n".join(lines) + "\n")

    # ---- state -------------------------------------------------------------------------------------
    def load_state(self) -> dict:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("format") == STATE_FORMAT:
                return data
        except (OSError, ValueError):
            pass
        return {"format": STATE_FORMAT, "steps": {}}

    def _save_state(self, state: dict) -> None:
        state["updated"] = _now()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.state_path, self.ctx.redact(json.dumps(state, indent=2, default=str)) + "\n")

    def status(self) -> list[StepReport]:
        """The steps with what the last run recorded (for a Run screen that offers to resume)."""
        recs = self.load_state().get("steps", {})
        out = []
        for s in self.steps:
            r = recs.get(s.name, {})
            out.append(StepReport(s.name, s.title, r.get("status", "pending"), r.get("elapsed", 0.0),
                                  r.get("summary", ""), r.get("notes", []), r.get("error")))
        return out

    # ---- run ---------------------------------------------------------------------------------------
    def run(self, progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> RunReport:
        """Run every step (skipping still-valid ones with ``resume``). Never raises for a step failure:
        the report says where it stopped and why (``ok`` False); the state is kept for ``--resume``."""
        cancel = cancel or CancelToken()
        refused = self._refuse_invalid(progress)
        if refused is not None:  # nothing written: answers that cannot run leave no trace on disk
            return refused
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WizardError(f"cannot create the work folder {self.work_dir}: {exc.strerror or exc}",
                              "choose a [checkout] work_dir (or --work-dir) you can write to") from None
        lock = _RunLock(self.run_dir / LOCK_NAME, self.work_dir)
        lock.acquire()
        try:
            record = self.run_dir / runlock.CHILDREN_NAME  # a builder of a killed run may still be alive
            runlock.refuse_if_children_alive(record, self.work_dir)
            with runlock.ChildrenRecord(record):
                return self._run_locked(progress, cancel)
        finally:
            lock.release()

    def _earlier_run(self) -> dict:
        """The state of an earlier run of this work folder, checked against this one: another recipe's run is
        never resumed or replaced silently, and a finished run is only continued with resume or replaced with
        force."""
        state = self.load_state()
        # steps that made something (environment/final make nothing; a failed clone removes itself)
        done_before = [n for n, r in state.get("steps", {}).items()
                       if n not in ("environment", "final") and (r.get("status") == "done" or (
                           n != "checkout" and r.get("status") in ("failed", "cancelled", "running")))]
        if not done_before or self.force:
            return state if self.resume else {"format": STATE_FORMAT, "steps": {}}
        theirs, ours = state.get("recipe_source"), self.recipe_source
        if theirs and ours and os.path.abspath(theirs) != os.path.abspath(ours):
            raise WizardError(f"{self.work_dir} holds the run of another recipe ({theirs}; steps: "
                              f"{', '.join(done_before)})",
                              "give each recipe its own [checkout] work_dir (e.g. work_dir = \"work/<model>\"; the "
                              "checkout can be shared with dir = \"../tensorrtllm_backend\"), or replace that run "
                              "with --force")
        if not self.resume:
            raise WizardError(f"{self.work_dir} already holds an earlier run (steps: {', '.join(done_before)})",
                              "continue it with --resume, or start over with --force (replaces its outputs)")
        return state

    def _run_locked(self, progress: ProgressFn | None, cancel: CancelToken) -> RunReport:
        a, ctx = self.answers, self.ctx
        state = self._earlier_run()
        ctx.records = state.get("steps", {})
        log = RunLog(self.run_dir / LOG_NAME, ctx.redact)
        ctx.log = log
        recipe_path = self._save_recipe()
        state.update({"work_dir": str(self.work_dir), "recipe": recipe_path, "started": _now(),
                      "recipe_source": os.path.abspath(self.recipe_source) if self.recipe_source else None})
        log.write("run", f"lmi-wizard run in {self.work_dir} ({'resume' if self.resume else 'fresh'}"
                         f"{', force' if self.force else ''}); steps: {', '.join(s.name for s in self.steps)}")
        reports = [StepReport(s.name, s.title, "pending") for s in self.steps]
        count = len(self.steps)
        ok, error, fix, stopped = True, None, None, None

        def send(ev: Progress) -> None:
            if progress is None:
                return
            try:
                progress(ev)
            except Exception:  # a display problem never stops the run
                pass

        def event(i: int, step: PipelineStep, status: str, message: str, **extra) -> None:
            send(Progress(step.name, message, extra={"event": "step", "status": status, "index": i, "count": count,
                                                     "title": step.title, **extra}))

        try:
            for i, (step, rep) in enumerate(zip(self.steps, reports)):
                inputs = step.inputs(a, ctx)
                digest = _digest(inputs)
                rec = ctx.records.get(step.name)
                if self.resume and rec and rec.get("inputs") == digest and step.still_valid(rec, ctx):
                    step.restore(rec, ctx)
                    ctx.digests[step.name] = rec.get("digest")
                    rep.status, rep.summary, rep.notes = "skipped", rec.get("summary", ""), rec.get("notes", [])
                    log.write(step.name, f"skipped (still valid): {rep.summary}")
                    event(i, step, "skipped", f"{step.title}: still valid, skipped", summary=rep.summary, elapsed=0.0)
                    continue
                if rec and self.resume:
                    why = "inputs changed" if rec.get("inputs") != digest else (
                        "outputs changed or missing" if rec.get("status") == "done" else f"was {rec.get('status')}")
                    if not step.always_run:
                        log.write(step.name, f"redoing: {why}")
                ctx.owned = bool(rec) and self.resume
                rep.status = "running"
                log.write(step.name, f"start {step.title}")
                event(i, step, "running", f"{step.title}…")
                state["steps"][step.name] = {"status": "running", "started": _now(), "inputs": digest,
                                             "outputs": (rec or {}).get("outputs", {}), "files": []}
                self._save_state(state)
                t0 = time.monotonic()
                sub = self._sub_progress(step, send, log)
                try:
                    cancel.raise_if_cancelled(step.title)
                    if step.name == "build":  # the schema's gates that needed the checkout, before hours of build
                        raise_first(wizard_gates_before_build(a))
                    result = step.run(a, ctx, sub, cancel)
                except Cancelled as exc:
                    rep.status, rep.elapsed, rep.error = "cancelled", time.monotonic() - t0, str(exc)
                    state["steps"][step.name].update(status="cancelled", elapsed=rep.elapsed, error=str(exc))
                    raise
                except Exception as exc:
                    if isinstance(exc, WizardError):
                        msg, fix = ctx.redact(str(exc.problem)), ctx.redact(exc.fix or "")
                        error = msg
                        log.write(step.name, f"FAILED: {msg}" + (f" — fix: {fix}" if fix else ""))
                    else:  # a bug: keep the state, say where, never lose the log
                        import traceback

                        msg = ctx.redact(f"{type(exc).__name__}: {exc}")
                        error, fix = f"internal error in {step.name}: {msg}", f"please report it with the log {log.path}"
                        log.write(step.name, "INTERNAL ERROR\n" + traceback.format_exc())
                    rep.status, rep.elapsed, rep.error = "failed", time.monotonic() - t0, msg
                    state["steps"][step.name].update(status="failed", elapsed=rep.elapsed, error=msg, fix=fix)
                    event(i, step, "failed", f"{step.title} failed: {msg}", elapsed=rep.elapsed, error=msg, fix=fix)
                    ok, stopped = False, step.name
                    break
                rep.elapsed = time.monotonic() - t0
                rep.status, rep.summary, rep.notes = "done", ctx.redact(result.summary), [ctx.redact(n) for n in result.notes]
                ctx.outputs.update(result.outputs)
                ctx.digests[step.name] = result.digest
                state["steps"][step.name] = {"status": "done", "started": state["steps"][step.name]["started"],
                                             "finished": _now(), "elapsed": round(rep.elapsed, 3), "inputs": digest,
                                             "digest": result.digest, "outputs": result.outputs,
                                             "files": result.files, "summary": rep.summary, "notes": rep.notes}
                self._save_state(state)
                log.write(step.name, f"done in {rep.elapsed:.1f} s: {rep.summary}")
                for n in rep.notes:
                    log.write(step.name, f"note: {n}")
                event(i, step, "done", f"{step.title}: {rep.summary}", elapsed=rep.elapsed, summary=rep.summary,
                      notes=rep.notes)
        except Cancelled as exc:
            ok, error, stopped = False, str(exc), next((r.name for r in reports if r.status == "cancelled"), None)
            fix = "run again with --resume to continue where it stopped"
            log.write("run", f"cancelled during {stopped}")
            send(Progress(stopped or "run", f"cancelled during {stopped}", extra={
                "event": "step", "status": "cancelled", "index": [r.name for r in reports].index(stopped)
                if stopped in [r.name for r in reports] else -1, "count": count}))
        finally:
            state["finished"] = _now()
            state["ok"] = ok
            try:
                self._save_state(state)
            finally:
                log.write("run", "finished: ok" if ok else f"stopped at {stopped}: {error}")
                log.close()
        if ok is False and fix is None:
            fix = "fix the cause and run again with --resume"
        return RunReport(ok, reports, dict(ctx.outputs), str(self.work_dir), str(log.path), str(self.state_path),
                         recipe_path, ctx.redact(error) if error else None, fix, stopped)

    def blocking_problems(self) -> list:
        """The answers' blocking problems (``core.wizard.validate_all``); an unset example folder is not one
        (the build step picks it from the model's architecture)."""
        self.answers.ctx.forget_checkout_plan()  # ask git now, not what a screen saw earlier
        problems = [p for p in validate_all(self.answers) if p.blocking and not _auto_picked(p, self.answers)]
        if not problems:
            dest_problem = self._local_destination_problem()
            if dest_problem is not None:
                problems.append(dest_problem)
        return problems

    def _local_destination_problem(self):
        """A LOCAL destination that cannot work (a file, the model folder itself, inside it or above it:
        ``core.s3.check_local_destination``), as a blocking problem: refused before the build, not at publish."""
        if not any(isinstance(s, PublishStep) for s in self.steps):
            return None
        a, ctx = self.answers, self.ctx
        dest = destination_text(a)
        if not dest or dest.lower().startswith("s3://"):
            return None
        try:
            src = Path(ctx.outputs.get("model_dir") or TokenizerStep()._dest(a, ctx))
        except (TypeError, ValueError, WizardError):  # an unset folder: its own validation says so
            return None
        from .. import s3
        from ..base.findings import error

        try:
            s3.check_local_destination(src, dest, model_id=lmi_model_id(a))
        except WizardError as exc:
            return error("local-destination", exc.problem, exc.fix, key="destination.uri")
        return None

    def refusal(self) -> Optional[tuple[str, str]]:
        """``(problem, fix)`` when the answers cannot run (the first blocking problem, with its own fix when it
        has one), else None."""
        errors = self.blocking_problems()
        if not errors:
            return None
        msgs = []
        fix = f"change {_setting(errors[0].key)} (`lmi-wizard init` documents every setting)"
        if errors[0].fix:
            fix = errors[0].fix
        for p in errors[:4]:
            msgs.append(f"{_setting(p.key)}: {p.problem}")
        more = f" (and {len(errors) - 1} more: " + "; ".join(msgs[1:]) + ")" if len(errors) > 1 else ""
        return self.ctx.redact(f"the recipe cannot run: {msgs[0]}{more}"), self.ctx.redact(fix)

    def check(self) -> None:
        """Raise one :class:`WizardError` (exit 2 on the command line) when the answers cannot run."""
        refused = self.refusal()
        if refused is not None:
            raise WizardError(*refused)

    def _refuse_invalid(self, progress: ProgressFn | None) -> Optional[RunReport]:
        refused = self.refusal()
        if refused is None:
            return None
        msg, fix = refused
        reports = [StepReport(s.name, s.title, "pending") for s in self.steps]
        if reports:
            reports[0].status, reports[0].error = "failed", msg
            if progress is not None:
                try:
                    progress(Progress(reports[0].name, f"{reports[0].title} failed: {msg}", extra={
                        "event": "step", "status": "failed", "index": 0, "count": len(reports),
                        "title": reports[0].title, "elapsed": 0.0, "error": msg, "fix": fix}))
                except Exception:
                    pass
        return RunReport(False, reports, {}, str(self.work_dir), str(self.run_dir / LOG_NAME), str(self.state_path),
                         None, msg, fix, reports[0].name if reports else None)

    def _sub_progress(self, step: PipelineStep, send, log: RunLog) -> ProgressFn:
        last_logged = {"t": 0.0}

        def sub(ev: Progress) -> None:
            msg = self.ctx.redact(ev.message or "")
            is_line = ev.done is None and ev.total is None
            now = time.monotonic()
            # every line of text goes to the log; bar updates at most twice a second (and the last one)
            if is_line or ev.done == ev.total or now - last_logged["t"] >= 0.5:
                last_logged["t"] = now
                frac = ev.fraction
                sub_name = (ev.extra or {}).get("step")
                log.write(f"{step.name}:{sub_name}" if sub_name and sub_name != step.name else step.name,
                          msg + (f" ({frac * 100:.0f}%)" if frac is not None and not is_line else ""))
            extra = dict(ev.extra or {})
            extra.setdefault("event", "progress")
            extra["pipeline_step"] = step.name
            send(Progress(step.name, msg, ev.done, ev.total, ev.unit, extra))

        return sub

    def _save_recipe(self) -> Optional[str]:
        from ..wizard.recipe import dumps_recipe

        path = self.run_dir / RECIPE_NAME
        try:
            atomic_write_text(path, dumps_recipe(self.answers))
        except WizardError:
            return None
        return str(path)


def build_pipeline(answers: Answers, **kw) -> Pipeline:
    return Pipeline(answers, **kw)


def plan_script(answers: Answers, **kw) -> str:
    return Pipeline(answers, **kw).plan_script()
