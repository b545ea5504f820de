"""kill -9 in the middle of an epoch, then --resume: the same results.json as a run never stopped."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from lego_core.config.toml_writer import dumps


def _results(run_dir):
    data = json.loads((run_dir / "results.json").read_text())
    data.pop("timing")
    return data


def _lego(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "lego_core.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.slow
def test_kill_minus_nine_then_resume_gives_the_same_results(tmp_path, experiment_dict):
    config = experiment_dict(
        train={"epochs": 2, "batch_size": 8, "checkpoint_every": 5}, model={"content": "id", "neg_count": 3}
    )
    exp_file = tmp_path / "exp.toml"
    exp_file.write_text(dumps(config))

    straight = _lego("run", str(exp_file), "--output", str(tmp_path / "straight"))
    assert straight.wait(timeout=300) == 0, straight.stderr.read()
    (straight_dir,) = (tmp_path / "straight").iterdir()

    victim = _lego("run", str(exp_file), "--output", str(tmp_path / "killed"))
    deadline = time.time() + 120
    checkpoint = None
    while time.time() < deadline and victim.poll() is None:
        found = list((tmp_path / "killed").glob("*/checkpoints/last.pt"))
        if found:
            checkpoint = found[0]
            break
        time.sleep(0.005)
    assert checkpoint is not None, "the run ended before writing a checkpoint"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    run_dir = checkpoint.parent.parent
    assert not (run_dir / "results.json").exists()
    state = torch.load(checkpoint, weights_only=True)
    assert state["step_in_epoch"] > 0, "the kill should land in the middle of an epoch"

    resumed = _lego("run", "--resume", str(run_dir))
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert _results(run_dir) == _results(straight_dir)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
