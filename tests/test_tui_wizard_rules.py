"""Issue 13 as Pilot tests: every card recomputed from the current answers, a combination no LMI image has blocks
on the screen where it is fixed, what the run would refuse blocks Next with the same words, fixes name the field or
the key, one TP rule, "New model" keeps the machine's answers."""

from __future__ import annotations

import json

from textual.widgets import Button, Input, Select, Static

from lmi_wizard.core import wizard as core_wizard
from lmi_wizard.core.wizard import recipe as R
from lmi_wizard.tui.app import WizardApp
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.tui import app_at, async_test, environment_report


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def settle(app, pilot, n: int = 3) -> None:
    for _ in range(n):
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()


@async_test
async def test_screen_one_cards_follow_the_answers_and_impossible_combinations_block(tmp_path):
    """Item 1: no GPU, nothing installed. The LMI card, its text and the templates line follow the version typed;
    LMI 0.33 with TensorRT-LLM 0.12, or the flat layout forced on 0.12, block Next with the fix."""
    app = WizardApp(state_path=tmp_path / "state.toml", environment=environment_report(tmp_path, trtllm=None, gpus=0))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        version = app.screen.query_one("#f-env--trtllm_version", Input)
        version.focus()
        await pilot.press(*"0.12.0")
        await settle(app, pilot)
        target = text_of(app, "#env-target")
        assert "LMI 0.32.0 → Triton layout" in target and "loads the Triton layout" in target
        assert "tensorrtllm_backend" in target and "flat layout" not in target.split("\n")[-1][:40]
        assert not app.screen.query_one("#next", Button).disabled
        version.value = ""
        await pilot.press(*"0.21.0rc1")
        await settle(app, pilot)
        target = text_of(app, "#env-target")
        assert "LMI 0.33.0 → flat engine folder" in target and "it loads the flat layout" in target
        assert "tensorrtllm_backend" not in target and "TensorRT-LLM" in target  # the templates line followed
        # back to 0.12 and force the flat layout: no LMI image has that
        version.value = "0.12.0"
        app.screen.query_one("#f-env--lmi_layout", Select).value = "flat"
        await settle(app, pilot)
        assert app.screen.query_one("#next", Button).disabled
        msg = text_of(app, "#message")
        assert "no LMI image loads the flat layout with TensorRT-LLM 0.12.0" in msg
        assert "“LMI artifact layout” (Environment) to auto" in msg  # the fix names the field, not [env]
        app.screen.query_one("#f-env--lmi_layout", Select).value = "auto"
        app.screen.query_one("#advanced-toggle").toggle()
        await settle(app, pilot)
        lmi = app.screen.query_one("#f-env--lmi_version", Input)
        lmi.focus()
        await pilot.press(*"0.33.0")
        await settle(app, pilot)
        assert app.screen.query_one("#next", Button).disabled
        assert "LMI 0.33.0 ships TensorRT-LLM 0.21.0rc1, not 0.12.0" in text_of(app, "#message")
        assert "LMI 0.33.0 → flat engine folder" in text_of(app, "#env-target")  # the card agrees with the rule
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert type(app.screen).__name__ == "EnvironmentScreen"


@async_test
async def test_a_version_other_than_the_installed_one_blocks_next_with_the_runs_words(tmp_path):
    """Item 4: the run's environment step refuses a version other than the installed one; the screen blocks Next
    with the same words (one rule: core.wizard.rules.installed_mismatch)."""
    app = WizardApp(state_path=tmp_path / "state.toml", environment=environment_report(tmp_path))  # 0.12.0
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        version = app.screen.query_one("#f-env--trtllm_version", Input)
        version.value = "0.11.0"
        await settle(app, pilot)
        assert app.screen.query_one("#next", Button).disabled
        found = core_wizard.rules.installed_mismatch(app.answers)
        assert found is not None and found.problem in text_of(app, "#message")
        assert "“TensorRT-LLM version” (Environment) to 0.12.0" in text_of(app, "#row-env--trtllm_version .field-msg")
        version.value = "0.12.0"
        await settle(app, pilot)
        assert not app.screen.query_one("#next", Button).disabled


@async_test
async def test_empty_backend_url_blocks_next_on_checkout(tmp_path):
    """Item 4: an empty repository URL would stop the clone: Next waits on the Checkout screen, the field shown
    even with the advanced settings hidden."""
    app = app_at(tmp_path, tmp_path / "fresh", "checkout")  # nothing there yet: the clone plan itself is fine
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        assert not app.screen.query_one("#next", Button).disabled
        app.answers["checkout.backend_url"] = ""
        app.screen.form.revalidate()
        app.screen.refresh_next()
        await pilot.pause()
        assert app.screen.query_one("#row-checkout--backend_url").display
        assert app.screen.query_one("#next", Button).disabled
        assert "tensorrtllm_backend URL: required" in text_of(app, "#message")


