"""The load test before upload (issue 14): LMI's own server (djl-serving) on what was built.

``staging`` lays out what LMI gets (exactly what is uploaded), ``server`` starts / watches / stops
djl-serving in its own process group, ``diagnose`` explains a failed load from its log, ``gpumem`` checks
the GPU memory through NVML, ``loadtest.serve_test`` runs it all, ``report`` renders the result.
"""

from __future__ import annotations

import importlib

from .defaults import DEFAULT_GRACE, DEFAULT_MAX_NEW_TOKENS, DEFAULT_PROMPT, DEFAULT_TIMEOUT

# the rest loads on first use (PEP 562): the wizard's schema imports this package for its defaults on the
# first screen, which must not pay for the server, staging and NVML code (bench/bench_tui.py)
_LAZY = {"serve_test": "loadtest", "ServeOptions": "loadtest", "ServeResult": "loadtest",
         "resolve_model": "loadtest", "done_lines": "report", "render_human": "report", "summary_line": "report",
         "WHERE_IT_RUNS": "server", "find_djl_serving": "server"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

__all__ = ["serve_test", "ServeOptions", "ServeResult", "resolve_model", "render_human", "summary_line", "done_lines",
           "find_djl_serving", "WHERE_IT_RUNS", "DEFAULT_TIMEOUT", "DEFAULT_GRACE", "DEFAULT_PROMPT",
           "DEFAULT_MAX_NEW_TOKENS"]
