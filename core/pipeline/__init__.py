"""The run: the public API the front ends (Run screen, plain mode, ``run``/``plan`` verbs) and the screens'
previews use.

- :mod:`.engine` — :class:`Pipeline` (run, plan_script, refusal, status)
- :mod:`.steps` — one module per step (plan + run + still_valid together); ``steps/base.py`` is the contract
- :mod:`.state` — run-state.json, file records and digests, run.log, the lock
- :mod:`.paths` — :class:`RunPaths`: where the checkout, templates, engines, model repository, destination are
- :mod:`.previews` — what screens show before a run (build commands, tokenizer plan, paths)
- :mod:`.report` — :class:`RunReport` / :class:`StepReport`
- :mod:`.remote` — :class:`RemotePipeline`: the same face, the run done on SageMaker (``core.remote``);
  :func:`build_run` picks it or :class:`Pipeline` from Review's ``run.where``
"""

from __future__ import annotations

from ..base.secrets import Redactor
from . import previews
from .engine import Pipeline, build_pipeline, plan_script
from ..wizard.triton_config import ConfigFill, fill_config, wanted_substitutions  # the config step's filling
from .paths import RunPaths
from .remote import RemotePipeline, build_run
from .report import RunReport, StepReport
from .state import (LOCK_NAME, LOG_NAME, RECIPE_NAME, RUN_DIR, STATE_FORMAT, STATE_NAME, file_record,
                    file_still_valid)
from .steps import STEP_CLASSES, ConfigStep, PipelineStep, RunContext, StepResult

__all__ = ["Pipeline", "build_pipeline", "RemotePipeline", "build_run", "plan_script", "RunReport", "StepReport", "RunPaths", "previews",
           "Redactor", "file_record", "file_still_valid", "STEP_CLASSES", "PipelineStep", "RunContext", "StepResult",
           "ConfigStep", "fill_config", "ConfigFill", "wanted_substitutions", "RUN_DIR", "STATE_NAME", "LOG_NAME",
           "LOCK_NAME", "RECIPE_NAME", "STATE_FORMAT"]
