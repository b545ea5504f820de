"""The multi-layer perceptron every deep part uses, and its shared options.

The option helpers keep one name and one meaning per knob across predictors
(``hidden_units``, ``activation``, ``dropout``, ``batch_norm``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.dropout import Dropout
from lego_ctr.dice import Dice

ACTIVATIONS = ("relu", "prelu", "leaky_relu", "tanh", "sigmoid", "gelu", "dice")

positive_ints = v.deep_iterable(member_validator=[v.instance_of(int), v.gt(0)], iterable_validator=v.instance_of(list))


def hidden_units_option(
    default: Sequence[int],
    doc: str = "Sizes of the hidden layers of the deep part (an empty list removes its hidden layers).",
) -> Any:
    return attrs.field(factory=lambda: list(default), validator=positive_ints, metadata={"doc": doc})


def activation_option(
    default: str = "relu", doc: str = "Activation of the hidden layers: " + ", ".join(ACTIVATIONS) + "."
) -> Any:
    return attrs.field(default=default, validator=v.in_(ACTIVATIONS), metadata={"doc": doc})


def dropout_option() -> Any:
    return attrs.field(
        default=0.0,
        validator=[v.instance_of(float), v.ge(0.0), v.lt(1.0)],
        metadata={"doc": "Dropout after each hidden layer (0 disables)."},
    )


def batch_norm_option() -> Any:
    return attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Batch normalisation after each hidden layer's Linear."},
    )


def make_activation(name: str, width: int) -> nn.Module:
    """The activation module called ``name`` (one of :data:`ACTIVATIONS`) for ``width`` features."""
    if name == "dice":
        return Dice(width)
    if name == "prelu":
        return nn.PReLU(width)
    return {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}[
        name
    ]()


class MLP(nn.Module):
    """``Linear -> [BatchNorm] -> activation -> [Dropout]`` per hidden layer, then an optional output Linear.

    Args:
        input_dim: size of the input's last dimension.
        hidden_units: sizes of the hidden layers (may be empty).
        activation: one of :data:`ACTIVATIONS`.
        dropout: dropout probability after each hidden layer.
        batch_norm: batch normalisation after each hidden Linear.
        output_dim: size of a last Linear without activation (None: no output layer,
            the last hidden layer is the output).

    Example:
        >>> import torch
        >>> mlp = MLP(8, [16, 4], output_dim=1)
        >>> mlp(torch.randn(5, 8)).shape, mlp.output_dim
        (torch.Size([5, 1]), 1)
        >>> MLP(8, []).output_dim  # no layer at all: the identity
        8
    """

    def __init__(
        self,
        input_dim: int,
        hidden_units: Sequence[int],
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        output_dim: int | None = None,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        dim = input_dim
        for units in hidden_units:
            layers.append(nn.Linear(dim, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers.append(make_activation(activation, units))
            if dropout > 0:
                layers.append(Dropout(dropout))
            dim = units
        if output_dim is not None:
            layers.append(nn.Linear(dim, output_dim))
            dim = output_dim
        self.layers = nn.Sequential(*layers)
        self.output_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """``(N, input_dim)`` -> ``(N, output_dim)``."""
        return self.layers(x)
