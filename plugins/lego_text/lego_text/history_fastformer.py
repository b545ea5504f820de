"""Fastformer as a user encoder: Fastformer layers over the history, then additive attention."""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import Tensor

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import UserBatch
from lego_text.additive_attention import AdditiveAttention
from lego_text.fastformer_layer import FastformerEncoder
from lego_text.masking import positions_from_end
from lego_text.multihead_attention import check_heads


@attrs.define(kw_only=True, frozen=True)
class HistoryFastformerConfig:
    num_layers: int = attrs.field(default=1, validator=v.gt(0), metadata={"doc": "Fastformer layers."})
    num_heads: int = attrs.field(default=8, validator=v.gt(0), metadata={"doc": "Heads; must divide hidden_size."})
    feedforward_size: int | None = attrs.field(
        default=None,
        validator=v.optional(v.gt(0)),
        metadata={
            "doc": "Width of the feed-forward blocks; unset means 4 x hidden_size (BERT's ratio). The feed-forward "
            "blocks dominate the cost: a smaller width trains much faster."
        },
    )
    dropout: float = attrs.field(
        default=0.2, validator=[v.ge(0.0), v.lt(1.0)], metadata={"doc": "Dropout on the inputs and inside the layers."}
    )
    attention_dim: int = attrs.field(
        default=200, validator=v.gt(0), metadata={"doc": "Size of the pooling attention's query."}
    )


class HistoryFastformerOperator(BehaviorOperator):
    """Fastformer layers over the clicked items (learned positions), additive attention pooling.

    Paper: Wu et al., "Fastformer: Additive Attention Can Be All You Need",
    2021, https://arxiv.org/abs/2108.09084 (Fastformer-NR's user encoder).

    Positions count back from the most recent item; padded items take no part
    in the global query and key nor in the pooling; an empty history gives zeros.

    Args:
        options: :class:`HistoryFastformerConfig`.
        context: the model context (``hidden_size``, ``max_history``).

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context
        >>> op = HistoryFastformerOperator(options=HistoryFastformerConfig(num_heads=4), context=make_context())
        >>> op(torch.randn(2, 3, 16), torch.tensor([[False, True, True], [True] * 3]), None).shape
        torch.Size([2, 16])
    """

    name = "fastformer"
    paper = "Wu et al., Fastformer: Additive Attention Can Be All You Need, 2021. https://arxiv.org/abs/2108.09084"
    Options = HistoryFastformerConfig

    def __init__(self, *, options: HistoryFastformerConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: HistoryFastformerConfig = self.options
        hidden = context.hidden_size
        check_heads(hidden, opts.num_heads, f"behavior operator {self.name!r}")
        self.encoder = FastformerEncoder(
            hidden,
            hidden,
            num_heads=opts.num_heads,
            num_layers=opts.num_layers,
            feedforward_size=opts.feedforward_size or 4 * hidden,
            max_positions=context.max_history,
            dropout=opts.dropout,
        )
        self.pooling = AdditiveAttention(hidden, opts.attention_dim)

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Tensor:
        h = self.encoder(history, mask, positions_from_end(mask))  # (B, H, D)
        return self.pooling(h, mask)  # (B, D)
