"""Recipes: every answer of the wizard as a TOML file, and the wizard's saved state.

A recipe has one table per section of :data:`core.wizard.FIELDS` (``[env]``, ``[checkout]``, ``[model]``,
``[build]``, ``[triton]``, ``[tokenizer]``, ``[destination]``, ``[lmi]``)::

    format = 1

    [model]
    source = "baichuan-inc/Baichuan-13B-Chat"
    example = "baichuan"

    [build]
    tp = 2

Anything not written takes the field's default. Secrets are never written and never read: a token or
an AWS key found in a recipe is refused (they come from the environment: ``HF_TOKEN``, boto3's chain).

The wizard state (``~/.config/lmi-wizard/state.toml`` unless ``--state FILE`` / ``$LMI_WIZARD_STATE``) is the
same recipe (the answers the user gave so far, defaults left dynamic) plus ``[wizard] last_step``, saved as
the user goes so that reopening resumes at the last screen.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Mapping, Optional

from ..base.errors import WizardError
from ..base.fsutil import atomic_write_text, read_text
from ..base.findings import Finding
from ..base.secrets import CREDENTIAL_ENV
from .answers import Answers, builds_here, suggest_key
from .context import Context
from .definition import FIELDS, STEPS, step as _step, validate_all
from .schema import FieldError, Kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "FORMAT", "MAX_RECIPE_BYTES", "loads_recipe", "load_recipe", "dumps_recipe", "save_recipe",
    "missing_required", "check_recipe", "template_recipe", "WizardState", "default_state_path",
    "load_state", "save_state", "clear_state", "SECRET_KEY_RE", "SECRET_VALUE_RE", "ineffective",
]

FORMAT = 1
MAX_RECIPE_BYTES = 1 << 20
SECTIONS = tuple(dict.fromkeys(f.section for f in FIELDS.values()))
# keys that look like credentials, refused wherever they appear in a recipe
SECRET_KEY_RE = re.compile(r"(secret|(^|_)(hf_)?tokens?($|_)|password|passwd|access_key|session_key|api_key|"
                           r"credential)", re.I)
# values that are credentials whatever key holds them: Hugging Face tokens, AWS access key ids, a password in a URL
SECRET_VALUE_RE = re.compile(r"hf_[A-Za-z0-9]{20,}|(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])|"
                             r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]+:[^/@\s]+@")
# keys inside a [triton] substitutions / [build] convert_flags / build_flags table that name a credential (narrower than
# SECRET_KEY_RE: pbtxt keys such as max_tokens_in_paged_kv_cache are not secrets)
_SECRET_SUBKEY_RE = re.compile(r"(secret|password|passwd|access_key|session_key|api_key|hf_token|auth_token|"
                               r"credential)", re.I)
_SECRET_ENV = CREDENTIAL_ENV  # core.base.secrets: the one list
_TOP_LEVEL = {"format"}
# older names a recipe (or a saved state) may still use → the field they mean
ALIASES = {"build.extra_flags": "build.build_flags"}
_STATE_SECTION = "wizard"


# --------------------------------------------------------------------------------------------------
# reading


def loads_recipe(text: str, *, source: str = "recipe", ctx: Context | None = None,
                 allow_state: bool = False, require: bool = True) -> Answers:
    """Parse recipe text into :class:`Answers`. Raises one :class:`WizardError` naming every problem:
    TOML syntax, unknown section/key (with a suggestion), a secret, a wrong type, a missing required value."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WizardError(f"{source} is not valid TOML: {exc}",
                          "fix the line named above (strings need quotes, one [section] per step)") from None
    answers, _ = _answers_from_data(data, source=source, ctx=ctx, allow_state=allow_state)
    if require:
        unused = ineffective(answers)
        if unused:
            key, why, fix = unused[0]
            f = FIELDS[key]
            more = f" (and {len(unused) - 1} more: " + ", ".join(k for k, _, _ in unused[1:4]) + ")" \
                if len(unused) > 1 else ""
            raise WizardError(f"{source}: [{f.section}] {f.name} has no effect: {why}{more}", fix)
        missing = missing_required(answers)
        if missing:
            lines = [f"{p.key} is required" for p in missing]
            f = FIELDS[missing[0].key]
            example = f.placeholder or "…"
            raise WizardError(f"{source}: " + "; ".join(lines),
                              f"add `{f.name} = \"{example}\"` under [{f.section}]")
    return answers


