"""lego sweep: every cell a run directory, resumable at the cell level, J workers, clear errors up front."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lego_core.cli.main import main
from lego_core.errors import ConfigError
from lego_core.experiment import Experiment
from lego_core.lock import file_lock
from lego_core.study.sweep import Sweep, available_cpus
from lego_core.study.worker import PARENT_CHECK_SECONDS


def _cells(folder: Path) -> dict[str, dict]:
    return {
        p.name: json.loads((p / "results.json").read_text())
        for p in sorted(folder.iterdir())
        if (p / "results.json").is_file()
    }


def test_two_values_times_three_seeds_then_report_shows_mean_and_std(quick_experiment, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    exp = quick_experiment(sweep={"grid": {"model": {"hidden_size": [4, 8]}}, "seeds": 3})
    out_dir = tmp_path / "sweep"
    assert main(["sweep", str(exp), "--output", str(out_dir)]) == 0
    out = capsys.readouterr().out
    cells = _cells(out_dir)
    assert sorted(cells) == sorted(f"hidden_size={h},seed={s}" for h in (4, 8) for s in (7, 8, 9))
    for name, results in cells.items():
        assert results["run"]["seed"] == int(name.split("seed=")[1])
        config = (out_dir / name / "config.toml").read_text()
        assert f"hidden_size = {name.split(',')[0].split('=')[1]}\n" in config
    assert sum(line.startswith("[") and ": done in " in line for line in out.splitlines()) == 6
    manifest = json.loads((out_dir / "sweep.json").read_text())
    assert [c["name"] for c in manifest["cells"]] == [f"hidden_size={h},seed={s}" for h in (4, 8) for s in (7, 8, 9)]

    assert main(["report", str(out_dir), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keys"] == ["model.hidden_size"]
    assert [g["values"] for g in report["groups"]] == [{"model.hidden_size": 4}, {"model.hidden_size": 8}]
    group = report["groups"][0]["metrics"]["gauc"]
    values = [cells[f"hidden_size=4,seed={s}"]["test"]["gauc"] for s in (7, 8, 9)]
    assert group["n"] == 3 and sorted(group["values"]) == pytest.approx(sorted(values))
    assert group["mean"] == pytest.approx(sum(values) / 3)
    assert main(["report", str(out_dir)]) == 0
    table = capsys.readouterr().out
    assert " ± " in table and "hidden_size" in table and "95% bootstrap interval" in table


def test_running_again_finishes_only_the_missing_cells(quick_experiment, tmp_path, capsys):
    exp = quick_experiment()
    out_dir = tmp_path / "sweep"
    assert main(["sweep", str(exp), "--grid", "model.hidden_size=4", "--seeds", "2", "--output", str(out_dir)]) == 0
    first = {name: (out_dir / name / "results.json").stat().st_mtime_ns for name in _cells(out_dir)}
    capsys.readouterr()
    assert main(["sweep", str(exp), "--grid", "model.hidden_size=4,8", "--seeds", "2", "--output", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "4 cells; 2 done, 0 to resume, 2 to run" in out
    assert {name: (out_dir / name / "results.json").stat().st_mtime_ns for name in first} == first
    assert len(_cells(out_dir)) == 4


def test_a_cell_with_a_checkpoint_is_resumed_not_restarted(quick_experiment, tmp_path, capsys):
    out_dir = tmp_path / "sweep"
    exp = quick_experiment(train={"epochs": 1})
    assert main(["sweep", str(exp), "--grid", "model.hidden_size=4", "--output", str(out_dir)]) == 0
    exp = quick_experiment(train={"epochs": 2})  # the same file, asking for one more epoch
    (cell,) = Sweep.from_toml(exp, grid=["model.hidden_size=4"], output=out_dir).plan()
    assert cell.state == "resume"
    capsys.readouterr()
    assert main(["sweep", str(exp), "--grid", "model.hidden_size=4", "--output", str(out_dir)]) == 0
    assert "1 to resume, 0 to run" in capsys.readouterr().out
    resumed = json.loads((cell.run_dir / "results.json").read_text())
    straight = Experiment.from_dict(cell.data, base_dir=exp.parent).run(output=tmp_path / "straight")
    assert resumed["run"]["epochs"] == 2 and resumed["test"] == pytest.approx(straight["test"])
    assert "epochs = 2" in (cell.run_dir / "config.toml").read_text()  # the run directory says what it became
    assert Sweep.from_toml(exp, grid=["model.hidden_size=4"], output=out_dir).plan()[0].state == "done"


def test_threads_are_split_between_the_workers(quick_experiment, tmp_path):
    exp = quick_experiment(train={"threads": 4})
    planned = Sweep.from_toml(exp, grid=["model.hidden_size=4,8"], jobs=2, output=tmp_path / "s").plan()
    assert {p.threads for p in planned} == {2}
    assert all(p.data["train"]["threads"] == 2 for p in planned)
    default = Sweep.from_toml(
        quick_experiment(name="b"), grid=["model.hidden_size=4,8"], jobs=2, output=tmp_path / "t"
    ).plan()
    assert {p.threads for p in default} == {max(1, available_cpus() // 2)}
    alone = Sweep.from_toml(quick_experiment(name="c"), grid=["model.hidden_size=4"], output=tmp_path / "u").plan()
    assert alone[0].threads is None  # one worker, torch's default: nothing to split


def test_bad_cells_are_refused_before_anything_is_written(quick_experiment, tmp_path):
    exp = quick_experiment()
    out_dir = tmp_path / "sweep"
    with pytest.raises(ConfigError) as err:
        Sweep.from_toml(exp, grid=["model.hidden_size=4,8", "model.hiden_size=1"], output=out_dir).run()
    assert "the sweep cannot start; all 2 cells: unknown key 'hiden_size' (did you mean 'hidden_size'?)" in str(
        err.value
    )
    with pytest.raises(ConfigError) as err:
        Sweep.from_toml(exp, grid=['model.hidden_size=4,"big"'], output=out_dir).run()
    assert str(err.value).endswith(
        "the sweep cannot start; hidden_size=big,seed=7: wrong type: got str 'big', expected int @ $.model.hidden_size"
    )
    assert not out_dir.exists()


def test_a_cell_run_with_another_config_is_refused_not_mixed_in(quick_experiment, tmp_path, capsys):
    exp = quick_experiment()
    out_dir = tmp_path / "sweep"
    assert main(["sweep", str(exp), "--grid", "model.hidden_size=4", "--output", str(out_dir)]) == 0
    capsys.readouterr()
    assert (
        main(["sweep", str(exp), "--grid", "model.hidden_size=4", "--set", "train.lr=0.01", "--output", str(out_dir)])
        == 2
    )
    err = capsys.readouterr().err
    assert "was run with another config (train.lr: 0.001 -> 0.01)" in err


def test_lego_run_trains_the_base_point_of_a_file_with_a_sweep_table(quick_experiment, tmp_path):
    exp = quick_experiment(sweep={"grid": {"model.hidden_size": [4, 8]}})
    results = Experiment.from_toml(exp).run(output=tmp_path / "runs")
    assert results["test"]["gauc"] > 0


def test_a_failing_cell_does_not_stop_the_others_and_the_exit_says_so(quick_experiment, tmp_path, capsys):
    exp = quick_experiment(train={"lr": 1e30, "epochs": 1})
    out_dir = tmp_path / "sweep"
    code = main(["sweep", str(exp), "--grid", "train.grad_clip=0.0,1.0", "--output", str(out_dir)])
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert code == 2 and len(lines) == 2
    assert all(": failed after " in line and "the loss became" in line for line in lines)
    assert "2 of 2 cells failed" in err


def test_two_workers_run_the_cells(quick_experiment, tmp_path, capsys):
    exp = quick_experiment()
    out_dir = tmp_path / "sweep"
    assert main(["sweep", str(exp), "--grid", "model.hidden_size=4,8", "--jobs", "2", "--output", str(out_dir)]) == 0
    assert "2 workers" in capsys.readouterr().out
    assert len(_cells(out_dir)) == 2


def _default_sigint() -> None:
    # a job started in the background by a script (`nox ... &`) inherits SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored; the sweep under test is a terminal user's, whose Ctrl-C arrives
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lego(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lego_core.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_kill_minus_nine_then_the_same_command_finishes_only_the_missing_cells(quick_experiment, tmp_path, jobs):
    # cells of a few seconds: the kill lands before the second pair of cells can finish, even when a
    # loaded machine delays this poll (with 0.35 s cells, all four once finished before the kill)
    exp = quick_experiment(train={"epochs": 12, "batch_size": 8, "checkpoint_every": 2})
    out_dir = tmp_path / "sweep"
    command = [
        "sweep",
        str(exp),
        "--grid",
        "model.hidden_size=4,8",
        "--seeds",
        "2",
        "--jobs",
        str(jobs),
        "--output",
        str(out_dir),
    ]
    victim = _lego(*command)
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None and not (out_dir.exists() and _cells(out_dir)):
        time.sleep(0.05)
    assert victim.poll() is None, "the sweep ended before the kill"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    time.sleep(2 * PARENT_CHECK_SECONDS + 0.5)  # workers notice that their parent is gone
    for cell in out_dir.iterdir():  # no orphan worker trains on: every cell's lock is free
        if cell.is_dir():
            with file_lock(cell / ".lock", blocking=False):
                pass
    done_before = {name: (out_dir / name / "results.json").stat().st_mtime_ns for name in _cells(out_dir)}
    assert 1 <= len(done_before) < 4
    again = _lego(*command)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"4 cells; {len(done_before)} done" in out
    assert {name: (out_dir / name / "results.json").stat().st_mtime_ns for name in done_before} == done_before
    assert len(_cells(out_dir)) == 4
    ran = [line for line in out.splitlines() if line.startswith("[") and ": done in " in line]
    assert len(ran) == 4 - len(done_before)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_saves_the_running_cells_and_the_same_command_continues(quick_experiment, tmp_path, jobs):
    # long enough that the interrupt lands while the cells train, however fast the machine
    exp = quick_experiment(train={"epochs": 12, "batch_size": 8, "checkpoint_every": 2})
    out_dir = tmp_path / "sweep"
    command = ["sweep", str(exp), "--grid", "model.hidden_size=4,8", "--jobs", str(jobs), "--output", str(out_dir)]
    victim = _lego(*command)
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None and not list(out_dir.glob("*/checkpoints/last.pt")):
        time.sleep(0.05)
    assert victim.poll() is None, "the sweep ended before the interrupt"
    os.kill(victim.pid, signal.SIGINT)  # to the sweep process only: it passes the interrupt on to its workers
    out, err = victim.communicate(timeout=120)
    assert victim.returncode == 130, err
    assert "interrupted: " in out and "run the same command again to continue" in out
    again = _lego(*command)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert re.search(r"; 0 done, [12] to resume", out) and len(_cells(out_dir)) == 2
