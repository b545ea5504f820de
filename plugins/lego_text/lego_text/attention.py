"""NRMS's news encoder: multi-head self-attention over words, then additive attention."""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.context import Attribute
from lego_core.model.dropout import Dropout
from lego_text.additive_attention import AdditiveAttention
from lego_text.multihead_attention import MultiHeadSelfAttention, check_heads
from lego_text.views import ViewConfig, ViewOperator


@attrs.define(kw_only=True, frozen=True)
class AttentionConfig(ViewConfig):
    num_heads: int = attrs.field(
        default=8,
        validator=v.gt(0),
        metadata={"doc": "Self-attention heads; must divide hidden_size (NRMS: 16 heads of 16)."},
    )


class SelfAttentionTextEncoder(nn.Module):
    """Words ``(N, L, E)`` -> multi-head self-attention -> dropout -> additive attention -> ``(N, D)``."""

    def __init__(self, input_dim: int, hidden_size: int, num_heads: int, attention_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attention = MultiHeadSelfAttention(input_dim, hidden_size, num_heads)
        self.dropout = Dropout(dropout)
        self.pooling = AdditiveAttention(hidden_size, attention_dim)

    def forward(self, words: Tensor, mask: Tensor) -> Tensor:
        h = self.dropout(self.self_attention(words, mask))  # (N, L, D)
        return self.pooling(h, mask)  # (N, D)


class AttentionOperator(ViewOperator):
    """News encoder of NRMS: words attend to each other, then additive attention pools them.

    Paper: Wu et al., "Neural News Recommendation with Multi-Head
    Self-Attention", EMNLP 2019, https://aclanthology.org/D19-1671/.

    With several attributes, each text attribute is encoded on its own (its own
    self-attention and word attention; word tables are shared per vocabulary)
    and categorical attributes become views (embedding -> dense -> ReLU); the
    views are fused by additive attention, as in NAML. Encoding attributes
    separately rather than concatenating their tokens keeps the cost at
    ``sum L_a^2`` instead of ``(sum L_a)^2``. With a single text attribute
    this is exactly NRMS.

    Args:
        options: :class:`AttentionConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context(hidden_size=16)
        >>> op = AttentionOperator(options=AttentionConfig(embedding_dim=8, num_heads=4), context=context)
        >>> op(random_items(context, n=5)).shape
        torch.Size([5, 16])
    """

    name = "attention"
    paper = "Wu et al., Neural News Recommendation with Multi-Head Self-Attention, EMNLP 2019. https://aclanthology.org/D19-1671/"
    Options = AttentionConfig

    def build_text_encoder(self, attribute: Attribute) -> nn.Module:
        opts: AttentionConfig = self.options
        check_heads(self.context.hidden_size, opts.num_heads, f"content operator {self.name!r}")
        return SelfAttentionTextEncoder(
            opts.embedding_dim, self.context.hidden_size, opts.num_heads, opts.attention_dim, opts.dropout
        )
