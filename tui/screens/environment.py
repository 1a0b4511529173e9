"""Step 1 — Environment: GPUs, deploy targets, installed TensorRT-LLM / TensorRT, the matching tag and
where the templates come from, the LMI target layout, and plainly what this machine cannot do.

The report is ``core.environment.gather()`` (in a worker thread: NVML and importlib.metadata), or the
one the app was given. The fields below it (version, layout, …) are ``core.wizard``'s environment step.
"""

from __future__ import annotations

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from lmi_wizard.core import wizard as core_wizard

from lmi_wizard.core.base.fmt import gib

from .base import StepScreen


def _gib(n: int) -> str:
    return gib(n, 0)


def describe_environment(report, answers) -> tuple[str, str, str]:
    """(machine card, target card, warnings) as console markup — only formatting of core's report."""
    g = report.gpu
    lines = ["[b]GPUs[/b]"]
    if g.available:
        for gpu in g.gpus:
            lines.append(f"  {gpu.index}: {escape(gpu.name)} · {_gib(gpu.memory_total_bytes)} · {gpu.arch}"
                         + (" · MIG" if gpu.mig_enabled else ""))
        drv = ", ".join(x for x in (f"driver {g.driver_version}" if g.driver_version else "",
                                    f"CUDA {g.cuda_driver_version}" if g.cuda_driver_version else "") if x)
        if drv:
            lines.append(f"  [dim]{escape(drv)}[/dim]")
        fams = ", ".join(report.deploy_instance_families) or "none known"
        lines.append(f"[b]Deploys to[/b] {escape(fams)} [dim](same GPU architecture)[/dim]")
    else:
        lines.append(f"  [$warning]{escape(g.reason or 'no NVIDIA GPU visible')}[/]")
    t, r = report.tensorrt_llm, report.tensorrt
    lines.append("[b]tensorrt-llm[/b] " + (escape(t.version or "?") if t.installed else "[$warning]not installed[/]")
                 + "   [b]tensorrt[/b] " + (escape(r.version or "?") if r.installed else "not installed"))
    machine = "\n".join(lines)

    tl = []
    version = answers["env.trtllm_version"]
    tag = core_wizard.resolve_tag(answers)
    if version:
        tl.append(f"[b]Building for[/b] TensorRT-LLM {escape(str(version))} → tag {escape(tag or 'unknown')}")
    res = report.tag
    if res is not None and version and str(res.version) != str(version):
        res = None  # looked up for another version: stale
    if res is not None:
        how = "exact" if res.exact else ("confirm it" if res.needs_confirmation else "nearest")
        src = res.template_repo
        tl.append(f"[b]Templates[/b] {escape(src.github)} @ {escape(res.tag or '?')} ({how}), "
                  f"{escape(src.subdir)}/")
    elif version:
        try:
            from lmi_wizard.core.facts import versions

            src = versions.template_repo_for(str(version))
            tl.append(f"[b]Templates[/b] {escape(src.github)}, {escape(src.subdir)}/")
        except Exception:
            pass
    # recomputed from the current answers every time (core.wizard.lmi_target): never the detection's stale guess
    lmi = core_wizard.lmi_target(answers) if version else None
    if lmi is None:
        tl.append("[b]LMI target[/b] [dim]set the TensorRT-LLM version: it picks the LMI release and its "
                  "layout[/dim]")
    else:
        layout = lmi.layout
        tl.append(f"[b]LMI target[/b] {escape('LMI ' + lmi.version if lmi.version else 'LMI (none known)')} → "
                  f"[b]{'Triton layout' if layout == 'triton' else 'flat engine folder'}[/b]"
                  + (" [dim](your choice)[/dim]" if (answers['env.lmi_layout'] or 'auto') != 'auto' else ""))
        tl.append(f"[dim]{escape(core_wizard.for_tui(lmi.explanation))}[/dim]")
    target = "\n".join(tl)

    warn = [f"[$warning]![/] {escape(s)}" for s in report.cannot_do(lmi)]
    if res is not None:
        warn += [f"[$warning]![/] {escape(n)}" for n in res.notes if "offline" not in n]
    # the detection's own LMI guess (made before any answer) is replaced by the card above
    warn += [f"[$warning]![/] {escape(n)}" for n in report.notes if n not in report.lmi.notes]
    return machine, target, "\n".join(warn)


