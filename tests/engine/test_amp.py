"""``train.amp``: bf16 autocast on CUDA, nothing on the CPU.

On the CPU (every machine) amp on and off give the same run; on a CUDA GPU
(where one is present) the autocast run computes in bf16, keeps its weights
in float32 and trains to the same quality within a bound.
"""

from __future__ import annotations

import pytest
import torch

from lego_core.engine.evaluate import autocast
from lego_core.experiment import Experiment

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=[GPU, pytest.mark.cuda])]
# bf16 keeps 8 bits of mantissa: the runs part after a few steps, the quality stays
TOLERANCE = {"cpu": 1e-6, "cuda": 0.05}


@pytest.mark.parametrize("device", DEVICES)
def test_autocast_computes_in_bf16_on_cuda_only(device):
    layer = torch.nn.Linear(4, 4).to(device)
    with autocast(torch.device(device), True):
        out = layer(torch.ones(2, 4, device=device))
    assert out.dtype == (torch.bfloat16 if device == "cuda" else torch.float32)
    with autocast(torch.device(device), False):
        assert layer(torch.ones(2, 4, device=device)).dtype == torch.float32


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_amp_trains_like_float32_and_keeps_float32_weights(tmp_path, experiment_dict, device):
    runs = {}
    for amp in (True, False):
        train = {"epochs": 4, "lr": 0.01, "device": device, "amp": amp, "eval_splits": ["test"]}
        exp = Experiment.from_dict(experiment_dict(model={"content": "id"}, train=train))
        results = exp.run(output=tmp_path / f"amp-{amp}")
        state = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")["model"]
        runs[amp] = (results, {value.dtype for value in state.values() if value.is_floating_point()})
    (mixed, mixed_dtypes), (full, full_dtypes) = runs[True], runs[False]
    assert mixed_dtypes == full_dtypes == {torch.float32}
    for key, value in full["test"].items():
        assert mixed["test"][key] == pytest.approx(value, abs=TOLERANCE[device]), key
    assert full["test"]["auc"] > 0.6  # it learned something: the comparison is not of two random rankers
