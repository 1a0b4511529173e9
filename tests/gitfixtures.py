"""Build REAL git repositories with REAL tags in temp folders, for tests that clone with file:// URLs.

Generic helper, importable by any test::

    from tests.gitfixtures import make_repo, file_url
    repo = make_repo(tmp_path / "TensorRT-LLM", tags={
        "v0.11.0": {"examples/llama/convert_checkpoint.py": "..."},
        "v0.12.0": {"examples/llama/convert_checkpoint.py": "...", "README.md": "x"},
    })
    url = file_url(repo)          # "file:///tmp/.../TensorRT-LLM"

Each tag is one commit on ``branch`` (in the order given). By default each tag's files REPLACE the tree
(the tag's tree is exactly the files listed); ``cumulative=True`` keeps earlier files unless overwritten.
``gitlinks`` adds submodule entries (a ``.gitmodules`` file plus a gitlink at the path), the way
tensorrtllm_backend records ``tensorrt_llm``: a clone without ``--recurse-submodules`` leaves that path
an empty folder. ``after_tags`` adds commits after the last tag so the branch head is not at a tag.

Git runs with a fixed identity and no user/system config, so the result is the same on every machine.
Also here: trees shaped like ``tensorrtllm_backend`` and ``TensorRT-LLM`` at a given version, built from
the real upstream files in ``../shared/fixtures`` where those exist.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Union

from tests.support.fixtures import FIXTURES as _FIXTURES

Content = Union[str, bytes]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = _FIXTURES  # lazy: resolves (or skips the test) when used


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({
        "GIT_AUTHOR_NAME": "Fixture", "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
        "GIT_COMMITTER_NAME": "Fixture", "GIT_COMMITTER_EMAIL": "fixture@example.invalid",
        "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    })
    if extra:
        env.update(extra)
    return env


def git(cwd: str | os.PathLike, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git in ``cwd``; return stdout (stripped). Raises CalledProcessError with stderr on failure."""
    res = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                         cwd=os.fspath(cwd), env=git_env(env), capture_output=True, text=True)
    if res.returncode != 0:
        raise subprocess.CalledProcessError(res.returncode, res.args, res.stdout, res.stderr)
    return res.stdout.strip()


def file_url(path: str | os.PathLike) -> str:
    return Path(path).resolve().as_uri()


def _write_tree(repo: Path, files: Mapping[str, Content], replace: bool) -> None:
    if replace:
        for child in repo.iterdir():
            if child.name == ".git":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    for rel, content in files.items():
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts:
            raise ValueError(f"fixture path must be relative and inside the repo: {rel}")
        p = repo / rel_path
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        if rel.endswith((".sh",)) or (isinstance(content, str) and content.startswith("#!")):
            p.chmod(0o755)


def _add_gitlinks(repo: Path, gitlinks: Mapping[str, str]) -> None:
    lines = []
    for path, url in gitlinks.items():
        lines += [f'[submodule "{path}"]', f"\tpath = {path}", f"\turl = {url}"]
        # any commit id will do: a clone without --recurse-submodules never fetches it
        fake_sha = re.sub(r"[^0-9a-f]", "a", (path.encode().hex() * 40))[:40]
        shutil.rmtree(repo / path, ignore_errors=True)
        git(repo, "update-index", "--add", "--cacheinfo", f"160000,{fake_sha},{path}")
    (repo / ".gitmodules").write_text("\n".join(lines) + "\n")


def make_repo(
    path: str | os.PathLike,
    tags: Mapping[str, Mapping[str, Content]],
    *,
    branch: str = "main",
    cumulative: bool = False,
    annotated: bool = True,
    gitlinks: Mapping[str, str] | None = None,
    after_tags: int = 0,
    bare: bool = False,
) -> Path:
    """Create a git repository at ``path`` with one commit per tag (see module doc); return its path.

    ``bare=True`` converts it to a bare repository afterwards (what a server holds). Clone it with
    ``file_url(path)``.
    """
    repo = Path(path)
    if repo.exists() and any(repo.iterdir()):
        raise FileExistsError(f"{repo} exists and is not empty")
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", branch)
    for i, (tag, files) in enumerate(tags.items()):
        _write_tree(repo, files, replace=not cumulative)
        git(repo, "add", "-A")
        if gitlinks:
            _add_gitlinks(repo, gitlinks)
            git(repo, "add", ".gitmodules")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"release {tag}")
        if annotated:
            git(repo, "tag", "-a", tag, "-m", f"Release {tag}")
        else:
            git(repo, "tag", tag)
    for i in range(after_tags):
        (repo / f"CHANGES-{i}.md").write_text(f"unreleased change {i}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"unreleased change {i}")
    if bare:
        bare_path = repo.with_name(repo.name + ".bare-tmp")
        git(repo.parent, "clone", "-q", "--bare", "--no-local", str(repo), str(bare_path))
        shutil.rmtree(repo)
        bare_path.rename(repo)
    return repo


def add_big_history(repo: str | os.PathLike, *, megabytes: int = 8, files: int = 8, seed: int = 1) -> None:
    """Add a commit of incompressible data (for clone-progress and mid-clone cancel tests)."""
    import random

    repo = Path(repo)
    rnd = random.Random(seed)
    each = megabytes * 1024 * 1024 // max(1, files)
    big = repo / "3rdparty" / "blobs"
    big.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (big / f"blob{i}.bin").write_bytes(rnd.randbytes(each))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "big blobs")


# -- trees shaped like the real upstream repositories ---------------------------------------------------

