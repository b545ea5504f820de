"""Fixtures of lego-datasets' tests: fixture folders, preparing, leakage checks.

Fixtures only (conftest modules are not imported by name): each fixture
returns the helper function of the same name.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lego_core.data.depot import Depot
from lego_core.data.prepare import prepare
from lego_core.data.processor import Processor

FIXTURES = Path(__file__).parent / "fixtures"
SPLITS = ("train", "valid", "test")


def _raw_folder(tmp_path: Path, name: str, *malformed: str) -> Path:
    """A copy of ``fixtures/NAME`` with the files of ``fixtures/malformed/M`` laid over it."""
    raw = tmp_path / f"raw-{name}-{'-'.join(malformed)}"
    shutil.copytree(FIXTURES / name, raw)
    for variant in malformed:
        shutil.copytree(FIXTURES / "malformed" / variant, raw, dirs_exist_ok=True)
    return raw


def _build(processor: Processor, raw: Path, out: Path) -> Depot:
    """Prepare ``raw`` into ``out`` through the core's ``prepare`` and open the depot."""
    prepare(processor, raw, out)
    return Depot(out)


def _rows(depot: Depot, split: str) -> list[dict[str, Any]]:
    """The interactions of a split as dicts with original ids (person, item) and the row's history ids."""
    table, users = depot.table(split), depot.users
    item_ids, user_ids = depot.vocab("item_id"), depot.vocab("user_id")
    history = users["history"]
    out = []
    for user, item, label, group, time in zip(
        table["user"], table["item"], table["label"], table["group"], table["time"], strict=True
    ):
        out.append(
            {
                "row": int(user),
                "person": user_ids[users["user_id"][user]],
                "item": item_ids[item + 1],
                "label": float(label),
                "group": int(group),
                "time": int(time),
                "history": [item_ids[h + 1] for h in history.row(int(user))],
            }
        )
    return out


def _check_leakage(depot: Depot, times: dict[tuple[str, str], int], labels: dict[tuple[str, str], float]) -> int:
    """Assert that every history is leakage-free; return how many history entries were checked.

    ``times``/``labels`` map ``(person, item)`` of the raw ratings to their
    time and label. A history entry must be a positive of the same person
    rated strictly before the interaction, in the same or an earlier split,
    and never the interaction's own item.
    """
    split_of = {}
    for level, split in enumerate(SPLITS):
        if split in depot.splits:
            for r in _rows(depot, split):
                if (r["person"], r["item"]) in times:
                    split_of[(r["person"], r["item"])] = level
    checked = 0
    for level, split in enumerate(SPLITS):
        if split not in depot.splits:
            continue
        for r in _rows(depot, split):
            assert r["item"] not in r["history"], f"{split}: target {r['item']} in its own history {r}"
            for h in r["history"]:
                key = (r["person"], h)
                assert times[key] < r["time"], f"{split}: history item {h} at {times[key]} not before {r}"
                assert labels[key] == 1.0, f"{split}: history item {h} is not a positive {r}"
                assert split_of[key] <= level, f"{split}: history item {h} comes from a later split {r}"
                checked += 1
    return checked


def _column_arrays(depot: Depot) -> dict[str, np.ndarray]:
    """Every column of every table as plain arrays (ragged ones as values and offsets), for equality checks."""
    out = {}
    for table in depot.table_names:
        t = depot.table(table)
        for column in t:
            data = t[column]
            if hasattr(data, "offsets"):
                out[f"{table}.{column}.values"] = np.asarray(data.values)
                out[f"{table}.{column}.offsets"] = np.asarray(data.offsets)
            else:
                out[f"{table}.{column}"] = np.asarray(data)
    return out


def _train_small(depot_path: Path, output: Path, **train: Any) -> dict[str, Any]:
    """Train the built-in id + mean + dot model on a depot for one epoch and return results.json.

    The end-to-end proof every processor gives: its depot is readable by the
    engine, trains, and evaluates every split it has. Metrics are checked to be
    in range wherever a split has both labels.
    """
    from lego_core.experiment import Experiment

    config = {
        "data": {"path": str(depot_path), "group_by": "user"},
        "model": {"content": "id", "behavior": "mean", "predictor": "dot", "hidden_size": 8, "neg_count": 1},
        "train": {
            "epochs": 1,
            "batch_size": 16,
            "metrics": ["auc", "gauc", "ndcg@5"],
            "monitor": "auc",
            "seed": 1,
            **train,
        },
    }
    results = Experiment.from_dict(config, name=Path(depot_path).name).run(output=output)
    depot = Depot(depot_path)
    for split in ("valid", "test"):
        if split not in depot.splits:
            continue
        labels = np.asarray(depot.table(split)["label"])
        assert split in results, f"{split} was not evaluated: {results}"
        if 0 < labels.sum() < len(labels):
            assert 0.0 <= results[split]["auc"] <= 1.0, results[split]
    return results


@pytest.fixture
def train_small():
    return _train_small


@pytest.fixture
def fixtures() -> Path:
    """The folder of the hand-made raw fixtures."""
    return FIXTURES


@pytest.fixture
def raw_folder():
    return _raw_folder


@pytest.fixture
def build():
    return _build


@pytest.fixture
def rows():
    return _rows


@pytest.fixture
def check_leakage():
    return _check_leakage


@pytest.fixture
def column_arrays():
    return _column_arrays
