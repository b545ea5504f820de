"""IISAN: side adapters over cached per-layer states of a frozen language model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lego_core.testing import check_content_operator
from lego_llm.iisan import IISANConfig, IISANOperator
from lego_llm.testing import depot_store, lm_context


@pytest.mark.parametrize("which", ["bert", "llama"])
def test_contract(which: str, bert_dir: Path, llama_dir: Path) -> None:
    folder = bert_dir if which == "bert" else llama_dir
    check_content_operator(
        IISANOperator,
        IISANConfig(model=str(folder), adapter_size=8, dropout=0.0),
        context=lm_context(78 if which == "bert" else 289),
    )


def test_layer_selection(bert_dir: Path) -> None:
    strides = {1: [1, 2, 3, 4], 2: [2, 4], 3: [3, 4], 9: [4]}
    for stride, layers in strides.items():
        op = IISANOperator(options=IISANConfig(model=str(bert_dir), layer_stride=stride), context=lm_context(50))
        assert op.fused_layers == layers and len(op.blocks) == len(layers)


@pytest.mark.parametrize("which", ["bert", "llama"])
def test_cached_states_give_the_same_vectors(which: str, bert_dir: Path, llama_dir: Path, depot_copy: Path) -> None:
    folder = bert_dir if which == "bert" else llama_dir
    context, store = depot_store(depot_copy, hidden_size=16)
    op = IISANOperator(options=IISANConfig(model=str(folder), cache_dtype="float32", adapter_size=8), context=context)
    with torch.no_grad():
        for block in op.blocks:  # as if trained (the up-projection starts at zero)
            block.up.weight.normal_(0, 0.1)
        op.gates.normal_()
    op.prepare(store)
    assert op.cache is not None and op.cache.folder.name.startswith("iisan-")
    assert op.cache.values.shape == (context.num_items * 5, 32)  # embeddings + 4 layers per item
    items = store.batch(torch.arange(0, 60, 4))
    op.eval()
    with torch.no_grad():
        cached = op(items)
        op.cache = None
        torch.testing.assert_close(op(items), cached, atol=1e-5, rtol=1e-4)


def test_language_model_is_never_trained_nor_saved(bert_dir: Path, depot_dir: Path) -> None:
    context, store = depot_store(depot_dir, hidden_size=16)
    op = IISANOperator(options=IISANConfig(model=str(bert_dir), adapter_size=8), context=context)
    op.prepare(store)
    op.train()
    assert not op.model.training and op.blocks[0].training
    op(store.batch(torch.arange(10))).sum().backward()
    assert all(not p.requires_grad and p.grad is None for p in op.model.parameters())
    assert all(p.grad is not None for n, p in op.named_parameters() if not n.startswith("model."))
    state = op.state_dict()
    assert not any(k.startswith("model.") for k in state)
    assert {k.split(".")[0] for k in state} == {"blocks", "gates", "projection"}
