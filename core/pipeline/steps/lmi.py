"""8. The three LMI configurations: lmi.env, serving.properties, extracted/serving.properties."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from ...base.errors import WizardError
from ...wizard import build_method, lmi_model_id, resolve_layout
from ..paths import tokenizer_source
from ..state import file_record
from .base import PipelineStep, StepResult, q


def trust_lines(la, tokenizer_dir: Path, out: Path) -> list[str]:
    """The plan's LMI step when the tokenizer is fetched by the run (a Hub repo): whether it ships its own code is
    known only then, and the run then writes option.trust_remote_code=true. The script does what the run does:
    ``lmi-wizard lmi-config --tokenizer-dir`` (the same core.lmi rule) rewrites the three files from the fetched
    folder — with trust_remote_code when the tokenizer needs it, else the same files as above."""
    argv = ["lmi-wizard", "lmi-config", "--model-id", la.model_id, "--layout", la.layout, "--tp", str(la.tp),
            "--pp", str(la.pp)]
    if la.max_rolling_batch_size:
        argv += ["--max-rolling-batch-size", str(la.max_rolling_batch_size)]
    if la.dtype:
        argv += ["--dtype", str(la.dtype)]
    if la.lmi_version:
        argv += ["--lmi-version", str(la.lmi_version)]
    argv += ["--tokenizer-dir", str(tokenizer_dir), "--style", "all", "--write", str(out), "--force"]
    return ["# trust_remote_code: the tokenizer is fetched above; when it ships its own code (auto_map AutoTokenizer)",
            "# the run writes option.trust_remote_code=true — and so does this (the same check, rewriting the files):",
            shlex.join(argv)]


#: the answers :func:`lmi_answers` reads (the LMI step's and the load test's resume inputs)
LMI_ANSWER_READS = frozenset({"build.dtype", "build.engine_dir", "build.max_batch_size", "build.method",
                              "build.output_dir", "build.pp", "build.tp", "checkout.work_dir", "destination",
                              "env.lmi_layout", "env.lmi_version", "env.trtllm_version", "lmi", "model.source",
                              "tokenizer.source"})


def lmi_answers(a, ctx, model_id: str | None = None):
    """The LMI answers of this run (``core.lmi.LmiAnswers``): what the LMI step writes for publish and what the
    load test (serve_test step) gives djl-serving — one derivation. ``model_id``: the published one by default
    (the load test gives the local model folder: djl-serving loads it, and the destination is no input of it)."""
    from ... import lmi

    engine_dir = Path(ctx.outputs.get("engine_copy") or ctx.outputs.get("engine_dir") or
                      ctx.paths.build_output_dir)
    model_id = model_id or ctx.outputs.get("model_id") or lmi_model_id(a) or "s3://bucket/prefix/"
    kw = {"lmi_version": a["env.lmi_version"]}
    if build_method(a) != "prebuilt":
        kw["dtype"] = a["build.dtype"]
    return lmi.answers_from_engine(model_id, engine_dir, layout=resolve_layout(a),
                                   tokenizer_dir=ctx.outputs.get("tokenizer_dir"),
                                   max_rolling_batch_size=a["lmi.max_rolling_batch_size"], **kw)


class LmiStep(PipelineStep):
    name, title = "lmi", "LMI configurations"
    reads = LMI_ANSWER_READS | {"model.name", "triton.repo_dir"}  # (+ the plan's model folder)
    uses = ("publish", "tokenizer")

    def _answers(self, a, ctx):
        return lmi_answers(a, ctx)

    def plan(self, a, ctx):
        from ... import lmi

        out = ctx.paths.lmi_dir
        la = lmi.LmiAnswers(model_id=lmi_model_id(a) or "s3://bucket/prefix/", tp=a["build.tp"], pp=a["build.pp"],
                            max_rolling_batch_size=a["lmi.max_rolling_batch_size"],
                            dtype=a["build.dtype"], layout=resolve_layout(a), lmi_version=a["env.lmi_version"])
        src = tokenizer_source(a)
        known = Path(src).is_dir()
        if known:  # a local tokenizer folder tells now whether it ships its own code (a Hub repo: at run time)
            from ... import tokenizer

            try:
                with tempfile.TemporaryDirectory(prefix="lmi-wizard-plan-") as tmp:
                    la.trust_remote_code = tokenizer.plan_tokenizer(src, tmp, layout=la.layout).trust_remote_code
            except WizardError:
                known = False
        lmi.normalise(la)
        lines = [f"mkdir -p {q(out / 'extracted')}"]
        for name, text in (("lmi.env", lmi.env_text(la)), ("serving.properties", lmi.serving_properties(la)),
                           ("extracted/serving.properties", lmi.extracted_properties(la))):
            lines += [f"cat > {q(out / name)} <<'EOF'", *text.splitlines(), "EOF"]
        if not known:
            lines += trust_lines(la, ctx.paths.model_dir, out)
        return lines

    def run(self, a, ctx, progress, cancel):
        from ... import lmi

        la = self._answers(a, ctx)
        out = ctx.paths.lmi_dir
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
