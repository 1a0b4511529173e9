"""`lmi-wizard pbtxt fill|check`: outputs, exit codes, --json shape, and every bad input as one line + exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core import triton as pbtxt  # the config.pbtxt API (fill, check, edit)

from conftest import FIXTURES

V016 = FIXTURES / "pbtxt" / "v0.16.0" / "tensorrt_llm" / "config.pbtxt"
V050 = FIXTURES / "pbtxt" / "v0.5.0" / "tensorrt_llm" / "config.pbtxt"
TUTORIAL = ("enable_trt_overlap:False,batch_scheduler_policy:max_utilization,"
            "kv_cache_free_gpu_mem_fraction:0.95,max_num_sequences:64")
# everything the v0.16.0 tensorrt_llm template needs to load, with gpu_device_ids escaped
COMPLETE = ("triton_backend:tensorrtllm,triton_max_batch_size:64,decoupled_mode:True,max_queue_delay_microseconds:0,"
            "encoder_input_features_data_type:TYPE_FP16,batching_strategy:inflight_fused_batching,"
            "engine_dir:/opt/ml/model/tensorrt_llm/1,gpu_device_ids:0\\,1")


def copy(src: Path, d: Path, name: str = "config.pbtxt") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, d / name)
    return d / name


def run(capsys, *argv):
    """cli.main in-process: (exit code, stdout, stderr); argparse's own errors exit via SystemExit."""
    capsys.readouterr()
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:
        rc = exc.code
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_fill_prints_and_leaves_the_file(tmp_path, capsys):
    cfg = copy(V016, tmp_path / "tensorrt_llm")
    rc, out, err = run(capsys, "pbtxt", "fill", str(cfg), "decoupled_mode:True", "--tag", "v0.16.0")
    assert rc == 0 and cfg.read_bytes() == V016.read_bytes()
    expected = pbtxt.fill_text(V016.read_text(), "decoupled_mode:True", tag="v0.16.0").printed
    assert out == expected and "decoupled: True" in out and "max_queue_size: 0 }" in out
    assert "unchanged on disk (add -i" in err


@pytest.mark.parametrize("flag", ["-i", "--in-place", "--in_place"])
def test_fill_in_place_writes_atomically_and_keeps_the_mode(tmp_path, capsys, flag):
    cfg = copy(V016, tmp_path / "tensorrt_llm")
    cfg.chmod(0o640)
    rc, out, err = run(capsys, "pbtxt", "fill", str(cfg), COMPLETE, flag)
    assert rc == 0 and out == ""
    text = cfg.read_text()
    assert 'string_value: "0,1"' in text and "${engine_dir}" not in text
    assert (cfg.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in cfg.parent.iterdir()] == ["config.pbtxt"]  # no temp file left
    assert "written to" in err and "left" in err
    rc, out, err = run(capsys, "pbtxt", "check", str(cfg))
    assert rc == 0, out  # only optional placeholders remain
    assert "OK — 0 blocking" in out and "optional ${max_tokens_in_paged_kv_cache}" in out


def test_check_a_template_blocks_and_lists_fields(tmp_path, capsys):
    cfg = copy(V016, tmp_path)
    rc, out, err = run(capsys, "pbtxt", "check", str(cfg))
    assert rc == 1
    assert f"{cfg}:29: blocking ${{triton_max_batch_size}} in max_batch_size" in out
    assert f"{cfg}:476: blocking ${{batching_strategy}} in parameters[\"gpt_model_type\"]" in out
    assert "does NOT parse as inference.ModelConfig" in out and "no fill was applied" in out
    assert "decoupled: ${decoupled_mode}" in out


def test_check_json_shape_with_several_files(tmp_path, capsys):
    a = copy(V016, tmp_path / "a")
    b = copy(V050, tmp_path / "b")
    rc, out, err = run(capsys, "pbtxt", "check", "--json", str(a), str(b))
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False and doc["parses"] is False
    assert [f["file"] for f in doc["files"]] == [str(a), str(b)]
    assert len(doc["findings"]) == sum(len(f["findings"]) for f in doc["files"])
    first = doc["findings"][0]
    assert {"file", "line", "name", "field", "kind"} <= set(first)
    assert {f["kind"] for f in doc["findings"]} == {"blocking", "optional"}
    b_doc = doc["files"][1]
    assert {(f["name"], f["kind"]) for f in b_doc["findings"]} == {
        ("decoupled_mode", "blocking"), ("engine_dir", "blocking"), ("max_tokens_in_paged_kv_cache", "optional"),
        ("batch_scheduler_policy", "optional"), ("kv_cache_free_gpu_mem_fraction", "optional"),
        ("max_num_sequences", "optional"), ("enable_trt_overlap", "optional")}
    assert b_doc["decoupled"]["state"] == "placeholder" and b_doc["engine_path"]["state"] == "placeholder"


