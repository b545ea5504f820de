"""The distinct ids of a batch and where each id went, as ``torch.unique(..., return_inverse=True)``."""

from __future__ import annotations

import torch
from torch import Tensor

# a table of ``domain`` flags costs O(domain); a sort costs O(n log n): the table wins while the
# domain is at most a few times the number of ids (a MovieLens-100K batch: ~49,000 ids of 1,683
# items), the sort once the domain is far larger (the same ids of 200,000 items)
DENSE_DOMAIN_FACTOR = 4


def unique_ids(ids: Tensor, domain: int) -> tuple[Tensor, Tensor]:
    """Sorted distinct values of ``ids`` ``(N,)`` (each in ``0..domain-1``) and each entry's index into them.

    The same tensors as ``torch.unique(ids, return_inverse=True)``. When the domain is small next to
    ``N`` (a batch of a small catalogue's items), a flag per possible id replaces the sort.

    Example:
        >>> unique_ids(torch.tensor([5, 1, 5, 3]), domain=8)
        (tensor([1, 3, 5]), tensor([2, 0, 2, 1]))
    """
    if domain > DENSE_DOMAIN_FACTOR * ids.numel():
        return torch.unique(ids, return_inverse=True)
    seen = torch.zeros(domain, dtype=torch.bool, device=ids.device)
    seen[ids] = True
    distinct = seen.nonzero().view(-1)
    position = torch.empty(domain, dtype=ids.dtype, device=ids.device)
    position[distinct] = torch.arange(distinct.numel(), dtype=ids.dtype, device=ids.device)
    return distinct, position[ids]
