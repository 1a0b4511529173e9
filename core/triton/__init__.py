"""Triton model repositories and their ``config.pbtxt``: the public API of ``lmi_wizard.core.triton``.

Where things go:

- :mod:`.semantics` — ``fill_template.py``'s behaviour per tag range and the placeholders of every upstream
  template (a new TensorRT-LLM release's template changes go to ``core/data/fill_template_semantics.json``);
- :mod:`.subst` — substitution strings (``key:value,…``) as each tag's tool reads them;
- :mod:`.fill` — filling placeholders like the tag's own tool (:func:`fill_text`, :func:`fill_file`);
- :mod:`.scan` — the tolerant protobuf-text scanner (reads ``${…}`` where a value stands);
- :mod:`.check` — what blocks loading (:func:`check_text` → :class:`CheckReport` of :class:`Placeholder` s);
  a new blocking parameter goes to ``LOAD_FATAL_PARAMS`` / ``LOAD_FATAL_PYTHON_PARAMS`` there;
- :mod:`.edit` — text edits for the live diff preview (decoupled, engine path, deleting parameters);
- :mod:`.values` — values the backend rejects or ignores (:func:`value_findings`: scheduler policy, KV-cache
  fraction and size), one function for ``pbtxt check``, ``check`` and the recipe;
- :mod:`.repo` — assembling ``triton_model_repo/`` from the upstream templates.
"""

from .semantics import DATA_FILE, Semantics, known_ranges_text, parse_tag, placeholder_table, semantics_for
from .subst import (EscapedSubstitutions, ParsedSubstitutions, format_substitutions, parse_substitutions,
                    tool_substitutions)
from .scan import MODEL_CONFIG_FIELDS, ParamBlock, looks_like_pbtxt
from .fill import (DEFAULT_ENGINE_PATH, ENGINE_PATH_KEYS, MAX_PBTXT_BYTES, FillResult, explain_missing_key, fill_file,
                   fill_text, key_history, model_of, normalize_newlines, placeholder_names, scan_template_tree)
from .check import (LOAD_FATAL_PARAMS, LOAD_FATAL_PYTHON_PARAMS, CheckReport, Placeholder, check_file, check_text,
                    parse_model_config)
from .edit import (cap_max_batch_size, delete_parameter, fill_key, parameter_blocks, parameter_keys, set_decoupled, set_engine_path,
                   unified_diff)
from .repo import MODELS, TEMPLATE_SUBDIRS, AssembleResult, assemble_repo, available_models, find_template_dir
from .values import SCHEDULER_POLICIES, engine_limits, value_findings

__all__ = [
    "DATA_FILE", "Semantics", "known_ranges_text", "parse_tag", "placeholder_table", "semantics_for",
    "EscapedSubstitutions", "ParsedSubstitutions", "format_substitutions", "parse_substitutions", "tool_substitutions",
    "MODEL_CONFIG_FIELDS", "ParamBlock", "looks_like_pbtxt",
    "DEFAULT_ENGINE_PATH", "ENGINE_PATH_KEYS", "MAX_PBTXT_BYTES", "FillResult", "explain_missing_key", "fill_file",
    "fill_text", "key_history", "model_of", "normalize_newlines", "placeholder_names", "scan_template_tree",
    "LOAD_FATAL_PARAMS", "LOAD_FATAL_PYTHON_PARAMS", "CheckReport", "Placeholder", "check_file", "check_text",
    "parse_model_config",
    "cap_max_batch_size", "delete_parameter", "fill_key", "parameter_blocks", "parameter_keys", "set_decoupled", "set_engine_path",
    "unified_diff",
    "MODELS", "TEMPLATE_SUBDIRS", "AssembleResult", "assemble_repo", "available_models", "find_template_dir",
    "SCHEDULER_POLICIES", "engine_limits", "value_findings",
]
