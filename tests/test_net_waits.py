"""issue 12 §5, "progress shows the wait": while a Hub, git or S3 request is silent, the progress says so
("waiting for <endpoint>: 2 s without an answer (retry 1 of 2; gives up after 6 s)"), then the one-line
failure; a request that answers says nothing. Against tests.hubserver.SilentServer (a loopback server that
accepts and never answers), the real clients (huggingface_hub, git, boto3) and a small LMI_WIZARD_NET_TIMEOUT."""

from __future__ import annotations

import threading

import pytest

from lmi_wizard.core.base import net
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.tui.cli import main as cli
from tests.hubserver import SilentServer
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.pipeline import prebuilt_flat, publish_recipe
from tests.support.tui import async_test, environment_report, wait_for


class Collect:
    def __init__(self) -> None:
        self.events = []
        self._lock = threading.Lock()

    def __call__(self, ev) -> None:
        with self._lock:
            self.events.append(ev)

    def waits(self) -> list[str]:
        return [e.message for e in self.events if (e.extra or {}).get("waiting")]


def test_a_silent_hub_request_shows_its_wait(tmp_path, monkeypatch):
    from lmi_wizard.core import hub

    monkeypatch.setenv("LMI_WIZARD_NET_TIMEOUT", "3")
    got = Collect()
    with SilentServer() as silent, net.reporting(got, "model"):
        with pytest.raises(WizardError) as ei:
            hub.download_config("acme/llama", endpoint=silent.url, cache_dir=tmp_path / "cache")
    assert f"no answer from {silent.url}" in ei.value.problem
    waits = got.waits()
    assert waits and all(w.startswith(f"waiting for {silent.url}: ") for w in waits), got.events
    assert "without an answer" in waits[0] and "gives up after 3 s" in waits[0]
    assert all(e.step == "model" for e in got.events)


def test_a_silent_git_remote_shows_its_wait(tmp_path, monkeypatch):
    from lmi_wizard.core import checkout as ck

    monkeypatch.setenv("LMI_WIZARD_NET_TIMEOUT", "3")
    got = Collect()
    with SilentServer() as silent, net.reporting(got, "checkout"):
        url = f"{silent.url}/NVIDIA/TensorRT-LLM.git"
        with pytest.raises(WizardError):
            ck.checkout("v0.21.0", tmp_path / "co", trtllm_url=url)
    assert any(w.startswith(f"waiting for {url}: ") for w in got.waits()), got.events


def test_a_silent_s3_endpoint_shows_the_wait_and_the_retries_in_the_run(tmp_path, s3, monkeypatch, capsys):
    """Through `lmi-wizard run`: the publish step's lines say what it waits for, retries included, then the
    one-line failure (what the Run screen's log pane shows too: the same progress events)."""
    monkeypatch.setenv("LMI_WIZARD_NET_TIMEOUT", "6")  # 3 attempts of 2 s; the wait shows after 1 s
    with SilentServer() as silent:
        recipe = publish_recipe(tmp_path / "qwen", s3, "Qwen/Qwen-7B-Chat", b"Q" * 100)
        recipe.write_text(recipe.read_text().replace(s3.endpoint_url, silent.url))
        assert cli.main(["run", str(recipe)]) == 1
    cap = capsys.readouterr()
    waits = [line for line in cap.out.splitlines() if line.startswith(f"  publish | waiting for {silent.url}: ")]
    assert waits, cap.out
    assert any("(retry 1 of 2; gives up after 6 s)" in w or "(retry 2 of 2; gives up after 6 s)" in w
               for w in waits), waits
    assert f"no answer from {silent.url} for 6 s" in cap.err and cap.err.count("\n") == 1


def test_an_answering_endpoint_says_nothing_about_waits(tmp_path, s3, monkeypatch, capsys):
    s3.make_bucket("lmi-llm")
    recipe = publish_recipe(tmp_path / "qwen", s3, "Qwen/Qwen-7B-Chat", b"Q" * 100)
    assert cli.main(["run", str(recipe)]) == 0
    assert "waiting for" not in capsys.readouterr().out
    assert not net._waits  # every wait ended


@async_test
async def test_the_run_screen_shows_the_wait(tmp_path, monkeypatch):
    from lmi_wizard.core.wizard import recipe as R
    from lmi_wizard.tui.app import WizardApp

    monkeypatch.setenv("LMI_WIZARD_NET_TIMEOUT", "6")
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with SilentServer() as silent:
        a = prebuilt_flat(tmp_path, "s3://lmi-llm/trtllm/chat/", f'endpoint_url = "{silent.url}"')
        state = tmp_path / "state.toml"
        R.save_state(R.WizardState(a, "run", None, state))
        app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="1.0.0"),
                        start_at="run")
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_for(pilot, lambda: not app.screen.running and app.screen.report is not None, 120)
            await pilot.pause(0.3)
            rep = app.screen.report
            assert not rep.ok and rep.stopped_at == "publish" and f"no answer from {silent.url}" in rep.error
            pane = app.screen.query_one("#run-log")
            pane.flush()
            lines = [str(line) for line in pane.log_widget.lines]
    assert any(line.startswith(f"waiting for {silent.url}: ") for line in lines), lines


def test_the_publish_verb_shows_the_wait(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMI_WIZARD_NET_TIMEOUT", "6")
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    src = tmp_path / "m"
    src.mkdir()
    (src / "rank0.engine").write_bytes(b"E" * 100)
    (src / "config.json").write_text('{"build_config": {}}')
    (src / "tokenizer_config.json").write_text("{}")
    with SilentServer() as silent:
        rc = cli.main(["publish", str(src), "s3://lmi-llm/chat/", "--layout", "flat", "--endpoint-url", silent.url])
    err = capsys.readouterr().err
    assert rc == 3, err
    assert any(line.startswith(f"  waiting for {silent.url}: ") for line in err.splitlines()), err
    last = [line for line in err.splitlines() if line.strip() and not line.startswith("  ")]
    assert len(last) == 1 and f"no answer from {silent.url} for 6 s" in last[0], err
