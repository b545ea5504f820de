"""The Fastformer layer: additive attention instead of pairwise attention, linear in length."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lego_core.model.dropout import Dropout
from lego_text.masking import masked_softmax
from lego_text.multihead_attention import check_heads


class FastformerAttention(nn.Module):
    """Fastformer's additive attention over a masked sequence.

    Paper: Wu et al., "Fastformer: Additive Attention Can Be All You Need",
    2021, https://arxiv.org/abs/2108.09084.

    Per head: the queries are summarised into one global query by additive
    attention (``alpha_i = softmax(w_q . q_i / sqrt(d))``); each key is
    multiplied element-wise by it (``p_i = q_g * k_i``) and the products are
    summarised into a global key the same way; each value is multiplied by
    the global key, transformed linearly and added to its query. As in the
    paper, values share the query transformation. Cost is O(L), not O(L^2).
    Padding takes no part in either summary.

    Args:
        hidden_size: size of the input and output vectors.
        num_heads: number of heads; must divide ``hidden_size``.

    Example:
        >>> layer = FastformerAttention(8, num_heads=2)
        >>> layer(torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.bool)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        check_heads(hidden_size, num_heads, "fastformer")
        self.num_heads = num_heads
        self.scale = 1.0 / math.sqrt(hidden_size // num_heads)
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.query_score = nn.Linear(hidden_size, num_heads)
        self.key_score = nn.Linear(hidden_size, num_heads)
        self.output = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        n, length, hidden = x.shape
        heads = self.num_heads
        keep = mask.unsqueeze(-1)  # (N, L, 1)
        q = self.query(x)  # (N, L, D)
        k = self.key(x)  # (N, L, D)
        alpha = masked_softmax(self.query_score(q) * self.scale, keep, dim=1)  # (N, L, heads)
        q_heads = q.view(n, length, heads, -1)  # (N, L, heads, d)
        global_query = torch.einsum("nlh,nlhd->nhd", alpha, q_heads)  # (N, heads, d)
        p = k.view(n, length, heads, -1) * global_query.unsqueeze(1)  # (N, L, heads, d)
        beta = masked_softmax(self.key_score(p.reshape(n, length, hidden)) * self.scale, keep, dim=1)
        global_key = torch.einsum("nlh,nlhd->nhd", beta, p)  # (N, heads, d)
        u = (q_heads * global_key.unsqueeze(1)).reshape(n, length, hidden)  # (N, L, D)
        return self.output(u) + q


class FastformerLayer(nn.Module):
    """Fastformer attention + feed-forward block, each with residual and layer norm (BERT style).

    Args:
        hidden_size: size of the vectors.
        num_heads: attention heads.
        feedforward_size: width of the feed-forward block.
        dropout: dropout after the attention and the feed-forward block.

    Example:
        >>> FastformerLayer(8, 2, 16)(torch.randn(3, 5, 8), torch.ones(3, 5, dtype=torch.bool)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(self, hidden_size: int, num_heads: int, feedforward_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.attention = FastformerAttention(hidden_size, num_heads)
        self.attention_norm = nn.LayerNorm(hidden_size)
        self.feedforward = nn.Sequential(
            nn.Linear(hidden_size, feedforward_size), nn.GELU(), nn.Linear(feedforward_size, hidden_size)
        )
        self.output_norm = nn.LayerNorm(hidden_size)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.attention_norm(x + self.dropout(self.attention(x, mask)))  # (N, L, D)
        return self.output_norm(x + self.dropout(self.feedforward(x)))


class FastformerEncoder(nn.Module):
    """Input projection, learned positions, then a stack of :class:`FastformerLayer`.

    Args:
        input_dim: size of the inputs (projected to ``hidden_size`` if different).
        hidden_size: size of the outputs.
        num_heads: attention heads per layer.
        num_layers: number of layers.
        feedforward_size: width of each layer's feed-forward block.
        max_positions: size of the position table.
        dropout: dropout on the embeddings and inside the layers.

    Example:
        >>> encoder = FastformerEncoder(6, 8, num_heads=2, num_layers=1, feedforward_size=16,
        ...                             max_positions=5)
        >>> encoder(torch.randn(3, 5, 6), torch.ones(3, 5, dtype=torch.bool), torch.arange(5)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(
        self,
        input_dim: int,
        hidden_size: int,
        *,
        num_heads: int,
        num_layers: int,
        feedforward_size: int,
        max_positions: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.projection: nn.Module = nn.Identity() if input_dim == hidden_size else nn.Linear(input_dim, hidden_size)
        self.positions = nn.Embedding(max_positions, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = Dropout(dropout)
        self.layers = nn.ModuleList(
            FastformerLayer(hidden_size, num_heads, feedforward_size, dropout) for _ in range(num_layers)
        )

    def forward(self, x: Tensor, mask: Tensor, positions: Tensor) -> Tensor:
        """``x (N, L, E)``, ``mask (N, L)``, ``positions`` ids ``(L,)`` or ``(N, L)`` in ``0..L-1`` -> ``(N, L, D)``."""
        if x.shape[1] > self.positions.num_embeddings:  # positions are 0..L-1 in some order
            raise ValueError(
                f"fastformer: a sequence of {x.shape[1]} positions, but the position table "
                f"holds {self.positions.num_embeddings} (max_length or max_history)"
            )
        h = self.dropout(self.norm(self.projection(x) + self.positions(positions)))  # (N, L, D)
        for layer in self.layers:
            h = layer(h, mask)
        return h
