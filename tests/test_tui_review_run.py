"""Review, Run and Done screens (issue 13 §6, §7): what is painted, read back from the screen."""

from __future__ import annotations

from textual.app import App, ComposeResult

from lmi_wizard.tui.widgets.codeview import MARKER, CodeView
from tests.support.tui import app_at, async_test, painted


def unfold(rows: list[str]) -> list[str]:
    """Rows back to lines: a row starting with the continuation marker continues the line above."""
    out: list[str] = []
    for row in rows:
        if row.startswith(MARKER) and out:
            out[-1] += row[len(MARKER):]
        else:
            out.append(row)
    return out


SCRIPT = ("#!/usr/bin/env bash\n"
          "python3 build.py --model_dir baichuan-inc/Baichuan-13B-Chat --dtype float16 --use_gemm_plugin float16 "
          "--world_size 2 --output_dir /work/engines/baichuan-13b-chat-float16-tp2\n"
          "cd /work\n"
          "lmi-wizard lmi-config --model-id s3://bucket/prefix/ --layout triton --tp 2 --tokenizer-dir /w/t\n")


class _CodeApp(App):
    CSS = "CodeView { width: 40; height: auto; padding: 0; }"

    def compose(self) -> ComposeResult:
        yield CodeView(SCRIPT, language="bash")


@async_test
async def test_long_lines_fold_with_a_continuation_marker_and_unfold_to_the_script():
    app = _CodeApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        rows = [r[:40].rstrip() for r in painted(app)]
        rows = rows[:rows.index("")] if "" in rows else rows
        assert all(len(r) <= 40 for r in rows)
        # every row that does not start a line of the script carries the marker: rows unfold to the script
        assert unfold(rows) == SCRIPT.splitlines() and sum(r.startswith(MARKER) for r in rows) >= 5
        await pilot.resize_terminal(100, 20)
        app.query_one(CodeView).styles.width = 90
        await pilot.pause()
        await pilot.pause()  # the refold runs after the resize's refresh
        rows = [r[:90].rstrip() for r in painted(app)]
        rows = rows[:rows.index("")] if "" in rows else rows
        assert unfold(rows) == SCRIPT.splitlines() and sum(r.startswith(MARKER) for r in rows) == 2


@async_test
async def test_review_shows_and_saves_the_hub_tokenizers_trust_remote_code_step(tmp_path, workdir):  # noqa: F811
    app = app_at(tmp_path, workdir, "review", **{"model.source": "baichuan-inc/Baichuan-13B-Chat",
                                                  "model.example": "baichuan",
                                                  "destination.uri": "s3://bkt/x/tensorrt_llm/"})
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.pause(0.3)
        script = app.screen.script
        assert "lmi-wizard lmi-config" in script and "trust_remote_code" in script
        view = app.screen.query_one("#script", CodeView)
        assert view.text == script
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
    assert (workdir / "lmi-wizard-plan.sh").read_text() == script


def test_the_model_card_says_what_config_json_lacks_as_a_question_mark_never_none(tmp_path):
    """Issue 13 §6: 'heads None'."""
    import json

    from lmi_wizard.core import models
    from lmi_wizard.core.wizard import recipe as R
    from lmi_wizard.tui.screens.model import model_card

    cfg = models.parse_config(json.dumps({"architectures": ["BaichuanForCausalLM"], "model_type": "baichuan",
                                          "hidden_size": 5120, "num_hidden_layers": 40, "vocab_size": 64000}),
                              source="b/c", kind="hf", path=tmp_path / "config.json")
    card = model_card(cfg, R.loads_recipe('[env]\ntrtllm_version = "0.12.0"\n', require=False), None, None)
    assert "None" not in card and "heads ?" in card and "hidden 5120" in card and "layers 40" in card


def test_the_tokenizer_plan_names_every_skipped_file_or_says_how_many_more():
    """Issue 13 §6: 'skipped 7:' listing 6 names."""
    from lmi_wizard.core.tokenizer.common import SkippedFile, TokenizerPlan
    from lmi_wizard.tui.screens.destination import DestinationScreen

    plan = TokenizerPlan("o/m", "hub", "/w/m", "triton", None, None)
    plan.skipped = [SkippedFile(f"model-{i}.safetensors", "weights") for i in range(7)]
    text = DestinationScreen._plan_text(plan)
    line = next(line for line in text.splitlines() if "skipped" in line)
    assert "skipped 7: " in line and line.count(".safetensors") == 6 and "and 1 more" in line
