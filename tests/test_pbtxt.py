"""core/pbtxt: semantics per tag, substitution parsing, key errors, check and transforms over EVERY
upstream template in fixtures/pbtxt (tags v0.5.0 … v0.19.0 and TensorRT-LLM 1.1.0rc6)."""

from __future__ import annotations

import json
from pathlib import Path
import re
import string

import pytest

from lmi_wizard.core import triton as pbtxt  # the config.pbtxt API (fill, check, edit)
from lmi_wizard.core.triton import check, scan, semantics, subst
from lmi_wizard.core.base.errors import WizardError

from tests.support.fixtures import FIXTURES, fixture_glob, params

TEMPLATES = fixture_glob("pbtxt/*/*/config.pbtxt")  # [] when the fixtures are absent
IDS = [f"{p.parent.parent.name}/{p.parent.name}" for p in TEMPLATES]
TRTLLM = [p for p in TEMPLATES if p.parent.name == "tensorrt_llm"]
TRTLLM_IDS = [p.parent.parent.name for p in TRTLLM]
LIVE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _read(p):
    return p.read_text("utf-8")


def _live_occurrences(text):
    """(line, name) of every ${name} outside # comments, computed independently of the module."""
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        code = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
        out += [(n, m.group(1)) for m in LIVE.finditer(code)]
    return out


def value_for(name: str) -> str:
    """A plausible value for each upstream placeholder (typed where Triton parses it)."""
    if name in ("triton_max_batch_size",):
        return "64"
    if name.endswith("_instance_count") or name in ("max_queue_size", "max_queue_delay_microseconds"):
        return "1"
    if name.endswith("data_type") or name.endswith("datatype"):
        return "TYPE_FP32"
    if name == "decoupled_mode":
        return "True"
    if name == "triton_backend":
        return "tensorrtllm"
    if name == "batching_strategy":
        return "inflight_fused_batching"
    if name == "engine_dir":
        return "/opt/ml/model/tensorrt_llm/1"
    return "some_value"


# ------------------------------------------------------------------------------------------ tags


@pytest.mark.parametrize("tag,expected", [
    ("v0.5.0", "v0.5"), ("0.5.0", "v0.5"), ("v0.11.0", "v0.5"), ("v0.12.0", "v0.12"),
    ("0.12.0.dev2024080600", "v0.12"), ("v0.14.0", "v0.12"), ("v0.15.0", "v0.15"), ("v0.15.1", "v0.15"),
    ("v0.16.0", "v0.16"), ("v0.17.0.post1", "v0.16"), ("v0.18.2", "v0.16"), ("v0.19.0", "v0.19"),
    ("v0.20.0", "v0.19"), ("v1.1.0rc6", "v0.19"), ("1.2.0rc6.post2", "v0.19"), ("v1.0.0+local", "v0.19"),
    (None, "v0.19"),
])
def test_tag_maps_to_its_range(tag, expected):
    assert pbtxt.semantics_for(tag).id == expected


@pytest.mark.parametrize("tag", ["latest", "v0.4.0", "vX", "0", "v0.12.0-beta!", "main"])
def test_unknown_tag_lists_the_known_ranges(tag):
    with pytest.raises(WizardError) as ei:
        pbtxt.semantics_for(tag)
    assert "v0.5.0 … v0.11.x" in ei.value.fix and "v0.19.0 … TensorRT-LLM 1.x" in ei.value.fix


@pytest.mark.parametrize("tag", ["v9.9", "2.0.0", "v2.0.0rc1", "v10.0.0"])
def test_tags_newer_than_any_known_tool_are_refused(tag):
    with pytest.raises(WizardError, match="newer than any fill_template.py"):
        pbtxt.semantics_for(tag)


def test_defaults_per_range():
    assert pbtxt.semantics_for("v0.5.0").default_dict == {}
    assert pbtxt.semantics_for("v0.12.0").default_dict == {"max_queue_size": "0"}
    assert pbtxt.semantics_for("v0.15.0").default_dict == {"max_queue_size": "0", "participant_ids": ""}
    assert pbtxt.semantics_for("v0.16.0").default_dict == {"max_queue_size": "0"}
    assert pbtxt.semantics_for("v0.19.0").default_dict == {"max_queue_size": "0", "max_queue_delay_microseconds": "0"}
    assert [pbtxt.semantics_for(t).escaping for t in ("v0.5.0", "v0.12.0", "v0.15.0", "v0.16.0", "v0.19.0")] == \
        [False, False, False, True, True]


# ------------------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize("s,match", [
    ("", "empty"),
    ("a:1,", "item 2 is empty"),
    ("a:1,,b:2", "item 2 is empty"),
    ("decoupled_mode", "has no `:`"),
    ("a:1,b", "`b` has no `:`"),
    ("engine_dir:/a:b", "more than one `:`"),
    (":x", "empty key"),
    ("a:1, b:2", "spaces around it"),
    ("a-b:1", "not a placeholder name"),
    ("a:1,a:2", "given twice"),
])
@pytest.mark.parametrize("tag", ["v0.5.0", "v0.16.0"])
def test_malformed_substitution_strings_are_one_clear_error(s, match, tag):
    with pytest.raises(WizardError, match=re.escape(match) if "`" in match else match) as ei:
        pbtxt.parse_substitutions(s, pbtxt.semantics_for(tag))
    assert "\n" not in str(ei.value) and ei.value.fix


