"""Token states ``(N, L, H)`` -> one vector per item ``(N, H)``, for either padding side.

- ``"cls"``: the first real token (BERT's ``[CLS]``; with left padding it is
  not at index 0).
- ``"mean"``: the mean over real tokens.
- ``"last"``: the last real token, the one a decoder has read the whole text
  into (with right padding it is not at index L - 1).

Example:
    >>> import torch
    >>> h = torch.arange(6.0).reshape(1, 3, 2)          # tokens (0,1), (2,3), (4,5)
    >>> left = torch.tensor([[False, True, True]])
    >>> pool(h, left, "cls").tolist(), pool(h, left, "last").tolist(), pool(h, left, "mean").tolist()
    ([[2.0, 3.0]], [[4.0, 5.0]], [[3.0, 4.0]])
"""

from __future__ import annotations

import torch
from torch import Tensor

POOLINGS = ("cls", "mean", "last")


def first_index(mask: Tensor) -> Tensor:
    """``(N,)`` index of each row's first True (0 for an all-False row)."""
    return mask.to(torch.int8).argmax(dim=1)


def last_index(mask: Tensor) -> Tensor:
    """``(N,)`` index of each row's last True (L - 1 for an all-False row)."""
    return mask.shape[1] - 1 - mask.flip(1).to(torch.int8).argmax(dim=1)


def pool(hidden: Tensor, mask: Tensor, how: str) -> Tensor:
    """Pool ``hidden (N, L, H)`` over the True positions of ``mask (N, L)``; float32 out."""
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    if how == "cls":
        return hidden[rows, first_index(mask)].float()
    if how == "last":
        return hidden[rows, last_index(mask)].float()
    if how == "mean":
        m = mask.to(torch.float32).unsqueeze(-1)  # (N, L, 1)
        return (hidden.float() * m).sum(1) / m.sum(1).clamp(min=1.0)
    raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {how!r}")


def trim(ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Drop the columns that are padding in every row (both ends), so a batch of short texts runs short."""
    used = mask.any(dim=0).nonzero()
    if used.numel() == 0:
        return ids[:, :1], mask[:, :1]
    lo, hi = int(used[0]), int(used[-1]) + 1
    return ids[:, lo:hi], mask[:, lo:hi]
