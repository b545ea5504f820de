"""Validation before any work, locks, resume that refuses what changed, bricks that break their contract.

Every case is a one-line error with exit code 2 (or a clear exception from the
Python API) and leaves no run directory or half-written file behind.
"""

from __future__ import annotations

import errno
import json
import os

import pytest
import torch

import lego_core
import lego_core.builtins.plugin as core_plugin
from lego_core import atomic
from lego_core.cli import main as cli_main
from lego_core.cli.main import main
from lego_core.data.prepare import prepare
from lego_core.data.synth import SyntheticOptions, SyntheticProcessor
from lego_core.engine import rundir
from lego_core.errors import LockedError, TrainingError
from lego_core.experiment import Experiment
from lego_core.lock import depot_lock, file_lock
from lego_core.model.bricks import ContentOperator
from lego_core.plugin import hookimpl
from lego_core.plugin.host import PluginHost


def _one_error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    _, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line and not line.startswith("warning: ")]
    assert lines and lines[0].startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ('train.eval_splits=["bogus"]', "train.eval_splits names 'bogus'"),
        ("train.eval_splits=[]", "train.eval_splits is empty"),
        ('train.metrics=["auc", "ndcg@99999999999999999999"]', "cut-off must be between 1 and 1,000,000"),
        ("train.lr=inf", "lr must be a finite number"),
        ("train.content_lr=nan", "content_lr must be a finite number"),
        ("train.seed=-1", "'seed' must be >= 0"),
        ("train.seed=4294967296", "'seed' must be < 4294967296"),
        ('train.device="tpu"', 'train.device = "tpu"'),
        ("train.grad_clip=inf", "grad_clip must be a finite number"),
    ],
)
def test_bad_values_are_refused_before_any_work(experiment_file, tmp_path, capsys, override, expected):
    exp = experiment_file("id")
    err = _one_error(capsys, "run", str(exp), "--output", str(tmp_path / "runs"), "--set", override)
    assert expected in err
    assert not (tmp_path / "runs").exists()


def test_paths_of_the_wrong_kind(experiment_file, tmp_path, capsys):
    exp = experiment_file("id")
    assert "is a folder" in _one_error(capsys, "run", str(tmp_path))
    (tmp_path / "afile").write_text("x")
    _one_error(capsys, "run", str(exp), "--output", str(tmp_path / "afile"))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_disk_or_read_only_folder_is_one_line_and_writes_nothing(
    experiment_file, tmp_path, capsys, monkeypatch, code
):
    exp = experiment_file("id")

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / "runs"))

    monkeypatch.setattr(rundir, "new_run_dir", refuse)
    err = _one_error(capsys, "run", str(exp), "--output", str(tmp_path / "runs"))
    assert os.strerror(code) in err


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    atomic.write_json(target, {"old": True})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError):
        atomic.write_json(target, {"new": True})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


# ------------------------------------------------------------------ locks


def test_prepare_force_is_refused_while_a_run_reads_the_depot(tmp_path):
    depot = tmp_path / "depot"
    options = SyntheticOptions(num_items=60, num_users=15, impressions_per_user=3)
    prepare(SyntheticProcessor(options), None, depot)
    with file_lock(depot_lock(depot), shared=True):  # what a run holds
        with pytest.raises(LockedError, match="a run reads it"):
            prepare(SyntheticProcessor(options), None, depot, force=True)
    prepare(SyntheticProcessor(options), None, depot, force=True)  # free again


