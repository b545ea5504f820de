"""Classification metrics on probabilities: log loss and F1.

Both have ``on_probabilities = True``: the engine passes ``sigmoid(score)``,
so :meth:`compute` receives probabilities in ``[0, 1]``. Both are computed
over all pairs at once (``grouped = False``); ``groups`` only has to match
the other inputs in length. A label is positive when it is ``> 0.5``.

Example:
    >>> probs = np.array([0.9, 0.2, 0.6, 0.4])
    >>> labels = np.array([1, 0, 0, 1])
    >>> F1Metric().compute(probs, labels, np.zeros(4))
    MetricValue(value=0.5, groups_used=1, groups_skipped=0)
    >>> round(LogLossMetric()(probs, labels, np.zeros(4)), 4)
    0.5403
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from lego_core.metrics.base import Metric, MetricValue
from lego_core.metrics.segments import as_flat


class LogLossMetric(Metric):
    """Mean binary cross-entropy of probabilities.

    ``LogLoss = -(1/n) sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)]``, with
    ``p_i`` clipped to ``[eps, 1 - eps]``, ``eps = 1e-7``, so that a confident
    wrong prediction costs ``-log(eps) ~ 16.1`` instead of infinity. Empty
    input gives ``nan``.
    """

    name = "logloss"
    grouped = False
    higher_is_better = False
    on_probabilities = True
    eps: ClassVar[float] = 1e-7

    def compute(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> MetricValue:
        probs, positive, _ = as_flat(scores, labels, groups)
        if probs.shape[0] == 0:
            return MetricValue(float("nan"))
        probs = np.clip(probs, self.eps, 1.0 - self.eps)
        losses = -np.log(np.where(positive, probs, 1.0 - probs))
        return MetricValue(float(losses.mean()), groups_used=1)


class F1Metric(Metric):
    """F1 score of thresholded probabilities.

    Predictions are ``p_i >= threshold``; ``F1 = 2 TP / (2 TP + FP + FN)``,
    the harmonic mean of precision and recall. ``name@k`` can only carry an
    integer, so the threshold is the class attribute ``threshold`` (0.5);
    subclass to change it. With no positive label and no positive prediction
    F1 is undefined: the value is ``nan`` and the one global group is counted
    as skipped. Empty input gives ``nan`` with nothing skipped.
    """

    name = "f1"
    grouped = False
    on_probabilities = True
    threshold: ClassVar[float] = 0.5

    def compute(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> MetricValue:
        probs, positive, _ = as_flat(scores, labels, groups)
        if probs.shape[0] == 0:
            return MetricValue(float("nan"))
        predicted = probs >= self.threshold
        true_pos = int(np.count_nonzero(predicted & positive))
        denominator = int(np.count_nonzero(predicted)) + int(np.count_nonzero(positive))
        if denominator == 0:
            return MetricValue(float("nan"), groups_used=0, groups_skipped=1)
        return MetricValue(2.0 * true_pos / denominator, groups_used=1)
