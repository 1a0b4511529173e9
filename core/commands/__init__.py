"""CLI verbs, one module each (discovered by core/cli.py)."""
