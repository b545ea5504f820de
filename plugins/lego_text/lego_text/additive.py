"""NAML's user encoder: additive attention over the clicked items."""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import Tensor

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import UserBatch
from lego_text.additive_attention import AdditiveAttention


@attrs.define(kw_only=True, frozen=True)
class AdditiveConfig:
    attention_dim: int = attrs.field(
        default=200, validator=v.gt(0), metadata={"doc": "Size of the additive attention's query (NAML: 200)."}
    )


class AdditiveOperator(BehaviorOperator):
    """User vector = additive-attention-weighted sum of the history's item vectors.

    Paper: Wu et al., "Neural News Recommendation with Attentive Multi-View
    Learning", IJCAI 2019, https://www.ijcai.org/proceedings/2019/536.

    Padded history positions get exactly zero weight; an empty history gives a
    zero user vector.

    Args:
        options: :class:`AdditiveConfig`.
        context: the model context (``hidden_size``).

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context
        >>> op = AdditiveOperator(context=make_context(hidden_size=16))
        >>> mask = torch.tensor([[False, True, True], [False, False, False]])
        >>> user = op(torch.randn(2, 3, 16), mask, None)
        >>> user.shape, user[1].abs().sum().item()
        (torch.Size([2, 16]), 0.0)
    """

    name = "additive"
    paper = "Wu et al., Neural News Recommendation with Attentive Multi-View Learning, IJCAI 2019. https://www.ijcai.org/proceedings/2019/536"
    Options = AdditiveConfig

    def __init__(self, *, options: AdditiveConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        self.attention = AdditiveAttention(context.hidden_size, self.options.attention_dim)

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Tensor:
        return self.attention(history, mask)  # (B, D)
