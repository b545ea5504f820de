"""The metric contract: ``(scores, labels, groups) -> float``, computed per group.

A metric is a class registered through ``lego_register_metrics()``; its
``name`` is the key an experiment lists (``"gauc"``), and metrics with a
cut-off are written ``name@k`` (``"ndcg@10"``). :meth:`Metric.compute`
takes flat NumPy arrays over all scored pairs and must be vectorised: sort
once, then segment operations, never a Python loop per group.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np

from lego_core.metrics.segments import SortedPairs
from lego_core.registry import Kind


@attrs.frozen
class MetricValue:
    """A metric's value and how many groups it used and skipped.

    Groups whose labels are all positive or all negative carry no ranking
    information for AUC-like metrics; they are skipped and counted here.
    """

    value: float
    groups_used: int = 0
    groups_skipped: int = 0


class Metric:
    """Base of metrics.

    Class attributes:
        name: the key (``"ndcg"``); ``needs_k`` metrics are used as ``name@k``.
        needs_k: whether a cut-off ``k`` is required.
        grouped: whether the value is a mean over groups (else over all pairs).
        higher_is_better: for early stopping and "best" checkpoints.
        on_probabilities: computed on ``sigmoid(score)`` rather than the raw score.
    """

    name: ClassVar[str] = ""
    needs_k: ClassVar[bool] = False
    grouped: ClassVar[bool] = True
    higher_is_better: ClassVar[bool] = True
    on_probabilities: ClassVar[bool] = False

    def __init__(self, k: int | None = None) -> None:
        if self.needs_k and (k is None or k < 1):
            raise ValueError(f"metric {self.name!r} needs a cut-off: write it as {self.name}@K, e.g. {self.name}@10")
        if not self.needs_k and k is not None:
            raise ValueError(f"metric {self.name!r} takes no cut-off; write {self.name!r} without @{k}")
        self.k = k

    @property
    def key(self) -> str:
        return f"{self.name}@{self.k}" if self.k is not None else self.name

    def compute(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> MetricValue:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} must implement compute(scores, labels, groups)")

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        """The metric on pairs already sorted for it (the evaluation shares one sort between metrics).

        The default calls :meth:`compute` on the flat arrays, so a plugin metric needs only
        ``compute``; the built-in ranking metrics read ``pairs.grouped`` / ``pairs.overall``.
        """
        return self.compute(pairs.scores, pairs.labels, pairs.groups)

    def __call__(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> float:
        return self.compute(scores, labels, groups).value


METRIC: Kind[type[Metric]] = Kind("metric", hook="lego_register_metrics", base=Metric, noun="metric")
