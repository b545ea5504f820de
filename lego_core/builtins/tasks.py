"""The built-in tasks: matching (softmax over 1 + K), ranking (BCE), pairwise (BPR).

Each is a :class:`~lego_core.engine.task.Task` registered by the core plugin
through ``lego_register_tasks()``, exactly as a plugin registers its own.

Example:
    >>> import torch
    >>> scores = torch.tensor([[2.0, 0.0, 0.0]])
    >>> round(float(MatchingTask().loss(scores, torch.ones(1))), 4)  # -log(e^2 / (e^2 + 2))
    0.2395
    >>> round(float(PairwiseTask().loss(scores, torch.ones(1))), 4)  # -log sigmoid(2)
    0.1269
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lego_core.engine.task import Task


class MatchingTask(Task):
    """Softmax cross-entropy over one positive and ``neg_count`` negatives (the positive first)."""

    name = "matching"
    like = "matching"
    description = "Softmax cross-entropy over one positive and neg_count negatives (NRMS/MIND protocol)."
    paper = "Wu et al., EMNLP 2019 (NRMS): negative sampling as a (K+1)-way classification"

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        target = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)  # the positive: column 0
        return F.cross_entropy(scores, target)


class RankingTask(Task):
    """Binary cross-entropy on every labelled pair (click-through-rate prediction)."""

    name = "ranking"
    like = "ranking"
    description = "Binary cross-entropy on labelled user-item pairs (CTR prediction)."

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(scores[:, 0], labels)


class PairwiseTask(Task):
    """Bayesian personalised ranking: ``-log sigmoid(s_pos - s_neg)``, averaged over rows and negatives."""

    name = "pairwise"
    like = "matching"
    description = "BPR: -log sigmoid(s_pos - s_neg) over one positive and neg_count negatives."
    paper = "Rendle et al., UAI 2009. https://arxiv.org/abs/1205.2618"

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        return -F.logsigmoid(scores[:, :1] - scores[:, 1:]).mean()
