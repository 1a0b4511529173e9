"""Tokenizer files beside the engines (tutorial step 5), from the Hugging Face Hub or a local folder.

The tutorial runs ``snapshot_download(allow_patterns=["*.json", "*.txt", "*.model"])`` into
``triton_model_repo/tensorrt_llm/``. That base set misses what many tokenizers need, so the plan widens it
from the repo's own file list:

* Python files named in ``auto_map`` (``AutoTokenizer`` in ``tokenizer_config.json``; ``AutoTokenizer`` and
  ``AutoConfig`` in ``config.json``), plus the modules they import relatively (``from .x import y``) — the
  Baichuan tree in the tutorial holds ``tokenization_baichuan.py`` and ``configuration_baichuan.py``;
* ``*.tiktoken`` vocabularies (Qwen) and ``tokenizer.model`` / ``*.spm`` SentencePiece models.

Never weights (``*.bin``, ``*.safetensors``, ``*.pt``, ``*.pth``, ``*.gguf``, ``*.h5``, ``*.msgpack``,
``*.ckpt``); ``pytorch_model.bin.index.json`` is a small JSON the tutorial keeps. Only files at the repo
root are taken: ``AutoTokenizer.from_pretrained(folder)`` reads nothing below it.

When the tokenizer ships its own code, LMI must load it with ``trust_remote_code``: the plan says so
(``TokenizerPlan.trust_remote_code``) and :mod:`lmi` writes ``option.trust_remote_code=true``.

``config.json`` — the two layouts
---------------------------------
* ``triton`` (LMI 0.25–0.32): the tokenizer goes into ``tensorrt_llm/`` and the engine's own
  ``config.json`` lives in ``tensorrt_llm/1/``; the HF ``config.json`` sits beside the tokenizer as in the
  tutorial's tree.
* ``flat`` (LMI 0.33+): the engines and their ``config.json`` (with ``build_config``, which is how LMI 0.33
  recognises a prebuilt model) share the folder with the tokenizer. A plain ``snapshot_download("*.json")``
  overwrites that file with the HF one and LMI then tries to convert the folder as a Hugging Face
  checkpoint. Here the HF ``config.json`` is never placed under that name in the flat layout, and in any
  layout an existing ``config.json`` holding ``build_config`` is never replaced. It is not needed by the
  tokenizer: ``AutoTokenizer`` reads ``tokenizer_config.json`` first and only falls back to ``config.json``
  (``AutoConfig``) when ``tokenizer_class`` is missing there. For that case the plan copies the tokenizer
  class / ``auto_map.AutoTokenizer`` from the HF config into ``tokenizer_config.json`` (shown as a patch);
  if the HF config does not name one either, the plan warns with the fix. The HF config is kept for
  reference as ``hf_config.json`` (nothing in LMI reads that name).

Why per-file ``hf_hub_download`` rather than one ``snapshot_download`` call: the files are fetched at the
commit resolved once for the plan, one at a time, so the wizard can show progress per file and stop
between files on Cancel; they land in a staging folder first (the Hub client's ``.cache/huggingface``
bookkeeping never reaches the upload folder) and are moved into place only once all have arrived.
Hub file names are checked before any request: ``..``, absolute paths and sub-folders are refused.
Tokens: ``token=None`` lets huggingface_hub use ``HF_TOKEN`` or the saved login; a token is passed through
to the client and never logged or stored in the plan.

The staging folder lives BESIDE the destination (``.<dest>.lmi-wizard-staging-<pid>-…``, same file system, so
the final moves are renames), never inside it: a killed download's partial file is never in the model folder,
and publish/check recognise the name (``fsutil.is_our_temp``). A file whose name this file system cannot hold
is skipped with its name. Every Hub request is bounded by ``LMI_WIZARD_NET_TIMEOUT`` (:mod:`core.hubnet`).

The step is split by job: :mod:`.common` (constants, data, helpers), :mod:`.sources` (local folder, Hub),
:mod:`.plan` (what to fetch and why) and :mod:`.fetch` (staging beside the model folder, then renames).
Everything is importable from here, as before.
"""

from .common import (BASE_PATTERNS, EXTRA_REASON, LAYOUTS, MAX_META_BYTES, PATTERN_FIX,  # noqa: F401
                     STAGING_KIND, STAGING_PREFIX, STEP, WEIGHT_SUFFIXES, WIDENED_PATTERNS, PlannedFile, SkippedFile,
                     TokenizerPlan, TokenizerResult, _auto_map_refs, _git_blob_sha1, _inside, _load_json,
                     _match_reason, _patched_tokenizer_config, _relative_imports, has_build_config, is_weight,
                     looks_like_repo_id, pattern_problem, safe_name)
from .fetch import _remove_stale_staging, fetch_tokenizer, get_tokenizer, tokenizer_needs_trust_remote_code  # noqa
from .plan import _check_dest, _name_max, _plan, plan_tokenizer  # noqa: F401
from .sources import _HubSource, _LocalSource, _Source, _class_names, hub_error  # noqa: F401
