"""Training under torchrun (2 processes) equals one process with the same global batch.

Each rank takes its share of every global batch and DDP averages the
gradients (weighted by the shares), evaluation gathers every pair's score
before the metrics, and only rank 0 writes: the results of 2 processes equal
those of 1 within float tolerance, for matching and for ranking. On the CPU
(gloo) this runs everywhere; on CUDA (nccl, each rank on its own GPU) where
two GPUs are present.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lego_core.engine.distributed import SINGLE, Distributed

EXPERIMENT = """\
[data]
path = "{depot}"
item_attributes = ["title"]
max_history = 8

[model]
hidden_size = 8
neg_count = {neg_count}

[train]
epochs = 2
batch_size = 33
metrics = ["auc", "gauc", "ndcg@5"]
monitor = "auc"
device = "{device}"
seed = 3
threads = 1
"""


def test_shares_of_a_batch_cover_it_once():
    for world in (1, 2, 3):
        for size in (1, 5, 33, 64):
            shares = [Distributed(rank, world).share(size) for rank in range(world)]
            covered = [i for s in shares for i in range(size)[s]]
            assert covered == list(range(size))
            assert sum(
                Distributed(r, world).loss_weight(len(range(size)[s]), size) for r, s in enumerate(shares)
            ) == pytest.approx(world if world > 1 else 1.0)
    assert not SINGLE.active and SINGLE.is_main


def _lego(*argv: str, nproc: int) -> None:
    command = [sys.executable, "-m", "lego", *argv] + (["--nproc", str(nproc)] if nproc > 1 else [])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


def _run(tmp_path: Path, name: str, exp: Path, nproc: int) -> dict:
    output = tmp_path / name
    _lego("run", str(exp), "--output", str(output), "--json", nproc=nproc)
    (run_dir,) = output.iterdir()
    return json.loads((run_dir / "results.json").read_text())


def _resume(tmp_path: Path, name: str, nproc: int) -> dict:
    (run_dir,) = (tmp_path / name).iterdir()
    _lego("run", "--resume", str(run_dir), "--set", "train.epochs=3", "--json", nproc=nproc)
    return json.loads((run_dir / "results.json").read_text())


TWO_GPUS = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="nccl needs two CUDA GPUs, one per rank")
# GPU kernels reduce in an order of their own: a looser bound than the CPU's
TOLERANCE = {"cpu": 2e-4, "cuda": 2e-3}


@pytest.mark.slow
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[TWO_GPUS, pytest.mark.cuda])])
@pytest.mark.parametrize("neg_count", [2, 0], ids=["matching", "ranking"])
def test_two_processes_give_the_results_of_one(tmp_path, depot_path, neg_count, device):
    exp = tmp_path / "exp.toml"
    exp.write_text(EXPERIMENT.format(depot=depot_path, neg_count=neg_count, device=device))
    one = _run(tmp_path, "one", exp, 1)
    two = _run(tmp_path, "two", exp, 2)
    assert two["run"]["processes"] == 2 and two["run"]["steps"] == one["run"]["steps"]
    for split in ("valid", "test"):
        for key, value in one[split].items():
            assert two[split][key] == pytest.approx(value, abs=TOLERANCE[device]), (split, key)
    if neg_count:  # resuming under torchrun continues the same training (one more epoch each)
        one, two = _resume(tmp_path, "one", 1), _resume(tmp_path, "two", 2)
        assert two["run"]["epochs"] == one["run"]["epochs"] == 3
        for key, value in one["test"].items():
            assert two["test"][key] == pytest.approx(value, abs=TOLERANCE[device]), key