def test_check_json_ok_after_the_wizard_edits(tmp_path, capsys):
    cfg = copy(V050, tmp_path / "tensorrt_llm")
    text = pbtxt.fill_text(cfg.read_text(), TUTORIAL, tag="v0.5.0").text
    text = pbtxt.set_decoupled(text, True)
    text = pbtxt.set_engine_path(text)
    text = pbtxt.delete_parameter(text, "max_tokens_in_paged_kv_cache")
    cfg.write_text(text)
    rc, out, _ = run(capsys, "pbtxt", "check", "--json", str(cfg))
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] and doc["parses"] is True and doc["findings"] == []
    assert doc["files"][0]["engine_path"]["state"] == "ok" and doc["files"][0]["decoupled"]["state"] == "true"
    rc, out, _ = run(capsys, "pbtxt", "check", "--json", "--engine-path", "/opt/ml/model/other/1", str(cfg))
    assert rc == 0 and json.loads(out)["files"][0]["engine_path"]["state"] == "other_container_path"


def _bad_cases(tmp_path):
    d = tmp_path
    copy(V016, d)
    (d / "model.json").write_text('{"name": "tensorrt_llm"}\n')
    (d / "blob.bin").write_bytes(b"\x00\xff\xfe" * 100)
    (d / "empty.pbtxt").write_text("")
    cfg = str(d / "config.pbtxt")
    return [
        (["pbtxt", "fill", str(d / "missing.pbtxt"), "a:b"], "not found"),
        (["pbtxt", "fill", str(d), "a:b"], "is a folder"),
        (["pbtxt", "fill", str(d / "model.json"), "a:b"], "is not a pbtxt"),
        (["pbtxt", "fill", str(d / "blob.bin"), "a:b"], "not a text file"),
        (["pbtxt", "fill", str(d / "empty.pbtxt"), "a:b"], "is not a pbtxt"),
        (["pbtxt", "fill", cfg, "decoupled_mode"], "has no `:`"),
        (["pbtxt", "fill", cfg, "a:1,,b:2"], "is empty"),
        (["pbtxt", "fill", cfg, "decoupled_mode:True,decoupled_mode:False"], "given twice"),
        (["pbtxt", "fill", cfg, "decoupled_mode:True", "--tag", "v9"], "unknown tag"),
        (["pbtxt", "fill", cfg, "decoupled_mode:True", "--tag", "v0.4.0"], "unknown tag"),
        (["pbtxt", "fill", cfg, "decoupled:True"], "did you mean `decoupled_mode`"),
        (["pbtxt", "fill", cfg, TUTORIAL], "`max_num_sequences` is obsolete"),
        (["pbtxt", "check", str(d / "missing.pbtxt")], "not found"),
        (["pbtxt", "check", cfg, str(d / "model.json")], "is not a pbtxt"),
        (["pbtxt"], "required"),
        (["pbtxt", "fill", cfg], "required"),
    ]


def test_bad_inputs_are_one_line_and_exit_2(tmp_path, capsys):
    for argv, match in _bad_cases(tmp_path):
        before = (tmp_path / "config.pbtxt").read_bytes()
        rc, out, err = run(capsys, *argv)
        assert rc == 2, (argv, err)
        assert match in err, (argv, err)
        assert err.count("\n") == 1 and err.startswith("lmi-wizard"), err
        assert "Traceback" not in err and out == ""
        assert (tmp_path / "config.pbtxt").read_bytes() == before


def test_unreadable_file(tmp_path, capsys):
    if os.geteuid() != 0:
        cfg = copy(V016, tmp_path)
        cfg.chmod(0)
        target = str(cfg)
    else:  # root reads everything; /proc/self/mem is a file whose read fails (EIO)
        target = "/proc/self/mem"
    for verb in (["fill", target, "a:b"], ["check", target]):
        rc, out, err = run(capsys, "pbtxt", *verb)
        assert rc == 2 and err.startswith("lmi-wizard: error: cannot read") and err.count("\n") == 1


