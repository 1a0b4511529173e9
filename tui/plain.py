"""``lmi-wizard --plain``: the wizard's steps as plain questionary prompts, rendered from ``core.wizard``
(the same fields, defaults, choices and validation as the full-screen app), answers saved to the same
state file after every step, then the same ``core.pipeline`` run with its progress printed line by line.

Ctrl-C anywhere: one handler saves the answers and exits 130 (questionary's ``unsafe_ask`` raises
KeyboardInterrupt instead of returning None).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.wizard import Kind
from lmi_wizard.core.wizard.session import FORM_STEPS_END, Session


def _pipeline_factory(answers, **kw):
    from lmi_wizard.core import pipeline

    return pipeline.build_run(answers, **kw)  # here, or on SageMaker (Review)


class Blocked(Exception):
    """A step's blocking problem the answers given did not change: stop (answers saved) instead of asking again."""


class PlainWizard:
    def __init__(self, state_path=None, *, input=None, output=None, advanced: bool = False,
                 pipeline_options: dict | None = None, out=None) -> None:
        self.io = {k: v for k, v in (("input", input), ("output", output)) if v is not None}
        self.advanced = advanced
        self.out = out or sys.stdout
        # the same session as the full-screen app: state load (damaged file kept beside), context, pipeline
        self.session = Session(state_path=state_path, pipeline_options=pipeline_options,
                               pipeline_factory=_pipeline_factory)
        if self.session.load_problem:
            self.say(f"! {self.session.load_problem}")
        self.ctx = self.session.ctx
        self.state = self.session.state
        self.answers = self.session.answers

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def save(self, step: str) -> None:
        self.session.current = step
        problem = self.session.save()
        if problem:
            self.say(f"! {problem}")

    # ---- one field ----------------------------------------------------------------------------
    def ask_field(self, f: core_wizard.Field) -> None:
        import questionary

        a = self.answers
        current = a[f.key]
        label = f.label + (f" — {f.help}" if f.help and len(f.help) < 90 else "")
        if f.kind is Kind.BOOL:
            value = questionary.confirm(label, default=bool(current), **self.io).unsafe_ask()
        elif f.kind is Kind.CHOICE and f.strict_choices and f.options(a):
            choices = [questionary.Choice(c.title, value=c.value) for c in f.options(a)]
            default = next((c for c in choices if c.value == current), None)
            value = questionary.select(label, choices=choices, default=default, **self.io).unsafe_ask()
        elif f.kind is Kind.SECRET:
            value = questionary.password(label + (f" (empty: ${f.env})" if f.env else ""), **self.io).unsafe_ask()
            if not value:
                return
        else:
            # checked after Enter, not in the prompt's one-line toolbar: a problem is printed whole (problem and
            # fix, wrapped by the terminal), then the field is asked again with what was typed
            default = f.format(current)
            while True:
                value = questionary.text(label, default=default, **self.io).unsafe_ask()
                problem = self.check_text(f, value)
                if problem is None:
                    break
                self.say(f"✗ {f.label}: {problem}")
                default = value
            if value == f.format(current) and not a.is_set(f.key):
                return  # the default: leave it dynamic
        a[f.key] = value

    def check_text(self, f: core_wizard.Field, raw: str) -> str | None:
        """The whole text of what blocks ``raw`` in field ``f`` (problem — fix), or None; a warning is said and
        the value kept."""
        try:
            parsed = f.parse(raw)
        except WizardError as exc:
            return str(exc)
        found = f.check(parsed, self.answers)
        if found is None:
            return None
        if not found.blocking:
            self.say(f"! {f.label}: {found.text()}")
            return None
        return found.text()

    # ---- one step -----------------------------------------------------------------------------
    def ask_step(self, step: core_wizard.Step) -> None:
        self.say(f"\n== {step.title} ==")
        if step.help:
            self.say(step.help)
        if step.key == "environment":
            self.show_environment()
        for f in step.visible_fields(self.answers, advanced=False):
            self.ask_field(f)
        self.ask_advanced(step)
        while True:
            problems = core_wizard.validate_step(step, self.answers, advanced=self.advanced)
            for p in problems:
                self.say(("✗ " if p.blocking else "! ") + f"{p.key}: {p.text()}")
            blocking = [p for p in problems if p.blocking]
            if not blocking:
                break
            before = self.answers.explicit()
            for p in blocking:  # ask again what blocks (the field, or every field of the step)
                keys = [p.key] if p.key in core_wizard.FIELDS else \
                    [f.key for f in step.visible_fields(self.answers, advanced=True)]
                for k in keys:
                    self.ask_field(self.answers.field(k))
            if self.answers.explicit() == before:  # nothing changed: asking again would ask forever
                self.save(step.key)
                raise Blocked(blocking[0])
        self.save(step.key)

    def ask_advanced(self, step: core_wizard.Step) -> None:
        """The step's advanced settings (mirror URLs, builder flags, S3 endpoint/profile …): what the full-screen
        app shows with its advanced toggle. Asked after one yes/no (``advanced=True``: asked without it)."""
        import questionary

        extra = [f for f in step.visible_fields(self.answers, advanced=True) if f.advanced]
        if not extra:
            return
        if not self.advanced:
            names = ", ".join(f.label for f in extra)
            if not questionary.confirm(f"Change advanced settings? ({names})", default=False,
                                       **self.io).unsafe_ask():
                return
        for f in extra:
            if f.is_visible(self.answers):  # an answer above may hide the next one
                self.ask_field(f)

    def show_environment(self) -> None:
        from lmi_wizard.core.facts import environment

        rep = environment.gather(lookup_tags=False)
        self.session.set_environment(rep)
        self.say(f"GPUs: {rep.gpu.summary()}")
        t = rep.tensorrt_llm
        self.say(f"tensorrt-llm: {t.version if t.installed else 'not installed'}; "
                 f"LMI target: {rep.lmi.version or '?'} ({rep.lmi.layout} layout)")
        for line in rep.cannot_do():
            self.say(f"! {line}")

    # ---- the whole thing ------------------------------------------------------------------------
    def run(self) -> int:
        import questionary

        start = self.state.last_step
        done_keys: set[str] = set()
        if start and start not in FORM_STEPS_END:
            keys = [s.key for s in core_wizard.steps_for(self.answers)]
            if start in keys and questionary.confirm(f"Resume at '{core_wizard.step(start).title}'?",
                                                     default=True, **self.io).unsafe_ask():
                done_keys = set(keys[:keys.index(start)])
        while True:
            todo = [s for s in core_wizard.steps_for(self.answers)
                    if s.key not in FORM_STEPS_END and s.key not in done_keys]
            if not todo:
                break
            self.ask_step(todo[0])
            done_keys.add(todo[0].key)
        return self.review_and_run()

    def review_and_run(self) -> int:
        import questionary

        self.ask_step(core_wizard.step("review"))  # where it runs: here, or on SageMaker (its fields)
        pipe = self.pipeline()
        self.say(pipe.plan_script())
        problems = [p for p in core_wizard.validate_all(self.answers) if p.blocking]
        for p in problems:
            self.say(f"✗ {p.key}: {p.text()}")
        self.save("review")
        if problems:
            return 2
        if not questionary.confirm("Run it now?", default=True, **self.io).unsafe_ask():
            self.say(f"answers saved; run later with `lmi-wizard --plain` (state: {self.state.path})")
            return 0
        self.save("run")
        self.say("\n== Run ==")

        from lmi_wizard.core.base.events import StepEvent

        def progress(ev) -> None:
            if isinstance(ev, StepEvent):
                self.say(f"[{ev.status}] {ev.message}")
            elif ev.message and not ev.total:
                self.say(f"  {ev.message}")

        report = pipe.run(progress=progress)
        if not report.ok:
            self.say(f"✗ stopped at {report.stopped_at}: {report.error}" + (f" — fix: {report.fix}" if report.fix else ""))
            return 1
        self.save("done")
        out = report.outputs
        self.say("\n== Done ==")
        self.say(out.get("tree", ""))
        self.say(out.get("listing", ""))
        self.say(f"LMI model_id: {report.model_id}\nlog: {report.log_path}\nrecipe: {report.recipe_path}")
        from lmi_wizard.core.serve import done_lines

        for line in done_lines(out.get("serve_test")):
            self.say(line)
        for title, text in lmi_configs(out):
            self.say(f"\n-- {title} --\n{text.rstrip()}")
        return 0

    def pipeline(self):
        return self.session.pipeline(resume=True)


