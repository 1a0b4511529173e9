"""Check a Triton ``config.pbtxt``.

Check
-----
:func:`check_text` lists every unresolved ``${name}`` outside comments with line, the field it sits in
and a kind: ``blocking`` (unquoted — Triton cannot parse the file — or a string Triton/the backend
cannot work with: ``backend``, ``gpt_model_type`` = ``${batching_strategy}``, ``gpt_model_path``, a
python model's ``tokenizer_dir``/``tokenizer_type``) or ``optional`` (a ``string_value`` parameter where
the backend falls back to its default: fill it or delete the whole ``parameters { … }`` block). It also
reports ``model_transaction_policy.decoupled``, the engine path, whether the text parses as Triton's
``inference.ModelConfig``, and whether the file still is an untouched template (fill not applied).
"""

from __future__ import annotations

import os
import re
import dataclasses
from dataclasses import dataclass

from .fill import (
    _BRACED_SCAN,
    DEFAULT_ENGINE_PATH,
    ENGINE_PATH_KEYS,
    _read_pbtxt,
    _table,
    placeholder_names,
)
from .scan import _field_label, _gc_paused, _Scan, _scan, _unquote, _Value

# --------------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------------

#: quoted parameters that stop the model at load when left as ${…} (see the backend's model_instance_state.cc)
LOAD_FATAL_PARAMS = {
    "gpt_model_type": "the tensorrtllm backend stops on a gpt_model_type other than "
                      "V1/inflight_batching/inflight_fused_batching",
    "gpt_model_path": "the tensorrtllm backend finds no engine (\"Both encoder and decoder model paths are empty\")",
}
#: the same for python models (preprocessing/postprocessing load their tokenizer from these)
LOAD_FATAL_PYTHON_PARAMS = {
    "tokenizer_dir": "the python model cannot load its tokenizer",
    "tokenizer_type": "the python model rejects an unknown tokenizer_type",
}


@dataclass(slots=True)
class Placeholder:
    """A ``${…}`` left in a config.pbtxt: where it is and whether it blocks loading (a placeholder record,
    not a problem-with-fix: ``reason``/``fix`` say why it matters and what value it wants)."""

    file: str
    line: int
    name: str
    field: str
    kind: str  # "blocking" | "optional"
    reason: str = ""
    fix: str = ""
    param: str | None = None  # the parameters key, when it sits in a parameters block

    def to_json(self) -> dict:  # = dataclasses.asdict(self), without its deep copy (a big file has 100k's)
        return {"file": self.file, "line": self.line, "name": self.name, "field": self.field, "kind": self.kind,
                "reason": self.reason, "fix": self.fix, "param": self.param}


@dataclass
class CheckReport:
    file: str
    findings: list[Placeholder]
    parses: bool | None  # None: tritonclient/protobuf not installed
    parse_error: str | None
    decoupled: dict
    engine_path: dict
    notes: list[str]
    untouched_template_of: list[str]
    #: values the backend rejects or ignores (:func:`.values.value_findings`; only with ``values=True``)
    values: list = dataclasses.field(default_factory=list)

    @property
    def blocking(self) -> list[Placeholder]:
        return [f for f in self.findings if f.kind == "blocking"]

    @property
    def optional(self) -> list[Placeholder]:
        return [f for f in self.findings if f.kind == "optional"]

    @property
    def ok(self) -> bool:
        """Nothing blocks: no blocking placeholder and the file parses (or parsing could not be tried)."""
        return not self.blocking and self.parses is not False and not self.values

    def to_json(self) -> dict:
        return {
            "file": self.file, "parses": self.parses, "parse_error": self.parse_error, "ok": self.ok,
            "blocking": len(self.blocking), "optional": len(self.optional),
            "decoupled": self.decoupled, "engine_path": self.engine_path, "notes": self.notes,
            "untouched_template_of": self.untouched_template_of,
            "findings": [f.to_json() for f in self.findings],
            "values": [f.to_json() for f in self.values],
        }


class _Lines:
    """Line numbers for increasing offsets in linear total time."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        if offset < self.pos:
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.line


def parse_model_config(text: str) -> tuple[bool | None, str | None]:
    """Does ``text`` parse as Triton's ``inference.ModelConfig``? (None when tritonclient is missing)."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except ImportError:  # pragma: no cover - both are runtime deps
        return None, "tritonclient[grpc] / protobuf not installed: cannot parse as inference.ModelConfig"
    try:
        text_format.Parse(text, model_config_pb2.ModelConfig())
    except text_format.ParseError as exc:
        return False, str(exc)
    except Exception as exc:  # protobuf may raise others on odd input
        return False, f"{type(exc).__name__}: {exc}"
    return True, None


