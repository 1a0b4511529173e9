"""LMI's ahead-of-time tool (trt_llm_partition.py): the command per LMI version, and serving.properties."""

from __future__ import annotations

import json
import sys
import types
from unittest import mock

import pytest

from lmi_wizard.tui.cli import main as cli
from lmi_wizard.core.base.errors import WizardError
from lmi_wizard.core.build.partition import (SCRIPT, PartitionArgs, aot_length_properties, copies_properties,
                                             partition_argv, partition_plan, serving_properties_text, write_properties)
from lmi_wizard.core.facts import target

from upstream import show


DJL = "deepjavalibrary/djl-serving"
PARTITION = "serving/docker/partition/trt_llm_partition.py"
# the ref of each release in djl-serving (0.30-0.34 have release branches, no tags)
REFS = {"0.25.0": "v0.25.0", "0.26.0": "v0.26.0", "0.27.0": "v0.27.0", "0.28.0": "v0.28.0", "0.29.0": "v0.29.0",
        "0.30.0": "0.30.0-dlc", "0.31.0": "0.31.0-dlc", "0.32.0": "0.32.0-dlc", "0.33.0": "0.33.0-dlc",
        "0.34.0": "0.34.0-dlc", "0.35.0": "v0.35.0", "0.36.0": "v0.36.0"}


class _Stub(types.ModuleType):
    """A heavy module (tensorrt_llm, tensorrt_llm_toolkit, LMI's utils) reduced to names."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return mock.MagicMock(name=f"{self.__name__}.{name}")


def real_partition(lmi: str, monkeypatch):
    """djl-serving's own trt_llm_partition.py of that release, imported with its heavy imports stubbed; the
    functions main() calls after parsing record what they got instead of building."""
    src = show(DJL, REFS[lmi], PARTITION)
    for name in ("tensorrt_llm_toolkit", "utils", "tensorrt_llm", "tensorrt_llm.auto_parallel",
                 "tensorrt_llm.commands", "tensorrt_llm.commands.build", "tensorrt_llm.logger", "tensorrt_llm.models",
                 "tensorrt_llm.models.modeling_utils", "tensorrt_llm.plugin", "tensorrt_llm.llmapi",
                 "tensorrt_llm._tensorrt_engine"):
        monkeypatch.setitem(sys.modules, name, _Stub(name))
    mod = types.ModuleType(f"trt_llm_partition_{lmi}")
    exec(compile(src, f"{DJL}@{REFS[lmi]}:{PARTITION}", "exec"), mod.__dict__)
    got: dict = {}
    mod.load_properties = lambda d: {}
    if "create_trt_llm_repo" in mod.__dict__:  # <= 0.32 and 0.34: tensorrt_llm_toolkit
        mod.create_trt_llm_repo = lambda properties, args: got.update(vars(args))
    else:  # 0.33+: the LLM API
        mod.sanitize_serving_properties = lambda d: {}
        mod.generate_trtllm_build_configs = lambda p: {}
        mod.copy_properties_to_compiled_model_dir = lambda a, b: None
        mod.build_engine = lambda *a: got.update(build_engine=a)
    return mod, got


def run_real(mod, got: dict, argv: list[str], monkeypatch) -> dict:
    monkeypatch.setattr(sys, "argv", [PARTITION, *argv])
    mod.main()
    return got


ARGS = PartitionArgs("/opt/ml/input", "/opt/ml/model/trtllm", "/opt/ml/input/hf-model", 4, 1)


@pytest.mark.parametrize("lmi", [r["lmi"] for r in target.releases() if r["aot"]])
def test_argv_accepted_by_each_releases_own_script(lmi, monkeypatch):
    """Run the real script's argparse (djl-serving mirror; skipped with one line when absent)."""
    mod, got = real_partition(lmi, monkeypatch)
    got = run_real(mod, got, partition_argv(ARGS, lmi)[2:], monkeypatch)
    if "build_engine" in got:
        assert got["build_engine"][1:4] == ("/opt/ml/input/hf-model", "/opt/ml/model/trtllm", 4)
    else:
        assert (got["tensor_parallel_degree"], got["trt_llm_model_repo"]) == (4, "/opt/ml/model/trtllm")
        assert got["model_path"] == "/opt/ml/input/hf-model"
        assert ("pipeline_parallel_degree" in got) == target.release_for_lmi(lmi)["partition_pp_flag"]