@async_test
async def test_a_build_flag_that_cannot_render_blocks_next(tmp_path, workdir):  # noqa: F811
    """Item 4: a builder flag whose value the builder would refuse cannot render: Next waits, with the renderer's
    words; the run refuses the same answers (validate_all)."""
    app = app_at(tmp_path, workdir, "build", **{"model.source": "baichuan-inc/Baichuan-13B-Chat",
                                                 "model.example": "baichuan"})
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        assert not app.screen.query_one("#next", Button).disabled
        app.screen.query_one("#advanced-toggle").toggle()
        await settle(app, pilot)
        app.screen.query_one("#f-build--build_flags", Input).value = "--max_batch_size:lots"
        await settle(app, pilot)
        assert app.screen.query_one("#next", Button).disabled
        msg = text_of(app, "#message")
        assert "--max_batch_size expects an integer, got 'lots'" in msg
        # the run refuses the very same answers with the same words (Pipeline.refusal reads validate_all)
        refused = [p for p in core_wizard.validate_all(app.answers) if p.blocking]
        assert [p for p in refused if p.key == "build.build_flags" and "--max_batch_size expects an integer" in p.problem]


@async_test
async def test_tp_possible_list_and_validator_agree_on_the_build_screen(tmp_path, workdir):  # noqa: F811
    """Item 8: TP 16 on a 40-head model lists 1, 2, 4, 5, 8, 10, 20, 40 — and TP 5 is then accepted."""
    bc = tmp_path / "models" / "Baichuan-13B"
    bc.mkdir(parents=True)
    (bc / "config.json").write_text(json.dumps({
        "architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "hidden_size": 5120,
        "num_hidden_layers": 40, "num_attention_heads": 40, "vocab_size": 64000, "intermediate_size": 13696}))
    app = app_at(tmp_path, workdir, "build", **{"model.source": str(bc), "model.example": "baichuan"})
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        tp = app.screen.query_one("#f-build--tp", Input)
        tp.value = "16"
        await settle(app, pilot)
        msg = text_of(app, "#row-build--tp .field-msg")
        assert "possible: 1, 2, 4, 5, 8, 10, 20, 40" in msg
        assert app.screen.query_one("#next", Button).disabled
        tp.value = "5"
        await settle(app, pilot)
        assert "power of two" not in text_of(app, "#row-build--tp .field-msg")
        assert "does not divide" not in text_of(app, "#row-build--tp .field-msg")


@async_test
async def test_new_model_keeps_environment_and_checkout_and_clears_the_model(tmp_path, workdir):  # noqa: F811
    """Item 11: Ctrl+O (in the footer) clears the model-specific answers (the schema's MODEL_SECTIONS) and opens
    the Model step; environment and checkout answers stay."""
    app = app_at(tmp_path, workdir, "destination", **{
        "model.source": "baichuan-inc/Baichuan-13B-Chat", "model.example": "baichuan", "build.tp": 2,
        "triton.decoupled": False, "destination.uri": "s3://bucket/a/b/", "env.lmi_layout": "triton",
        "checkout.shallow": False})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        footer = " ".join(str(b.render()) for b in app.screen.query("FooterKey"))
        assert "New model" in footer
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ModelScreen"
        a = app.answers
        assert not any(a.is_set(k) for k in ("model.source", "model.example", "build.tp", "triton.decoupled",
                                              "destination.uri"))
        assert a["env.trtllm_version"] == "0.5.0" and a["env.lmi_layout"] == "triton"
        assert a["checkout.work_dir"] == str(workdir) and a["checkout.shallow"] is False
        assert app.screen.query_one("#f-model--source", Input).value == ""
        assert app.screen.query_one("#next", Button).disabled  # a model is required again
    saved = R.load_state(tmp_path / "state.toml").answers
    assert not saved.is_set("destination.uri") and saved["checkout.shallow"] is False
    assert set(core_wizard.MODEL_SECTIONS) == {"model", "build", "triton", "tokenizer", "destination", "lmi"}


@async_test
async def test_an_hf_id_the_hub_says_does_not_exist_blocks_next(tmp_path, workdir, hub):  # noqa: F811
    """Item 10: the Hub answered 404 for the id: a blocking problem beside the field (offline stays a warning)."""
    a = R.loads_recipe(f'[env]\ntrtllm_version = "0.5.0"\n[checkout]\nwork_dir = "{workdir}"\n', require=False)
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "model", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.5.0"), start_at="model",
                    pipeline_options={"hf_endpoint": hub.endpoint})
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#f-model--source", Input).value = "nobody-here/no-such-model"
        await pilot.pause(0.6)
        await settle(app, pilot, 5)
        assert "does not exist" in text_of(app, "#row-model--source .field-msg")
        assert text_of(app, "#row-model--source .field-msg").startswith("✗")
        assert app.screen.query_one("#next", Button).disabled


