"""Every brick's output checked against its contract, once per shape, with a message naming the brick.

A content operator must return ``(N, D)`` for N items, a behavior operator
``(B, D)`` (or ``(B, S, D)`` with a ``(B, S)`` mask when it keeps a sequence),
a predictor ``(B, K)`` logits, all finite. A brick that returns three rows too
many, or ``D - 1`` columns, would otherwise train and evaluate to numbers that
mean nothing. The shape is checked on every call (a comparison of a few
integers); the values are checked for NaN and inf the first time each shape is
seen (a full pass over the tensor, so not on every step).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from lego_core.errors import TrainingError


class OutputCheck:
    """Checks brick outputs; ``names`` maps ``content``/``behavior``/``predictor`` to ``plugin:name``."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)
        self._seen: set[tuple[str, tuple[int, ...]]] = set()

    def _fail(self, kind: str, what: str) -> TrainingError:
        name = self.names.get(kind, kind)
        return TrainingError(
            f"the {kind} brick {name!r} {what}; this is a bug in that brick (or in its plugin): "
            "report it to its authors, or choose another brick"
        )

    def _values(self, kind: str, tensor: Tensor) -> None:
        key = (kind, tuple(tensor.shape))
        if key in self._seen:
            return
        self._seen.add(key)
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise self._fail(kind, f"returned NaN or inf (output of shape {tuple(tensor.shape)})")

    def content(self, out: Tensor, rows: int, hidden: int) -> None:
        if out.dim() != 2 or out.shape[0] != rows or out.shape[1] != hidden:
            raise self._fail("content", f"returned {tuple(out.shape)} for {rows} items; expected ({rows}, {hidden})")
        self._values("content", out)

    def behavior(self, out: Tensor, mask: Tensor | None, rows: int, hidden: int, sequence: bool) -> None:
        if sequence:
            ok = (
                out.dim() == 3
                and out.shape[0] == rows
                and out.shape[2] == hidden
                and mask is not None
                and tuple(mask.shape) == tuple(out.shape[:2])
            )
            expected = f"({rows}, S, {hidden}) with a ({rows}, S) mask"
        else:
            ok = out.dim() == 2 and tuple(out.shape) == (rows, hidden)
            expected = f"({rows}, {hidden})"
        if not ok:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise self._fail("behavior", f"returned {shape} for {rows} users; expected {expected}")
        self._values("behavior", out)

    def predictor(self, out: Tensor, rows: int, candidates: int) -> None:
        if out.dim() != 2 or tuple(out.shape) != (rows, candidates):
            raise self._fail(
                "predictor",
                f"returned {tuple(out.shape)} for {rows} users x {candidates} candidates; "
                f"expected ({rows}, {candidates}) scores",
            )
        self._values("predictor", out)
