"""The LMI (DJL Serving) image of a release, per region: the AWS Deep Learning Containers URI."""

from __future__ import annotations

import re
from typing import Optional

from ..base.errors import WizardError
from ..data import load as load_table
from ..facts import target

__all__ = ["release_of", "image_uri", "image_python", "ENTRYPOINT"]

ENTRYPOINT = "/usr/local/bin/dockerd-entrypoint.sh"  # the image's own: CUDA compat setup, then runs any command
_IMAGE_RE = re.compile(r"[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})")


def release_of(lmi_version: Optional[str], trtllm_version: Optional[str]) -> dict:
    """The release row (``data/lmi_releases.json``) a recipe deploys to: its ``[env] lmi_version``, else the
    release shipping its TensorRT-LLM."""
    if lmi_version:
        row = target.release_for_lmi(lmi_version)
        if row:
            return row
        raise WizardError(f"LMI {lmi_version} is not in the release table", "set [env] lmi_version to a listed "
                          "release, or pass --image URI")
    if trtllm_version:
        rows, exact = target.releases_for_trtllm(trtllm_version)
        if rows and exact:
            return rows[-1]
    raise WizardError(f"no LMI release ships TensorRT-LLM {trtllm_version}",
                      "set [env] lmi_version, or pass --image URI and --python-version")


def _registry(region: str) -> str:
    accounts = load_table("sagemaker.json")["dlc_registries"]
    acct = accounts.get(region)
    if acct is None:
        raise WizardError(f"the Deep Learning Containers have no registry in {region}",
                          f"use a region with one ({', '.join(sorted(accounts)[:6])} …), or pass --image URI")
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"{acct}.dkr.ecr.{region}{suffix}"


def image_uri(release: dict, region: str, override: Optional[str] = None) -> str:
    """The image URI of ``release`` in ``region`` (or ``override``, checked for shape)."""
    if override:
        if not _IMAGE_RE.fullmatch(override) or len(override) > 255:
            raise WizardError(f"--image {override!r} is not an image URI",
                              "write REGISTRY/REPOSITORY:TAG, e.g. 763104351884.dkr.ecr.us-east-1.amazonaws.com/"
                              "djl-inference:0.33.0-tensorrtllm0.21.0-cu128")
        return override
    tmpl = release.get("image")
    if not tmpl:
        raise WizardError(f"no published SageMaker image of LMI {release['lmi']} is known to lmi-wizard",
                          "pass --image URI (and --python-version of its Python)")
    repo = tmpl.split("/", 1)[1]
    return f"{_registry(region)}/{repo}"


def image_python(release: dict, override: Optional[str] = None) -> str:
    """The Python (``3.12``) of the image, for the wheelhouse."""
    py = override or release.get("python")
    if not py or not re.fullmatch(r"3\.\d{1,2}", py):
        raise WizardError(f"the Python of the LMI {release.get('lmi')} image is not known",
                          "pass --python-version 3.X (the image's `python3 --version`)")
    return py