@async_test
async def test_a_missing_bucket_blocks_the_destination_step(tmp_path, workdir, s3):  # noqa: F811
    """Item 10: one HeadBucket (credentials exist: moto on 127.0.0.1) finds a missing bucket on screen 6, not at
    Publish; a bucket that exists passes."""
    bucket = s3.make_bucket("models")
    a = R.loads_recipe(f'[env]\ntrtllm_version = "0.5.0"\n[checkout]\nwork_dir = "{workdir}"\n[model]\n'
                       'source = "baichuan-inc/Baichuan-13B-Chat"\nexample = "baichuan"\n', require=False)
    a["destination.uri"] = "s3://no-such-bucket-here/trtllm/baichuan/"
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "destination", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.5.0"), start_at="destination",
                    pipeline_options={"s3_endpoint": s3.endpoint_url})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(0.8)
        await settle(app, pilot, 5)
        assert app.screen.query_one("#next", Button).disabled
        assert "bucket 'no-such-bucket-here' does not exist" in text_of(app, "#message")
        app.screen.query_one("#f-destination--uri", Input).value = f"s3://{bucket}/trtllm/baichuan/"
        await pilot.pause(0.8)
        await settle(app, pilot, 5)
        assert "does not exist" not in text_of(app, "#message")
        assert not app.screen.query_one("#next", Button).disabled, text_of(app, "#message")


@async_test
async def test_field_checkboxes_are_never_clipped(tmp_path):
    """Item 10: a field's checkbox shows its whole toggle (no "▐X…") at 80, 100 and 140 columns."""
    from textual.widgets import Checkbox

    a = R.loads_recipe('[env]\ntrtllm_version = "0.12.0"\n[model]\nsource = "a/b"\n', require=False)
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "build", None, state))
    for width in (80, 100, 140):
        app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.12.0"), start_at="build")
        async with app.run_test(size=(width, 50)) as pilot:
            await settle(app, pilot)
            boxes = [cb for cb in app.screen.query(Checkbox) if cb.display and cb.id != "advanced-toggle"]
            assert boxes
            for cb in boxes:
                if cb.size.width:
                    assert cb.size.width >= len(str(cb.render()).rstrip()) + 1, (width, cb.id, cb.size)


def test_fixes_speak_the_tui_inside_the_tui():
    """Item 5: one mapping (the schema's Field.flag / label, the run keys): CLI words become the field or the key."""
    from lmi_wizard.core.checkout import gitio as checkout_git

    say = core_wizard.for_tui
    assert say("continue the earlier run with --resume, or replace it with --force") == \
        "continue the earlier run with Ctrl+R, or replace it with Ctrl+F"
    assert say("pass --force to replace them") == "press Ctrl+F to replace them"
    assert say("set --backend-url/--trtllm-url or leave the defaults") == (
        "set “tensorrtllm_backend URL” (Checkout, advanced)/“TensorRT-LLM URL” (Checkout, advanced) or leave the "
        "defaults")
    assert say("set trtllm_version under [env] to 0.12.0") == "set “TensorRT-LLM version” (Environment) to 0.12.0"
    assert say("change [build] tp (`lmi-wizard init` documents every setting)") == \
        "change “Tensor parallel (GPUs)” (Build flags)"
    assert say("choose another --dest") == "choose another “Checkout folder” (Checkout)"
    # every flag the schema knows is spelled as its field; nothing with a flag is left in CLI words
    for f in core_wizard.FIELDS.values():
        if f.flag:
            assert f.flag not in say(f"use {f.flag} here"), f.key
    # core's own fixes, through the screen: the checkout's offline-clone fix names the URL fields
    fixes = " ".join(fix for _, _, fix in checkout_git._ERRORS)
    assert "--backend-url" in fixes and "--backend-url" not in say(fixes) and "“tensorrtllm_backend URL”" in say(fixes)


@async_test
async def test_the_reason_next_waits_is_never_cut(tmp_path):
    """Item 5: the message line wraps; at 100 and 140 columns the whole reason and its fix are painted."""
    for width in (100, 140):
        app = WizardApp(state_path=tmp_path / f"s{width}.toml", environment=environment_report(tmp_path))
        async with app.run_test(size=(width, 40)) as pilot:
            await settle(app, pilot)
            app.screen.query_one("#f-env--trtllm_version", Input).value = "0.11.0"
            await settle(app, pilot)
            msg = app.screen.query_one("#message", Static)
            text = str(msg.render())
            assert "or run in the LMI container that has tensorrt-llm 0.11.0" in text
            painted = msg.size.width * msg.size.height
            assert msg.size.height >= 2 and len(text) <= painted, (width, msg.size, len(text))
