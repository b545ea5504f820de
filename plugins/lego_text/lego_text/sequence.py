"""Keep the history as a sequence, for predictors that attend over it themselves (DIN)."""

from __future__ import annotations

import attrs
from torch import Tensor, nn

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import UserBatch
from lego_text.masking import positions_from_end


@attrs.define(kw_only=True, frozen=True)
class SequenceConfig:
    position_embedding: bool = attrs.field(
        default=False,
        metadata={
            "doc": "Add a learned position embedding (counted back from the most recent item) to each history vector."
        },
    )


class SequenceOperator(BehaviorOperator):
    """Return the history ``(B, H, D)`` and its mask unchanged (optionally with positions added).

    Paper: Zhou et al., "Deep Interest Network for Click-Through Rate
    Prediction", KDD 2018, https://arxiv.org/abs/1706.06978 (its predictor
    attends over the raw behavior sequence, which this operator hands over).

    Args:
        options: :class:`SequenceConfig`.
        context: the model context (``hidden_size``, ``max_history``).

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context
        >>> history, mask = torch.randn(2, 3, 16), torch.tensor([[False, True, True], [True] * 3])
        >>> out, out_mask = SequenceOperator(context=make_context())(history, mask, None)
        >>> bool(torch.equal(out, history)), bool(torch.equal(out_mask, mask))
        (True, True)
    """

    name = "sequence"
    paper = "Zhou et al., Deep Interest Network for Click-Through Rate Prediction, KDD 2018. https://arxiv.org/abs/1706.06978"
    Options = SequenceConfig
    output = "sequence"

    def __init__(self, *, options: SequenceConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        self.positions = (
            nn.Embedding(context.max_history, context.hidden_size) if self.options.position_embedding else None
        )
        if self.positions is not None:
            nn.init.normal_(self.positions.weight, std=0.02)

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> tuple[Tensor, Tensor]:
        if self.positions is None:
            return history, mask
        if history.shape[1] > self.positions.num_embeddings:
            raise ValueError(
                f"behavior operator 'sequence': history of {history.shape[1]} items, but the position "
                f"table holds max_history = {self.positions.num_embeddings}"
            )
        return history + self.positions(positions_from_end(mask)), mask  # (B, H, D)
