"""Mean pooling over the history: the simplest behavior operator."""

from __future__ import annotations

import torch
from torch import Tensor

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.inputs import UserBatch
from lego_core.model.table_ops import bag_reduce


class MeanOperator(BehaviorOperator):
    """User vector = mean of the clicked items' vectors (zeros for an empty history).

    Example:
        >>> import torch
        >>> from lego_core.model.context import ModelContext
        >>> op = MeanOperator(context=ModelContext(hidden_size=2, num_items=3, num_users=1))
        >>> h = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]])
        >>> op(h, torch.tensor([[True, True, False]]), None)
        tensor([[2., 1.]])
        >>> op.pool_bags(h[0], torch.tensor([0, 1]), torch.tensor([0]), None)  # the same from a flat bag
        tensor([[2., 1.]])
    """

    name = "mean"

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Tensor:
        weights = mask.to(history.dtype)  # (B, H)
        # a batched matrix product: no (B, H, D) temporary, as a masked multiply would make
        total = torch.bmm(weights.unsqueeze(1), history).squeeze(1)  # (B, D)
        return total / weights.sum(dim=1, keepdim=True).clamp(min=1.0)

    def pool_bags(self, vectors: Tensor, index: Tensor, offsets: Tensor, user: UserBatch) -> Tensor:
        # one fused gather-and-mean per row (an empty bag gives zeros, as forward does); its backward
        # is the transposed bag into the I distinct rows, not a scatter through a (B, H, D) tensor
        return bag_reduce(vectors, index, offsets, mode="mean")