def test_escaped_values_v016_and_better_than_the_tool():
    sem = pbtxt.semantics_for("v0.16.0")
    p = pbtxt.parse_substitutions(r"gpu_device_ids:0\,1,decoupled_mode:True", sem)
    assert p.pairs == [("gpu_device_ids", "0,1"), ("decoupled_mode", "True")] and p.tool_accepts and not p.notes
    # the v0.16 tool unescapes twice and crashes on \: — lmi-wizard writes the value verbatim
    p = pbtxt.parse_substitutions(r"engine_dir:/a\:b", sem)
    assert p.pairs == [("engine_dir", "/a:b")] and not p.tool_accepts and "would stop" in p.notes[0]


def test_escapes_on_tags_before_v016():
    sem = pbtxt.semantics_for("v0.5.0")
    # the naive tool fails here ("1" has no colon): the escaped reading is used, with a note
    p = pbtxt.parse_substitutions(r"gpu_device_ids:0\,1", sem)
    assert p.pairs == [("gpu_device_ids", "0,1")] and not p.tool_accepts
    # the naive tool accepts this one: its result is kept (byte-identity), with a warning
    p = pbtxt.parse_substitutions(r"a:x\,b:y", sem)
    assert p.pairs == [("a", "x\\"), ("b", "y")] and p.tool_accepts and "no `\\` escapes" in p.notes[0]


def test_format_substitutions_round_trips():
    pairs = {"gpu_device_ids": "0,1", "engine_dir": "/x:y/z\\w"}
    s = pbtxt.format_substitutions(pairs)
    assert dict(pbtxt.parse_substitutions(s, pbtxt.semantics_for("v0.16.0")).pairs) == pairs or \
        dict(subst._lenient_parse(s)) == pairs


# ------------------------------------------------------------------------------------------ key errors


def _v(tag, model="tensorrt_llm"):
    return _read(FIXTURES / "pbtxt" / tag / model / "config.pbtxt")


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(WizardError, match="did you mean `decoupled_mode`"):
        pbtxt.fill_text(_v("v0.16.0"), "decoupled:True", tag="v0.16.0")


@pytest.mark.parametrize("tag,model,key,gone,last", [
    ("v0.16.0", "tensorrt_llm", "max_num_sequences", "v0.8.0", "v0.7.2"),
    ("v0.8.0", "tensorrt_llm", "max_num_sequences", "v0.8.0", "v0.7.2"),
    ("v0.9.0", "preprocessing", "tokenizer_type", "v0.9.0", "v0.8.0"),
    ("v0.19.0", "postprocessing", "tokenizer_type", "v0.9.0", "v0.8.0"),
    ("v0.10.0", "tensorrt_llm", "max_kv_cache_length", "v0.7.0", "v0.6.1"),
])
def test_obsolete_keys_are_named_with_the_release_that_removed_them(tag, model, key, gone, last):
    text = _v(tag, model)
    with pytest.raises(WizardError) as ei:
        pbtxt.fill_text(text, f"{key}:1", tag=tag, path=f"x/{model}/config.pbtxt")
    assert f"`{key}` is obsolete" in ei.value.problem and gone in ei.value.problem and last in ei.value.problem
    res = pbtxt.fill_text(text, f"{key}:1", tag=tag, path=f"x/{model}/config.pbtxt", skip_obsolete=True)
    assert res.skipped == [key] and any("obsolete" in n for n in res.notes)


def test_the_obsolete_table_matches_the_templates():
    """Cross-check the data file against the raw fixture text, not against the module's own scanner."""
    def has(tag, model, key):
        p = FIXTURES / "pbtxt" / tag / model / "config.pbtxt"
        return p.exists() and f"${{{key}}}" in p.read_text()
    assert has("v0.6.1", "tensorrt_llm", "max_num_sequences") and not has("v0.8.0", "tensorrt_llm", "max_num_sequences")
    assert has("v0.8.0", "preprocessing", "tokenizer_type") and not has("v0.9.0", "preprocessing", "tokenizer_type")
    # enable_trt_overlap: live in v0.9.0, only a comment from v0.10.0
    hist = pbtxt.key_history("enable_trt_overlap")["tensorrt_llm"]
    assert hist["live"][-1] == "v0.9.0" and hist["commented_from"] == "v0.10.0"
    assert "#" in [l for l in _v("v0.10.0").splitlines() if "${enable_trt_overlap}" in l][0]


def _has(tag, model, key):
    p = FIXTURES / "pbtxt" / tag / model / "config.pbtxt"
    return p.exists() and f"${{{key}}}" in p.read_text()


@pytest.mark.parametrize("tag,model,key,says", [
    # logits_datatype came in v0.17.0 (between the stored v0.16.0 and v0.18.2 templates)
    ("v0.16.0", "tensorrt_llm", "logits_datatype", "the tensorrt_llm template has it from v0.17.0 on"),
    ("v0.16.0", "ensemble", "logits_datatype", "the ensemble template has it from v0.17.0 on"),
    # max_queue_size: tensorrt_llm's since v0.13-ish, preprocessing's only from v0.19.0
    ("v0.18.2", "preprocessing", "max_queue_size", "the preprocessing template has it from v0.19.0 on"),
])
def test_key_history_names_the_release_of_the_key(tag, model, key, says):
    assert not _has(tag, model, key) and _has("v0.19.0", model, key)  # the stored templates agree
    with pytest.raises(WizardError) as ei:
        pbtxt.fill_text(_v(tag, model), f"{key}:x", tag=tag, path=f"x/{model}/config.pbtxt")
    assert says in ei.value.problem, ei.value.problem
    assert pbtxt.key_history(key)[model]["live"][0] in says  # the message comes from the one table


