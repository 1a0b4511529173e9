"""The wizard's answers (:class:`Answers`) and the values derived from them that fields, rules, front ends and
the pipeline share: the layout, the git tag, the build method, paths relative to the work folder, the model
reference, the destination, LMI's model_id, the build intent. Each derivation exists once, here.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Iterable, Mapping, Optional, Sequence

from ..base.errors import WizardError
from ..facts.versions import release_tuple
from .context import Context
from .schema import Field, FieldError, Kind

if TYPE_CHECKING:
    from .schema import Step

__all__ = [
    "Answers", "suggest_key", "suggest_fix", "trtllm_version", "resolve_tag", "tag_for_version", "resolve_layout",
    "uses_backend_repo", "work_path", "local_source", "model_ref", "destination_text", "lmi_model_id",
    "build_method", "builds_here", "not_prebuilt", "needs_checkout", "checkout_args", "is_triton", "checkout_dir", "examples_for", "gpu_facts",
    "build_intent", "lmi_target",
]


class Answers(MutableMapping):
    """The wizard's answers, keyed by field key; a key never set reads as its field's default.

    Secrets (kind ``secret``) are kept in memory only, never exported by :meth:`explicit`/:meth:`to_sections`.
    Setting a value parses it (``answers["build.tp"] = "2"`` stores ``2``) and raises :class:`FieldError`.
    """

    def __init__(self, values: Mapping[str, Any] | None = None, *, ctx: Context | None = None,
                 steps: Sequence[Step] | None = None) -> None:
        self.ctx = ctx if ctx is not None else Context()
        if steps is None:
            from .definition import STEPS as steps  # the definition imports this module
        self.steps = tuple(steps)
        self._fields = {f.key: f for s in self.steps for f in s.fields}
        self._values: dict[str, Any] = {}
        self._secrets: dict[str, str] = {}
        self._resolving: set[str] = set()
        for k, v in (values or {}).items():
            self[k] = v

    # mapping protocol over every field key
    def field(self, key: str) -> Field:
        try:
            return self._fields[key]
        except KeyError:
            raise FieldError(key, "no such setting", suggest_fix(key, self._fields)) from None

    def __getitem__(self, key: str) -> Any:
        f = self.field(key)
        if f.kind is Kind.SECRET:
            return self._secrets.get(key) or f.default_for(self)
        if key in self._values:
            return self._values[key]
        if key in self._resolving:  # a default that depends on itself: treat as unset
            return None
        self._resolving.add(key)
        try:
            return f.default_for(self)
        except WizardError:
            return None
        finally:
            self._resolving.discard(key)

    def __setitem__(self, key: str, value: Any) -> None:
        f = self.field(key)
        parsed = f.parse(value)
        if f.kind is Kind.SECRET:
            if parsed:
                self._secrets[key] = parsed
            else:
                self._secrets.pop(key, None)
            return
        if parsed is None:
            self._values.pop(key, None)
        else:
            self._values[key] = parsed

    def __delitem__(self, key: str) -> None:
        self.field(key)
        self._values.pop(key, None)
        self._secrets.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Answers({self.explicit()!r})"

    def is_set(self, key: str) -> bool:
        self.field(key)
        return key in self._values or key in self._secrets

    # -- derived answers: a value whose default follows other answers until the user sets it ----------------
    def is_derived(self, key: str) -> bool:
        """The value follows the answers its field is derived from (``Field.derived_from``): not set by hand."""
        return bool(self.field(key).derived_from) and not self.is_set(key)

    def derived_value(self, key: str) -> Any:
        """What the field's default derives from the current answers (None when it cannot tell)."""
        f = self.field(key)
        try:
            return f.default_for(self)
        except WizardError:
            return None

    def choose(self, key: str, value: Any) -> None:
        """The user picked ``value``: the derived value itself keeps the field following its sources (so a later
        change of the model re-derives it); any other value is set by hand."""
        f = self.field(key)
        if f.derived_from and value is not None and f.parse(value) == self.derived_value(key):
            self._values.pop(key, None)
        else:
            self[key] = value

    def derived_mismatch(self, key: str):
        """``(value, derived)`` when a hand-set value of a derived field differs from what its sources give now."""
        f = self.field(key)
        if not f.derived_from or not self.is_set(key):
            return None
        derived = self.derived_value(key)
        value = self._values.get(key)
        if derived is None or value is None or value == derived:
            return None
        return value, derived

    def clear_sections(self, sections: Iterable[str]) -> list[str]:
        """Forget every answer of these sections (back to their defaults); the keys cleared."""
        wanted = set(sections)
        gone = [k for k in list(self._values) if self._fields[k].section in wanted]
        gone += [k for k in list(self._secrets) if self._fields[k].section in wanted]
        for k in gone:
            self._values.pop(k, None)
            self._secrets.pop(k, None)
        return gone

    def set_default(self, key: str, value: Any) -> None:
        """Set only when the user has not answered yet."""
        if not self.is_set(key):
            self[key] = value

    def update_from(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            self[k] = v

    def copy(self) -> "Answers":
        new = Answers(ctx=self.ctx, steps=self.steps)
        new._values = dict(self._values)
        new._secrets = dict(self._secrets)
        return new

    def explicit(self) -> dict[str, Any]:
        """Values the user set (no defaults, no secrets)."""
        return {k: v for k, v in self._values.items() if self._fields[k].stored}

    def resolved(self, *, include_hidden: bool = False) -> dict[str, Any]:
        """Every field's current value (defaults included, secrets excluded), visible fields only
        unless ``include_hidden``; ``None`` values are left out."""
        out = {}
        for s in self.steps:
            step_visible = s.is_visible(self)
            for f in s.fields:
                if not f.stored:
                    continue
                if not include_hidden and not (step_visible and f.is_visible(self)):
                    continue
                v = self[f.key]
                if v is not None:
                    out[f.key] = v
        return out

    def section(self, name: str) -> dict[str, Any]:
        """``{"tp": 2, ...}`` for section ``build``: every field of that section, defaults included."""
        return {f.name: self[f.key] for f in self._fields.values() if f.section == name and f.stored}

    def to_sections(self, *, include_defaults: bool = True) -> dict[str, dict[str, Any]]:
        """Nested ``{section: {name: value}}`` for a recipe (secrets never included)."""
        flat = self.resolved() if include_defaults else self.explicit()
        out: dict[str, dict[str, Any]] = {}
        for s in self.steps:  # keep the steps' order
            for f in s.fields:
                if f.key in flat:
                    out.setdefault(f.section, {})[f.name] = flat[f.key]
        return out

    def secret(self, key: str) -> Optional[str]:
        """A secret's value for this process (typed in, or from its environment variable)."""
        return self[key]

    def secret_values(self) -> list[str]:
        """Every secret value known (typed in or in the environment): what redaction must hide."""
        vals = set(v for v in self._secrets.values() if v)
        for f in self._fields.values():
            if f.kind is Kind.SECRET and f.env and os.environ.get(f.env):
                vals.add(os.environ[f.env])
        return sorted(vals)

    # convenience for the callables
    @property
    def layout(self) -> str:
        return resolve_layout(self)

    @property
    def tag(self) -> Optional[str]:
        return resolve_tag(self)


def suggest_key(key: str, known: Iterable[str]) -> Optional[str]:
    known = list(known)
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if near:
        return near[0]
    tail = key.rsplit(".", 1)[-1]
    tails = {k.rsplit(".", 1)[-1]: k for k in known}
    near = difflib.get_close_matches(tail, list(tails), n=1, cutoff=0.6)
    return tails[near[0]] if near else None


def suggest_fix(key: str, known: Iterable[str]) -> str:
    near = suggest_key(key, known)
    return f"did you mean {near!r}?" if near else "see `lmi-wizard init` for every setting"


# --------------------------------------------------------------------------------------------------
# derived values used by several fields and by the pipeline


def trtllm_version(answers: Answers) -> Optional[str]:
    return answers["env.trtllm_version"]


def resolve_tag(answers: Answers) -> Optional[str]:
    """The git tag to check out: ``env.tag`` if set, else derived from the TensorRT-LLM version."""
    tag = answers["env.tag"] if answers.is_set("env.tag") else None
    if tag:
        return tag
    return tag_for_version(trtllm_version(answers))


def tag_for_version(version: str | None) -> Optional[str]:
    """``0.12.0`` → ``v0.12.0`` (derived from the version alone; the checkout step verifies the tag)."""
    if not version:
        return None
    from ..facts import versions

    try:
        return versions.resolve_tag(version).tag
    except (WizardError, ValueError):
        return None


def resolve_layout(answers: Answers) -> str:
    """``triton`` (LMI 0.25–0.32) or ``flat`` (LMI 0.33+): ``env.lmi_layout`` unless ``auto``; then from
    ``env.lmi_version`` when given, else from the TensorRT-LLM version (``core.target``)."""
    chosen = answers["env.lmi_layout"] or "auto"
    if chosen != "auto":
        return chosen
    from ..facts import target

    lmi = answers["env.lmi_version"]
    if lmi:
        try:
            found = target.layout_for_lmi(lmi)
            if found:
                return found
        except (WizardError, ValueError):
            pass
    version = trtllm_version(answers)
    if version:
        try:
            return target.layout_for_trtllm(version)
        except (WizardError, ValueError):
            pass
    return "triton"


def lmi_target(answers: Answers):
    """The LMI target (``core.facts.target.LmiTarget``) for the CURRENT answers: the LMI version when given (else
    the image this runs in, else the release that ships the TensorRT-LLM version), the layout chosen or derived.
    What screen 1's card shows and what the environment rules check; recomputed on every call (None for a
    version that cannot be read)."""
    from ..facts import target

    chosen = answers["env.lmi_layout"] or "auto"
    try:
        version = trtllm_version(answers)
        installed = answers.ctx.installed_trtllm
        return target.determine_target(trtllm_version=version, lmi_override=answers["env.lmi_version"] or None,
                                       layout_override=None if chosen == "auto" else chosen,
                                       trtllm_installed=bool(installed) and str(installed) == str(version))
    except (WizardError, ValueError):
        return None


def uses_backend_repo(answers: Answers) -> bool:
    """Up to 0.19.x the templates live in tensorrtllm_backend; from 0.20 in TensorRT-LLM/triton_backend."""
    # the tag first (a hand-set tag wins: ``v0.13.0-custom`` names the release it is based on), else the version
    tag = resolve_tag(answers)
    base = re.match(r"\s*v?\d+(?:\.\d+)+", tag) if tag else None
    parsed = (release_tuple(tag) or (release_tuple(base.group()) if base else None)
              or release_tuple(trtllm_version(answers)))
    return parsed is None or parsed < (0, 20, 0)


def work_path(answers: Answers, value: str | os.PathLike | None) -> Optional[Path]:
    """A path answer made absolute: relative paths are relative to ``checkout.work_dir``."""
    if value is None or value == "":
        return None
    p = Path(os.path.expanduser(os.fspath(value)))
    if not p.is_absolute():
        base = Path(os.path.expanduser(answers["checkout.work_dir"] or "."))
        p = base / p
    return Path(os.path.abspath(p))


def local_source(answers: Answers, value: str | os.PathLike | None) -> Optional[Path]:
    """A model or tokenizer source as a local folder (absolute; a relative one is relative to the work folder,
    like every other path answer), or None when it is a Hugging Face repo id. A value is local when it starts
    with ``/``, ``.`` or ``~``, or when a folder of that name exists in the work folder."""
    if value is None or value == "":
        return None
    text = os.fspath(value)
    p = work_path(answers, text)
    if text.startswith(("/", ".", "~")) or (p is not None and p.exists()):
        return p
    return None


def model_ref(answers: Answers, key: str = "model.source") -> Optional[str]:
    """``model.source`` (or another source field) as the builder / loader takes it: an absolute local folder,
    or the Hub repo id as written."""
    value = answers[key]
    if not value:
        return None
    local = local_source(answers, value)
    return str(local) if local is not None else str(value)


def destination_text(answers: Answers) -> Optional[str]:
    """``destination.uri`` with a local folder made absolute (relative to the work folder)."""
    dest = answers["destination.uri"]
    if not dest:
        return None
    if str(dest).lower().startswith("s3://"):
        return str(dest)
    return str(work_path(answers, dest))


def lmi_model_id(answers: Answers) -> Optional[str]:
    """The ``model_id`` LMI loads: Triton layout → the parent of the destination (two-folder rule);
    flat layout → the destination itself. None when the destination cannot work (see its validation)."""
    dest = destination_text(answers)
    if not dest:
        return None
    from .. import layout as layout_mod

    try:
        model_id, _ = layout_mod.destination_findings(dest, resolve_layout(answers))
    except WizardError:
        return None
    return model_id


# --------------------------------------------------------------------------------------------------
# the build method and where things are


def build_method(answers: Answers) -> str:
    return answers["build.method"] or "checkout"


def builds_here(answers: Answers) -> bool:
    return build_method(answers) == "checkout"


def not_prebuilt(answers: Answers) -> bool:
    return build_method(answers) != "prebuilt"


def needs_checkout(answers: Answers) -> bool:
    """Whether the run needs the checkout: to build with its example builder, or for the Triton templates."""
    method = build_method(answers)
    return method == "checkout" or (resolve_layout(answers) == "triton" and method == "prebuilt")


def checkout_args(answers: Answers) -> Optional[dict]:
    """The arguments ``core.checkout.plan_checkout``/``checkout`` take (None while the tag is unknown)."""
    tag = resolve_tag(answers)
    dest = work_path(answers, answers["checkout.dir"])
    if not tag or dest is None:
        return None
    return dict(tag=tag, dest=dest, backend_url=answers["checkout.backend_url"],
                trtllm_url=answers["checkout.trtllm_url"], depth=1 if answers["checkout.shallow"] else None)


def is_triton(answers: Answers) -> bool:
    return resolve_layout(answers) == "triton"


def checkout_dir(answers: Answers) -> Optional[Path]:
    return work_path(answers, answers["checkout.dir"])


def examples_for(answers: Answers) -> list[str]:
    return answers.ctx.examples(checkout_dir(answers))


# --------------------------------------------------------------------------------------------------
# the build step's answers as core.build takes them


def gpu_facts(ctx: "Context"):
    """``core.build.GpuFacts`` of the first visible GPU (or of the facts a front end/test set), or None."""
    from ..build import GpuFacts

    gpus = ctx.gpus
    if gpus:
        g = gpus[0]
        cc = getattr(g, "compute_capability", None)
        if cc:
            return GpuFacts.from_capability(getattr(g, "name", ""), tuple(cc), getattr(g, "memory_total_bytes", None),
                                            len(gpus))
    arch, count = ctx.gpu_arch, ctx.gpu_count
    m = re.fullmatch(r"sm(\d+)", arch or "")
    if m or count:
        return GpuFacts("", int(m.group(1)) if m else None, ctx.gpu_memory_bytes, count or 0)
    return None


def build_intent(answers: Answers, *, model_dir: str = "", output_dir: str | None = None):
    """The Build step's answers as a ``core.build.BuildIntent`` (what the renderer and the validation take).
    ``build.convert_flags`` go to convert_checkpoint.py, ``build.build_flags`` to the build step;
    ``core.build.place_flags`` moves a flag to the builder that defines it."""
    from ..build import BuildIntent

    advanced: dict = dict(answers["build.build_flags"] or {})
    convert: dict = dict(answers["build.convert_flags"] or {})
    return BuildIntent(
        model_dir=model_dir, output_dir=output_dir if output_dir is not None else str(answers["build.output_dir"]),
        dtype=answers["build.dtype"] or "float16", gemm_plugin=bool(answers["build.gemm_plugin"]),
        gpt_attention_plugin=bool(answers["build.gpt_attention_plugin"]), tp_size=answers["build.tp"] or 1,
        pp_size=answers["build.pp"] or 1, inflight_batching=bool(answers["build.inflight_batching"]),
        paged_kv_cache=answers["build.paged_kv_cache"], context_fmha=bool(answers["build.context_fmha"]),
        remove_input_padding=bool(answers["build.remove_input_padding"]),
        parallel_build=bool(answers["build.parallel_build"]), max_batch_size=answers["build.max_batch_size"],
        max_input_len=answers["build.max_input_len"], max_output_len=answers["build.max_output_len"],
        advanced=advanced, advanced_convert=convert)
