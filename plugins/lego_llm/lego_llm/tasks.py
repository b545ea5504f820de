"""The ``pointwise`` task: binary cross-entropy on a positive and its sampled negatives.

How a language model recommender is fine-tuned to answer Yes or No (TALLRec,
RecBench's supervised fine-tuning): every training positive comes with
``neg_count`` sampled negatives (the plan of the ``matching`` task), and each
pair is a binary example on its own, the positive labelled 1 and the
negatives 0. Unlike ``matching`` (a softmax across the 1 + K candidates),
each score must stand alone as a probability, which is what a Yes/No answer
is; unlike ``ranking`` it needs no labelled negatives in the depot, so it
trains on click-only data (MovieLens, Goodreads) as well.

Example:
    >>> import torch
    >>> scores = torch.tensor([[2.0, -1.0]])  # the positive first
    >>> round(float(PointwiseTask(neg_count=1).loss(scores, torch.ones(1))), 4)  # mean(-log s(2), -log s(1))
    0.2201
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lego_core.engine.task import Task


class PointwiseTask(Task):
    """Binary cross-entropy per pair over one positive (label 1) and ``neg_count`` sampled negatives (label 0)."""

    name = "pointwise"
    like = "matching"
    description = "BCE per pair on a positive and neg_count sampled negatives (LLM Yes/No fine-tuning, TALLRec)."
    paper = "Bao et al., RecSys 2023 (TALLRec). https://doi.org/10.1145/3604915.3608857"

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        target = torch.zeros_like(scores)
        target[:, 0] = 1.0  # matching-like plans put the positive in column 0
        return F.binary_cross_entropy_with_logits(scores, target)
