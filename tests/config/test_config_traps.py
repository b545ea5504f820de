"""Two config traps: ``use_item_content = false`` with any preset, and ``train.monitor`` without ``gauc``.

1. ``--set model.preset=nrms --set model.use_item_content=false`` (the papers' ID baseline) used to
   fail with "unknown key 'attention_dim' @ $.model.content_options": the preset's content options
   went to the ID table. They belong to the replaced operator, so they are dropped, with a note in
   the resolved config.
2. ``metrics = ["auc", "logloss"]`` without a monitor used to fail on the default ``gauc``; the
   monitor is now the first metric, and ``gauc`` only when neither key is set.
"""

from __future__ import annotations

import pytest
import torch

from lego_core.config.preset import PRESET
from lego_core.config.resolve import resolve
from lego_core.config.tomlio import loads_toml
from lego_core.errors import ConfigError
from lego_core.experiment import Experiment
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries
from lego_core.testing import tiny_depot

HOST = PluginHost()
REGISTRIES = Registries(HOST)
PRESETS = sorted(entry.qualified for entry in REGISTRIES[PRESET])


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    return tiny_depot(tmp_path_factory.mktemp("traps") / "depot", num_items=60, num_users=20, impressions_per_user=2)


def experiment(depot, **model):
    return {
        "data": {"path": str(depot), "item_attributes": ["title", "category"], "max_history": 8, "max_length": 8},
        "model": model,
        "train": {"epochs": 1, "batch_size": 8, "max_steps_per_epoch": 1, "device": "cpu"},
    }


def _needs_a_model(preset: str) -> bool:
    """Presets that leave the language model to the user (the LLM-as-recommender ones: no default can be assumed)."""
    tables = REGISTRIES[PRESET].get(preset).obj.tables
    return tables.get("model", {}).get("predictor_options", {}).get("model") == ""


@pytest.fixture(scope="module")
def causal_lm(tmp_path_factory):
    testing = pytest.importorskip("lego_llm.testing")
    return testing.tiny_llama(tmp_path_factory.mktemp("traps") / "llama")


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_builds_without_item_content(depot, preset, request):
    chosen = (
        [f'model.predictor_options.model="{request.getfixturevalue("causal_lm")}"'] if _needs_a_model(preset) else []
    )
    exp = Experiment.from_dict(
        experiment(depot), host=HOST, overrides=[f"model.preset={preset}", "model.use_item_content=false", *chosen]
    )
    model_config = exp.resolved.config.model
    assert exp.resolved.bricks["content"].entry.qualified == "core:id"
    assert model_config.content == "id" and model_config.content_options == {}
    replaced = REGISTRIES[PRESET].get(preset).obj.tables.get("model", {}).get("content", "id") != "id"
    assert len(exp.resolved.notes) == int(replaced)  # a note when the preset's content operator was replaced
    assert all(note.startswith("model.use_item_content = false") for note in exp.resolved.notes)
    model = exp.build(torch.device("cpu"))
    rows = torch.arange(4)
    candidates = torch.randint(0, model.items.num_items, (4, max(model_config.neg_count, 0) + 1))
    scores = model(rows, candidates)
    assert scores.shape == candidates.shape and torch.isfinite(scores).all()


def test_the_nrms_id_baseline_trains_and_its_config_says_what_was_dropped(depot, tmp_path):
    pytest.importorskip("lego_text")
    exp = Experiment.from_dict(
        experiment(depot),
        overrides=["model.preset=nrms", "model.use_item_content=false"],
        host=HOST,
        name="nrms-id-baseline",
    )
    note = exp.resolved.notes[0]
    assert "'attention' is replaced by \"id\"" in note
    assert "content_options (attention_dim, dropout, embedding_dim, num_heads) are dropped" in note
    results = exp.run(output=tmp_path)
    assert results["run"]["bricks"]["content"] == "core:id"
    config_toml = next(tmp_path.glob("nrms-id-baseline-*/config.toml")).read_text()
    assert config_toml.startswith(f"# note: {note}\n")
    assert loads_toml(config_toml)["model"]["content"] == "core:id"  # the comment keeps it valid TOML


def test_explicit_content_id_keeps_its_options(depot):
    resolved = resolve(
        experiment(depot, content="id", use_item_content=False, content_options={"freeze": False}), REGISTRIES
    )
    assert resolved.config.model.content_options == {"freeze": False} and resolved.notes == ()


def test_options_for_the_replaced_operator_are_no_error_but_a_wrong_key_for_id_still_is(depot):
    pytest.importorskip("lego_text")
    resolved = resolve(experiment(depot, preset="naml", use_item_content=False), REGISTRIES)
    assert resolved.config.model.content == "id"
    with pytest.raises(ConfigError, match=r"attention_dim.*content_options"):
        resolve(experiment(depot, content="id", content_options={"attention_dim": 8}), REGISTRIES)


@pytest.mark.parametrize(
    ("train", "monitor"),
    [
        ({"metrics": ["auc", "logloss"]}, "auc"),
        ({"metrics": ["logloss", "auc"]}, "logloss"),
        ({"metrics": ["core:auc", "logloss"]}, "auc"),  # results are keyed by the metric's key
        ({}, "gauc"),  # neither set: the defaults
        ({"metrics": ["auc", "gauc"], "monitor": "gauc"}, "gauc"),  # an explicit monitor wins
    ],
)
def test_monitor_defaults_to_the_first_metric(depot, train, monitor):
    data = experiment(depot)
    data["train"] = train
    assert resolve(data, REGISTRIES).config.train.monitor == monitor


def test_a_monitor_outside_the_metrics_is_still_an_error(depot):
    data = experiment(depot)
    data["train"] = {"metrics": ["auc"], "monitor": "gauc"}
    with pytest.raises(ConfigError, match=r"train.monitor = 'gauc' is not one of train.metrics"):
        resolve(data, REGISTRIES)
