"""FM: factorization machine over the fields.

Rendle, "Factorization Machines", ICDM 2010,
https://ieeexplore.ieee.org/document/5694074.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import Tensor

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.linear import FieldLinear


def pairwise_interaction(x: Tensor) -> Tensor:
    """FM's second-order term ``sum_{i<j} <v_i, v_j>`` of ``x`` ``(N, F, E)`` -> ``(N,)``.

    Computed in ``O(F * E)`` with the identity
    ``sum_{i<j} <v_i, v_j> = 1/2 * (||sum_i v_i||^2 - sum_i ||v_i||^2)`` (Rendle, Lemma 3.1).

    Example:
        >>> import torch
        >>> pairwise_interaction(torch.tensor([[[1.0, 2.0], [3.0, 4.0], [0.5, 0.0]]]))  # 11 + 0.5 + 1.5
        tensor([13.])
    """
    return _PairwiseInteraction.apply(x)


class _PairwiseInteraction(torch.autograd.Function):
    """The FM identity with its gradient written out: ``d/dv_i = sum_j v_j - v_i``, times the output's.

    Autograd through ``x.sum(1).pow(2) - x.pow(2).sum(1)`` makes five ``(N, F, E)`` temporaries
    (the squares and their backward products), the largest tensors of an FM step; this makes one
    in each direction (the epoch it saves is measured by ``benchmarks/ctr_epoch_time.py``).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        total = x.sum(dim=1)  # (N, E)
        flat = x.reshape(x.shape[0], -1)
        ctx.save_for_backward(x, total)
        return 0.5 * (torch.linalg.vecdot(total, total) - torch.linalg.vecdot(flat, flat))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        x, total = ctx.saved_tensors
        return (total.unsqueeze(1) - x).mul_(grad.view(-1, 1, 1))


@attrs.define(kw_only=True, frozen=True)
class FMConfig:
    field_dim: int | None = field_dim_option()


class FMPredictor(Predictor):
    """``logit = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j>`` over the fields.

    The first-order term is :class:`~lego_ctr.linear.FieldLinear`; the
    second-order term takes the inner product of every pair of field embeddings
    (user vector, candidate vector, categorical attributes), so it holds the
    user-candidate dot product and every attribute's affinity to both.

    Args:
        options: :class:`FMConfig`.
        context: the model context.

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = FMPredictor(context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "fm"
    paper = "Rendle, ICDM 2010. https://ieeexplore.ieee.org/document/5694074"
    Options = FMConfig

    def __init__(self, *, options: FMConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: FMConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        self.linear = FieldLinear(context)

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k, f, e = x.shape
        second = pairwise_interaction(x.reshape(b * k, f, e)).view(b, k)  # (B, K)
        return self.linear(user, candidates, fields) + second  # (B, K)
