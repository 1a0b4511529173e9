"""LMI's ahead-of-time tool (trt_llm_partition.py): the command per LMI version, and serving.properties."""

from __future__ import annotations

import argparse
import json

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.build.partition import SCRIPT, PartitionArgs, copies_properties, partition_argv, partition_plan, serving_properties_text, write_properties


def upstream_parser(lmi: tuple[int, int]) -> argparse.ArgumentParser:
    """The argument set of djl-serving's serving/docker/partition/trt_llm_partition.py main() at that LMI
    release (read from the upstream source): used to check that the rendered argv is accepted."""
    p = argparse.ArgumentParser(exit_on_error=False)
    p.add_argument("--properties_dir", type=str, required=True)
    p.add_argument("--trt_llm_model_repo", type=str, required=True)
    p.add_argument("--model_path", type=str, required=False, default=None)
    if lmi >= (0, 26):
        p.add_argument("--tensor_parallel_degree", type=int, required=True)
    if lmi >= (0, 29):
        p.add_argument("--pipeline_parallel_degree", type=int, required=True)
    return p


ARGS = PartitionArgs("/opt/ml/input", "/opt/ml/model/trtllm", "/opt/ml/input/hf-model", 4, 1)


@pytest.mark.parametrize("lmi,tp_pp", [("0.26.0", (True, False)), ("0.28.0", (True, False)),
                                       ("0.29.0", (True, True)), ("0.32.0", (True, True)), ("0.33.0", (True, True))])
def test_argv_per_lmi_version(lmi, tp_pp):
    argv = partition_argv(ARGS, lmi)
    assert argv[:2] == ["python", SCRIPT]
    assert ("--tensor_parallel_degree" in argv, "--pipeline_parallel_degree" in argv) == tp_pp
    assert argv[argv.index("--model_path") + 1] == "/opt/ml/input/hf-model"
    ns, unknown = upstream_parser(tuple(map(int, lmi.split(".")[:2]))).parse_known_args(argv[2:])
    assert unknown == []
    assert ns.tensor_parallel_degree == 4 and ns.trt_llm_model_repo == "/opt/ml/model/trtllm"


def test_documented_command_fails_from_029_and_ours_does_not():
    documented = ["--properties_dir", "/d", "--trt_llm_model_repo", "/o", "--tensor_parallel_degree", "4"]
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        upstream_parser((0, 29)).parse_args(documented)
    upstream_parser((0, 29)).parse_args(partition_argv(ARGS, "0.29.0")[2:])


def test_pp_needs_029_and_bad_inputs():
    args = PartitionArgs("/d", "/o", "/m", 2, 2)
    with pytest.raises(WizardError, match="no pipeline parallelism"):
        partition_argv(args, "0.28.0")
    argv = partition_argv(args, "0.29.0")
    assert argv[argv.index("--pipeline_parallel_degree") + 1] == "2"
    with pytest.raises(WizardError, match="does not read HF_MODEL_ID"):
        partition_argv(PartitionArgs("/d", "/o", "", 1, 1), "0.33.0")
    with pytest.raises(WizardError, match="positive"):
        partition_argv(PartitionArgs("/d", "/o", "/m", 0, 1), "0.33.0")
    with pytest.raises(WizardError, match="not an LMI version"):
        partition_argv(ARGS, "latest")


def test_properties_written_atomically_and_never_overwritten(tmp_path):
    args = PartitionArgs(str(tmp_path), "/o", "/m", 2, 1, {"max_input_len": 2048, "max_rolling_batch_size": 64})
    p = write_properties(tmp_path, args, "0.33.0")
    text = p.read_text()
    assert "option.model_id=/m\n" in text and "option.tensor_parallel_degree=2\n" in text
    assert "option.pipeline_parallel_degree=1\n" in text and "option.max_rolling_batch_size=64\n" in text
    assert "engine=Python\n" in text
    assert write_properties(tmp_path, args, "0.33.0") == p  # same content: fine
    other = PartitionArgs(str(tmp_path), "/o", "/m", 4, 1)
    with pytest.raises(WizardError, match="exists with other settings"):
        write_properties(tmp_path, other, "0.33.0")
    assert p.read_text() == text
    write_properties(tmp_path, other, "0.33.0", force=True)
    assert "option.tensor_parallel_degree=4" in p.read_text()
    assert [x.name for x in tmp_path.iterdir()] == ["serving.properties"]  # no temp files left
    with pytest.raises(WizardError, match="properties folder not found"):
        write_properties(tmp_path / "nope", args, "0.33.0")


def test_properties_override_and_025_tp_from_properties():
    text = serving_properties_text(PartitionArgs("/d", "/o", "/m", 2, 1, {"option.tensor_parallel_degree": 2,
                                                                         "dtype": "fp16"}), "0.25.0")
    assert text.count("option.tensor_parallel_degree=") == 1 and "option.dtype=fp16" in text
    assert "pipeline" not in text  # 0.25 knows no pipeline parallelism
    assert "--tensor_parallel_degree" not in partition_argv(ARGS, "0.25.0")


def test_plan_and_copy_behaviour(tmp_path):
    assert copies_properties("0.33.0") and not copies_properties("0.32.0")
    plan = partition_plan(tmp_path, ARGS, "0.33.0", host_output_dir=tmp_path / "out")
    assert plan.layout == "partition" and plan.engine_dir == tmp_path / "out" and plan.world_size == 4
    assert any("copies serving.properties" in n for n in plan.notes)
    old = partition_plan(tmp_path, ARGS, "0.30.0", host_output_dir=tmp_path / "out")
    assert old.engine_dir == tmp_path / "out" / "tensorrt_llm" / "1"
    docker = partition_plan(tmp_path, ARGS, "0.33.0", wrapper=("docker", "exec", "lmi"))
    assert docker.steps[0].argv[:4] == ["docker", "exec", "lmi", "python"]


def test_cli_build_aot_dry_run(tmp_path, capsys):
    (tmp_path / "ex").mkdir()
    rc = cli.main(["build", "--example-dir", str(tmp_path / "ex"), "--aot", "0.29.0", "--properties-dir",
                   str(tmp_path), "--model-dir", "/opt/ml/model/hf", "--output-dir", "/tmp/trtllm", "--tp", "4",
                   "--dry-run", "--json"])
    assert rc == 0
    plan = json.loads(capsys.readouterr().out)
    argv = plan["steps"][0]["argv"]
    assert argv[1] == SCRIPT and argv[argv.index("--pipeline_parallel_degree") + 1] == "1"
    assert not (tmp_path / "serving.properties").exists()  # dry run writes nothing
    assert cli.main(["build", "--example-dir", str(tmp_path / "ex"), "--aot", "0.29.0", "--dry-run"]) == 2
    assert "--properties-dir" in capsys.readouterr().err


def test_properties_folder_that_is_a_file_or_holds_a_folder(tmp_path):
    from lmi_wizard.core.build.partition import PartitionArgs, write_properties

    args = PartitionArgs("/props", "/out", "/model", 2, 1)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(WizardError, match="is a file, not a properties folder"):
        write_properties(f, args, "0.30.0")
    (tmp_path / "d" / "serving.properties").mkdir(parents=True)
    with pytest.raises(WizardError, match="serving.properties is a folder"):
        write_properties(tmp_path / "d", args, "0.30.0")
