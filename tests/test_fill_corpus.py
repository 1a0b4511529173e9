"""Drop-in replay: every ``fill_template.py`` command line of tensorrtllm_backend's own docs, README, CI and
benchmark scripts (tests/data/fill_corpus.json, rebuilt by scripts/build_fill_corpus.py from the upstream tags)
run twice on a copy of the stored template — once by the tag's real tool (fixtures/fill_template/*.py, the
oracle) and once by ``lmi-wizard pbtxt fill --ignore-unknown -i`` — must write the same bytes, fail where the
tool fails, and warn about exactly the keys the template lacks (the keys the tool ignores silently)."""

from __future__ import annotations

import base64
import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli

from conftest import FIXTURES

DATA = Path(__file__).parent / "data" / "fill_corpus.json"
ENTRIES = json.loads(DATA.read_text("utf-8"))["entries"]
REPLAYABLE = [e for e in ENTRIES if e["tool"] and e["template"]]
# one job per distinct (tool, template, tag range, string): many pages repeat the same line at every tag
JOBS = sorted({(e["tool"], e["template"], e["tag"], e["substitutions"]) for e in REPLAYABLE})

_DRIVER = r"""
import json, runpy, sys
tool = sys.argv[1]
res = []
for argv in json.load(sys.stdin):
    sys.argv = [tool] + argv
    rc = 0
    try:
        runpy.run_path(tool, run_name="__main__")
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException as e:
        rc = type(e).__name__
    res.append(rc)
json.dump(res, sys.stdout)
"""


@pytest.fixture(autouse=True)
def _parser_built_once(monkeypatch):
    parser = cli.build_parser()  # cli.main otherwise rebuilds the whole verb tree on every call
    monkeypatch.setattr(cli, "build_parser", lambda *a: parser)


def _tool(name: str) -> Path:
    return FIXTURES / "fill_template" / f"{name}.py"


def _template(rel: str) -> Path:
    return FIXTURES / "pbtxt" / rel / "config.pbtxt"


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """{job: (tool exit status, file bytes after)}: each tool file run unmodified as __main__ with -i, one
    subprocess per tool for all its jobs."""
    root = tmp_path_factory.mktemp("corpus")
    out = {}
    for tool in sorted({j[0] for j in JOBS}):
        mine = [j for j in JOBS if j[0] == tool]
        copies = [_copy(_template(j[1]), root / f"t{JOBS.index(j)}" / j[1].split("/")[1] / "config.pbtxt") for j in mine]
        argv = [["-i", str(c), j[3]] for j, c in zip(mine, copies)]
        r = subprocess.run([sys.executable, "-S", "-c", _DRIVER, str(_tool(tool))], input=json.dumps(argv).encode(),
                           capture_output=True, timeout=300, env={"PYTHONUTF8": "1", "PATH": "/usr/bin:/bin"})
        assert r.returncode == 0, r.stderr[-2000:]
        for j, c, rc in zip(mine, copies, json.loads(r.stdout)):
            out[j] = (rc, c.read_bytes())
    return out


def _tool_keys(tool: str, subs: str) -> list[str] | None:
    """The keys the tool itself reads from ``subs`` (its own ``split`` from v0.16; a naive split before), or
    None where its parsing fails."""
    ns = runpy.run_path(str(_tool(tool)))  # not __main__: only defines split()/main()
    split = ns.get("split") or (lambda s, d: s.split(d))
    keys = []
    for item in split(subs, ","):
        parts = split(item, ":")
        if len(parts) != 2:
            return None
        keys.append(parts[0])
    return keys


def test_the_corpus_is_what_the_issue_describes():
    """Lines from the tags' own pages, at every tag whose tool is stored; each entry names its source line."""
    tags = {e["tag"] for e in REPLAYABLE}
    assert len(REPLAYABLE) >= 600 and len(tags) >= 15
    assert {"v0.5.0", "v0.12.0", "v0.16.0", "v0.19.0"} <= tags
    for e in ENTRIES:
        assert re.fullmatch(r"[\w./-]+:\d+", e["source"]) and e["substitutions"]
    assert any("README.md" in e["source"] for e in REPLAYABLE) and any(e["source"].startswith("ci/") for e in REPLAYABLE)


@pytest.mark.parametrize("tag", sorted({j[2] for j in JOBS}, key=lambda t: tuple(map(int, t[1:].split(".")))))
def test_every_upstream_line_replays_byte_identically(tag, tmp_path, capsys, oracle):
    for job in [j for j in JOBS if j[2] == tag]:
        tool, template, _, subs = job
        t_rc, t_bytes = oracle[job]
        src = _template(template)
        cfg = _copy(src, tmp_path / f"o{JOBS.index(job)}" / template.split("/")[1] / "config.pbtxt")
        capsys.readouterr()
        rc = cli.main(["pbtxt", "fill", str(cfg), subs, "--tag", tag, "--ignore-unknown", "-i"])
        err = capsys.readouterr().err
        where = f"{tag} {template} {subs!r}"
        if t_rc != 0:  # the tool stops (a malformed string; from v0.19 a key absent from the file): so do we
            assert rc == 2 and cfg.read_bytes() == src.read_bytes() and err.count("\n") == 1, (where, t_rc, err)
            continue
        assert rc == 0, (where, err)
        assert cfg.read_bytes() == t_bytes, where
        warned = re.findall(r"^lmi-wizard: warning: ignored `([^`]*)`", err, re.M)
        keys = _tool_keys(tool, subs)
        text = src.read_text("utf-8")
        lacking = [k for k in dict.fromkeys(keys) if f"${{{k}}}" not in text]
        assert warned == lacking, (where, err)


def test_the_default_stays_strict(tmp_path, capsys):
    """Without --ignore-unknown a key the file lacks is an error naming the fix, and nothing is written —
    also for upstream's own lines that carry such a key."""
    lacking = []
    for e in REPLAYABLE:
        keys = _tool_keys(e["tool"], e["substitutions"]) or []
        miss = [k for k in keys if f"${{{k}}}" not in _template(e["template"]).read_text("utf-8")]
        if miss:
            lacking.append((e, miss))
    assert lacking  # the corpus has lines the tool fills while ignoring a key
    e, miss = lacking[0]
    cfg = _copy(_template(e["template"]), tmp_path / e["model"] / "config.pbtxt")
    capsys.readouterr()
    rc = cli.main(["pbtxt", "fill", str(cfg), e["substitutions"], "--tag", e["tag"], "-i"])
    err = capsys.readouterr().err
    assert rc == 2 and f"`{miss[0]}`" in err and "fix:" in err and err.count("\n") == 1
    assert cfg.read_bytes() == _template(e["template"]).read_bytes()
