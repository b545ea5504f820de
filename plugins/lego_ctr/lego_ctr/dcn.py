"""DCN: the deep & cross network.

Wang et al., "Deep & Cross Network for Ad Click Predictions", ADKDD 2017,
https://arxiv.org/abs/1708.05123.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option


class CrossNet(nn.Module):
    """``x_{l+1} = x_0 * (x_l . w_l) + b_l + x_l`` (the paper's Eq. 3): one weight and one bias vector per layer.

    Each layer adds a degree of feature crossing with ``2 d`` parameters.

    Args:
        dim: size ``d`` of the input ``x_0``.
        num_layers: number of cross layers.

    Example:
        >>> net = CrossNet(6, num_layers=2)
        >>> net(torch.randn(4, 6)).shape
        torch.Size([4, 6])
    """

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__()
        self.weights = nn.ModuleList(nn.Linear(dim, 1, bias=False) for _ in range(num_layers))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(dim)) for _ in range(num_layers))

    def forward(self, x0: Tensor) -> Tensor:
        """``(N, d)`` -> ``(N, d)``."""
        x = x0
        for weight, bias in zip(self.weights, self.biases, strict=True):
            x = x0 * weight(x) + bias + x  # (N, d): x0 scaled by the scalar x_l . w_l
        return x


@attrs.define(kw_only=True, frozen=True)
class DCNConfig:
    field_dim: int | None = field_dim_option()
    num_cross_layers: int = attrs.field(
        default=3, validator=[v.instance_of(int), v.ge(1)], metadata={"doc": "Number of cross layers."}
    )
    hidden_units: list[int] = hidden_units_option(
        [400, 400, 400], "Sizes of the hidden layers of the deep network (an empty list: cross network only)."
    )
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class DCNPredictor(Predictor):
    """``logit = w . [x_L; h] + b``: a cross network and a deep network side by side on ``x_0``.

    ``x_0 = [e_1; ...; e_F]`` is the concatenation of the field embeddings. The
    cross network (:class:`CrossNet`) builds explicit bounded-degree crosses; the
    deep network ``h = MLP(x_0)`` the implicit ones; the combination layer is one
    Linear on their concatenation (the paper's Eq. 5).

    Args:
        options: :class:`DCNConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = DCNPredictor(options=DCNConfig(hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "dcn"
    paper = "Wang et al., ADKDD 2017. https://arxiv.org/abs/1708.05123"
    Options = DCNConfig

    def __init__(self, *, options: DCNConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: DCNConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        dim = self.embedding.num_fields * self.embedding.field_dim
        self.cross = CrossNet(dim, opts.num_cross_layers)
        self.deep = (
            MLP(dim, opts.hidden_units, activation=opts.activation, dropout=opts.dropout, batch_norm=opts.batch_norm)
            if opts.hidden_units
            else None
        )
        self.output = nn.Linear(dim + (self.deep.output_dim if self.deep is not None else 0), 1)

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k = x.shape[:2]
        x0 = x.reshape(b * k, -1)  # (N, F*E)
        parts = [self.cross(x0)] + ([self.deep(x0)] if self.deep is not None else [])
        return self.output(torch.cat(parts, dim=-1)).view(b, k)  # (B, K)