def test_two_processes_cannot_work_in_one_run_directory(experiment_file, tmp_path, capsys, fault):
    exp = experiment_file("id")
    assert main(["run", str(exp), "--output", str(tmp_path / "runs"), "--set", "train.epochs=1", "--json"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    with file_lock(run_dir / ".lock"):  # another `lego run --resume` holds it
        err = _one_error(capsys, "run", "--resume", str(run_dir), "--set", "train.epochs=2")
    assert "is in use by another process" in err


# ------------------------------------------------------------------ resume refuses what changed


@pytest.fixture
def finished_run(experiment_file, tmp_path, capsys):
    exp = experiment_file("id")
    assert main(["run", str(exp), "--output", str(tmp_path / "runs"), "--set", "train.epochs=1", "--json"]) == 0
    capsys.readouterr()
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def test_resume_refuses_an_edited_config_naming_the_key(finished_run, capsys):
    config = finished_run / "config.toml"
    config.write_text(config.read_text().replace("lr = 0.001", "lr = 0.01"))
    err = _one_error(capsys, "run", "--resume", str(finished_run))
    assert "train.lr: 0.001 -> 0.01" in err and "start a new run" in err


def test_resume_allows_the_documented_keys(finished_run, capsys):
    assert main(["run", "--resume", str(finished_run), "--set", "train.epochs=2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["epochs"] == 2


def test_resume_refuses_a_rebuilt_depot(tmp_path, capsys):
    depot = tmp_path / "own-depot"
    prepare(SyntheticProcessor(SyntheticOptions(num_items=60, num_users=15, impressions_per_user=3)), None, depot)
    exp = tmp_path / "exp.toml"
    exp.write_text(f'[data]\npath = "{depot}"\n\n[model]\nhidden_size = 8\n\n[train]\nepochs = 1\n')
    assert main(["run", str(exp), "--output", str(tmp_path / "runs"), "--json"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    prepare(
        SyntheticProcessor(SyntheticOptions(num_items=70, num_users=15, impressions_per_user=3)),
        None,
        depot,
        force=True,
    )  # between the kill and the resume
    capsys.readouterr()
    err = _one_error(capsys, "run", "--resume", str(run_dir), "--set", "train.epochs=2")
    assert "the depot changed since this run started" in err


def test_a_flipped_checkpoint_is_refused_by_eval_and_resume(finished_run, capsys):
    best = finished_run / "checkpoints" / "best.pt"
    data = bytearray(best.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 400):
        data[i] ^= 0x5A
    best.write_bytes(bytes(data))
    assert "the checkpoint is damaged" in _one_error(capsys, "eval", str(finished_run))
    last = finished_run / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:-10] + b"0123456789")
    assert "the checkpoint is damaged" in _one_error(
        capsys, "run", "--resume", str(finished_run), "--set", "train.epochs=2"
    )


def test_eval_names_its_checkpoint_and_never_falls_back(finished_run, capsys):
    assert main(["eval", str(finished_run)]) == 0
    assert "evaluated checkpoints/best.pt (saved after epoch 1)" in capsys.readouterr().out
    (finished_run / "checkpoints" / "best.pt").unlink()
    err = _one_error(capsys, "eval", str(finished_run))
    assert "no checkpoint 'best.pt' (present: last.pt)" in err


def test_old_runs_are_unaffected_by_a_plugin_that_reuses_a_brick_name(finished_run):
    assert 'content = "core:id"' in (finished_run / "config.toml").read_text()


# ------------------------------------------------------------------ bricks that break their contract


class _Broken(ContentOperator):
    uses_content = False

    def __init__(self, *, options=None, context) -> None:
        super().__init__(options=options, context=context)
        self.table = torch.nn.Embedding(context.num_items, context.hidden_size)


class ExtraRows(_Broken):
    name = "extrarows"

    def forward(self, items):
        out = self.table(items.index)
        return torch.cat([out, out[:3]])


class NarrowRows(_Broken):
    name = "narrow"

    def forward(self, items):
        return self.table(items.index)[:, :-1]


class NaNRows(_Broken):
    name = "nanrows"

    def forward(self, items):
        return self.table(items.index) * float("nan")


class BrokenPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [ExtraRows, NarrowRows, NaNRows]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("extrarows", "items; expected ("),
        ("narrow", "expected ("),
        ("nanrows", "returned NaN or inf"),
    ],
)
def test_a_brick_breaking_its_contract_is_named(fault_depot, tmp_path, content, expected):
    host = PluginHost(entry_points=False)
    host.add("core", core_plugin, distribution="lego-core", version=lego_core.__version__)
    host.add("broken", BrokenPlugin(), distribution="lego-broken-bricks")
    data = {
        "data": {"path": str(fault_depot)},
        "model": {"content": content, "hidden_size": 8},
        "train": {"epochs": 1, "batch_size": 8},
    }
    with pytest.raises(TrainingError) as err:
        Experiment.from_dict(data, host=host).run(output=tmp_path / "runs")
    assert f"the content brick 'broken:{content}'" in str(err.value) and expected in str(err.value)


def test_a_nan_loss_blames_the_learning_rate_only_with_evidence(fault_depot, tmp_path, monkeypatch):
    exp = Experiment.from_dict(
        {"data": {"path": str(fault_depot)}, "model": {"hidden_size": 8}, "train": {"epochs": 1, "batch_size": 8}}
    )
    original = exp.build

    def poisoned(device):
        model = original(device)
        forward = model.forward
        calls = {"n": 0}

        def late_nan(rows, candidates):
            calls["n"] += 1
            out = forward(rows, candidates)
            return out * float("nan") if calls["n"] == 4 else out

        model.forward = late_nan
        return model

    exp.build = poisoned
    with pytest.raises(TrainingError) as err:
        exp.run(output=tmp_path / "runs")
    message = str(err.value)
    assert "at epoch 1, step 4 (global step 4)" in message
    assert "were finite and steady" in message and "train.lr" not in message
    assert cli_main is not None
