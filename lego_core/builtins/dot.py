"""Dot product: the score of a candidate is its inner product with the user vector."""

from __future__ import annotations

from torch import Tensor

from lego_core.model.bricks import Predictor
from lego_core.model.inputs import FieldInputs


class DotPredictor(Predictor):
    """``score[b, k] = <user[b], candidates[b, k]>``.

    Example:
        >>> import torch
        >>> from lego_core.model.context import ModelContext
        >>> p = DotPredictor(context=ModelContext(hidden_size=2, num_items=3, num_users=1))
        >>> p(torch.tensor([[1.0, 2.0]]), torch.tensor([[[1.0, 1.0], [0.0, -1.0]]]), FieldInputs())
        tensor([[ 3., -2.]])
    """

    name = "dot"

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        return (candidates * user.unsqueeze(1)).sum(dim=-1)  # (B, K)
