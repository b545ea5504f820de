"""MINER's poly attention: K learned codes each attend over the history, giving K interest vectors."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import UserBatch
from lego_text.masking import masked_softmax


@attrs.define(kw_only=True, frozen=True)
class PolyAttentionConfig:
    num_interests: int = attrs.field(
        default=32, validator=v.gt(0), metadata={"doc": "K, the number of interest vectors (MINER: 32)."}
    )
    attention_dim: int = attrs.field(
        default=200, validator=v.gt(0), metadata={"doc": "Size of the context codes and of the projection they score."}
    )
    disagreement_weight: float = attrs.field(
        default=0.0,
        validator=v.ge(0.0),
        metadata={
            "doc": "beta of MINER's disagreement regulariser, added to the training loss: the mean cosine similarity "
            "of a user's interest vectors (MINER: 0.8; 0 turns it off)."
        },
    )


class PolyAttentionOperator(BehaviorOperator):
    """K interest vectors from poly attention over the history.

    Paper: Li et al., "MINER: Multi-Interest Matching Network for News
    Recommendation", ACL 2022, https://aclanthology.org/2022.acl-long.29/.

    ``alpha[k, i] = softmax_i(c_k^T tanh(W h_i))`` with K learned context codes
    ``c_k``; interest ``k`` is ``sum_i alpha[k, i] h_i``. Padded items get
    exactly zero weight (their logits are ``-inf`` before the softmax, and the
    softmax subtracts the maximum first); an empty history gives K zero
    vectors. The output mask is all True (every interest is real).

    MINER's disagreement regulariser keeps the interests apart: with
    ``disagreement_weight = beta > 0``, every training forward pass adds
    ``beta * L_D`` to the loss (through :meth:`auxiliary_loss`), where, per
    user, ``L_D = 1/K^2 sum_i sum_j cos(u_i, u_j)`` over the K interest
    vectors, averaged over the users of the batch that have a history.
    MINER's category-aware weighting is not included.

    Args:
        options: :class:`PolyAttentionConfig`.
        context: the model context (``hidden_size``).

    Example:
        >>> from lego_core.testing import make_context
        >>> op = PolyAttentionOperator(options=PolyAttentionConfig(num_interests=4), context=make_context())
        >>> interests, mask = op(torch.randn(2, 3, 16), torch.tensor([[False, True, True], [True] * 3]), None)
        >>> interests.shape, mask.shape, bool(mask.all())
        (torch.Size([2, 4, 16]), torch.Size([2, 4]), True)
    """

    name = "polyattention"
    paper = "Li et al., MINER: Multi-Interest Matching Network for News Recommendation, ACL 2022. https://aclanthology.org/2022.acl-long.29/"
    Options = PolyAttentionConfig
    output = "sequence"

    def __init__(self, *, options: PolyAttentionConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: PolyAttentionConfig = self.options
        self.projection = nn.Linear(context.hidden_size, opts.attention_dim, bias=False)
        self.codes = nn.Parameter(torch.empty(opts.num_interests, opts.attention_dim))
        nn.init.xavier_uniform_(self.codes)

    def weights(self, history: Tensor, mask: Tensor) -> Tensor:
        """``(B, K, H)`` attention of each interest over the history."""
        keys = torch.tanh(self.projection(history))  # (B, H, A)
        logits = torch.einsum("bha,ka->bkh", keys, self.codes)  # (B, K, H)
        return masked_softmax(logits, mask.unsqueeze(1), dim=-1)

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> tuple[Tensor, Tensor]:
        interests = torch.einsum("bkh,bhd->bkd", self.weights(history, mask), history)  # (B, K, D)
        interest_mask = torch.ones(interests.shape[:2], dtype=torch.bool, device=interests.device)  # (B, K)
        weight = self.options.disagreement_weight
        if self.training and weight > 0:
            self._disagreement = weight * disagreement(interests, mask.any(dim=1))
        return interests, interest_mask

    def auxiliary_loss(self) -> Tensor | None:
        """``beta * L_D`` of the last training forward pass (once), or None."""
        term, self._disagreement = getattr(self, "_disagreement", None), None
        return term


def disagreement(interests: Tensor, has_history: Tensor) -> Tensor:
    """MINER's ``L_D``: per user the mean of ``cos(u_i, u_j)`` over all K x K pairs, averaged over users.

    Args:
        interests: ``(B, K, D)`` interest vectors.
        has_history: ``(B,)`` users that count (an empty history gives zero vectors).
    """
    unit = F.normalize(interests, dim=-1)  # zero vectors stay zero
    per_user = torch.einsum("bkd,bjd->bkj", unit, unit).mean(dim=(1, 2))  # (B,)
    if not bool(has_history.any()):
        return per_user.sum() * 0.0
    return per_user[has_history].mean()