def test_key_history_max_num_sequences_is_still_in_v072():
    assert _has("v0.6.1", "tensorrt_llm", "max_num_sequences") and not _has("v0.8.0", "tensorrt_llm", "max_num_sequences")
    hist = pbtxt.key_history("max_num_sequences")["tensorrt_llm"]
    assert hist["live"][-1] == "v0.7.2" and hist["removed_in"] == "v0.8.0"


def test_the_multimodal_ensemble_has_its_own_history():
    """all_models/multimodal/ensemble gets logits_datatype only in v0.19.0 (the plain one in v0.17.0): a
    multimodal ensemble of v0.18 lacking it is not 'older than v0.17.0'."""
    mm = pbtxt.key_history("logits_datatype")["multimodal/ensemble"]
    assert mm["live"][0] == "v0.19.0" and pbtxt.key_history("logits_datatype")["ensemble"]["live"][0] == "v0.17.0"
    # a multimodal ensemble is told apart by its multimodal_encoders step (its name is "ensemble" too)
    text = _v("v0.19.0", "ensemble").replace('model_name: "preprocessing"', 'model_name: "multimodal_encoders"', 1)
    text = text.replace("${logits_datatype}", "TYPE_FP32")
    assert pbtxt.model_of(text, "mm/ensemble/config.pbtxt") == "multimodal/ensemble"
    assert pbtxt.model_of(_v("v0.19.0", "ensemble"), "x/ensemble/config.pbtxt") == "ensemble"
    with pytest.raises(WizardError, match="the multimodal/ensemble template has it from v0.19.0 on"):
        pbtxt.fill_text(text.replace("TYPE_FP32", "x"), "logits_datatype:TYPE_FP32", tag="v0.18.2")


def test_comment_only_key_is_filled_like_the_tool_with_a_note():
    res = pbtxt.fill_text(_v("v0.16.0"), "enable_trt_overlap:False", tag="v0.16.0")
    assert '#     string_value: "False"' in res.text
    assert any("comment" in n and "no effect" in n for n in res.notes)


def test_key_from_another_model_or_a_later_release():
    with pytest.raises(WizardError, match="belongs to the .*preprocessing"):
        pbtxt.fill_text(_v("v0.16.0", "ensemble"), "tokenizer_dir:/x", tag="v0.16.0")
    with pytest.raises(WizardError, match="from v0.6.0 on"):  # tag v0.6.0 (between the stored v0.5.0 and v0.6.1)
        pbtxt.fill_text(_v("v0.5.0"), "triton_max_batch_size:8", tag="v0.5.0")
    filled = pbtxt.fill_text(_v("v0.16.0"), "batch_scheduler_policy:max_utilization", tag="v0.16.0").text
    with pytest.raises(WizardError, match="already filled"):
        pbtxt.fill_text(filled, "batch_scheduler_policy:guaranteed_no_evict", tag="v0.16.0")


# ------------------------------------------------------------------------------------------ every template


def test_data_file_matches_the_fixture_templates():
    """Every stored template's entry is the scan of that file; the table also holds the tags between them
    (from the upstream tags, scripts/build_placeholder_table.py), so it has more tags than the fixtures."""
    data = json.loads((Path(semantics.__file__).parent.parent / "data" / pbtxt.DATA_FILE).read_text())
    scanned = pbtxt.scan_template_tree(FIXTURES / "pbtxt")
    for model, by_tag in scanned.items():
        assert {t: data["placeholders"][model][t] for t in by_tag} == by_tag, model
    assert len(data["placeholders"]["tensorrt_llm"]) > len(scanned["tensorrt_llm"])


@pytest.mark.parametrize("cfg", params(TEMPLATES, IDS))
def test_check_lists_every_placeholder_with_its_line(cfg):
    text = _read(cfg)
    rep = pbtxt.check_text(text, str(cfg))
    expected = _live_occurrences(text)
    assert sorted((f.line, f.name) for f in rep.findings) == sorted(expected)
    lines = text.split("\n")
    for f in rep.findings:
        line = lines[f.line - 1]
        assert "${" + f.name + "}" in line
        unquoted = not re.search(r'"[^"]*\$\{' + f.name + r'\}[^"]*"', line)
        if unquoted:
            assert f.kind == "blocking", f
            # the field is the name right in front of the placeholder (`name: ${x}` / `name: [ ${x} ]`)
            fld = re.search(r"(\w+)\s*:\s*(?:\[\s*)?\$\{" + f.name + r"\}", line).group(1)
            assert f.field.endswith(fld), (f.field, line)
        if f.kind == "optional":
            assert f.param and f.field == f'parameters["{f.param}"]'
            assert f.param not in ("gpt_model_type", "gpt_model_path") or "python" in text
    any_unquoted = any(not re.search(r'"[^"]*\$\{' + n + r'\}', lines[l - 1]) for l, n in expected)
    assert rep.parses is (not any_unquoted), rep.parse_error
    if expected:
        tag, model = cfg.parent.parent.name, cfg.parent.name
        assert f"{tag}/{model}" in rep.untouched_template_of


