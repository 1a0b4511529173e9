"""Oracle tests: the real upstream ``tools/fill_template.py`` of each tag (fixtures/fill_template/*.py), run
as a subprocess on a temp copy of every template, against ``lmi-wizard pbtxt fill --tag`` (the CLI, run
in-process) on another copy. Bytes must match, with ``-i`` (the file) and without (stdout)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core import triton as pbtxt  # the config.pbtxt API (fill, check, edit)
from lmi_wizard.core.base.errors import WizardError

from tests.support.fixtures import FIXTURES, fixture_glob, params

pytestmark = pytest.mark.needs_fixtures  # every test here runs the upstream tools on the upstream templates
TOOLS = fixture_glob("fill_template/*.py")  # [] when the fixtures are absent
TEMPLATES = fixture_glob("pbtxt/*/*/config.pbtxt")
TUTORIAL = ("enable_trt_overlap:False,batch_scheduler_policy:max_utilization,"
            "kv_cache_free_gpu_mem_fraction:0.95,max_num_sequences:64")


@pytest.fixture(autouse=True)
def _parser_built_once(monkeypatch):
    """cli.main builds its argparse tree (importing every verb module) on each call: ~40 ms. The oracle
    calls it ~800 times, so reuse one tree; the code path is otherwise cli.main's own."""
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda *a: parser)


def _names(text: str) -> list[str]:
    names = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        names += re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", line)
    return sorted(set(names))


def _value(name: str) -> str:
    if name == "triton_max_batch_size":
        return "64"
    if name.endswith("_instance_count") or name.startswith("max_queue"):
        return "1"
    if name.endswith("data_type") or name.endswith("datatype"):
        return "TYPE_FP16"
    if name == "decoupled_mode":
        return "True"
    if name == "engine_dir":
        return "/opt/ml/model/tensorrt_llm/1"
    return f"v_{name}"


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)  # the fixtures are read-only; the copy is not
    return dst


def run_tool(tool: Path, cfg: Path, subs: str, in_place: bool) -> tuple[int, bytes, bytes]:
    argv = [sys.executable, "-S", str(tool)] + (["-i"] if in_place else []) + [str(cfg), subs]
    r = subprocess.run(argv, capture_output=True, timeout=60)
    return r.returncode, r.stdout, cfg.read_bytes()


def run_ours(cfg: Path, subs: str, tag: str, in_place: bool, capsys, *extra: str) -> tuple[int, bytes, bytes, str]:
    """`lmi-wizard pbtxt fill` through the CLI entry point: (exit code, stdout bytes, file bytes, stderr)."""
    capsys.readouterr()
    rc = cli.main(["pbtxt", "fill", str(cfg), subs, "--tag", tag, *(["-i"] if in_place else []), *extra])
    cap = capsys.readouterr()
    return rc, cap.out.encode("utf-8"), cfg.read_bytes(), cap.err


def _tag(tool: Path) -> str:
    return tool.stem  # v0.5.0.py → v0.5.0


def _strings(text: str, tool: Path) -> list[str]:
    names = _names(text)
    out = [",".join(f"{n}:{_value(n)}" for n in names),  # fill everything
           f"{names[0]}:{_value(names[0])}"]  # one key: mostly the tag's defaults at work
    if _tag(tool) == "v0.16.0":
        esc = [n for n in names if n in ("gpu_device_ids", "participant_ids", "medusa_choices")]
        if esc:  # escaped commas (v0.16+ syntax) and a double-escaped colon the tool turns into ":"
            out.append(",".join(f"{n}:0\\,1" for n in esc) + (",engine_dir:/a\\\\:b" if "engine_dir" in names else ""))
    return out


CASES = [(t, c) for t in TOOLS for c in TEMPLATES if _names(c.read_text())]

# Running the tool ~500 times as separate processes takes minutes on a loaded 2-core box, so the bulk
# comparison runs each tool file unmodified as __main__ (runpy) many times inside ONE subprocess per tool;
# the tests further down also run it the plain way, one process per call.
_DRIVER = r"""
import base64, io, json, runpy, sys
tool = sys.argv[1]
jobs = json.load(sys.stdin)
res = []
real = sys.stdout
for argv in jobs:
    buf = io.StringIO()
    sys.argv = [tool] + argv
    sys.stdout = buf
    rc = 0
    try:
        runpy.run_path(tool, run_name="__main__")
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException:
        rc = 1
    finally:
        sys.stdout = real
    res.append([rc, base64.b64encode(buf.getvalue().encode("utf-8")).decode()])
json.dump(res, real)
"""


