import json
from pathlib import Path

import pytest

from lego_core.config.toml_writer import dumps
from lego_core.testing import tiny_depot


@pytest.fixture(scope="session")
def study_depot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic depot shared by the study tests (read-only)."""
    return tiny_depot(tmp_path_factory.mktemp("study") / "depot")


@pytest.fixture
def quick_experiment(tmp_path: Path, study_depot: Path):
    """``quick_experiment(sweep=..., **tables)`` -> an experiment file of a fast model (id + mean + dot)."""

    def make(name: str = "exp", sweep: dict | None = None, **tables: dict) -> Path:
        data = {
            "data": {"path": str(study_depot), "max_history": 10},
            "model": {"content": "id", "hidden_size": 8, "neg_count": 2},
            "train": {
                "epochs": 1,
                "batch_size": 64,
                "seed": 7,
                "metrics": ["auc", "gauc", "logloss"],
                "monitor": "gauc",
            },
        }
        for key, values in tables.items():
            data.setdefault(key, {}).update(values)
        if sweep is not None:
            data["sweep"] = sweep
        path = tmp_path / f"{name}.toml"
        path.write_text(dumps(data))
        return path

    return make


def fake_run(folder: Path, config: dict, results: dict | None, epochs: list[dict] | None = None) -> Path:
    """A run directory as lego writes one, without training (for report tests)."""
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(dumps(config))
    (folder / "run.json").write_text(json.dumps({"config": config}))
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in epochs or []))
    return folder


@pytest.fixture
def make_run():
    return fake_run
