"""DeepFM: a factorization machine and an MLP sharing the field embeddings.

Guo et al., "DeepFM: A Factorization-Machine based Neural Network for CTR
Prediction", IJCAI 2017, https://arxiv.org/abs/1703.04247.
"""

from __future__ import annotations

import attrs
from torch import Tensor

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.fm import pairwise_interaction
from lego_ctr.linear import FieldLinear
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option


@attrs.define(kw_only=True, frozen=True)
class DeepFMConfig:
    field_dim: int | None = field_dim_option()
    hidden_units: list[int] = hidden_units_option([400, 400, 400])
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class DeepFMPredictor(Predictor):
    """``logit = y_FM + y_DNN`` (the paper's Eq. 1), both on the same field embeddings.

    ``y_FM`` is the factorization machine (first-order term plus the pairwise
    inner products of the field embeddings, see :class:`~lego_ctr.fm.FMPredictor`);
    ``y_DNN`` an MLP over the concatenated field embeddings. Sharing the
    embeddings lets low- and high-order interactions train together with no
    feature engineering.

    Args:
        options: :class:`DeepFMConfig`.
        context: the model context.

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = DeepFMPredictor(options=DeepFMConfig(hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "deepfm"
    paper = "Guo et al., IJCAI 2017. https://arxiv.org/abs/1703.04247"
    Options = DeepFMConfig

    def __init__(self, *, options: DeepFMConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: DeepFMConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        self.linear = FieldLinear(context)
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
        b, k, f, e = x.shape
        flat = x.reshape(b * k, f, e)  # (N, F, E)
        fm = self.linear(user, candidates, fields) + pairwise_interaction(flat).view(b, k)  # (B, K)
        deep = self.deep(flat.reshape(b * k, f * e)).view(b, k)  # (B, K)
        return fm + deep
