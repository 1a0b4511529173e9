"""3. The build: the checkout's example scripts and trtllm-build (flags discovered from that builder), LMI's AOT
partition tool, or a prebuilt engine folder."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ...base.errors import WizardError
from ...base.secrets import AWS_SECRET_ENV, Redactor
from ...base.fsutil import atomic_write_text
from ...base.fmt import human_bytes as _human
from ...wizard import Answers, build_intent, build_method, gpu_facts, model_ref, resolve_layout
from ..state import file_record
from .base import PipelineStep, RunContext, StepResult, q


def _model_dir_arg(a: Answers, ctx: RunContext) -> str:
    return model_ref(a) or ""


def _lmi_version(a: Answers) -> str:
    if a["env.lmi_version"]:
        return a["env.lmi_version"]
    from ...facts import target

    t = target.determine_target(trtllm_version=a["env.trtllm_version"], telemetry_file=None, install_root=None)
    if not t.version:
        raise WizardError("cannot tell which LMI release runs the partition tool",
                          "set lmi_version under [env] (e.g. 0.30.0)")
    return t.version


class BuildStep(PipelineStep):
    name, title = "build", "Build engines"
    reads = frozenset({"build", "checkout.dir", "checkout.work_dir", "env.lmi_layout", "env.lmi_version", "env.tag",
                       "env.trtllm_version", "model.example", "model.name", "model.revision", "model.source"})
    uses = ("checkout",)

    # what to run -----------------------------------------------------------------------------------
    def _example(self, a, ctx, *, allow_guess: bool):
        from ... import models

        root = str(ctx.paths.checkout_root)
        name = a["model.example"]
        if not name:
            if not allow_guess:
                return None
            cfg = models.load_model_config(_model_dir_arg(a, ctx), endpoint=ctx.hf_endpoint,
                                           token=a.secret("tokenizer.hf_token"), revision=a["model.revision"])
            return models.pick_example(root, cfg)
        return models.find_example(root, name)

    def _partition(self, a, ctx):
        from ...build import LMI_DTYPE, partition

        lmi = _lmi_version(a)
        out = ctx.paths.build_output_dir
        props = ctx.run_dir / "partition-properties"
        args = partition.PartitionArgs(
            properties_dir=str(props), output_dir=str(out), model_path=_model_dir_arg(a, ctx),
            tensor_parallel_degree=a["build.tp"], pipeline_parallel_degree=a["build.pp"],
            properties={"dtype": LMI_DTYPE[a["build.dtype"]],
                        "max_rolling_batch_size": a["build.max_batch_size"],
                        # the length keys that release reads (max_output_len ≤ 0.32, max_seq_len 0.33+)
                        **partition.aot_length_properties(lmi, a["build.max_input_len"], a["build.max_output_len"])})
        plan = partition.partition_plan(props, args, lmi, python=ctx.python)
        return plan, args, lmi

    def render(self, a, ctx, *, allow_guess: bool = True):
        """The BuildPlan (build.BuildPlan) for the answers, or None when the checkout is not there yet."""
        from ...build import render_plan

        method = build_method(a)
        if method == "lmi-partition":
            return self._partition(a, ctx)[0]
        ex = self._example(a, ctx, allow_guess=allow_guess)
        if ex is None:
            return None
        intent = build_intent(a, model_dir=_model_dir_arg(a, ctx), output_dir=str(ctx.paths.build_output_dir))
        return render_plan(ex.path, intent, python=ctx.python, trtllm_build=ctx.trtllm_build,
                                 trtllm_version=a["env.trtllm_version"], gpu=gpu_facts(a.ctx))

    def plan(self, a, ctx):
        method = build_method(a)
        if method == "prebuilt":
            return [f"# use the engines already built in {ctx.path(a['build.engine_dir'])}"]
        if method == "lmi-partition":
            from ...build import partition

            plan, args, lmi = self._partition(a, ctx)
            props = Path(args.properties_dir)
            return [f"mkdir -p {q(props)}",
                    f"cat > {q(props / 'serving.properties')} <<'EOF'",
                    *partition.serving_properties_text(args, lmi).splitlines(), "EOF",
                    *(shlex.join(s.argv) for s in plan.steps)]
        root = ctx.paths.checkout_dir
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
            lines.append(f"cd {q(s.cwd)}")
            lines.append(shlex.join(s.argv))
        lines += [f"# translated: {t}" for t in plan.translations]
        lines += [f"# dropped {d.flag or d.intent}: {d.reason}" for d in plan.dropped]
        lines += [f"# {f}" for f in plan.findings if f.level in ("error", "warning")]
        lines.append(f"cd {q(ctx.work_dir)}")
        return lines

    def _plan_without_checkout(self, a, ctx, root: Path) -> list[str]:
        """The build before the checkout exists: its flags are discovered from the builder of that tag, so
        ``lmi-wizard build`` renders and runs the exact command then (``lmi-wizard plan`` shows it once the
        checkout is there)."""
        it = build_intent(a, model_dir=_model_dir_arg(a, ctx), output_dir=str(ctx.paths.build_output_dir))
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
        from ...build import run as build

        method = build_method(a)
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
            from ...build import partition

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
        from ...build import run as build

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
