"""Where the run's things are: ONE place that says where the checkout, the Triton templates and tools, the
engines, the model repository (the folder that is published) and the destination are.

:class:`RunPaths` reads the answers and, during a run, what finished steps produced (``outputs``: the run's own
word wins over what the answers predict). The steps, the plan, the refusal and the screens' previews all ask
it; nothing else derives these paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from ..base.errors import WizardError
from ..wizard import (Answers, build_method, checkout_args, destination_text, model_ref, resolve_layout,
                      resolve_tag, uses_backend_repo, work_path)

TEMPLATE_SUBDIR = Path("all_models") / "inflight_batcher_llm"


def triton_built_here(a: Answers) -> bool:
    """The Triton layout assembled by the wizard (assemble + config steps); LMI's partition tool writes its own."""
    return resolve_layout(a) == "triton" and build_method(a) != "lmi-partition"


def tokenizer_source(a: Answers) -> str:
    """``tokenizer.source`` (default: the model) with a local folder made absolute (relative to the work folder)."""
    return model_ref(a, "tokenizer.source") or model_ref(a) or ""


def checkout_request(a: Answers) -> Optional[dict]:
    """What ``core.checkout`` takes for these answers (``core.wizard.checkout_args``: tag, dest, urls, depth), or
    None when the tag or the folder is unknown."""
    return checkout_args(a)


@dataclass
class RunPaths:
    answers: Answers
    outputs: Mapping[str, Any] = field(default_factory=dict)  # what finished steps produced

    def path(self, value: str | os.PathLike | None) -> Optional[Path]:
        """A folder answer, relative to the work folder."""
        return work_path(self.answers, value)

    # ---- the checkout -------------------------------------------------------------------------------
    def checkout_request(self) -> dict:
        """:func:`checkout_request`, or one WizardError saying what is missing."""
        req = checkout_request(self.answers)
        if req is None:
            if not resolve_tag(self.answers):
                raise WizardError("no git tag: the TensorRT-LLM version is unknown",
                                  "set trtllm_version (or tag) under [env]")
            raise WizardError("no checkout folder", "set dir under [checkout]")
        return req

    @property
    def checkout_dir(self) -> Optional[Path]:
        """The checkout folder the answers name."""
        return self.path(self.answers["checkout.dir"])

    @property
    def checkout_root(self) -> Optional[Path]:
        """The checkout: where the checkout step put it, else where the answers say."""
        got = self.outputs.get("checkout_root")
        return Path(got) if got else self.checkout_dir

    @property
    def backend_dir(self) -> Path:
        """Where the Triton backend's files are in the checkout: its root up to 0.19, ``triton_backend/`` after."""
        root = self.checkout_dir
        return root if uses_backend_repo(self.answers) else root / "triton_backend"

    @property
    def tools_dir(self) -> Path:
        return self.backend_dir / "tools"

    @property
    def template_dir(self) -> Path:
        """The ``inflight_batcher_llm`` templates: as the assemble/checkout step found them, else predicted."""
        got = self.outputs.get("template_dir")
        return Path(got) if got else self.backend_dir / TEMPLATE_SUBDIR

    def template_config(self) -> Optional[Path]:
        """The checkout's ``tensorrt_llm/config.pbtxt`` template when it exists (``core.wizard.triton_config``)."""
        from ..wizard.triton_config import template_path

        return template_path(self.answers)

    # ---- the build ----------------------------------------------------------------------------------
    @property
    def build_output_dir(self) -> Optional[Path]:
        return self.path(self.answers["build.output_dir"])

    @property
    def engine_dir(self) -> Optional[Path]:
        """The engines: where the build step left them, else the prebuilt folder or the build's output folder."""
        got = self.outputs.get("engine_dir")
        if got:
            return Path(got)
        a = self.answers
        return self.path(a["build.engine_dir"]) if a["build.method"] == "prebuilt" else self.build_output_dir

    # ---- the model repository ----------------------------------------------------------------------
    @property
    def repo_dir(self) -> Optional[Path]:
        """``triton_model_repo`` (Triton layout)."""
        return self.path(self.answers["triton.repo_dir"])

    @property
    def config_pbtxt(self) -> Path:
        return self.repo_dir / "tensorrt_llm" / "config.pbtxt"

    @property
    def model_dir(self) -> Optional[Path]:
        """The model repository: the folder that gets the tokenizer files and is published (LMI's model_id)."""
        got = self.outputs.get("model_dir")
        if got:
            return Path(got)
        a = self.answers
        if triton_built_here(a):
            return self.repo_dir / "tensorrt_llm"
        method = build_method(a)
        if method == "prebuilt":
            return self.path(a["build.engine_dir"])
        if method == "lmi-partition" and resolve_layout(a) == "triton":
            return self.build_output_dir / "tensorrt_llm"  # the partition tool writes a Triton repo
        return self.build_output_dir

    @property
    def destination(self) -> Optional[str]:
        """``s3://…`` as given, or a local folder made absolute."""
        return self.outputs.get("destination") or destination_text(self.answers)

    @property
    def lmi_dir(self) -> Optional[Path]:
        return self.path(self.answers["lmi.output_dir"])
