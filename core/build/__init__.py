"""Building the engines: the public API of ``lmi_wizard.core.build`` (callers import from here).

Where things go:

- :mod:`.specs` — what discovery finds (:class:`FlagSpec`, :class:`BuilderFlags`);
- :mod:`.discover` + :mod:`.interp` — a builder script's flags, read statically with :mod:`ast` (a new
  argparse shape in a new TensorRT-LLM goes there);
- :mod:`.render` — :class:`BuildIntent` (once, with its defaults) → the exact commands of a checkout
  (:func:`render_plan`); a new builder flag of the intent goes there;
- :mod:`.validate` — :func:`validate_intent` against GPU / model / version (a new build rule goes there), and
  :func:`place_flags`: which builder gets each extra flag (converter or build step; the one rule);
- :mod:`.run` — running a plan, known build errors, the engine-folder check, the build record;
- :mod:`.partition` — LMI's own ahead-of-time tool (``trt_llm_partition.py``).
"""

from .specs import BuilderFlags, FlagSpec, builder_kind
from .discover import checkout_version, discover_flags, find_trtllm_build_source
from .validate import (DTYPES, MAX_WORLD_SIZE, FlagPlacement, GpuFacts, ModelFacts, place_flags, validate_advanced,
                       validate_intent)
from .render import (LMI_DTYPE, BuildIntent, BuildPlan, Dropped, Step, example_builders, extra_flag_findings,
                     render_plan)
from .run import (RECORD_NAME, BuildResult, KnownError, StepResult, engine_format, explain_failure,
                  read_build_record, run_plan, validate_engine_dir, write_build_record)
from .partition import PartitionArgs, partition_argv, partition_plan, serving_properties_text, write_properties

__all__ = [
    "BuilderFlags", "FlagSpec", "builder_kind", "checkout_version", "discover_flags", "find_trtllm_build_source",
    "DTYPES", "MAX_WORLD_SIZE", "FlagPlacement", "GpuFacts", "ModelFacts", "place_flags", "validate_advanced",
    "validate_intent",
    "LMI_DTYPE", "BuildIntent", "BuildPlan", "Dropped", "Step", "example_builders", "extra_flag_findings",
    "render_plan",
    "RECORD_NAME", "BuildResult", "KnownError", "StepResult", "engine_format", "explain_failure",
    "read_build_record", "run_plan", "validate_engine_dir", "write_build_record",
    "PartitionArgs", "partition_argv", "partition_plan", "serving_properties_text", "write_properties",
]