@pytest.mark.parametrize("cfg", params(TEMPLATES, IDS))
def test_fill_everything_gives_a_valid_model_config(cfg):
    text = _read(cfg)
    names = sorted({n for _, n in _live_occurrences(text)})
    if not names:
        pytest.skip("template without placeholders (v0.5.0 ensemble)")
    subs = pbtxt.format_substitutions({n: value_for(n) for n in names})
    res = pbtxt.fill_text(text, subs, tag="v0.16.0", path=cfg)
    assert res.text == string.Template(text).safe_substitute({**{n: value_for(n) for n in names}})
    rep = pbtxt.check_text(res.text, str(cfg))
    assert rep.findings == [] and rep.parses is True, rep.parse_error
    assert rep.ok and not rep.untouched_template_of


@pytest.mark.parametrize("cfg", params(TEMPLATES, IDS))
def test_delete_every_optional_parameter_block(cfg):
    text = _read(cfg)
    rep = pbtxt.check_text(text, str(cfg))
    params = sorted({f.param for f in rep.optional})
    before_keys = pbtxt.parameter_keys(text)
    new = text
    for key in params:
        new = pbtxt.delete_parameter(new, key)
    after = pbtxt.check_text(new, str(cfg))
    assert after.optional == []
    assert [f.name for f in after.blocking] == [f.name for f in rep.blocking]
    assert pbtxt.parameter_keys(new) == [k for k in before_keys if k not in params]
    # only whole lines were removed, nothing else touched
    diff = pbtxt.unified_diff(text, new)
    body = [l for l in diff.splitlines()[2:] if not l.startswith("@@")]
    assert not any(l.startswith("+") and l[1:].strip() for l in body)
    assert "\n\n\n" not in new or "\n\n\n" in text
    if params:
        assert any(l.startswith("-  key: ") for l in body)
    # once the blocking ones are filled, what is left parses
    names = sorted({f.name for f in after.blocking})
    if names:
        filled = pbtxt.fill_text(new, pbtxt.format_substitutions({n: value_for(n) for n in names}), tag="v0.16.0").text
        assert pbtxt.parse_model_config(filled) == (True, None)


@pytest.mark.parametrize("cfg", params(TRTLLM, TRTLLM_IDS))
def test_decoupled_and_engine_path_on_every_tensorrt_llm_template(cfg):
    text = _read(cfg)
    rep = pbtxt.check_text(text, str(cfg))
    assert rep.decoupled["state"] == "placeholder" and rep.decoupled["value"] == "${decoupled_mode}"
    assert rep.engine_path["param"] == "gpt_model_path" and rep.engine_path["state"] == "placeholder"
    new = pbtxt.set_engine_path(pbtxt.set_decoupled(text, True))
    rep2 = pbtxt.check_text(new, str(cfg))
    assert rep2.decoupled["state"] == "true" and rep2.decoupled["value"] == "True"
    assert rep2.engine_path["state"] == "ok" and rep2.engine_path["value"] == pbtxt.DEFAULT_ENGINE_PATH
    assert {f.name for f in rep2.findings} == {f.name for f in rep.findings} - {"decoupled_mode", "engine_dir"}
    assert "decoupled: True" in new and '"/opt/ml/model/tensorrt_llm/1"' in new
    off = pbtxt.set_decoupled(new, False)
    assert pbtxt.check_text(off).decoupled["state"] == "false"
    assert any("tutorial sets" in n for n in pbtxt.check_text(off).notes)


def test_engine_path_states():
    base = _v("v0.16.0")
    for value, state in [("/home/me/engines", "host_path"), ("engines/1", "relative"),
                         ("/opt/ml/model/llama/1", "other_container_path"), ("/opt/ml/model/tensorrt_llm/1/", "ok")]:
        rep = pbtxt.check_text(pbtxt.set_engine_path(base, value))
        assert rep.engine_path["state"] == state, value
    assert pbtxt.check_text(pbtxt.set_engine_path(base, "/x/1"), expected_engine_path="/x/1").engine_path["state"] == "ok"


def test_set_decoupled_adds_the_block_when_missing():
    text = 'name: "m"\nbackend: "python"\nmax_batch_size: 4\ninput []\n'
    new = pbtxt.set_decoupled(text, True)
    assert pbtxt.check_text(new).decoupled["state"] == "true"
    assert pbtxt.parse_model_config(new) == (True, None)
    assert "max_batch_size: 4\n\nmodel_transaction_policy {\n  decoupled: True\n}\ninput []\n" in new
    assert pbtxt.check_text(text).decoupled["state"] == "missing"


def test_fill_key_and_errors():
    text = _v("v0.16.0")
    new = pbtxt.fill_key(text, "max_tokens_in_paged_kv_cache", "2560")
    assert '"2560"' in new and "${max_tokens_in_paged_kv_cache}" not in new
    assert len(pbtxt.unified_diff(text, new).splitlines()) == 2 + 1 + 3 + 2 + 3  # headers, hunk, context, -/+, context
    with pytest.raises(WizardError, match="did you mean"):
        pbtxt.fill_key(text, "max_tokens_in_paged_kv", "1")
    with pytest.raises(WizardError, match="did you mean `max_beam_width`"):
        pbtxt.delete_parameter(text, "max_beam_widht")
    assert pbtxt.unified_diff(text, text) == ""


