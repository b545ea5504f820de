"""Lazy Adam for sparse embedding tables: only the rows a batch touched move, at a cost of those rows.

The update is ``torch.optim.SparseAdam``'s, term for term: each touched row's first and second
moments decay and take the new gradient, and the row moves by ``lr * sqrt(1 - b2^t) / (1 - b1^t) *
m / (sqrt(v) + eps)``, with ``t`` the optimizer's step count; untouched rows and their moments stay
as they are. The difference is how: ``SparseAdam`` reads and adds the moments through sparse-tensor
operations (``sparse_mask``, sparse additions), where this gathers the touched rows
(``index_select``), updates them densely, and writes them back (``index_copy_``, ``index_add_``):
1.29x SparseAdam's step on a (200,000, 256) table with 1,400 rows touched
(``benchmarks/kernels.py``). The state (``step``, ``exp_avg``, ``exp_avg_sq``) and the options
(``lr``, ``betas``, ``eps``, ``maximize``) are ``SparseAdam``'s, so a checkpoint written with one
resumes with the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch


class LazyAdam(torch.optim.Optimizer):
    """Adam over sparse gradients, row by row (``torch.optim.SparseAdam``'s update and state).

    Args:
        params: the sparse tables' parameters (or parameter groups).
        lr: learning rate.
        betas: decay rates of the first and second moments.
        eps: added to the second moment's root.
        maximize: ascend instead of descend.

    Example:
        >>> table = torch.nn.Embedding(5, 2, sparse=True)
        >>> before = table.weight.detach().clone()
        >>> optimizer = LazyAdam(table.parameters(), lr=0.1)
        >>> table(torch.tensor([1, 3])).sum().backward()
        >>> optimizer.step()
        >>> (table.weight.detach() != before).any(dim=1).tolist()
        [False, True, False, True, False]
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0 or eps < 0.0 or not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"LazyAdam: invalid lr {lr}, betas {betas} or eps {eps}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize})

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for state in self.state.values():  # a loaded state (or SparseAdam's) has the moments apart: rejoin them
            if "exp_avg" in state and _shared_buffer(state["exp_avg"], state["exp_avg_sq"]) is None:
                moments = torch.stack([state["exp_avg"], state["exp_avg_sq"]], dim=1)
                state["exp_avg"], state["exp_avg_sq"] = moments[:, 0], moments[:, 1]

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, group)
        return loss

    def _update(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        grad = param.grad
        assert grad is not None
        if not grad.is_sparse:
            raise RuntimeError(
                "LazyAdam is for sparse gradients (nn.Embedding(..., sparse=True)); a dense parameter goes to AdamW"
            )
        grad = grad.coalesce()  # one entry per touched row, rows sorted and distinct
        rows, values = grad._indices()[0], grad._values()
        if group["maximize"]:
            values = -values
        state = self.state[param]
        if not state:
            # both moments of a row side by side in one buffer (row r: [m_r, v_r]): one gather and one
            # scatter for the two, and one page instead of two for a row's state
            fresh = param.new_zeros(param.shape[0], 2, *param.shape[1:])
            state["step"] = 0
            state["exp_avg"], state["exp_avg_sq"] = fresh[:, 0], fresh[:, 1]
        state["step"] += 1
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        moments = _shared_buffer(exp_avg, exp_avg_sq)
        if moments is not None:
            both = moments.index_select(0, rows)  # (R, 2, ...)
            m, v = both[:, 0], both[:, 1]
        else:  # separate tensors (never after load_state_dict, which rejoins them)
            m, v = exp_avg.index_select(0, rows), exp_avg_sq.index_select(0, rows)
        m.lerp_(values, 1.0 - beta1)  # b1 m + (1 - b1) g
        v.add_(values.square().sub_(v).mul_(1.0 - beta2))  # b2 v + (1 - b2) g^2, as SparseAdam writes it
        if moments is not None:
            moments.index_copy_(0, rows, both)
        else:
            exp_avg.index_copy_(0, rows, m)
            exp_avg_sq.index_copy_(0, rows, v)
        step = state["step"]
        step_size = group["lr"] * math.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
        param.index_add_(0, rows, m.div_(v.sqrt_().add_(group["eps"])), alpha=-step_size)


def _shared_buffer(exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor) -> torch.Tensor | None:
    """The ``(N, 2, ...)`` buffer whose two halves the moments are, or None when they are separate tensors."""
    if exp_avg._base is None or exp_avg._base is not exp_avg_sq._base:
        return None
    base = exp_avg._base
    fits = base.dim() == exp_avg.dim() + 1 and base.shape[1] == 2 and base.shape[0] == exp_avg.shape[0]
    return base if fits and exp_avg.data_ptr() == base.data_ptr() else None
