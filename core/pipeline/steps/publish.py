"""7. Publish the model repository: ``aws s3 sync`` semantics to S3 (content-checked), or a copy to a local folder."""

from __future__ import annotations

import shlex

from ...base.errors import WizardError
from ...base.fmt import human_bytes as _human
from ...wizard import Answers, destination_text, lmi_model_id, resolve_layout
from .base import PipelineStep, RunContext, StepResult, q

UPLOADS_DIR = "uploads"  # <work>/.lmi-wizard/uploads: the resume records of interrupted uploads (by part)


def s3_client(a: Answers, ctx: RunContext):
    """The boto3 client for an ``s3://`` destination (None for a local one), with the recipe's profile for this
    client only (like ``aws --profile``): the environment is left alone, and an AWS_PROFILE set for something
    else does not override it."""
    from ... import s3

    dest = destination_text(a)
    if not dest.lower().startswith("s3://"):
        return None
    return s3.make_client(ctx.s3_endpoint_for(a), region=a["destination.region"],
                          profile=a["destination.profile"] or None)


class PublishStep(PipelineStep):
    name, title = "publish", "Publish"
    reads = frozenset({"build.dtype", "build.engine_dir", "build.method", "build.output_dir", "build.pp", "build.tp",
                       "checkout.work_dir", "destination", "env.lmi_layout", "env.lmi_version", "env.trtllm_version",
                       "model.name", "model.source", "triton.repo_dir"})
    uses = ("build", "assemble", "config", "tokenizer")

    @staticmethod
    def _endpoint(a, ctx):
        return ctx.s3_endpoint_for(a)

    @staticmethod
    def _client(a, ctx):
        return s3_client(a, ctx)

    def plan(self, a, ctx):
        src = ctx.paths.model_dir
        dest = destination_text(a)
        mid = lmi_model_id(a)
        if dest.lower().startswith("s3://"):
            opts = []
            for flag, value in (("--endpoint-url", self._endpoint(a, ctx)), ("--profile", a["destination.profile"]),
                                ("--region", a["destination.region"])):
                if value:
                    opts += [flag, value]
            tail = (" " + shlex.join(opts)) if opts else ""
            return [f"aws s3 sync {q(str(src) + '/')} {q(dest)}{tail}",
                    f"# LMI model_id: {mid}",
                    f"aws s3 ls {q(dest)}{tail}"]
        return [f"mkdir -p {q(dest)}", f"cp -r {q(str(src) + '/.')} {q(dest + '/')}",
                f"# LMI model_id: {mid}", f"ls -l {q(dest)}"]

    def run(self, a, ctx, progress, cancel):
        from ... import layout as layout_mod
        from ... import s3

        layout = resolve_layout(a)
        src = ctx.paths.model_dir
        dest = destination_text(a)
        model_id = layout_mod.model_id_for(dest, layout)
        findings = layout_mod.check_local(src, layout)
        errs = [f for f in findings if f.blocking]
        if errs:
            raise WizardError(f"refusing to publish {src}: {errs[0].problem}", errs[0].fix)
        client = self._client(a, ctx)
        endpoint = self._endpoint(a, ctx)
        # what the sync sends, enumerated the way it does (linked folders followed, like `aws s3 sync`; our temp
        # and staging files left out), so the record and its resume check cover everything uploaded
        files = s3.scan_local(src)
        ours = {f.rel for f in files}
        # the folder's ownership marker decides (one model per folder, issue 12 §4; a local folder keeps it too):
        # another model's folder, or files not written by lmi-wizard, only with --force (the TUI's Ctrl+F)
        owner = s3.owner_for(src, files, layout=layout, name=a["model.source"] or None)
        res = s3.sync(src, dest, endpoint_url=endpoint, client=client, progress=progress, cancel=cancel,
                      owner=owner, force=ctx.force, state_dir=ctx.run_dir / UPLOADS_DIR)
        keys = s3.list_keys(dest, endpoint_url=endpoint, client=client)
        record = [{"key": k, "size": v.size} for k, v in sorted(keys.items()) if k in ours]
        notes = [f"warning: {f.problem}" for f in findings if f.level != "error"]
        if res.left_out:
            notes.append(s3.describe_left_out(res.left_out))
        if res.owner == "forced" and res.marker:
            notes.append(f"took over {dest} (--force) from {s3.describe_owner(res.marker)}")
        elif res.owner == "forced":
            notes.append(f"published over files not written by lmi-wizard at {dest} (--force)")
        if res.resumed:
            notes.append(f"resumed {len(res.resumed)} interrupted upload(s): {_human(res.reused_bytes)} already "
                         f"stored, not sent again")
        if res.extra:
            notes.append(f"{len(res.extra)} file(s) at the destination that this model does not have: "
                         + ", ".join(res.extra[:5]))
        return StepResult({"destination": dest, "model_id": model_id, "published": record,
                           "uploaded": res.uploaded, "skipped": len(res.skipped), "bytes_sent": res.bytes,
                           "left_out": res.left_out},
                          [], f"{len(res.uploaded)} file(s) sent ({_human(res.bytes)}), {len(res.skipped)} "
                              f"unchanged → {dest}; LMI model_id {model_id}", notes)

    def still_valid(self, record, ctx=None):
        if record.get("status") != "done" or ctx is None:
            return False
        from ... import s3

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
