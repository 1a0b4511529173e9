"""The tutorial as the pipeline tests run it: the stand-in builders' sources (files in tests/stand_ins/) and
the tutorial recipe (tests/data/recipes/tutorial.toml) over the ``remotes`` fixture (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from lmi_wizard.core import wizard as S
from lmi_wizard.core.wizard import recipe as R

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