class EnvironmentScreen(StepScreen):
    STEP = "environment"
    BINDINGS = [Binding("ctrl+l", "lookup_tags", "Look up tags")]

    def action_lookup_tags(self) -> None:
        """Which tags really exist for the version being built for: a local checkout's tags when there
        is one, else ``git ls-remote`` of the URL settings (``core.versions.find_tag``)."""
        version = self.answers["env.trtllm_version"]
        if not version:
            self.say("set the TensorRT-LLM version first")
            return
        self.say("looking up the tags…")
        checkout = core_wizard.work_path(self.answers, self.answers["checkout.dir"])
        self.lookup_tags(str(version), self.answers["checkout.backend_url"], self.answers["checkout.trtllm_url"],
                         checkout if checkout is not None and checkout.is_dir() else None)

    @work(thread=True, exclusive=True, group="environment-tags", exit_on_error=False)
    def lookup_tags(self, version: str, backend_url: str, trtllm_url: str, checkout) -> None:
        from lmi_wizard.core.facts import versions
        from lmi_wizard.core.base.errors import WizardError

        try:
            res = versions.find_tag(version, checkout=checkout, backend_url=backend_url, trtllm_url=trtllm_url)
        except WizardError as exc:
            self.app.call_from_thread(self.say, f"✗ {exc}")
            return
        self.app.call_from_thread(self._tags_found, res)

    def _tags_found(self, res) -> None:
        report = self.wizard.session.environment
        if report is not None:
            report.tag = res
        self.safe_previews()
        where = res.tags_source or "nowhere (offline)"
        self.say(f"tag {res.tag or 'not found'} for {res.version} — tags from {where}")

    def compose_before_form(self) -> ComposeResult:
        yield Static("detecting GPUs and installed packages…", id="env-machine", classes="card")
        yield Static("", id="env-target", classes="card")
        yield Static("", id="env-warnings")

    async def _mount_lazy_form(self) -> None:
        # the fields' checks consult the detection facts: mount them once the worker has them, so the
        # (slow) NVML probe never runs on the UI thread
        if self.wizard.session.environment is None:
            self._form_waiting = True
            return
        await super()._mount_lazy_form()

    async def _detected(self, report) -> None:
        self.wizard.session.set_environment(report)
        if getattr(self, "_form_waiting", False):
            self._form_waiting = False
            await super()._mount_lazy_form()
        form = self.form
        if form is not None:
            form.revalidate()
        self.refresh_fields()
        self.safe_previews()
        self.refresh_next()

    def refresh_fields(self) -> None:
        """Defaults that depend on detection (the version) are shown once it is known."""
        form = self.form
        if form is None:
            return
        from textual.widgets import Input

        from ..widgets.form import widget_id

        f = self.answers.field("env.trtllm_version")
        try:
            box = self.query_one(f"#{widget_id(f.key)}", Input)
        except Exception:
            return
        # never while the user is in the field (their keys may still be on the way): the app never writes a field
        # the user is typing in
        if not self.answers.is_set(f.key) and not box.value and not box.has_focus:
            with box.prevent(Input.Changed):
                box.value = f.format(self.answers[f.key])

    def update_previews(self) -> None:
        report = self.wizard.session.environment
        if report is None:
            return
        machine, target, warnings = describe_environment(report, self.answers)
        self.query_one("#env-machine", Static).update(machine)
        self.query_one("#env-target", Static).update(target)
        w = self.query_one("#env-warnings", Static)
        w.update(warnings)
        w.display = bool(warnings)
