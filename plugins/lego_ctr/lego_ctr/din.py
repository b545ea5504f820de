"""DIN: target attention of each candidate over the user's history.

Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018,
https://arxiv.org/abs/1706.06978.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import FieldEmbedding, field_dim_option
from lego_ctr.mlp import (
    ACTIVATIONS,
    MLP,
    activation_option,
    batch_norm_option,
    dropout_option,
    hidden_units_option,
)

ATTENTION_OUTPUTS = ("linear", "sigmoid", "softmax")


@attrs.define(kw_only=True, frozen=True)
class DINConfig:
    field_dim: int | None = field_dim_option()
    attention_units: list[int] = hidden_units_option([80, 40], "Hidden layers of the activation unit.")
    attention_activation: str = activation_option(
        "dice", "Activation of the activation unit's hidden layers: " + ", ".join(ACTIVATIONS) + "."
    )
    attention_output: str = attrs.field(
        default="linear",
        validator=v.in_(ATTENTION_OUTPUTS),
        metadata={
            "doc": 'Attention weight from the activation unit\'s output: "linear" (the paper: the raw output, '
            'no normalisation), "sigmoid" (squashed to (0, 1), still unnormalised) or "softmax" (over the '
            "real history items)."
        },
    )
    hidden_units: list[int] = hidden_units_option([200, 80])
    activation: str = activation_option("dice")
    dropout: float = dropout_option()
    batch_norm: bool = batch_norm_option()


class DINPredictor(Predictor):
    """``logit = MLP([v_U(c); c; fields])`` with the candidate-specific interest ``v_U(c) = sum_j a(h_j, c) h_j``.

    For each candidate ``c`` the activation unit scores every history item
    ``h_j``: ``a(h_j, c) = MLP([h_j; c; h_j - c; h_j * c])`` (the paper's Eq. 3 and
    Fig. 2, with the difference and element-wise product as the "out product";
    Dice activations). Following the paper, the weights are *not* normalised
    by a softmax, so the pooled vector keeps the intensity of the user's
    interest (``attention_output`` offers sigmoid and softmax variants).
    Padded history positions never enter the activation unit and get exactly
    zero weight; an empty history gives a zero interest vector. The interest
    vector takes the place of the user field next to the candidate and the
    categorical fields, and the MLP (Dice by default, as in the paper) maps
    them to the logit.

    It needs the history as a sequence: pair it with a behavior operator whose
    output is a sequence (``behavior = "sequence"`` from lego-text). Ranking only.
    The paper's mini-batch aware regulariser is left to the optimiser's weight decay.

    Args:
        options: :class:`DINConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> model = DINPredictor(options=DINConfig(attention_units=[8], hidden_units=[16]), context=context)
        >>> history, mask = torch.randn(2, 5, 16), torch.tensor([[True] * 5, [False] * 3 + [True] * 2])
        >>> model(history, torch.randn(2, 3, 16), random_fields(context, 2, 3), mask).shape
        torch.Size([2, 3])
    """

    name = "din"
    paper = "Zhou et al., KDD 2018. https://arxiv.org/abs/1706.06978"
    input = "sequence"
    tasks = frozenset({"ranking"})
    Options = DINConfig

    def __init__(self, *, options: DINConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: DINConfig = self.options
        hidden = context.hidden_size
        self.activation_unit = MLP(4 * hidden, opts.attention_units, activation=opts.attention_activation, output_dim=1)
        self.embedding = FieldEmbedding(context, opts.field_dim)
        self.deep = MLP(
            self.embedding.num_fields * self.embedding.field_dim,
            opts.hidden_units,
            activation=opts.activation,
            dropout=opts.dropout,
            batch_norm=opts.batch_norm,
            output_dim=1,
        )

    def attend(self, history: Tensor, mask: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
        """Candidate-specific interests and their weights.

        Args:
            history: ``(B, S, D)`` history item vectors.
            mask: ``(B, S)`` bool, True on real items.
            candidates: ``(B, K, D)``.

        Returns:
            ``(B, K, D)`` pooled interests and ``(B, K, S)`` weights (0 on padding).
        """
        b, s, d = history.shape
        k = candidates.shape[1]
        history = history.masked_fill(~mask.unsqueeze(-1), 0.0)  # padding can hold anything, even NaN
        valid = mask.unsqueeze(1).expand(b, k, s)  # (B, K, S)
        h = history.unsqueeze(1).expand(b, k, s, d)[valid]  # (M, D): real (candidate, history item) pairs only
        c = candidates.unsqueeze(2).expand(b, k, s, d)[valid]  # (M, D)
        scores = self.activation_unit(torch.cat([h, c, h - c, h * c], dim=-1)).squeeze(-1)  # (M,)
        output = self.options.attention_output
        if output == "sigmoid":
            scores = torch.sigmoid(scores)
        weights = history.new_zeros(b, k, s).masked_scatter(valid, scores.to(history.dtype))  # (B, K, S)
        if output == "softmax":
            lowest = torch.finfo(weights.dtype).min
            weights = torch.softmax(weights.masked_fill(~valid, lowest), dim=-1).masked_fill(~valid, 0.0)
        pooled = torch.einsum("bks,bsd->bkd", weights, history)  # (B, K, D)
        return pooled, weights

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        if user.dim() != 3:
            raise ValueError(
                f"DIN needs the history as a sequence (B, S, D); got a user tensor of shape "
                f"{tuple(user.shape)}: use a behavior operator with a sequence output"
            )
        mask = user_mask if user_mask is not None else torch.ones(user.shape[:2], dtype=torch.bool, device=user.device)
        interest, _ = self.attend(user, mask, candidates)  # (B, K, D)
        x = self.embedding(interest, candidates, fields)  # (B, K, F, E): the interest is the user field
        b, k = x.shape[:2]
        return self.deep(x.reshape(b * k, -1)).view(b, k)  # (B, K)
