"""What a run directory holds besides checkpoints: the cold-start report, logs, progress, a portable config."""

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import lego_core
from lego_core.cli.main import main
from lego_core.config.toml_writer import dumps
from lego_core.data.depot import Depot
from lego_core.engine import rundir
from lego_core.engine.cold_start import bucket_labels
from lego_core.engine.evaluate import SplitPairs, compute_metrics, score_split
from lego_core.errors import ConfigError
from lego_core.experiment import Experiment


def _quick(experiment_dict, **sections):
    sections.setdefault("model", {"content": "id"})
    return experiment_dict(**sections)


def _seen_by_loops(depot: Depot) -> set[int]:
    """The items training touched, the slow obvious way."""
    train = depot.table("train")
    seen = {int(i) for i in train["item"]}
    history = depot.users["history"]
    for row in set(int(r) for r in train["user"]):
        seen.update(int(i) for i in history.row(row))
    return seen


def test_results_hold_the_cold_start_report_of_the_test_split(tmp_path, experiment_dict, depot_path):
    exp = Experiment.from_dict(_quick(experiment_dict))
    results = exp.run(output=tmp_path)
    report = results["cold_start"]
    assert list(report) == ["test"]  # the validation split picks the model; the report is about test
    depot = Depot(depot_path)
    pairs = SplitPairs.from_depot(depot, "test", "impression")
    scores = score_split(exp.model, pairs)
    cold = ~np.isin(pairs.items, sorted(_seen_by_loops(depot)))
    assert cold.any() and (~cold).any()
    parts = report["test"]["items"]
    assert parts["cold"]["pairs"] == int(cold.sum()) and parts["warm"]["pairs"] == int((~cold).sum())
    assert parts["cold"]["items"] == len(np.unique(pairs.items[cold]))
    assert parts["cold"]["positives"] == int(pairs.labels[cold].sum())
    expected = compute_metrics(exp.resolved.metrics, scores[cold], pairs.labels[cold], pairs.groups[cold])
    assert parts["cold"]["metrics"] == pytest.approx(expected)
    # the synthetic depot's new items are cold by this definition too
    new_items = np.asarray(depot.items["cold"])[pairs.items] == 1
    assert new_items.any() and cold[new_items].all()
    history = report["test"]["history"]
    assert set(history) <= set(bucket_labels([1, 5, 10, 20, 50]))
    assert sum(p["pairs"] for p in history.values()) == len(pairs.rows)
    lengths = np.asarray(depot.users["history"].lengths)[pairs.rows]
    assert history["10-19"]["pairs"] == int(((lengths >= 10) & (lengths < 20)).sum())
    written = json.loads((exp.run_dir / rundir.RESULTS_FILE).read_text())
    assert written["cold_start"] == json.loads(json.dumps(report))


def test_a_part_without_positives_has_null_metrics_not_nan(tmp_path, experiment_dict):
    exp = Experiment.from_dict(_quick(experiment_dict, train={"history_buckets": [1, 12, 13]}))
    results = exp.run(output=tmp_path)
    text = (exp.run_dir / rundir.RESULTS_FILE).read_text()
    assert "NaN" not in text.split('"cold_start"')[1]
    for part in results["cold_start"]["test"]["history"].values():
        if part["positives"] == 0:
            assert all(v is None for v in part["metrics"].values())


def test_cold_start_report_can_be_turned_off(tmp_path, experiment_dict):
    results = Experiment.from_dict(_quick(experiment_dict, train={"cold_start": False})).run(output=tmp_path)
    assert "cold_start" not in results


def test_history_buckets_must_increase(experiment_dict):
    with pytest.raises(ConfigError, match=r"history_buckets must be increasing .* @ \$\.train\.history_buckets"):
        Experiment.from_dict(_quick(experiment_dict, train={"history_buckets": [5, 1]}))


