"""End to end through the engine: a preset, categorical fields, ranking, cached evaluation."""

from __future__ import annotations

import pytest
import torch

from lego_core.testing import tiny_depot

experiment_module = pytest.importorskip("lego_core.experiment")


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    return tiny_depot(tmp_path_factory.mktemp("depot") / "tiny", num_items=60, num_users=20, impressions_per_user=2)


@pytest.mark.parametrize("preset", ["deepfm-id", "dcnv2-id"])
def test_preset_trains_and_evaluates_with_fields(depot, tmp_path, preset):
    data = {
        "data": {"path": str(depot), "item_attributes": ["title", "category"], "user_attributes": ["age"]},
        "model": {
            "preset": preset,
            "hidden_size": 8,
            "item_fields": ["category"],
            "user_fields": ["age"],
            "predictor_options": {"hidden_units": [8]},
        },
        "train": {
            "epochs": 1,
            "batch_size": 16,
            "max_steps_per_epoch": 3,
            "metrics": ["auc", "logloss"],
            "monitor": "auc",
            "device": "cpu",
            "seed": 1,
        },
    }
    results = experiment_module.Experiment.from_dict(data, name=preset).run(output=tmp_path)
    assert results["run"]["task"] == "ranking"
    assert results["run"]["bricks"]["predictor"] == f"ctr:{preset.removesuffix('-id')}"
    assert 0.0 <= results["test"]["auc"] <= 1.0 and results["test"]["logloss"] > 0


def test_din_preset_with_lego_text(depot, tmp_path):
    pytest.importorskip("lego_text")
    data = {
        "data": {"path": str(depot), "item_attributes": ["title", "category"]},
        "model": {
            "preset": "din-id",
            "hidden_size": 8,
            "item_fields": ["category"],
            "predictor_options": {"attention_units": [4], "hidden_units": [8]},
        },
        "train": {
            "epochs": 1,
            "batch_size": 16,
            "max_steps_per_epoch": 3,
            "metrics": ["auc"],
            "monitor": "auc",
            "device": "cpu",
        },
    }
    results = experiment_module.Experiment.from_dict(data, name="din").run(output=tmp_path)
    assert results["run"]["bricks"]["behavior"] == "text:sequence"
    assert 0.0 <= results["test"]["auc"] <= 1.0


@pytest.mark.parametrize("preset", ["fm-id", "deepfm-text-id"])
def test_id_presets_feed_the_user_and_item_id(depot, tmp_path, preset):
    if preset.endswith("-text-id"):
        pytest.importorskip("lego_text")
    data = {
        "data": {"path": str(depot), "item_attributes": ["title"]},
        "model": {"preset": preset, "hidden_size": 8, "content_options": {"embedding_dim": 8}}
        if preset.endswith("-text-id")
        else {"preset": preset, "hidden_size": 8},
        "train": {
            "epochs": 1,
            "batch_size": 16,
            "max_steps_per_epoch": 2,
            "metrics": ["auc", "logloss"],
            "device": "cpu",
        },
    }
    exp = experiment_module.Experiment.from_dict(data, name=preset)
    model = exp.build()
    assert model.predictor.embedding.names == ["user", "item", "item.item_id", "user.user_id"]
    assert model.item_fields == ["item_id"] and model.user_fields == ["user_id"]
    results = exp.run(output=tmp_path)
    assert 0.0 <= results["test"]["auc"] <= 1.0


def multi_valued_user_depot(path):
    """A tiny depot whose users have a multi-valued column (spoken languages)."""
    import numpy as np

    from lego_core.data.depot import Column, DepotContent, write_depot
    from lego_core.data.ragged import Ragged

    rng = np.random.default_rng(0)
    items, users = 12, 6

    def ragged(rows):
        offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        return Ragged(values=np.concatenate([np.asarray(r, dtype=np.int32) for r in rows]), offsets=offsets)

    langs = [[2, 3], [], [4], [2, 4, 5], [3], [5, 2]]
    tables = {
        "items": {"item_id": Column("category", np.arange(1, items + 1, dtype=np.int32), vocab="item_id")},
        "users": {
            "user_id": Column("category", np.arange(1, users + 1, dtype=np.int32), vocab="user_id"),
            "history": Column("items", ragged([rng.choice(items, 3, replace=False) for _ in range(users)])),
            "langs": Column("tokens", ragged(langs), vocab="langs"),
        },
    }
    for split in ("train", "valid", "test"):
        n = 24
        tables[split] = {
            "user": Column("int", rng.integers(0, users, n).astype(np.int32)),
            "item": Column("int", rng.integers(0, items, n).astype(np.int32)),
            "label": Column("float", (rng.random(n) < 0.5).astype(np.float32)),
            "group": Column("int", np.arange(n, dtype=np.int64) // 4),
        }
    vocabs = {
        "item_id": ["<unk>", *map(str, range(items))],
        "user_id": ["<unk>", *map(str, range(users))],
        "langs": ["<pad>", "<unk>", "en", "fr", "de", "zh"],
    }
    write_depot(path, DepotContent(tables=tables, vocabs=vocabs))
    return path, langs


def test_a_multi_valued_user_column_is_a_field(tmp_path):
    from lego_core.engine.evaluate import SplitPairs, score_split

    path, langs = multi_valued_user_depot(tmp_path / "depot")
    data = {
        "data": {"path": str(path)},
        "model": {
            "preset": "deepfm-id",
            "hidden_size": 8,
            "user_fields": ["user_id", "langs"],
            "predictor_options": {"hidden_units": [8]},
        },
        "train": {"epochs": 1, "batch_size": 8, "metrics": ["auc"], "device": "cpu"},
    }
    exp = experiment_module.Experiment.from_dict(data, name="langs")
    model = exp.build()
    assert exp.resolved.config.model.item_fields == ["item_id"]  # the preset's, not replaced
    fields = model.fields(torch.arange(6), torch.zeros(6, 1, dtype=torch.long))
    assert fields.user["langs"].shape == (6, 3)  # padded to the longest row
    assert [[v for v in row if v] for row in fields.user["langs"].tolist()] == langs
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    with torch.no_grad():
        for p in model.predictor.parameters():
            p.add_(0.1 * torch.randn_like(p))
    cached, plain = score_split(model, pairs, cache=True), score_split(model, pairs, cache=False)
    assert abs(cached - plain).max() < 1e-5
    assert 0.0 <= exp.run(output=tmp_path / "runs")["test"]["auc"] <= 1.0
