"""Pilot tests of single screens over a checkout-shaped folder (the real upstream files the git fixtures
use, written to disk): the example list filter, model validation, the live build preview, the
destination's model_id and layout rule, saving the review's script and recipe."""

from __future__ import annotations

import json

from textual.widgets import Button, Input, OptionList

from lmi_wizard.core.wizard import recipe as R
from tests.support.tui import app_at, async_test, text_of


@async_test
async def test_model_screen_validates_source_reads_config_and_filters_examples(tmp_path, workdir):
    app = app_at(tmp_path, workdir, "model")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(0.2)
        src = app.screen.query_one("#f-model--source", Input)
        src.focus()
        await pilot.press(*"not a model")
        await pilot.pause(0.2)
        assert app.screen.query_one("#next", Button).disabled
        assert "neither a Hugging Face repo id" in text_of(app, "#row-model--source .field-msg")
        src.value = str(tmp_path / "models" / "Llama-2-7b")
        await pilot.pause(1.0)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        info = text_of(app, "#model-info")
        assert "LlamaForCausalLM" in info and "parameters" in info and "GiB" in info
        assert app.answers["model.name"] == "llama-2-7b"  # derived default, shown in its field
        assert app.screen.query_one("#f-model--name", Input).value == "llama-2-7b"
        assert app.answers["model.example"] == "llama"  # picked for the architecture
        flt = app.screen.query_one("#example-filter", Input)
        flt.focus()
        await pilot.press(*"bai")
        await pilot.pause()
        ol = app.screen.query_one("#examples", OptionList)
        assert ol.option_count == 1 and "baichuan" in str(ol.get_option_at_index(0).prompt)
        await pilot.press("enter")
        await pilot.pause()
        assert app.answers["model.example"] == "baichuan"
        assert not app.screen.query_one("#next", Button).disabled
    assert R.load_state(tmp_path / "state.toml").answers["model.example"] == "baichuan"


@async_test
async def test_build_preview_follows_every_edit(tmp_path, workdir):
    app = app_at(tmp_path, workdir, "build", **{"model.source": "baichuan-inc/Baichuan-13B-Chat",
                                                 "model.example": "baichuan"})
    async with app.run_test(size=(100, 40)) as pilot:
        for _ in range(3):
            await pilot.pause(0.2)
            await app.workers.wait_for_complete()
        preview = text_of(app, "#build-preview")
        assert "python3 build.py" in preview and "--world_size 1" in preview and "--use_inflight_batching" in preview
        tp = app.screen.query_one("#f-build--tp", Input)
        tp.focus()
        tp.value = ""
        await pilot.press("4")
        for _ in range(3):
            await pilot.pause(0.1)
            await app.workers.wait_for_complete()
        assert "--world_size 4" in text_of(app, "#build-preview")
        await pilot.press("backspace", "0")  # below the field's minimum: said beside the field, Next waits
        await pilot.pause(0.2)
        assert "below the minimum 1" in text_of(app, "#row-build--tp .field-msg")
        assert app.screen.query_one("#next", Button).disabled
        app.screen.query_one("#f-build--inflight_batching").toggle()
        await pilot.press("backspace", "2")
        for _ in range(3):
            await pilot.pause(0.1)
            await app.workers.wait_for_complete()
        preview = text_of(app, "#build-preview")
        assert "--world_size 2" in preview and "--use_inflight_batching" not in preview
        # advanced: every flag discovered from this checkout's builder, and the advanced fields
        app.screen.query_one("#advanced-toggle").toggle()
        for _ in range(3):
            await pilot.pause(0.1)
            await app.workers.wait_for_complete()
        assert "--model_version" in text_of(app, "#build-flags")
        assert app.screen.query_one("#row-build--build_flags").display
        assert app.screen.query_one("#row-build--convert_flags").display