def run_tool_batch(tool: Path, jobs: list[list[str]]) -> list[tuple[int, bytes]]:
    import base64
    import json

    r = subprocess.run([sys.executable, "-S", "-c", _DRIVER, str(tool)], input=json.dumps(jobs).encode(),
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return [(rc, base64.b64decode(out)) for rc, out in json.loads(r.stdout)]


@pytest.fixture(scope="module")
def tool_runs(tmp_path_factory):
    """{(tool, cfg, n, in_place): (rc, stdout, file bytes)} for every case, one subprocess per tool."""
    root = tmp_path_factory.mktemp("oracle")
    results = {}
    for tool in TOOLS:
        keys, jobs = [], []
        for t, cfg in CASES:
            if t != tool:
                continue
            for n, subs in enumerate(_strings(cfg.read_text(), tool)):
                for in_place in (True, False):
                    d = root / f"{_tag(tool)}-{cfg.parent.parent.name}-{cfg.parent.name}-{n}-{in_place}"
                    copy = _copy(cfg, d / "config.pbtxt")
                    keys.append((tool, cfg, n, in_place, copy))
                    jobs.append((["-i"] if in_place else []) + [str(copy), subs])
        for (tool_, cfg, n, in_place, copy), (rc, out) in zip(keys, run_tool_batch(tool, jobs)):
            results[(tool_, cfg, n, in_place)] = (rc, out, copy.read_bytes())
    return results


@pytest.mark.parametrize("tool,cfg", params(CASES, [f"{_tag(t)}-{c.parent.parent.name}/{c.parent.name}" for t, c in CASES], arity=2))
def test_fill_is_byte_identical_to_the_tags_tool(tool, cfg, tmp_path, capsys, tool_runs):
    text = cfg.read_text()
    for n, subs in enumerate(_strings(text, tool)):
        for in_place in (True, False):
            t_rc, t_out, t_file = tool_runs[(tool, cfg, n, in_place)]
            assert t_rc == 0, (subs, t_out)
            ours = _copy(cfg, tmp_path / f"o{n}{in_place}" / cfg.parent.name / "config.pbtxt")
            o_rc, o_out, o_file, _ = run_ours(ours, subs, _tag(tool), in_place, capsys)
            assert o_rc == 0, subs
            assert o_out == t_out, (subs, in_place)
            assert o_file == t_file, (subs, in_place)
            if not in_place:
                assert o_file == cfg.read_bytes() and o_out.endswith(b"\n")  # printing leaves the file alone
            else:
                assert o_file != cfg.read_bytes() and o_out == b""


def test_batch_driver_matches_a_plain_run(tmp_path, capsys):
    """The runpy batch gives what a plain `python fill_template.py` process gives."""
    tool = FIXTURES / "fill_template" / "v0.16.0.py"
    cfg = FIXTURES / "pbtxt" / "v0.16.0" / "tensorrt_llm" / "config.pbtxt"
    subs = "decoupled_mode:True,gpu_device_ids:0\\,1"
    a = _copy(cfg, tmp_path / "a" / "config.pbtxt")
    b = _copy(cfg, tmp_path / "b" / "config.pbtxt")
    plain = run_tool(tool, a, subs, False)
    batch = run_tool_batch(tool, [[str(b), subs], ["-i", str(b), subs]])
    assert batch[0] == (plain[0], plain[1])
    assert b.read_bytes() == plain[1][:-1]


@pytest.mark.parametrize("tool", params(TOOLS, [_tag(t) for t in TOOLS]))
def test_crlf_file_is_written_like_the_tool(tool, tmp_path, capsys):
    src = FIXTURES / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt"
    crlf = src.read_bytes().replace(b"\n", b"\r\n")
    theirs, ours = tmp_path / "t" / "config.pbtxt", tmp_path / "o" / "config.pbtxt"
    for p in (theirs, ours):
        p.parent.mkdir()
        p.write_bytes(crlf)
    subs = "decoupled_mode:True,triton_max_batch_size:8"
    assert run_tool(tool, theirs, subs, True)[2] == run_ours(ours, subs, _tag(tool), True, capsys)[2]
    assert b"\r" not in ours.read_bytes()


def test_tutorial_string_on_v050_is_identical(tmp_path, capsys):
    cfg = FIXTURES / "pbtxt" / "v0.5.0" / "tensorrt_llm" / "config.pbtxt"
    tool = FIXTURES / "fill_template" / "v0.5.0.py"
    for in_place in (True, False):
        t = run_tool(tool, _copy(cfg, tmp_path / f"t{in_place}" / "config.pbtxt"), TUTORIAL, in_place)
        o = run_ours(_copy(cfg, tmp_path / f"o{in_place}" / "config.pbtxt"), TUTORIAL, "v0.5.0", in_place, capsys)
        assert t == o[:3]
    filled = (tmp_path / "oTrue" / "config.pbtxt").read_text()
    for key, value in [("enable_trt_overlap", "False"), ("batch_scheduler_policy", "max_utilization"),
                       ("kv_cache_free_gpu_mem_fraction", "0.95"), ("max_num_sequences", "64")]:
        assert re.search(r'key: "%s"\n  value: \{\n    string_value: "%s"' % (key, re.escape(value)), filled)
    rep = pbtxt.check_text(filled, "config.pbtxt")
    assert {(f.name, f.kind) for f in rep.findings} == {
        ("decoupled_mode", "blocking"), ("engine_dir", "blocking"), ("max_tokens_in_paged_kv_cache", "optional")}


def test_tutorial_string_on_v0160(tmp_path, capsys):
    """The v0.16.0 tool silently ignores max_num_sequences and fills a comment; lmi-wizard refuses the obsolete
    key, and with --skip-obsolete writes exactly what the tool writes."""
    cfg = FIXTURES / "pbtxt" / "v0.16.0" / "tensorrt_llm" / "config.pbtxt"
    tool = FIXTURES / "fill_template" / "v0.16.0.py"
    t = run_tool(tool, _copy(cfg, tmp_path / "t" / "config.pbtxt"), TUTORIAL, True)
    ours = _copy(cfg, tmp_path / "o" / "tensorrt_llm" / "config.pbtxt")
    rc, _, file_after, err = run_ours(ours, TUTORIAL, "v0.16.0", True, capsys)
    assert rc == 2 and file_after == cfg.read_bytes() and "`max_num_sequences` is obsolete" in err
    rc, _, file_after, err = run_ours(ours, TUTORIAL, "v0.16.0", True, capsys, "--skip-obsolete")
    assert rc == 0 and file_after == t[2]
    assert "max_num_sequences" in err and "v0.8.0" in err and "comment" in err
    rep = pbtxt.check_text(file_after.decode(), str(ours))
    assert "max_queue_size" not in {f.name for f in rep.findings}  # the tag's default max_queue_size=0
    assert {f.name for f in rep.blocking} == {"triton_backend", "triton_max_batch_size", "decoupled_mode",
                                              "max_queue_delay_microseconds", "encoder_input_features_data_type",
                                              "batching_strategy", "engine_dir"}


def test_where_the_tool_crashes_lmi_wizard_writes_the_escaped_value(tmp_path, capsys):
    cfg = FIXTURES / "pbtxt" / "v0.16.0" / "tensorrt_llm" / "config.pbtxt"
    tool = FIXTURES / "fill_template" / "v0.16.0.py"
    subs = "engine_dir:/opt/ml/model/a\\:b/1"
    rc, _, _ = run_tool(tool, _copy(cfg, tmp_path / "t" / "config.pbtxt"), subs, True)
    assert rc != 0  # ValueError: too many values to unpack
    rc, _, after, _ = run_ours(_copy(cfg, tmp_path / "o" / "config.pbtxt"), subs, "v0.16.0", True, capsys)
    assert rc == 0 and b'string_value: "/opt/ml/model/a:b/1"' in after


@pytest.mark.parametrize("tool", params(TOOLS, [_tag(t) for t in TOOLS]))
def test_unknown_key_the_tool_ignores_is_an_error_here(tool, tmp_path, capsys):
    cfg = FIXTURES / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt"
    t = run_tool(tool, _copy(cfg, tmp_path / "t" / "config.pbtxt"), "decoupled:True", True)
    assert t[0] == 0 and t[2] != b""  # the tool "succeeds" (only its defaults applied)
    rc, out, after, err = run_ours(_copy(cfg, tmp_path / "o" / "config.pbtxt"), "decoupled:True", _tag(tool), True, capsys)
    assert rc == 2 and after == cfg.read_bytes() and "did you mean `decoupled_mode`" in err
    assert err.count("\n") == 1


# ------------------------------------------------------------------------------------------ exact values from code
ODD_VALUES = {"engine_dir": "/opt/ml/a\\b", "gpu_device_ids": "0,1", "decoupled_mode": "True",
              "max_beam_width": "C:\\x,y:z\\\\"}


@pytest.mark.parametrize("tool", params(TOOLS, [t.stem for t in TOOLS]))
def test_values_from_code_land_verbatim(tool, tmp_path):
    """Mapping, format_substitutions() and the tag's own tool fed tool_substitutions(): same exact values."""
    tag = tool.stem
    src = FIXTURES / "pbtxt" / "v0.16.0" / "tensorrt_llm" / "config.pbtxt"
    text = src.read_text("utf-8")
    expected = pbtxt.fill_text(text, ODD_VALUES, tag=tag).text
    for name, value in ODD_VALUES.items():
        if name != "decoupled_mode":
            assert f'"{value}"' in expected, name
    assert pbtxt.fill_text(text, pbtxt.format_substitutions(ODD_VALUES), tag=tag).text == expected
    sem = pbtxt.semantics_for(tag)
    if not sem.escaping:
        with pytest.raises(WizardError, match="cannot write"):
            pbtxt.tool_substitutions(ODD_VALUES, tag)
        plain = {"engine_dir": "/opt/ml/a\\b", "decoupled_mode": "True"}
        arg, expected = pbtxt.tool_substitutions(plain, tag), pbtxt.fill_text(text, plain, tag=tag).text
    else:
        arg = pbtxt.tool_substitutions(ODD_VALUES, tag)
    cfg = _copy(src, tmp_path / "config.pbtxt")
    subprocess.run([sys.executable, str(tool), "-i", str(cfg), arg], check=True, capture_output=True)
    assert cfg.read_text("utf-8") == expected
