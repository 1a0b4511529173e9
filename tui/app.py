"""Placeholder app until the wizard screens land (issue 6)."""

from __future__ import annotations


def main(args) -> int:
    from textual.app import App
    from textual.widgets import Footer, Header, Static

    class _App(App):
        def compose(self):
            yield Header()
            yield Static("lmi-wizard")
            yield Footer()

    _App().run()
    return 0
