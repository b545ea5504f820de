"""A Transformer text encoder: encoder layers with learned positions, then additive attention."""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.context import Attribute
from lego_text.additive_attention import AdditiveAttention
from lego_text.multihead_attention import check_heads
from lego_text.transformer_stack import TransformerStack
from lego_text.views import ViewConfig, ViewOperator


@attrs.define(kw_only=True, frozen=True)
class TransformerConfig(ViewConfig):
    num_layers: int = attrs.field(default=2, validator=v.gt(0), metadata={"doc": "Transformer encoder layers."})
    num_heads: int = attrs.field(
        default=8, validator=v.gt(0), metadata={"doc": "Attention heads; must divide hidden_size."}
    )
    feedforward_size: int | None = attrs.field(
        default=None,
        validator=v.optional(v.gt(0)),
        metadata={"doc": "Width of the feed-forward blocks; unset means 4 x hidden_size."},
    )


class TransformerTextEncoder(nn.Module):
    """Words ``(N, L, E)`` -> :class:`TransformerStack` with token positions -> additive attention."""

    def __init__(self, stack: TransformerStack, hidden_size: int, attention_dim: int) -> None:
        super().__init__()
        self.stack = stack
        self.pooling = AdditiveAttention(hidden_size, attention_dim)

    def forward(self, words: Tensor, mask: Tensor) -> Tensor:
        positions = torch.arange(words.shape[1], device=words.device)  # (L,)
        return self.pooling(self.stack(words, mask, positions), mask)  # (N, D)


class TransformerOperator(ViewOperator):
    """Transformer encoder over each text attribute, additive attention over tokens and views.

    Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017,
    https://arxiv.org/abs/1706.03762 (a small BERT-like encoder trained from
    scratch, as the non-pretrained baseline of PLM-NR, Wu et al., SIGIR 2021,
    https://arxiv.org/abs/2104.07413).

    Word vectors are projected to ``hidden_size`` (if different), learned
    positions (one table per attribute, its ``max_length`` long) are added,
    ``nn.TransformerEncoder`` layers run with a padding mask, and additive
    attention pools the tokens. Views (other attributes) are fused as in NAML.

    Args:
        options: :class:`TransformerConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context(hidden_size=16)
        >>> options = TransformerConfig(embedding_dim=8, num_layers=1, num_heads=2)
        >>> TransformerOperator(options=options, context=context)(random_items(context, n=5)).shape
        torch.Size([5, 16])
    """

    name = "transformer"
    paper = "Vaswani et al., Attention Is All You Need, NeurIPS 2017. https://arxiv.org/abs/1706.03762"
    Options = TransformerConfig

    def build_text_encoder(self, attribute: Attribute) -> nn.Module:
        opts: TransformerConfig = self.options
        hidden = self.context.hidden_size
        check_heads(hidden, opts.num_heads, f"content operator {self.name!r}")
        stack = TransformerStack(
            opts.embedding_dim,
            hidden,
            num_heads=opts.num_heads,
            num_layers=opts.num_layers,
            feedforward_size=opts.feedforward_size or 4 * hidden,
            max_positions=attribute.max_length,
            dropout=opts.dropout,
        )
        return TransformerTextEncoder(stack, hidden, opts.attention_dim)
