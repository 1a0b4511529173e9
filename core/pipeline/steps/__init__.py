"""The run's steps, one module each, in the order they run. Each keeps its ``plan`` (shell lines),
``run`` and ``still_valid`` together; a new step is a module here plus its place in :data:`STEP_CLASSES`."""

from __future__ import annotations

from .assemble import AssembleStep
from .base import LMI_PYTHON, PipelineStep, RunContext, StepResult, q
from .build import BuildStep
from .checkout import CheckoutStep
from .config import ConfigStep
from .environment import EnvironmentStep
from .final import FinalStep
from .lmi import LmiStep
from .publish import PublishStep, s3_client
from .serve_test import ServeTestStep
from .tokenizer import TokenizerStep

STEP_CLASSES = (EnvironmentStep, CheckoutStep, BuildStep, AssembleStep, ConfigStep, TokenizerStep, ServeTestStep,
                PublishStep, LmiStep, FinalStep)

__all__ = ["STEP_CLASSES", "PipelineStep", "RunContext", "StepResult", "EnvironmentStep", "CheckoutStep", "BuildStep",
           "AssembleStep", "ConfigStep", "TokenizerStep", "ServeTestStep", "PublishStep", "LmiStep", "FinalStep", "s3_client", "q",
           "LMI_PYTHON"]
