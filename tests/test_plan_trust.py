"""Issue 13 §7: the plan (Review's shell script, the saved lmi-wizard-plan.sh, `lmi-wizard plan`) writes
option.trust_remote_code exactly when the run does — also when the tokenizer comes from the Hub, where that is
known only once the files are fetched. The script is executed by bash against the fake Hub and its LMI
configurations are compared with the run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmi_wizard.core import wizard as S
from lmi_wizard.core import pipeline as P
from lmi_wizard.core.wizard import recipe as R
from tests.hubserver import FakeHub, qwen_repo


@pytest.fixture
def hub():
    with FakeHub([qwen_repo()]) as h:
        yield h


def _prebuilt_flat(tmp_path: Path, work: Path, tokenizer: str) -> S.Answers:
    edir = tmp_path / "engines"
    if not edir.exists():
        edir.mkdir()
        for r in range(2):
            (edir / f"rank{r}.engine").write_bytes(b"E" * 100)
        (edir / "config.json").write_text(json.dumps({
            "pretrained_config": {"architecture": "QWenForCausalLM", "dtype": "bfloat16",
                                  "mapping": {"world_size": 2, "tp_size": 2, "pp_size": 1}},
            "build_config": {"max_batch_size": 16, "max_input_len": 1024, "max_seq_len": 2048}}))
    return R.loads_recipe(f'''
[env]
trtllm_version = "0.21.0rc1"
[checkout]
work_dir = "{work}"
[model]
source = "Qwen/Qwen-7B-Chat"
[build]
method = "prebuilt"
engine_dir = "{edir}"
tp = 2
dtype = "bfloat16"
[tokenizer]
source = "{tokenizer}"
[destination]
uri = "published/qwen-7b"
''', ctx=S.Context(installed_trtllm=None, gpus=[]))


def test_a_hub_tokenizer_with_its_own_code_gets_trust_remote_code_in_the_plan_as_in_the_run(hub, tmp_path):
    by_run, by_script = tmp_path / "by run", tmp_path / "by script"
    rep = P.Pipeline(_prebuilt_flat(tmp_path, by_run, "Qwen/Qwen-7B-Chat"), hf_endpoint=hub.endpoint).run()
    assert rep.ok, (rep.error, rep.fix)
    assert "option.trust_remote_code=true" in (by_run / "lmi-configs/serving.properties").read_text()

    script = P.plan_script(_prebuilt_flat(tmp_path, by_script, "Qwen/Qwen-7B-Chat"))
    lmi_part = script[script.index("LMI configurations"):]
    assert "trust_remote_code" in lmi_part and "lmi-wizard lmi-config " in lmi_part
    path = tmp_path / "plan.sh"
    path.write_text(script)
    env = dict(os.environ, HF_ENDPOINT=hub.endpoint,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    res = subprocess.run(["bash", str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for rel in ("lmi-configs/lmi.env", "lmi-configs/serving.properties", "lmi-configs/extracted/serving.properties"):
        made = (by_script / rel).read_text().replace(str(by_script), "W")
        assert made == (by_run / rel).read_text().replace(str(by_run), "W"), rel
        assert "trust_remote_code" in made.lower(), rel


def test_a_local_tokenizer_decides_it_in_the_plan_itself(tmp_path):
    tok = tmp_path / "qwen"
    for name, data in qwen_repo().files.items():
        (tok / name).parent.mkdir(parents=True, exist_ok=True)
        (tok / name).write_bytes(data)
    script = P.plan_script(_prebuilt_flat(tmp_path, tmp_path / "w", str(tok)))
    lmi_part = script[script.index("LMI configurations"):]
    assert "option.trust_remote_code=true" in lmi_part
    assert "lmi-wizard lmi-config" not in lmi_part  # known now: the files are written as they will be


def test_the_tokenizer_preview_names_the_folder_the_run_fills_never_a_scratch_path(hub, tmp_path):
    """Issue 13 §6: the Destination screen's tokenizer preview said '/tmp/lmi-wizard-tok-…/config.json with
    build_config not found yet'."""
    import tempfile

    from lmi_wizard.core.pipeline import previews

    work = tmp_path / "work"
    a = R.loads_recipe(f'''
[env]
trtllm_version = "0.21.0rc1"
[checkout]
work_dir = "{work}"
[model]
source = "Qwen/Qwen-7B-Chat"
example = "qwen"
''', ctx=S.Context(installed_trtllm=None, gpus=[]))
    plan = previews.tokenizer_plan(a, hf_endpoint=hub.endpoint)
    said = "\n".join(plan.warnings)
    assert plan.warnings and str(work / "engines") in said
    assert tempfile.gettempdir() + "/lmi-wizard-tok-" not in said
    assert not (work / "engines").exists()  # planning wrote nothing
