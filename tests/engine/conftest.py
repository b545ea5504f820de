from pathlib import Path

import pytest

from lego_core.testing import tiny_depot


@pytest.fixture(scope="session")
def depot_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic depot shared by the engine tests (read-only)."""
    return tiny_depot(tmp_path_factory.mktemp("engine") / "depot")


@pytest.fixture
def experiment_dict(depot_path: Path):
    """``experiment_dict(model={...}, train={...})`` -> an experiment table on the shared depot."""

    def make(**sections: dict) -> dict:
        data = {
            "data": {
                "path": str(depot_path),
                "item_attributes": ["title", "category"],
                "max_history": 10,
                "max_length": 8,
            },
            "model": {"hidden_size": 16, "neg_count": 2},
            "train": {"epochs": 1, "batch_size": 32, "seed": 7, "metrics": ["auc", "gauc", "mrr"], "monitor": "gauc"},
        }
        for key, values in sections.items():
            data[key].update(values)
        return data

    return make
