"""Exact resume after every kind of interrupt, at several points, through fault points (no sleeps).

SIGINT and SIGTERM stop at a step boundary with a checkpoint and exit 130 / 143
(tested in this process, with an inline brick that uses dropout so that the
RNG state matters); SIGKILL leaves whatever was on disk (tested in a child
process). Every interrupted run, resumed, ends with the same results.json and
metrics.jsonl as a run that was never stopped, to the last digit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lego_core.cli.main import main


def _only_run(output: Path) -> Path:
    (run_dir,) = [p for p in output.iterdir() if p.is_dir()]
    return run_dir


def _outcome(run_dir: Path) -> tuple[dict, list]:
    results = json.loads((run_dir / "results.json").read_text())
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for record in records:
        record.pop("seconds")
    return {k: results[k] for k in ("valid", "test", "run")}, records


@pytest.fixture
def reference(experiment_file, noisy_host, fault, tmp_path_factory):
    """The uninterrupted run's outcome (computed once per test, the depot is shared)."""
    fault(None)
    output = tmp_path_factory.mktemp("reference")
    assert main(["run", str(experiment_file()), "--output", str(output), "--json"]) == 0
    return _outcome(_only_run(output))


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ("step:1:SIGINT", 130),  # the very first step
        ("step:7:SIGTERM", 143),  # mid-epoch, between two checkpoint_every saves
        ("checkpoint:3:SIGINT", 130),  # while a checkpoint is being written: it is finished first
        ("evaluation:1:SIGTERM", 143),  # during an epoch's validation
        ("evaluation:4:SIGINT", 130),  # during the final evaluation (3 validations come first)
    ],
)
def test_sigint_and_sigterm_stop_cleanly_and_resume_exactly(reference, tmp_path, noisy_host, fault, capsys, spec, code):
    fault(spec)
    output = tmp_path / "runs"
    exp = tmp_path / "exp.toml"
    assert main(["run", str(exp), "--output", str(output), "--json"]) == code
    err = capsys.readouterr().err
    run_dir = _only_run(output)
    assert f"stopped: stopped by {signal.Signals(code - 128).name}" in err and f"--resume {run_dir}" in err
    assert not (run_dir / "results.json").exists()
    fault(None)
    assert main(["run", "--resume", str(run_dir), "--json"]) == 0
    assert _outcome(run_dir) == reference


def _child(*argv: str, fault_spec: str | None, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, LEGO_FAULT=fault_spec or "")
    return subprocess.run(
        [sys.executable, "-m", "lego", *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["step:5:SIGKILL", "checkpoint:2:SIGKILL", "results:1:SIGKILL"])
def test_kill_9_anywhere_resumes_to_the_same_result(experiment_file, tmp_path, spec):
    exp = experiment_file("id")  # the child process sees only installed plugins: core bricks
    done = _child("run", str(exp), "--output", str(tmp_path / "reference"), "--json", fault_spec=None, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    reference = _outcome(_only_run(tmp_path / "reference"))
    killed = _child("run", str(exp), "--output", str(tmp_path / "runs"), "--json", fault_spec=spec, cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    run_dir = _only_run(tmp_path / "runs")
    resumed = _child("run", "--resume", str(run_dir), "--json", fault_spec=None, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _outcome(run_dir) == reference
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".tmp")]  # no torn file left
