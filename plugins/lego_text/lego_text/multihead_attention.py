"""Multi-head self-attention with a padding mask, as NRMS uses it."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from lego_core.errors import ConfigError
from lego_text.masking import unmask_empty_rows


def check_heads(hidden_size: int, num_heads: int, where: str) -> None:
    """Raise a :class:`ConfigError` unless ``num_heads`` divides ``hidden_size``."""
    if num_heads <= 0 or hidden_size % num_heads:
        raise ConfigError(
            f"{where}: the hidden size ({hidden_size}) is not a multiple of the number of attention "
            f"heads ({num_heads}); change model.hidden_size or num_heads so that heads divide it"
        )


class MultiHeadSelfAttention(nn.Module):
    """Scaled dot-product self-attention over several heads, padding masked.

    Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017,
    https://arxiv.org/abs/1706.03762; used on words and on clicked news by
    NRMS (Wu et al., EMNLP 2019, https://aclanthology.org/D19-1671/).

    Each head projects the inputs to queries, keys and values of size
    ``hidden_size / num_heads``; keys at padded positions are excluded; the
    heads' outputs are concatenated (no output projection, as in NRMS). Outputs
    at padded positions are meaningless: pool them away with the same mask.

    Args:
        input_dim: size of the input vectors.
        hidden_size: size of the output vectors (heads x head size).
        num_heads: number of heads; must divide ``hidden_size``.
        dropout: dropout on the attention weights during training.

    Example:
        >>> import torch
        >>> attention = MultiHeadSelfAttention(6, 8, num_heads=2)
        >>> attention(torch.randn(3, 5, 6), torch.ones(3, 5, dtype=torch.bool)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(self, input_dim: int, hidden_size: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        check_heads(hidden_size, num_heads, "multi-head self-attention")
        self.num_heads = num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(input_dim, 3 * hidden_size)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        n, length, _ = x.shape
        qkv = self.qkv(x).view(n, length, 3, self.num_heads, -1)  # (N, L, 3, heads, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (N, heads, L, d)
        # an all-padding row attends over its padding (finite) instead of producing NaN
        keys = unmask_empty_rows(mask)[:, None, None, :]  # (N, 1, 1, L)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keys, dropout_p=self.dropout if self.training else 0.0)
        return out.transpose(1, 2).reshape(n, length, -1)  # (N, L, hidden)