def _answers_from_data(data: Mapping[str, Any], *, source: str, ctx: Context | None,
                       allow_state: bool) -> tuple[Answers, dict]:
    answers = Answers(ctx=ctx)
    problems: list[str] = []
    fixes: list[str] = []
    extra: dict = {}
    fmt = data.get("format", FORMAT)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt > FORMAT or fmt < 1:
        raise WizardError(f"{source}: recipe format {fmt!r} is not supported (this lmi-wizard reads format "
                          f"{FORMAT})", "upgrade lmi-wizard or write the recipe again with `lmi-wizard init`")
    for sec, body in data.items():
        if sec in _TOP_LEVEL:
            continue
        if allow_state and sec == _STATE_SECTION:
            if isinstance(body, dict):
                extra = dict(body)
            continue
        if sec not in SECTIONS and SECRET_KEY_RE.search(sec):
            problems.append(f"[{sec}] looks like a secret; recipes never hold secrets")
            fixes.append("remove it and set HF_TOKEN / the AWS credentials in the environment")
            continue
        if sec not in SECTIONS:
            near = suggest_key(sec, SECTIONS)
            if not isinstance(body, dict):
                problems.append(f"unknown top-level key {sec!r}")
            else:
                problems.append(f"unknown section [{sec}]")
            fixes.append(f"did you mean [{near}]?" if near else f"sections are {', '.join('[' + s + ']' for s in SECTIONS)}")
            continue
        if not isinstance(body, dict):
            problems.append(f"{sec} must be a [{sec}] table, not a value")
            fixes.append(f"write [{sec}] on its own line and its settings below it")
            continue
        for name, value in body.items():
            key = f"{sec}.{name}"
            if key in ALIASES:  # e.g. [build] extra_flags, the earlier name of build_flags
                new = ALIASES[key]
                if new.split(".", 1)[1] in body:
                    problems.append(f"[{sec}] {name} and {new.split('.', 1)[1]} are the same setting, given twice")
                    fixes.append(f"keep only {new.split('.', 1)[1]} ({name} is its older name)")
                    continue
                key = new
            f = FIELDS.get(key)
            if f is None or not f.stored:
                if SECRET_KEY_RE.search(name) or (f is not None and not f.stored):
                    env = f.env if f is not None and f.env else "the environment"
                    problems.append(f"[{sec}] {name}: recipes never hold secrets")
                    fixes.append(f"remove it; set {env} instead" if f is not None
                                 else "remove it; tokens and AWS keys come from the environment")
                    continue
                near = suggest_key(key, [k for k, ff in FIELDS.items() if ff.stored])
                problems.append(f"[{sec}] {name}: unknown setting")
                if near:
                    ns, nn = near.split(".", 1)
                    fixes.append(f"did you mean `{nn}` under [{ns}]?" if ns != sec else f"did you mean `{nn}`?")
                else:
                    fixes.append(f"see `lmi-wizard init` for the settings of [{sec}]")
                continue
            leak = _secret_in(value)
            if leak:
                problems.append(f"[{sec}] {name}: {leak}; recipes never hold secrets")
                fixes.append("remove it: HF_TOKEN and the AWS credentials come from the environment "
                             "(a mirror URL's password from git's credential helper)")
                continue
            try:
                answers[key] = value
            except FieldError as exc:
                problems.append(f"[{sec}] {name}: {exc.message}")
                if exc.fix:
                    fixes.append(exc.fix)
    if problems:
        more = f" (and {len(problems) - 1} more: " + "; ".join(problems[1:4]) + (" …" if len(problems) > 4 else "") + ")" \
            if len(problems) > 1 else ""
        raise WizardError(f"{source}: {problems[0]}{more}", fixes[0] if fixes else None)
    return answers, extra


def _secret_in(value: Any) -> Optional[str]:
    """What in a recipe value looks like a credential (a token-shaped string, a password in a URL, a key of
    an inner table naming a secret), or None."""
    if isinstance(value, str):
        m = SECRET_VALUE_RE.search(value)
        if m:
            return "a password in a URL" if "://" in m.group() else "a token or access key"
        for name in _SECRET_ENV:  # a secret of this environment, whatever its shape
            v = os.environ.get(name)
            if v and len(v) >= 8 and v in value:
                return f"the value of ${name}"
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if _SECRET_SUBKEY_RE.search(str(k)):
                return f"{k!r} names a secret"
            found = _secret_in(v) or _secret_in(str(k))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for v in value:
            found = _secret_in(v)
            if found:
                return found
    return None


