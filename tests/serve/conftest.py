"""A trained run of a small content-based model (a bag of title words) and of an ID-only one."""

from pathlib import Path

import pytest
import torch
from torch import nn

from lego_core.experiment import Experiment
from lego_core.model.bricks import ContentOperator
from lego_core.plugin import hookimpl
from lego_core.plugin.host import PluginHost
from lego_core.testing import tiny_depot


class BowOperator(ContentOperator):
    """The mean of an item's title word vectors plus its category's vector (a content operator for tests)."""

    name = "bow"

    def __init__(self, *, options=None, context):
        super().__init__(options=options, context=context)
        self.words = nn.Embedding(context.item_attributes["title"].vocab_size, context.hidden_size)
        self.category = nn.Embedding(context.item_attributes["category"].vocab_size, context.hidden_size)

    def forward(self, items):
        ids, mask = items.tokens["title"], items.masks["title"]
        words = (self.words(ids) * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return words + self.category(items.categories["category"])  # (N, D)


class BowPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [BowOperator]


@pytest.fixture(scope="session")
def serve_host() -> PluginHost:
    return PluginHost(modules=[("bow", BowPlugin())])


@pytest.fixture(scope="session")
def serve_depot(tmp_path_factory) -> Path:
    return tiny_depot(tmp_path_factory.mktemp("serve") / "depot")


def _train(depot: Path, output: Path, host: PluginHost, content: str) -> Path:
    torch.manual_seed(0)
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot), "item_attributes": ["title", "category"], "max_history": 10, "max_length": 12},
            "model": {"content": content, "hidden_size": 16, "neg_count": 2},
            "train": {"epochs": 1, "batch_size": 32, "seed": 3, "metrics": ["auc"], "monitor": "auc"},
        },
        host=host,
        name=content,
    )
    exp.run(output=output)
    return exp.run_dir


@pytest.fixture(scope="session")
def bow_run(serve_depot, serve_host, tmp_path_factory) -> Path:
    return _train(serve_depot, tmp_path_factory.mktemp("bow-run"), serve_host, "bow")


@pytest.fixture(scope="session")
def id_run(serve_depot, tmp_path_factory) -> Path:
    return _train(serve_depot, tmp_path_factory.mktemp("id-run"), PluginHost(), "id")
