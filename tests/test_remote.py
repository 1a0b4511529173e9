"""``lmi-wizard remote``: compile on SageMaker, against moto's server on 127.0.0.1 (S3, SageMaker, Secrets
Manager, CloudWatch Logs through boto3 over HTTP). What moto lacks (job states, StopTrainingJob, quotas) is
the named stand-in ``tests/sagemaker_standin.py``, driven by the tests; log events go into moto's real
CloudWatch Logs. The request body is checked against botocore's own service model, not against our code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.remote import images, instances, job as J, logs as L, policy, status as S, submit as R
from lmi_wizard.core.remote.inside import read_secret, run_in_job
from lmi_wizard.core.remote.submit import load_recipe_text
from lmi_wizard.core.wizard import Context
from lmi_wizard.tui.cli import main as cli
from tests.s3server import s3, s3_server  # noqa: F401  (pytest fixtures)
from tests.support.remote import ROLE, put_log_events, recipe, wheelhouse_standin

IMAGE_033 = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.33.0-tensorrtllm0.21.0-cu128"
NO_GPU = Context(gpus=[])  # this test machine's GPU never decides the target


def _remote(*args, endpoint):
    return ["remote", *args, "--region", "us-east-1", "--endpoint-url", endpoint]


# ------------------------------------------------------------------------------------ instances, images
def test_instance_type_checked_against_botocore_enum_arch_and_gpu_count():
    enum = instances.sagemaker_model().shape_for("TrainingInstanceType").enum
    assert "ml.p5.48xlarge" in enum and instances.training_instance_types() == tuple(enum)
    with pytest.raises(WizardError) as e:
        instances.check_instance("ml.p5.96xlarge", "sm90", 1)
    assert "not a SageMaker training instance type" in e.value.problem and "did you mean ml.p5." in e.value.fix
    with pytest.raises(WizardError) as e:
        instances.check_instance("ml.g5.12xlarge", "sm90", 2)
    assert "sm86" in e.value.problem and "sm90" in e.value.problem and "ml.p5" in e.value.fix
    with pytest.raises(WizardError) as e:
        instances.check_instance("ml.p5.4xlarge", "sm90", 2)
    assert "1 GPU" in e.value.problem and "TP × PP = 2" in e.value.problem and "ml.p5.48xlarge" in e.value.fix
    with pytest.raises(WizardError) as e:
        instances.check_instance("ml.p5.48xlarge", None, 1)
    assert "target_arch" in e.value.fix
    inst = instances.check_instance("ml.p4d.24xlarge", "sm80", 8)
    assert (inst.arch, inst.gpus, inst.gpu) == ("sm80", 8, "A100")
    assert inst.quota_name == "ml.p4d.24xlarge for training job usage"
    assert instances.propose("sm86", 1) == "ml.g5.xlarge" and instances.propose("sm86", 4) == "ml.g5.12xlarge"
    # every GPU count we claim is for an instance type botocore knows for training
    from lmi_wizard.core.data import load

    for fam, sizes in load("sagemaker.json")["gpus"].items():
        known = [s for s in sizes if f"ml.{fam}.{s}" in enum]
        assert known, fam


def test_image_per_release_and_region():
    rel = images.release_of("0.33.0", None)
    assert images.image_uri(rel, "us-east-1") == IMAGE_033
    assert images.image_uri(rel, "ap-east-1").startswith("871362719292.dkr.ecr.ap-east-1.amazonaws.com/djl-inference:0.33")
    assert images.image_uri(rel, "cn-north-1").startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    assert images.image_python(rel) == "3.12"
    assert images.release_of(None, "0.21.0rc1")["lmi"] == "0.33.0"
    with pytest.raises(WizardError) as e:
        images.image_uri(rel, "xx-nowhere-1")
    assert "no registry in xx-nowhere-1" in e.value.problem and "--image" in e.value.fix
    # 0.28-0.32 have SageMaker DLC URIs in the release table (aws/deep-learning-containers available_images.md)
    assert images.image_uri(images.release_of("0.30.0", None), "us-east-1").endswith(
        "djl-inference:0.30.0-tensorrtllm0.12.0-cu125")
    old = images.release_of("0.25.0", None)  # no SageMaker URI known for 0.25
    with pytest.raises(WizardError) as e:
        images.image_uri(old, "us-east-1")
    assert "--image" in e.value.fix
    assert images.image_uri(old, "us-east-1", "123456789012.dkr.ecr.us-east-1.amazonaws.com/lmi:0.25") .endswith(":0.25")
    with pytest.raises(WizardError):
        images.image_uri(old, "us-east-1", "not an image; rm -rf /")
    assert images.image_python(old) == "3.10"  # serving/docker/tensorrt-llm.Dockerfile ARG python_version
    with pytest.raises(WizardError):
        images.image_python({"lmi": "0.99.0"})


def test_recipe_remote_keys_are_schema_fields(tmp_path):
    """[env] target_arch and [remote] are the schema's own keys: the recipe loader reads them like any other."""
    from lmi_wizard.core.wizard import FIELDS

    for key in ("env.target_arch", "remote.instance_type", "remote.hf_token_secret", "remote.role", "run.where"):
        assert key in FIELDS, key
    a = load_recipe_text(recipe(tmp_path, "a", instance="ml.p5.48xlarge").read_text(), ctx=NO_GPU)
    assert (a["env.target_arch"], a["remote.instance_type"], a["remote.hf_token_secret"]) == \
        ("sm90", "ml.p5.48xlarge", "hf/token")
    assert a["build.tp"] == 2 and a["destination.uri"] == "s3://models/a/"
    with pytest.raises(WizardError) as e:
        load_recipe_text(recipe(tmp_path, "b", arch="sm91").read_text(), ctx=NO_GPU)
    assert "target_arch" in e.value.problem and "sm90" in e.value.fix
    with pytest.raises(WizardError) as e:  # the token itself where the secret's name goes
        load_recipe_text(recipe(tmp_path, "c", secret="hf_" + "a" * 34).read_text(), ctx=NO_GPU)
    assert "secret" in str(e.value)
    with pytest.raises(WizardError) as e:  # a typo in [remote] is named like any other
        load_recipe_text(recipe(tmp_path, "t", extra='instance_typ = "ml.p5.48xlarge"\n').read_text(), ctx=NO_GPU)
    assert "instance_typ: unknown setting" in e.value.problem and "instance_type" in e.value.fix
    with pytest.raises(WizardError) as e:
        load_recipe_text(recipe(tmp_path, "i", instance="ml.p5.96xlarge").read_text(), ctx=NO_GPU)
    assert "not a SageMaker training instance type" in e.value.problem and "ml.p5." in e.value.fix
    # no target and no GPU here: required for a remote compile
    text = recipe(tmp_path, "d").read_text().replace('target_arch = "sm90"\n', "")
    a = load_recipe_text(text, ctx=NO_GPU)
    assert a["env.target_arch"] is None
    with pytest.raises(WizardError) as e:
        instances.check_instance("ml.p5.48xlarge", a["env.target_arch"], 1)
    assert "target_arch" in e.value.fix
    assert load_recipe_text(text, ctx=Context(gpu_arch="sm86"))["env.target_arch"] == "sm86"  # the local GPU's


