"""1. The environment check: the TensorRT-LLM the recipe builds for is the one installed; warnings as notes."""

from __future__ import annotations

from ...base.errors import WizardError
from ...wizard import resolve_layout, resolve_tag, validate_all
from ...wizard.rules import installed_mismatch
from .base import PipelineStep, StepResult, q


class EnvironmentStep(PipelineStep):
    name, title = "environment", "Environment check"
    reads = frozenset({"env", "build.method"})
    always_run = True

    def plan(self, a, ctx):
        v = a["env.trtllm_version"] or "?"
        return [f"# the engine only loads on the TensorRT-LLM it was built with ({v}) and the same GPU architecture",
                f"pip show tensorrt-llm 2>/dev/null | grep -qx {q('Version: ' + v)} || "
                f"echo {q(f'warning: tensorrt-llm {v} is not what is installed here (pip show tensorrt-llm)')} >&2",
                "nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv || "
                "echo 'warning: no NVIDIA GPU visible' >&2"]

    def run(self, a, ctx, progress, cancel):
        from ...facts import environment

        layout_choice = a["env.lmi_layout"]
        report = environment.gather(lookup_tags=False, lmi_override=a["env.lmi_version"] or None,
                                    layout_override=None if layout_choice in (None, "auto") else layout_choice)
        notes = list(report.cannot_do())
        installed, wanted = report.tensorrt_llm.version, a["env.trtllm_version"]
        mismatch = installed_mismatch(a, installed) if wanted else None  # the rule the Environment screen blocks on
        if mismatch is not None:
            raise WizardError(mismatch.problem, mismatch.fix)
        # blocking problems were refused before the run started (Pipeline.refusal); the warnings are notes
        # (those about the machine are already in the report's own notes)
        notes += [f"{p.severity}: {p}" for p in validate_all(a)
                  if not p.blocking and not p.key.startswith("env")]
        if wanted and not a.is_set("env.tag"):
            from ...facts import versions

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