# why a field has no effect with the other answers (the fix names what would make it apply)
_NO_EFFECT = {
    "build.engine_dir": ("it is only read when [build] method = \"prebuilt\"", "remove it, or set method = \"prebuilt\""),
    "checkout.backend_url": ("from TensorRT-LLM 0.20 on there is no tensorrtllm_backend to clone",
                             "remove it (trtllm_url is the only remote from 0.20)"),
    "destination.endpoint_url": ("it only applies to an s3:// destination", "remove it, or use an s3:// uri"),
    "destination.region": ("it only applies to an s3:// destination", "remove it, or use an s3:// uri"),
    "destination.profile": ("it only applies to an s3:// destination", "remove it, or use an s3:// uri"),
}


def ineffective(answers: Answers) -> list[tuple[str, str, str]]:
    """Settings given explicitly that these answers never read, as ``(key, why, fix)``: a [triton] value in a
    recipe for the flat layout, builder flags with a prebuilt engine folder, an endpoint for a local folder…
    Usually a recipe written for another setup; silently ignoring them would hide it."""
    out = []
    explicit = answers.explicit()
    for s in STEPS:
        step_visible = s.is_visible(answers)
        for f in s.fields:
            if f.key not in explicit or (step_visible and f.is_visible(answers)):
                continue
            if not step_visible and s.key == "triton":
                why = (f"the [triton] config.pbtxt step is only for the Triton layout (LMI 0.25–0.32); this recipe "
                       f"is for the {answers.layout} layout (TensorRT-LLM {answers['env.trtllm_version'] or '?'})")
                fix = "remove the [triton] section, or set lmi_layout = \"triton\" under [env] if LMI ≤ 0.32 serves it"
            elif f.key in _NO_EFFECT:
                why, fix = _NO_EFFECT[f.key]
            elif f.visible_if is builds_here or f.key == "model.example":
                # (tp, pp, dtype, max_batch_size stay meaningful with a prebuilt folder: they are checked
                # against it and fill config.pbtxt)
                method = answers["build.method"] or "checkout"
                why = f"[build] method = \"{method}\" does not use it"
                fix = "remove it, or change [build] method"
            else:
                continue
            out.append((f.key, why, fix))
    return out


def load_recipe(path: str | os.PathLike, *, ctx: Context | None = None, require: bool = True) -> Answers:
    """Read a recipe file (see :func:`loads_recipe`).

    Relative paths: ``[checkout] work_dir`` (default ``.``) is relative to the folder that holds the recipe
    file, whatever the current directory; every other path (checkout, engines, model repository, a local
    model or tokenizer folder, a local destination, the LMI configs) is relative to the work folder. The
    loaded answers carry the work folder as an absolute path."""
    p = Path(os.path.expanduser(os.fspath(path)))
    text = read_text(p, what="recipe", max_bytes=MAX_RECIPE_BYTES)
    answers = loads_recipe(text, source=str(path), ctx=ctx, require=require)
    work = Path(os.path.expanduser(answers["checkout.work_dir"] or "."))
    answers["checkout.work_dir"] = os.path.abspath(Path(os.path.abspath(p)).parent / work)
    return answers


def missing_required(answers: Answers) -> list[Finding]:
    """Required fields of the visible steps that have no value (neither answered nor defaulted)."""
    out = []
    for s in STEPS:
        if not s.is_visible(answers):
            continue
        for f in s.visible_fields(answers):
            if f.required and f.stored:
                v = answers[f.key]
                if v is None or v == "":
                    out.append(Finding("error", "required", "required", key=f.key))
    return out


def check_recipe(answers: Answers) -> list[Finding]:
    """Every problem of every visible step (what ``run`` refuses to start with when one is blocking)."""
    return validate_all(answers)


# --------------------------------------------------------------------------------------------------
# writing


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_str(k)


def _toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = repr(v)
        return r if any(c in r for c in ".en") else r + ".0"
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to a recipe")


def _comment(text: str, width: int = 100) -> list[str]:
    import textwrap

    return ["# " + line for line in textwrap.wrap(text, width - 2)] or ["#"]


