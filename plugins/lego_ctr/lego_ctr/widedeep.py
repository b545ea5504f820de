"""Wide&Deep: a linear model over the raw fields plus an MLP over their embeddings.

Cheng et al., "Wide & Deep Learning for Recommender Systems", DLRS 2016,
https://arxiv.org/abs/1606.07792.
"""

from __future__ import annotations

import attrs
from torch import Tensor

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.linear import FieldLinear
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option


@attrs.define(kw_only=True, frozen=True)
class WideDeepConfig:
    field_dim: int | None = field_dim_option()
    hidden_units: list[int] = hidden_units_option([400, 400, 400])
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class WideDeepPredictor(Predictor):
    """``logit = wide(x) + deep([e_1; ...; e_F])`` (the paper's Eq. 3, trained jointly).

    The wide part is the first-order term of the raw fields (a bias, a weight
    vector for the user and the candidate vectors, one weight per categorical id;
    see :class:`~lego_ctr.linear.FieldLinear`); the deep part an MLP over the
    concatenated field embeddings. The paper's hand-made cross-product features
    of the wide part are not built: the wide part sees the fields themselves.

    Args:
        options: :class:`WideDeepConfig`.
        context: the model context.

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = WideDeepPredictor(options=WideDeepConfig(hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "widedeep"
    paper = "Cheng et al., DLRS 2016. https://arxiv.org/abs/1606.07792"
    Options = WideDeepConfig

    def __init__(self, *, options: WideDeepConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: WideDeepConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        self.wide = FieldLinear(context)
        self.deep = MLP(
            self.embedding.num_fields * self.embedding.field_dim,
            opts.hidden_units,
            activation=opts.activation,
            dropout=opts.dropout,
            batch_norm=opts.batch_norm,
            output_dim=1,
        )

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k = x.shape[:2]
        deep = self.deep(x.reshape(b * k, -1)).view(b, k)  # (B, K)
        return self.wide(user, candidates, fields) + deep  # (B, K)
