"""NRMS's user encoder: clicked items attend to each other, then additive attention."""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import Tensor

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.dropout import Dropout
from lego_core.model.inputs import UserBatch
from lego_text.additive_attention import AdditiveAttention
from lego_text.multihead_attention import MultiHeadSelfAttention, check_heads


@attrs.define(kw_only=True, frozen=True)
class HistoryAttentionConfig:
    num_heads: int = attrs.field(
        default=8, validator=v.gt(0), metadata={"doc": "Self-attention heads; must divide hidden_size (NRMS: 16)."}
    )
    attention_dim: int = attrs.field(
        default=200, validator=v.gt(0), metadata={"doc": "Size of the additive attention's query (NRMS: 200)."}
    )
    dropout: float = attrs.field(
        default=0.2, validator=[v.ge(0.0), v.lt(1.0)], metadata={"doc": "Dropout after the self-attention."}
    )


class HistoryAttentionOperator(BehaviorOperator):
    """Multi-head self-attention over the history, then additive attention to one user vector.

    Paper: Wu et al., "Neural News Recommendation with Multi-Head
    Self-Attention", EMNLP 2019, https://aclanthology.org/D19-1671/.

    Padded history items are excluded as keys and from the pooling; an empty
    history gives a zero user vector.

    Args:
        options: :class:`HistoryAttentionConfig`.
        context: the model context (``hidden_size``).

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context
        >>> op = HistoryAttentionOperator(options=HistoryAttentionConfig(num_heads=4), context=make_context())
        >>> op(torch.randn(2, 3, 16), torch.tensor([[False, True, True], [True] * 3]), None).shape
        torch.Size([2, 16])
    """

    name = "attention"
    paper = "Wu et al., Neural News Recommendation with Multi-Head Self-Attention, EMNLP 2019. https://aclanthology.org/D19-1671/"
    Options = HistoryAttentionConfig

    def __init__(self, *, options: HistoryAttentionConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: HistoryAttentionConfig = self.options
        hidden = context.hidden_size
        check_heads(hidden, opts.num_heads, f"behavior operator {self.name!r}")
        self.self_attention = MultiHeadSelfAttention(hidden, hidden, opts.num_heads)
        self.dropout = Dropout(opts.dropout)
        self.pooling = AdditiveAttention(hidden, opts.attention_dim)

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Tensor:
        h = self.dropout(self.self_attention(history, mask))  # (B, H, D)
        return self.pooling(h, mask)  # (B, D)
