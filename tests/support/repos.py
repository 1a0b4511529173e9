"""Small real git repositories for the version → tag tests (tests/gitfixtures.py builds them)."""

from __future__ import annotations

from pathlib import Path

from tests import gitfixtures


def tagged_config_repo(path: Path, tags: list[str], subdir: str, annotated: bool = False) -> Path:
    """A real git repo with one commit per tag, each holding ``subdir``/tensorrt_llm/config.pbtxt."""
    return gitfixtures.make_repo(path, {t: {f"{subdir}/tensorrt_llm/config.pbtxt": f'name: "tensorrt_llm"  # {t}\n'}
                                        for t in tags}, annotated=annotated)
