"""End to end through the engine: a preset, categorical fields, ranking, cached evaluation."""

from __future__ import annotations

import pytest

from lego_core.testing import tiny_depot

experiment_module = pytest.importorskip("lego_core.experiment")


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    return tiny_depot(tmp_path_factory.mktemp("depot") / "tiny", num_items=60, num_users=20, impressions_per_user=2)


@pytest.mark.parametrize("preset", ["deepfm-id", "dcnv2-id"])
def test_preset_trains_and_evaluates_with_fields(depot, tmp_path, preset):
    data = {
        "data": {"path": str(depot), "item_attributes": ["title", "category"], "user_attributes": ["age"]},
        "model": {"preset": preset, "hidden_size": 8, "item_fields": ["category"], "user_fields": ["age"],
                  "predictor_options": {"hidden_units": [8]}},
        "train": {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 3, "metrics": ["auc", "logloss"],
                  "monitor": "auc", "device": "cpu", "seed": 1},
    }
    results = experiment_module.Experiment.from_dict(data, name=preset).run(output=tmp_path)
    assert results["run"]["task"] == "ranking"
    assert results["run"]["bricks"]["predictor"] == f"ctr:{preset.removesuffix('-id')}"
    assert 0.0 <= results["test"]["auc"] <= 1.0 and results["test"]["logloss"] > 0


def test_din_preset_with_lego_text(depot, tmp_path):
    pytest.importorskip("lego_text")
    data = {
        "data": {"path": str(depot), "item_attributes": ["title", "category"]},
        "model": {"preset": "din-id", "hidden_size": 8, "item_fields": ["category"],
                  "predictor_options": {"attention_units": [4], "hidden_units": [8]}},
        "train": {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 3, "metrics": ["auc"], "monitor": "auc",
                  "device": "cpu"},
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
        if preset.endswith("-text-id") else {"preset": preset, "hidden_size": 8},
        "train": {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 2, "metrics": ["auc", "logloss"],
                  "device": "cpu"},
    }
    exp = experiment_module.Experiment.from_dict(data, name=preset)
    model = exp.build()
    assert model.predictor.embedding.names == ["user", "item", "item.item_id", "user.user_id"]
    assert model.item_fields == ["item_id"] and model.user_fields == ["user_id"]
    results = exp.run(output=tmp_path)
    assert 0.0 <= results["test"]["auc"] <= 1.0
