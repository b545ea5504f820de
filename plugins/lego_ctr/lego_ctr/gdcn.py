"""GDCN: the gated deep cross network.

Wang et al., "Towards Deeper, Lighter and Interpretable Cross Network for CTR
Prediction", CIKM 2023, https://arxiv.org/abs/2311.04635.
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


class GatedCrossNet(nn.Module):
    """``c_{l+1} = c_0 * (W_c c_l + b_c) * sigmoid(W_g c_l) + c_l`` (the paper's Eq. 1).

    The information gate ``sigmoid(W_g c_l)`` weighs each crossed feature, so deep
    stacks stay stable and the gate values show which crosses matter.

    Args:
        dim: size ``d`` of ``c_0``.
        num_layers: number of gated cross layers.

    Example:
        >>> GatedCrossNet(6, num_layers=2)(torch.randn(4, 6)).shape
        torch.Size([4, 6])
    """

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__()
        self.crosses = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_layers))  # W_c, b_c
        self.gates = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(num_layers))  # W_g

    def gate(self, layer: int, c: Tensor) -> Tensor:
        """The information gate ``sigmoid(W_g c_l)`` of cross layer ``layer``: ``(N, d)`` -> ``(N, d)``."""
        return torch.sigmoid(self.gates[layer](c))

    def forward(self, c0: Tensor) -> Tensor:
        """``(N, d)`` -> ``(N, d)``."""
        c = c0
        for layer, cross in enumerate(self.crosses):
            c = c0 * cross(c) * self.gate(layer, c) + c  # (N, d)
        return c


@attrs.define(kw_only=True, frozen=True)
class GDCNConfig:
    field_dim: int | None = field_dim_option()
    structure: str = attrs.field(
        default="parallel",
        validator=v.in_(STRUCTURES),
        metadata={
            "doc": '"parallel" (GDCN-P): gated cross and deep networks side by side, outputs concatenated; '
            '"stacked" (GDCN-S): the deep network on top of the gated cross network.'
        },
    )
    num_cross_layers: int = attrs.field(
        default=3, validator=[v.instance_of(int), v.ge(1)], metadata={"doc": "Number of gated cross layers."}
    )
    hidden_units: list[int] = hidden_units_option(
        [400, 400, 400], "Sizes of the hidden layers of the deep network (an empty list: cross network only)."
    )
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class GDCNPredictor(Predictor):
    """``logit = w . out + b`` over a gated cross network (:class:`GatedCrossNet`) and a deep network.

    ``c_0 = [e_1; ...; e_F]``. ``structure = "stacked"`` is GDCN-S (the MLP on the
    cross output), ``"parallel"`` GDCN-P (both outputs concatenated), as in the
    paper's Fig. 2. The paper's field-level dimension optimisation (a different
    embedding size per field) is not done: every field has ``field_dim``.

    Args:
        options: :class:`GDCNConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = GDCNPredictor(options=GDCNConfig(hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "gdcn"
    paper = "Wang et al., CIKM 2023. https://arxiv.org/abs/2311.04635"
    Options = GDCNConfig

    def __init__(self, *, options: GDCNConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: GDCNConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        dim = self.embedding.num_fields * self.embedding.field_dim
        self.cross = GatedCrossNet(dim, opts.num_cross_layers)
        attach_deep_and_output(self, dim, opts)

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k = x.shape[:2]
        c0 = x.reshape(b * k, -1)  # (N, F*E)
        return cross_and_deep(self, c0, self.options.structure).view(b, k)  # (B, K)
