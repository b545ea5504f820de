"""DNN: a multi-layer perceptron over the concatenated field embeddings.

Covington et al., "Deep Neural Networks for YouTube Recommendations", RecSys 2016,
https://dl.acm.org/doi/10.1145/2959100.2959190 (the plain embedding + MLP baseline
of every CTR benchmark).
"""

from __future__ import annotations

import attrs
from torch import Tensor

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option


@attrs.define(kw_only=True, frozen=True)
class DNNConfig:
    field_dim: int | None = field_dim_option()
    hidden_units: list[int] = hidden_units_option([400, 400, 400])
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class DNNPredictor(Predictor):
    """Embedding + MLP: ``logit = MLP([e_1; ...; e_F])``.

    Every field (user vector, candidate vector, categorical attributes) is embedded
    into ``E`` dimensions; their concatenation ``(F * E)`` goes through the MLP,
    whose last Linear gives one logit per candidate. There is no explicit
    feature interaction: the baseline the other predictors improve on.

    Args:
        options: :class:`DNNConfig`.
        context: the model context.

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = DNNPredictor(options=DNNConfig(hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "dnn"
    paper = "Covington et al., RecSys 2016. https://dl.acm.org/doi/10.1145/2959100.2959190"
    Options = DNNConfig

    def __init__(self, *, options: DNNConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: DNNConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
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
        return self.deep(x.reshape(b * k, -1)).view(b, k)  # (B, K)