def _parse_model_config(text: str, sc: _Scan) -> tuple[bool | None, str | None]:
    """:func:`parse_model_config`, cut short when the scan found an unquoted ``${…}``: protobuf's text parser
    stops at the first bad token, so parsing up to the end of that line gives the same error (same line and
    column) without splitting the rest of a big file."""
    first = min((v.start for v in sc.values if v.kind == "ph"), default=None)
    end = text.find("\n", first) if first is not None else -1
    if end >= 0:
        parses, err = parse_model_config(text[:end])
        at = re.match(r"(\d+):(\d+) :", err or "")
        line_start = text.rfind("\n", 0, first) + 1
        # the same error only when it is at or before the $ (an error at the cut would be the prefix's own end)
        if parses is False and at and (int(at[1]), int(at[2])) <= (text.count("\n", 0, first) + 1,
                                                                    first - line_start + 1):
            return parses, err
    return parse_model_config(text)


def _top_value(sc: _Scan, name: str) -> _Value | None:
    for v in sc.values:
        if not v.path and v.field == name:
            return v
    return None


def check_text(text: str, path: str | os.PathLike = "config.pbtxt", *,
               expected_engine_path: str | None = DEFAULT_ENGINE_PATH, parse: bool = True,
               values: bool = False, tag: str | None = None, engine_config=None) -> CheckReport:
    """Review a config.pbtxt: unresolved placeholders, decoupled, engine path, parse result. With ``values``,
    also the parameter values the backend of ``tag`` rejects or ignores (:func:`.values.value_findings`;
    ``engine_config``: the engine's config.json, file or folder, for the KV-cache size rule) — they block."""
    with _gc_paused():
        rep = _check_text(text, path, expected_engine_path=expected_engine_path, parse=parse)
    if values:
        from .edit import parameter_blocks
        from .values import value_findings

        rep.values = value_findings(parameter_blocks(text), tag, engine_config, path=rep.file)
    return rep


def _findings(sc: _Scan, lines: _Lines, file: str, is_python: bool) -> list[Placeholder]:
    """Every unresolved ``${name}`` outside comments, with its line, field and kind: ``blocking`` (unquoted, a
    load-fatal parameter, ``backend``/``platform``, any other string) or ``optional`` (a ``string_value``
    parameter the backend falls back on). One loop with no calls per value: a big file has 100k's of them."""
    findings: list[Placeholder] = []
    for v in sc.values:
        raw = v.raw
        if v.kind == "ph":
            names = [raw[2:-1]]
        elif v.kind == "str" and "${" in raw:
            if raw.startswith('"${') and raw.find("}") == len(raw) - 2 and raw.count("$") == 1:
                names = [raw[3:-2]]  # the usual "${name}"
            else:
                names = [n for n, closed in _BRACED_SCAN.findall(raw) if closed]
        else:
            continue
        if not names:
            continue
        line = lines.at(v.start)
        if v.label is not None:
            fld, param = v.label, v.param
        else:
            fld = _field_label(v.path, v.field)
            param = next((f.key for f in v.path if f.name == "parameters" and f.key is not None), None)
        for name in names:
            if v.kind == "ph":
                kind, reason = "blocking", "unquoted: Triton cannot parse the file until it is filled"
                fix = f"fill `{name}`"
            elif param is not None and not is_python and param in LOAD_FATAL_PARAMS:
                kind, reason, fix = "blocking", LOAD_FATAL_PARAMS[param], f"fill `{name}`"
            elif param is not None and is_python and param in LOAD_FATAL_PYTHON_PARAMS:
                kind, reason, fix = "blocking", LOAD_FATAL_PYTHON_PARAMS[param], f"fill `{name}`"
            elif param is not None:
                kind = "optional"
                reason = "string_value parameter: the backend falls back to its default when it cannot read it"
                fix = f'fill `{name}` or delete the whole parameters {{ key: "{param}" … }} block'
            elif not v.path and v.field in ("backend", "platform"):
                kind, reason = "blocking", f"Triton looks for a backend literally named `{_unquote(v.raw)}` and fails to load"
                fix = f"fill `{name}` (tensorrt_llm: `tensorrtllm`)"
            else:
                kind, reason, fix = "blocking", "Triton uses this string literally", f"fill `{name}`"
            findings.append(Placeholder(file, line, name, fld, kind, reason, fix, param))
    return findings


def _decoupled(sc: _Scan, lines: _Lines, notes: list[str]) -> dict:
    """``model_transaction_policy.decoupled``: value, line and state; a note when it is not the tutorial's True."""
    dec: dict = {"value": None, "line": None, "state": "missing"}
    for v in sc.values:
        if len(v.path) == 1 and v.path[0].name == "model_transaction_policy" and v.field == "decoupled":
            dec = {"value": v.raw, "line": lines.at(v.start)}
            # protobuf's text format booleans, exactly (it rejects "TRUE"; Triton parses with it)
            dec["state"] = "placeholder" if v.kind == "ph" else (
                "true" if v.raw in ("true", "True", "t", "1") else
                "false" if v.raw in ("false", "False", "f", "0") else "invalid")
            break
    if dec["state"] == "missing":
        notes.append("no model_transaction_policy { decoupled: … }: Triton treats the model as not decoupled; "
                     "the tutorial sets decoupled: True")
    elif dec["state"] == "false":
        notes.append(f"decoupled is {dec['value']} (line {dec['line']}); the tutorial sets "
                     "model_transaction_policy { decoupled: True }")
    elif dec["state"] == "invalid":
        notes.append(f"decoupled has the value {dec['value']!r} (line {dec['line']}), which is not a boolean")
    return dec