def test_run_and_eval_print_the_cold_start_table(tmp_path, experiment_dict, capsys):
    exp_file = tmp_path / "exp.toml"
    exp_file.write_text(dumps(_quick(experiment_dict)))
    assert main(["run", str(exp_file), "--output", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "test: cold start and history length" in out and "cold items" in out and "history 10-19" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert main(["eval", str(run_dir), "--json"]) == 0
    assert "cold_start" in json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------ portable run directories


def test_config_names_the_depot_relative_to_the_run_and_survives_moving_the_project(
    tmp_path, experiment_dict, depot_path, capsys
):
    project = tmp_path / "project"
    shutil.copytree(depot_path, project / "data" / "depot")
    config = _quick(experiment_dict)
    config["data"]["path"] = "data/depot"
    (project / "exp.toml").write_text(dumps(config))
    exp = Experiment.from_toml(project / "exp.toml")
    exp.run(output=project / "runs")
    written = (exp.run_dir / rundir.CONFIG_FILE).read_text()
    assert 'path = "../../data/depot"' in written
    facts = json.loads((exp.run_dir / rundir.RUN_FILE).read_text())
    assert facts["depot"]["path"] == str((project / "data" / "depot").resolve())
    assert facts["depot"]["relative"] == "../../data/depot"

    moved = tmp_path / "moved"
    project.rename(moved)
    run_dir = moved / "runs" / exp.run_dir.name
    assert main(["eval", str(run_dir), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["test"] == pytest.approx(json.loads((run_dir / rundir.RESULTS_FILE).read_text())["test"])


def test_a_run_moved_without_its_data_finds_the_depot_at_the_recorded_absolute_path(tmp_path, experiment_dict):
    exp = Experiment.from_dict(_quick(experiment_dict))
    exp.run(output=tmp_path / "runs")
    facts = json.loads((exp.run_dir / rundir.RUN_FILE).read_text())
    elsewhere = tmp_path / "elsewhere" / "deeper" / exp.run_dir.name
    elsewhere.parent.mkdir(parents=True)
    exp.run_dir.rename(elsewhere)
    again = Experiment.from_run_dir(elsewhere)
    assert Path(again.config.data.path) == Path(facts["depot"]["path"])


def test_checkpoints_are_group_readable_and_the_environment_names_legos_own_commit(
    tmp_path, experiment_dict, monkeypatch
):
    old = os.umask(0o022)
    try:
        exp = Experiment.from_dict(_quick(experiment_dict))
        exp.run(output=tmp_path)
    finally:
        os.umask(old)
    for name in ("last.pt", "best.pt"):
        assert (exp.run_dir / rundir.CHECKPOINTS / name).stat().st_mode & 0o040
    source = Path(lego_core.__file__).resolve().parent.parent
    top = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "--show-toplevel", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.split()
    if len(top) != 2 or Path(top[0]) != source:
        pytest.skip("lego is not running from its own git checkout (an installed wheel records None)")
    other = tmp_path / "another-repo"
    other.mkdir()
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    monkeypatch.chdir(other)
    assert rundir.environment()["git_commit"] == top[1]
    assert json.loads((exp.run_dir / rundir.RUN_FILE).read_text())["lego_version"] == lego_core.__version__


# ------------------------------------------------------------------ loggers and progress


def test_csv_log_has_every_steps_loss_and_lr_and_every_epochs_metrics(tmp_path, experiment_dict):
    exp = Experiment.from_dict(_quick(experiment_dict, train={"epochs": 2}))
    results = exp.run(output=tmp_path)
    with open(exp.run_dir / "log" / "steps.csv", newline="") as handle:
        steps = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in steps] == list(range(1, results["run"]["steps"] + 1))
    assert all(float(r["loss"]) > 0 and float(r["lr"]) == pytest.approx(1e-3) for r in steps)
    with open(exp.run_dir / "log" / "epochs.csv", newline="") as handle:
        epochs = list(csv.DictReader(handle))
    records = [json.loads(line) for line in (exp.run_dir / rundir.METRICS_FILE).read_text().splitlines()]
    assert [float(r["gauc"]) for r in epochs] == pytest.approx([r["valid"]["gauc"] for r in records], abs=1e-5)


def test_csv_every_steps_thins_the_step_rows(tmp_path, experiment_dict):
    config = _quick(experiment_dict)
    config["log"] = {"every_steps": 2}
    exp = Experiment.from_dict(config)
    exp.run(output=tmp_path)
    with open(exp.run_dir / "log" / "steps.csv", newline="") as handle:
        assert {int(r["step"]) % 2 for r in csv.DictReader(handle)} == {0}


def test_tensorboard_events_hold_every_steps_loss(tmp_path, experiment_dict):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = _quick(experiment_dict)
    config["log"] = {"tensorboard": True}
    exp = Experiment.from_dict(config)
    results = exp.run(output=tmp_path)
    events = EventAccumulator(str(exp.run_dir / "log" / "tensorboard"))
    events.Reload()
    with open(exp.run_dir / "log" / "steps.csv", newline="") as handle:
        losses = [float(r["loss"]) for r in csv.DictReader(handle)]
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, results["run"]["steps"] + 1))
    assert [e.value for e in events.Scalars("train/loss")] == pytest.approx(losses, rel=1e-4)
    assert events.Scalars("valid/gauc")[0].value == pytest.approx(results["valid"]["gauc"], abs=1e-6)
    assert events.Scalars("test/gauc")[0].value == pytest.approx(results["test"]["gauc"], abs=1e-6)


def test_tensorboard_without_the_package_is_refused_before_a_run_directory_exists(
    tmp_path, experiment_dict, monkeypatch
):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    config = _quick(experiment_dict)
    config["log"] = {"tensorboard": True}
    with pytest.raises(
        ConfigError, match=r"tensorboard = true needs the tensorboard package.*lego-core\[tensorboard\]"
    ):
        Experiment.from_dict(config).run(output=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_console_log_holds_what_the_console_showed(tmp_path, experiment_dict):
    shown = io.StringIO()
    exp = Experiment.from_dict(_quick(experiment_dict, train={"epochs": 2}))
    exp.run(output=tmp_path, console=Console(file=shown, width=120))
    log = (exp.run_dir / "log" / "console.log").read_text()
    for line in shown.getvalue().splitlines():
        assert line in log
    assert "epoch 2: loss=" in log and "test: cold start and history length" in log
    assert f"run directory: {exp.run_dir}" in log


def test_console_log_can_be_turned_off(tmp_path, experiment_dict):
    config = _quick(experiment_dict)
    config["log"] = {"file": False}
    exp = Experiment.from_dict(config)
    exp.run(output=tmp_path)
    assert not (exp.run_dir / "log" / "console.log").exists()


def test_progress_lines_when_the_output_is_not_a_terminal(tmp_path, experiment_dict):
    config = _quick(experiment_dict)
    config["log"] = {"progress_every_steps": 2, "progress_every_seconds": 0.0}
    shown = io.StringIO()
    exp = Experiment.from_dict(config)
    results = exp.run(output=tmp_path, console=Console(file=shown, width=200))
    steps = results["run"]["steps"]
    lines = [line for line in shown.getvalue().splitlines() if line.startswith("epoch 1/1: step")]
    assert [line.split("step ")[1].split("/")[0] for line in lines] == [str(s) for s in range(2, steps + 1, 2)]
    assert all(f"/{steps} (" in line and ", loss " in line and " steps/s, " in line for line in lines)
    assert lines[0] in (exp.run_dir / "log" / "console.log").read_text()


def test_python_api_shows_progress_only_when_asked(tmp_path, experiment_dict, capsys):
    Experiment.from_dict(_quick(experiment_dict)).run(output=tmp_path)
    assert capsys.readouterr().err == ""
    config = _quick(experiment_dict)
    config["log"] = {"progress_every_steps": 1}
    Experiment.from_dict(config).run(output=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1: loss=" in err and "epoch 1/1: step 1/" in err
