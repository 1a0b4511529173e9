"""Reusable widgets of the Textual wizard (no logic: everything they show comes from core)."""
