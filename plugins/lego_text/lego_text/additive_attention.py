"""Additive attention pooling: a learned query scores each position.

Used over tokens (NAML, NRMS news encoders), across attribute views (NAML)
and over a user's history (NAML, NRMS user encoders).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lego_text.masking import masked_softmax


class AdditiveAttention(nn.Module):
    """Pool a sequence into one vector with additive (Bahdanau-style) attention.

    Paper: Wu et al., "Neural News Recommendation with Attentive Multi-View
    Learning", IJCAI 2019, https://www.ijcai.org/proceedings/2019/536 (the
    word-, view- and news-level attention of NAML).

    ``a_i = q^T tanh(W x_i + b)``, ``alpha = softmax(a)`` over the real
    positions only (padding gets exactly zero weight), ``out = sum_i alpha_i x_i``.
    The softmax subtracts the row maximum, so logits of any size are safe; a
    row with no real position gives a zero vector.

    Args:
        input_dim: size of the vectors ``x_i``.
        attention_dim: size of the hidden projection ``W x + b`` (the query's size).

    Example:
        >>> attention = AdditiveAttention(4, 3)
        >>> x = torch.randn(2, 5, 4)
        >>> mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
        >>> attention(x, mask).shape
        torch.Size([2, 4])
        >>> attention.weights(x, mask)[1, 2:].tolist()
        [0.0, 0.0, 0.0]
    """

    def __init__(self, input_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.projection = nn.Linear(input_dim, attention_dim)
        self.query = nn.Linear(attention_dim, 1, bias=False)

    def weights(self, x: Tensor, mask: Tensor) -> Tensor:
        """``(..., L)`` attention weights of ``x (..., L, D)`` under ``mask (..., L)``."""
        scores = self.query(torch.tanh(self.projection(x))).squeeze(-1)  # (..., L)
        return masked_softmax(scores, mask, dim=-1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        weights = self.weights(x, mask)  # (..., L)
        return torch.einsum("...l,...ld->...d", weights, x)  # (..., D)
