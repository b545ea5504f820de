"""MaskNet: feature-wise multiplication by instance-guided masks.

Wang et al., "MaskNet: Introducing Feature-Wise Multiplication to CTR Ranking
Models by Instance-Guided Mask", DLP-KDD 2021, https://arxiv.org/abs/2102.07619.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.dropout import Dropout
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option

MODES = ("serial", "parallel")


class FieldLayerNorm(nn.Module):
    """LN-EMB (the paper's Eq. 10): each field's embedding layer-normalised, with its own gain and bias.

    Args:
        num_fields: ``F``.
        dim: embedding size ``E``.

    Example:
        >>> FieldLayerNorm(3, 4)(torch.randn(2, 3, 4)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, num_fields: int, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_fields, dim))
        self.bias = nn.Parameter(torch.zeros(num_fields, dim))

    def forward(self, x: Tensor) -> Tensor:
        """``(..., F, E)`` -> ``(..., F, E)``."""
        return nn.functional.layer_norm(x, x.shape[-1:], eps=self.eps) * self.weight + self.bias


class MaskBlock(nn.Module):
    """``V_out = ReLU(LN(W_i (V_mask * V_hid)))`` with the instance-guided mask
    ``V_mask = W_d2 ReLU(W_d1 V_emb + b_d1) + b_d2`` (the paper's Eq. 4-6 and 9).

    Args:
        embedding_dim: size of ``V_emb`` (all field embeddings, flattened).
        hidden_dim: size of ``V_hid`` (the block's input) and of the mask.
        output_dim: size of ``V_out``.
        reduction_ratio: the mask's aggregation layer has ``max(1, round(hidden_dim * ratio))`` units.
        dropout: dropout on the output.

    Example:
        >>> block = MaskBlock(12, 12, 5, reduction_ratio=2.0)
        >>> block(torch.randn(3, 12), torch.randn(3, 12)).shape
        torch.Size([3, 5])
    """

    def __init__(
        self, embedding_dim: int, hidden_dim: int, output_dim: int, reduction_ratio: float, dropout: float = 0.0
    ) -> None:
        super().__init__()
        aggregation = max(1, round(hidden_dim * reduction_ratio))
        self.mask = nn.Sequential(nn.Linear(embedding_dim, aggregation), nn.ReLU(), nn.Linear(aggregation, hidden_dim))
        self.hidden = nn.Linear(hidden_dim, output_dim, bias=False)
        self.norm = nn.LayerNorm(output_dim)
        self.dropout = Dropout(dropout)

    def forward(self, v_emb: Tensor, v_hid: Tensor) -> Tensor:
        """``(N, embedding_dim)``, ``(N, hidden_dim)`` -> ``(N, output_dim)``."""
        return self.dropout(torch.relu(self.norm(self.hidden(self.mask(v_emb) * v_hid))))


@attrs.define(kw_only=True, frozen=True)
class MaskNetConfig:
    field_dim: int | None = field_dim_option()
    mode: str = attrs.field(
        default="serial",
        validator=v.in_(MODES),
        metadata={
            "doc": '"serial": mask blocks stacked, each on the previous output; "parallel": blocks side by side on '
            "the embeddings, concatenated into an MLP."
        },
    )
    num_blocks: int = attrs.field(
        default=3, validator=[v.instance_of(int), v.ge(1)], metadata={"doc": "Number of mask blocks."}
    )
    block_dim: int = attrs.field(
        default=64, validator=[v.instance_of(int), v.ge(1)], metadata={"doc": "Output size of each mask block."}
    )
    reduction_ratio: float = attrs.field(
        default=1.0,
        validator=[v.instance_of(float), v.gt(0.0)],
        metadata={"doc": "Width of each mask's aggregation layer relative to the mask size."},
    )
    embedding_layer_norm: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={
            "doc": "Layer-normalise each field embedding (own gain and bias per field) before it enters a block "
            "(the paper's LN-EMB)."
        },
    )
    hidden_units: list[int] = hidden_units_option(
        [400, 400], "Parallel mode: hidden layers of the MLP over the concatenated blocks (unused in serial mode)."
    )
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class MaskNetPredictor(Predictor):
    """Serial or parallel MaskNet (the paper's Fig. 3 and 4).

    ``V_emb = [e_1; ...; e_F]`` guides every block's mask; the first block (or,
    in parallel mode, every block) takes ``LN-EMB(V_emb)``, the layer-normalised
    field embeddings, as its hidden input. Serial: the last block's output goes
    to a Linear; parallel: the blocks' outputs are concatenated into an MLP.

    Args:
        options: :class:`MaskNetConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = MaskNetPredictor(options=MaskNetConfig(mode="parallel", hidden_units=[32]), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "masknet"
    paper = "Wang et al., DLP-KDD 2021. https://arxiv.org/abs/2102.07619"
    Options = MaskNetConfig

    def __init__(self, *, options: MaskNetConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: MaskNetConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        f, e = self.embedding.num_fields, self.embedding.field_dim
        self.embedding_norm: nn.Module = FieldLayerNorm(f, e) if opts.embedding_layer_norm else nn.Identity()
        width = f * e
        if opts.mode == "serial":
            self.blocks = nn.ModuleList(
                MaskBlock(
                    width, width if i == 0 else opts.block_dim, opts.block_dim, opts.reduction_ratio, opts.dropout
                )
                for i in range(opts.num_blocks)
            )
            self.output: nn.Module = nn.Linear(opts.block_dim, 1)
        else:
            self.blocks = nn.ModuleList(
                MaskBlock(width, width, opts.block_dim, opts.reduction_ratio, opts.dropout)
                for _ in range(opts.num_blocks)
            )
            self.output = MLP(
                opts.num_blocks * opts.block_dim,
                opts.hidden_units,
                activation=opts.activation,
                dropout=opts.dropout,
                batch_norm=opts.batch_norm,
                output_dim=1,
            )

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        x = self.embedding(user, candidates, fields)  # (B, K, F, E)
        b, k = x.shape[:2]
        v_emb = x.reshape(b * k, -1)  # (N, F*E)
        v_hid = self.embedding_norm(x).reshape(b * k, -1)  # (N, F*E)
        if self.options.mode == "serial":
            for block in self.blocks:
                v_hid = block(v_emb, v_hid)  # (N, block_dim)
            out = v_hid
        else:
            out = torch.cat([block(v_emb, v_hid) for block in self.blocks], dim=-1)  # (N, blocks * block_dim)
        return self.output(out).view(b, k)  # (B, K)
