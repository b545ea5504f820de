"""BST's behavior sequence transformer: encoder layers over the history, pooled to a user vector."""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import Tensor

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import UserBatch
from lego_text.additive_attention import AdditiveAttention
from lego_text.masking import masked_mean, positions_from_end
from lego_text.multihead_attention import check_heads
from lego_text.transformer_stack import TransformerStack


@attrs.define(kw_only=True, frozen=True)
class HistoryTransformerConfig:
    num_layers: int = attrs.field(
        default=1, validator=v.gt(0), metadata={"doc": "Transformer encoder layers (BST: 1 worked best)."}
    )
    num_heads: int = attrs.field(
        default=8, validator=v.gt(0), metadata={"doc": "Attention heads; must divide hidden_size (BST: 8)."}
    )
    feedforward_size: int | None = attrs.field(
        default=None,
        validator=v.optional(v.gt(0)),
        metadata={"doc": "Width of the feed-forward blocks; unset means 4 x hidden_size."},
    )
    dropout: float = attrs.field(
        default=0.1, validator=[v.ge(0.0), v.lt(1.0)], metadata={"doc": "Dropout on the inputs and inside the layers."}
    )
    pooling: str = attrs.field(
        default="mean",
        validator=v.in_(["mean", "attention"]),
        metadata={
            "doc": 'How the outputs become one vector: "mean" (masked mean) or "attention" (additive attention).'
        },
    )
    attention_dim: int = attrs.field(
        default=200,
        validator=v.gt(0),
        metadata={"doc": 'Size of the additive attention\'s query (pooling = "attention" only).'},
    )


class HistoryTransformerOperator(BehaviorOperator):
    """Transformer encoder over the clicked items with learned positions, then masked pooling.

    Paper: Chen et al., "Behavior Sequence Transformer for E-commerce
    Recommendation in Alibaba", DLP-KDD 2019, https://arxiv.org/abs/1905.06874.

    Positions count back from the most recent item (position 0), so an item's
    position does not depend on how long the history is; the table holds
    ``max_history`` positions. BST feeds the target item into the sequence and
    an MLP; here the user side is encoded on its own (so it can be cached) and
    pooled by masked mean or additive attention. An empty history gives zeros.

    Args:
        options: :class:`HistoryTransformerConfig`.
        context: the model context (``hidden_size``, ``max_history``).

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context
        >>> op = HistoryTransformerOperator(options=HistoryTransformerConfig(num_heads=2), context=make_context())
        >>> op(torch.randn(2, 3, 16), torch.tensor([[False, True, True], [False] * 3]), None).shape
        torch.Size([2, 16])
    """

    name = "transformer"
    paper = "Chen et al., Behavior Sequence Transformer for E-commerce Recommendation in Alibaba, DLP-KDD 2019. https://arxiv.org/abs/1905.06874"
    Options = HistoryTransformerConfig

    def __init__(self, *, options: HistoryTransformerConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: HistoryTransformerConfig = self.options
        hidden = context.hidden_size
        check_heads(hidden, opts.num_heads, f"behavior operator {self.name!r}")
        self.stack = TransformerStack(
            hidden,
            hidden,
            num_heads=opts.num_heads,
            num_layers=opts.num_layers,
            feedforward_size=opts.feedforward_size or 4 * hidden,
            max_positions=context.max_history,
            dropout=opts.dropout,
        )
        self.pooling = AdditiveAttention(hidden, opts.attention_dim) if opts.pooling == "attention" else None

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Tensor:
        h = self.stack(history, mask, positions_from_end(mask))  # (B, H, D)
        if self.pooling is None:
            return masked_mean(h, mask, dim=1)  # (B, D)
        return self.pooling(h, mask)  # (B, D)
