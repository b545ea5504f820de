"""MINER's click predictor: target-aware attention over the user's interest vectors."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_text.masking import masked_softmax


@attrs.define(kw_only=True, frozen=True)
class MINERConfig:
    aggregate: str = attrs.field(
        default="attention",
        validator=v.in_(["attention", "max", "mean"]),
        metadata={
            "doc": 'How per-interest scores combine: "attention" (MINER\'s target-aware attention), "max" or "mean" '
            "(its ablations)."
        },
    )


class MINERPredictor(Predictor):
    """Score = target-aware weighted sum of the candidate's dot products with each interest vector.

    Paper: Li et al., "MINER: Multi-Interest Matching Network for News
    Recommendation", ACL 2022, https://aclanthology.org/2022.acl-long.29/.

    For candidate ``c`` and interests ``u_1..u_K``: ``s_k = u_k . c``; with
    ``aggregate = "attention"``, ``w_k = softmax_k(gelu(W u_k) . c)`` and the
    score is ``sum_k w_k s_k``. Only real interests (``user_mask``) take part;
    a user with none scores 0. Each candidate is scored on its own, so scores
    do not depend on the other candidates in the call.

    Args:
        options: :class:`MINERConfig`.
        context: the model context (``hidden_size``).

    Example:
        >>> from lego_core.testing import make_context
        >>> predictor = MINERPredictor(context=make_context())
        >>> interests, candidates = torch.randn(2, 4, 16), torch.randn(2, 5, 16)
        >>> predictor(interests, candidates, FieldInputs(), torch.ones(2, 4, dtype=torch.bool)).shape
        torch.Size([2, 5])
    """

    name = "miner"
    paper = "Li et al., MINER: Multi-Interest Matching Network for News Recommendation, ACL 2022. https://aclanthology.org/2022.acl-long.29/"
    Options = MINERConfig
    input = "sequence"
    tasks = frozenset({"matching", "ranking"})

    def __init__(self, *, options: MINERConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        hidden = context.hidden_size
        self.projection = nn.Linear(hidden, hidden) if self.options.aggregate == "attention" else None

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        if user_mask is None:
            user_mask = torch.ones(user.shape[:2], dtype=torch.bool, device=user.device)
        keep = user_mask.unsqueeze(1)  # (B, 1, S)
        match = torch.einsum("bkd,bsd->bks", candidates, user)  # (B, K, S)
        aggregate = self.options.aggregate
        if self.projection is not None:
            keys = F.gelu(self.projection(user))  # (B, S, D)
            weights = masked_softmax(torch.einsum("bkd,bsd->bks", candidates, keys), keep, dim=-1)  # (B, K, S)
            return (weights * match).sum(dim=-1)  # (B, K)
        if aggregate == "max":
            best = match.masked_fill(~keep, float("-inf")).amax(dim=-1)  # (B, K)
            return torch.where(keep.any(dim=-1), best, torch.zeros_like(best))
        weights = keep.to(match.dtype)  # (B, 1, S)
        return (match * weights).sum(dim=-1) / weights.sum(dim=-1).clamp(min=1.0)  # (B, K)
