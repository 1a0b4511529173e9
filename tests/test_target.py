"""The LMI target: release table, reading the image's DJL Serving version (probe paths in tmp dirs laid
out as the LMI Dockerfile does: /opt/djl/bin/telemetry "<djl_version> tensorrtllm", and the .deb's
/usr/local/djl-serving-<version>/), overrides and explanations."""

from __future__ import annotations

import pytest

from lmi_wizard.core.facts import target as T
from lmi_wizard.core.base.errors import WizardError


@pytest.fixture
def no_image(tmp_path):
    """Probe paths that exist but hold no LMI install (so the test machine's / is never read)."""
    root = tmp_path / "usr-local"
    root.mkdir()
    return {"telemetry_file": tmp_path / "telemetry-missing", "install_root": root}


@pytest.mark.parametrize("lmi, layout", [("0.25.0", "triton"), ("0.26.0", "triton"), ("0.29.0", "triton"),
                                         ("0.30.0", "triton"), ("0.31.0", "triton"), ("0.32.0", "triton"),
                                         ("0.33.0", "flat"), ("0.33", "flat"), ("0.34.0", "triton"),
                                         ("0.35.0", "flat"), ("0.36.0", "flat"), ("1.0.0", "flat"),
                                         ("0.24.0", None), ("0.33.0~SNAPSHOT", "flat")])
def test_layout_for_lmi(lmi, layout):
    assert T.layout_for_lmi(lmi) == layout


@pytest.mark.parametrize("trt, layout", [("0.5.0", "triton"), ("0.12.0", "triton"), ("0.19.0", "triton"),
                                         ("0.21.0rc1", "flat"), ("0.21.0", "flat"), ("1.2.0rc6.post2", "flat")])
def test_layout_for_trtllm(trt, layout):
    assert T.layout_for_trtllm(trt) == layout


def _published_pairs() -> dict[str, str]:
    """LMI minor → TensorRT-LLM version, from sources independent of core/data/lmi_releases.json: the fixtures'
    trtllm-src/INDEX.md per-release table (pins read from the backend release tags) and, where this checkout
    sits in the workspace, the verified field notes (../shared/NOTES.md)."""
    import re

    from tests.support.fixtures import FIXTURES, ROOT

    pairs: dict[str, str] = {}
    for line in (FIXTURES / "trtllm-src" / "INDEX.md").read_text().splitlines():
        m = re.match(r"^\|[^|]+\|\s*([\d.]+(?:,\s*[\d.]+)*)\s*\|\s*(\d[\w.]*)\s*\(", line)
        if m:
            for lmi in m.group(1).split(","):
                pairs[lmi.strip()] = m.group(2)
    notes = ROOT.parent / "shared" / "NOTES.md"
    if notes.is_file():
        text = notes.read_text()
        line = text[text.index("LMI ↔ TensorRT-LLM in the published images"):].split("(tag")[0]
        for lmis, trt in re.findall(r"([\d./]+)→(\d[\w.]*\d)", line):
            for lmi in lmis.split("/"):
                assert pairs.setdefault(lmi, trt) == trt, (lmi, trt, pairs[lmi])  # the two sources agree
    return pairs


@pytest.mark.needs_fixtures
def test_release_table_agrees_with_independent_sources():
    """Every row of the release table ships the TensorRT-LLM the sources name for that LMI, its layout is the
    rule's (flat from TensorRT-LLM 0.21), and every LMI the sources name resolves to a row with that version or,
    when the table leaves it out, still gets the layout its TensorRT-LLM implies. Releases without a published
    image (0.34+, from djl-serving's Dockerfiles) have no second source here: only the layout rule is checked."""
    pairs = _published_pairs()
    assert len(pairs) >= 8 and pairs["0.33"] == "0.21.0rc1"  # the sources were read
    published = [r for r in T.releases() if r["published"]]
    assert {r["lmi"].rsplit(".", 1)[0] for r in published} == set(pairs)  # no published release missing or extra
    assert T.last_published() == published[-1]["lmi"] == max(pairs, key=lambda v: tuple(map(int, v.split("."))))+".0"
    for r in published:
        minor = r["lmi"].rsplit(".", 1)[0]
        assert pairs[minor] == r["trtllm"], r
    for r in T.releases():  # published or not, the layout follows the TensorRT-LLM rule
        assert r["layout"] == T.layout_for_trtllm(r["trtllm"]) == T.layout_for_lmi(r["lmi"]), r
    for lmi, trt in pairs.items():
        row = T.release_for_lmi(f"{lmi}.0")
        assert row is not None and row["trtllm"] == trt, (lmi, row)
        assert T.layout_for_lmi(f"{lmi}.0") == T.layout_for_trtllm(trt), lmi
        rows, exact = T.releases_for_trtllm(trt)
        assert exact and all(r["trtllm"] == trt for r in rows), trt
    assert [r["lmi"] for r in T.releases() if not r["aot"]] == ["0.35.0", "0.36.0"]  # LMI's own AOT tool gone


def test_newer_lmi_without_image_is_refused_unless_the_layout_is_named(no_image):
    for v in ("0.34.0", "0.35.0", "0.36.0", "0.40.0"):
        with pytest.raises(WizardError) as e:
            T.determine_target(lmi_override=v, **no_image)
        assert "published no TensorRT-LLM image (the last LMI release with one is 0.33.0)" in str(e.value)
        assert "--layout" in e.value.fix and e.value.exit_code == 2
    t = T.determine_target(lmi_override="0.35.0", layout_override="flat", **no_image)
    assert (t.version, t.layout, t.trtllm_version, t.source) == ("0.35.0", "flat", "1.0.0", "override")
    assert "self-built image" in t.explanation and "no AOT" in t.explanation
    t = T.determine_target(lmi_override="0.34.0", layout_override="triton", **no_image)
    assert (t.layout, t.trtllm_version) == ("triton", "0.12.0") and t.notes == ()
    t = T.determine_target(lmi_override="0.40.0", layout_override="flat", **no_image)
    assert t.trtllm_version is None and any("not in the release table" in n for n in t.notes)


