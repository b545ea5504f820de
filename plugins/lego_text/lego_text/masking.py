"""Masked reductions shared by every operator of this plugin.

Conventions: a mask is a bool tensor, True on real positions (tokens or
history items). A masked position gets exactly zero weight (its logit is set
to ``-inf`` before the softmax, never a tiny positive weight), and a row with
no real position at all gives all-zero weights and a zero vector, never NaN.
``torch.softmax`` subtracts the row maximum before exponentiating, so huge
logits neither overflow nor underflow to NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor


def masked_softmax(logits: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax of ``logits`` over ``dim`` restricted to ``mask``; exactly 0 elsewhere.

    Args:
        logits: scores, any shape.
        mask: bool, broadcastable to ``logits``; True where a position takes part.
        dim: the dimension to normalise over.

    A row whose mask is all False gets all-zero weights (not NaN): its logits
    are left as they are for the softmax (which is then finite) and the
    result is zeroed by the mask.

    Example:
        >>> masked_softmax(torch.tensor([[1.0, 1.0, 5.0], [2.0, 3.0, 4.0]]),
        ...                torch.tensor([[True, True, False], [False, False, False]]))
        tensor([[0.5000, 0.5000, 0.0000],
                [0.0000, 0.0000, 0.0000]])
    """
    mask = mask.expand_as(logits) if mask.shape != logits.shape else mask
    has_any = mask.any(dim=dim, keepdim=True)
    fill = torch.where(has_any, logits.new_tensor(float("-inf")), logits.new_tensor(0.0))
    weights = torch.softmax(torch.where(mask, logits, fill), dim=dim)
    return weights.masked_fill(~mask, 0.0)


def masked_mean(x: Tensor, mask: Tensor, dim: int = 1) -> Tensor:
    """Mean of ``x`` over ``dim`` where ``mask`` is True; zeros for an empty row.

    Args:
        x: ``(..., L, D)`` values, ``dim`` pointing at ``L``.
        mask: ``(..., L)`` bool.

    Example:
        >>> masked_mean(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[True, True, False]]))
        tensor([[2.]])
    """
    weights = mask.to(x.dtype).unsqueeze(-1)  # (..., L, 1)
    total = (x * weights).sum(dim=dim)
    return total / weights.sum(dim=dim).clamp(min=1.0)


def masked_max(x: Tensor, mask: Tensor, dim: int = 1) -> Tensor:
    """Maximum of ``x`` over ``dim`` where ``mask`` is True; zeros for an empty row.

    Example:
        >>> masked_max(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[True, True, False]]))
        tensor([[3.]])
    """
    keep = mask.unsqueeze(-1)  # (..., L, 1)
    values = x.masked_fill(~keep, float("-inf")).amax(dim=dim)
    return torch.where(keep.any(dim=dim), values, torch.zeros_like(values))


def unmask_empty_rows(mask: Tensor) -> Tensor:
    """``mask`` with rows that have no True set to all True.

    For attention layers that produce NaN on a fully masked row
    (``nn.TransformerEncoder``, ``scaled_dot_product_attention``): such a row
    then attends over its padding, which is harmless because every operator
    pools the result with the original mask, giving a zero vector.

    Example:
        >>> unmask_empty_rows(torch.tensor([[True, False], [False, False]]))
        tensor([[ True, False],
                [ True,  True]])
    """
    return mask | ~mask.any(dim=-1, keepdim=True)


def positions_from_end(mask: Tensor) -> Tensor:
    """``(B, H)`` position ids counted back from each row's most recent (last real) item, which is 0.

    Counting from the end gives an item the same position whatever the
    history's length, and it does not matter on which side the padding is
    (padded slots get 0; their outputs are masked away later).

    Example:
        >>> positions_from_end(torch.tensor([[False, False, True, True], [True, True, True, False]]))
        tensor([[0, 0, 1, 0],
                [2, 1, 0, 0]])
    """
    after = mask.flip(-1).long().cumsum(-1).flip(-1)  # (B, H) real items at or after each slot
    return (after - 1).clamp(min=0) * mask


def real_items_first(history: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Move each row's real items to the front, keeping their order; return them and their lengths.

    Works for padding on either side (or anywhere): a stable sort puts the
    real slots first. Padded slots of the result are zero.

    Example:
        >>> x = torch.tensor([[[0.0], [0.0], [1.0], [2.0]], [[3.0], [4.0], [0.0], [0.0]]])
        >>> moved, lengths = real_items_first(x, torch.tensor([[False, False, True, True], [True, True, False, False]]))
        >>> moved[..., 0], lengths
        (tensor([[1., 2., 0., 0.],
                [3., 4., 0., 0.]]), tensor([2, 2]))
    """
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # (B, H) real slots first
    lengths = mask.sum(dim=1)  # (B,)
    moved = history.gather(1, order.unsqueeze(-1).expand_as(history))  # (B, H, D)
    real = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, H)
    return moved * real.unsqueeze(-1).to(history.dtype), lengths