def lmi_configs(outputs: dict) -> list[tuple[str, str]]:
    """The three LMI configurations of a run's outputs (the Done screen's tabs), as (title, text)."""
    lmi = outputs.get("lmi") or {}
    env = lmi.get("env", "")
    if isinstance(env, dict):
        env = "\n".join(f"{k}={v}" for k, v in env.items())
    return [(title, text) for title, text in (("environment variables (lmi.env)", env),
                                              ("serving.properties (S3 model_id)", lmi.get("serving_properties", "")),
                                              ("/opt/ml/model/serving.properties (extracted)",
                                               lmi.get("extracted", ""))) if text]


def main(args, *, input=None, output=None, out=None, pipeline_options: dict | None = None,
         advanced: bool = False) -> int:
    state = getattr(args, "state", None)
    wiz = PlainWizard(Path(state) if state else None, input=input, output=output, out=out,
                      pipeline_options=pipeline_options, advanced=advanced)
    try:
        return wiz.run()
    except Blocked as exc:
        p = exc.args[0]
        wiz.say(f"✗ stopped: {p.key}: {p.text()}"
                + f"\nanswers saved to {wiz.state.path}; `lmi-wizard --plain` resumes at this step")
        return 2
    except KeyboardInterrupt:
        wiz.session.save()
        wiz.say(f"\ninterrupted; answers saved to {wiz.state.path} — `lmi-wizard --plain` resumes")
        return 130