def test_engine_backend_removed_upstream(no_image):
    # NVIDIA/TensorRT-LLM v1.3.0rc20 release notes: the last RC with the TensorRT backend
    assert not T.engine_backend_removed("1.3.0rc20") and not T.engine_backend_removed("1.2.1")
    assert T.engine_backend_removed("1.3.0rc21") and T.engine_backend_removed("1.3.0")
    assert not T.engine_backend_removed("0.21.0rc1") and not T.engine_backend_removed("garbage")
    note = T.engine_backend_text("1.3.0rc24")
    assert "tensorrt-llm 1.3.0rc24 has no TensorRT engine backend" in note and "removed upstream in 1.3.0rc21" in note and "up to 1.3.0rc20" in note and "0.21.0rc1" in note


def test_read_djl_version_from_telemetry_file(tmp_path):
    tel = tmp_path / "telemetry"
    tel.write_text("0.33.0 tensorrtllm\n")
    assert T.read_djl_serving_version(tel, tmp_path / "none") == ("0.33.0", str(tel))
    tel.write_text("0.27.0~SNAPSHOT tensorrtllm\n")
    assert T.read_djl_serving_version(tel, None)[0] == "0.27.0"
    tel.write_text("garbage\n")
    assert T.read_djl_serving_version(tel, tmp_path / "none") is None


def test_read_djl_version_from_install_folder(tmp_path):
    (tmp_path / "djl-serving-0.30.0").mkdir()
    (tmp_path / "djl-serving-0.33.0").mkdir()
    (tmp_path / "djl-serving-notes.txt").write_text("x")  # not a folder, not a version
    assert T.read_djl_serving_version(tmp_path / "missing", tmp_path) == ("0.33.0", str(tmp_path / "djl-serving-0.33.0"))
    assert T.read_djl_serving_version(None, tmp_path / "empty") is None


def test_nothing_known_assumes_newest_release(no_image):
    t = T.determine_target(**no_image)
    assert (t.version, t.layout, t.source, t.trtllm_version) == ("0.33.0", "flat", "default", "0.21.0rc1")  # last published
    assert "will not load" in t.explanation and "--lmi-version" in t.explanation


def test_image_version_wins_over_installed_trtllm(tmp_path, no_image):
    tel = tmp_path / "telemetry"
    tel.write_text("0.33.0 tensorrtllm\n")
    t = T.determine_target(trtllm_version="0.21.0rc1", telemetry_file=tel, install_root=no_image["install_root"])
    assert (t.version, t.layout, t.source) == ("0.33.0", "flat", "image") and t.notes == ()
    assert str(tel) in t.explanation
    t = T.determine_target(trtllm_version="0.12.0", telemetry_file=tel, install_root=no_image["install_root"])
    assert t.layout == "flat" and any("will not load in LMI 0.33.0" in n for n in t.notes)


def test_installed_trtllm_selects_the_release(no_image):
    t = T.determine_target(trtllm_version="0.12.0", **no_image)
    assert (t.version, t.layout, t.source) == ("0.32.0", "triton", "tensorrt-llm")
    assert "also 0.30.0" in t.explanation and "the layout the tutorial describes" in t.explanation
    t = T.determine_target(trtllm_version="0.21.0rc1", **no_image)
    assert (t.version, t.layout) == ("0.33.0", "flat")
    t = T.determine_target(trtllm_version="0.21.0", **no_image)  # same numbers, not the build LMI ships
    assert t.version == "0.33.0" and any("ships TensorRT-LLM 0.21.0rc1, not 0.21.0" in n for n in t.notes)


def test_trtllm_no_lmi_ships(no_image):
    t = T.determine_target(trtllm_version="0.16.0", **no_image)
    assert t.version is None and t.layout == "triton" and t.source == "tensorrt-llm"
    assert any("no known LMI release ships TensorRT-LLM 0.16.0" in n for n in t.notes)
    t = T.determine_target(trtllm_version="1.2.0rc6.post2", **no_image)
    assert t.version is None and t.layout == "flat"


def test_overrides(no_image):
    t = T.determine_target(trtllm_version="0.21.0rc1", lmi_override="0.30.0", **no_image)
    assert (t.version, t.layout, t.source) == ("0.30.0", "triton", "override")
    assert any("will not load in LMI 0.30.0" in n for n in t.notes)
    t = T.determine_target(layout_override="triton", **no_image)
    assert t.layout == "triton" and t.version == "0.33.0" and any("overridden" in n for n in t.notes)
    t = T.determine_target(lmi_override="0.31.0", **no_image)  # in the table since issue 11
    assert (t.layout, t.trtllm_version) == ("triton", "0.12.0") and t.notes == ()


@pytest.mark.parametrize("kw, words", [({"layout_override": "nested"}, "unknown layout"),
                                       ({"lmi_override": "latest"}, "not an LMI version"),
                                       ({"lmi_override": "0.20.0"}, "no TensorRT-LLM support")])
def test_bad_overrides_are_wizard_errors(no_image, kw, words):
    with pytest.raises(WizardError) as e:
        T.determine_target(**kw, **no_image)
    assert words in str(e.value) and e.value.fix


def test_to_json_shape(no_image):
    j = T.determine_target(trtllm_version="0.12.0", **no_image).to_json()
    assert set(j) == {"version", "layout", "trtllm_version", "source", "explanation", "notes"}
    assert j["layout"] in T.LAYOUTS
