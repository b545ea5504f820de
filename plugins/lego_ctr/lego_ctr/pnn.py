"""PNN: a product layer between the field embeddings and the MLP.

Qu et al., "Product-based Neural Networks for User Response Prediction",
ICDM 2016, https://arxiv.org/abs/1611.00144.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option, pair_indices
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option

PRODUCTS = ("inner", "outer")


def inner_products(x: Tensor) -> Tensor:
    """IPNN's product signals ``p_ij = <f_i, f_j>`` for the pairs ``i < j``: ``(N, F, E)`` -> ``(N, F (F - 1) / 2)``.

    Example:
        >>> import torch
        >>> inner_products(torch.tensor([[[1.0, 0.0], [2.0, 3.0], [1.0, 1.0]]]))
        tensor([[2., 1., 5.]])
    """
    rows, cols = pair_indices(x.shape[1])
    # every inner product at once, (N, F, F), then the pairs above the diagonal: no (N, P, E) temporaries
    return torch.bmm(x, x.transpose(1, 2))[:, rows, cols]  # (N, P)


def outer_product(x: Tensor) -> Tensor:
    """OPNN's product signal with the paper's superposition: ``p = f_sum f_sum^T``, ``f_sum = sum_i f_i``.

    ``(N, F, E)`` -> ``(N, E * E)`` (the ``E x E`` matrix, flattened row by row).

    Example:
        >>> import torch
        >>> outer_product(torch.tensor([[[1.0, 0.0], [1.0, 2.0]]]))  # f_sum = (2, 2)
        tensor([[4., 4., 4., 4.]])
    """
    total = x.sum(dim=1)  # (N, E)
    return (total.unsqueeze(2) * total.unsqueeze(1)).flatten(1)  # (N, E * E)


@attrs.define(kw_only=True, frozen=True)
class PNNConfig:
    field_dim: int | None = field_dim_option()
    product: str = attrs.field(
        default="inner",
        validator=v.in_(PRODUCTS),
        metadata={
            "doc": 'Product layer: "inner" (IPNN, one inner product per field pair) or "outer" (OPNN, the '
            "outer product of the summed field embeddings, E * E signals)."
        },
    )
    hidden_units: list[int] = hidden_units_option([400, 400, 400])
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class PNNPredictor(Predictor):
    """``logit = MLP([z; p])`` with linear signals ``z`` and product signals ``p``.

    ``z = [f_1; ...; f_F]`` are the field embeddings; ``p`` their products:
    IPNN takes ``<f_i, f_j>`` for every pair, OPNN the outer product
    ``f_sum f_sum^T`` of the summed embeddings (the paper's superposition,
    section 3.3, which keeps OPNN at ``O(E^2)`` instead of ``O(F^2 E^2)``). The
    paper's first hidden layer ``relu(W_z . z + W_p . p + b)`` is the MLP's first
    Linear on the concatenation.

    Args:
        options: :class:`PNNConfig`.
        context: the model context.

    Example:
        >>> import torch
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = PNNPredictor(options=PNNConfig(product="outer", hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "pnn"
    paper = "Qu et al., ICDM 2016. https://arxiv.org/abs/1611.00144"
    Options = PNNConfig

    def __init__(self, *, options: PNNConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: PNNConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        f, e = self.embedding.num_fields, self.embedding.field_dim
        num_products = f * (f - 1) // 2 if opts.product == "inner" else e * e
        self.deep = MLP(
            f * e + num_products,
            opts.hidden_units,
            activation=opts.activation,
            dropout=opts.dropout,
            batch_norm=opts.batch_norm,
            output_dim=1,
        )

    def products(self, x: Tensor) -> Tensor:
        """The product signals of ``x`` ``(N, F, E)``."""
        return inner_products(x) if self.options.product == "inner" else outer_product(x)

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k, f, e = x.shape
        flat = x.reshape(b * k, f, e)  # (N, F, E)
        signals = torch.cat([flat.reshape(b * k, f * e), self.products(flat)], dim=-1)  # (N, F*E + P)
        return self.deep(signals).view(b, k)  # (B, K)
