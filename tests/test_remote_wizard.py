"""The wizard side of a compile on SageMaker (issue 15): Review's "Run here" / "Run on SageMaker" (schema fields every
front end renders), the arch rule (building here for another GPU architecture is refused with the SageMaker fix),
and the Run screen driving a Training job against moto's server on 127.0.0.1 with the named SageMaker stand-in
(``tests/sagemaker_standin.py``): job states and the job's CloudWatch lines in the same log pane, Ctrl+X stopping it.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import Button, DataTable, Input, Select, Static

from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.pipeline import Pipeline, RemotePipeline, build_run
from lmi_wizard.core.wizard import Context, recipe as R, validate_all, validate_step
from lmi_wizard.tui.app import WizardApp
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.remote import ROLE, put_log_events, wheelhouse_standin
from tests.support.tui import async_test, environment_report, wait_for

import pytest

SM90 = Context(gpu_arch="sm90", gpu_count=8)


def _answers(work: Path, *, ctx: Context = SM90, **values):
    a = R.loads_recipe(f'[env]\ntrtllm_version = "0.21.0rc1"\n[checkout]\nwork_dir = "{work}"\n[model]\n'
                       'source = "meta-llama/Llama-2-7b-hf"\nname = "llama"\nexample = "llama"\n'
                       '[destination]\nuri = "s3://models/llama/"\n', ctx=ctx, require=False)
    for k, v in values.items():
        a[k] = v
    return a


def _texts(findings) -> list[str]:
    return [f"{p.key}: {p.text()}" for p in findings if p.blocking]


# ------------------------------------------------------------------------------------------- the rules
def test_building_here_for_another_arch_is_refused_with_the_sagemaker_fix(tmp_path):
    a = _answers(tmp_path / "w", **{"env.target_arch": "sm86"})
    [p] = [p for p in validate_step("review", a) if p.blocking]
    assert p.key == "run.where" and p.code == "arch-mismatch"
    assert "sm90" in p.problem and "sm86" in p.problem
    assert p.fix.startswith("run it on SageMaker: lmi-wizard remote run") and "--instance-type ml.g5.xlarge" in p.fix
    # `lmi-wizard run` / `plan` (the local pipeline) refuse it the same way, whatever [run] where says
    a["run.where"] = "sagemaker"
    with pytest.raises(WizardError) as e:
        Pipeline(a).check()
    assert "sm86" in e.value.problem and "run it on SageMaker" in e.value.fix
    # same architecture, or no target named (default: this GPU's): nothing to say
    assert not [p for p in validate_step("review", _answers(tmp_path / "w", **{"env.target_arch": "sm90"}))
                if p.blocking]
    assert _answers(tmp_path / "w")["env.target_arch"] == "sm90"


def test_sagemaker_choice_checks_what_remote_run_checks(tmp_path):
    a = _answers(tmp_path / "w", **{"run.where": "sagemaker", "build.tp": 2})
    assert a["remote.instance_type"] == "ml.p5.48xlarge"  # proposed: the smallest sm90 instance with 2 GPUs
    got = _texts(validate_step("review", a))
    assert any(t.startswith("remote.role: required") for t in got)
    a["remote.role"] = ROLE
    a["remote.region"] = "us-east-1"
    assert _texts(validate_step("review", a)) == []
    a["remote.instance_type"] = "ml.g6e.12xlarge"  # sm89: the engine would not run on the deployment's sm90
    [t] = _texts(validate_step("review", a))
    assert t.startswith("remote.instance_type:") and "sm89" in t and "ml.p5.48xlarge" in t
    a["remote.instance_type"] = "ml.p5.4xlarge"  # 1 GPU for TP 2
    assert "TP × PP = 2" in _texts(validate_step("review", a))[0]
    a["remote.instance_type"] = "ml.p5.48xlarge"
    a["remote.role"] = "my-role"
    assert "not an IAM role ARN" in _texts(validate_step("review", a))[0]
    a["remote.role"] = ROLE
    a["destination.uri"] = str(tmp_path / "out")  # the job's disks vanish with it
    assert any("local folder" in t for t in _texts(validate_step("review", a)))
    # the build's GPU rules see the instance (8 H100), not this machine's one GPU
    a = _answers(tmp_path / "w", ctx=Context(gpu_arch="sm90", gpu_count=1),
                 **{"run.where": "sagemaker", "build.tp": 8, "remote.role": ROLE, "remote.region": "us-east-1"})
    assert [p.text() for p in validate_all(a)] == []  # no blocker, and no warning about this machine either
    a["run.where"] = "here"
    here = {p.key: p.text() for p in validate_all(a)}
    assert "8 > 1 visible GPU" in here["build.tp"] and "not installed here" in here["env.trtllm_version"]
    # no GPU here and no target named: the remote compile needs one
    a = _answers(tmp_path / "w", ctx=Context(gpus=[]), **{"run.where": "sagemaker", "remote.role": ROLE,
                                                          "remote.region": "us-east-1"})
    assert any(t.startswith("env.target_arch:") for t in _texts(validate_step("review", a)))


def test_recipe_with_remote_sections_round_trips_and_plans_here(tmp_path):
    a = _answers(tmp_path / "w", **{"run.where": "sagemaker", "remote.role": ROLE, "remote.region": "us-east-1",
                                    "remote.hf_token_secret": "hf/token", "env.target_arch": "sm90"})
    text = R.dumps_recipe(a)
    assert '[run]\nwhere = "sagemaker"' in text and f'role = "{ROLE}"' in text and 'target_arch = "sm90"' in text
    back = R.loads_recipe(text, ctx=SM90)
    assert back["remote.hf_token_secret"] == "hf/token" and back["run.where"] == "sagemaker"
    # the local pipeline plans it here (what `lmi-wizard plan` prints); the wizard's run goes to SageMaker
    assert isinstance(build_run(back), RemotePipeline) and isinstance(build_run(_answers(tmp_path)), Pipeline)
    script = build_run(back).plan_script()
    assert script.splitlines()[3].startswith(f"lmi-wizard remote run lmi-wizard-recipe.toml --role {ROLE} "
                                             "--instance-type ml.p5.4xlarge --region us-east-1")
    assert "#   lmi-wizard build --example-dir" in script and "#   mkdir -p /opt/ml/input/work " in script
    assert "\nlmi-wizard build --example-dir" in Pipeline(back).plan_script()


# ---------------------------------------------------------------------------------------------- the TUI
def _app(tmp_path: Path, aws, **values) -> WizardApp:
    a = _answers(tmp_path / "work", ctx=Context(), **values)
    state = tmp_path / "state.toml"
    R.save_state(R.WizardState(a, "review", None, state))
    return WizardApp(state_path=state, environment=environment_report(tmp_path, trtllm="0.21.0rc1"),
                     start_at="review", pipeline_options={"remote_endpoint": aws.endpoint_url, "remote_poll": 0.05,
                                                          "wheelhouse": str(wheelhouse_standin(tmp_path))})


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def _log(app) -> list[str]:
    return list(app.screen.query_one("#run-log").log_widget.lines)


@async_test
async def test_review_sagemaker_then_run_shows_job_states_and_log_lines(tmp_path, aws):
    from lmi_wizard.core import s3 as s3mod
    from tests.support.engines import flat_repo

    app = _app(tmp_path, aws, **{"env.target_arch": "sm86"})  # the stand-in GPU is sm90
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.pause(0.3)
        # building here for sm86 on this sm90: Next blocked, with the SageMaker fix
        assert app.screen.query_one("#next", Button).disabled
        msg = _text(app, "#message")
        assert "sm86" in msg and "run it on SageMaker" in msg and "ml.g5.xlarge" in msg
        app.screen.query_one("#f-run--where", Select).value = "sagemaker"
        await wait_for(pilot, lambda: app.screen.query_one("#f-remote--instance_type", Input).value, 10)
        assert app.screen.query_one("#f-remote--instance_type", Input).value == "ml.g5.xlarge"  # proposed
        assert app.screen.query_one("#next", Button).disabled  # the role is still missing
        assert "remote.role" in msg or "role" in _text(app, "#message")
        app.screen.query_one("#f-remote--role", Input).value = ROLE
        app.screen.query_one("#f-remote--region", Input).value = "us-east-1"
        # the form checks the new values after its debounce: wait for the gate, not for a fixed time
        await wait_for(pilot, lambda: not app.screen.query_one("#next", Button).disabled, 10)
        assert not app.screen.query_one("#next", Button).disabled, _text(app, "#message")
        assert "lmi-wizard remote run" in app.screen.script and "--instance-type ml.g5.xlarge" in app.screen.script
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "RunScreen" and aws.standin.jobs, 60)
        [job] = list(aws.standin.jobs)
        req = aws.standin.jobs[job]["request"]
        assert req["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge" and req["RoleArn"] == ROLE
        await wait_for(pilot, lambda: any(f"{job}: InProgress" in ln for ln in _log(app)), 20)
        t0 = int(time.time() * 1000)
        put_log_events(aws.logs, f"{job}/algo-1-1", [(t0, "lmi-wizard run: checkout"), (t0 + 10, "lmi-wizard run: build")])
        await wait_for(pilot, lambda: any("lmi-wizard run: build" in ln for ln in _log(app)), 20)
        assert "InProgress" in str(app.screen.query_one("#bar-label").render())
        s3mod.sync(flat_repo(tmp_path / "model"), "s3://models/llama/", client=aws.client)  # what the job publishes
        aws.standin.set(job, "Completed")
        await wait_for(pilot, lambda: not app.screen.running, 30)
        await pilot.pause(0.2)
        rep = app.screen.report
        assert rep is not None and rep.ok, (rep and rep.error, _log(app)[-5:])
        lines = _log(app)
        i_prog, i_line, i_done = (next(i for i, ln in enumerate(lines) if s in ln) for s in
                                  (f"{job}: InProgress", "lmi-wizard run: checkout", f"{job}: Completed"))
        assert i_prog < i_line < i_done
        assert any("check passed" in ln for ln in lines)
        assert "config.json" in {e["name"] for e in rep.outputs["listing_entries"]}  # Done lists the destination
        table = app.screen.query_one("#run-steps", DataTable)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["✓", "✓", "✓"]
        assert not app.screen.query_one("#next", Button).disabled
        # the same answers again (Ctrl+R): the destination still checks, so no job starts
        before = len(aws.standin.creates)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not app.screen.running, 30)
        await pilot.pause(0.2)
        assert app.screen.report.ok and len(aws.standin.creates) == before
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["↷", "↷", "✓"]
        assert any(f"already compiled by {job}" in ln for ln in _log(app))
    sent = (tmp_path / "work" / ".lmi-wizard" / "remote" / "recipe.toml").read_text()
    staged = aws.client.get_object(Bucket="models", Key=f"lmi-wizard-remote/{job}/recipe/recipe.toml")["Body"].read()
    assert staged.decode() == sent and '[run]\nwhere = "sagemaker"' in sent  # `lmi-wizard run` in the job reads it
    assert R.loads_recipe(sent, ctx=Context(gpu_arch="sm86"))["remote.instance_type"] == "ml.g5.xlarge"
    log = (tmp_path / "work" / ".lmi-wizard" / "remote" / "run.log").read_text()
    assert "lmi-wizard run: build" in log and "finished: ok" in log


@async_test
async def test_ctrl_x_on_the_run_screen_stops_the_training_job(tmp_path, aws):
    app = _app(tmp_path, aws, **{"run.where": "sagemaker", "remote.role": ROLE, "remote.region": "us-east-1"})
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.pause(0.3)
        assert not app.screen.query_one("#next", Button).disabled, _text(app, "#message")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "RunScreen" and aws.standin.jobs, 60)
        [job] = list(aws.standin.jobs)
        await wait_for(pilot, lambda: any(f"{job}: InProgress" in ln for ln in _log(app)), 20)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: not app.screen.running, 30)
        await pilot.pause(0.2)
        assert aws.standin.jobs[job]["status"] == "Stopped"  # StopTrainingJob reached SageMaker
        lines = _log(app)
        assert any("StopTrainingJob" in ln for ln in lines) and any(f"{job}: Stopped" in ln for ln in lines)
        assert not app.screen.report.ok and "stopped" in app.screen.report.error
        table = app.screen.query_one("#run-steps", DataTable)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["✓", "■", "·"]
        assert app.screen.query_one("#next", Button).disabled


def test_plan_verb_accepts_a_recipe_with_remote_sections(tmp_path, capsys):
    """`lmi-wizard plan` (and `run`, through the same loader and check) reads [remote] and [env] target_arch."""
    from lmi_wizard.tui.cli import main as cli
    from tests.support.remote import recipe

    arch = Context().gpu_arch or "sm90"  # this machine's GPU, if any: planning here for it is allowed
    inst = {"sm80": "ml.p4d.24xlarge", "sm86": "ml.g5.12xlarge", "sm89": "ml.g6e.12xlarge"}.get(arch, "ml.p5.48xlarge")
    path = recipe(tmp_path, "withremote", arch=arch, instance=inst,
                  extra=f'role = "{ROLE}"\n\n[run]\nwhere = "sagemaker"\n')
    assert "[remote]" in path.read_text()
    rc = cli.main(["plan", str(path)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "lmi-wizard build --example-dir" in cap.out and "unknown section" not in cap.err


def test_remote_run_takes_role_region_and_instance_from_the_recipe(tmp_path, aws, capsys):
    """[remote] role / region / instance_type stand in for --role / --region / --instance-type."""
    from lmi_wizard.tui.cli import main as cli
    from tests.support.remote import recipe

    path = recipe(tmp_path, "fromrecipe", instance="ml.p5.48xlarge",
                  extra=f'role = "{ROLE}"\nregion = "xx-nowhere-1"\n')
    rc = cli.main(["remote", "run", str(path), "--endpoint-url", aws.endpoint_url])
    err = capsys.readouterr().err
    assert rc == 2 and "no registry in xx-nowhere-1" in err  # the recipe's region was used, the role accepted
    rc = cli.main(["remote", "run", str(recipe(tmp_path, "norole", instance="ml.p5.48xlarge")), "--region",
                   "us-east-1", "--endpoint-url", aws.endpoint_url])
    err = capsys.readouterr().err
    assert rc == 2 and "no IAM role for the job" in err and "[remote] role" in err
    assert aws.standin.creates == []


def test_remote_run_of_a_failed_job_reports_the_reason_and_the_logs_fix(tmp_path, aws):
    """RemotePipeline.run without a front end: a job that fails is the job step's failure, with SageMaker's reason,
    the `remote logs` fix, the check step never started, and the same in run.log."""
    import threading

    a = _answers(tmp_path / "work", ctx=Context(), **{
        "run.where": "sagemaker", "remote.role": ROLE, "remote.region": "us-east-1",
        "remote.instance_type": "ml.g5.xlarge", "env.target_arch": "sm86"})
    pipe = build_run(a, remote_endpoint=aws.endpoint_url, remote_poll=0.05,
                     wheelhouse=str(wheelhouse_standin(tmp_path)))
    out: list = []
    t = threading.Thread(target=lambda: out.append(pipe.run()), daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while not aws.standin.jobs and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert aws.standin.jobs, out and (out[0].error, out[0].fix)
    [job] = list(aws.standin.jobs)
    aws.standin.set(job, "Failed", failure="AlgorithmError: build failed: CUDA out of memory")
    t.join(60)
    [rep] = out
    assert not rep.ok and rep.stopped_at == "job"
    assert rep.error == f"the training job {job} failed: AlgorithmError: build failed: CUDA out of memory"
    assert rep.fix == f"see the job's log: lmi-wizard remote logs {job}"
    assert [s.status for s in rep.steps] == ["done", "failed", "pending"]
    log = Path(rep.log_path).read_text()
    assert f"stopped at job: {rep.error}" in log and f"— fix: see the job's log: lmi-wizard remote logs {job}" in log
