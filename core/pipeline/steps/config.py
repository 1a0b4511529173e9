"""5. Fill ``config.pbtxt`` (Triton layout) like the tag's fill_template.py, then what the tutorial edits by hand."""

from __future__ import annotations

from pathlib import Path

from ...base.errors import WizardError
from ...base.fsutil import atomic_write_text
from ...wizard import resolve_tag
from ...wizard.triton_config import fill_config, fill_pairs, known_template_keys, wanted_substitutions
from ..paths import triton_built_here
from ..state import file_record
from .base import LMI_PYTHON, PipelineStep, StepResult, q


class ConfigStep(PipelineStep):
    name, title = "config", "Fill config.pbtxt"
    reads = frozenset({"build.dtype", "build.max_batch_size", "checkout.dir", "checkout.work_dir", "env.tag",
                       "env.trtllm_version", "triton"})
    uses = ("assemble",)

    def applies(self, a):
        return triton_built_here(a)

    @staticmethod
    def _config_path(a, ctx) -> Path:
        return ctx.paths.config_pbtxt

    def plan(self, a, ctx):
        from ... import triton as pbtxt

        cfg = self._config_path(a, ctx)
        tmpl = ctx.paths.template_dir / "tensorrt_llm" / "config.pbtxt"
        if tmpl.is_file():
            pairs = fill_pairs(a, tmpl.read_text(encoding="utf-8"))
            note = []
        else:
            pairs = dict(wanted_substitutions(a))
            known = known_template_keys(resolve_tag(a))
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
            lines = note + [f"python3 {q(ctx.paths.tools_dir / 'fill_template.py')} -i {q(cfg)} "
                            f"{q(pbtxt.tool_substitutions(pairs, tag))}"]
        except WizardError as exc:  # e.g. a value with `,` or `:` that a pre-0.16 tool cannot express
            lines = note + [f"# {exc.problem}: filled by lmi-wizard's reimplementation of that tool instead",
                            f"{LMI_PYTHON} - <<'LMI_WIZARD_EOF'", "from lmi_wizard.core import triton as pbtxt",
                            "from lmi_wizard.core.base.fsutil import atomic_write_text",
                            f"path = {str(cfg)!r}",
                            f"atomic_write_text(path, pbtxt.fill_text(open(path).read(), {dict(pairs)!r}, "
                            f"tag={tag!r}).text)", "LMI_WIZARD_EOF"]
        decoupled = bool(a["triton.decoupled"])
        named = list(dict.fromkeys(a["triton.delete_params"] or ()))
        lines += ["# what the tutorial then edits by hand (vi): model_transaction_policy { decoupled: "
                  f"{decoupled} }}, the engine path as the container sees it, max_batch_size no larger than the "
                  "engine's"
                  + (f", the parameters blocks {', '.join(named)} deleted" if named else "")
                  + (", and every parameters { … } block still holding ${…} deleted"
                     if a["triton.optional_placeholders"] == "delete" else ""),
                  f"{LMI_PYTHON} - <<'LMI_WIZARD_EOF'", "from lmi_wizard.core import triton as pbtxt",
                  "from lmi_wizard.core.base.fsutil import atomic_write_text",
                  f"path = {str(cfg)!r}",
                  f"text = pbtxt.set_decoupled(open(path).read(), {decoupled!r})",
                  *([f"text = pbtxt.cap_max_batch_size(text, {int(a['build.max_batch_size'])})[0]"]
                    if a["build.max_batch_size"] else []),
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
                  f"lmi-wizard pbtxt check --engine-path {q(a['triton.engine_path'])} {q(cfg)}   # nothing may block"]
        return lines

    def run(self, a, ctx, progress, cancel):
        from ... import triton as pbtxt

        from ...base.fsutil import read_text

        cfg = self._config_path(a, ctx)
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
