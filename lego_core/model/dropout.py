"""Dropout for the bricks: ``nn.Dropout``'s behaviour, about twice as fast on the CPU.

On the CPU most of ``nn.Dropout``'s time goes to drawing one Bernoulli sample per element
(``bernoulli_``; issue 16 measured dropout at 16% of an NRMS forward). Here the keep-mask comes from 16 random bits
per element, drawn 64 at a time (``random_`` over the whole int64 range) and compared with
``p * 2^16``: the same inverted dropout (kept values scaled by ``1 / (1 - p)``, identity in eval
mode), ``p`` exact to 1 / 131,072, the mask kept as booleans for the backward pass; forward +
backward it is 1.9x ``F.dropout`` on a (2048, 128) and a (320, 30, 256) tensor, one thread
(``benchmarks/kernels.py``, docs/benchmarks.md). Elsewhere (CUDA, where torch's kernel is fused, or inside
``torch.compile``) it is ``F.dropout``. Random numbers come from torch's global generator, so a
seeded run is repeatable and an exact resume stays exact.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_BITS = 16
_SPAN = 1 << _BITS


class _CpuDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, p: float) -> Tensor:
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # 64 random bits each
        keep = (words.view(torch.int16)[:n] >= round(p * _SPAN) - _SPAN // 2).view(x.shape)  # P(keep) = 1 - p
        scale = 1.0 / (1.0 - p)
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x * keep * scale

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (keep,) = ctx.saved_tensors
        return grad * keep * ctx.scale, None


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """``F.dropout(x, p, training)``, with the faster mask on the CPU.

    Example:
        >>> x = torch.ones(100_000)
        >>> y = dropout(x, 0.2)
        >>> round(float((y == 0).float().mean()), 2), sorted(set(y.unique().tolist()))
        (0.2, [0.0, 1.25])
        >>> torch.equal(dropout(x, 0.2, training=False), x)
        True
    """
    if not training or p == 0.0:
        return x
    if p == 1.0 or x.device.type != "cpu" or torch.compiler.is_compiling():
        return F.dropout(x, p, training=True)
    return _CpuDropout.apply(x, p)


class Dropout(nn.Module):
    """A drop-in ``nn.Dropout(p)``: zeroes each element with probability ``p`` in training.

    Args:
        p: the probability of an element being zeroed, in ``[0, 1]``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
