"""``nn.TransformerEncoder`` with an input projection, learned positions and safe padding masks."""

from __future__ import annotations

from torch import Tensor, nn

from lego_core.model.dropout import Dropout
from lego_text.masking import unmask_empty_rows
from lego_text.multihead_attention import check_heads


class TransformerStack(nn.Module):
    """Project, add learned positions, normalise, then run Transformer encoder layers.

    Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017,
    https://arxiv.org/abs/1706.03762.

    Padded positions are excluded as keys (``src_key_padding_mask``); a row
    with no real position is left unmasked, because a fully masked row makes
    ``nn.TransformerEncoder`` return NaN: the caller pools the outputs with the
    original mask, so such a row still ends as a zero vector.

    Args:
        input_dim: size of the inputs (projected to ``hidden_size`` if different).
        hidden_size: model width.
        num_heads: attention heads; must divide ``hidden_size``.
        num_layers: encoder layers.
        feedforward_size: width of each layer's feed-forward block.
        max_positions: size of the position table.
        dropout: dropout on embeddings and inside the layers.

    Example:
        >>> import torch
        >>> stack = TransformerStack(6, 8, num_heads=2, num_layers=1, feedforward_size=16, max_positions=5)
        >>> stack(torch.randn(3, 5, 6), torch.ones(3, 5, dtype=torch.bool), torch.arange(5)).shape
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
        check_heads(hidden_size, num_heads, "transformer")
        self.projection: nn.Module = nn.Identity() if input_dim == hidden_size else nn.Linear(input_dim, hidden_size)
        self.positions = nn.Embedding(max_positions, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            hidden_size, num_heads, feedforward_size, dropout, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def forward(self, x: Tensor, mask: Tensor, positions: Tensor) -> Tensor:
        """``x (N, L, E)``, ``mask (N, L)`` True on real positions, ``positions`` ids ``(L,)`` or ``(N, L)``.

        Positions are in ``0..L-1``; returns ``(N, L, D)``.
        """
        if x.shape[1] > self.positions.num_embeddings:  # positions are 0..L-1 in some order
            raise ValueError(
                f"transformer: a sequence of {x.shape[1]} positions, but the position table "
                f"holds {self.positions.num_embeddings} (max_length or max_history)"
            )
        h = self.dropout(self.norm(self.projection(x) + self.positions(positions)))  # (N, L, D)
        return self.encoder(h, src_key_padding_mask=~unmask_empty_rows(mask))  # (N, L, D)