def version_tuple(tag: str) -> tuple[int, int, int]:
    m = re.match(r"v?(\d+)\.(\d+)\.(\d+)", tag)
    if not m:
        raise ValueError(f"not a version tag: {tag}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _fixture_text(rel: str, fallback: str) -> str:
    p = FIXTURES / rel
    return p.read_text() if p.is_file() else fallback


def _templates(tag: str, prefix: str, fixture_key: str | None = None) -> dict[str, str]:
    """all_models/inflight_batcher_llm/<model>/config.pbtxt (real upstream files when the fixture has the tag)."""
    fixture_key = fixture_key or tag
    models = ["ensemble", "preprocessing", "postprocessing", "tensorrt_llm"]
    if version_tuple(tag) >= (0, 7, 0):
        models.append("tensorrt_llm_bls")
    out = {}
    for m in models:
        real = FIXTURES / "pbtxt" / fixture_key / m / "config.pbtxt"
        out[f"{prefix}all_models/inflight_batcher_llm/{m}/config.pbtxt"] = (
            real.read_text() if real.is_file() else f'name: "{m}"\nbackend: "python"\n')
        out[f"{prefix}all_models/inflight_batcher_llm/{m}/1/.gitkeep"] = ""
    out[f"{prefix}tools/fill_template.py"] = _fixture_text(
        f"fill_template/{tag}.py", "#!/usr/bin/env python3\nprint('fill_template stand-in')\n")
    return out


def backend_tree(tag: str) -> dict[str, str]:
    """Files of triton-inference-server/tensorrtllm_backend at ``tag`` that the wizard uses
    (``tensorrt_llm`` is a submodule there: pass ``gitlinks=BACKEND_GITLINKS`` to make_repo)."""
    files = {"README.md": f"# tensorrtllm_backend {tag}\n"}
    files.update(_templates(tag, ""))
    return files


BACKEND_GITLINKS = {"tensorrt_llm": "https://github.com/NVIDIA/TensorRT-LLM.git"}


def _builder_sources(era: str) -> list[tuple[str, str]]:
    """(fixture dir, repo-relative path) of the real builder sources of an era ("0.11", "main")."""
    try:
        from .stand_ins.layout import LAYOUTS
    except ImportError:  # imported as a top-level module
        from stand_ins.layout import LAYOUTS
    return LAYOUTS[era][0]


def trtllm_tree(tag: str, models: Mapping[str, str] | None = None, *, extra: Mapping[str, Content] | None = None
                ) -> dict[str, Content]:
    """Files of NVIDIA/TensorRT-LLM at ``tag``, in the layout of that version.

    ``models`` maps a folder name to its place: ``"flat"`` (examples/<m>), ``"core"`` or ``"contrib"``
    (examples/models/<place>/<m>). Default: a few real model names in the version's layout.
    Builders: ``build.py`` up to 0.7; from 0.8 ``convert_checkpoint.py`` + ``tensorrt_llm/commands/build.py`` +
    ``tensorrt_llm/plugin/plugin.py`` (the 0.11 sources; from 0.19 the recent-main ones, with ``--max_seq_len``
    and ``--kv_cache_type``). From 0.20 the Triton templates live under ``triton_backend/``.
    """
    v = version_tuple(tag)
    new_layout = v >= (0, 19, 0)
    if models is None:
        if new_layout:
            models = {"llama": "core", "qwen": "core", "gpt": "core", "mixtral": "core",
                      "baichuan": "contrib", "falcon": "contrib", "chatglm-6b": "contrib"}
        else:
            models = {"llama": "flat", "baichuan": "flat", "qwen": "flat", "gpt": "flat", "falcon": "flat",
                      "mixtral": "flat"}
    files: dict[str, Content] = {
        "README.md": f"# TensorRT-LLM {tag}\n",
        "tensorrt_llm/version.py": f'__version__ = "{tag.lstrip("v")}"\n',
        "examples/quantization/quantize.py": "# quantize helper (not a model folder)\n",
        "examples/apps/README.md": "apps\n",
    }
    legacy = v < (0, 8, 0)
    if legacy:
        real_build = _fixture_text("trtllm-src/0.5.0~027cd518/examples/llama/build.py",
                                   "import argparse\nparser = argparse.ArgumentParser()\n")
    else:
        # the real builder sources of that era (same table as stand_ins/layout.py): trtllm-build WITH the
        # plugin.py whose loop generates --gemm_plugin, --context_fmha, … (without it those flags are unknown)
        real_convert = "import argparse\n"
        for fx, rel in _builder_sources("main" if new_layout else "0.11"):
            if rel.endswith("convert_checkpoint.py"):
                real_convert = _fixture_text(f"trtllm-src/{fx}/{rel}", real_convert)
            else:
                files[rel] = _fixture_text(f"trtllm-src/{fx}/{rel}", "import argparse\n")
    for name, place in models.items():
        base = f"examples/{name}" if place == "flat" else f"examples/models/{place}/{name}"
        files[f"{base}/README.md"] = f"# {name}\n"
        if name == "mixtral":  # upstream: README only, points at the llama scripts
            continue
        if legacy:
            files[f"{base}/build.py"] = real_build
        else:
            files[f"{base}/convert_checkpoint.py"] = real_convert
        files[f"{base}/requirements.txt"] = "transformers\n"
    if v >= (0, 20, 0):
        files.update(_templates(tag, "triton_backend/", "trtllm-1.1.0rc6-2a9abd95"))
    if extra:
        files.update(extra)
    return files
