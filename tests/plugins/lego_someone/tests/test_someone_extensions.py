"""A third-party plugin adds a task, a settings table and a command, and one TOML file uses all three."""

from __future__ import annotations

import pytest

pytest.importorskip("lego_someone")  # installed by the third-party nox session

import torch  # noqa: E402

from lego_core.cli.main import main  # noqa: E402
from lego_core.testing import tiny_depot  # noqa: E402
from lego_someone.hinge import HingeOptions, HingeTask  # noqa: E402
from lego_someone.summary import SUMMARY_FILE, SomeoneSettings  # noqa: E402

EXPERIMENT = """\
[data]
path = "depot"
item_attributes = ["title"]

[model]
content = "bigram"
hidden_size = 16
neg_count = 3
task = "hinge"                 # lego-someone's task

[model.task_options]
margin = 0.5

[plugins.someone]              # lego-someone's settings table
summary = true
metric = "ndcg@5"

[train]
epochs = 2
batch_size = 32
metrics = ["auc", "ndcg@5"]
monitor = "auc"
device = "cpu"
"""


def test_hinge_loss_is_the_margin_formula():
    scores = torch.tensor([[2.0, 1.8, 0.0], [0.0, 1.0, -3.0]])
    task = HingeTask(options=HingeOptions(margin=0.5), neg_count=2)
    # row 1: max(0, .5 - 2 + 1.8) = .3, max(0, .5 - 2 + 0) = 0; row 2: 1.5, 0
    assert task.loss(scores, torch.ones(2)).item() == pytest.approx((0.3 + 0 + 1.5 + 0) / 4)


def test_one_toml_uses_the_task_the_settings_and_then_the_command(tmp_path, capsys):
    tiny_depot(tmp_path / "depot")
    (tmp_path / "exp.toml").write_text(EXPERIMENT)
    assert main(["run", str(tmp_path / "exp.toml"), "--output", str(tmp_path / "runs"), "--json"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    config = (run_dir / "config.toml").read_text()
    assert 'task = "someone:hinge"' in config and "[plugins.someone]" in config and "margin = 0.5" in config
    summary = (run_dir / SUMMARY_FILE).read_text()
    assert summary.startswith(f"{run_dir.name}: task hinge, test ndcg@5 0.")
    capsys.readouterr()
    assert main(["someone-summary", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == summary.strip()
    # the settings and task reach a resumed run too: the run directory's config carries them
    assert main(["run", "--resume", str(run_dir), "--set", "train.epochs=3", "--json"]) == 0


def test_settings_errors_name_the_key_path(tmp_path, capsys):
    tiny_depot(tmp_path / "depot")
    (tmp_path / "exp.toml").write_text(
        EXPERIMENT.replace("summary = true", "summary = 1").replace("margin = 0.5", "margin = -1.0")
        + "\n[plugins.someon]\nx = 1\n"
    )
    assert main(["run", str(tmp_path / "exp.toml"), "--output", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "@ $.plugins.someone.summary" in err
    assert "@ $.model.task_options.margin" in err
    assert "no installed plugin has settings named 'someon'" in err and "Did you mean 'someone'?" in err
    assert not (tmp_path / "runs").exists()  # a config mistake writes nothing


def test_the_settings_default_when_the_table_is_absent():
    assert SomeoneSettings() == SomeoneSettings(summary=False, metric="auc")