@async_test
async def test_destination_shows_model_id_live_and_refuses_what_lmi_cannot_load(tmp_path, workdir):
    app = app_at(tmp_path, workdir, "destination", **{"model.source": str(tmp_path / "models" / "Llama-2-7b")})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(0.2)
        box = app.screen.query_one("#f-destination--uri", Input)
        box.value = "s3://my-bucket/tensorrt_llm/"  # Triton layout at the bucket root's child: one folder
        await pilot.pause(0.2)
        assert "two folders" in text_of(app, "#model-id") or "cannot work" in text_of(app, "#model-id")
        assert app.screen.query_one("#next", Button).disabled
        box.value = "s3://my-bucket/llama-tp1/tensorrt_llm/"
        await pilot.pause(0.2)
        assert "s3://my-bucket/llama-tp1/" in text_of(app, "#model-id")
        assert not app.screen.query_one("#next", Button).disabled, text_of(app, "#message")
        # the tokenizer file set of a local folder, with the reason for each file
        for _ in range(10):
            await pilot.pause(0.2)
            if "file(s)" in text_of(app, "#tokenizer-plan"):
                break
        plan = text_of(app, "#tokenizer-plan")
        assert "tokenizer_config.json" in plan and "tokenizer.model" in plan
        assert "safetensors" not in plan.split("skipped")[0]  # never weights


@async_test
async def test_review_saves_script_and_recipe_without_secrets(tmp_path, workdir, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_SECRETsecretSECRET0123456789")
    app = app_at(tmp_path, workdir, "review", **{"model.source": "baichuan-inc/Baichuan-13B-Chat",
                                                  "model.example": "baichuan",
                                                  "destination.uri": "s3://b/x/tensorrt_llm/"})
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause(0.3)
        assert "#!/usr/bin/env bash" in app.screen.script and "aws s3 sync" in app.screen.script
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
    script = (workdir / "lmi-wizard-plan.sh").read_text()
    recipe = (workdir / "lmi-wizard-recipe.toml").read_text()
    assert "python3 build.py" in script and "fill_template.py" in script and "--model_dir" in script
    assert 'source = "baichuan-inc/Baichuan-13B-Chat"' in recipe
    assert "hf_SECRET" not in script and "hf_SECRET" not in recipe
    assert R.loads_recipe(recipe)["build.tp"] == 1


@async_test
async def test_changing_the_model_re_derives_the_example_unless_picked_by_hand(tmp_path, workdir):
    """Issue 13 item 2 (and 10: llama's example for a Baichuan model warns): the example folder derived from the
    model follows it; one picked by hand stays, and the screen names the mismatch."""
    bc = tmp_path / "models" / "Baichuan-13B"
    bc.mkdir(parents=True)
    (bc / "config.json").write_text(json.dumps({
        "architectures": ["BaichuanForCausalLM"], "model_type": "baichuan", "hidden_size": 5120,
        "num_hidden_layers": 40, "num_attention_heads": 40, "vocab_size": 64000, "intermediate_size": 13696}))
    app = app_at(tmp_path, workdir, "model", **{"model.source": str(tmp_path / "models" / "Llama-2-7b")})

    async def settle():
        for _ in range(3):
            await pilot.pause(0.3)
            await app.workers.wait_for_complete()

    def picked_row() -> str:
        ol = app.screen.query_one("#examples", OptionList)
        rows = [str(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]
        return next(r for r in rows if r.lstrip().startswith(("●", "○")))

    async with app.run_test(size=(100, 40)) as pilot:
        await settle()
        assert app.answers["model.example"] == "llama" and picked_row().split()[:2] == ["○", "llama"]
        app.screen.query_one("#f-model--source", Input).value = str(bc)
        await settle()
        assert app.answers["model.example"] == "baichuan"  # followed the model
        assert picked_row().split()[:2] == ["○", "baichuan"]
        assert "example folder for this architecture: baichuan" in text_of(app, "#model-info")
        # pick llama by hand for the Baichuan model: kept, and a warning names the mismatch
        flt = app.screen.query_one("#example-filter", Input)
        flt.focus()
        await pilot.press(*"llama", "enter")
        await settle()
        assert app.answers["model.example"] == "llama" and picked_row().split()[:2] == ["●", "llama"]
        problems = text_of(app, "#step-problems")
        assert "Example folder llama was set by hand" in problems and "it would be baichuan" in problems
        assert not app.screen.query_one("#next", Button).disabled  # a warning, not a blocker
        # picking the derived folder again makes it follow the model once more
        flt.value = ""
        await pilot.press(*"baichuan", "enter")
        await settle()
        assert not app.answers.is_set("model.example") and app.answers.is_derived("model.example")
        assert "set by hand" not in text_of(app, "#step-problems")
