"""The core's own bricks: registered through the `lego` entry point, and held to the same contract as any plugin's."""

import doctest

import numpy as np
import pytest
import torch

import lego_core.builtins.plugin as core_plugin
from lego_core.builtins import dot, id_embedding, mean_pooling
from lego_core.builtins.dot import DotPredictor
from lego_core.builtins.id_embedding import IDConfig, IDOperator
from lego_core.builtins.mean_pooling import MeanOperator
from lego_core.data.synth import SyntheticProcessor
from lego_core.errors import ConfigError
from lego_core.kinds import kind_named
from lego_core.metrics import BUILTIN_METRICS
from lego_core.model.inputs import ItemBatch
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries
from lego_core.testing import check_behavior_operator, check_content_operator, check_predictor, make_context


def test_core_registers_its_bricks_through_hooks():
    assert core_plugin.lego_register_content_operators() == [IDOperator]
    assert core_plugin.lego_register_behavior_operators() == [MeanOperator]
    assert core_plugin.lego_register_predictors() == [DotPredictor]
    assert core_plugin.lego_register_processors() == [SyntheticProcessor]
    assert core_plugin.lego_register_metrics() == list(BUILTIN_METRICS)


def test_core_is_loaded_from_its_entry_point():
    host = PluginHost()
    assert host.plugins["core"].module == "lego_core.builtins.plugin"
    for kind, name in [("content", "id"), ("behavior", "mean"), ("predictor", "dot"), ("processor", "synthetic")]:
        assert Registries(host)[kind_named(kind)].get(f"core:{name}").distribution == "lego-core"


@pytest.mark.parametrize("options", [None, IDConfig()], ids=["default", "explicit"])
def test_id_operator_contract(options):
    check_content_operator(IDOperator, options)


def test_mean_operator_contract():
    check_behavior_operator(MeanOperator)


def test_dot_predictor_contract():
    check_predictor(DotPredictor)


@pytest.mark.parametrize("module", [dot, id_embedding, mean_pooling], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_mean_of_an_empty_history_is_zero():
    op = MeanOperator(context=make_context(hidden_size=3))
    out = op(torch.ones(2, 4, 3), torch.tensor([[True, False, False, False], [False] * 4]), None)
    assert torch.equal(out, torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))


def test_id_operator_loads_pretrained_vectors_relative_to_the_depot(tmp_path):
    context = make_context(hidden_size=4, num_items=6, depot_path=tmp_path)
    vectors = np.arange(6 * 4, dtype=np.float32).reshape(6, 4)
    np.save(tmp_path / "vectors.npy", vectors)
    op = IDOperator(options=IDConfig(pretrained="vectors.npy", freeze=True), context=context)
    assert torch.equal(op(ItemBatch(index=torch.tensor([5, 0]))), torch.from_numpy(vectors[[5, 0]]))
    assert not any(p.requires_grad for p in op.parameters())


def test_id_operator_projects_pretrained_vectors_of_another_size(tmp_path):
    np.save(tmp_path / "wide.npy", np.ones((6, 10), dtype=np.float32))
    context = make_context(hidden_size=4, num_items=6)
    op = IDOperator(options=IDConfig(pretrained=str(tmp_path / "wide.npy"), freeze=True), context=context)
    assert op(ItemBatch(index=torch.tensor([1]))).shape == (1, 4)
    assert [n for n, p in op.named_parameters() if p.requires_grad] == ["projection.weight", "projection.bias"]


def test_id_operator_errors(tmp_path):
    context = make_context(num_items=6, depot_path=tmp_path)
    with pytest.raises(ConfigError, match="freeze = true needs content_options.pretrained"):
        IDOperator(options=IDConfig(freeze=True), context=context)
    with pytest.raises(ConfigError, match=r"no file .*missing\.npy; write one with `lego embed`"):
        IDOperator(options=IDConfig(pretrained="missing.npy"), context=context)
    np.save(tmp_path / "short.npy", np.zeros((5, 4), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"has shape \(5, 4\), expected \(6, E\): one row per item"):
        IDOperator(options=IDConfig(pretrained="short.npy"), context=context)
