"""Shared pieces of the fault tests: a small depot and experiment, and an inline brick with dropout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import lego_core
import lego_core.builtins.plugin as core_plugin
from lego_core import faults
from lego_core.cli import main as cli_main
from lego_core.model.bricks import ContentOperator
from lego_core.plugin import hookimpl
from lego_core.plugin.host import PluginHost
from lego_core.testing import tiny_depot

EXPERIMENT = """\
[data]
path = "depot"
item_attributes = ["title"]
max_history = 8

[model]
content = "{content}"
hidden_size = 8
neg_count = 2

[train]
epochs = 3
batch_size = 32
checkpoint_every = 2
metrics = ["auc", "gauc", "ndcg@5"]
monitor = "auc"
device = "cpu"
seed = 5
"""


class NoisyOperator(ContentOperator):
    """An ID table with dropout: its training depends on the RNG state, which a resume must restore."""

    name = "noisy"
    uses_content = False

    def __init__(self, *, options=None, context) -> None:
        super().__init__(options=options, context=context)
        self.table = nn.Embedding(context.num_items, context.hidden_size)
        self.dropout = nn.Dropout(0.3)

    def forward(self, items) -> torch.Tensor:
        return self.dropout(self.table(items.index))


class NoisyPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [NoisyOperator]


@pytest.fixture(scope="session")
def fault_depot(tmp_path_factory) -> Path:
    return tiny_depot(tmp_path_factory.mktemp("faults") / "depot", num_items=120, num_users=40)


@pytest.fixture
def experiment_file(fault_depot, tmp_path):
    """``experiment_file(content="noisy")`` -> an experiment TOML next to a link to the shared depot."""

    def make(content: str = "noisy") -> Path:
        (tmp_path / "depot").symlink_to(fault_depot)
        path = tmp_path / "exp.toml"
        path.write_text(EXPERIMENT.format(content=content))
        return path

    return make


@pytest.fixture
def noisy_host(monkeypatch):
    """`lego` (in this process) sees the core and the inline noisy brick."""

    def host():
        h = PluginHost(entry_points=False)
        h.add("core", core_plugin, distribution="lego-core", version=lego_core.__version__)
        h.add("noisy", NoisyPlugin(), distribution="lego-noisy")
        return h

    monkeypatch.setattr(cli_main, "PluginHost", host)


@pytest.fixture
def fault(monkeypatch):
    """``fault("step:3:SIGINT")`` plans a fault for the next run in this process."""

    def plan(spec: str | None) -> None:
        monkeypatch.setattr(faults, "_counts", {})
        if spec is None:
            monkeypatch.delenv("LEGO_FAULT", raising=False)
        else:
            monkeypatch.setenv("LEGO_FAULT", spec)

    return plan
