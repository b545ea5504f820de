import json
import math

import pytest
import torch

from lego_core.engine import rundir
from lego_core.errors import LegoError, TrainingError
from lego_core.experiment import Experiment


def test_learns_the_synthetic_signal_matching(tmp_path, experiment_dict):
    exp = Experiment.from_dict(experiment_dict(train={"epochs": 5, "lr": 0.01}))
    results = exp.run(output=tmp_path)
    assert results["test"]["auc"] > 0.6
    assert results["run"]["task"] == "matching"
    run = exp.run_dir
    records = [json.loads(line) for line in (run / rundir.METRICS_FILE).read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
    assert json.loads((run / rundir.RESULTS_FILE).read_text())["test"] == results["test"]
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "checkpoints" / "last.pt").is_file()
    env = json.loads((run / rundir.ENVIRONMENT_FILE).read_text())
    assert "lego-core" in env["packages"] and "torch" in env["packages"]


def test_ranking_task_trains_with_bce(tmp_path, experiment_dict):
    results = Experiment.from_dict(
        experiment_dict(
            model={"neg_count": 0}, train={"epochs": 4, "lr": 0.01, "metrics": ["auc", "logloss"], "monitor": "auc"}
        )
    ).run(output=tmp_path)
    assert results["run"]["task"] == "ranking"
    assert results["test"]["auc"] > 0.55
    assert 0 < results["test"]["logloss"] < 1.0


def test_checkpoint_holds_everything_and_loads_weights_only(tmp_path, experiment_dict):
    exp = Experiment.from_dict(experiment_dict())
    exp.run(output=tmp_path)
    state = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "rng", "epoch", "step_in_epoch", "global_step"} <= set(state)
    assert state["epoch"] == 2 and state["step_in_epoch"] == 0


def test_run_directories_never_overwrite_each_other(tmp_path, experiment_dict):
    a = Experiment.from_dict(experiment_dict(train={"epochs": 0}), name="same")
    b = Experiment.from_dict(experiment_dict(train={"epochs": 0}), name="same")
    a.run(output=tmp_path)
    b.run(output=tmp_path)
    assert a.run_dir != b.run_dir and "seed7" in a.run_dir.name


def test_two_experiments_in_one_process_do_not_interfere(tmp_path, experiment_dict):
    first = Experiment.from_dict(experiment_dict(train={"seed": 1}))
    second = Experiment.from_dict(experiment_dict(train={"seed": 1}))
    r1 = first.run(output=tmp_path / "a")
    Experiment.from_dict(experiment_dict(train={"seed": 99}, model={"hidden_size": 8})).run(output=tmp_path / "c")
    r2 = second.run(output=tmp_path / "b")
    assert r1["test"] == r2["test"]


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, experiment_dict):
    exp = Experiment.from_dict(experiment_dict(train={"epochs": 2}))
    exp.run(output=tmp_path)
    good = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    exp2 = Experiment.from_dict(experiment_dict(train={"epochs": 3}))
    original = exp2.build

    def poisoned(device):
        model = original(device)
        forward = model.forward
        model.forward = lambda rows, candidates: forward(rows, candidates) * math.nan
        return model

    exp2.build = poisoned
    with pytest.raises(TrainingError, match="loss became nan"):
        exp2.run(output=tmp_path, resume=exp.run_dir)
    kept = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(kept[k], good[k]) for k in good)


def test_evaluate_again_from_the_run_directory(tmp_path, experiment_dict):
    exp = Experiment.from_dict(experiment_dict())
    results = exp.run(output=tmp_path)
    again = Experiment.from_run_dir(exp.run_dir).evaluate(exp.run_dir)
    assert again["test"] == pytest.approx(results["test"])
    uncached = Experiment.from_run_dir(exp.run_dir).evaluate(exp.run_dir, cache=False)
    assert uncached["test"] == pytest.approx(results["test"], abs=1e-6)


def test_resume_needs_a_checkpoint(tmp_path, experiment_dict):
    with pytest.raises(LegoError, match="nothing to resume"):
        Experiment.from_dict(experiment_dict()).run(resume=tmp_path)


def test_early_stopping(tmp_path, experiment_dict):
    exp = Experiment.from_dict(experiment_dict(train={"epochs": 30, "patience": 1, "lr": 0.5}))
    results = exp.run(output=tmp_path)
    assert results["run"]["stopped_early"] and results["run"]["epochs"] < 30
