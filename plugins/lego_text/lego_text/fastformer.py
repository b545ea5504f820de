"""Fastformer as a text encoder: additive-attention Transformer layers, then attention pooling."""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.context import Attribute
from lego_text.additive_attention import AdditiveAttention
from lego_text.fastformer_layer import FastformerEncoder
from lego_text.multihead_attention import check_heads
from lego_text.views import ViewConfig, ViewOperator


@attrs.define(kw_only=True, frozen=True)
class FastformerConfig(ViewConfig):
    num_layers: int = attrs.field(default=1, validator=v.gt(0), metadata={"doc": "Fastformer layers."})
    num_heads: int = attrs.field(
        default=8,
        validator=v.gt(0),
        metadata={"doc": "Heads; must divide hidden_size (Fastformer-NR: 16 heads of 16)."},
    )
    feedforward_size: int | None = attrs.field(
        default=None,
        validator=v.optional(v.gt(0)),
        metadata={
            "doc": "Width of the feed-forward blocks; unset means 4 x hidden_size (BERT's ratio). The feed-forward "
            "blocks dominate the cost: a smaller width trains much faster."
        },
    )


class FastformerTextEncoder(nn.Module):
    """Words ``(N, L, E)`` -> :class:`FastformerEncoder` with token positions -> additive attention."""

    def __init__(self, encoder: FastformerEncoder, hidden_size: int, attention_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = AdditiveAttention(hidden_size, attention_dim)

    def forward(self, words: Tensor, mask: Tensor) -> Tensor:
        positions = torch.arange(words.shape[1], device=words.device)  # (L,)
        return self.pooling(self.encoder(words, mask, positions), mask)  # (N, D)


class FastformerOperator(ViewOperator):
    """Fastformer news encoder: word vectors -> Fastformer layers (masked) -> additive attention.

    Paper: Wu et al., "Fastformer: Additive Attention Can Be All You Need",
    2021, https://arxiv.org/abs/2108.09084 (Fastformer-NR, its news
    recommendation variant, pools the last layer with additive attention).

    Word vectors are projected to ``hidden_size`` (if different), learned
    positions are added, layer-normalised, and ``num_layers`` Fastformer layers
    run in O(L); padding takes no part in the global query and key. Other
    attributes become views fused as in NAML.

    Args:
        options: :class:`FastformerConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context(hidden_size=16)
        >>> op = FastformerOperator(options=FastformerConfig(embedding_dim=8, num_heads=4), context=context)
        >>> op(random_items(context, n=5)).shape
        torch.Size([5, 16])
    """

    name = "fastformer"
    paper = "Wu et al., Fastformer: Additive Attention Can Be All You Need, 2021. https://arxiv.org/abs/2108.09084"
    Options = FastformerConfig

    def build_text_encoder(self, attribute: Attribute) -> nn.Module:
        opts: FastformerConfig = self.options
        hidden = self.context.hidden_size
        check_heads(hidden, opts.num_heads, f"content operator {self.name!r}")
        encoder = FastformerEncoder(
            opts.embedding_dim,
            hidden,
            num_heads=opts.num_heads,
            num_layers=opts.num_layers,
            feedforward_size=opts.feedforward_size or 4 * hidden,
            max_positions=attribute.max_length,
            dropout=opts.dropout,
        )
        return FastformerTextEncoder(encoder, hidden, opts.attention_dim)
