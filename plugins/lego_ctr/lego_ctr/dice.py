"""Dice, the data-adaptive activation of DIN.

Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018,
https://arxiv.org/abs/1706.06978, section 4.3:
``p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps))`` and
``f(s) = p(s) * s + (1 - p(s)) * alpha * s``, where ``E[s]`` and ``Var[s]`` are
the mini-batch mean and variance in training and running averages in
evaluation: batch normalisation without affine parameters.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Dice(nn.Module):
    """Dice activation over the last dimension.

    Args:
        num_features: size of the last dimension.
        eps: added to the variance.
        momentum: weight of the current batch in the running statistics.

    Example:
        >>> dice = Dice(4).eval()  # running mean 0, variance 1, alpha 0
        >>> with torch.no_grad():
        ...     dice(torch.tensor([[0.0, 10.0, -10.0, 1.0]])).round(decimals=3)
        tensor([[ 0.0000, 10.0000, -0.0000,  0.7310]])
    """

    running_mean: Tensor  # buffers, typed for mypy
    running_var: Tensor

    def __init__(self, num_features: int, eps: float = 1e-8, momentum: float = 0.1) -> None:
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.alpha = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        """``(..., C)`` -> ``(..., C)``; statistics over every leading position."""
        rows = x.reshape(-1, x.shape[-1])  # (N, C)
        if rows.shape[0] == 0:
            return x
        if self.training and rows.shape[0] == 1:  # a single row is its own mean
            normed = torch.zeros_like(rows)
        else:  # one fused kernel; updates the running statistics in training
            normed = nn.functional.batch_norm(
                rows, self.running_mean, self.running_var, training=self.training, momentum=self.momentum, eps=self.eps
            )
        p = torch.sigmoid(normed)
        return (rows * torch.addcmul(self.alpha, p, 1 - self.alpha)).reshape(x.shape)  # p x + (1 - p) alpha x