def dumps_recipe(answers: Answers, *, include_defaults: bool = True, comments: bool = True,
                 header: str | None = None, state: Mapping[str, Any] | None = None, pin: bool = True,
                 keep_ineffective: bool = False) -> str:
    """The recipe text of ``answers``. What the user set is written as values, and so is what describes the
    machine it was made on (``Field.pin``: the TensorRT-LLM version). With ``include_defaults`` every other
    visible setting is shown as a commented-out line with its current (default) value, so the file documents
    the whole run while a default that follows other answers (the tag from the version, the engine folder
    from TP …) keeps following them when the recipe is edited. Secrets are never written."""
    explicit = answers.explicit()
    resolved = answers.resolved()
    # answers these settings make unused (a [triton] value after switching to the flat layout) are written
    # commented out: the recipe must load again (see ineffective); the wizard state keeps them
    unused = set() if keep_ineffective else {k for k, _, _ in ineffective(answers)}
    lines: list[str] = []
    if header:
        lines += _comment(header)
    elif comments:
        lines += ["# lmi-wizard recipe: `lmi-wizard run THIS_FILE` replays it, `lmi-wizard plan THIS_FILE` prints",
                  "# the equivalent shell script. Lines starting with `# name =` show defaults: uncomment to pin.",
                  "# Secrets are never stored here: HF_TOKEN and the AWS credentials come from the environment."]
    lines.append(f"format = {FORMAT}")
    if state:
        lines += ["", f"[{_STATE_SECTION}]"]
        for k, v in state.items():
            if v is not None:
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for sec in SECTIONS:
        body: list[str] = []
        for f in (ff for s in STEPS for ff in s.fields if ff.section == sec):
            if not f.stored:
                continue
            if f.key in unused:
                if not include_defaults:
                    continue
                v, commented = explicit[f.key], True
            elif f.key in explicit or (pin and f.key in resolved and f.pins(resolved[f.key])):
                v, commented = (explicit[f.key] if f.key in explicit else resolved[f.key]), False
            elif include_defaults and f.key in resolved:
                v, commented = resolved[f.key], True
            else:
                continue
            line = f"{'# ' if commented else ''}{_toml_key(f.name)} = {_toml_value(v)}"
            if comments:
                line += f"  # {f.label}" + (" (no effect with these answers)" if f.key in unused
                                            else " (default)" if commented else "")
            body.append(line)
        if body:
            lines += ["", f"[{sec}]", *body]
    text = "\n".join(lines) + "\n"
    _assert_no_secret_values(text, answers)
    return text


def _assert_no_secret_values(text: str, answers: Answers) -> None:
    for secret in answers.secret_values():
        if secret and len(secret) >= 4 and secret in text:
            raise WizardError("refusing to write a recipe that contains a secret value",
                              "remove the token/key from the answers; secrets come from the environment")


def save_recipe(path: str | os.PathLike, answers: Answers, *, include_defaults: bool = True,
                force: bool = True) -> Path:
    """Write the recipe atomically. With ``force=False`` an existing file is refused."""
    path = Path(os.path.expanduser(os.fspath(path)))
    if not force and path.exists():
        raise WizardError(f"{path} already exists", "choose another name or pass --force to overwrite it")
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, dumps_recipe(answers, include_defaults=include_defaults))
    return path


