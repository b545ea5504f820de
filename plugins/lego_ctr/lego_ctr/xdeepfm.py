"""xDeepFM: a compressed interaction network, a DNN and a linear part.

Lian et al., "xDeepFM: Combining Explicit and Implicit Feature Interactions for
Recommender Systems", KDD 2018, https://arxiv.org/abs/1803.05170.
"""

from __future__ import annotations

import math

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.linear import FieldLinear
from lego_ctr.mlp import (
    MLP,
    activation_option,
    batch_norm_option,
    dropout_option,
    hidden_units_option,
    positive_ints,
)


class CIN(nn.Module):
    """Compressed interaction network: vector-wise interactions of bounded degree.

    ``X^k_{h,*} = sum_{i=1}^{H_{k-1}} sum_{j=1}^{m} W^{k,h}_{ij} (X^{k-1}_{i,*} * X^0_{j,*})``
    (the paper's Eq. 6, no activation), for ``m`` fields and ``H_k`` feature maps in
    layer ``k``; each layer is sum-pooled over the embedding dimension
    (``p^k_h = sum_e X^k_{h,e}``) and the pooled vectors of all layers are
    concatenated. Every feature map of every layer also feeds the next layer
    (no "split half").

    Args:
        num_fields: ``m``.
        layer_units: ``H_1, ..., H_T``.

    Example:
        >>> cin = CIN(num_fields=4, layer_units=[5, 3])
        >>> cin(torch.randn(2, 4, 8)).shape  # 5 + 3 pooled feature maps
        torch.Size([2, 8])
    """

    def __init__(self, num_fields: int, layer_units: list[int]) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        previous = num_fields
        for units in layer_units:
            weight = nn.Parameter(torch.empty(units, previous, num_fields))  # W^k: (H_k, H_{k-1}, m)
            bound = 1.0 / math.sqrt(previous * num_fields)
            nn.init.uniform_(weight, -bound, bound)
            self.weights.append(weight)
            previous = units
        self.output_dim = sum(layer_units)

    def layers(self, x0: Tensor) -> list[Tensor]:
        """The feature maps ``X^1, ..., X^T`` of ``x0`` ``(N, m, E)``, each ``(N, H_k, E)``."""
        out, x = [], x0
        n, m, e = x0.shape
        for weight in self.weights:
            z = (x.unsqueeze(2) * x0.unsqueeze(1)).reshape(n, -1, e)  # (N, H_{k-1} * m, E): X^{k-1}_i * X^0_j
            x = torch.matmul(weight.reshape(weight.shape[0], -1), z)  # (N, H_k, E)
            out.append(x)
        return out

    def forward(self, x0: Tensor) -> Tensor:
        """``(N, m, E)`` -> ``(N, sum_k H_k)``."""
        return torch.cat([x.sum(dim=-1) for x in self.layers(x0)], dim=-1)


@attrs.define(kw_only=True, frozen=True)
class XDeepFMConfig:
    field_dim: int | None = field_dim_option()
    cin_units: list[int] = attrs.field(
        factory=lambda: [64, 64, 64],
        validator=[positive_ints, v.min_len(1)],
        metadata={
            "doc": "Feature maps H_k of each CIN layer (its length is the highest interaction degree minus one)."
        },
    )
    hidden_units: list[int] = hidden_units_option(
        [400, 400, 400], "Sizes of the hidden layers of the DNN part (an empty list: no DNN part)."
    )
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class XDeepFMPredictor(Predictor):
    """``logit = linear(x) + w_cin . p^+ + DNN([e_1; ...; e_F])`` (the paper's Eq. 12).

    The CIN (:class:`CIN`) learns explicit vector-wise interactions of the field
    embeddings, the DNN implicit bit-wise ones, and the linear part is the
    first-order term of the raw fields (:class:`~lego_ctr.linear.FieldLinear`).

    Args:
        options: :class:`XDeepFMConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = XDeepFMPredictor(options=XDeepFMConfig(cin_units=[4, 4], hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "xdeepfm"
    paper = "Lian et al., KDD 2018. https://arxiv.org/abs/1803.05170"
    Options = XDeepFMConfig

    def __init__(self, *, options: XDeepFMConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: XDeepFMConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        f, e = self.embedding.num_fields, self.embedding.field_dim
        self.linear = FieldLinear(context)
        self.cin = CIN(f, opts.cin_units)
        self.cin_output = nn.Linear(self.cin.output_dim, 1)
        self.deep = (
            MLP(
                f * e,
                opts.hidden_units,
                activation=opts.activation,
                dropout=opts.dropout,
                batch_norm=opts.batch_norm,
                output_dim=1,
            )
            if opts.hidden_units
            else None
        )

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k, f, e = x.shape
        flat = x.reshape(b * k, f, e)  # (N, F, E)
        logit = self.linear(user, candidates, fields) + self.cin_output(self.cin(flat)).view(b, k)  # (B, K)
        if self.deep is not None:
            logit = logit + self.deep(flat.reshape(b * k, f * e)).view(b, k)
        return logit
