"""Pilot tests of the real wizard app: navigation, answers saved as the user goes, resume, Esc keeps answers."""

from __future__ import annotations

from textual.widgets import Button, Input, Select

from lmi_wizard.core.wizard import recipe
from lmi_wizard.tui.app import WizardApp
from tests.support.tui import async_test, environment_report, settle, text_of, wait_for


@async_test
async def test_environment_screen_shows_gpus_versions_tag_and_layout(tmp_path):
    app = WizardApp(state_path=tmp_path / "state.toml", environment=environment_report(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "EnvironmentScreen"
        machine = text_of(app, "#env-machine")
        assert "0: NVIDIA H200 · 140 GiB · sm90" in machine and "1: NVIDIA H200" in machine
        assert "p5" in machine and "tensorrt-llm 0.12.0" in machine
        target = text_of(app, "#env-target")
        assert "tag v0.12.0" in target and "tensorrtllm_backend" in target and "Triton layout" in target
        assert "Step 1/9" in text_of(app, "#stepbar")  # triton layout: the Triton config step is shown
        assert not app.screen.query_one("#next", Button).disabled


@async_test
async def test_no_gpu_no_tensorrt_llm_says_what_it_cannot_do_and_asks_for_the_version(tmp_path):
    app = WizardApp(state_path=tmp_path / "state.toml",
                    environment=environment_report(tmp_path, trtllm=None, gpus=0))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "no NVIDIA GPU visible" in text_of(app, "#env-machine")
        assert "not installed" in text_of(app, "#env-machine")
        warnings = text_of(app, "#env-warnings")
        assert "engines cannot be built" in warnings and "tensorrt-llm is not installed" in warnings
        nxt = app.screen.query_one("#next", Button)
        assert nxt.disabled  # no version known: the field says so and Next waits
        assert "version" in text_of(app, "#message").lower()
        app.screen.query_one("#f-env--trtllm_version", Input).focus()
        await pilot.press(*"0.21.0")
        await pilot.pause()
        assert not nxt.disabled
        # the 0.21 line loads the flat layout: no Triton config step
        assert "Step 1/8" in text_of(app, "#stepbar")
        assert "flat engine folder" in text_of(app, "#env-target")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert type(app.screen).__name__ == "CheckoutScreen"
        await pilot.press("escape")  # Back: the answer is still there
        await pilot.pause()
        assert app.screen.query_one("#f-env--trtllm_version", Input).value == "0.21.0"
    saved = recipe.load_state(tmp_path / "state.toml")
    assert saved.answers["env.trtllm_version"] == "0.21.0"
    assert saved.last_step == "environment"


@async_test
async def test_answers_are_saved_as_the_user_goes_and_reopening_resumes(tmp_path):
    state = tmp_path / "state.toml"
    env = environment_report(tmp_path)
    app = WizardApp(state_path=state, environment=env)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        sel = app.screen.query_one("#f-env--lmi_layout", Select)
        sel.value = "triton"  # (flat with TensorRT-LLM 0.12 is a combination no LMI image has: it blocks)
        # the debounced save writes it (never written: the wait times out and fails)
        await wait_for(pilot, lambda: state.exists() and 'lmi_layout = "triton"' in state.read_text(), 10)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert type(app.screen).__name__ == "CheckoutScreen"
        assert recipe.load_state(state).last_step == "checkout"
    app2 = WizardApp(state_path=state, environment=env)
    async with app2.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app2.screen).__name__ == "CheckoutScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert app2.screen.query_one("#f-env--lmi_layout", Select).value == "triton"
        assert "Triton layout (your choice)" in text_of(app2, "#env-target")


@async_test
async def test_damaged_state_file_is_reported_not_a_crash(tmp_path):
    state = tmp_path / "state.toml"
    state.write_text("this is = = not toml")
    app = WizardApp(state_path=state, environment=environment_report(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "EnvironmentScreen"
        assert app.session.load_problem and "damaged" in app.session.load_problem
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CheckoutScreen")
    assert (tmp_path / "state.toml.damaged").read_text() == "this is = = not toml"  # kept, not overwritten
    assert recipe.load_state(state).last_step == "checkout"


@async_test
async def test_no_color_environment_is_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = WizardApp(state_path=tmp_path / "state.toml", environment=environment_report(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        assert "NVIDIA H200" in text_of(app, "#env-machine")
        svg = app.export_screenshot()
        # no colour but the default foreground/background: no theme accent colours in the output
        assert "#0178d4" not in svg.lower() and "#ffa62b" not in svg.lower()


@async_test
async def test_ctrl_l_looks_up_the_real_tags_of_the_remote(tmp_path):
    from tests.gitfixtures import file_url, make_repo

    backend = make_repo(tmp_path / "tensorrtllm_backend", {"v0.11.0": {"README.md": "a"},
                                                           "v0.12.0": {"README.md": "b"}}, bare=True)
    a = recipe.loads_recipe(f'[env]\ntrtllm_version = "0.12.0.dev2024080600"\n[checkout]\nwork_dir = "{tmp_path}"\n'
                            f'backend_url = "{file_url(backend)}"\ntrtllm_url = "{file_url(backend)}"\n',
                            require=False)
    state = tmp_path / "state.toml"
    recipe.save_state(recipe.WizardState(a, "environment", None, state))
    app = WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.12.0"))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+l")
        await settle(pilot)  # the look-up worker ended and its result is shown
        target = text_of(app, "#env-target")
        assert "@ v0.12.0" in target and "confirm it" in target  # a dev build: nearest release, to confirm
        assert "git ls-remote" in text_of(app, "#message") or "tags from" in text_of(app, "#message")


@async_test
async def test_a_failing_core_preview_is_said_not_a_crash(tmp_path, monkeypatch):
    from lmi_wizard.core.pipeline import engine as pipeline

    def broken(self):
        raise RuntimeError("plan exploded")

    monkeypatch.setattr(pipeline.Pipeline, "plan_script", broken)
    a = recipe.loads_recipe(f'[checkout]\nwork_dir = "{tmp_path}"\n[model]\nsource = "org/model"\nexample = "llama"\n',
                            require=False)
    recipe.save_state(recipe.WizardState(a, "review", None, tmp_path / "state.toml"))
    app = WizardApp(state_path=tmp_path / "state.toml", environment=environment_report(tmp_path),
                    start_at="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "ReviewScreen"
        assert "preview failed: RuntimeError: plan exploded" in text_of(app, "#message")
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "DestinationScreen"