def test_delete_parameter_in_list_form():
    text = ('name: "m"\nparameters [\n  { key: "a" value: { string_value: "${a}" } },\n'
            '  { key: "b" value: { string_value: "1" } }\n]\n')
    new = pbtxt.delete_parameter(text, "a")
    assert "${a}" not in new and pbtxt.parse_model_config(new) == (True, None)
    new2 = pbtxt.delete_parameter(text, "b")
    assert '"b"' not in new2 and pbtxt.parse_model_config(new2.replace("${a}", "x")) == (True, None)


@pytest.mark.needs_fixtures
def test_not_a_pbtxt():
    assert not pbtxt.looks_like_pbtxt('{"name": "x"}')
    assert not pbtxt.looks_like_pbtxt("")
    assert not pbtxt.looks_like_pbtxt("just some words here")
    assert all(pbtxt.looks_like_pbtxt(_read(p)) for p in TEMPLATES)


def test_crlf_is_normalized_like_text_mode():
    text = _v("v0.13.0").replace("\n", "\r\n")
    res = pbtxt.fill_text(text, "decoupled_mode:True", tag="v0.13.0")
    assert "\r" not in res.text and any("LF" in n for n in res.notes)


def test_fill_that_changes_nothing_is_reported():
    res = pbtxt.fill_text(_v("v0.5.0"), "decoupled_mode:${decoupled_mode}", tag="v0.5.0")
    assert not res.changed and "the fill changed nothing" in res.notes


