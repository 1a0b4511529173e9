"""The whole wizard through the real app (Pilot), over a prepared environment: real git repositories with
real tags cloned over file:// (tests/gitfixtures.py), the real upstream templates, the fake Hugging Face
Hub (tests/hubserver.py, real huggingface_hub client), the moto S3 server (tests/s3server.py, boto3 over
HTTP), and the stand-in builder (the only stand-in: the real one needs a GPU). Asserts on what each
screen shows and on what lands on disk and in S3."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.procs import alive as _alive
from textual.widgets import Button, DataTable, Label, ProgressBar, Static

from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.tui.app import WizardApp
from tests.support.pipeline import LEGACY_BUILD, tutorial_recipe
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.tui import async_test, environment_report, painted, settle, text_of, wait_for


def screen_name(app) -> str:
    return type(app.screen).__name__


def prepared_state(remotes, tmp_path: Path, dest: str) -> Path:
    work = tmp_path / "work"
    answers = tutorial_recipe(remotes, work, dest)
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(answers, "environment", None, state))
    return state


async def walk_to_done(app, pilot) -> dict:
    seen = {}
    await pilot.pause()
    order = ["EnvironmentScreen", "CheckoutScreen", "ModelScreen", "BuildScreen", "TritonScreen",
             "DestinationScreen", "ReviewScreen"]
    for name in order:
        await wait_for(pilot, lambda: screen_name(app) == name)
        await settle(pilot)
        if name == "CheckoutScreen":
            await wait_for(pilot, lambda: app.screen.plan is not None)
            seen["plan"] = text_of(app, "#checkout-plan")
            await pilot.press("ctrl+g")  # clone now, to pick from the example list
            await wait_for(pilot, lambda: not app.screen.cloning and app.screen.plan is not None
                           and not app.screen.plan.clones)
        if name == "ModelScreen":
            seen["examples"] = [app.screen.query_one("#examples").get_option_at_index(i).prompt
                                for i in range(app.screen.query_one("#examples").option_count)]
        if name == "BuildScreen":
            await wait_for(pilot, lambda: "build.py" in text_of(app, "#build-preview"))
            seen["build"] = text_of(app, "#build-preview")
        if name == "TritonScreen":
            seen["triton_status"] = text_of(app, "#pbtxt-status")
            seen["triton_rows"] = app.screen.query_one("#placeholders", DataTable).row_count
        if name == "DestinationScreen":
            await wait_for(pilot, lambda: "file(s)" in text_of(app, "#tokenizer-plan"), 30)
            seen["model_id"] = text_of(app, "#model-id")
            seen["tokenizer"] = text_of(app, "#tokenizer-plan")
        if name == "ReviewScreen":
            seen["script"] = app.screen.script
        assert not app.screen.query_one("#next", Button).disabled, (name, text_of(app, "#message"))
        await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: screen_name(app) == "RunScreen")
    await wait_for(pilot, lambda: not app.screen.running and app.screen.report is not None, 120)
    seen["run_ok"] = app.screen.report.ok
    seen["run_error"] = (app.screen.report.error, app.screen.report.fix)
    await settle(pilot)
    seen["steps"] = [app.screen.query_one("#run-steps", DataTable).get_row_at(i)
                     for i in range(app.screen.query_one("#run-steps", DataTable).row_count)]
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: screen_name(app) == "DoneScreen")
    await settle(pilot)
    return seen


@async_test
async def test_tutorial_through_every_screen_to_s3(remotes, hub, s3, tmp_path):  # noqa: F811
    bucket = s3.make_bucket("models")
    dest = f"s3://{bucket}/trtllm/baichuan-13b-tp2/baichuan-13b-chat/"
    state = prepared_state(remotes, tmp_path, dest)
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.5.0"),
                    pipeline_options={"hf_endpoint": hub.endpoint, "s3_endpoint": s3.endpoint_url})
    async with app.run_test(size=(100, 40)) as pilot:
        seen = await walk_to_done(app, pilot)
        assert "Clone plan" in seen["plan"] and "tensorrtllm_backend" in seen["plan"]
        assert any("baichuan" in str(p) and "build.py" in str(p) for p in seen["examples"])
        assert "--use_inflight_batching" in seen["build"] and "--world_size 2" in seen["build"]
        assert "0 blocking" in seen["triton_status"]
        assert f"s3://{bucket}/trtllm/baichuan-13b-tp2/" in seen["model_id"]
        assert "tokenization_baichuan.py" in seen["tokenizer"] and "trust_remote_code" in seen["tokenizer"]
        assert "aws s3 sync" in seen["script"]
        assert seen["run_ok"], seen["run_error"]
        assert all(row[0] == "✓" for row in seen["steps"]), seen["steps"]
        # Done: listing table, the three configs, where log and recipe are
        listing = app.screen.query_one("#listing", DataTable)
        names = [listing.get_row_at(i)[1] for i in range(listing.row_count)]
        assert "config.pbtxt" in names and "tokenizer_config.json" in names and "1/" in names
        summary = text_of(app, "#done-summary")
        assert f"s3://{bucket}/trtllm/baichuan-13b-tp2/" in summary and "run.log" in summary
        assert "option.model_id=s3://" in text_of(app, "#lmi-props")
        assert "HF_MODEL_ID" in text_of(app, "#lmi-env")
        # the Hub config.json the Model screen read is the one core's validation sees (no second fetch)
        from lmi_wizard.core import wizard as core_wizard

        cfg = app.session.ctx.model_config(core_wizard.model_ref(app.answers))
        assert cfg is not None and "Baichuan" in " ".join(cfg.architectures)
    # what landed in S3
    objs = s3.objects(bucket, "trtllm/baichuan-13b-tp2/baichuan-13b-chat/")
    keys = {k.rsplit("baichuan-13b-chat/", 1)[1] for k in objs}
    for name in ("config.pbtxt", "tokenizer_config.json", "tokenization_baichuan.py",
                 "1/baichuan_float16_tp2_rank0.engine", "1/baichuan_float16_tp2_rank1.engine"):
        assert name in keys, name
    pbtxt = s3.client.get_object(Bucket=bucket, Key="trtllm/baichuan-13b-tp2/baichuan-13b-chat/config.pbtxt")
    body = pbtxt["Body"].read().decode()
    assert "${" not in body.split("max_tokens_in_paged_kv_cache")[0] or "decoupled: True" in body
    assert "decoupled: True" in body
    assert R.load_state(state).last_step == "done"


@async_test
async def test_placeholder_review_rows_can_be_filled_and_deleted(tmp_path, fixtures_dir):
    """The review lists every ${…} left (line, field, kind); Next waits while one blocks; Enter fills a
    row, Delete drops an optional parameters block; the diff preview follows."""
    tmpl_dir = tmp_path / "checkout" / "all_models" / "inflight_batcher_llm" / "tensorrt_llm"
    tmpl_dir.mkdir(parents=True)
    real = (fixtures_dir / "pbtxt" / "v0.13.0" / "tensorrt_llm" / "config.pbtxt").read_text()
    (tmpl_dir / "config.pbtxt").write_text(real + "version_policy: { latest: { num_versions: ${num_versions} } }\n")
    state = tmp_path / "state.toml"
    a = R.loads_recipe(f'''
[env]
trtllm_version = "0.13.0"
[checkout]
work_dir = "{tmp_path}"
dir = "{tmp_path / 'checkout'}"
[triton]
optional_placeholders = "keep"
''', require=False)
    R.save_state(R.WizardState(a, "triton", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.13.0"))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        assert screen_name(app) == "TritonScreen"
        table = app.screen.query_one("#placeholders", DataTable)
        rows = {table.get_row_at(i)[1]: table.get_row_at(i) for i in range(table.row_count)}
        assert "${num_versions}" in rows and "blocking" in str(rows["${num_versions}"][2])
        assert rows["${num_versions}"][3] == "version_policy.latest.num_versions"
        optional = [k for k, r in rows.items() if "optional" in str(r[2])]
        assert optional  # e.g. ${max_tokens_in_paged_kv_cache}
        # full parameter names (issue 13 item 10): every column is as wide as its longest cell
        from rich.text import Text

        for idx, col in enumerate(table.ordered_columns):
            longest = max(Text.from_markup(str(r[idx])).cell_len for r in rows.values())
            assert col.auto_width and col.content_width >= longest, (col.label, col.content_width, longest)
        assert app.screen.query_one("#next", Button).disabled
        assert "does not parse" in text_of(app, "#pbtxt-status")
        # fill the blocking row
        names = [table.get_row_at(i)[1] for i in range(table.row_count)]
        table.focus()
        table.move_cursor(row=names.index("${num_versions}"))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("1", "enter")
        await settle(pilot)
        assert app.answers["triton.substitutions"] == {"num_versions": "1"}
        names = [table.get_row_at(i)[1] for i in range(table.row_count)]
        assert "${num_versions}" not in names
        assert not app.screen.query_one("#next", Button).disabled
        assert "num_versions: 1" in text_of(app, "#pbtxt-diff")
        # delete ONE optional row: only its parameters block goes; the other optional rows stay listed
        names = [table.get_row_at(i)[1] for i in range(table.row_count)]
        assert len(names) > 2 and "${max_tokens_in_paged_kv_cache}" in names
        before_diff = text_of(app, "#pbtxt-diff")
        assert "max_tokens_in_paged_kv_cache" not in before_diff  # unchanged so far: no hunk
        table.move_cursor(row=names.index("${max_tokens_in_paged_kv_cache}"))
        await pilot.press("delete")
        await settle(pilot)
        after = [table.get_row_at(i)[1] for i in range(table.row_count)]
        assert after == [n for n in names if n != "${max_tokens_in_paged_kv_cache}"]
        assert app.answers["triton.delete_params"] == ["max_tokens_in_paged_kv_cache"]
        assert app.answers["triton.optional_placeholders"] == "keep"
        diff = text_of(app, "#pbtxt-diff")
        removed = [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
        assert any("max_tokens_in_paged_kv_cache" in ln for ln in removed)
        assert not any("kv_cache_host_memory_bytes" in ln or "max_attention_window_size" in ln for ln in removed)
        assert "parses as inference.ModelConfig" in text_of(app, "#pbtxt-status")
        # a blocking row cannot be deleted: it is refused with a message, nothing changes
        subs = dict(app.answers["triton.substitutions"])
        del subs["num_versions"]
        app.answers["triton.substitutions"] = subs
        app.screen.safe_previews()
        app.screen.changed()
        await pilot.pause()
        names = [table.get_row_at(i)[1] for i in range(table.row_count)]
        table.move_cursor(row=names.index("${num_versions}"))
        await pilot.press("delete")
        await settle(pilot)
        assert "blocks and cannot be deleted" in text_of(app, "#message")
        assert app.answers["triton.delete_params"] == ["max_tokens_in_paged_kv_cache"]
        assert "${num_versions}" in [table.get_row_at(i)[1] for i in range(table.row_count)]
        assert app.screen.query_one("#next", Button).disabled
        table.move_cursor(row=[table.get_row_at(i)[1] for i in range(table.row_count)].index("${num_versions}"))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("1", "enter")
        await settle(pilot)
        # a second optional row deleted: both keys are listed, the remaining optional rows stay
        names = [table.get_row_at(i)[1] for i in range(table.row_count)]
        table.move_cursor(row=names.index("${kv_cache_host_memory_bytes}"))
        await pilot.press("delete")
        await settle(pilot)
        assert app.answers["triton.delete_params"] == ["max_tokens_in_paged_kv_cache", "kv_cache_host_memory_bytes"]
        assert table.row_count == len(names) - 1 and table.row_count > 0
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "DestinationScreen"


HANGING_BUILD = LEGACY_BUILD  # tests/stand_ins/baichuan_build.py; hangs (with a worker child) under HANG_PIDS_FILE


@async_test
async def test_cancel_on_the_run_screen_stops_the_builders_process_group(tmp_path, monkeypatch):
    """Run → the (hanging) builder streams into the log pane → Ctrl+X: the builder and its child are
    gone, the step list says cancelled, the answers are kept and Next stays disabled."""
    from tests.gitfixtures import BACKEND_GITLINKS, backend_tree, file_url, make_repo, trtllm_tree

    pids_file = tmp_path / "pids"
    monkeypatch.setenv("HANG_PIDS_FILE", str(pids_file))
    backend = make_repo(tmp_path / "r" / "tensorrtllm_backend", {"v0.5.0": backend_tree("v0.5.0")},
                        gitlinks=BACKEND_GITLINKS, bare=True)
    trt = make_repo(tmp_path / "r" / "TensorRT-LLM", {"v0.5.0": trtllm_tree(
        "v0.5.0", {"baichuan": "flat"}, extra={"examples/baichuan/build.py": HANGING_BUILD})}, bare=True)
    work = tmp_path / "work"
    a = R.loads_recipe(f'''
[env]
trtllm_version = "0.5.0"
[checkout]
work_dir = "{work}"
backend_url = "{file_url(backend)}"
trtllm_url = "{file_url(trt)}"
[model]
source = "baichuan-inc/Baichuan-13B-Chat"
example = "baichuan"
[destination]
uri = "out/baichuan/tensorrt_llm/"
''', require=False)
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "run", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.5.0"), start_at="run")
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: pids_file.exists(), 60)
        pids = [int(x) for x in pids_file.read_text().split()]
        assert all(_alive(p) for p in pids)
        pane = app.screen.query_one("#run-log")
        await wait_for(pilot, lambda: any("building rank 0" in line for line in pane.log_widget.lines), 20)
        # while running (issue 13 §6): the footer offers Cancel, never a Back that does nothing
        footer = painted(app)[-1]
        assert "Cancel run" in footer and "Back" not in footer and "Run again" not in footer and "Next" not in footer
        assert app.screen.query_one("#back", Button).disabled
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: not app.screen.running, 20)
        await settle(pilot)
        # after the stop: the bar is still (a determinate bar), Cancel is gone, Back and Run again are offered
        bar = app.screen.query_one("#bar", ProgressBar)
        assert bar.total is not None and "stopped" in str(app.screen.query_one("#bar-label", Label).render())
        assert not app.screen.query_one("#cancel", Button).display
        rows = painted(app)
        assert "Cancel run" not in rows[-1] and "Back" in rows[-1] and "Run again" in rows[-1]
        assert "Next" not in rows[-1]  # Done is not reachable after a stop: the footer does not offer it
        assert not any(" Cancel " in r for r in rows[:-1])
        assert not any(_alive(p) for p in pids), "the builder's process group survived the cancel"
        table = app.screen.query_one("#run-steps", DataTable)
        rows = {table.get_row_at(i)[1]: table.get_row_at(i)[0] for i in range(table.row_count)}
        assert rows["Build engines"] == "■" and rows["Checkout"] == "✓"
        assert app.screen.query_one("#next", Button).disabled
        assert "cancel" in text_of(app, "#message").lower()
    assert R.load_state(state).answers["model.example"] == "baichuan"



@async_test
async def test_quitting_during_a_run_cancels_it_and_leaves_no_builder(tmp_path, monkeypatch):
    """Ctrl+Q while the builder runs: the run is cancelled (process group killed) before the app exits."""
    from tests.gitfixtures import BACKEND_GITLINKS, backend_tree, file_url, make_repo, trtllm_tree

    pids_file = tmp_path / "pids"
    monkeypatch.setenv("HANG_PIDS_FILE", str(pids_file))
    backend = make_repo(tmp_path / "r" / "tensorrtllm_backend", {"v0.5.0": backend_tree("v0.5.0")},
                        gitlinks=BACKEND_GITLINKS, bare=True)
    trt = make_repo(tmp_path / "r" / "TensorRT-LLM", {"v0.5.0": trtllm_tree(
        "v0.5.0", {"baichuan": "flat"}, extra={"examples/baichuan/build.py": HANGING_BUILD})}, bare=True)
    a = R.loads_recipe(f'''
[env]
trtllm_version = "0.5.0"
[checkout]
work_dir = "{tmp_path / 'work'}"
backend_url = "{file_url(backend)}"
trtllm_url = "{file_url(trt)}"
[model]
source = "baichuan-inc/Baichuan-13B-Chat"
example = "baichuan"
[destination]
uri = "out/baichuan/tensorrt_llm/"
''', require=False)
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "run", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.5.0"), start_at="run")
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: pids_file.exists(), 60)
        pids = [int(x) for x in pids_file.read_text().split()]
        await pilot.press("ctrl+q")
        await pilot.pause(0.5)
    assert not any(_alive(p) for p in pids), "a builder outlived the wizard"


@async_test
async def test_existing_output_is_never_replaced_without_ctrl_f(remotes, hub, tmp_path):  # noqa: F811
    """A triton_model_repo the wizard did not make stops the run with the fix; only Ctrl+F replaces it."""
    work = tmp_path / "work"
    answers = tutorial_recipe(remotes, work, "lmi-llm/baichuan-13b-tp2/baichuan-13b-chat/")
    mine = work / "triton_model_repo" / "my-notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("made by hand")
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(answers, "run", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.5.0"), start_at="run",
                    pipeline_options={"hf_endpoint": hub.endpoint})
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: not app.screen.running and app.screen.report is not None, 120)
        assert not app.screen.report.ok and app.screen.report.stopped_at == "assemble"
        assert mine.read_text() == "made by hand"
        assert "Ctrl+F" in text_of(app, "#message")
        assert app.screen.query_one("#next", Button).disabled
        refused = app.screen.report
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: app.screen.report is not refused and not app.screen.running
                       and app.screen.report is not None, 120)
        assert app.screen.report.ok, (app.screen.report.error, app.screen.report.fix)
        assert not app.screen.query_one("#next", Button).disabled
    assert (work / "triton_model_repo" / "tensorrt_llm" / "config.pbtxt").is_file()
