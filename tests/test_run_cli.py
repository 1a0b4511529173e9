"""The verbs `lmi-wizard init`, `plan` and `run`, through the real CLI (in process, and as a real process
for Ctrl-C), on the prepared environment of tests/test_pipeline.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.procs import alive as _alive
from tests.support.procs import kill_group, restore_sigint

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core import pipeline as P
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.core import wizard as S
from tests.support.pipeline import FAKE_SECRETS, tutorial_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "baichuan-tp2.toml"


def _write_recipe(tmp_path, remotes, dest="out/baichuan-13b-tp2/baichuan-13b-chat/", tokenizer=None):
    work = tmp_path / "work"
    recipe = tmp_path / "tutorial.toml"
    recipe.write_text(tutorial_text(remotes, work, dest, tokenizer))
    return recipe, work


# --------------------------------------------------------------------------------------------------- init


def test_init_writes_a_template_that_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init"]) == 0
    path = tmp_path / "lmi-wizard.toml"
    text = path.read_text()
    assert "[model]" in text and "source = " in text and "# tp = 1" in text
    a = R.load_recipe(path, ctx=S.Context(installed_trtllm=None))
    assert a["model.source"] == "baichuan-inc/Baichuan-13B-Chat"
    capsys.readouterr()
    # never overwritten without --force
    path.write_text("# mine\n")
    assert cli.main(["init"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert path.read_text() == "# mine\n"
    assert cli.main(["init", "--force"]) == 0 and "[build]" in path.read_text()
    assert cli.main(["init", "-"]) == 0
    assert "[destination]" in capsys.readouterr().out


def test_init_from_the_wizard_state(tmp_path, capsys):
    state = tmp_path / "state.toml"
    assert cli.main(["--state", str(state), "init", str(tmp_path / "r.toml"), "--from-state"]) == 2
    assert "no saved answers" in capsys.readouterr().err
    a = S.Answers()
    a["model.source"] = "Qwen/Qwen-7B-Chat"
    a["build.tp"] = 4
    a["env.trtllm_version"] = "0.21.0rc1"
    R.save_state(R.WizardState(a, "build"), state)
    assert cli.main(["--state", str(state), "init", str(tmp_path / "r.toml"), "--from-state"]) == 0
    b = R.load_recipe(tmp_path / "r.toml")
    assert b["model.source"] == "Qwen/Qwen-7B-Chat" and b["build.tp"] == 4 and b.layout == "flat"


# --------------------------------------------------------------------------------------------------- plan


def test_plan_of_the_tutorial_example(tmp_path, capsys):
    work = tmp_path / "w"
    assert cli.main(["plan", str(EXAMPLE), "--work-dir", str(work)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # the tutorial's commands, filled in from the recipe
    assert any("clone" in l and "--branch v0.12.0" in l and "triton-inference-server/tensorrtllm_backend" in l
               for l in lines)
    assert any("clone" in l and "--branch v0.12.0" in l and "NVIDIA/TensorRT-LLM" in l and
               l.endswith("tensorrtllm_backend/tensorrt_llm") for l in lines)
    assert any("tools/fill_template.py -i" in l and "batch_scheduler_policy:max_utilization" in l and
               "kv_cache_free_gpu_mem_fraction:0.95" in l for l in lines)
    assert any(l.startswith("aws s3 sync ") and l.endswith(
        " s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/baichuan-13b-chat/") and "tensorrt_llm/" in l for l in lines)
    assert "# LMI model_id: s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/" in lines
    for l in ("HF_MODEL_ID=s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/", "OPTION_TENSOR_PARALLEL_DEGREE=2",
              "OPTION_MAX_ROLLING_BATCH_SIZE=64", "engine=Python", "option.mpi_mode=true",
              "option.model_id=s3://lmi-llm/trtllm/0.12.0/baichuan-13b-tp2/", "option.tensor_parallel_degree=2",
              "option.rolling_batch=trtllm", "option.dtype=fp16"):
        assert l in lines, l
    assert not work.exists()  # plan never writes
    # written to a file: executable, and valid bash
    script = tmp_path / "plan.sh"
    assert cli.main(["plan", str(EXAMPLE), "--work-dir", str(work), "-o", str(script)]) == 0
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    assert cli.main(["plan", str(EXAMPLE), "-o", str(script)]) == 2  # exists: needs --force


@pytest.mark.parametrize("text,msg", [
    ("[model]\nsource = 'a/b'\n[build]\ntpp = 2\n", "[build] tpp: unknown setting — fix: did you mean `tp`?"),
    ("[model]\nsorce = 'a/b'\n", "unknown setting"),
    ("[model\n", "not valid TOML"),
])
def test_plan_and_run_refuse_bad_recipes_in_one_line(tmp_path, capsys, text, msg):
    p = tmp_path / "bad.toml"
    p.write_text("[env]\ntrtllm_version = '0.12.0'\n" + text)
    for verb in ("plan", "run"):
        assert cli.main([verb, str(p)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("lmi-wizard: error: ") and err.count("\n") == 1 and msg in err
        assert "Traceback" not in err
    assert cli.main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "recipe not found" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------- run


def test_run_headless_with_ci_output_resume_and_json(remotes, hub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    for k, v in FAKE_SECRETS.items():
        monkeypatch.setenv(k, v)
    recipe, work = _write_recipe(tmp_path, remotes)
    assert cli.main(["run", str(recipe)]) == 0
    cap = capsys.readouterr()
    out = cap.out
    assert "\r" not in out  # not a terminal: one line per event, no carriage returns
    lines = out.splitlines()
    assert lines[0].startswith(f"lmi-wizard run {recipe}: 9 steps in {work}")
    assert "[1/9] environment: Environment check…" in lines
    assert any(l.startswith("[3/9] build: done in ") for l in lines)
    assert any(l.startswith("  build | [stand-in build.py] building rank 1/2") for l in lines)
    assert f"LMI model_id: {work}/out/baichuan-13b-tp2" in lines
    assert any(l.startswith("log: ") for l in lines)

    # the same command again: refuses (an earlier run is there) and says how to go on
    assert cli.main(["run", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "already holds an earlier run" in err and "--resume" in err

    # --resume --json: one JSON document on stdout, progress on stderr, the finished steps skipped
    assert cli.main(["run", str(recipe), "--resume", "--json"]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc["ok"] and doc["model_id"] == f"{work}/out/baichuan-13b-tp2"
    assert [s["status"] for s in doc["steps"]] == ["done"] + ["skipped"] * 7 + ["done"]
    assert "skipped (still valid)" in cap.err
    assert any(e["name"] == "config.pbtxt" for e in doc["listing"])

    # no secret in anything the runs printed or wrote
    everything = out + cap.out + cap.err + err
    for p in work.rglob("*"):
        if p.is_file() and ".git" not in p.parts:
            everything += p.read_bytes().decode("utf-8", "replace")
    for v in FAKE_SECRETS.values():
        assert v not in everything


def test_run_failure_exits_1_and_names_the_step(remotes, local_tok, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STANDIN_FAIL", "1")
    recipe, work = _write_recipe(tmp_path, remotes, tokenizer=local_tok)
    assert cli.main(["run", str(recipe)]) == 1
    cap = capsys.readouterr()
    assert "[3/9] build: FAILED: build failed" in cap.out
    assert cap.err.startswith("lmi-wizard: error: stopped at build: ") and "--resume" in cap.err
    monkeypatch.delenv("STANDIN_FAIL")
    assert cli.main(["run", str(recipe), "--resume"]) == 0
    assert "[2/9] checkout: skipped (still valid)" in capsys.readouterr().out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_builder_group_and_resume_finishes(remotes, local_tok, tmp_path, sig):
    """A real `lmi-wizard run` process: Ctrl-C (SIGINT), or SIGTERM as a CI timeout sends, during a hanging
    build → exit 130, the builder and its child are gone, the state says where it stopped; `--resume` then
    completes."""
    recipe, work = _write_recipe(tmp_path, remotes, tokenizer=local_tok)
    pids_file = tmp_path / "pids"
    env = dict(os.environ, HANG_PIDS_FILE=str(pids_file), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "lmi_wizard.tui.main", "run", str(recipe)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=restore_sigint)  # SIGINT may be ignored where pytest runs (background, CI)
    pgid = None
    try:
        deadline = time.monotonic() + 60
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "this one hangs" in line:
                break
            assert time.monotonic() < deadline, "".join(seen)
        for _ in range(100):
            if pids_file.exists() and pids_file.read_text().strip():
                break
            time.sleep(0.05)
        builder, child, pgid = (int(x) for x in pids_file.read_text().split())
        assert _alive(builder) and _alive(child)
        proc.send_signal(sig)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=30)
        stop_s = time.monotonic() - t0  # reported, not asserted (no timed assertions on a shared machine)
        print(f"{signal.Signals(sig).name} → exit in {stop_s:.2f} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            kill_group(pgid)  # never leave the builder running when the test fails
    assert proc.returncode == 130, (out, err)
    assert "build: cancelled" in out and "--resume" in err
    for _ in range(50):
        if not _alive(builder) and not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(builder) and not _alive(child), "orphan builder process"
    state = json.loads((work / P.RUN_DIR / P.STATE_NAME).read_text())
    assert state["steps"]["build"]["status"] == "cancelled" and state["steps"]["checkout"]["status"] == "done"
    env.pop("HANG_PIDS_FILE")
    res = subprocess.run([sys.executable, "-m", "lmi_wizard.tui.main", "run", str(recipe), "--resume"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[2/9] checkout: skipped (still valid)" in res.stdout and "[3/9] build: done" in res.stdout


def test_console_progress_for_ci_logs_and_terminals():
    import io

    from lmi_wizard.tui.cli.console import ConsoleProgress
    from lmi_wizard.core.base.events import StepEvent
    from lmi_wizard.core.base.progress import Progress

    def feed(display):
        display(StepEvent("publish", "running", 6, 9, title="Publish", message="Publish…"))
        for i in range(0, 101):
            display(Progress("publish", "rank0.engine", done=i * 1024 * 1024, total=100 * 1024 * 1024, unit="B"))
        display(Progress("build", "[stand-in] a log line"))
        display(StepEvent("publish", "done", 6, 9, seconds=1.25, summary="3 file(s) sent", notes=["n1"]))

    ci = io.StringIO()
    feed(ConsoleProgress(ci, tty=False))
    lines = ci.getvalue().splitlines()
    assert "\r" not in ci.getvalue()
    assert lines[0] == "[7/9] publish: Publish…"
    bars = [l for l in lines if l.startswith("  publish |")]
    assert len(bars) == 11  # 0 %, 10 %, … 100 %: one line per 10 %, not one per event
    assert bars[-1].startswith("  publish | 100% 100.0 MiB/100.0 MiB")
    assert "  build | [stand-in] a log line" in lines
    assert lines[-2:] == ["[7/9] publish: done in 1.2 s — 3 file(s) sent", "      note: n1"]

    tty = io.StringIO()
    feed(ConsoleProgress(tty, tty=True))
    assert "\r  publish | " in tty.getvalue()  # a terminal: the bar updates in place


# --------------------------------------------------------------------------------------------------- bad input


BASE = '[env]\ntrtllm_version = "0.12.0"\n[model]\nsource = "a/b"\n'


@pytest.mark.parametrize("text,problem,fix", [
    (BASE + "[build]\ntp = 0\n", "[build] tp: 0 is below the minimum 1", "use a value of at least 1"),
    (BASE + '[destination]\nuri = "s3://bucket/"\n', "[destination] uri: s3://bucket/ cannot work with the Triton",
     "upload into two folders"),
    (BASE + 'revision = "hf_abcdefghijklmnopqrstuvwxyz0123456789"\n', "[model] revision: a token or access key",
     "environment"),
    (BASE + '[triton]\nsubstitutions = { hf_token = "x" }\n', "'hf_token' names a secret", "environment"),
    (BASE + '[build]\nextra_flags = { "--token" = "AKIAIOSFODNN7EXAMPLE" }\n', "a token or access key", "environment"),
    (BASE + '[checkout]\nbackend_url = "https://me:ghp_secret@github.com/x/y"\n', "a password in a URL",
     "credential helper"),
    (BASE + '[checkout]\nwork_dir = "w\\nrm -rf ~"\n', "[checkout] work_dir: contains a control character",
     "on one line"),
    ('[env]\ntrtllm_version = "0.21.0rc1"\n[model]\nsource = "a/b"\n[triton]\ndecoupled = false\n',
     "[triton] decoupled has no effect: the [triton] config.pbtxt step is only for the Triton layout",
     'lmi_layout = "triton"'),
    (BASE + '[destination]\nuri = "out/a/b/"\nregion = "us-east-1"\n', "[destination] region has no effect",
     "s3:// uri"),
    (BASE + '[build]\nmethod = "prebuilt"\nengine_dir = "e"\ncontext_fmha = false\n',
     "[build] context_fmha has no effect", "change [build] method"),
])
def test_every_bad_recipe_is_one_line_exit_2_for_plan_and_run(tmp_path, capsys, text, problem, fix):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    for verb in ("plan", "run"):
        assert cli.main([verb, str(p)]) == 2, verb
        cap = capsys.readouterr()
        err = cap.err
        assert err.startswith("lmi-wizard: error: ") and err.count("\n") == 1, err
        assert problem in err and " — fix: " in err and fix in err.split(" — fix: ", 1)[1], err
        assert err.count(" — fix: ") == 1 and "Traceback" not in err
        assert cap.out == ""
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.toml"]  # nothing written anywhere
    # a folder given as the recipe
    assert cli.main(["plan", str(tmp_path)]) == 2
    assert "is a folder, not a recipe" in capsys.readouterr().err


def test_relative_paths_are_relative_to_the_recipe_folder(remotes, local_tok, tmp_path, monkeypatch, capsys):
    """`work_dir = "work"` means <recipe folder>/work whatever the current directory; the other paths
    (a local tokenizer folder, the destination) are relative to the work folder."""
    recipes = tmp_path / "recipes"
    (recipes / "work" / "tok").mkdir(parents=True)
    for f in Path(local_tok).iterdir():
        (recipes / "work" / "tok" / f.name).write_bytes(f.read_bytes())
    text = tutorial_text(remotes, Path("work"), "out/m/n/", tokenizer="./tok")
    (recipes / "r.toml").write_text(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["plan", "../recipes/r.toml"]) == 0
    out = capsys.readouterr().out
    work = recipes / "work"
    assert f"mkdir -p {work} && cd {work}" in out
    assert f"lmi-wizard tokenizer {work}/tok " in out  # the local tokenizer folder, relative to the work folder
    assert cli.main(["run", "../recipes/r.toml"]) == 0
    capsys.readouterr()
    assert (work / "out" / "m" / "n" / "tokenizer_config.json").is_file()
    assert not any(elsewhere.iterdir())  # nothing written in the current directory


def test_one_run_per_work_folder_and_never_another_recipes_run(remotes, local_tok, tmp_path, capsys):
    import fcntl

    recipe, work = _write_recipe(tmp_path, remotes, tokenizer=local_tok)
    run_dir = work / P.RUN_DIR
    run_dir.mkdir(parents=True)
    # another run holds the work folder (a second process; flock conflicts between open files)
    with open(run_dir / P.LOCK_NAME, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        holder.write("4242")
        holder.flush()
        assert cli.main(["run", str(recipe)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "another lmi-wizard run (pid 4242) is using the work folder" in err
        assert "own [checkout] work_dir" in err
        assert not (work / "tensorrtllm_backend").exists() and not (run_dir / P.STATE_NAME).exists()
    # the work folder holds what another recipe made: not resumed, not replaced without --force
    other = tmp_path / "other.toml"
    (run_dir / P.STATE_NAME).write_text(json.dumps({"format": P.STATE_FORMAT, "recipe_source": str(other), "steps": {
        "checkout": {"status": "done"}, "build": {"status": "done"}}}))
    for extra in ([], ["--resume"]):
        assert cli.main(["run", str(recipe), *extra]) == 2
        err = capsys.readouterr().err
        assert f"holds the run of another recipe ({other}" in err and "own [checkout] work_dir" in err
        assert "--force" in err
    assert not (work / "tensorrtllm_backend").exists()
    # the lock was released by the refused runs: this one goes through and records its recipe
    assert cli.main(["run", str(recipe), "--force"]) == 0
    capsys.readouterr()
    state = json.loads((run_dir / P.STATE_NAME).read_text())
    assert state["recipe_source"] == str(recipe) and state["ok"]


def test_step_failures_name_the_recipe_settings(remotes, local_tok, tmp_path, capsys):
    """core.checkout's fixes speak of `lmi-wizard checkout` options; a recipe's run says which setting."""
    recipe, work = _write_recipe(tmp_path, remotes, tokenizer=local_tok)
    recipe.write_text(recipe.read_text().replace(remotes["trt_old"], "file:///nonexistent/TensorRT-LLM"))
    assert cli.main(["run", str(recipe)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lmi-wizard: error: stopped at checkout: cannot clone TensorRT-LLM") and err.count("\n") == 1
    assert "[checkout] backend_url / trtllm_url" in err and "--trtllm-url" not in err


@pytest.mark.parametrize("setting", ['[checkout]\nwork_dir = "afile/sub"', '[triton]\nrepo_dir = "afile"',
                                     '[lmi]\noutput_dir = "afile"', '[build]\noutput_dir = "afile/engines"'])
def test_a_file_where_a_folder_goes_is_refused_up_front(tmp_path, capsys, setting):
    (tmp_path / "afile").write_text("mine\n")
    p = tmp_path / "r.toml"
    p.write_text(BASE + setting + "\n")
    for verb in ("plan", "run"):
        assert cli.main([verb, str(p)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{tmp_path / 'afile'} is a file, not a folder" in err, err
        assert "Traceback" not in err
    assert sorted(x.name for x in tmp_path.iterdir()) == ["afile", "r.toml"]
    assert (tmp_path / "afile").read_text() == "mine\n"
