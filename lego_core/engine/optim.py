"""Optimizer and schedule: AdamW (content operator at its own rate), lazy Adam for sparse tables, warm-up.

Embedding tables indexed by item or user (the ``id`` operator, a user table)
grow with the catalogue, while a batch touches a few thousand rows. Dense
AdamW would zero-fill a full-size gradient and update every row every step,
so a step would cost time linear in the catalogue. A table built as
``nn.Embedding(..., sparse=True)`` gets sparse gradients instead, and its
parameters go to :class:`~lego_core.engine.lazy_adam.LazyAdam` (``SparseAdam``'s
lazy Adam, at a cost in the touched rows only: only the rows a batch touched
move); every other parameter keeps AdamW. Lazy Adam has no weight
decay, so ``train.weight_decay`` applies to the dense parameters only (a brick
whose table should decay is built dense, e.g. ``content_options.sparse =
false`` for ``id``). :class:`Optimizers` steps both and saves both in one
state dict; :func:`clip_gradients` clips dense and sparse gradients by one norm.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from lego_core.config.schema import TrainConfig
from lego_core.engine.lazy_adam import LazyAdam
from lego_core.model.recommender import Recommender


def sparse_parameters(model: nn.Module) -> set[int]:
    """``id()`` of the trainable weights of every ``nn.Embedding(sparse=True)`` in ``model``."""
    return {
        id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse and m.weight.requires_grad
    }


class Optimizers:
    """AdamW over the dense parameters and lazy Adam over the sparse tables, used as one optimizer."""

    def __init__(self, dense: torch.optim.Optimizer, sparse: torch.optim.Optimizer | None) -> None:
        self.dense = dense
        self.sparse = sparse

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.dense] + ([self.sparse] if self.sparse is not None else [])

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [group for optimizer in self.optimizers for group in optimizer.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {"dense": self.dense.state_dict(), "sparse": self.sparse.state_dict() if self.sparse else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "dense" not in state:  # a checkpoint of an earlier version: one AdamW
            self.dense.load_state_dict(state)
            return
        self.dense.load_state_dict(state["dense"])
        if self.sparse is not None and state.get("sparse") is not None:
            self.sparse.load_state_dict(state["sparse"])


class Schedulers:
    """One learning-rate schedule per optimizer of an :class:`Optimizers`."""

    def __init__(self, schedulers: list[torch.optim.lr_scheduler.LRScheduler]) -> None:
        self.schedulers = schedulers

    def step(self) -> None:
        for scheduler in self.schedulers:
            scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"schedulers": [s.state_dict() for s in self.schedulers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        states = state["schedulers"] if "schedulers" in state else [state]  # earlier versions: one schedule
        for scheduler, saved in zip(self.schedulers, states, strict=False):
            scheduler.load_state_dict(saved)


def fusable(params: list[torch.Tensor]) -> bool:
    """Whether AdamW can update ``params`` in one fused kernel: floating point, all on the CPU or all on CUDA.

    Fused, a CPU step of a DeepFM's 25 parameter tensors is 3.3x the per-tensor loop (torch's
    default on the CPU; ``benchmarks/kernels.py``); the update is the same AdamW.
    """
    devices = {q.device.type for q in params}
    return len(devices) == 1 and devices <= {"cpu", "cuda"} and all(q.is_floating_point() for q in params)


def make_optimizer(model: Recommender, train: TrainConfig) -> Optimizers:
    sparse_ids = sparse_parameters(model)
    content_lr = train.content_lr if train.content_lr is not None else train.lr
    content = [p for p in model.content.parameters() if p.requires_grad]
    content_ids = {id(p) for p in content}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in content_ids]
    groups = []
    for params, lr in ((content, content_lr), (rest, train.lr)):
        dense = [p for p in params if id(p) not in sparse_ids]
        if dense:
            groups.append({"params": dense, "lr": lr})
    if not groups:  # a fully frozen (or all-sparse) model still needs a dense optimizer to save
        groups.append({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": train.lr})
    sparse_groups = [
        {"params": [p for p in params if id(p) in sparse_ids], "lr": lr}
        for params, lr in ((content, content_lr), (rest, train.lr))
    ]
    sparse_groups = [g for g in sparse_groups if g["params"]]
    dense_params: list[torch.Tensor] = [q for g in groups for q in g["params"]]  # type: ignore[attr-defined]
    return Optimizers(
        torch.optim.AdamW(groups, weight_decay=train.weight_decay, fused=fusable(dense_params) or None),
        LazyAdam(sparse_groups) if sparse_groups else None,
    )


def make_scheduler(optimizers: Optimizers, warmup_steps: int) -> Schedulers:
    def factor(step: int) -> float:
        return min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0

    return Schedulers([torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers.optimizers])


def clip_gradients(parameters: Iterable[torch.Tensor], max_norm: float) -> float:
    """Scale all gradients (dense and sparse) so their joint L2 norm is at most ``max_norm``; return the norm."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    squares = [(g.coalesce().values() if g.is_sparse else g).float().pow(2).sum() for g in grads]
    total = float(torch.stack(squares).sum().sqrt())
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g.mul_(scale)
    return total