def _engine_state(val: str, expected_engine_path: str | None) -> str:
    if "${" in val:
        return "placeholder"
    if not val:
        return "empty"
    if not val.startswith("/"):
        return "relative"
    if expected_engine_path and val.rstrip("/") == expected_engine_path.rstrip("/"):
        return "ok"
    return "other_container_path" if val.startswith("/opt/ml/model/") else "host_path"


def _engine_path(sc: _Scan, lines: _Lines, expected_engine_path: str | None) -> dict:
    """The engine path parameter (``gpt_model_path``…): key, value, line and state."""
    eng: dict = {"param": None, "value": None, "line": None, "state": "missing", "expected": expected_engine_path}
    for pb in sc.params:
        if pb.key in ENGINE_PATH_KEYS:
            eng.update(param=pb.key, value=pb.value,
                       line=lines.at(pb.value_span[0]) if pb.value_span else lines.at(pb.start))
            eng["state"] = _engine_state(pb.value or "", expected_engine_path)
            break
    return eng


def _engine_note(eng: dict, backend: str | None, expected_engine_path: str | None) -> str | None:
    """What to say about the engine path of a tensorrtllm model (None: nothing)."""
    if not (backend in ("tensorrtllm", "${triton_backend}") or (eng["param"] is not None)):
        return None
    msgs = {
        "placeholder": f"engine path {eng['param']} is still a placeholder; inside the LMI container it must be "
                       f"{expected_engine_path}",
        "empty": f"engine path {eng['param']} is empty; it must be {expected_engine_path}",
        "relative": f"engine path {eng['value']!r} is relative; it must be the path inside the serving "
                    f"container, {expected_engine_path}",
        "host_path": f"engine path {eng['value']!r} looks like a path on this machine; inside the LMI container "
                     f"the engines are at {expected_engine_path}",
        "other_container_path": f"engine path {eng['value']!r} differs from {expected_engine_path}: make sure the "
                                "folder name matches the one uploaded",
        "missing": "no gpt_model_path parameter: the tensorrtllm backend cannot find the engines",
    }
    if eng["state"] in msgs and not (eng["state"] == "missing" and backend is None):
        return msgs[eng["state"]]
    return None


def _untouched(text: str, findings: list[Placeholder], notes: list[str]) -> list[str]:
    """The upstream templates (``tag/model``) whose live placeholders are exactly the file's: no fill applied.
    Every name found is live, so only a template holding all of them can match: a file with other names skips
    the whole-text pass."""
    found = {f.name for f in findings}
    candidates = [(f"{tag}/{model}", set(v["live"])) for model, tags in _table().items()
                  for tag, v in tags.items() if found <= set(v["live"])]
    live = placeholder_names(text)[0] if candidates else found
    if not live:
        return []
    untouched = [name for name, tlive in candidates if tlive == live]
    if untouched:
        notes.append("the file still has every placeholder of the upstream template "
                     f"({', '.join(untouched[:3])}{'…' if len(untouched) > 3 else ''}): no fill was applied — "
                     "fill_template.py without -i only prints the result")
    return untouched


def _check_text(text: str, path: str | os.PathLike, *, expected_engine_path: str | None, parse: bool) -> CheckReport:
    file = str(path)
    sc = _scan(text)
    lines = _Lines(text)
    backend_v = _top_value(sc, "backend")
    backend = _unquote(backend_v.raw) if backend_v is not None and backend_v.kind == "str" else None
    findings = _findings(sc, lines, file, backend == "python")
    notes: list[str] = []
    dec = _decoupled(sc, lines, notes)
    eng = _engine_path(sc, lines, expected_engine_path)
    eng_note = _engine_note(eng, backend, expected_engine_path)
    if eng_note:
        notes.append(eng_note)
    untouched = _untouched(text, findings, notes)
    parses, perr = (_parse_model_config(text, sc) if parse else (None, "not tried"))
    if sc.bad is not None:
        notes.append(f"unreadable character at line {lines.at(sc.bad)}")
    return CheckReport(file, findings, parses, perr, dec, eng, notes, untouched)


def check_file(path: str | os.PathLike, *, expected_engine_path: str | None = DEFAULT_ENGINE_PATH,
               values: bool = False, tag: str | None = None, engine_config=None) -> CheckReport:
    return check_text(_read_pbtxt(path), path, expected_engine_path=expected_engine_path, values=values, tag=tag,
                      engine_config=engine_config)
