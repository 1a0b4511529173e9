"""CLI verbs, one module each (discovered by tui/cli/main.py)."""
