"""6. The tokenizer files into the model repository (the tutorial's snapshot_download, widened to custom
tokenizer code and ``*.tiktoken``; never weights)."""

from __future__ import annotations

import shlex
from pathlib import Path

from ...wizard import resolve_layout
from ..paths import tokenizer_source
from ..state import file_record
from .base import PipelineStep, StepResult


class TokenizerStep(PipelineStep):
    name, title = "tokenizer", "Tokenizer files"
    reads = frozenset({"build.dtype", "build.engine_dir", "build.method", "build.output_dir", "build.pp", "build.tp",
                       "checkout.work_dir", "env.lmi_layout", "env.lmi_version", "env.trtllm_version", "model.name",
                       "model.revision", "model.source", "tokenizer.extra_patterns", "tokenizer.source",
                       "triton.repo_dir"})
    uses = ("build", "assemble")


    def plan(self, a, ctx):
        from ...tokenizer import BASE_PATTERNS

        patterns = list(BASE_PATTERNS)  # the tutorial's; the extra patterns go to the verb (weights never)
        src, dest = tokenizer_source(a), ctx.paths.model_dir
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
        from ... import tokenizer

        dest = ctx.paths.model_dir
        src = tokenizer_source(a)
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
