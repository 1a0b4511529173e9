"""The preflight report as text for a person: grouped, one line per finding with its fix."""

from __future__ import annotations

from ..base.findings import Finding
from .report import GROUP_TITLES, GROUPS, CheckReport


# --------------------------------------------------------------------------------------------- text
def render_human(report: CheckReport) -> str:
    lines = [f"lmi-wizard check {report.target}",
             f"  layout: {report.layout or '?'}"
             + (f"   LMI model_id: {report.model_id}" if report.model_id else "")]
    if report.lmi and report.lmi.get("version"):
        lines.append(f"  LMI target: {report.lmi['version']} (TensorRT-LLM {report.lmi.get('trtllm_version') or '?'}, "
                     f"{report.lmi.get('source')})")
    mark = {"error": "✗ error  ", "warning": "! warning", "info": "· info   "}
    by_group: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_group.setdefault(f.group, []).append(f)
    for g in sorted(by_group, key=lambda g: GROUPS.index(g) if g in GROUPS else 99):
        lines.append("")
        lines.append(GROUP_TITLES.get(g, g))
        for f in by_group[g]:
            where = f"  [{f.path}]" if f.path and f.severity != "info" else ""
            lines.append(f"  {mark.get(f.severity, f.severity)} {f.text()}{where}")
    lines.append("")
    ne, nw = len(report.errors), len(report.warnings)
    if ne:
        lines.append(f"{ne} error(s), {nw} warning(s): LMI will not load this model as it is.")
    else:
        lines.append(f"no blocking problem found ({nw} warning(s)).")
    return "\n".join(lines)
