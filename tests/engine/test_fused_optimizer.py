"""The dense parameters' AdamW runs fused (one kernel for every tensor) where torch can, with the same update."""

from __future__ import annotations

import torch

from lego_core.engine.optim import fusable, make_optimizer


def test_the_dense_optimizer_is_fused_on_the_cpu(experiment_dict):
    exp = experiment_from(experiment_dict)
    model = exp.build()
    optimizers = make_optimizer(model, exp.config.train)
    assert optimizers.dense.defaults["fused"] is True


def test_a_fused_step_is_the_per_tensor_step():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s)) for s in [(5, 3), (3,), (7, 1)]]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    fused = torch.optim.AdamW(params, lr=0.01, weight_decay=0.1, fused=True)
    loop = torch.optim.AdamW(twins, lr=0.01, weight_decay=0.1, foreach=False)
    for _ in range(3):
        grads = [torch.randn_like(p) for p in params]
        for p, t, g in zip(params, twins, grads, strict=True):
            p.grad, t.grad = g.clone(), g.clone()
        fused.step()
        loop.step()
    for p, t in zip(params, twins, strict=True):
        torch.testing.assert_close(p, t)


def test_what_cannot_be_fused_is_left_to_the_loop():
    assert fusable([torch.zeros(2), torch.zeros(3)])
    assert not fusable([torch.zeros(2, dtype=torch.int64)])
    assert not fusable([])


def experiment_from(experiment_dict):
    from lego_core.experiment import Experiment

    return Experiment.from_dict(experiment_dict())
