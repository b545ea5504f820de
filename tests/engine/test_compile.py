"""train.compile: the bricks run through torch.compile in place; same training, same checkpoint keys."""

from __future__ import annotations

import pytest
import torch

from lego_core.experiment import Experiment


@pytest.mark.slow
def test_compiled_training_matches_eager_and_keeps_checkpoint_keys(tmp_path, experiment_dict):
    runs = {}
    for compiled in (False, True):
        exp = Experiment.from_dict(
            experiment_dict(train={"epochs": 1, "max_steps_per_epoch": 6, "compile": compiled, "eval_splits": ["test"]})
        )
        results = exp.run(output=tmp_path / str(compiled))
        state = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
        runs[compiled] = (results, state)
    (eager, eager_state), (compiled, compiled_state) = runs[False], runs[True]
    assert list(compiled_state) == list(eager_state)  # no "_orig_mod." prefix: checkpoints are interchangeable
    for key, value in eager_state.items():
        torch.testing.assert_close(compiled_state[key], value, rtol=1e-3, atol=1e-4)
    assert compiled["test"]["auc"] == pytest.approx(eager["test"]["auc"], abs=1e-3)


def test_compile_is_off_by_default(experiment_dict):
    assert Experiment.from_dict(experiment_dict()).config.train.compile is False