# ------------------------------------------------------------------------------------------- request
def test_request_body_field_by_field_against_botocore_model(tmp_path, aws):
    opts = R.Options(role_arn=ROLE, instance_type="ml.p5.48xlarge", region="us-east-1")
    [p] = R.plan([str(recipe(tmp_path, "llama-7b"))], opts, sm=aws.sm, ctx=NO_GPU)
    req = p.request
    shape = instances.sagemaker_model().operation_model("CreateTrainingJob").input_shape
    for member in shape.required_members:
        assert member in req, member
    assert set(req) <= set(shape.members)
    name_meta = shape.members["TrainingJobName"].metadata
    assert len(req["TrainingJobName"]) <= name_meta["max"] == 63
    assert re.fullmatch(name_meta["pattern"], req["TrainingJobName"])
    assert re.fullmatch(shape.members["RoleArn"].metadata["pattern"], req["RoleArn"])
    algo_shape = shape.members["AlgorithmSpecification"]
    algo = req["AlgorithmSpecification"]
    assert set(algo_shape.required_members) <= set(algo)
    assert algo["TrainingImage"] == IMAGE_033 and len(algo["TrainingImage"]) <= algo_shape.members["TrainingImage"].metadata["max"]
    assert algo["TrainingInputMode"] in algo_shape.members["TrainingInputMode"].enum
    assert algo["ContainerEntrypoint"] == ["/usr/local/bin/dockerd-entrypoint.sh"]
    for key in ("ContainerEntrypoint", "ContainerArguments"):
        lim = algo_shape.members[key]
        assert lim.metadata["max"] == 100 and 1 <= len(algo[key]) <= 100
        assert all(isinstance(a, str) and len(a) <= lim.member.metadata["max"] for a in algo[key])
    args = algo["ContainerArguments"]
    assert args[:2] == ["/bin/bash", "-c"] and "--no-index" in args[2] and "--find-links /opt/ml/input/data/wheels" in args[2]
    assert args[4:] == ["/opt/ml/input/data/recipe/recipe.toml", "--work-dir", "/opt/ml/input/work", "--output",
                        "/opt/ml/output/data", "--region", "us-east-1", "--hf-token-secret", "hf/token"]
    chans = {c["ChannelName"]: c for c in req["InputDataConfig"]}
    assert set(chans) == {"recipe", "wheels"}
    ch_shape = shape.members["InputDataConfig"].member
    for c in chans.values():
        assert set(ch_shape.required_members) <= set(c)
        assert re.fullmatch(ch_shape.members["ChannelName"].metadata["pattern"], c["ChannelName"])
        src = c["DataSource"]["S3DataSource"]
        assert src["S3DataType"] in ch_shape.members["DataSource"].members["S3DataSource"].members["S3DataType"].enum
    assert chans["recipe"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://models/lmi-wizard-remote/{p.name}/recipe/"
    assert chans["wheels"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://models/lmi-wizard-remote/wheels/py3.12/"
    out_shape = shape.members["OutputDataConfig"]
    assert req["OutputDataConfig"]["CompressionType"] == "NONE" in out_shape.members["CompressionType"].enum
    res_shape = shape.members["ResourceConfig"]
    assert req["ResourceConfig"]["InstanceType"] in res_shape.members["InstanceType"].enum
    assert isinstance(req["ResourceConfig"]["InstanceCount"], int) and req["ResourceConfig"]["VolumeSizeInGB"] == 200
    env_shape = shape.members["Environment"]
    assert len(req["Environment"]) <= env_shape.metadata["max"]
    for k, v in req["Environment"].items():
        assert re.fullmatch(env_shape.key.metadata["pattern"], k) and len(v) <= env_shape.value.metadata["max"]
        assert not re.search(r"token|secret|key|password", k, re.I) and "hf_" not in v
    assert {"Key": "lmi-wizard:recipe-digest", "Value": p.digest} in req["Tags"]
    # botocore's own validator accepts it too
    from botocore.validate import ParamValidator

    assert not ParamValidator().validate(req, shape).has_errors()
    # and our pre-flight refuses what the API would
    bad = json.loads(json.dumps(req))
    bad["TrainingJobName"] = "x" * 64
    bad["AlgorithmSpecification"]["ContainerArguments"] = ["a"] * 101
    bad["AlgorithmSpecification"]["ContainerEntrypoint"] = ["e" * 257]
    bad["OutputDataConfig"]["CompressionType"] = "ZIP"
    problems = J.request_problems(bad)
    assert any("TrainingJobName: 64 characters" in x for x in problems)
    assert any("ContainerArguments: 101 items" in x for x in problems)
    assert any("ContainerEntrypoint[0]: 257 characters" in x for x in problems)
    assert any("CompressionType" in x for x in problems)
    del bad["RoleArn"]
    assert any(x.endswith("RoleArn: required") for x in J.request_problems(bad))
    # the job name fits whatever the model's name
    long = J.job_name("A model/with odd_chars " * 5, "0123456789abcdef")
    assert len(long) <= 63 and re.fullmatch(name_meta["pattern"], long)


def test_refused_before_anything_is_created(tmp_path, aws, capsys):
    ep = aws.endpoint_url
    good = recipe(tmp_path, "ok")
    cases = [
        (["run", str(good), "--role", ROLE, "--instance-type", "ml.p5.96xlarge"], "not a SageMaker training instance"),
        (["run", str(good), "--role", ROLE, "--instance-type", "ml.g6e.12xlarge"], "sm89"),
        (["run", str(recipe(tmp_path, "tp8", tp=8)), "--role", ROLE, "--instance-type", "ml.p5.4xlarge"], "TP × PP = 8"),
        (["run", str(good), "--role", "my-role", "--instance-type", "ml.p5.48xlarge"], "not an IAM role ARN"),
        (["run", str(recipe(tmp_path, "local", dest=str(tmp_path / "out"))), "--role", ROLE,
          "--instance-type", "ml.p5.48xlarge"], "local folder"),
        (["run", str(good), "--role", ROLE], "no instance type"),
        (["run", str(recipe(tmp_path, "old", extra='\n[env2]\n')), "--role", ROLE, "--instance-type",
          "ml.p5.48xlarge"], "unknown section"),
    ]
    for argv, words in cases:
        rc = cli.main(_remote(*argv, "--json", endpoint=ep))
        cap = capsys.readouterr()
        assert rc == 2, (argv, cap.err)
        assert words in cap.err and " — fix: " in cap.err and "Traceback" not in cap.err
        assert json.loads(cap.out)["ok"] is False
    # a region without the image, with the instance type from the recipe
    rc = cli.main(["remote", "run", str(recipe(tmp_path, "r", instance="ml.p5.48xlarge")), "--role", ROLE,
                   "--region", "xx-nowhere-1", "--endpoint-url", ep])
    assert rc == 2 and "no registry in xx-nowhere-1" in capsys.readouterr().err
    # nothing was created: no job, no object, no CreateTrainingJob call
    assert aws.sm.list_training_jobs()["TrainingJobSummaries"] == []
    assert aws.objects("models") == {}
    assert aws.standin.creates == []


def test_job_name_must_be_unused(tmp_path, aws):
    opts = R.Options(role_arn=ROLE, instance_type="ml.p5.48xlarge", region="us-east-1")
    now = 1_800_000_000.0
    [p] = R.plan([str(recipe(tmp_path, "same"))], opts, sm=aws.sm, ctx=NO_GPU, now=now)
    aws.sm.create_training_job(**p.request)
    with pytest.raises(WizardError) as e:
        R.plan([str(recipe(tmp_path, "same"))], opts, sm=aws.sm, ctx=NO_GPU, now=now)
    assert "already exists" in e.value.problem


# ------------------------------------------------------------------------------------------ secrets
def test_hf_token_read_inside_the_job_never_in_the_request(tmp_path, aws):
    token = "hf_" + "Q" * 34
    aws.secrets.create_secret(Name="hf/token", SecretString=token)
    aws.secrets.create_secret(Name="hf/json", SecretString=json.dumps({"HF_TOKEN": token}))
    assert read_secret(aws.secrets, "hf/token") == token == read_secret(aws.secrets, "hf/json")
    with pytest.raises(WizardError) as e:
        read_secret(aws.secrets, "hf/missing")
    assert "hf/missing" in e.value.problem and "GetSecretValue" in e.value.fix and token not in str(e.value)
    # the job side: the token reaches the run's environment, not its arguments or the job's output
    probe = tmp_path / "fake_wizard.py"  # STAND-IN for `lmi-wizard run` (needs a GPU and TensorRT-LLM)
    probe.write_text("import json, os, sys\nprint('progress on stderr; token set:', bool(os.environ.get('HF_TOKEN')),"
                     " file=sys.stderr)\nprint('leak? ' + os.environ['HF_TOKEN'], file=sys.stderr)\n"
                     "log = os.path.join(sys.argv[sys.argv.index('--work-dir') + 1], 'run.log')\n"
                     "open(log, 'w').write('the run log\\n')\n"
                     "print(json.dumps({'ok': True, 'argv': sys.argv[1:], 'log': log}))\n")
    lines: list[str] = []
    chan = recipe(tmp_path, "injob")  # what the recipe channel holds: the user's file, [remote] and all
    original = chan.read_bytes()
    rc = run_in_job(str(chan), work_dir=str(tmp_path / "work"), output=str(tmp_path / "out"),
                    token=token, on_line=lines.append, wizard=[sys.executable, str(probe)])
    assert rc == 0
    assert "progress on stderr; token set: True" in lines and not any(token in ln for ln in lines)
    report = json.loads((tmp_path / "out" / "run.json").read_text())
    from lmi_wizard.core.wizard import FIELDS

    ran = report["argv"][1]
    assert report["argv"] == ["run", ran, "--work-dir", str(tmp_path / "work"), "--json"]
    assert chan.read_bytes() == original
    assert "remote.instance_type" in FIELDS and ran == str(chan)  # the file itself: the loader reads [remote]
    assert (tmp_path / "out" / "run.log").read_text() == "the run log\n"
    # the request names the secret; the token is nowhere in it
    opts = R.Options(role_arn=ROLE, instance_type="ml.p5.48xlarge", region="us-east-1")
    [p] = R.plan([str(recipe(tmp_path, "sec"))], opts, sm=aws.sm, ctx=NO_GPU)
    assert token not in json.dumps(p.request) and "hf/token" in p.request["AlgorithmSpecification"]["ContainerArguments"]


# ---------------------------------------------------------------------------------------------- logs
def test_log_tailing_like_the_sdk(aws):
    tail = L.JobLogs(aws.logs, "job-a")
    assert tail.poll() == []  # no group yet: normal until the instance starts
    aws.logs.create_log_group(logGroupName=L.LOG_GROUP)
    assert tail.poll() == []  # no stream yet
    t0 = int(time.time() * 1000)
    put_log_events(aws.logs, "job-a/algo-1-100", [(t0, "a1"), (t0 + 20, "a3")])
    put_log_events(aws.logs, "job-a/algo-2-100", [(t0 + 10, "b2")])
    put_log_events(aws.logs, "job-ab/algo-1-100", [(t0 + 5, "other job")])  # prefix "job-a/" keeps it out
    assert [ln.message for ln in tail.poll()] == ["a1", "b2", "a3"]
    assert tail.poll() == []  # nextForwardToken: nothing twice
    put_log_events(aws.logs, "job-a/algo-1-100", [(t0 + 30, "a4")])
    assert [(ln.stream, ln.message) for ln in tail.poll()] == [("job-a/algo-1-100", "a4")]
    many = [(t0 + 100 + i, f"line {i}") for i in range(2500)]
    for i in range(0, len(many), 1000):
        put_log_events(aws.logs, "job-a/algo-2-100", many[i:i + 1000])
    got = tail.poll()
    assert [ln.message for ln in got] == [m for _, m in many]


# -------------------------------------------------------------------------------- three recipes at once
def _run_cli_in_thread(argv):
    box = {}

    def target():
        box["rc"] = cli.main(argv)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


def test_three_recipes_in_parallel_failed_stopped_completed(tmp_path, aws, capsys):
    from tests.support.engines import flat_repo
    from lmi_wizard.core import s3 as s3mod

    ep = aws.endpoint_url
    paths = [recipe(tmp_path, n, instance="ml.p5.48xlarge") for n in ("alpha", "bravo", "charlie")]
    wheels = wheelhouse_standin(tmp_path)
    t, box = _run_cli_in_thread(_remote("run", *map(str, paths), "--role", ROLE, "--wheelhouse", str(wheels),
                                        "--poll", "0.05", "--json", endpoint=ep))
    names = aws.standin.wait_created(3)
    assert len(names) == 3
    by = {n.split("-")[1]: n for n in names}
    # the inputs were staged before the jobs were created: the recipes unchanged, the wheelhouse once
    objs = aws.objects("models")
    for p in paths:
        key = f"lmi-wizard-remote/{by[p.stem]}/recipe/recipe.toml"
        assert aws.client.get_object(Bucket="models", Key=key)["Body"].read() == p.read_bytes()
    assert [k for k in objs if "/wheels/" in k] == ["lmi-wizard-remote/wheels/py3.12/lmi_wizard-0.1.0-py3-none-any.whl"]
    # the jobs log (three streams, interleaved in time), then end three ways
    t0 = int(time.time() * 1000)
    put_log_events(aws.logs, f"{by['alpha']}/algo-1-1", [(t0, "alpha: checkout"), (t0 + 30, "alpha: build")])
    put_log_events(aws.logs, f"{by['bravo']}/algo-1-1", [(t0 + 10, "bravo: checkout"), (t0 + 40, "bravo: OOM")])
    put_log_events(aws.logs, f"{by['charlie']}/algo-1-1", [(t0 + 20, "charlie: checkout")])
    # alpha's job publishes a valid flat model (what `lmi-wizard run` in the job leaves at the destination)
    s3mod.sync(flat_repo(tmp_path / "alpha-model"), "s3://models/alpha/", client=aws.client)
    assert cli.main(_remote("stop", by["charlie"], endpoint=ep)) == 0
    aws.standin.set(by["bravo"], "Failed", failure="AlgorithmError: build failed: CUDA out of memory")
    aws.standin.set(by["alpha"], "Completed")
    t.join(60)
    assert not t.is_alive()
    cap = capsys.readouterr()
    assert box["rc"] == 1
    doc = json.loads(cap.out[cap.out.index("[\n"):])
    got = {d["job"]: d for d in doc}
    assert set(got) == set(names)
    assert got[by["alpha"]]["status"] == "Completed" and "check passed" in got[by["alpha"]]["verdict"]
    assert got[by["bravo"]]["status"] == "Failed"
    assert got[by["bravo"]]["failure"] == "AlgorithmError: build failed: CUDA out of memory"
    assert got[by["charlie"]]["status"] == "Stopped"
    for d in doc:
        assert d["instance_type"] == "ml.p5.48xlarge" and d["recipe"] in map(str, paths)
        assert d["destination"] == f"s3://models/{d['job'].split('-')[1]}/"
    # merged logs in timestamp order, each line with its job
    log_lines = [ln for ln in cap.err.splitlines() if " | " in ln and ": " in ln.split(" | ", 1)[1]]
    msgs = [ln.split(" | ", 1)[1] for ln in log_lines if ln.split(" | ", 1)[1].split(":")[0] in by]
    assert msgs == ["alpha: checkout", "bravo: checkout", "charlie: checkout", "alpha: build", "bravo: OOM"]
    assert "CUDA out of memory" in cap.err
    # status and logs afterwards
    assert cli.main(_remote("status", *names, "--json", endpoint=ep)) == 1
    st = {d["job"]: d for d in json.loads(capsys.readouterr().out)}
    assert st[by["bravo"]]["failure"].startswith("AlgorithmError") and st[by["charlie"]]["status"] == "Stopped"
    assert cli.main(_remote("logs", by["bravo"], "--json", endpoint=ep)) == 0
    lg = json.loads(capsys.readouterr().out)
    assert [x["message"] for x in lg["lines"]] == ["bravo: checkout", "bravo: OOM"] and lg["status"] == "Failed"
    assert cli.main(_remote("logs", "no-such-job", endpoint=ep)) == 2
    assert "no training job 'no-such-job'" in capsys.readouterr().err

    # an identical re-submission of the checked one starts no job; a changed recipe does
    before = len(aws.standin.creates)
    rc = cli.main(_remote("run", str(paths[0]), "--role", ROLE, "--wheelhouse", str(wheels), "--poll", "0.05",
                          "--json", endpoint=ep))
    cap = capsys.readouterr()
    assert rc == 0 and len(aws.standin.creates) == before
    [d] = json.loads(cap.out)
    assert d["status"] == "Skipped" and d["job"] == by["alpha"] and "already compiled" in d["verdict"]
    # the failed one is not "done": submitting it again starts a job
    rc = cli.main(_remote("run", str(paths[1]), "--role", ROLE, "--wheelhouse", str(wheels), "--no-wait",
                          "--json", endpoint=ep))
    assert rc == 0 and len(aws.standin.creates) == before + 1
    assert json.loads(capsys.readouterr().out)[0]["status"] == "InProgress"
    # without names: the recent lmi-wizard jobs (ListTrainingJobs), newest first
    assert cli.main(_remote("status", "--json", endpoint=ep)) == 1
    listed = [d["job"] for d in json.loads(capsys.readouterr().out)]
    assert len(listed) == 4 and set(names) < set(listed)


def test_quota_error_names_the_quota(tmp_path, aws, capsys):
    aws.standin.quota("ml.p5.48xlarge", 0)
    rc = cli.main(_remote("run", str(recipe(tmp_path, "q")), "--role", ROLE, "--instance-type", "ml.p5.48xlarge",
                          "--wheelhouse", str(wheelhouse_standin(tmp_path)), "--json", endpoint=aws.endpoint_url))
    cap = capsys.readouterr()
    assert rc == 1
    assert "'ml.p5.48xlarge for training job usage'" in cap.err and "Service Quotas" in cap.err
    [d] = json.loads(cap.out[cap.out.index("[\n"):])
    assert d["status"] == "Failed" and "ml.p5.48xlarge for training job usage" in d["failure"]
    assert aws.sm.list_training_jobs()["TrainingJobSummaries"] == []  # refused: no job


def test_policy_json(tmp_path, capsys):
    rc = cli.main(["remote", "policy", "--recipe", str(recipe(tmp_path, "p")), "--role", ROLE])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and set(doc) == {"caller", "role", "trust"}
    caller = [a for s in doc["caller"]["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    for a in ("sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
              "sagemaker:ListTrainingJobs", "sagemaker:AddTags", "iam:PassRole", "logs:GetLogEvents",
              "logs:DescribeLogStreams", "s3:PutObject", "s3:DeleteObject"):
        assert a in caller, a
    passrole = next(s for s in doc["caller"]["Statement"] if s["Action"] == "iam:PassRole")
    assert passrole["Resource"] == ROLE
    role = {s["Sid"]: s for s in doc["role"]["Statement"]}
    assert role["HfToken"]["Resource"].endswith(":secret:hf/token-*")
    assert "arn:aws:s3:::models/*" in role["Objects"]["Resource"]
    assert doc["trust"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert policy.policies()["role"]  # without recipes: placeholders


# ------------------------------------------------------------------------------------------ wheelhouse
def _python(version: str):
    """An interpreter of ``version`` that runs (pyenv's own builds first: its shims fail for inactive versions)."""
    base = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
    cands = sorted(base.glob(f"{version}.*/bin/python{version}")) if base.is_dir() else []
    cands.append(shutil.which(f"python{version}"))
    for c in cands:
        if c and subprocess.run([str(c), "--version"], capture_output=True).returncode == 0:
            return str(c)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.10", "3.12"])
def test_wheelhouse_installs_without_an_index(tmp_path, version):
    from lmi_wizard.core.remote.wheelhouse import build_wheelhouse

    py = _python(version)
    if py is None:
        pytest.skip(f"no python{version} on this machine")
    try:
        import socket

        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        pytest.skip("no network to pypi.org")
    house = build_wheelhouse(tmp_path / "wheels", version)
    assert house.own.startswith("lmi_wizard-") and any(w.startswith("boto3-") for w in house.wheels)
    tags = {w.rsplit("-", 3)[1] for w in house.wheels}  # the python tag of each wheel
    assert all(t.startswith(("py3", "py2.py3", f"cp{version.replace('.', '')}", "cp3", "abi3")) or "." in t for t in tags)
    venv = tmp_path / "venv"
    subprocess.run([py, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links", str(house.folder),
                        "lmi-wizard"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([str(venv / "bin" / "lmi-wizard"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("lmi-wizard "), r.stderr


def test_cancel_stops_every_running_job(tmp_path, aws):
    """Ctrl+X in the wizard / Ctrl-C on `remote run`: StopTrainingJob for each job still running."""
    from lmi_wizard.core.base.progress import CancelToken

    opts = R.Options(role_arn=ROLE, instance_type="ml.p5.48xlarge", region="us-east-1")
    planned = R.plan([str(recipe(tmp_path, n)) for n in ("one", "two")], opts, sm=aws.sm, ctx=NO_GPU)
    outcomes = [R.create(p, aws.sm) for p in planned]
    aws.standin.set(planned[0].name, "Completed")
    events = []
    cancel = CancelToken()
    cancel.cancel()
    R.watch(outcomes, aws.sm, aws.logs, progress=events.append, cancel=cancel, poll_s=0.01)
    assert [o.status for o in outcomes] == ["Completed", "Stopped"]
    states = [(e.extra["job"], e.extra["status"]) for e in events if e.extra.get("event") == "job"]
    assert (planned[1].name, "Stopping") in states and (planned[1].name, "Stopped") in states
    assert all(j != planned[0].name or s == "Completed" for j, s in states)


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> str:
    import zipfile

    fn = f"{name}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires) + "\nlong description\nRequires-Dist: not-a-header\n"
    with zipfile.ZipFile(folder / fn, "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return fn


def test_wheelhouse_closure_follows_the_target_python_not_ours(tmp_path):
    """pip download evaluates markers with the Python running it: the closure is checked for the target."""
    from lmi_wizard.core.remote.wheelhouse import missing_requirements

    own = _wheel(tmp_path, "lmi_wizard", "0.1.0", ['tomli>=2.0; python_version < "3.11"', "boto3>=1.34",
                                                   "tritonclient[grpc]>=2.40"])
    _wheel(tmp_path, "boto3", "1.40.0", ["botocore<1.41,>=1.40.0"])
    _wheel(tmp_path, "botocore", "1.40.2", [])
    _wheel(tmp_path, "tritonclient", "2.50.0", ['grpcio>=1.41; extra == "grpc"', 'numpy; extra == "http"'])
    assert missing_requirements(tmp_path, own, "3.12") == ["grpcio>=1.41"]
    assert sorted(missing_requirements(tmp_path, own, "3.10")) == ["grpcio>=1.41", "tomli>=2.0"]
    _wheel(tmp_path, "grpcio", "1.60.0", [])
    _wheel(tmp_path, "tomli", "1.2.0", [])  # too old
    assert missing_requirements(tmp_path, own, "3.12") == []
    assert missing_requirements(tmp_path, own, "3.10") == ["tomli>=2.0"]
