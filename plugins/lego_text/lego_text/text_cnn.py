"""A text encoder of NAML and LSTUR: convolution over words, then additive attention."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lego_core.model.dropout import Dropout
from lego_text.additive_attention import AdditiveAttention


def odd(instance: Any, attribute: Any, value: int) -> None:
    """attrs validator: a convolution window must be odd to keep the sequence length."""
    if value % 2 == 0:
        raise ValueError(f"{attribute.name} must be odd so the convolution keeps the length (got {value}); try 3")


class TextCNN(nn.Module):
    """Conv1d over word vectors (``same`` padding) -> ReLU -> dropout -> additive attention.

    Paper: Wu et al., "Neural News Recommendation with Attentive Multi-View
    Learning", IJCAI 2019, https://www.ijcai.org/proceedings/2019/536 (title
    and body encoders); An et al., ACL 2019, https://aclanthology.org/P19-1033/
    (LSTUR's title encoder).

    The inputs must already be zero at padded positions (so a window that
    overlaps the padding sees zeros, as at the sequence border).

    Args:
        input_dim: size of the word vectors.
        num_filters: convolution filters, the size of the output vector.
        window_size: words per window (odd, so the length is kept).
        attention_dim: size of the additive attention's query.
        dropout: dropout after the convolution.

    Example:
        >>> cnn = TextCNN(6, 8, window_size=3, attention_dim=4)
        >>> cnn(torch.randn(2, 5, 6), torch.ones(2, 5, dtype=torch.bool)).shape
        torch.Size([2, 8])
    """

    def __init__(
        self, input_dim: int, num_filters: int, *, window_size: int, attention_dim: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(input_dim, num_filters, window_size, padding=window_size // 2)
        self.dropout = Dropout(dropout)
        self.attention = AdditiveAttention(num_filters, attention_dim)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``x (N, L, E)`` zero at padding, ``mask (N, L)`` -> ``(N, F)``."""
        h = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)  # (N, L, F)
        return self.attention(self.dropout(h), mask)  # (N, F)
