"""The tutorial as the pipeline tests run it: the stand-in builders' sources (files in tests/stand_ins/) and
the tutorial recipe (tests/data/recipes/tutorial.toml) over the ``remotes`` fixture (tests/conftest.py); and a
prebuilt flat engine folder with a local tokenizer (no checkout, no build) for the publish tests."""

from __future__ import annotations

import json
from pathlib import Path

from lmi_wizard.core import wizard as S
from lmi_wizard.core.wizard import recipe as R
from tests.hubserver import qwen_repo

TESTS = Path(__file__).resolve().parents[1]
STAND_INS = TESTS / "stand_ins"
RECIPES = TESTS / "data" / "recipes"

# legacy examples/baichuan/build.py (<=0.7) with the tutorial's flags; hang and fail modes (see its docstring)
LEGACY_BUILD = (STAND_INS / "baichuan_build.py").read_text()
# the 0.8+ two-step build: convert_checkpoint.py in the example folder, trtllm-build on PATH
CONVERT = (STAND_INS / "qwen_convert.py").read_text()
TRTLLM_BUILD = (STAND_INS / "trtllm_build_cmd.py").read_text()

FAKE_SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY1",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLESESSIONTOKENsecret0042",
    "HF_TOKEN": "hf_FAKEsecretTOKENabcdefghijklmnop0123",
}


def tutorial_recipe(remotes, work: Path, dest: str, **over) -> S.Answers:
    """The tutorial (Baichuan-13B-Chat, TP 2, Triton layout), at v0.5.0 where build.py is the builder."""
    a = R.loads_recipe(tutorial_text(remotes, work, dest), ctx=S.Context(installed_trtllm=None, gpus=[]))
    for k, v in over.items():
        a[k] = v
    return a


def tutorial_text(remotes, work: Path, dest: str, tokenizer: str | None = None) -> str:
    """The tutorial recipe as TOML (tests/data/recipes/tutorial.toml with this run's folders and remotes);
    ``tokenizer``: a local folder to take the tokenizer from (else the Hub)."""
    tok = f'\n[tokenizer]\nsource = "{tokenizer}"\n' if tokenizer else ""
    text = (RECIPES / "tutorial.toml").read_text()
    for key, value in (("work_dir", str(work)), ("backend_url", remotes["backend"]),
                       ("trtllm_url", remotes["trt_old"]), ("dest", dest)):
        text = text.replace("{" + key + "}", value)
    return text + tok


def prebuilt_flat(tmp_path: Path, uri: str, extra: str = "") -> S.Answers:
    """A prebuilt flat engine folder (no checkout, no build) + a local tokenizer folder, published to ``uri``."""
    edir = tmp_path / "engines"
    edir.mkdir(parents=True, exist_ok=True)
    (edir / "rank0.engine").write_bytes(b"E" * 100)
    (edir / "config.json").write_text(json.dumps({
        "pretrained_config": {"architecture": "QWenForCausalLM", "dtype": "bfloat16",
                              "mapping": {"world_size": 1, "tp_size": 1, "pp_size": 1}},
        "build_config": {"max_batch_size": 16, "max_input_len": 1024, "max_seq_len": 2048}}))
    tok = tmp_path / "qwen"
    if not tok.exists():
        for name, data in qwen_repo().files.items():
            (tok / name).parent.mkdir(parents=True, exist_ok=True)
            (tok / name).write_bytes(data)
    return R.loads_recipe(f'''
[env]
trtllm_version = "1.0.0"
[checkout]
work_dir = "{tmp_path / 'work'}"
[model]
source = "Qwen/Qwen-7B-Chat"
[build]
method = "prebuilt"
engine_dir = "{edir}"
[tokenizer]
source = "{tok}"
[destination]
uri = "{uri}"
{extra}
''', ctx=S.Context(installed_trtllm=None, gpus=[]))


PUBLISH_BUCKET, PUBLISH_PREFIX = "lmi-llm", "trtllm/chat/"
PUBLISH_DEST = f"s3://{PUBLISH_BUCKET}/{PUBLISH_PREFIX}"


def publish_recipe(base: Path, s3, source: str, engine: bytes) -> Path:
    """A recipe file publishing a prebuilt flat engine folder (model ``source``, engine bytes ``engine``) to
    PUBLISH_DEST on the ``s3`` fixture's server."""
    a = prebuilt_flat(base, PUBLISH_DEST, f'endpoint_url = "{s3.endpoint_url}"')
    a["model.source"] = source
    (base / "engines" / "rank0.engine").write_bytes(engine)
    path = base / "recipe.toml"
    path.write_text(R.dumps_recipe(a))
    return path
