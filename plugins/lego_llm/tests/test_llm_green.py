"""Green AI: energy from RAPL and NVML counters or an estimate, carbon, ApC in the results, resumed runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lego_core.errors import ConfigError
from lego_core.experiment import Experiment
from lego_llm import green
from lego_llm.green import GreenSettings, apc, read_rapl


def _zone(root: Path, name: str, label: str, energy: int, max_range: int = 2**32) -> None:
    zone = root / name
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{energy}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range}\n")


def test_rapl_sums_packages_and_dram_and_handles_wrap_around(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "powercap"
    _zone(root, "intel-rapl:0", "package-0", 1_000_000)
    _zone(root, "intel-rapl:0:0", "core", 500_000)  # inside the package: not added again
    _zone(root, "intel-rapl:0:1", "dram", 100_000)
    _zone(root, "intel-rapl:1", "package-1", 2**32 - 1_000_000)  # about to wrap
    zones, note = read_rapl(root)
    assert note is None and sorted(zones) == ["intel-rapl:0/package-0", "intel-rapl:0:1/dram", "intel-rapl:1/package-1"]
    monkeypatch.setattr(green, "POWERCAP", root)
    monkeypatch.setattr(green, "read_nvml", lambda devices=None: ({}, "no NVML here"))
    settings = GreenSettings(measure=True)
    first = green.snapshot(settings)
    _zone(root, "intel-rapl:0", "package-0", 4_000_000)  # +3 J
    _zone(root, "intel-rapl:0:1", "dram", 600_000)  # +0.5 J
    _zone(root, "intel-rapl:1", "package-1", 1_000_000)  # wrapped: +2 J
    record = green.segment(first, green.snapshot(settings), settings)
    assert record["methods"]["cpu"] == "rapl" and record["joules"]["cpu"] == pytest.approx(5.0)
    assert record["methods"]["memory"] == "rapl" and record["joules"]["memory"] == pytest.approx(0.5)
    assert record["methods"]["gpu"].startswith("none")


def test_unreadable_counters_fall_back_to_the_estimate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(green, "POWERCAP", tmp_path / "none")
    monkeypatch.setattr(green, "read_nvml", lambda devices=None: ({}, "no NVML here"))
    settings = GreenSettings(measure=True, cpu_watts_per_core=10.0, memory_watts_per_gb=0.0)
    first = green.snapshot(settings)
    sum(i * i for i in range(300_000))  # some CPU time
    record = green.segment(first, green.snapshot(settings), settings)
    assert record["methods"] == {"cpu": "estimate", "memory": "estimate", "gpu": "none (the run used no GPU)"}
    assert (
        record["joules"]["cpu"] == pytest.approx(record["cpu_seconds"] * 10.0, abs=0.01) and record["cpu_seconds"] > 0
    )
    assert any("RAPL" in n for n in record["notes"]) and "no NVML here" in record["notes"]
    with pytest.raises(ConfigError, match='source = "measured"'):
        green.segment(first, green.snapshot(settings), GreenSettings(measure=True, source="measured"))


def test_nvml_counters_give_the_gpu_part(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    readings = iter([({0: 10_000, 1: 0}, None), ({0: 25_000, 1: 5_000}, None)])  # millijoules
    monkeypatch.setattr(green, "read_nvml", lambda devices=None: next(readings))
    monkeypatch.setattr(green, "POWERCAP", tmp_path / "none")
    settings = GreenSettings(measure=True)
    record = green.segment(green.snapshot(settings), green.snapshot(settings), settings)
    assert record["methods"]["gpu"] == "nvml" and record["joules"]["gpu"] == pytest.approx(20.0)


def test_apc_follows_greenrec():
    assert apc(0.7, 0.5) == pytest.approx(4000.0)  # (70 - 50) / 0.5 kg x 100
    assert apc(0.5, 1.0) == 0.0


def test_a_run_reports_energy_carbon_and_apc_and_a_resume_adds_up(
    depot_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(green, "POWERCAP", tmp_path / "none")
    monkeypatch.setattr(green, "read_nvml", lambda devices=None: ({}, "no NVML here"))
    experiment = {
        "data": {"path": str(depot_copy), "item_attributes": ["title"]},
        "model": {"content": "id", "behavior": "mean", "predictor": "dot", "hidden_size": 8},
        "train": {"epochs": 1, "batch_size": 16, "device": "cpu", "metrics": ["auc", "gauc"], "monitor": "gauc"},
        "plugins": {"green": {"apc": True, "carbon_intensity": 100.0, "pue": 1.5}},
    }
    exp = Experiment.from_dict(experiment)
    results = exp.run(output=tmp_path / "runs")
    table = results["green"]
    assert table["energy_wh"] > 0 and table["carbon_g"] == pytest.approx(table["energy_wh"] * 0.1)
    assert table["apc"] == pytest.approx(apc(results["test"]["auc"], table["carbon_g"] / 1000.0))
    assert json.loads((exp.run_dir / "results.json").read_text())["green"] == pytest.approx(table)
    record = json.loads((exp.run_dir / "green.json").read_text())
    assert len(record["segments"]) == 1 and record["pue"] == 1.5
    assert record["energy_kwh"] == pytest.approx(record["joules"] / 3.6e6 * 1.5)
    # a resumed run adds its segment to the first one
    again = Experiment.from_dict({**experiment, "train": {**experiment["train"], "epochs": 2}})
    again.run(resume=exp.run_dir)
    record = json.loads((exp.run_dir / "green.json").read_text())
    assert len(record["segments"]) == 2
    assert record["joules"] == pytest.approx(sum(sum(s["joules"].values()) for s in record["segments"]))


def test_off_by_default_and_apc_without_auc_warns(depot_copy: Path, tmp_path: Path) -> None:
    base = {
        "data": {"path": str(depot_copy), "item_attributes": ["title"]},
        "model": {"content": "id", "behavior": "mean", "predictor": "dot", "hidden_size": 8},
        "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "metrics": ["gauc"], "monitor": "gauc"},
    }
    exp = Experiment.from_dict(base)
    assert "green" not in exp.run(output=tmp_path / "a") and not (exp.run_dir / "green.json").exists()
    exp = Experiment.from_dict({**base, "plugins": {"green": {"apc": True}}})
    with pytest.warns(UserWarning, match="has no auc"):
        results = exp.run(output=tmp_path / "b")
    assert "apc" not in results["green"] and results["green"]["energy_wh"] > 0