def template_recipe(answers: Answers | None = None) -> str:
    """A commented template of every setting (``lmi-wizard init``): required ones filled with an example,
    the rest commented out with their default, each with its help text."""
    answers = answers if answers is not None else Answers()
    unused = {k for k, _, _ in ineffective(answers)}
    lines = [
        "# lmi-wizard recipe — every answer of the wizard, replayable headless:",
        "#   lmi-wizard plan  THIS_FILE   prints the equivalent shell script (nothing runs)",
        "#   lmi-wizard run   THIS_FILE   runs the whole pipeline (--resume to skip finished steps)",
        "# Uncomment and change what you need; anything left out takes the default shown.",
        "# Paths: work_dir is relative to the folder of this file; every other path is relative to work_dir.",
        "# Secrets are never read from here: set HF_TOKEN and the AWS credentials in the environment.",
        f"format = {FORMAT}",
    ]
    for s in STEPS:
        stored = [f for f in s.fields if f.stored]
        if not stored:
            continue
        by_section: dict[str, list] = {}
        for f in stored:
            by_section.setdefault(f.section, []).append(f)
        lines.append("")
        lines.append(f"# ---- {s.title} " + "-" * max(4, 90 - len(s.title)))
        lines += _comment(s.help)
        for sec, fields in by_section.items():
            lines.append("")
            lines.append(f"[{sec}]")
            for f in fields:
                lines.append("")
                desc = f"{f.label}: {f.help}"
                if f.kind is Kind.CHOICE and not callable(f.choices):
                    desc += " One of: " + ", ".join(str(c.value) for c in f.options()) + "."
                if f.advanced:
                    desc += " (advanced)"
                lines += _comment(desc)
                value = answers[f.key] if answers.is_set(f.key) else None
                if value is None:
                    try:
                        value = f.default_for(answers)
                    except WizardError:
                        value = None
                if f.key in unused:
                    lines.append(f"# {_toml_key(f.name)} = {_toml_value(value)}  # no effect with these answers")
                elif answers.is_set(f.key) or (f.required and value in (None, "")):
                    # what the user must give: written out, with the example when there is no value
                    shown = value if value not in (None, "") else (f.placeholder or "")
                    lines.append(f"{_toml_key(f.name)} = {_toml_value(shown)}")
                elif value is None or value == "":
                    # uncommented as it is, the line must still be valid TOML of the right type
                    example = f.placeholder or {Kind.INT: 1, Kind.FLOAT: 1.0, Kind.BOOL: False, Kind.LIST: [],
                                                Kind.MAPPING: {}}.get(f.kind, "")
                    lines.append(f"# {_toml_key(f.name)} = {_toml_value(example)}")
                else:
                    lines.append(f"# {_toml_key(f.name)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# wizard state: answers saved as the user goes, resumed at the last screen


@dataclass
class WizardState:
    answers: Answers
    last_step: Optional[str] = None
    updated: Optional[str] = None  # ISO time of the last save
    path: Optional[Path] = None
    extra: dict = dc_field(default_factory=dict)


def default_state_path() -> Path:
    """``$LMI_WIZARD_STATE``, else ``$XDG_CONFIG_HOME/lmi-wizard/state.toml`` (``~/.config/...``)."""
    env = os.environ.get("LMI_WIZARD_STATE")
    if env:
        return Path(os.path.expanduser(env))
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "lmi-wizard" / "state.toml"


def _state_path(path: str | os.PathLike | None) -> Path:
    return Path(os.path.expanduser(os.fspath(path))) if path else default_state_path()


def load_state(path: str | os.PathLike | None = None, *, ctx: Context | None = None) -> WizardState:
    """The saved answers and last screen; a fresh state when there is no file yet. A damaged or
    outdated file is a WizardError naming it (the front end may offer to start over)."""
    p = _state_path(path)
    if not p.exists():
        return WizardState(Answers(ctx=ctx), None, None, p)
    text = read_text(p, what="wizard state file", max_bytes=MAX_RECIPE_BYTES)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WizardError(f"wizard state {p} is damaged: {exc}",
                          f"delete {p} to start over, or pass --state with another file") from None
    try:
        answers, extra = _answers_from_data(data, source=f"wizard state {p}", ctx=ctx, allow_state=True)
    except WizardError as exc:
        raise WizardError(exc.problem, f"{exc.fix + '; or ' if exc.fix else ''}delete {p} to start over") from None
    last = extra.get("last_step")
    if last is not None:
        try:
            _step(str(last))
        except WizardError:
            last = None
    return WizardState(answers, last, extra.get("updated"), p, extra)


def save_state(state: WizardState, path: str | os.PathLike | None = None) -> Path:
    """Save the answers the user gave (defaults stay dynamic) and the current screen, atomically."""
    p = _state_path(path or state.path)
    p.parent.mkdir(parents=True, exist_ok=True)
    state.updated = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    meta = {"last_step": state.last_step, "updated": state.updated}
    text = dumps_recipe(state.answers, include_defaults=False, comments=False, pin=False, keep_ineffective=True,
                        header="lmi-wizard state: the answers given so far and the last screen. "
                               "Safe to delete (the wizard then starts over).", state=meta)
    atomic_write_text(p, text, mode=0o600)
    state.path = p
    return p


def clear_state(path: str | os.PathLike | None = None) -> None:
    p = _state_path(path)
    try:
        p.unlink()
    except FileNotFoundError:
        pass
