"""4. Assemble ``triton_model_repo`` (Triton layout): the tag's templates, the engines in ``tensorrt_llm/1/``."""

from __future__ import annotations

from ...base.errors import WizardError
from ..paths import triton_built_here
from ..state import file_record
from .base import PipelineStep, StepResult, q


class AssembleStep(PipelineStep):
    name, title = "assemble", "Assemble triton_model_repo"
    reads = frozenset({"build.engine_dir", "build.method", "build.output_dir", "checkout.dir", "checkout.work_dir",
                       "env.lmi_layout", "env.lmi_version", "env.tag", "env.trtllm_version", "triton.repo_dir"})
    uses = ("checkout", "build")

    def applies(self, a):
        return triton_built_here(a)

    @staticmethod
    def _paths(a, ctx):
        paths = ctx.paths
        return paths.repo_dir, paths.engine_dir

    def plan(self, a, ctx):
        repo, edir = self._paths(a, ctx)
        tmpl = ctx.paths.template_dir
        t = repo / "tensorrt_llm"
        return [f"mkdir -p {q(t / '1')}",
                f"cp -r {q(tmpl / 'tensorrt_llm')}/* {q(t)}/",
                f"cp {q(edir)}/* {q(t / '1')}/   # lmi-wizard hard-links them when on the same file system"]

    def run(self, a, ctx, progress, cancel):
        from ...triton import repo as repo_mod

        repo, edir = self._paths(a, ctx)
        if repo.exists() and any(repo.iterdir()) and not ctx.may_replace:
            raise WizardError(f"{repo} already exists and is not empty",
                              "choose another [triton] repo_dir, continue the earlier run with --resume, "
                              "or replace it with --force")
        src = str(ctx.paths.checkout_root)
        res = repo_mod.assemble_repo(src, repo, engine_dir=edir, engine_mode="link", force=ctx.may_replace,
                                     progress=progress, cancel=cancel)
        t = repo / "tensorrt_llm"
        files = [file_record(p, "stat") for p in sorted((t / "1").iterdir()) if p.is_file()]
        files.append(file_record(t / "config.pbtxt", "exists"))  # the config step owns its content
        return StepResult({"repo_dir": str(repo), "model_dir": str(t), "engine_copy": str(t / "1"),
                           "template_dir": str(res.template_dir)}, files,
                          f"{len(res.engine_files)} engine file(s) into {t / '1'} ({res.method}) from {res.template_dir}",
                          list(res.notes))
