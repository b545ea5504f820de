"""FinalMLP: two MLP streams with feature selection, fused by multi-head bilinear aggregation.

Mao et al., "FinalMLP: An Enhanced Two-Stream MLP Model for CTR Prediction",
AAAI 2023, https://arxiv.org/abs/2304.00902.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.errors import ConfigError
from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option

_names = v.deep_iterable(member_validator=v.instance_of(str), iterable_validator=v.instance_of(list))


class FeatureSelection(nn.Module):
    """Stream-specific gates ``x_i = 2 sigmoid(MLP_i(c_i)) * x`` (the paper's Eq. 4).

    ``c_i`` is the concatenation of the stream's context fields; with no context
    fields it is a learned vector (the same gate for every instance).

    Args:
        num_fields: ``F``.
        dim: embedding size ``E``.
        context_fields: indices of the fields conditioning the gate.
        hidden_units: hidden layers of the gate MLP (ReLU).
    """

    def __init__(self, num_fields: int, dim: int, context_fields: list[int], hidden_units: list[int]) -> None:
        super().__init__()
        self.context_fields = context_fields
        self.bias = nn.Parameter(torch.zeros(dim)) if not context_fields else None
        self.gate = MLP(dim * max(1, len(context_fields)), hidden_units, output_dim=num_fields * dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, F, E)`` -> gated and flattened ``(N, F * E)``."""
        n = x.shape[0]
        if self.bias is not None:
            context = self.bias.expand(n, -1)  # (N, E)
        else:
            context = x[:, self.context_fields].reshape(n, -1)  # (N, C * E)
        return 2 * torch.sigmoid(self.gate(context)) * x.reshape(n, -1)


class BilinearFusion(nn.Module):
    """``logit = b + w_1 . o_1 + w_2 . o_2 + sum_h o_1h^T W_3h o_2h`` (the paper's Eq. 5-6).

    The stream outputs are split into ``num_heads`` chunks; each chunk pair gets
    its own bilinear matrix.

    Args:
        dim1: size of ``o_1``.
        dim2: size of ``o_2``.
        num_heads: number of heads; must divide both sizes.

    Example:
        >>> BilinearFusion(6, 4, num_heads=2)(torch.randn(3, 6), torch.randn(3, 4)).shape
        torch.Size([3])
    """

    def __init__(self, dim1: int, dim2: int, num_heads: int) -> None:
        super().__init__()
        if dim1 % num_heads or dim2 % num_heads:
            raise ConfigError(
                f"predictor_options.num_heads = {num_heads} must divide the output sizes of both "
                f"streams ({dim1} and {dim2}); change num_heads or the last hidden units"
            )
        self.num_heads = num_heads
        self.w1 = nn.Linear(dim1, 1)
        self.w2 = nn.Linear(dim2, 1, bias=False)
        self.w3 = nn.Parameter(torch.empty(num_heads, dim1 // num_heads, dim2 // num_heads))
        for matrix in self.w3:
            nn.init.xavier_normal_(matrix)

    def forward(self, o1: Tensor, o2: Tensor) -> Tensor:
        """``(N, d1)``, ``(N, d2)`` -> ``(N,)``."""
        n = o1.shape[0]
        h1 = o1.view(n, self.num_heads, -1)  # (N, H, d1 / H)
        h2 = o2.view(n, self.num_heads, -1)  # (N, H, d2 / H)
        bilinear = torch.einsum("nhi,hij,nhj->n", h1, self.w3, h2)  # (N,)
        return self.w1(o1).squeeze(-1) + self.w2(o2).squeeze(-1) + bilinear


@attrs.define(kw_only=True, frozen=True)
class FinalMLPConfig:
    field_dim: int | None = field_dim_option()
    mlp1_hidden_units: list[int] = hidden_units_option([400, 400, 400], "Hidden layers of the first stream's MLP.")
    mlp2_hidden_units: list[int] = hidden_units_option([400, 400, 400], "Hidden layers of the second stream's MLP.")
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()
    use_feature_selection: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={
            "doc": "Gate each stream's input by its own feature selection (false: both streams see the plain fields)."
        },
    )
    fs_hidden_units: list[int] = hidden_units_option([64], "Hidden layers of each feature-selection gate MLP.")
    fs1_context: list[str] = attrs.field(
        factory=list,
        validator=_names,
        metadata={
            "doc": 'Fields conditioning the first stream\'s gate: "user", "item", "item.<attribute>", '
            '"user.<attribute>"; empty: a learned vector.'
        },
    )
    fs2_context: list[str] = attrs.field(
        factory=list,
        validator=_names,
        metadata={"doc": "Fields conditioning the second stream's gate (as fs1_context)."},
    )
    num_heads: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Heads of the bilinear fusion; must divide the last hidden size of both streams."},
    )


class FinalMLPPredictor(Predictor):
    """Two MLP streams over gated field embeddings, fused into one logit.

    Each stream ``i`` sees ``x_i = 2 sigmoid(MLP(c_i)) * [e_1; ...; e_F]``
    (:class:`FeatureSelection`) and runs its own MLP to ``o_i``; the two outputs
    are combined by :class:`BilinearFusion`, which models their interaction
    explicitly instead of summing or concatenating them.

    Args:
        options: :class:`FinalMLPConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> options = FinalMLPConfig(mlp1_hidden_units=[8], mlp2_hidden_units=[4], fs1_context=["user"], num_heads=2)
        >>> model = FinalMLPPredictor(options=options, context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "finalmlp"
    paper = "Mao et al., AAAI 2023. https://arxiv.org/abs/2304.00902"
    Options = FinalMLPConfig

    def __init__(self, *, options: FinalMLPConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: FinalMLPConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        f, e = self.embedding.num_fields, self.embedding.field_dim
        self.selection1 = self.selection2 = None
        if opts.use_feature_selection:
            self.selection1 = FeatureSelection(
                f, e, self._indices(opts.fs1_context, "fs1_context"), opts.fs_hidden_units
            )
            self.selection2 = FeatureSelection(
                f, e, self._indices(opts.fs2_context, "fs2_context"), opts.fs_hidden_units
            )
        mlp = dict(activation=opts.activation, dropout=opts.dropout, batch_norm=opts.batch_norm)
        self.mlp1 = MLP(f * e, opts.mlp1_hidden_units, **mlp)  # type: ignore[arg-type]
        self.mlp2 = MLP(f * e, opts.mlp2_hidden_units, **mlp)  # type: ignore[arg-type]
        self.fusion = BilinearFusion(self.mlp1.output_dim, self.mlp2.output_dim, opts.num_heads)

    def _indices(self, names: list[str], key: str) -> list[int]:
        known = self.embedding.names
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(
                f"predictor_options.{key} names {unknown}, which are not fields of this model; "
                f"the fields are {known} (item and user attributes come from model.item_fields "
                "and model.user_fields)"
            )
        return [known.index(n) for n in names]

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k, f, e = x.shape
        flat = x.reshape(b * k, f, e)  # (N, F, E)
        x1 = self.selection1(flat) if self.selection1 is not None else flat.reshape(b * k, -1)  # (N, F*E)
        x2 = self.selection2(flat) if self.selection2 is not None else flat.reshape(b * k, -1)  # (N, F*E)
        return self.fusion(self.mlp1(x1), self.mlp2(x2)).view(b, k)  # (B, K)
