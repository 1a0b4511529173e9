"""The load test before upload (issue 14): LMI's own server (djl-serving) on what was built.

``staging`` lays out what LMI gets (exactly what is uploaded), ``server`` starts / watches / stops
djl-serving in its own process group, ``diagnose`` explains a failed load from its log, ``gpumem`` checks
the GPU memory through NVML, ``loadtest.serve_test`` runs it all, ``report`` renders the result.
"""

from .loadtest import DEFAULT_GRACE, DEFAULT_TIMEOUT, ServeOptions, ServeResult, resolve_model, serve_test
from .report import done_lines, render_human, summary_line
from .server import WHERE_IT_RUNS, find_djl_serving

__all__ = ["serve_test", "ServeOptions", "ServeResult", "resolve_model", "render_human", "summary_line", "done_lines",
           "find_djl_serving", "WHERE_IT_RUNS", "DEFAULT_TIMEOUT", "DEFAULT_GRACE"]
