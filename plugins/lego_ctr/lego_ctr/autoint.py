"""AutoInt: multi-head self-attention over the fields, with residual connections.

Song et al., "AutoInt: Automatic Feature Interaction Learning via Self-Attentive
Neural Networks", CIKM 2019, https://arxiv.org/abs/1810.11921.
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
from lego_ctr.mlp import MLP, activation_option, batch_norm_option, dropout_option, hidden_units_option


class InteractingLayer(nn.Module):
    """One interacting layer: every field attends over all fields, per head.

    For head ``h``: ``alpha_{m,k} = softmax_k(<W_Q e_m, W_K e_k>)`` (Eq. 5-6),
    ``e~_m = sum_k alpha_{m,k} W_V e_k`` (Eq. 6), heads concatenated (Eq. 7) and
    ``e^Res_m = ReLU(e~_m + W_Res e_m)`` (Eq. 8).

    Args:
        input_dim: size of each field's input vector.
        num_heads: number of heads ``H``.
        head_dim: size ``d'`` of each head; the output has ``H * d'`` per field.
        scale: divide the scores by ``sqrt(d')`` (the paper does not).

    Example:
        >>> InteractingLayer(8, num_heads=2, head_dim=4)(torch.randn(3, 5, 8)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(self, input_dim: int, num_heads: int, head_dim: int, scale: bool = False) -> None:
        super().__init__()
        self.num_heads, self.head_dim, self.scale = num_heads, head_dim, scale
        out = num_heads * head_dim
        self.query = nn.Linear(input_dim, out, bias=False)
        self.key = nn.Linear(input_dim, out, bias=False)
        self.value = nn.Linear(input_dim, out, bias=False)
        self.residual = nn.Linear(input_dim, out, bias=False)

    def _heads(self, x: Tensor) -> Tensor:
        n, f, _ = x.shape
        return x.view(n, f, self.num_heads, self.head_dim).transpose(1, 2)  # (N, H, F, d')

    def attention(self, x: Tensor) -> Tensor:
        """Attention weights ``alpha`` of ``x`` ``(N, F, input_dim)``: ``(N, H, F, F)``, rows sum to 1."""
        scores = self._heads(self.query(x)) @ self._heads(self.key(x)).transpose(-1, -2)  # (N, H, F, F)
        if self.scale:
            scores = scores / math.sqrt(self.head_dim)
        return torch.softmax(scores, dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, F, input_dim)`` -> ``(N, F, H * d')``."""
        n, f, _ = x.shape
        mixed = self.attention(x) @ self._heads(self.value(x))  # (N, H, F, d')
        mixed = mixed.transpose(1, 2).reshape(n, f, -1)  # (N, F, H * d')
        return torch.relu(mixed + self.residual(x))


@attrs.define(kw_only=True, frozen=True)
class AutoIntConfig:
    field_dim: int | None = field_dim_option()
    num_attention_layers: int = attrs.field(
        default=3,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Number of interacting (self-attention) layers."},
    )
    num_heads: int = attrs.field(
        default=2, validator=[v.instance_of(int), v.ge(1)], metadata={"doc": "Attention heads per layer."}
    )
    head_dim: int = attrs.field(
        default=32,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Size d' of each head (a layer outputs num_heads * head_dim per field)."},
    )
    scale: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Divide attention scores by sqrt(head_dim) (the paper does not)."},
    )
    hidden_units: list[int] = hidden_units_option(
        [], "Sizes of the hidden layers of an extra DNN part (AutoInt+); empty: AutoInt alone."
    )
    activation: str = activation_option()
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class AutoIntPredictor(Predictor):
    """``logit = w . [e^Res_1; ...; e^Res_F] + b`` after stacked interacting layers (the paper's Eq. 9).

    The field embeddings go through ``num_attention_layers``
    :class:`InteractingLayer` s; the final field vectors are concatenated and
    mapped to the logit. With ``hidden_units`` set, an MLP over the field
    embeddings adds its logit (AutoInt+).

    Args:
        options: :class:`AutoIntConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = AutoIntPredictor(options=AutoIntConfig(head_dim=4), context=context)
        >>> model(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    name = "autoint"
    paper = "Song et al., CIKM 2019. https://arxiv.org/abs/1810.11921"
    Options = AutoIntConfig

    def __init__(self, *, options: AutoIntConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: AutoIntConfig = self.options
        self.embedding = FieldEmbedding(context, opts.field_dim)
        f, e = self.embedding.num_fields, self.embedding.field_dim
        width = opts.num_heads * opts.head_dim
        self.layers = nn.ModuleList(
            InteractingLayer(e if i == 0 else width, opts.num_heads, opts.head_dim, opts.scale)
            for i in range(opts.num_attention_layers)
        )
        self.output = nn.Linear(f * width, 1)
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
        h = flat
        for layer in self.layers:
            h = layer(h)  # (N, F, H * d')
        logit = self.output(h.reshape(b * k, -1)).view(b, k)  # (B, K)
        if self.deep is not None:
            logit = logit + self.deep(flat.reshape(b * k, f * e)).view(b, k)
        return logit