def test_large_inputs_stay_linear():
    """A 1 MB substitution string and a 50 MB pbtxt: no crash, no quadratic blow-up (figures in bench)."""
    text = _v("v0.16.0")
    big_value = "x" * 1_000_000
    res = pbtxt.fill_text(text, "medusa_choices:" + big_value, tag="v0.16.0")
    assert big_value in res.text
    res = pbtxt.fill_text(text, "medusa_choices:" + "a\\," * 350_000, tag="v0.16.0")
    assert "a," * 1000 in res.text
    i = text.index("input [") + len("input [")
    j = text.index("\n]\noutput")
    items = text[i:j]
    big = text[:i] + (items + ",") * (50_000_000 // len(items)) + items + text[j:]
    assert len(big) > 50_000_000
    res = pbtxt.fill_text(big, "triton_max_batch_size:64", tag="v0.16.0")
    assert len(res.text) < len(big) and res.text.count("64") >= 2


# ------------------------------------------------------------------------------------------ ranges without a tool fixture
# v0.15.x and v0.19+ are not in fixtures/fill_template: expectations written from the upstream sources
# (v0.15: `sub_dict["participant_ids"] = participant_ids` with --participant_ids default "", set before
# the user's keys; v0.19/TensorRT-LLM 1.x: defaults max_queue_size=0 and max_queue_delay_microseconds=0).


def test_v015_substitutes_participant_ids_by_default():
    text = _v("v0.15.0")
    res = pbtxt.fill_text(text, "decoupled_mode:True", tag="v0.15.0")
    assert 'key: "participant_ids"\n  value: {\n    string_value: ""' in res.text
    assert "max_queue_size: 0 }" in res.text and "${max_queue_delay_microseconds}" in res.text
    assert res.defaults_used == {"max_queue_size": "0", "participant_ids": ""}
    res = pbtxt.fill_text(text, "participant_ids:1", tag="v0.15.0")
    assert 'string_value: "1"' in res.text and res.defaults_used == {"max_queue_size": "0"}
    # the same string with v0.16 semantics leaves participant_ids alone
    assert "${participant_ids}" in pbtxt.fill_text(text, "decoupled_mode:True", tag="v0.16.0").text


def test_v019_defaults_queue_delay_too():
    text = _v("v0.19.0")
    res = pbtxt.fill_text(text, "decoupled_mode:True", tag="v0.19.0")
    assert "max_queue_delay_microseconds: 0\n" in res.text and "max_queue_size: 0 }" in res.text
    assert "${max_queue_delay_microseconds}" in pbtxt.fill_text(text, "decoupled_mode:True", tag="v0.18.2").text
    # the default tag is the newest range
    assert pbtxt.fill_text(text, "decoupled_mode:True").text == res.text


def test_mapping_values_are_verbatim():
    text = _v("v0.16.0")
    res = pbtxt.fill_text(text, {"gpu_device_ids": "0,1", "engine_dir": "/opt/ml/a:b\\c"}, tag="v0.5.0")
    assert 'string_value: "0,1"' in res.text and 'string_value: "/opt/ml/a:b\\c"' in res.text
    with pytest.raises(WizardError, match="not a placeholder name"):
        pbtxt.fill_text(text, {"a b": "1"})


def test_double_unescape_is_the_tools_and_noted():
    p = pbtxt.parse_substitutions("engine_dir:/a\\\\:b", pbtxt.semantics_for("v0.16.0"))
    assert p.pairs == [("engine_dir", "/a:b")] and p.tool_accepts and "unescapes twice" in p.notes[0]


def test_check_on_a_2mb_file():
    text = _v("v0.16.0")
    i = text.index("input [") + len("input [")
    j = text.index("\n]\noutput")
    items = text[i:j]
    n = 2_000_000 // len(items)
    big = text[:i] + (items + ",") * n + items + text[j:]
    rep = pbtxt.check_text(big, "big.pbtxt", parse=False)
    small = pbtxt.check_text(text, "config.pbtxt", parse=False)
    # every input item repeats its encoder_input_features data_type placeholder
    assert len(rep.findings) == len(small.findings) + n
    assert rep.findings[-1].line == small.findings[-1].line + n * items.count("\n")


def test_bare_dollar_names_are_substituted_like_string_template():
    text = 'name: "m"\nbackend: "$b"\nmax_batch_size: ${n}\n# $c in a comment\nparameters { key: "k" value { string_value: "$$x" } }\n'
    res = pbtxt.fill_text(text, "b:python,n:4", tag="v0.5.0")
    assert res.text == string.Template(text).safe_substitute(b="python", n="4")
    assert 'backend: "python"' in res.text and '"$x"' in res.text
    res = pbtxt.fill_text(text, "c:1", tag="v0.5.0")
    assert any("comment" in n for n in res.notes)


# ------------------------------------------------------------------------------------------ scanner paths
# The scanner reads the usual top-level `parameters { key value { string_value } }` block in one match and
# everything else token by token; both must give the same answers.

_BLOCK_FORMS = [
    'parameters: {\n  key: "k"\n  value: {\n    string_value: "${v}"\n  }\n}\n',  # one-match form
    'parameters {\n  key: "k" # the key\n  value: {\n    string_value: "${v}"\n  }\n}\n',  # comment inside
    'parameters: <\n  key: "k"\n  value: <\n    string_value: "${v}"\n  >\n>\n',  # angle brackets
    'parameters {\n  value: {\n    string_value: "${v}"\n  }\n  key: "k"\n}\n',  # key after value
    'parameters [\n  {\n    key: "k"\n    value: { string_value: "${v}" }\n  }\n]\n',  # list form
    'parameters {\n  key: # the key, on the next line\n    "k"\n  value { # {\n    string_value: # "x"\n'
    '      "${v}"\n  }\n}\n',  # comments between names and values
]


@pytest.mark.parametrize("form", range(len(_BLOCK_FORMS)))
def test_every_parameters_form_gives_the_same_findings(form):
    head = 'name: "tensorrt_llm"\nbackend: "tensorrtllm"\nmax_batch_size: 8\n'
    text = head + _BLOCK_FORMS[form] + 'parameters: {\n  key: "gpt_model_path"\n  value: {\n    string_value: "/e"\n  }\n}\n'
    rep = pbtxt.check_text(text, parse=False)
    assert [(f.line, f.name, f.field, f.kind, f.param) for f in rep.findings] == \
        [(rep.findings[0].line, "v", 'parameters["k"]', "optional", "k")]
    assert "\"${v}\"" in text.splitlines()[rep.findings[0].line - 1]
    assert pbtxt.parameter_keys(text) == ["k", "gpt_model_path"]
    assert rep.engine_path["value"] == "/e"
    assert "${v}" not in pbtxt.delete_parameter(text, "k")


def test_scalar_fields_found_anywhere_in_the_skipped_text():
    # decoupled / max_batch_size / backend are read even at the very end of the file, without a newline
    text = 'name: "m"\nbackend: "python"\nmodel_transaction_policy { decoupled: True }\nmax_batch_size: 8'
    rep = pbtxt.check_text(text, parse=False)
    assert rep.decoupled["state"] == "true" and rep.decoupled["line"] == 3
    assert pbtxt.set_decoupled(text, False).count("decoupled: False") == 1
    assert "max_batch_size: 8\n\nmodel_transaction_policy" not in pbtxt.set_decoupled(text, False)
    # a value that is really the next field name is not taken as the value
    text2 = 'name: "m"\nmodel_transaction_policy {\n  decoupled\n  other: 1\n}\n'
    assert pbtxt.check_text(text2, parse=False).decoupled["state"] == "missing"
    # a word inside a string or a comment is not a field
    text3 = 'name: "decoupled: False"\n# decoupled: False\nmodel_transaction_policy { decoupled: true }\n'
    assert pbtxt.check_text(text3, parse=False).decoupled["value"] == "true"


def test_unreadable_character_and_field_labels_in_lists():
    text = _v("v0.19.0")
    rep = pbtxt.check_text(text.replace('name: "input_ids"', 'name: "input_ids" @'), parse=False)
    assert any("unreadable character" in n for n in rep.notes)
    labels = {f.field for f in pbtxt.check_text(text, parse=False).findings}
    assert 'input["encoder_input_features"].data_type' in labels
    assert "dynamic_batching.preferred_batch_size" in labels


def test_big_placeholder_dense_file_is_complete():
    """Thousands of one-match blocks: one finding each, lines exact (bench/bench_pbtxt_check.py times it)."""
    text = _v("v0.19.0")
    i = text.index("parameters")
    body = text[i:]
    big = text[:i] + body * 200
    small = pbtxt.check_text(text, parse=False)
    rep = pbtxt.check_text(big, parse=False)
    per_copy = [f for f in small.findings if f.line > text[:i].count("\n")]
    assert len(rep.findings) == len(small.findings) + 199 * len(per_copy)
    assert rep.findings[-1].line == small.findings[-1].line + 199 * body.count("\n")


def test_model_config_fields_match_tritons_proto():
    from tritonclient.grpc import model_config_pb2

    assert pbtxt.MODEL_CONFIG_FIELDS == {f.name for f in model_config_pb2.ModelConfig.DESCRIPTOR.fields}


@pytest.mark.parametrize("text", [
    "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\n",  # /proc/self/status
    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n",  # /proc/cpuinfo
    "model:\n  name: llama\n",  # YAML
    "[section]\nkey = value\n",  # INI
])
def test_other_key_value_text_is_not_a_pbtxt(text, tmp_path):
    assert not pbtxt.looks_like_pbtxt(text)
    p = tmp_path / "config.pbtxt"
    p.write_text(text)
    with pytest.raises(WizardError, match="is not a pbtxt"):
        pbtxt.check_file(p)


# ------------------------------------------------------------------------------------------ placeholder_names: one pass
# The implementation before the one-pass rewrite (one text.find per distinct name: O(names x size)), kept here as
# the oracle: the new one must give the same answer everywhere.
def _old_comment_start(line):
    if "#" not in line:
        return -1
    quote, i, n = None, 0, len(line)
    while i < n:
        c = line[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#":
            return i
        i += 1
    return -1


def _old_in_comment(text, pos):
    start = text.rfind("\n", 0, pos) + 1
    return _old_comment_start(text[start:pos]) >= 0


def _old_placeholder_names(text, bare=False):
    if bare:
        # the stdlib's own pattern, which fill_template.py's string.Template uses (not the production regex)
        names = {m.group("braced") or m.group("named") for m in string.Template.pattern.finditer(text)
                 if m.group("braced") or m.group("named")}
    else:
        names = set(re.findall(r"\$\{([^}\n]*)\}", text))
    live, commented = set(), set()
    for name in names:
        if bare:
            rx = re.compile(r"\$(?:\{" + name + r"\}|" + name + r"(?![_a-zA-Z0-9]))")
            pos = next((m.start() for m in rx.finditer(text) if not _old_in_comment(text, m.start())), -1)
        else:
            token = "${" + name + "}"
            pos = text.find(token)
            while pos >= 0 and _old_in_comment(text, pos):
                pos = text.find(token, pos + 1)
        (live if pos >= 0 else commented).add(name)
    return live, commented


NAME_CASES = [
    "", "no placeholders", "${a}", "# ${a}", "x: ${a} # ${b}", "# ${a}\ny: ${a}", "'#' ${a} # ${b}",
    's: "a # b ${a}" # ${b}', 's: "esc \\" # ${a}" ${b}', "s: 'open ${a} # ${b}", 's: "x\\', "${a#b} ${c}",
    "# ${x${y}\n${y}", "${x${y}\n# ${y}", "# ${y}\n${x # ${y}", "${${y}\n#${y}", "${x${a${b}\n# ${b} ${a${b}",
    "${}", "# ${}", "${a\n${b}", "${" * 50 + "\n${c}", "$$a $a ${a}", "# $a\n$$a", "$${a}\n# ${a}",
    "#$a\n${a}", "a: $b # $c", "${ spaced }", "${a}}}", "\\${a}", "#\n#\n${a}#${b}",
]


@pytest.mark.parametrize("text", NAME_CASES)
def test_placeholder_names_matches_the_old_implementation(text):
    for bare in (False, True):
        assert pbtxt.placeholder_names(text, bare=bare) == _old_placeholder_names(text, bare=bare), (text, bare)


@pytest.mark.needs_fixtures
def test_placeholder_names_matches_the_old_implementation_on_templates_and_random_text():
    import random

    for p in TEMPLATES:
        text = _read(p)
        assert pbtxt.placeholder_names(text) == _old_placeholder_names(text), p
    rnd = random.Random(20261128)
    alphabet = ["$", "${", "}", "{", "#", '"', "'", "\\", "\n", " ", "a", "b", "x_1", "$$", "${a}", "${b}", "# ",
                '"${a}"']
    for _ in range(4000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        for bare in (False, True):
            assert pbtxt.placeholder_names(text, bare=bare) == _old_placeholder_names(text, bare=bare), (text, bare)


def test_placeholder_names_is_one_pass_on_hostile_lines():
    """A long line of ``${`` without ``}`` (re.findall retried at every one: quadratic) and 30k distinct names
    (the old version searched the text once per name) — each answered in one pass, exactly."""
    for line in ("${" * 300_000, '${a "b" ' * 100_000):
        text = "x: " + line + "\n# ${c}\ny: ${d}\n"
        assert pbtxt.placeholder_names(text) == ({"d"}, {"c"})
        rep = pbtxt.check_text(text, parse=False)  # the scanner too: the rest of that line is one unreadable token
        assert [(f.line, f.name) for f in rep.findings] == [(3, "d")]
        assert "unreadable character at line 1" in rep.notes
    text = "".join(f'k{i}: "${{v{i}}}"\n' for i in range(30_000)) + "# ${v5} ${gone}\n"
    live, commented = pbtxt.placeholder_names(text)
    assert len(live) == 30_000 and commented == {"gone"}
    rep = pbtxt.check_text(text, parse=False)
    assert len(rep.findings) == 30_000 and rep.findings[-1].line == 30_000


@pytest.mark.needs_fixtures
def test_parse_is_cut_short_at_the_first_unquoted_placeholder_with_the_same_answer():
    for p in TEMPLATES:
        text = _read(p)
        for t in (text, text + "\nparameters {\n", text.replace("${", "$ {", 1)):
            assert check._parse_model_config(t, scan._scan(t)) == pbtxt.parse_model_config(t), p


def test_placeholder_to_json_is_asdict():
    from dataclasses import asdict

    f = pbtxt.Placeholder("f", 3, "n", "fld", "optional", "why", "how", "p")
    assert f.to_json() == asdict(f) and list(f.to_json()) == list(asdict(f))


def test_a_file_bigger_than_the_limit_is_refused_naming_its_size(tmp_path):
    p = tmp_path / "config.pbtxt"
    with open(p, "wb") as fh:
        fh.write(b'name: "tensorrt_llm"\n')
        fh.truncate(pbtxt.MAX_PBTXT_BYTES + 1)  # sparse: no disk used
    for call in (lambda: pbtxt.check_file(p), lambda: pbtxt.fill_file(p, "a:b")):
        with pytest.raises(WizardError, match=r"is 64\.0 MiB \(67108865 bytes\): not a config\.pbtxt") as e:
            call()
        assert "at most 64 MiB" in e.value.problem


@pytest.mark.parametrize("tag,want", [
    ("v0.12.0", (0, 12, 0)), ("0.12", (0, 12, 0)), ("v0.17.0.post1", (0, 17, 0)), ("v1.1.0rc6", (1, 1, 0)),
    ("trtllm-v0.12.0", (0, 12, 0)), ("v0.12.0-abcdef1", (0, 12, 0)), ("v0.12.0+cu12", (0, 12, 0)),
    ("v1.2.0rc6.post2", (1, 2, 0)), (" v0.9.0 ", (0, 9, 0)), ("v0.12.0.dev2024080600", (0, 12, 0)),
])
def test_parse_tag_reads_the_version_with_the_one_parser(tag, want):
    from lmi_wizard.core.facts import versions

    assert pbtxt.parse_tag(tag) == want
    core = tag.strip().removeprefix("trtllm-").removesuffix("-abcdef1")
    assert pbtxt.parse_tag(tag) == versions.release_tuple(core)


@pytest.mark.parametrize("bad", ["v9", "garbage", "", "v0.12.0.1", "1!0.12.0", "v0.12.0-zzz", "v0.12.0foo"])
def test_parse_tag_refuses_with_its_own_message(bad):
    with pytest.raises(WizardError) as exc:
        pbtxt.parse_tag(bad)
    assert f"unknown tag `{bad}`" in exc.value.problem and "known fill_template.py ranges" in exc.value.fix


# ------------------------------------------------------------------------------ python models / decoupled


def _templates():
    return sorted((FIXTURES / "pbtxt").glob("*/*/config.pbtxt"))


def test_tokenizer_placeholders_of_python_models_block_every_template():
    """preprocessing/postprocessing are python models that load their tokenizer from tokenizer_dir: left as
    ${…} they fail at load, so the placeholder blocks. Oracle: the template's own `backend: "python"` line
    (read here with a plain text match) and its parameters, on every stored upstream template."""
    seen = 0
    for path in _templates():
        text = path.read_text()
        is_python = re.search(r'^backend:\s*"python"', text, re.M) is not None
        rep = pbtxt.check_text(text, path)
        for key in ("tokenizer_dir", "tokenizer_type"):
            if not re.search(r'key:\s*"' + key + r'"\s*\n\s*value:\s*\{\s*\n\s*string_value:\s*"\$\{', text):
                continue
            f = next(f for f in rep.findings if f.param == key)
            if is_python:
                seen += 1
                assert f.kind == "blocking" and f.reason == pbtxt.LOAD_FATAL_PYTHON_PARAMS[key], (path, f)
                assert not rep.ok, path
            else:  # the tensorrt_llm model's tokenizer_dir is optional (the C++ backend has a default)
                assert f.kind == "optional", (path, f)
    assert seen >= 10  # every release's preprocessing + postprocessing


@pytest.mark.parametrize("literal", ["1", "0", "true", "True", "TRUE", "t", "false", "False", "f", "yes", "2"])
def test_decoupled_reads_booleans_as_protobuf_does(literal):
    """Oracle: protobuf's own text format parser on Triton's ModelConfig (``1``/``0``/``t``/``f`` are booleans)."""
    pb = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    from google.protobuf import text_format
    from google.protobuf.text_format import ParseError

    text = f'name: "m"\nmodel_transaction_policy {{\n  decoupled: {literal}\n}}\n'
    try:
        expected = "true" if text_format.Parse(text, pb.ModelConfig()).model_transaction_policy.decoupled else "false"
    except ParseError:
        expected = "invalid"
    rep = pbtxt.check_text(text)
    assert rep.decoupled["state"] == expected and rep.decoupled["value"] == literal


def test_a_literal_max_batch_size_above_the_engine_is_lowered(fixtures_dir):
    """The v0.5.0 template hard-codes max_batch_size: 128 (no placeholder); an engine built for 64 gets 64."""
    from lmi_wizard.core import triton as T

    text = (fixtures_dir / "pbtxt" / "v0.5.0" / "tensorrt_llm" / "config.pbtxt").read_text()
    out, old = T.cap_max_batch_size(text, 64)
    assert old == 128 and "max_batch_size: 64\n" in out and out.replace("max_batch_size: 64", "max_batch_size: 128") == text
    assert T.cap_max_batch_size(text, 256) == (text, None)
    later = (fixtures_dir / "pbtxt" / "v0.8.0" / "tensorrt_llm" / "config.pbtxt").read_text()
    assert T.cap_max_batch_size(later, 8) == (later, None)  # a placeholder is the fill's business
