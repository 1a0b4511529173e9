"""Helpers shared by the test modules (one copy each): where the upstream fixtures are, process-group
helpers, hanging builders. Pytest fixtures themselves live in tests/conftest.py."""
