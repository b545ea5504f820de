"""DCNv2 (DCN-M): the improved deep & cross network, with a full-rank, low-rank or mixture cross layer.

Wang et al., "DCN V2: Improved Deep & Cross Network and Practical Lessons for
Web-scale Learning to Rank Systems", WWW 2021, https://arxiv.org/abs/2008.13535.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.cross_deep import STRUCTURES, attach_deep_and_output, cross_and_deep
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.mlp import activation_option, batch_norm_option, dropout_option, hidden_units_option


class CrossNetV2(nn.Module):
    """``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` (the paper's Eq. 1), with ``W_l = U_l V_l^T`` when ``low_rank`` is set.

    Args:
        dim: size ``d`` of ``x_0``.
        num_layers: number of cross layers.
        low_rank: rank ``r`` of ``W_l`` (None: full rank, a ``d x d`` matrix).

    Example:
        >>> CrossNetV2(6, num_layers=2, low_rank=2)(torch.randn(4, 6)).shape
        torch.Size([4, 6])
    """

    def __init__(self, dim: int, num_layers: int, low_rank: int | None = None) -> None:
        super().__init__()
        if low_rank is None:
            self.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_layers))
        else:  # W x + b = U (V^T x) + b
            self.layers = nn.ModuleList(
                nn.Sequential(nn.Linear(dim, low_rank, bias=False), nn.Linear(low_rank, dim)) for _ in range(num_layers)
            )

    def forward(self, x0: Tensor) -> Tensor:
        """``(N, d)`` -> ``(N, d)``."""
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x  # (N, d)
        return x


class CrossNetMix(nn.Module):
    """The mixture of low-rank experts (the paper's Eq. 3, "DCN-Mix").

    ``x_{l+1} = sum_i G_i(x_l) E_i(x_l) + x_l`` with experts
    ``E_i(x_l) = x_0 * (U_i g(C_i g(V_i^T x_l)) + b_l)``, ``g = tanh``, and gates
    ``G = softmax_i(w_i . x_l)`` over the experts.

    Args:
        dim: size ``d`` of ``x_0``.
        num_layers: number of cross layers.
        low_rank: rank ``r`` of each expert.
        num_experts: number of experts per layer.

    Example:
        >>> CrossNetMix(6, num_layers=2, low_rank=2, num_experts=3)(torch.randn(4, 6)).shape
        torch.Size([4, 6])
    """

    def __init__(self, dim: int, num_layers: int, low_rank: int, num_experts: int) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.empty(num_layers, num_experts, dim, low_rank))
        self.c = nn.Parameter(torch.empty(num_layers, num_experts, low_rank, low_rank))
        self.u = nn.Parameter(torch.empty(num_layers, num_experts, low_rank, dim))
        self.bias = nn.Parameter(torch.zeros(num_layers, dim))
        self.gates = nn.Parameter(torch.empty(num_layers, dim, num_experts))
        for weight in (self.v, self.c, self.u, self.gates):
            for matrix in weight.view(-1, *weight.shape[-2:]):
                nn.init.xavier_normal_(matrix)

    def forward(self, x0: Tensor) -> Tensor:
        """``(N, d)`` -> ``(N, d)``."""
        x = x0
        for layer in range(self.v.shape[0]):
            low = torch.tanh(torch.einsum("nd,edr->ner", x, self.v[layer]))  # (N, experts, r)
            low = torch.tanh(torch.einsum("ner,ers->nes", low, self.c[layer]))  # (N, experts, r)
            experts = x0.unsqueeze(1) * (
                torch.einsum("ner,erd->ned", low, self.u[layer]) + self.bias[layer]
            )  # (N, experts, d)
            gate = torch.softmax(x @ self.gates[layer], dim=-1)  # (N, experts)
            x = (gate.unsqueeze(-1) * experts).sum(dim=1) + x  # (N, d)
        return x


@attrs.define(kw_only=True, frozen=True)
class DCNv2Config:
    field_dim: int | None = field_dim_option()
    structure: str = attrs.field(
        default="parallel",
        validator=v.in_(STRUCTURES),
        metadata={
            "doc": '"parallel": cross and deep networks side by side on x_0, outputs concatenated; "stacked": '
            "the deep network on top of the cross network."
        },
    )
    num_cross_layers: int = attrs.field(
        default=3, validator=[v.instance_of(int), v.ge(1)], metadata={"doc": "Number of cross layers."}
    )
    low_rank: int | None = attrs.field(
        default=None,
        validator=v.optional([v.instance_of(int), v.gt(0)]),
        metadata={"doc": "Rank r of the cross layers' weight matrices W = U V^T (unset: full rank)."},
    )
    num_experts: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={
            "doc": "Low-rank experts per cross layer; more than one gives the mixture (DCN-Mix) and needs low_rank."
        },
    )
    hidden_units: list[int] = hidden_units_option(
        [400, 400, 400], "Sizes of the hidden layers of the deep network (an empty list: cross network only)."
    )
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()

    def __attrs_post_init__(self) -> None:
        if self.num_experts > 1 and self.low_rank is None:
            raise ValueError(
                f"num_experts = {self.num_experts} needs low_rank (the rank of each expert), "
                "e.g. low_rank = 32; or set num_experts = 1 for a single full-rank cross layer"
            )


class DCNv2Predictor(Predictor):
    """``logit = w . out + b`` over a cross network with matrix weights and a deep network.

    ``x_0 = [e_1; ...; e_F]``. Each cross layer computes
    ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` (:class:`CrossNetV2`); ``low_rank``
    factorises ``W_l = U_l V_l^T``, and ``num_experts > 1`` replaces it by a gated
    mixture of low-rank experts (:class:`CrossNetMix`). ``structure = "stacked"``
    feeds the cross output to the MLP, ``"parallel"`` concatenates both outputs
    (the paper's Fig. 1).

    Args:
        options: :class:`DCNv2Config`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> options = DCNv2Config(structure="stacked", low_rank=4, num_experts=2, hidden_units=[32])
        >>> model = DCNv2Predictor(options=options, context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "dcnv2"
    paper = "Wang et al., WWW 2021. https://arxiv.org/abs/2008.13535"
    Options = DCNv2Config

    def __init__(self, *, options: DCNv2Config | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: DCNv2Config = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        dim = self.embedding.num_fields * self.embedding.field_dim
        if opts.num_experts > 1:
            assert opts.low_rank is not None  # checked by DCNv2Config
            self.cross: nn.Module = CrossNetMix(dim, opts.num_cross_layers, opts.low_rank, opts.num_experts)
        else:
            self.cross = CrossNetV2(dim, opts.num_cross_layers, opts.low_rank)
        attach_deep_and_output(self, dim, opts)

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k = x.shape[:2]
        x0 = x.reshape(b * k, -1)  # (N, F*E)
        return cross_and_deep(self, x0, self.options.structure).view(b, k)  # (B, K)
