"""Embedding lookups and bag pooling with backward passes that are fast on the CPU.

The forwards are torch's own (:func:`torch.nn.functional.embedding_bag`, ``index_select``); only the
gradients of the table are computed another way, because torch 2.x's CPU backward kernels for them
were among the largest costs of a CTR step (the history mean's most of all); ``benchmarks/kernels.py``
measures each against torch's:

- a lookup's gradient is one ``index_add_`` of the output's gradient rows into a zero table, not
  ``embedding_dense_backward`` (for a CTR model's small tables; for a text model's word table the
  kernels benchmark finds it within noise of torch's, so lego-text keeps ``nn.Embedding``);
- a bag's gradient is itself a bag: the output gradients of the bags each row was read by, summed
  by one ``embedding_bag`` over the entries sorted by row (the transposed bag), not
  ``_embedding_bag_dense_backward``.

The results equal torch's gradients up to the order of float additions (tests hold them to 1e-5).
On other devices, and when no gradient is needed, the plain torch calls run.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def _fast_path(weight: Tensor) -> bool:
    return weight.device.type == "cpu" and weight.requires_grad and torch.is_grad_enabled()


def lookup(weight: Tensor, ids: Tensor) -> Tensor:
    """Rows of ``weight`` ``(V, W)`` for ``ids`` of any shape -> ``(*ids.shape, W)``, as ``F.embedding``.

    Example:
        >>> lookup(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([[1, 0, 1]]))
        tensor([[[2., 3.],
                 [0., 1.],
                 [2., 3.]]])
    """
    if not _fast_path(weight):
        return F.embedding(ids, weight)
    return _Lookup.apply(weight, ids)


class _Lookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, weight: Tensor, ids: Tensor) -> Tensor:
        flat = ids.reshape(-1)
        ctx.save_for_backward(flat)
        ctx.num_rows = weight.shape[0]
        return weight.index_select(0, flat).view(*ids.shape, weight.shape[1])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (flat,) = ctx.saved_tensors
        # contiguous: a slice of a stacked output's gradient has strided rows, and index_add_ on
        # strided rows falls back to a scatter several times slower than the copy
        rows = grad.reshape(-1, grad.shape[-1]).contiguous()
        return rows.new_zeros(ctx.num_rows, rows.shape[1]).index_add_(0, flat, rows), None


def bag_reduce(weight: Tensor, index: Tensor, offsets: Tensor, mode: str = "mean") -> Tensor:
    """Per bag, the mean (or sum) of rows of ``weight`` ``(V, W)``: ``index`` ``(N,)`` holds the bags'
    rows one bag after another, ``offsets`` ``(B,)`` where each bag starts; an empty bag gives zeros.

    The same values as ``F.embedding_bag(index, weight, offsets, mode=mode)``.

    Example:
        >>> weight = torch.tensor([[1.0], [3.0], [8.0]])
        >>> bag_reduce(weight, torch.tensor([0, 1, 2]), torch.tensor([0, 2, 3])).tolist()  # bags [0, 1], [2], []
        [[2.0], [8.0], [0.0]]
    """
    if mode not in ("mean", "sum"):
        raise ValueError(f"bag_reduce: mode must be 'mean' or 'sum', not {mode!r}")
    if not _fast_path(weight):
        return F.embedding_bag(index, weight, offsets, mode=mode)
    return _BagReduce.apply(weight, index, offsets, mode)


class _BagReduce(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, weight: Tensor, index: Tensor, offsets: Tensor, mode: str) -> Tensor:
        ctx.save_for_backward(index, offsets)
        ctx.num_rows, ctx.mode = weight.shape[0], mode
        return F.embedding_bag(index, weight, offsets, mode=mode)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        index, offsets = ctx.saved_tensors
        n = index.numel()
        sizes = torch.diff(offsets, append=offsets.new_tensor([n]))  # (B,) entries per bag
        bag_of = torch.repeat_interleave(torch.arange(sizes.numel(), device=index.device), sizes, output_size=n)
        # the entries row by row: the transposed bags (row numbers as the narrowest integers that hold
        # them: torch's CPU sort is faster on narrower keys)
        order = torch.argsort(index.to(_narrowest(ctx.num_rows)), stable=True)
        bags_by_row = bag_of[order]
        per_row = torch.bincount(index, minlength=ctx.num_rows)
        weights = None
        if ctx.mode == "mean":
            weights = (1.0 / sizes.clamp(min=1).to(grad.dtype))[bags_by_row]
        grad_weight = F.embedding_bag(
            bags_by_row, grad.contiguous(), per_row.cumsum(0) - per_row, mode="sum", per_sample_weights=weights
        )
        return grad_weight, None, None, None


def _narrowest(num_rows: int) -> torch.dtype:
    if num_rows <= torch.iinfo(torch.int16).max:
        return torch.int16
    return torch.int32 if num_rows <= torch.iinfo(torch.int32).max else torch.int64


def padded_bag(weight: Tensor, ids: Tensor, mode: str = "mean") -> Tensor:
    """Per row of ``ids`` ``(..., L)`` padded with 0, the mean (or sum) of its values' rows of ``weight``
    -> ``(..., W)``; row 0 of ``weight`` is padding, never read; a row with no value gives zeros.

    The same values as ``F.embedding_bag(ids, weight, mode=mode, padding_idx=0)``.

    Example:
        >>> weight = torch.tensor([[9.0], [1.0], [3.0]])
        >>> padded_bag(weight, torch.tensor([[2, 1, 0], [0, 0, 0]])).tolist()
        [[2.0], [0.0]]
    """
    if mode not in ("mean", "sum"):
        raise ValueError(f"padded_bag: mode must be 'mean' or 'sum', not {mode!r}")
    flat = ids.reshape(-1, ids.shape[-1])
    if not _fast_path(weight):
        pooled = F.embedding_bag(flat, weight, mode=mode, padding_idx=0)
    else:
        real = flat != 0
        counts = real.sum(dim=1)
        pooled = _BagReduce.apply(weight, flat[real], counts.cumsum(0) - counts, mode)
    return pooled.view(*ids.shape[:-1], weight.shape[1])
