"""Sparse ID tables: lazy Adam over the touched rows, the same accuracy, the same checkpoints and resumes."""

from __future__ import annotations

import copy

import pytest
import torch

from lego_core.engine.lazy_adam import LazyAdam
from lego_core.engine.optim import Optimizers, clip_gradients, make_optimizer, sparse_parameters
from lego_core.experiment import Experiment


def test_the_id_table_is_sparse_by_default_and_goes_to_sparse_adam(experiment_dict):
    exp = Experiment.from_dict(experiment_dict(model={"content": "id"}))
    model = exp.build()
    table = model.content.table
    assert table.sparse and id(table.weight) in sparse_parameters(model)
    optimizers = make_optimizer(model, exp.config.train)
    assert isinstance(optimizers, Optimizers) and isinstance(optimizers.sparse, LazyAdam)
    assert all(id(p) != id(table.weight) for g in optimizers.dense.param_groups for p in g["params"])


def test_a_step_moves_only_the_rows_a_batch_touched(experiment_dict):
    exp = Experiment.from_dict(experiment_dict(model={"content": "id"}))
    model = exp.build()
    optimizers = make_optimizer(model, exp.config.train)
    before = model.content.table.weight.detach().clone()
    rows, candidates = torch.arange(4), torch.tensor([[1, 2, 3]] * 4)
    model.train()
    model(rows, candidates).sum().backward()
    touched = torch.unique(torch.cat([model.users.history[rows][model.users.mask[rows]], candidates.reshape(-1)]))
    optimizers.step()
    moved = (model.content.table.weight.detach() != before).any(dim=1).nonzero().reshape(-1)
    assert set(moved.tolist()) <= set(touched.tolist()) and len(moved) > 0


def test_clipping_measures_sparse_and_dense_gradients_together():
    table = torch.nn.Embedding(10, 3, sparse=True)
    dense = torch.nn.Linear(3, 1)
    (dense(table(torch.tensor([1, 1, 4]))).sum() * 100).backward()
    expected = torch.cat(
        [table.weight.grad.to_dense().reshape(-1), dense.weight.grad.reshape(-1), dense.bias.grad.reshape(-1)]
    ).norm()
    norm = clip_gradients([table.weight, dense.weight, dense.bias], 1.0)
    assert abs(norm - float(expected)) < 1e-3 * float(expected)
    after = torch.cat(
        [table.weight.grad.to_dense().reshape(-1), dense.weight.grad.reshape(-1), dense.bias.grad.reshape(-1)]
    ).norm()
    assert abs(float(after) - 1.0) < 1e-4


def test_sparse_and_dense_tables_learn_the_same_within_noise(tmp_path, experiment_dict):
    results = {}
    for sparse in (True, False):
        exp = Experiment.from_dict(
            experiment_dict(
                model={"content": "id", "content_options": {"sparse": sparse}}, train={"epochs": 4, "lr": 0.01}
            )
        )
        results[sparse] = exp.run(output=tmp_path / str(sparse))["test"]["auc"]
    assert results[True] > 0.6 and results[False] > 0.6
    assert abs(results[True] - results[False]) < 0.05, results


def test_lazy_adam_is_sparse_adam_row_for_row_and_loads_its_state():
    torch.manual_seed(0)
    tables = [torch.nn.Embedding(50, 4, sparse=True) for _ in range(3)]
    for t in tables[1:]:
        t.weight.data.copy_(tables[0].weight.data)
    lazy = LazyAdam(tables[0].parameters(), lr=0.05, betas=(0.8, 0.95), eps=1e-6)
    reference = torch.optim.SparseAdam(tables[1].parameters(), lr=0.05, betas=(0.8, 0.95), eps=1e-6)
    for _ in range(6):
        ids = torch.randint(0, 50, (20,))  # repeated ids: a row's gradients add up
        weights = torch.randn(20, 4)
        for table, optimizer in ((tables[0], lazy), (tables[1], reference)):
            optimizer.zero_grad()
            (table(ids) * weights).sum().backward()
            optimizer.step()
        torch.testing.assert_close(tables[0].weight, tables[1].weight, rtol=1e-5, atol=1e-6)
    resumed = LazyAdam(tables[2].parameters(), lr=0.05, betas=(0.8, 0.95), eps=1e-6)
    tables[2].weight.data.copy_(tables[1].weight.data)
    # SparseAdam's checkpoint resumes as LazyAdam (a copy, as from a file: loading shares the tensors)
    resumed.load_state_dict(copy.deepcopy(reference.state_dict()))
    for _ in range(3):
        ids, weights = torch.randint(0, 50, (20,)), torch.randn(20, 4)
        for table, optimizer in ((tables[1], reference), (tables[2], resumed)):
            optimizer.zero_grad()
            (table(ids) * weights).sum().backward()
            optimizer.step()
    torch.testing.assert_close(tables[2].weight, tables[1].weight, rtol=1e-5, atol=1e-6)
    state = resumed.state[tables[2].weight]  # rejoined into one buffer of both moments on loading
    assert state["exp_avg"]._base is state["exp_avg_sq"]._base is not None


def test_lazy_adam_refuses_a_dense_gradient():
    weight = torch.nn.Parameter(torch.zeros(3, 2))
    weight.grad = torch.ones(3, 2)
    with pytest.raises(RuntimeError, match="sparse gradients"):
        LazyAdam([weight]).step()
