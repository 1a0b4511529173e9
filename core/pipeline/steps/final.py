"""9. The final tree of the model repository and the listing of the destination, checked the way LMI loads it."""

from __future__ import annotations

from ...base.errors import WizardError
from ...wizard import resolve_layout
from .base import PipelineStep, StepResult, q
from .publish import s3_client


class FinalStep(PipelineStep):
    name, title = "final", "Final tree and listing"
    reads = frozenset({"destination", "checkout.work_dir", "build.method", "build.engine_dir", "build.output_dir",
                       "triton.repo_dir", "env.lmi_layout", "env.lmi_version", "env.trtllm_version"})
    uses = ("publish", "lmi")
    always_run = True

    def plan(self, a, ctx):
        src = ctx.paths.model_dir
        return [f"tree {q(src)} 2>/dev/null || find {q(src)} | sort"]

    def run(self, a, ctx, progress, cancel):
        from ... import layout as layout_mod
        from ... import s3, tree

        src = ctx.paths.model_dir
        tree_txt = tree.tree_text(src, root_label=src.name)
        dest = ctx.paths.destination
        client = s3_client(a, ctx)
        endpoint = ctx.s3_endpoint_for(a)
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