@pytest.mark.parametrize("lmi", ["0.25.0", "0.26.0", "0.33.0"])
def test_without_the_tp_flag_the_real_script_exits_2(lmi, monkeypatch, capsys):
    mod, got = real_partition(lmi, monkeypatch)
    with pytest.raises(SystemExit) as e:
        run_real(mod, got, ["--properties_dir", "/d", "--trt_llm_model_repo", "/o"], monkeypatch)
    assert e.value.code == 2 and "--tensor_parallel_degree" in capsys.readouterr().err


def test_pp_flag_is_required_from_029_in_the_real_script(monkeypatch, capsys):
    documented = ["--properties_dir", "/d", "--trt_llm_model_repo", "/o", "--tensor_parallel_degree", "4"]
    mod, got = real_partition("0.28.0", monkeypatch)
    run_real(mod, got, documented, monkeypatch)
    mod, got = real_partition("0.29.0", monkeypatch)
    with pytest.raises(SystemExit):
        run_real(mod, got, documented, monkeypatch)
    assert "--pipeline_parallel_degree" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # 0.28 has no pipeline flag at all
        run_real(*real_partition("0.28.0", monkeypatch), partition_argv(PartitionArgs("/d", "/o", "/m", 2, 1),
                                                                        "0.29.0")[2:], monkeypatch)


def test_035_script_crashes_so_no_aot(monkeypatch):
    mod, _ = real_partition("0.35.0", monkeypatch)
    src = show(DJL, REFS["0.35.0"], PARTITION)
    ns = types.ModuleType("p35")
    exec(compile(src, "p35", "exec"), ns.__dict__)
    with pytest.raises(AttributeError, match="'dict' object has no attribute 'llm_kwargs'"):
        ns.build_engine({"llm_kwargs": {}}, "/m", "/o", 2)  # what its own generate_trtllm_build_configs returns
    assert "pipeline_parallel" not in src[src.index("def build_engine"):src.index("def parse_build_config")]
    for lmi in ("0.35.0", "0.36.0"):
        with pytest.raises(WizardError, match="cannot build"):
            partition_argv(ARGS, lmi)


@pytest.mark.parametrize("lmi,pp", [(r["lmi"], r["partition_pp_flag"]) for r in target.releases() if r["aot"]])
def test_argv_per_release_from_the_table(lmi, pp):
    argv = partition_argv(ARGS, lmi)
    assert argv[:2] == ["python", SCRIPT]
    assert argv[argv.index("--tensor_parallel_degree") + 1] == "4"  # required in every release, 0.25 included
    assert ("--pipeline_parallel_degree" in argv) == pp == (lmi >= "0.29.0")
    assert argv[argv.index("--model_path") + 1] == "/opt/ml/input/hf-model"


def test_aot_length_keys_per_release(fixtures_dir):
    # <= 0.29: output tokens; 0.30-0.32 (and 0.34): max_output_len "now maps to max_seq_len"; 0.33+: max_seq_len
    assert aot_length_properties("0.25.0", 1024, 512) == {"max_input_len": 1024, "max_output_len": 512}
    assert aot_length_properties("0.29.0", 1024, None, max_seq_len=1536) == {"max_input_len": 1024, "max_output_len": 512}
    for lmi in ("0.30.0", "0.31.0", "0.32.0"):
        assert aot_length_properties(lmi, 1024, 512) == {"max_input_len": 1024, "max_output_len": 1536}
    assert aot_length_properties("0.33.0", 1024, 512) == {"max_input_len": 1024, "max_seq_len": 1536}
    # 0.33's script hands every property to trtllm-build's own parser: it has --max_seq_len, no --max_output_len
    build = (fixtures_dir / "trtllm-src" / "main-65f1d153" / "tensorrt_llm" / "commands" / "build.py").read_text()
    assert "'--max_seq_len'" in build and "'--max_output_len'" not in build


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


def test_properties_override_and_025_has_no_pipeline_key():
    text = serving_properties_text(PartitionArgs("/d", "/o", "/m", 2, 1, {"option.tensor_parallel_degree": 2,
                                                                         "dtype": "fp16"}), "0.25.0")
    assert text.count("option.tensor_parallel_degree=") == 1 and "option.dtype=fp16" in text
    assert "pipeline" not in text  # 0.25 knows no pipeline parallelism


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
