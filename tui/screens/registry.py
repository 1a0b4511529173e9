"""Step key (``core.wizard``) → the screen that shows it. A step without a dedicated screen gets the
generic one (its fields, rendered from core.wizard)."""

from __future__ import annotations

from importlib import import_module

from textual.screen import Screen

_SCREENS = {
    "environment": ("environment", "EnvironmentScreen"),
    "checkout": ("checkout", "CheckoutScreen"),
    "model": ("model", "ModelScreen"),
    "build": ("build", "BuildScreen"),
    "triton": ("triton", "TritonScreen"),
    "destination": ("destination", "DestinationScreen"),
    "review": ("review", "ReviewScreen"),
    "run": ("run", "RunScreen"),
    "done": ("done", "DoneScreen"),
}


def screen_for(step: str) -> Screen:
    from .base import StepScreen

    mod_name, cls_name = _SCREENS.get(step, (None, None))
    if mod_name:
        try:
            mod = import_module(f"{__package__}.{mod_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{mod_name}":
                raise
        else:
            return getattr(mod, cls_name)()
    generic = type(f"{step.title()}Screen", (StepScreen,), {"STEP": step})
    return generic()
