"""The wizard's answer model: one schema behind the Textual screens, ``--plain``, recipes and the CLI.

Front ends and the pipeline import from here (``from lmi_wizard.core import wizard``):

- ``schema``        Kind, Choice, Field, Step, FieldError, the per-kind parsers, the mapping text form
- ``context``       Context: detection facts with typed accessors (model_config, set_model_config, forget_examples …)
- ``answers``       Answers and the values derived from them (layout, tag, build method, paths, model_ref …)
- ``rules``         validators, cross-field checks and gates, all returning ``core.base.findings.Finding``
- ``where``         Review's rules: run here or on SageMaker (``core.remote``), the deployment's GPU architecture
- ``definition``    STEPS / FIELDS and the registry API (step, field, steps_for, validate_step, validate_all)
- ``triton_config`` the Triton config fill and its gate (screen preview, rule and pipeline step share it)
- ``speak``         fixes in the front end's words (``for_tui``: a setting → the field's label, --resume → Ctrl+R)
- ``recipe``        recipes and the wizard state file;  ``session`` the UI-free session the front ends share

The wizard imports domain modules (build, triton, models, layout, checkout …), never the pipeline or a front end.
Where a new field goes: its ``Field`` in ``definition.py``, its validator in ``rules.py``.
"""

from __future__ import annotations

from ..base.findings import Finding
from .answers import (Answers, build_intent, build_method, builds_here, checkout_args, checkout_dir,
                      destination_text, examples_for, gpu_facts, is_triton, lmi_model_id, lmi_target, local_source, model_ref,
                      needs_checkout, not_prebuilt, resolve_layout, resolve_tag, suggest_fix, suggest_key,
                      tag_for_version, trtllm_version, uses_backend_repo, work_path)
from .context import Context
from .definition import (BUILD_FLAG_KEYS, FIELDS, MODEL_SECTIONS, STEPS, start_new_model, check_field, cli_argv, field, step, steps_for, validate_all, validate_field,
                         validate_step)
from .speak import field_name, for_tui
from .schema import PARSERS, Choice, Field, FieldError, Kind, Step, format_mapping, parse_mapping

__all__ = [
    "Finding", "Kind", "Choice", "Field", "Step", "FieldError", "PARSERS", "parse_mapping", "format_mapping",
    "Context", "Answers", "suggest_key", "suggest_fix", "trtllm_version", "resolve_tag", "tag_for_version",
    "resolve_layout", "uses_backend_repo", "work_path", "local_source", "model_ref", "destination_text",
    "lmi_model_id", "build_method", "builds_here", "not_prebuilt", "needs_checkout", "checkout_args", "is_triton",
    "checkout_dir", "examples_for", "gpu_facts", "build_intent", "lmi_target", "STEPS", "FIELDS", "BUILD_FLAG_KEYS", "cli_argv", "step", "field", "steps_for",
    "check_field", "validate_field", "validate_step", "validate_all", "for_tui", "field_name", "MODEL_SECTIONS", "start_new_model",
]
