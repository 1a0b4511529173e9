"""The wizard's definition: every step and field (:data:`STEPS`, :data:`FIELDS`), their dynamic defaults, and the
registry API front ends use (:func:`step`, :func:`field`, :func:`steps_for`, :func:`validate_step` …).

A front end drives a step like this::

    for f in step.visible_fields(answers, advanced=show_advanced):
        widget = render(f, value=answers[f.key], choices=f.options(answers))
        ...
        answers[f.key] = f.parse(raw_text)            # raises FieldError (a WizardError) on a bad value
    problems = validate_step(step, answers)           # Findings: errors block Next and run; warnings are shown

Keys are dotted, ``section.name``: the section is the recipe's TOML table (``build.tp`` → ``[build] tp``).
Fields of kind ``secret`` (tokens) are never stored: not in recipes, state files or logs; their value comes
from the environment variable named by ``Field.env`` or, for this process only, from what the user typed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Optional

from ..base.errors import WizardError
from ..base.findings import Finding
from ..facts.versions import BACKEND_URL, TRTLLM_URL  # the one place for the default remotes
from . import rules as R
from . import where as W
from .answers import (Answers, build_method, builds_here, checkout_dir, examples_for, is_triton, model_ref,
                      not_prebuilt, suggest_fix, tag_for_version, trtllm_version, uses_backend_repo, work_path)
from .schema import Choice, Field, FieldError, Kind, Step
from ..serve.defaults import DEFAULT_MAX_NEW_TOKENS, DEFAULT_PROMPT, DEFAULT_TIMEOUT

__all__ = ["STEPS", "FIELDS", "MODEL_SECTIONS", "start_new_model", "derived_findings", "BUILD_FLAG_KEYS", "cli_argv", "step", "field", "steps_for", "check_field", "validate_field", "validate_step",
           "validate_all"]


# --------------------------------------------------------------------------------------------------
# dynamic defaults


def _default_model_name(answers: Answers) -> Optional[str]:
    src = answers["model.source"]
    if not src:
        return None
    name = Path(str(src).rstrip("/")).name or str(src)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower()
    return name or None


def _default_example(answers: Answers) -> Optional[str]:
    """The example folder for the model's architecture (``core.models.pick_example``) when its config is
    known (a local folder, or fetched by a front end), else the folder whose name the model id contains."""
    examples = examples_for(answers)
    if not examples:
        return None
    cfg = answers.ctx.model_config(model_ref(answers))
    if cfg is not None:
        from .. import models

        try:
            return models.pick_example(checkout_dir(answers), cfg).name
        except (WizardError, OSError):
            pass
    src = (answers["model.source"] or "").lower()
    for ex in sorted(examples, key=len, reverse=True):
        if ex.lower() in src:
            return ex
    return None


def _default_rolling_batch(answers: Answers) -> Optional[int]:
    """The engine's max batch size: from the build answers, or read from a prebuilt engine's config.json."""
    if build_method(answers) == "prebuilt":
        edir = work_path(answers, answers["build.engine_dir"])
        if edir is not None and (edir / "config.json").is_file():
            from .. import lmi

            try:
                mb = lmi.engine_info(edir).max_batch_size
            except (WizardError, OSError, ValueError):
                mb = None
            if mb:
                return mb
    return answers["build.max_batch_size"] or 64


# --------------------------------------------------------------------------------------------------
# the steps

_DTYPES = (Choice("float16", "float16 (fp16)"), Choice("bfloat16", "bfloat16"), Choice("float32", "float32"))

ENVIRONMENT = Step(
    "environment", "Environment",
    "GPUs, installed TensorRT-LLM / TensorRT, the matching git tag and the layout this LMI release loads. "
    "An engine only runs on the GPU architecture and TensorRT-LLM version it was built with.",
    fields=(
        Field("env.trtllm_version", "TensorRT-LLM version", Kind.TEXT,
              "The tensorrt-llm version the engine is built for; detected from the installed package. "
              "Set it to plan for another container.",
              default=lambda a: a.ctx.installed_trtllm, validator=R.validate_version, placeholder="0.12.0",
              required=True, pin=True),
        Field("env.tag", "Git tag", Kind.TEXT,
              "Tag of TensorRT-LLM (and tensorrtllm_backend up to 0.19) to check out; derived from the version.",
              default=lambda a: tag_for_version(trtllm_version(a)), validator=R.validate_tag,
              advanced=True, placeholder="v0.12.0", flag="--tag", derived_from=("env.trtllm_version",)),
        Field("env.lmi_layout", "LMI artifact layout", Kind.CHOICE,
              "Which layout the LMI container loads: the Triton layout (LMI 0.25–0.32: tensorrt_llm/ with "
              "config.pbtxt and 1/) or the flat engine folder (LMI 0.33+: config.json with build_config). "
              "auto derives it from the TensorRT-LLM version.",
              default="auto",
              choices=(Choice("auto", "auto (from the version)"), Choice("triton", "Triton layout (LMI ≤ 0.32)"),
                       Choice("flat", "flat engine folder (LMI ≥ 0.33)"))),
        Field("env.lmi_version", "LMI (DJL Serving) version", Kind.TEXT,
              "The LMI release that will serve the model, when known (e.g. 0.30.0); informational.",
              validator=R.validate_lmi_version, advanced=True, placeholder="0.30.0", flag="--lmi-version"),
        Field("env.target_arch", "Deployment GPU architecture", Kind.CHOICE,
              "The GPU architecture of the instances that will serve the engine (sm80 p4d, sm86 g5, sm89 g6/g6e, "
              "sm90 p5). An engine runs only on the architecture it was built on: building here on another one is "
              "refused, a compile on SageMaker runs on an instance of this one. Default: this machine's GPU.",
              default=lambda a: a.ctx.gpu_arch, choices=W.arch_choices, advanced=True, placeholder="sm90"),
    ),
    checks=R.check_environment,
)

CHECKOUT = Step(
    "checkout", "Checkout",
    "The sources at the matching tag, as the tutorial clones them: tensorrtllm_backend with TensorRT-LLM "
    "in its tensorrt_llm/ folder (from 0.20 only TensorRT-LLM). An existing checkout at the right tag is reused.",
    fields=(
        Field("checkout.work_dir", "Work folder", Kind.PATH,
              "Where the checkout, the engines, the model repository and the log go.", default=".",
              required=True, validator=R.validate_work_dir),
        Field("checkout.dir", "Checkout folder", Kind.PATH,
              "The checkout, relative to the work folder.",
              default=lambda a: "tensorrtllm_backend" if uses_backend_repo(a) else "TensorRT-LLM",
              required=True, validator=R.validate_out_folder, flag="--dest",
              derived_from=("env.trtllm_version", "env.tag")),
        Field("checkout.backend_url", "tensorrtllm_backend URL", Kind.TEXT,
              "Remote of the Triton backend (a mirror works).",
              default=BACKEND_URL,
              validator=R.validate_url, advanced=True, visible_if=uses_backend_repo, flag="--backend-url",
              required=True),
        Field("checkout.trtllm_url", "TensorRT-LLM URL", Kind.TEXT, "Remote of TensorRT-LLM (a mirror works).",
              default=TRTLLM_URL, validator=R.validate_url, advanced=True,
              flag="--trtllm-url", required=True),
        Field("checkout.shallow", "Shallow clone", Kind.BOOL,
              "Clone only the tag (no history): much faster.", default=True, advanced=True),
    ),
    checks=R.check_checkout,
)

MODEL = Step(
    "model", "Model",
    "The model to compile (a Hugging Face repo id or a local folder with config.json) and the example folder "
    "of the checkout whose builder handles its architecture.",
    fields=(
        Field("model.source", "Model (HF id or local folder)", Kind.TEXT,
              "e.g. baichuan-inc/Baichuan-13B-Chat, or /models/my-llama", required=True,
              validator=R.validate_model_source, placeholder="baichuan-inc/Baichuan-13B-Chat"),
        Field("model.revision", "Revision", Kind.TEXT, "Branch, tag or commit on the hub (default: main).",
              advanced=True),
        Field("model.example", "Example folder", Kind.CHOICE,
              "examples/<name> in the checkout (examples/models/core|contrib/<name> in newer trees).",
              default=_default_example, choices=examples_for, visible_if=not_prebuilt,
              placeholder="baichuan", derived_from=("model.source",), warn_if_not_derived=True),
        Field("model.name", "Short name", Kind.TEXT,
              "Names the engine folder and the destination's last folder.", default=_default_model_name,
              validator=R.validate_short_name, derived_from=("model.source",)),
    ),
)

BUILD = Step(
    "build", "Build flags",
    "What to build, in words; the wizard spells it as this version's builder wants it. The preview shows "
    "the exact command(s).",
    fields=(
        Field("build.method", "Build with", Kind.CHOICE,
              "The checkout's example builder (build.py, or convert_checkpoint.py + trtllm-build), LMI's own "
              "ahead-of-time tool (for architectures LMI compiles itself), or an engine folder built before.",
              default="checkout",
              choices=(Choice("checkout", "example builder from the checkout"),
                       Choice("lmi-partition", "LMI's trt_llm_partition.py"),
                       Choice("prebuilt", "an existing engine folder"))),
        Field("build.engine_dir", "Engine folder", Kind.PATH,
              "Folder holding config.json and rank*.engine.",
              visible_if=lambda a: build_method(a) == "prebuilt"),
        Field("build.dtype", "Data type", Kind.CHOICE, "Weights and activations precision.", default="float16",
              choices=_DTYPES, visible_if=not_prebuilt, flag="--dtype"),
        Field("build.tp", "Tensor parallel (GPUs)", Kind.INT,
              "Shards the model over this many GPUs; equals tensor_parallel_degree in LMI.",
              default=1, minimum=1, maximum=64, validator=R.validate_tp, visible_if=not_prebuilt, flag="--tp"),
        Field("build.pp", "Pipeline parallel", Kind.INT, "Pipeline stages (world size = TP × PP).",
              default=1, minimum=1, maximum=64, advanced=True, visible_if=not_prebuilt, flag="--pp"),
        Field("build.gemm_plugin", "GEMM plugin", Kind.BOOL, "Use the GEMM plugin in the build's dtype.",
              default=True, visible_if=builds_here, flag="--gemm-plugin"),
        Field("build.gpt_attention_plugin", "GPT attention plugin", Kind.BOOL,
              "Use the GPT attention plugin in the build's dtype (needed for inflight batching).",
              default=True, visible_if=builds_here, flag="--gpt-attention-plugin"),
        Field("build.inflight_batching", "Inflight batching", Kind.BOOL,
              "Continuous batching with LMI (--use_inflight_batching; paged KV cache in newer versions).",
              default=True, visible_if=builds_here, flag="--inflight-batching"),
        Field("build.paged_kv_cache", "Paged KV cache", Kind.BOOL, "Paged KV cache.", default=True,
              advanced=True, visible_if=builds_here, flag="--paged-kv-cache"),
        Field("build.context_fmha", "Context FMHA", Kind.BOOL, "Fused attention in the context phase (sm80+).",
              default=True, visible_if=builds_here, flag="--context-fmha"),
        Field("build.remove_input_padding", "Remove input padding", Kind.BOOL, "Pack inputs without padding.",
              default=True, visible_if=builds_here, flag="--remove-input-padding"),
        Field("build.parallel_build", "Parallel build", Kind.BOOL, "Build ranks in parallel (--workers).",
              default=True, visible_if=builds_here, flag="--parallel-build"),
        Field("build.max_batch_size", "Max batch size", Kind.INT, "Largest batch the engine accepts.",
              default=64, minimum=1, maximum=65536, visible_if=not_prebuilt, flag="--max-batch-size"),
        Field("build.max_input_len", "Max input length", Kind.INT, "Tokens of prompt.", default=2048,
              minimum=1, visible_if=not_prebuilt, flag="--max-input-len"),
        Field("build.max_output_len", "Max output length", Kind.INT,
              "Tokens generated (→ max_seq_len = input + output on builders that only know max_seq_len).",
              default=512, minimum=1, visible_if=not_prebuilt, flag="--max-output-len"),
        Field("build.output_dir", "Engine output folder", Kind.PATH,
              "Where the builder writes the engines, relative to the work folder.",
              default=lambda a: f"engines/{a['model.name'] or 'model'}-{a['build.dtype'] or 'float16'}-"
                                f"tp{a['build.tp'] or 1}" + (f"-pp{a['build.pp']}" if (a['build.pp'] or 1) > 1 else ""),
              advanced=True, visible_if=not_prebuilt, validator=R.validate_out_folder,
              derived_from=("model.name", "build.dtype", "build.tp", "build.pp")),
        Field("build.convert_flags", "Converter flags", Kind.MAPPING,
              "Other flags of convert_checkpoint.py (0.8+), e.g. --model_version:v1_13b for Baichuan. A flag "
              "without a value is written as --flag:true. A flag only the build step defines is moved there "
              "(with a warning); one neither defines is refused.",
              default=lambda a: {}, validator=R.validate_extra_flags, advanced=True, visible_if=builds_here),
        Field("build.build_flags", "Builder flags", Kind.MAPPING,
              "Other flags of the build step (build.py, or trtllm-build), e.g. --max_num_tokens:8192. A flag "
              "only the converter defines is moved there (with a warning); one neither defines is refused.",
              default=lambda a: {}, validator=R.validate_extra_flags, advanced=True, visible_if=builds_here),
    ),
    checks=R.check_build,
)

TRITON = Step(
    "triton", "Triton config",
    "Fill tensorrt_llm/config.pbtxt like the tag's tools/fill_template.py, then review every ${…} left.",
    fields=(
        Field("triton.batch_scheduler_policy", "Batch scheduler policy", Kind.CHOICE,
              "max_utilization packs more requests; guaranteed_no_evict never pauses one.",
              default="max_utilization", choices=("max_utilization", "guaranteed_no_evict")),
        Field("triton.kv_cache_free_gpu_mem_fraction", "KV cache share of free GPU memory", Kind.FLOAT,
              "Fraction of the GPU memory left after loading the engine that the KV cache takes.",
              default=0.95, minimum=0.01, maximum=1.0),
        Field("triton.decoupled", "Decoupled (streaming)", Kind.BOOL,
              "model_transaction_policy { decoupled: True }, as the tutorial sets it.", default=True),
        Field("triton.engine_path", "Engine path in the container", Kind.TEXT,
              "gpt_model_path / engine_dir as seen inside the serving container.",
              default="/opt/ml/model/tensorrt_llm/1", required=True),
        Field("triton.optional_placeholders", "Unfilled optional parameters", Kind.CHOICE,
              "What to do with string parameters still holding ${…}: delete their block (the backend then "
              "uses its default, as the tutorial does for max_tokens_in_paged_kv_cache) or keep them.",
              default="delete", choices=(Choice("delete", "delete their parameter blocks"),
                                         Choice("keep", "keep them (must be filled by hand)"))),
        Field("triton.delete_params", "Parameters blocks to delete", Kind.LIST,
              "Keys of parameters { … } blocks to delete whatever the choice above (the placeholder review's "
              "Delete key adds one), e.g. max_tokens_in_paged_kv_cache,kv_cache_host_memory_bytes.",
              default=lambda a: [], advanced=True, validator=R.validate_delete_params),
        Field("triton.repo_dir", "Triton model repository", Kind.PATH,
              "Where triton_model_repo/ (with tensorrt_llm/ inside) is assembled, relative to the work folder.",
              default="triton_model_repo", advanced=True, validator=R.validate_out_folder),
        Field("triton.substitutions", "More substitutions", Kind.MAPPING,
              "Other key:value pairs for fill_template, e.g. max_beam_width:1,exclude_input_in_output:true.",
              default=lambda a: {}, advanced=True),
    ),
    checks=R.check_triton,
    visible_if=is_triton,
)


def _serve_test_on(answers: Answers) -> bool:
    return bool(answers["serve_test.enabled"])


#: the load test before publish (core.serve; the pipeline's serve_test step), shown with the destination
SERVE_TEST_FIELDS = (
    Field("serve_test.enabled", "Load test before publish", Kind.BOOL,
          "Start LMI's own server (djl-serving, in the LMI image) on what was built, exactly as it will be "
          "uploaded, send one prompt and stop it, before the upload: a model LMI would not load stops the run "
          "with the reason. On by default in the wizard when djl-serving is found and GPUs are visible; off by "
          "default in recipes. Where djl-serving is absent the step is skipped with one line.",
          default=lambda a: a.ctx.serve_test_default(), advanced=True, pin=bool),
    Field("serve_test.prompt", "Load test prompt", Kind.TEXT, "The one prompt sent to the loaded model.",
          default=DEFAULT_PROMPT, required=True, advanced=True, visible_if=_serve_test_on,
          placeholder=DEFAULT_PROMPT),
    Field("serve_test.max_new_tokens", "Load test new tokens", Kind.INT, "Tokens the prompt asks for.",
          default=DEFAULT_MAX_NEW_TOKENS, minimum=1, maximum=4096, advanced=True, visible_if=_serve_test_on),
    Field("serve_test.timeout", "Load test timeout (s)", Kind.FLOAT,
          "Seconds to wait for the model to load (the LMI image's own MODEL_LOADING_TIMEOUT is 1200).",
          default=DEFAULT_TIMEOUT, minimum=1, advanced=True, visible_if=_serve_test_on),
)

DESTINATION = Step(
    "destination", "Tokenizer & destination",
    "The tokenizer files from the hub (the tutorial's *.json, *.txt, *.model, widened to custom code and "
    "*.tiktoken), where the result goes (S3 or a local folder) and the LMI settings.",
    fields=(
        Field("tokenizer.source", "Tokenizer source", Kind.TEXT,
              "Hugging Face repo id or local folder; defaults to the model.", default=lambda a: a["model.source"],
              validator=R.validate_tokenizer_source, derived_from=("model.source",)),
        Field("tokenizer.extra_patterns", "Extra file patterns", Kind.LIST,
              "More glob patterns to fetch with the tokenizer (never weights).", default=lambda a: [], advanced=True,
              validator=R.validate_file_patterns, flag="--pattern"),
        Field("tokenizer.hf_token", "Hugging Face token", Kind.SECRET,
              "For private or gated repos. Never stored: read from HF_TOKEN (or your saved login).",
              env="HF_TOKEN", advanced=True),
        Field("destination.uri", "Destination", Kind.TEXT,
              "s3://bucket/folder1/folder2/ or a local folder. Triton layout: LMI's model_id is folder1 "
              "(the two-folder rule); flat layout: the folder itself.",
              default=lambda a: f"lmi-model/{a['model.name'] or 'model'}/", required=True,
              validator=R.validate_destination, placeholder="s3://my-bucket/trtllm/baichuan-13b-tp2/baichuan-13b-chat/",
              derived_from=("model.name",)),
        Field("destination.endpoint_url", "S3 endpoint URL", Kind.TEXT,
              "Another S3-compatible endpoint (AWS_ENDPOINT_URL works too).",
              validator=R.validate_endpoint, advanced=True,
              visible_if=lambda a: str(a["destination.uri"] or "").startswith("s3://")),
        Field("destination.region", "AWS region", Kind.TEXT, "Region of the bucket (default: your AWS config).",
              advanced=True, visible_if=lambda a: str(a["destination.uri"] or "").startswith("s3://")),
        Field("destination.profile", "AWS profile", Kind.TEXT,
              "Named profile from ~/.aws (keys themselves are never asked for or stored).", advanced=True,
              visible_if=lambda a: str(a["destination.uri"] or "").startswith("s3://")),
        Field("lmi.max_rolling_batch_size", "LMI max rolling batch size", Kind.INT,
              "option.max_rolling_batch_size; at most the engine's max batch size.",
              default=lambda a: _default_rolling_batch(a), minimum=1, derived_from=("build.max_batch_size",),
              flag="--max-rolling-batch-size"),
        Field("lmi.output_dir", "LMI configs folder", Kind.PATH,
              "Where serving.properties and the environment file are written, relative to the work folder.",
              default="lmi-configs", advanced=True, validator=R.validate_out_folder),
        *SERVE_TEST_FIELDS,
    ),
    checks=R.check_destination,
)

_REMOTE_HELP = " Only for a compile on SageMaker (`lmi-wizard remote run`)."

REVIEW = Step(
    "review", "Review",
    "The whole run as a shell script and the recipe it came from. Run ▶ starts it (steps a run of this "
    "work folder already finished are skipped).",
    fields=(
        Field("run.where", "Where to run", Kind.CHOICE,
              "Here (this machine's GPU must be the deployment's architecture), or on SageMaker: the recipe runs "
              "unchanged as a Training job in the LMI image of its release, on an instance of the deployment's GPU, "
              "and publishes to the S3 destination. `lmi-wizard run` always runs here.",
              default="here", choices=(Choice("here", "Run here"),
                                       Choice("sagemaker", "Run on SageMaker (a Training job on the deployment's GPU)"))),
        Field("remote.instance_type", "SageMaker instance type", Kind.CHOICE,
              "The training instance that compiles: the deployment's GPU architecture and at least TP × PP GPUs. "
              "Proposed: the smallest such instance. --instance-type overrides it." + _REMOTE_HELP,
              default=W.propose_instance, choices=W.instance_choices, strict_choices=False,
              validator=W.validate_instance_type, placeholder="ml.p5.48xlarge", visible_if=R.runs_remote),
        Field("remote.role", "IAM role ARN", Kind.TEXT,
              "The role the job runs as (SageMaker assumes it): reads the inputs, writes the destination, reads "
              "the token secret; `lmi-wizard remote policy` prints its policy." + _REMOTE_HELP,
              validator=W.validate_role, placeholder="arn:aws:iam::123456789012:role/lmi-compile",
              visible_if=R.runs_remote),
        Field("remote.region", "AWS region", Kind.TEXT,
              "Where the job runs (its LMI image is pulled from this region). Default: the destination's region, "
              "else your AWS configuration's." + _REMOTE_HELP,
              default=W.remote_region, validator=W.validate_region, placeholder="us-east-1", visible_if=R.runs_remote),
        Field("remote.image", "LMI image", Kind.TEXT,
              "The image the job runs in. Default: the release's Deep Learning Container in the region." + _REMOTE_HELP,
              validator=W.validate_image, advanced=True, visible_if=R.runs_remote,
              placeholder="763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.33.0-tensorrtllm0.21.0-cu128"),
        Field("remote.hf_token_secret", "Hugging Face token secret", Kind.TEXT,
              "Name or ARN of a Secrets Manager secret holding the Hugging Face token (a plain string, or JSON with "
              "an HF_TOKEN key). The job reads it with its role; the token itself never travels in the request."
              + _REMOTE_HELP, validator=W.validate_secret_id, placeholder="hf/token", advanced=True,
              visible_if=R.runs_remote),
    ),
    checks=W.check_review,
)
RUN = Step("run", "Run", "Every step's output in one log; Cancel stops the running process group.")
DONE = Step("done", "Done", "The final tree, the destination listing, the three LMI configurations, "
            "and where the log and the recipe were saved.")

STEPS: tuple[Step, ...] = (ENVIRONMENT, CHECKOUT, MODEL, BUILD, TRITON, DESTINATION, REVIEW, RUN, DONE)
FIELDS: dict[str, Field] = {f.key: f for s in STEPS for f in s.fields}

#: the sections that describe one model (cleared by "New model"); env and checkout describe the machine and stay
MODEL_SECTIONS: tuple[str, ...] = ("model", "build", "triton", "tokenizer", "destination", "lmi")


def start_new_model(answers: Answers) -> list[str]:
    """Start over for another model: clear every answer of :data:`MODEL_SECTIONS` (environment and checkout
    answers stay); the keys cleared."""
    return answers.clear_sections(MODEL_SECTIONS)


def derived_findings(s: Step, answers: Answers) -> list[Finding]:
    """A hand-set value of a field that warns when it is not the derived one (``Field.warn_if_not_derived``):
    one warning naming the value, the source and what it would derive (e.g. llama's example for a Baichuan model)."""
    out = []
    for f in s.visible_fields(answers):
        if not f.warn_if_not_derived:
            continue
        hit = answers.derived_mismatch(f.key)
        if hit is None:
            continue
        value, derived = hit
        src = " and ".join(answers.field(k).label.split(" (")[0].lower() for k in f.derived_from)
        what = answers[f.derived_from[0]] if len(f.derived_from) == 1 else None
        out.append(Finding("warning", "not-derived", f"{f.label} {value} was set by hand; for this {src}"
                           + (f" ({what})" if what else "") + f" it would be {derived}",
                           f"pick {derived}, or keep {value} if it fits this {src}", key=f.key))
    return out
_STEPS_BY_KEY = {s.key: s for s in STEPS}


def step(key: str) -> Step:
    try:
        return _STEPS_BY_KEY[key]
    except KeyError:
        raise WizardError(f"no wizard step named {key!r}", suggest_fix(key, _STEPS_BY_KEY)) from None


def field(key: str) -> Field:
    try:
        return FIELDS[key]
    except KeyError:
        raise FieldError(key, "no such setting", suggest_fix(key, FIELDS)) from None


#: the Build step's fields the ``build`` verb takes as options (``tui/cli/fields.py`` renders them)
BUILD_FLAG_KEYS: tuple[str, ...] = tuple(f.key for f in FIELDS.values() if f.flag and f.section == "build")


def cli_argv(keys: Iterable[str], answers: Answers) -> list[str]:
    """The answers of ``keys`` as command-line options (``Field.flag``): ``--dtype float16 --tp 2 --no-gemm-plugin``
    — what a field-backed verb parses back into the same values."""
    out: list[str] = []
    for key in keys:
        out += answers.field(key).cli_argv(answers[key])
    return out


def steps_for(answers: Answers) -> list[Step]:
    """The steps this run shows (the Triton config step only for the Triton layout)."""
    return [s for s in answers.steps if s.is_visible(answers)]


def check_field(key: str, value: Any, answers: Answers) -> Optional[Finding]:
    """The problem of putting ``value`` in field ``key`` (a raw text value is parsed first), or None."""
    return answers.field(key).check(value, answers)


def validate_field(key: str, value: Any, answers: Answers) -> Optional[str]:
    """:func:`check_field` as one line of text (the problem, then its fix), or None."""
    found = check_field(key, value, answers)
    return found.text() if found is not None else None


def validate_step(s: Step | str, answers: Answers, *, advanced: bool = True) -> list[Finding]:
    """Every problem of one step: each visible field's value, then the step's cross-field checks and gates.
    Errors (``Finding.blocking``) keep the user on the step and stop ``run``; warnings are shown."""
    s = step(s) if isinstance(s, str) else s
    problems: list[Finding] = []
    if not s.is_visible(answers):
        return problems
    for f in s.visible_fields(answers, advanced=advanced):
        found = f.check(answers[f.key], answers)
        if found is not None:
            problems.append(found)
    problems += derived_findings(s, answers)
    if s.checks is not None:
        seen = {(p.key, p.problem) for p in problems}
        for p in s.checks(answers):
            if (p.key, p.problem) not in seen:
                problems.append(p)
    return problems


def validate_all(answers: Answers) -> list[Finding]:
    out: list[Finding] = []
    for s in steps_for(answers):
        out.extend(validate_step(s, answers))
    return out
