"""FiBiNET: SENET field importance and bilinear feature interactions.

Huang et al., "FiBiNET: Combining Feature Importance and Bilinear feature
Interaction for Click-Through Rate Prediction", RecSys 2019,
https://arxiv.org/abs/1905.09433.
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
from lego_ctr.fields import FieldEmbedding, field_dim_option, pair_indices
from lego_ctr.linear import FieldLinear
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option

BILINEAR_TYPES = ("field_all", "field_each", "field_interaction")


class SENet(nn.Module):
    """Squeeze-and-excitation over fields: ``V = A * E`` with ``A = ReLU(W_2 ReLU(W_1 Z))``.

    Squeeze: ``z_i = mean_e E_{i,e}`` (the paper's mean pooling, Eq. 1);
    excitation: two bias-free layers ``F -> max(1, F // r) -> F`` (Eq. 2);
    re-weight: each field embedding scaled by its weight ``a_i`` (Eq. 3).

    Args:
        num_fields: ``F``.
        reduction_ratio: ``r``.

    Example:
        >>> se = SENet(num_fields=4, reduction_ratio=2)
        >>> se(torch.randn(3, 4, 8)).shape, se.weights(torch.randn(3, 4, 8)).shape
        (torch.Size([3, 4, 8]), torch.Size([3, 4]))
    """

    def __init__(self, num_fields: int, reduction_ratio: int) -> None:
        super().__init__()
        reduced = max(1, num_fields // reduction_ratio)
        self.squeeze_to = nn.Linear(num_fields, reduced, bias=False)  # W_1
        self.excite = nn.Linear(reduced, num_fields, bias=False)  # W_2

    def weights(self, x: Tensor) -> Tensor:
        """Field weights ``A`` of ``x`` ``(N, F, E)``: ``(N, F)``."""
        z = x.mean(dim=-1)  # (N, F)
        return torch.relu(self.excite(torch.relu(self.squeeze_to(z))))

    def forward(self, x: Tensor) -> Tensor:
        """``(N, F, E)`` -> ``(N, F, E)``."""
        return x * self.weights(x).unsqueeze(-1)


class Bilinear(nn.Module):
    """``p_ij = (v_i . W) * v_j`` for every field pair ``i < j`` (the paper's Eq. 4-6).

    ``field_all`` shares one ``W`` across pairs, ``field_each`` has one ``W_i``
    per field ``i``, ``field_interaction`` one ``W_ij`` per pair.

    Args:
        num_fields: ``F``.
        dim: embedding size ``E``.
        kind: one of ``field_all``, ``field_each``, ``field_interaction``.

    Example:
        >>> Bilinear(4, 8, "field_each")(torch.randn(3, 4, 8)).shape  # 6 pairs
        torch.Size([3, 6, 8])
    """

    def __init__(self, num_fields: int, dim: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        count = {"field_all": 1, "field_each": num_fields, "field_interaction": num_fields * (num_fields - 1) // 2}[
            kind
        ]
        self.weight = nn.Parameter(torch.empty(count, dim, dim))
        bound = 1.0 / math.sqrt(dim)
        nn.init.uniform_(self.weight, -bound, bound)
        rows, cols = pair_indices(num_fields)
        self.rows: Tensor
        self.cols: Tensor
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, F, E)`` -> ``(N, F (F - 1) / 2, E)``."""
        left, right = x[:, self.rows], x[:, self.cols]  # (N, P, E) each
        if self.kind == "field_all":
            projected = left @ self.weight[0]  # (N, P, E)
        elif self.kind == "field_each":
            projected = torch.einsum("nfe,fed->nfd", x, self.weight)[:, self.rows]  # (N, P, E): v_i W_i
        else:
            projected = torch.einsum("npe,ped->npd", left, self.weight)  # (N, P, E): v_i W_ij
        return projected * right


@attrs.define(kw_only=True, frozen=True)
class FiBiNETConfig:
    field_dim: int | None = field_dim_option()
    reduction_ratio: int = attrs.field(
        default=3,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "SENET reduction ratio r: the excitation's hidden layer has max(1, F // r) units."},
    )
    bilinear_type: str = attrs.field(
        default="field_interaction",
        validator=v.in_(BILINEAR_TYPES),
        metadata={
            "doc": "Bilinear weights: field_all (one W), field_each (one W per field), field_interaction (one W per "
            "pair)."
        },
    )
    hidden_units: list[int] = hidden_units_option([400, 400, 400])
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class FiBiNETPredictor(Predictor):
    """``logit = linear(x) + MLP([p; q])`` (the paper's Eq. 9, shallow part included).

    The field embeddings ``E`` are re-weighted by a SENET (:class:`SENet`) into
    ``V``; a bilinear interaction (:class:`Bilinear`) of ``E`` gives ``p`` and a
    second one (its own weights) of ``V`` gives ``q``; both are concatenated
    into the MLP. The linear part is the first-order term of the raw fields.

    Args:
        options: :class:`FiBiNETConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = FiBiNETPredictor(options=FiBiNETConfig(hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "fibinet"
    paper = "Huang et al., RecSys 2019. https://arxiv.org/abs/1905.09433"
    Options = FiBiNETConfig

    def __init__(self, *, options: FiBiNETConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: FiBiNETConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        f, e = self.embedding.num_fields, self.embedding.field_dim
        self.linear = FieldLinear(context)
        self.senet = SENet(f, opts.reduction_ratio)
        self.bilinear = Bilinear(f, e, opts.bilinear_type)
        self.senet_bilinear = Bilinear(f, e, opts.bilinear_type)
        self.deep = MLP(
            f * (f - 1) * e,
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
        p = self.bilinear(flat)  # (N, P, E)
        q = self.senet_bilinear(self.senet(flat))  # (N, P, E)
        deep = self.deep(torch.cat([p, q], dim=1).reshape(b * k, -1)).view(b, k)  # (B, K)
        return self.linear(user, candidates, fields) + deep
