"""6½. The load test before publish (issue 14; between the tokenizer and publish, when enabled): LMI's own server (djl-serving, in the LMI image) loads the model
folder exactly as it will be uploaded, answers one prompt, and is stopped — the last word before Publish.

Only in the run when ``[serve_test] enabled`` (off by default in recipes; on in the wizard when djl-serving is
found and GPUs are visible). ``core.serve.serve_test`` does the work with the LMI answers the LMI step writes
(:func:`.lmi.lmi_answers`: one derivation). A model that did not load or did not answer stops the run here,
before anything is uploaded, with the explanation and the fix; without djl-serving the step is skipped with one
line. djl-serving's own lines carry ``extra["step"] = "djl-serving"`` (run.log: ``[serve_test:djl-serving]``)
between a header and an end line in the log pane. Its file records cover the whole model folder: a file added,
removed or changed there redoes the load test on ``--resume``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ...base.errors import WizardError
from ...base.progress import Progress
from ...wizard import resolve_layout
from ..state import file_record
from .base import PipelineStep, StepResult, q
from .lmi import LMI_ANSWER_READS, lmi_answers

#: the one line of a run where djl-serving is absent (the step is then skipped)
NOT_HERE = ("djl-serving not found: it is part of the LMI container image (/usr/bin/djl-serving) — run the wizard "
            "inside the LMI image you deploy to for the load test before publish")
LOG_SECTION = "djl-serving"  # the log section of djl-serving's own lines (run.log: [serve_test:djl-serving])


def _model_files(folder: Path) -> list[Path]:
    """Every file under the model folder, linked folders followed (what publish sends), sorted."""
    out: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        out += [Path(dirpath) / f for f in sorted(filenames) if (Path(dirpath) / f).is_file()]
    return out


class ServeTestStep(PipelineStep):
    name, title = "serve_test", "Load test (djl-serving)"
    reads = (LMI_ANSWER_READS - {"destination"}) | {"serve_test", "model.name", "triton.repo_dir"}
    uses = ("build", "assemble", "config", "tokenizer")

    def applies(self, a) -> bool:
        return bool(a["serve_test.enabled"])

    @staticmethod
    def _options(a, ctx):
        from ... import serve

        kw = dict(ctx.serve_options)
        return serve.ServeOptions(timeout=float(a["serve_test.timeout"] or serve.DEFAULT_TIMEOUT),
                                  prompt=a["serve_test.prompt"] or "",
                                  max_new_tokens=int(a["serve_test.max_new_tokens"] or 1), **kw)

    def plan(self, a, ctx):
        from ...serve.server import DEFAULT_COMMANDS

        o = self._options(a, ctx)
        argv = ["lmi-wizard", "serve-test", str(ctx.paths.model_dir)]
        if a["env.lmi_version"]:
            argv += ["--lmi-version", a["env.lmi_version"]]
        argv += ["--timeout", f"{o.timeout:g}", "--prompt", o.prompt, "--max-new-tokens", str(o.max_new_tokens)]
        skipped = f"load test skipped: {NOT_HERE}"
        return ["# LMI's own server loads the folder exactly as it will be uploaded, answers one prompt and is "
                "stopped; a model that does not load stops here, before the upload",
                f"if command -v {' '.join(q(c) for c in DEFAULT_COMMANDS)} >/dev/null 2>&1; then",
                "  " + shlex.join(argv),
                "else",
                f"  echo {q(skipped)} >&2",
                "fi"]

    def run(self, a, ctx, progress, cancel):
        from ... import serve

        opts = self._options(a, ctx)
        model = ctx.paths.model_dir
        if serve.find_djl_serving(opts.djl_serving) is None:  # one line, nothing else runs
            return StepResult({"serve_test": {"ok": False, "status": "skipped"}}, [], NOT_HERE, skipped=True)
        lines = {"n": 0}

        def sub(ev: Progress) -> None:
            if progress is None:
                return
            if (ev.extra or {}).get("log"):
                if lines["n"] == 0:
                    progress(Progress(self.name, f"── {LOG_SECTION} log ──"))
                lines["n"] += 1
                ev = Progress(ev.step, ev.message, ev.done, ev.total, ev.unit,
                              {**(ev.extra or {}), "step": LOG_SECTION})
            progress(ev)

        answers = lmi_answers(a, ctx, str(model))  # the LMI step's options, the local folder as model_id
        try:
            res = serve.serve_test(model, layout=resolve_layout(a), lmi_version=a["env.lmi_version"],
                                   answers=answers, options=opts, progress=sub, cancel=cancel)
        finally:
            if lines["n"] and progress is not None:
                progress(Progress(self.name, f"── end of {LOG_SECTION} log ({lines['n']} lines; run.log keeps "
                                             f"them under [{self.name}:{LOG_SECTION}])"))
        doc = dict(res.to_json(), model_dir=str(model))
        if res.status == "skipped":  # (found above, gone since)
            return StepResult({"serve_test": doc}, [], NOT_HERE, skipped=True)
        if not res.ok:
            raise WizardError(f"{serve.summary_line(res)} (nothing was uploaded)",
                              res.fix or "read djl-serving's log above")
        files = [file_record(p) for p in _model_files(model)]
        notes = list(res.notes)
        if res.text is not None:
            notes.append("answer: " + " ".join(res.text.split())[:300])
        return StepResult({"serve_test": doc}, files, serve.summary_line(res), notes)

    def still_valid(self, record, ctx=None):
        """Done before, and the model folder holds exactly the files it loaded, unchanged."""
        if not super().still_valid(record, ctx):
            return False
        folder = (record.get("outputs", {}).get("serve_test") or {}).get("model_dir")
        if not folder or not Path(folder).is_dir():
            return False
        recorded = {f["path"] for f in record.get("files", [])}
        return recorded == {str(p) for p in _model_files(Path(folder))}
