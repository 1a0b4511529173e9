"""Tokenizer files: the REAL huggingface_hub client against tests/hubserver.py (a local fake Hub), and local
folders as the source."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hubserver import (GOOD_TOKEN, OTHER_TOKEN, FakeHub, FakeRepo, WEIGHT_SUFFIXES, baichuan_repo, llama_repo,
                       qwen_repo, standard_repos)
from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.base.errors import Cancelled, WizardError
from lmi_wizard.core.base.progress import CancelToken
from lmi_wizard.core.tokenizer import (PlannedFile, fetch_tokenizer, get_tokenizer, plan_tokenizer, safe_name,
                                       tokenizer_needs_trust_remote_code)

BAICHUAN = "baichuan-inc/Baichuan-13B-Chat"
BAICHUAN_EXPECTED = {"config.json", "configuration_baichuan.py", "generation_config.json",
                     "pytorch_model.bin.index.json", "requirements.txt", "special_tokens_map.json",
                     "tokenization_baichuan.py", "tokenizer.model", "tokenizer_config.json"}


@pytest.fixture(autouse=True)
def _no_saved_login(monkeypatch, tmp_path_factory):
    """No saved HF login from this machine: the 'no token' cases must really send none."""
    import huggingface_hub.constants as c

    home = tmp_path_factory.mktemp("hfhome")
    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="module")
def hub():
    with FakeHub(standard_repos()) as h:
        yield h


@pytest.fixture
def fresh(hub):
    hub.reset_log()
    return hub


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _no_weights_requested(hub: FakeHub) -> None:
    asked = hub.resolved_files()
    assert asked, "nothing was requested at all?"
    assert not [a for a in asked if a.lower().endswith(WEIGHT_SUFFIXES)], asked


# ------------------------------------------------------------------------------------------ three repo shapes
def test_baichuan_custom_code_tree_and_trust(fresh, tmp_path):
    dest = tmp_path / "triton_model_repo" / "tensorrt_llm"
    res = get_tokenizer(BAICHUAN, dest, endpoint=fresh.endpoint)
    assert _files(dest) == BAICHUAN_EXPECTED  # no .cache/, no staging folder left behind
    repo = fresh.repos[BAICHUAN]
    for name in BAICHUAN_EXPECTED:
        assert (dest / name).read_bytes() == repo.files[name], name
    assert res.trust_remote_code and "tokenization_baichuan" in res.plan.trust_reason
    reasons = {f.path: f.reason for f in res.plan.files}
    assert "auto_map AutoTokenizer" in reasons["tokenization_baichuan.py"]
    assert "auto_map AutoConfig" in reasons["configuration_baichuan.py"]
    assert reasons["tokenizer.model"] == "tutorial pattern *.model"
    skipped = {s.path: s.reason for s in res.plan.skipped}
    assert "weights" in skipped["pytorch_model-00001-of-00003.bin"]
    assert "modeling_baichuan.py" in skipped and "handler.py" in skipped
    _no_weights_requested(fresh)
    for never in ("modeling_baichuan.py", "README.md", "handler.py", "LICENSE"):
        assert not fresh.fetched(never)
    # every resolve went to the commit resolved once, not to a moving branch
    assert all(f"/resolve/{repo.sha}/" in r.path for r in fresh.log() if "/resolve/" in r.path)
    assert tokenizer_needs_trust_remote_code(dest)


def test_qwen_tiktoken_and_relative_import(fresh, tmp_path):
    res = get_tokenizer("Qwen/Qwen-7B-Chat", tmp_path / "t", endpoint=fresh.endpoint)
    got = _files(tmp_path / "t")
    assert {"qwen.tiktoken", "tokenization_qwen.py", "qwen_generation_utils.py", "configuration_qwen.py",
            "tokenizer_config.json", "config.json"} <= got
    assert not {"modeling_qwen.py", "cpp_kernels.py", "assets"} & got
    reasons = {f.path: f.reason for f in res.plan.files}
    assert reasons["qwen_generation_utils.py"] == "imported by tokenization_qwen.py"
    assert reasons["qwen.tiktoken"].startswith("*.tiktoken")
    assert res.trust_remote_code
    assert any(p["pattern"] == "*.tiktoken" for p in res.plan.patterns)
    _no_weights_requested(fresh)
    assert not fresh.fetched("assets/logo.jpg")


def test_llama_plain_tokenizer_no_trust(fresh, tmp_path):
    res = get_tokenizer("meta-llama/Llama-2-7b-hf", tmp_path / "t", endpoint=fresh.endpoint)
    assert _files(tmp_path / "t") == {"config.json", "generation_config.json", "model.safetensors.index.json",
                                      "special_tokens_map.json", "tokenizer.json", "tokenizer.model",
                                      "tokenizer_config.json"}
    assert res.trust_remote_code is False and res.plan.trust_reason == ""
    _no_weights_requested(fresh)
    assert not any(a.startswith("original/") for a in fresh.resolved_files())


# ------------------------------------------------------------------------------------------ layouts / config.json
def _engine_config(tp=2, max_batch=64) -> dict:
    return {"version": "0.21.0", "pretrained_config": {"architecture": "LlamaForCausalLM", "dtype": "float16",
                                                       "mapping": {"world_size": tp, "tp_size": tp, "pp_size": 1}},
            "build_config": {"max_batch_size": max_batch, "max_seq_len": 4096}}


def test_flat_layout_never_overwrites_engine_config(fresh, tmp_path):
    eng = tmp_path / "engine"
    eng.mkdir()
    engine_cfg = json.dumps(_engine_config()).encode()
    (eng / "config.json").write_bytes(engine_cfg)
    (eng / "rank0.engine").write_bytes(b"E" * 10)
    res = get_tokenizer(BAICHUAN, eng, layout="flat", endpoint=fresh.endpoint)
    assert (eng / "config.json").read_bytes() == engine_cfg
    assert (eng / "hf_config.json").read_bytes() == fresh.repos[BAICHUAN].files["config.json"]
    assert "tokenizer_config.json" in _files(eng) and "tokenization_baichuan.py" in _files(eng)
    planned = {f.path: f for f in res.plan.files}
    assert planned["config.json"].dest == "hf_config.json" and "build_config" in planned["config.json"].reason
    assert not res.plan.warnings  # engine config present, tokenizer_config names its class


def test_flat_layout_before_engines_exist_still_keeps_config_name_free(fresh, tmp_path):
    res = get_tokenizer("meta-llama/Llama-2-7b-hf", tmp_path / "flat", layout="flat", endpoint=fresh.endpoint)
    assert not (tmp_path / "flat" / "config.json").exists()
    assert (tmp_path / "flat" / "hf_config.json").exists()
    assert any("build_config not found yet" in w for w in res.plan.warnings)


def test_triton_layout_protects_an_engine_config_too(fresh, tmp_path):
    dest = tmp_path / "tensorrt_llm"
    dest.mkdir()
    (dest / "config.json").write_text(json.dumps(_engine_config()))
    res = get_tokenizer("meta-llama/Llama-2-7b-hf", dest, endpoint=fresh.endpoint)
    assert "build_config" in json.loads((dest / "config.json").read_text())
    assert any("engine config.json" in w for w in res.plan.warnings)
    # a forged plan that targets config.json is refused at fetch time
    plan = plan_tokenizer("meta-llama/Llama-2-7b-hf", dest, endpoint=fresh.endpoint)
    for f in plan.files:
        if f.path == "config.json":
            f.dest, f.status = "config.json", "changed"
    with pytest.raises(WizardError, match="engine's config"):
        fetch_tokenizer(plan, force=True)


def test_flat_layout_patches_tokenizer_config_without_class(tmp_path):
    repo = FakeRepo("acme/no-class", {
        "config.json": json.dumps({"model_type": "acme", "auto_map": {
            "AutoConfig": "configuration_acme.AcmeConfig",
            "AutoTokenizer": ["tokenization_acme.AcmeTokenizer", None]}}).encode(),
        "configuration_acme.py": b"class AcmeConfig: pass\n",
        "tokenization_acme.py": b"class AcmeTokenizer: pass\n",
        "tokenizer_config.json": json.dumps({"model_max_length": 2048}).encode(),
        "vocab.txt": b"a\nb\n",
    })
    with FakeHub([repo]) as h:
        res = get_tokenizer("acme/no-class", tmp_path / "e", layout="flat", endpoint=h.endpoint)
        again = get_tokenizer("acme/no-class", tmp_path / "e", layout="flat", endpoint=h.endpoint)
    assert again.written == [] and "tokenizer_config.json" in again.unchanged  # no --force needed to re-run
    tc = json.loads((tmp_path / "e" / "tokenizer_config.json").read_text())
    assert tc["auto_map"]["AutoTokenizer"] == ["tokenization_acme.AcmeTokenizer", None]
    assert tc["model_max_length"] == 2048
    assert res.plan.patches and res.trust_remote_code
    assert "config.json" in res.plan.trust_reason
    assert (tmp_path / "e" / "tokenization_acme.py").exists()


# ------------------------------------------------------------------------------------------ errors
def test_gated_without_token_is_401_with_fix(fresh, tmp_path):
    with pytest.raises(WizardError) as ei:
        plan_tokenizer("meta-llama/Llama-2-7b-chat-gated", tmp_path / "t", endpoint=fresh.endpoint)
    msg = str(ei.value)
    assert "gated" in msg and "401" in msg and "HF_TOKEN" in msg
    assert not (tmp_path / "t").exists()


def test_gated_with_unauthorised_token_is_403(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", OTHER_TOKEN)
    with pytest.raises(WizardError) as ei:
        plan_tokenizer("meta-llama/Llama-2-7b-chat-gated", tmp_path / "t", endpoint=fresh.endpoint)
    assert "403" in str(ei.value) and "access list" in str(ei.value)
    assert OTHER_TOKEN not in str(ei.value) and OTHER_TOKEN not in repr(ei.value.fix)


def test_gated_with_hf_token_env_downloads(fresh, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    rc = cli.main(["tokenizer", "meta-llama/Llama-2-7b-chat-gated", str(tmp_path / "t"), "--endpoint",
                   fresh.endpoint, "--json"])
    out = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out.out)
    assert "tokenizer.model" in doc["written"]
    assert all(r.token_ok for r in fresh.log())  # the standard token reached every request
    assert GOOD_TOKEN not in out.out + out.err
    assert GOOD_TOKEN not in json.dumps(doc)


def test_private_repo_without_token_is_401(fresh, tmp_path):
    with pytest.raises(WizardError, match=r"private.*401"):
        plan_tokenizer("acme/private-llama", tmp_path / "t", endpoint=fresh.endpoint)


def test_missing_repo_is_not_found(fresh, tmp_path, monkeypatch):
    with pytest.raises(WizardError, match="not found"):
        plan_tokenizer("nobody/nothing", tmp_path / "t", endpoint=fresh.endpoint)
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)  # authenticated: the Hub says 404
    with pytest.raises(WizardError, match=r"not found on .*404"):
        plan_tokenizer("nobody/nothing", tmp_path / "t", endpoint=fresh.endpoint)


def test_bad_revision(fresh, tmp_path):
    with pytest.raises(WizardError, match="revision 'v9' not found"):
        plan_tokenizer(BAICHUAN, tmp_path / "t", revision="v9", endpoint=fresh.endpoint)


def test_offline_closed_port(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(WizardError) as ei:
        plan_tokenizer(BAICHUAN, tmp_path / "t", endpoint=f"http://127.0.0.1:{port}")
    assert "cannot reach the Hugging Face Hub" in str(ei.value) and "local folder" in str(ei.value)


def test_cli_error_is_one_line(fresh, tmp_path, capsys):
    rc = cli.main(["tokenizer", "nobody/nothing", str(tmp_path / "t"), "--endpoint", fresh.endpoint])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("lmi-wizard: error: ") and "Traceback" not in err


# ------------------------------------------------------------------------------------------ hostile names
def test_hostile_filenames_never_requested_never_written(fresh, tmp_path):
    dest = tmp_path / "a" / "b" / "tensorrt_llm"
    res = get_tokenizer("evil/hostile", dest, endpoint=fresh.endpoint)
    assert _files(dest) == {"tokenizer.model", "tokenizer_config.json"}
    refused = {s.path for s in res.plan.skipped if "unsafe" in s.reason}
    assert {"../evil.json", "/etc/evil.json"} <= refused
    assert not [p for p in tmp_path.rglob("evil*")]
    assert not any("evil" in a for a in fresh.resolved_files())
    # a forged plan is refused before any request
    plan = plan_tokenizer("evil/hostile", dest, endpoint=fresh.endpoint)
    plan.files.append(PlannedFile("../evil.json", "../evil.json", 10, "forged"))
    fresh.reset_log()
    with pytest.raises(WizardError, match="unsafe"):
        fetch_tokenizer(plan, force=True)
    assert fresh.resolved_files() == []


@pytest.mark.parametrize("name,ok", [("tokenizer.json", True), ("../x.json", False), ("/abs.json", False),
                                     ("a/b.json", False), ("..", False), ("", False), ("C:x.json", False),
                                     ("a\\b.json", False), ("x\0.json", False), ("..json", True)])
def test_safe_name(name, ok):
    assert safe_name(name) is ok


# ------------------------------------------------------------------------------------------ local folders
def _local_repo(folder: Path, repo: FakeRepo) -> Path:
    folder.mkdir(parents=True)
    for name, data in repo.files.items():
        if "/" in name:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def test_local_folder_same_file_set(tmp_path):
    src = _local_repo(tmp_path / "src", baichuan_repo())
    res = get_tokenizer(str(src), tmp_path / "dst")
    assert _files(tmp_path / "dst") == BAICHUAN_EXPECTED
    assert res.plan.kind == "local" and res.trust_remote_code


def test_local_symlinks_copied_as_content_never_escape(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"secret": 1}')
    (outside / "blob").write_bytes(b"sentencepiece")
    src = _local_repo(tmp_path / "snap", llama_repo())
    (src / "tokenizer.model").unlink()
    (src / "tokenizer.model").symlink_to(outside / "blob")  # like the HF cache: snapshots -> ../../blobs
    (src / "link_to_dir").symlink_to(outside)
    (src / "dangling.json").symlink_to(tmp_path / "nope.json")
    dst = tmp_path / "dst"
    res = get_tokenizer(str(src), dst)
    assert (dst / "tokenizer.model").read_bytes() == b"sentencepiece"
    assert not any(p.is_symlink() for p in dst.iterdir())
    assert not (dst / "link_to_dir").exists() and not (dst / "secret.json").exists()
    skipped = {s.path: s.reason for s in res.plan.skipped}
    assert skipped["dangling.json"] == "broken symlink" and "sub-folder" in skipped["link_to_dir/"]
    assert [f for f in res.plan.files if f.path == "tokenizer.model"][0].symlink


def test_source_equals_dest_and_bad_sources(tmp_path):
    d = _local_repo(tmp_path / "d", llama_repo())
    with pytest.raises(WizardError, match="same folder"):
        plan_tokenizer(str(d), d)
    with pytest.raises(WizardError, match="not a Hub repo id"):
        plan_tokenizer(str(tmp_path / "no" / "such" / "dir"), tmp_path / "x")
    with pytest.raises(WizardError, match="is a file"):
        plan_tokenizer(str(d / "config.json"), tmp_path / "x")
    with pytest.raises(WizardError, match="unknown layout"):
        plan_tokenizer(str(d), tmp_path / "x", layout="nested")


# ------------------------------------------------------------------------------------------ re-runs, force, cancel
def test_rerun_unchanged_fetches_nothing_and_changed_needs_force(fresh, tmp_path):
    dest = tmp_path / "t"
    get_tokenizer("meta-llama/Llama-2-7b-hf", dest, endpoint=fresh.endpoint)
    fresh.reset_log()
    res = get_tokenizer("meta-llama/Llama-2-7b-hf", dest, endpoint=fresh.endpoint)
    assert res.written == [] and len(res.unchanged) == 7
    # only the two small files the plan reads were asked for again (git blob ids proved the rest equal)
    assert set(fresh.resolved_files("GET")) <= {"tokenizer_config.json", "config.json"}
    (dest / "tokenizer.json").write_text("my edit")
    with pytest.raises(WizardError, match="--force"):
        get_tokenizer("meta-llama/Llama-2-7b-hf", dest, endpoint=fresh.endpoint)
    assert (dest / "tokenizer.json").read_text() == "my edit"
    res = get_tokenizer("meta-llama/Llama-2-7b-hf", dest, endpoint=fresh.endpoint, force=True)
    assert res.written == ["tokenizer.json"]
    assert (dest / "tokenizer.json").read_bytes() == fresh.repos["meta-llama/Llama-2-7b-hf"].files["tokenizer.json"]


def test_cancel_between_files_leaves_nothing(fresh, tmp_path):
    dest = tmp_path / "t"
    token = CancelToken()
    seen = []

    def progress(ev):
        if ev.extra.get("file"):
            seen.append(ev.extra["file"])
            if len(seen) == 3:
                token.cancel()

    plan = plan_tokenizer(BAICHUAN, dest, endpoint=fresh.endpoint)
    with pytest.raises(Cancelled):
        fetch_tokenizer(plan, progress=progress, cancel=token)
    assert len(seen) == 3
    assert list(dest.iterdir()) == []  # all-or-nothing: no file, no staging folder


def test_progress_reports_every_file(fresh, tmp_path):
    events = []
    res = get_tokenizer("Qwen/Qwen-7B-Chat", tmp_path / "t", endpoint=fresh.endpoint, progress=events.append)
    files = [e.extra["file"] for e in events if e.extra.get("file")]
    assert sorted(files) == sorted(f.path for f in res.plan.files)
    assert events[-1].done == events[-1].total == len(res.plan.files)


def test_dry_run_writes_nothing(fresh, tmp_path, capsys):
    dest = tmp_path / "t"
    rc = cli.main(["tokenizer", BAICHUAN, str(dest), "--endpoint", fresh.endpoint, "--dry-run", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["dry_run"] and not dest.exists()
    assert doc["plan"]["trust_remote_code"] is True
    assert {f["path"] for f in doc["plan"]["files"]} == BAICHUAN_EXPECTED
    assert "_contents" not in doc["plan"]
    _no_weights_requested(fresh)
    rc = cli.main(["tokenizer", BAICHUAN, str(dest), "--endpoint", fresh.endpoint, "--dry-run"])
    text = capsys.readouterr().out
    assert "trust_remote_code: will be set" in text and "weights" in text


def test_human_output_shows_tree(fresh, tmp_path, capsys):
    rc = cli.main(["tokenizer", "meta-llama/Llama-2-7b-hf", str(tmp_path / "t"), "--endpoint", fresh.endpoint])
    out = capsys.readouterr().out
    assert rc == 0 and "Wrote 7 files" in out and "├── tokenizer_config.json\n├── tokenizer.json\n└── tokenizer.model\n" in out


def test_stale_staging_from_a_killed_run_is_removed(fresh, tmp_path):
    dest = tmp_path / "t"
    stale = dest / ".lmi-wizard-staging-abc123" / "files"
    stale.mkdir(parents=True)
    (stale / "tokenizer.model").write_bytes(b"half")
    get_tokenizer("meta-llama/Llama-2-7b-hf", dest, endpoint=fresh.endpoint)
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]


def test_plain_403_on_files_is_forbidden_not_offline(fresh, tmp_path):
    with pytest.raises(WizardError) as ei:
        plan_tokenizer("acme/forbidden-llama", tmp_path / "t", endpoint=fresh.endpoint)
    assert "forbidden (HTTP 403)" in str(ei.value) and "cannot reach" not in str(ei.value)


def test_gated_repo_metadata_is_public_files_are_not(fresh, tmp_path):
    """Like the real Hub: listing works, the first file read fails with the gated message."""
    with pytest.raises(WizardError, match="gated"):
        plan_tokenizer("meta-llama/Llama-2-7b-chat-gated", tmp_path / "t", endpoint=fresh.endpoint)
    paths = [r.path for r in fresh.log()]
    assert any("/tree/" in p for p in paths) and any("/resolve/" in p for p in paths)


@pytest.mark.parametrize("source, dest, match", [
    ("", "d", "no tokenizer source given"),  # '' would be the current folder
    ("   ", "d", "no tokenizer source given"),
    ("meta-llama/Llama-2-7b-hf", "", "no destination folder given"),
    ("meta-llama/Llama-2-7b-hf", "afile", "is a file, not a folder"),
    ("meta-llama/Llama-2-7b-hf", "afile/sub", "is a file, so"),
])
def test_bad_source_or_destination_refused_before_any_request(fresh, tmp_path, monkeypatch, source, dest, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "tokenizer_config.json").write_text("{}")  # what an empty source would have copied
    with pytest.raises(WizardError, match=match):
        plan_tokenizer(source, dest, endpoint=fresh.endpoint)
    assert fresh.log() == []


def test_endpoint_must_be_an_http_url(fresh, tmp_path, capsys):
    rc = cli.main(["tokenizer", "meta-llama/Llama-2-7b-hf", str(tmp_path / "d"), "--endpoint", "notaurl"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not an http(s) URL" in err[0]
    assert fresh.log() == []


def test_local_source_pipe_is_skipped_not_read(tmp_path):
    src = _local_repo(tmp_path / "src", llama_repo())
    os.mkfifo(src / "special_tokens_map.json.pipe.json")
    plan = plan_tokenizer(str(src), tmp_path / "out")
    assert "special_tokens_map.json.pipe.json" in {s.path for s in plan.skipped}
    res = fetch_tokenizer(plan)
    assert "special_tokens_map.json.pipe.json" not in res.written


# ------------------------------------------------------------------------------------------ issue 12 §3, §5
def _run_cli(args, env=None, timeout=120):
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-m", "lmi_wizard.tui.main", *args], cwd=root, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, **(env or {})))


def test_killed_download_leaves_no_partial_file_in_the_model_folder(tmp_path):
    """SIGKILL mid-file (the Hub holds the file half sent): the partial file is in a staging folder BESIDE the
    model folder, named so publish/check know it (fsutil.is_our_temp); the next fetch removes it."""
    import signal
    import subprocess
    import sys
    import threading
    import time

    from lmi_wizard.core.base.fsutil import in_our_temp, is_our_temp

    repo = llama_repo()
    repo.files["tokenizer.model"] = os.urandom(24 * 1024 * 1024)  # half of it > the client's 10 MB write chunk
    root = tmp_path / "triton_model_repo"
    dest = root / "tensorrt_llm"
    with FakeHub([repo]) as hub:
        hub.hold["tokenizer.model"] = threading.Event()
        proc = subprocess.Popen([sys.executable, "-m", "lmi_wizard.tui.main", "tokenizer", repo.repo_id, str(dest),
                                 "--endpoint", hub.endpoint], cwd=Path(__file__).resolve().parent.parent,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            partial = []
            for _ in range(3000):  # poll until the partial file is on disk (not sleep-and-hope)
                partial = [p for p in root.rglob("*") if p.is_file() and "incomplete" in p.name
                           and p.stat().st_size > 0]
                if partial or proc.poll() is not None:
                    break
                time.sleep(0.02)
            assert partial, "the download never started"
            proc.kill()
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            hub.hold["tokenizer.model"].set()
        # nothing hidden or partial inside the model folder
        inside = [p for p in dest.rglob("*")] if dest.exists() else []
        assert not [p for p in inside if p.name.startswith(".") or "incomplete" in p.name], inside
        staging = [p for p in root.iterdir() if p.name.startswith(".")]
        assert len(staging) == 1 and is_our_temp(staging[0].name)
        assert all(in_our_temp(p.relative_to(root)) for p in partial)
        # the next run (the killed wizard's pid is gone) removes it and finishes
        del hub.hold["tokenizer.model"]
        res = get_tokenizer(repo.repo_id, dest, endpoint=hub.endpoint)
    assert "tokenizer.model" in res.written and (dest / "tokenizer.model").read_bytes() == repo.files["tokenizer.model"]
    assert [p.name for p in root.iterdir()] == ["tensorrt_llm"]


def test_check_names_a_leftover_temp_and_never_takes_it(tmp_path):
    from lmi_wizard.core.base.fsutil import is_our_temp
    from lmi_wizard.core.preflight import check_dir
    from lmi_wizard.core.preflight.structure import _all_rel_files

    root = tmp_path / "triton_model_repo"
    (root / "tensorrt_llm").mkdir(parents=True)
    (root / "tensorrt_llm" / "config.pbtxt").write_text("name: \"tensorrt_llm\"\n")
    left = root / ".tensorrt_llm.lmi-wizard-staging-999999-abc" / "hub"
    left.mkdir(parents=True)
    (left / "tokenizer.model").write_bytes(b"half")
    assert is_our_temp(left.parent.name) and not is_our_temp("tokenizer.model") and not is_our_temp(".gitignore")
    assert not [k for k in _all_rel_files(root) if "staging" in k]
    rep = check_dir(root, gpu_state=None)
    temp = [f for f in rep.findings if f.code == "our-temp"]
    said = getattr(temp[0], "message", None) or getattr(temp[0], "problem", "")
    assert len(temp) == 1 and ".tensorrt_llm.lmi-wizard-staging-999999-abc" in said
    assert "never uploaded" in said and "rm -r" in (temp[0].fix or "")


def test_name_too_long_for_the_file_system_is_skipped_with_its_name(tmp_path):
    long = "x" * 300 + ".json"  # 305 bytes: no Linux file system holds it
    repo = llama_repo()
    repo.files[long] = b"{}"
    with FakeHub([repo]) as hub:
        plan = plan_tokenizer(repo.repo_id, tmp_path / "t", endpoint=hub.endpoint)
        assert long not in [f.path for f in plan.files]
        why = next(s.reason for s in plan.skipped if s.path == long)
        assert "305 bytes" in why and "255" in why
        res = fetch_tokenizer(plan)
    assert "tokenizer_config.json" in res.written and "tokenizer.model" in res.written


def test_name_the_fetch_cannot_write_is_skipped_not_an_abort(tmp_path):
    """A 250-byte name fits the file system, but not the Hub client's bookkeeping names beside it
    (``<name>.<etag>.incomplete``): that one file is skipped, named, and the rest arrives."""
    long = "y" * 245 + ".json"
    repo = llama_repo()
    repo.files[long] = b"{}"
    with FakeHub([repo]) as hub:
        plan = plan_tokenizer(repo.repo_id, tmp_path / "t", endpoint=hub.endpoint)
        assert long in [f.path for f in plan.files]
        res = fetch_tokenizer(plan)
    assert long in [s.path for s in res.skipped] and "too long" in res.skipped[0].reason
    assert "tokenizer_config.json" in res.written and not (tmp_path / "t" / long).exists()


@pytest.mark.parametrize("verb", ["tokenizer", "models"])
def test_silent_hub_ends_in_one_line_naming_endpoint_and_setting(verb, tmp_path):
    """An endpoint that accepts and never answers: one line naming it and LMI_WIZARD_NET_TIMEOUT, no retry
    lines (huggingface_hub's own back-off would print them and wait minutes)."""
    from hubserver import SilentServer

    with SilentServer() as silent:
        args = (["tokenizer", "acme/llama", str(tmp_path / "t"), "--endpoint", silent.url] if verb == "tokenizer"
                else ["models", "--source", "acme/llama", "--endpoint", silent.url])
        res = _run_cli(args, env={"LMI_WIZARD_NET_TIMEOUT": "1.5"}, timeout=90)
        assert silent.accepted >= 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1, res.stderr
    assert f"no answer from {silent.url} for 1.5 s" in lines[0] and "LMI_WIZARD_NET_TIMEOUT" in lines[0]
    assert "Retry" not in res.stderr and "Traceback" not in res.stderr


def test_bad_net_timeout_setting_is_one_line(tmp_path):
    res = _run_cli(["tokenizer", "acme/llama", str(tmp_path / "t"), "--endpoint", "http://127.0.0.1:9"],
                   env={"LMI_WIZARD_NET_TIMEOUT": "soon"})
    assert res.returncode == 2 and "LMI_WIZARD_NET_TIMEOUT='soon'" in res.stderr


def test_hub_retry_lines_are_quiet_and_counted():
    import logging

    from lmi_wizard.core import hubnet

    hubnet.install()
    log = logging.getLogger("huggingface_hub.utils._http")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    keep, level = Keep(), log.level
    log.addHandler(keep)
    log.setLevel(logging.WARNING)  # whatever another test set on the library's loggers
    try:
        before = hubnet.RETRIES.count
        log.warning("'ConnectError' thrown while requesting HEAD http://127.0.0.1:9/x")
        log.warning("Retrying in 1s [Retry 1/5].")
        log.warning("something else the user should see")
    finally:
        log.removeHandler(keep)
        log.setLevel(level)
    assert hubnet.RETRIES.count == before + 1
    assert seen == ["something else the user should see"]


def test_cli_tokenizer_options_are_the_fields(monkeypatch, capsys, tmp_path):
    """One schema (issue 10): SOURCE and --pattern are tokenizer.source / tokenizer.extra_patterns — help,
    parsing and the pattern rule from the Fields; what ``wizard.cli_argv`` writes parses back to the answer."""
    import argparse
    import dataclasses

    from lmi_wizard.core import wizard
    from lmi_wizard.tui.cli.commands import tokenizer as verb

    for key, text in (("tokenizer.source", "SOURCE-HELP"), ("tokenizer.extra_patterns", "PATTERNS-HELP")):
        monkeypatch.setitem(wizard.FIELDS, key, dataclasses.replace(wizard.field(key), help=text))
    p = argparse.ArgumentParser()
    verb.register(p)
    assert "SOURCE-HELP" in p.format_help() and "PATTERNS-HELP" in p.format_help()
    args = p.parse_args(["org/m", "d", "--pattern", "*.py", "--pattern", "a.txt,b.txt"])
    assert (args.source, args.extra_patterns) == ("org/m", ["*.py", "a.txt", "b.txt"])
    a = wizard.Answers({"tokenizer.extra_patterns": ["*.py", "vocab.bin"]})
    argv = wizard.cli_argv(["tokenizer.extra_patterns"], a)
    assert p.parse_args(["org/m", "d", *argv]).extra_patterns == ["*.py", "vocab.bin"]
    # a pattern naming a sub-folder: the Field's rule (core.tokenizer.pattern_problem), one line, exit 2
    with pytest.raises(SystemExit) as e:
        cli.main(["tokenizer", "org/m", str(tmp_path / "t"), "--pattern", "sub/x.json"])
    err = capsys.readouterr().err
    found = wizard.check_field("tokenizer.extra_patterns", ["sub/x.json"], wizard.Answers())
    assert e.value.code == 2 and err.count("\n") == 1 and found.problem in err and "--pattern" in err
    assert not (tmp_path / "t").exists()
