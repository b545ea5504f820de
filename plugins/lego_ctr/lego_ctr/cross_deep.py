"""The cross-network + deep-network combination shared by DCNv2 and GDCN.

Both papers combine a cross network ``cross`` and an MLP ``deep`` in one of two
structures: "stacked" (the MLP on top of the cross output) or "parallel" (both
on ``x0``, outputs concatenated), followed by one linear output unit.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lego_ctr.mlp import MLP

STRUCTURES = ("stacked", "parallel")


def attach_deep_and_output(predictor: nn.Module, dim: int, options: object) -> None:
    """Give ``predictor`` its ``deep`` MLP (None without hidden units) and its ``output`` unit."""
    hidden_units = options.hidden_units  # type: ignore[attr-defined]
    deep = (
        MLP(
            dim,
            hidden_units,
            activation=options.activation,  # type: ignore[attr-defined]
            dropout=options.dropout,  # type: ignore[attr-defined]
            batch_norm=options.batch_norm,  # type: ignore[attr-defined]
        )
        if hidden_units
        else None
    )
    predictor.deep = deep  # type: ignore[assignment]  # None or an MLP, read back by cross_and_deep
    if deep is None:
        out_dim = dim
    else:
        out_dim = deep.output_dim + (dim if options.structure == "parallel" else 0)  # type: ignore[attr-defined]
    predictor.output = nn.Linear(out_dim, 1)


def cross_and_deep(predictor: nn.Module, x0: Tensor, structure: str) -> Tensor:
    """``(N, d)`` -> ``(N, 1)`` logits through ``predictor.cross``, ``.deep`` and ``.output``."""
    cross: nn.Module = predictor.get_submodule("cross")
    output: nn.Module = predictor.get_submodule("output")
    deep: nn.Module | None = getattr(predictor, "deep", None)
    crossed = cross(x0)  # (N, d)
    if deep is None:
        out = crossed
    elif structure == "stacked":
        out = deep(crossed)  # (N, H)
    else:
        out = torch.cat([crossed, deep(x0)], dim=-1)  # (N, d + H)
    return output(out)