def test_unwritable_file(tmp_path, capsys):
    d = tmp_path / "ro"
    cfg = copy(V016, d)
    if os.geteuid() != 0:
        d.chmod(0o555)
    elif os.system(f"chattr +i {d} 2>/dev/null") != 0:
        pytest.skip("root without chattr: cannot make a folder unwritable")
    try:
        rc, out, err = run(capsys, "pbtxt", "fill", str(cfg), "decoupled_mode:True", "-i")
    finally:
        if os.geteuid() == 0:
            os.system(f"chattr -i {d}")
        d.chmod(0o755)
    assert rc == 2 and "cannot write" in err and err.count("\n") == 1
    assert cfg.read_bytes() == V016.read_bytes() and [p.name for p in d.iterdir()] == ["config.pbtxt"]


def test_console_script_end_to_end(tmp_path):
    """The installed `lmi-wizard` entry point, as a user runs it (the brief's manual check)."""
    exe = Path(sys.executable).parent / "lmi-wizard"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    cfg = copy(V016, tmp_path)
    r = subprocess.run([str(exe), "pbtxt", "check", str(cfg)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "BLOCKED" in r.stdout
    r = subprocess.run([str(exe), "pbtxt", "fill", str(cfg), COMPLETE, "-i", "--tag", "v0.16.0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(exe), "pbtxt", "check", str(cfg), "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["parses"] is True


def test_fill_in_place_writes_through_a_symlink_like_the_tool(tmp_path, capsys):
    real = tmp_path / "checkout" / "config.pbtxt"
    real.parent.mkdir()
    real.write_text((FIXTURES / "pbtxt" / "v0.16.0" / "tensorrt_llm" / "config.pbtxt").read_text())
    link = tmp_path / "repo" / "config.pbtxt"
    link.parent.mkdir()
    link.symlink_to(real)
    assert cli.main(["pbtxt", "fill", str(link), "decoupled_mode:True", "-i", "--tag", "v0.16.0"]) == 0
    assert link.is_symlink() and "decoupled: True" in real.read_text()


def test_a_pipe_or_device_is_refused_not_read(tmp_path, capsys):
    fifo = tmp_path / "config.pbtxt"
    os.mkfifo(fifo)  # reading it would block forever
    for argv in (["pbtxt", "check", str(fifo)], ["pbtxt", "fill", str(fifo), "a:b"], ["pbtxt", "check", "/dev/zero"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not a regular file" in err[0]


def test_undecodable_bytes_in_the_substitution_are_one_line(tmp_path, capsys):
    cfg = copy(FIXTURES / "pbtxt" / "v0.16.0" / "tensorrt_llm" / "config.pbtxt", tmp_path)
    before = cfg.read_bytes()
    bad = os.fsdecode(b"engine_dir:/a\xffb")  # what argv holds for a non-UTF-8 byte
    assert cli.main(["pbtxt", "fill", str(cfg), bad, "-i"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not valid UTF-8" in err[0] and cfg.read_bytes() == before
    assert cli.main(["pbtxt", "fill", str(cfg), "engine_dir:/a\nb"]) == 0
    assert "line break" in capsys.readouterr().err


def test_ignore_unknown_is_a_drop_in_and_names_what_the_tool_ignores(tmp_path, capsys):
    """The tool fills decoupled_mode and silently drops the typo and the obsolete key; --ignore-unknown does the
    same and says so; without it the typo is an error naming the fix."""
    subs = "decoupled:true,max_num_sequences:8,decoupled_mode:True"
    tool = FIXTURES / "fill_template" / "v0.16.0.py"
    theirs = copy(V016, tmp_path / "t" / "tensorrt_llm")
    subprocess.run([sys.executable, str(tool), "-i", str(theirs), subs], check=True, capture_output=True)
    ours = copy(V016, tmp_path / "o" / "tensorrt_llm")
    rc, out, err = run(capsys, "pbtxt", "fill", str(ours), subs, "--tag", "v0.16.0")
    assert rc == 2 and "did you mean `decoupled_mode`" in err and err.count("\n") == 1
    assert ours.read_bytes() == V016.read_bytes()
    rc, out, err = run(capsys, "pbtxt", "fill", str(ours), subs, "--tag", "v0.16.0", "--ignore-unknown", "-i")
    assert rc == 0 and ours.read_bytes() == theirs.read_bytes() != V016.read_bytes()
    warnings = [l for l in err.splitlines() if l.startswith("lmi-wizard: warning: ")]
    assert len(warnings) == 2 and "`decoupled`" in warnings[0] and "did you mean `decoupled_mode`" in warnings[0]
    assert "`max_num_sequences`" in warnings[1] and "v0.8.0" in warnings[1] and "v0.7.2" in warnings[1]


def test_ignore_unknown_stops_where_the_v019_tool_asserts(tmp_path, capsys):
    tool = FIXTURES / "fill_template" / "v0.21.0rc1.py"
    src = FIXTURES / "pbtxt" / "v0.19.0" / "tensorrt_llm" / "config.pbtxt"
    for subs, tool_ok in [("nosuchkey:1", False), ("decoupled:1", True)]:  # "decoupled" occurs in the text
        t = copy(src, tmp_path / f"t{tool_ok}" / "tensorrt_llm")
        r = subprocess.run([sys.executable, str(tool), "-i", str(t), subs], capture_output=True)
        assert (r.returncode == 0) is tool_ok
        o = copy(src, tmp_path / f"o{tool_ok}" / "tensorrt_llm")
        rc, out, err = run(capsys, "pbtxt", "fill", str(o), subs, "--tag", "v0.19.0", "--ignore-unknown", "-i")
        assert (rc == 0) is tool_ok and o.read_bytes() == t.read_bytes()
        assert ("warning: ignored `decoupled`" in err) if tool_ok else ("assert key in text" in err)


def _filled_v016(tmp_path, extra: str) -> Path:
    cfg = copy(V016, tmp_path / "tensorrt_llm")
    pbtxt_text = pbtxt.fill_text(V016.read_text(), COMPLETE + "," + extra, tag="v0.16.0").text
    cfg.write_text(pbtxt_text)
    return cfg


@pytest.mark.parametrize("extra,tag,code,fix", [
    ("batch_scheduler_policy:guaranteed_completion", None, "bad-scheduler-policy", "max_utilization or guaranteed_no_evict"),
    ("kv_cache_free_gpu_mem_fraction:1.0", "v0.10.0", "bad-kv-fraction", "a fraction such as 0.9"),
    ("kv_cache_free_gpu_mem_fraction:0", "v0.9.0", "bad-kv-fraction", "a fraction such as 0.9"),
])
def test_check_blocks_values_the_backend_rejects(tmp_path, capsys, extra, tag, code, fix):
    cfg = _filled_v016(tmp_path, extra)
    rc, out, err = run(capsys, "pbtxt", "check", str(cfg), *(["--tag", tag] if tag else []))
    assert rc == 1, out
    assert "BLOCKED" in out and "blocking value: " + extra.split(":")[0] in out and f"fix: use {fix}" in out
    rc, out, err = run(capsys, "pbtxt", "check", str(cfg), "--json", *(["--tag", tag] if tag else []))
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False and [v["code"] for v in doc["values"]] == [code]
    assert doc["values"][0]["fix"] and doc["values"][0]["severity"] == "error"


def test_check_kv_fraction_one_is_fine_before_v010_and_good_values_pass(tmp_path, capsys):
    cfg = _filled_v016(tmp_path, "kv_cache_free_gpu_mem_fraction:1.0,batch_scheduler_policy:max_utilization")
    assert run(capsys, "pbtxt", "check", str(cfg), "--tag", "v0.9.0")[0] == 0  # (0, 1] before the executor API
    assert run(capsys, "pbtxt", "check", str(cfg), "--tag", "v0.10.0")[0] == 1


def test_check_kv_tokens_against_the_engine(tmp_path, capsys):
    cfg = _filled_v016(tmp_path, "max_tokens_in_paged_kv_cache:2048")
    eng = tmp_path / "engine"
    eng.mkdir()
    (eng / "config.json").write_text(json.dumps({"build_config": {"max_seq_len": 4096, "max_beam_width": 1}}))
    rc, out, _ = run(capsys, "pbtxt", "check", str(cfg), "--engine", str(eng))
    assert rc == 1 and "smaller than one full sequence" in out and "at least 4096" in out
    (eng / "config.json").write_text(json.dumps({"build_config": {"max_seq_len": 2048, "max_beam_width": 1}}))
    assert run(capsys, "pbtxt", "check", str(cfg), "--engine", str(eng))[0] == 0
    rc, out, err = run(capsys, "pbtxt", "check", str(cfg), "--engine", str(tmp_path / "nope"))
    assert rc == 2 and "no engine config.json" in err and err.count("\n") == 1
    rc, out, err = run(capsys, "pbtxt", "check", str(cfg), "--tag", "banana")
    assert rc == 2 and "unknown tag" in err
