"""GPU detection. NVML needs a GPU, so tests use a small fake ``pynvml`` module shaped from the values
a real H200 returned (fixtures/nvml/h200-nvml.json); the real path ran on the device machine."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from lmi_wizard.core.facts import gpu
from tests.support.nvml import _NVMLError, fake_nvml, h200_record  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def h200() -> dict:
    return h200_record()


def test_h200_through_the_pynvml_import(monkeypatch, h200):
    fake = fake_nvml(h200)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    s = gpu.detect_gpus()
    assert s.available and s.reason is None
    assert s.count == 1
    g = s.gpus[0]
    assert (g.index, g.name, g.memory_total_bytes) == (0, "NVIDIA H200", 150754820096)
    assert g.compute_capability == (9, 0) and g.arch == "sm90"
    assert g.mig_enabled is False
    assert s.driver_version == "580.159.04" and s.cuda_driver_version == "13.0"
    assert fake.calls == ["init", "shutdown"]
    assert s.to_json()["gpus"][0] == {"index": 0, "name": "NVIDIA H200", "memory_total_bytes": 150754820096,
                                      "compute_capability": [9, 0], "arch": "sm90", "mig_enabled": False}
    assert "1 × NVIDIA H200 (140 GiB, sm90)" in s.summary() and "CUDA 13.0" in s.summary()


def test_bytes_names_from_old_pynvml_and_multi_gpu(h200):
    a100 = dict(h200["gpus"][0], index=1, name=b"NVIDIA A100-SXM4-80GB", compute_capability=[8, 0],
                memory_total=85899345920)
    s = gpu.detect_gpus(fake_nvml(h200, gpus=[h200["gpus"][0], a100]))
    assert [g.arch for g in s.gpus] == ["sm90", "sm80"]
    assert s.gpus[1].name == "NVIDIA A100-SXM4-80GB"
    fams, notes = gpu.deploy_families(s)
    assert fams == ["p5", "p5e", "p5en"]
    assert any("different architectures" in n for n in notes)


@pytest.mark.parametrize("err, words", [
    ("NVMLError_LibraryNotFound", "libnvidia-ml.so"),
    ("NVMLError_DriverNotLoaded", "driver is not loaded"),
])
def test_nvml_init_errors_give_a_state_not_an_exception(h200, err, words):
    s = gpu.detect_gpus(fake_nvml(h200, init_error=err))
    assert not s.available and s.gpus == ()
    assert s.reason.startswith("no NVIDIA GPU visible: ") and words in s.reason
    assert gpu.deploy_families(s) == ([], [])


def test_no_pynvml_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    s = gpu.detect_gpus()
    assert not s.available
    assert "nvidia-ml-py" in s.reason and s.reason.startswith("no NVIDIA GPU visible")


def test_zero_gpus_and_lost_gpu(h200):
    s = gpu.detect_gpus(fake_nvml(h200, gpus=[]))
    assert not s.available and "CUDA_VISIBLE_DEVICES" in s.reason and s.driver_version == "580.159.04"
    two = [h200["gpus"][0], dict(h200["gpus"][0], index=1)]
    s = gpu.detect_gpus(fake_nvml(h200, gpus=two, device_error_at=0))
    assert s.available and [g.index for g in s.gpus] == [1]
    assert any("GPU 0 skipped" in n and "GPU is lost" in n for n in s.notes)


def test_mig_not_supported_is_none_and_mig_on_is_noted(h200):
    assert gpu.detect_gpus(fake_nvml(h200, mig_not_supported=True)).gpus[0].mig_enabled is None
    on = dict(h200["gpus"][0], nvmlDeviceGetMigMode="[1, 1]")
    s = gpu.detect_gpus(fake_nvml(h200, gpus=[on]))
    assert s.gpus[0].mig_enabled is True and any("MIG" in n for n in s.notes)


def test_real_pynvml_here_never_raises():
    # the real binding on this machine: either a GPU, or a clear state (no driver in CI sandboxes)
    s = gpu.detect_gpus()
    assert isinstance(s, gpu.GpuState)
    assert s.available == bool(s.gpus)
    if not s.available:
        assert s.reason.startswith("no NVIDIA GPU visible: ")


@pytest.mark.parametrize("v, s", [(13000, "13.0"), (12040, "12.4"), (12080, "12.8"), (11080, "11.8"),
                                  (0, None), (None, None), ("x", None)])
def test_cuda_version_string(v, s):
    assert gpu.cuda_version_string(v) == s


@pytest.mark.parametrize("cc, arch", [((7, 0), "sm70"), ((7, 5), "sm75"), ((8, 0), "sm80"), ((8, 6), "sm86"),
                                      ((8, 9), "sm89"), ((9, 0), "sm90"), ((10, 0), "sm100"), ((12, 0), "sm120")])
def test_arch_of(cc, arch):
    assert gpu.arch_of(cc) == arch


def test_instance_family_table():
    assert gpu.instance_families_for("sm90") == ["p5", "p5e", "p5en"]
    assert gpu.instance_families_for("sm80") == ["p4d", "p4de"]
    assert gpu.instance_families_for("sm86") == ["g5"]
    assert gpu.instance_families_for("sm89") == ["g6", "g6e"]
    assert gpu.instance_families_for("sm75") == ["g4dn"]
    assert gpu.instance_families_for("sm70")[0] == "p3"
    assert gpu.instance_families_for("sm100") == ["p6-b200"]
    assert gpu.instance_families_for("sm999") == []
    # every row is complete
    for arch, entry in gpu.load_instance_table().items():
        assert arch.startswith("sm") and entry["families"]
        for row in entry["families"]:
            assert set(row) == {"family", "gpu", "gpu_memory_gib"}


def test_memory_note_when_a_family_has_less_memory(h200):
    s = gpu.detect_gpus(fake_nvml(h200))
    fams, notes = gpu.deploy_families(s)
    assert fams == ["p5", "p5e", "p5en"]
    # H200 (140 GiB) vs p5's H100 (80 GiB): noted; p5e/p5en have H200s: not noted
    assert len(notes) == 1 and "p5 (H100, 80 GiB)" in notes[0] and "p5e " not in notes[0]
    unknown = dict(h200["gpus"][0], compute_capability=[12, 0])
    fams, notes = gpu.deploy_families(gpu.detect_gpus(fake_nvml(h200, gpus=[unknown])))
    assert fams == [] and "sm120" in notes[0]


def test_gpu_module_imports_only_stdlib():
    code = ("import sys; import lmi_wizard.core.facts.gpu as g; g.load_instance_table();"
            "extra=sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'lmi_wizard'});"
            "print(extra)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # site hooks may pre-load a couple of modules; none of ours may pull in third-party packages
    mods = eval(out)
    assert not [m for m in mods if m in ("boto3", "textual", "questionary", "huggingface_hub", "pynvml",
                                          "google", "tritonclient", "packaging")], mods


# --- the one data-table loader (core/data/__init__.py) ----------------------------------------------


def test_every_data_table_loads_through_the_one_loader():
    from lmi_wizard.core import data

    folder = Path(data.__file__).parent
    names = sorted(p.name for p in folder.glob("*.json"))
    assert len(names) >= 5, names  # build_errors, fill_template_semantics, instance_families, lmi_releases, models
    for name in names:
        table = data.load(name)
        assert table == json.loads((folder / name).read_text(encoding="utf-8")), name
        assert data.load(name) is table  # cached: one parse per process
    # the modules read their tables through it (same cached object)
    gpu.load_instance_table.cache_clear()
    assert gpu.load_instance_table() is data.load("instance_families.json")["archs"]


def test_missing_or_broken_data_table_is_one_clear_error(monkeypatch, tmp_path):
    from lmi_wizard.core import data
    from lmi_wizard.core.base.errors import WizardError

    with pytest.raises(WizardError) as exc:
        data.load("no_such_table.json")
    assert "no_such_table.json" in exc.value.problem and "missing" in exc.value.problem
    assert "reinstall" in exc.value.fix
    # a corrupt table (a broken install): the loader's package folder swapped for a tmp copy
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(data, "resources", types.SimpleNamespace(files=lambda pkg: tmp_path))
    data.load.cache_clear()
    try:
        with pytest.raises(WizardError) as exc:
            data.load("bad.json")
        assert "not valid JSON" in exc.value.problem and "line 1" in exc.value.problem
    finally:
        monkeypatch.undo()
        data.load.cache_clear()
