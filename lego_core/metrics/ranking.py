"""Ranking metrics: AUC, GAUC, MRR, MIND's MRR, NDCG@k, Hit@k, Recall@k, Precision@k, LRAP.

Every metric sorts once (:func:`~lego_core.metrics.segments.segment`) and
reduces per group with NumPy segment operations.

Conventions shared by all metrics here:

- A label is positive when it is ``> 0.5``.
- Grouped metrics are an unweighted mean over usable groups. A group with no
  positive is skipped (and, for ``gauc``, one with no negative), and counted
  in :attr:`MetricValue.groups_skipped`. With no usable group the value is
  ``nan``.
- ``auc`` and ``gauc`` give tied scores half credit (average ranks). All
  other metrics rank pairs with equal scores within a group in *input order*
  (the first one given ranks higher), so their results are deterministic but
  depend on the order of tied pairs.
- Empty input gives ``nan`` with no group used or skipped.

Example:
    >>> scores = np.array([0.9, 0.2, 0.4, 0.8, 0.1])
    >>> labels = np.array([0, 1, 1, 0, 0])
    >>> groups = np.array([5, 5, 5, 2, 2])
    >>> MRRMetric().compute(scores, labels, groups)
    MetricValue(value=0.5, groups_used=1, groups_skipped=1)
    >>> round(GAUCMetric()(scores, labels, groups), 4)
    0.0
"""

from __future__ import annotations

import numpy as np

from lego_core.metrics.base import Metric, MetricValue
from lego_core.metrics.segments import (
    Segments,
    SortedPairs,
    positive_ascending_rank_sums,
    positive_ordinals,
)


class SortedMetric(Metric):
    """A metric computed from the shared sorted pairs; :meth:`compute` sorts them for a single call."""

    def compute(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> MetricValue:
        return self.compute_sorted(SortedPairs(scores, labels, groups))


def _mean_over_groups(values: np.ndarray, usable: np.ndarray) -> MetricValue:
    """Unweighted mean of ``values`` over ``usable`` groups; ``nan`` if there are none."""
    used = int(np.count_nonzero(usable))
    value = float(values[usable].mean()) if used else float("nan")
    return MetricValue(value=value, groups_used=used, groups_skipped=int(usable.shape[0]) - used)


def _auc_per_group(seg: Segments) -> tuple[np.ndarray, np.ndarray]:
    """Per-group ROC AUC by Mann-Whitney U, and the mask of groups having both classes."""
    rank_sum_pos = positive_ascending_rank_sums(seg)
    n_pos = seg.n_pos.astype(np.float64)
    pairs = n_pos * seg.n_neg
    usable = pairs > 0
    # U = R_pos - n_pos (n_pos + 1) / 2 counts (positive, negative) pairs
    # ordered correctly, ties counting 1/2.
    u = rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0
    return np.divide(u, pairs, out=np.full_like(u, np.nan), where=usable), usable


def _top_k_positives(seg: Segments, k: int) -> np.ndarray:
    """Per group, the number of positives ranked ``<= k``."""
    return np.bincount(seg.positive_group[seg.positive_rank <= k], minlength=seg.num_groups)


class AUCMetric(SortedMetric):
    """ROC AUC over all pairs, ignoring groups.

    ``AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)``, where
    ``R_pos`` is the sum of the ascending ranks of positives, tied scores
    getting their average rank (Mann & Whitney 1947; Hanley & McNeil 1982).
    This equals the fraction of (positive, negative) pairs the score orders
    correctly, ties counting 1/2. With only one class present the value is
    ``nan`` and the single global group is counted as skipped.
    """

    name = "auc"
    grouped = False

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.overall  # one group for everything; ``groups`` only fixes the length
        if seg.num_groups == 0:
            return MetricValue(float("nan"))
        auc, usable = _auc_per_group(seg)
        return _mean_over_groups(auc, usable)


class GAUCMetric(SortedMetric):
    """Group AUC: unweighted mean over groups of the per-group ROC AUC.

    ``GAUC = mean_g AUC_g`` over groups with at least one positive and one
    negative, as in MIND's evaluation (the mean of per-impression AUC; Wu et
    al. 2020, https://msnews.github.io). Ties get average ranks, as in
    :class:`AUCMetric`. Single-class groups are skipped.
    """

    name = "gauc"

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        auc, usable = _auc_per_group(pairs.grouped)
        return _mean_over_groups(auc, usable)


class MRRMetric(SortedMetric):
    """Mean reciprocal rank of the first relevant item.

    ``MRR = mean_g 1 / rank_g``, ``rank_g`` being the 1-based rank of the
    highest-ranked positive in group ``g`` (Voorhees 1999, TREC-8 QA).
    Groups with no positive are skipped; ties are broken by input order.
    """

    name = "mrr"

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.grouped
        if seg.num_groups == 0:
            return MetricValue(float("nan"))
        # Positives are in sorted order, so a group's first positive is its best-ranked one.
        first = positive_ordinals(seg) == 1
        reciprocal = np.zeros(seg.num_groups)
        reciprocal[seg.positive_group[first]] = 1.0 / seg.positive_rank[first]
        return _mean_over_groups(reciprocal, seg.n_pos > 0)


class MindMRRMetric(SortedMetric):
    """MRR as computed by MIND's official evaluation script.

    ``MRR_g = (1 / n_pos,g) * sum_{positives i} 1 / rank_i``, averaged over
    groups with at least one positive (``mrr_score`` in
    https://github.com/msnews/MIND evaluate.py). It differs from
    :class:`MRRMetric` when a group has several positives. Ties are broken
    by input order.
    """

    name = "mind_mrr"

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.grouped
        reciprocal_sum = seg.per_group_positive_sum(1.0 / seg.positive_rank)
        usable = seg.n_pos > 0
        return _mean_over_groups(reciprocal_sum / np.maximum(seg.n_pos, 1), usable)


class NDCGMetric(SortedMetric):
    """Normalised discounted cumulative gain at ``k``, binary gains.

    ``DCG@k = sum_{rank <= k} label / log2(rank + 1)`` and
    ``NDCG@k = DCG@k / IDCG@k``, where ``IDCG@k = sum_{r=1}^{min(k, n_pos)}
    1 / log2(r + 1)`` is the DCG of the ideal ordering (Järvelin & Kekäläinen
    2002). Averaged over groups with at least one positive; ties are broken by
    input order. A group smaller than ``k`` simply contributes all its items.
    """

    name = "ndcg"
    needs_k = True

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.grouped
        k = int(self.k or 0)
        top = seg.positive_rank <= k
        dcg = np.bincount(
            seg.positive_group[top], weights=1.0 / np.log2(seg.positive_rank[top] + 1.0), minlength=seg.num_groups
        )
        # ideal[m] = IDCG for m positives in the top k; m never exceeds max(n_pos).
        depth = min(k, int(seg.n_pos.max(initial=0)))
        ideal = np.concatenate(([0.0], np.cumsum(1.0 / np.log2(np.arange(2, depth + 2)))))
        idcg = ideal[np.minimum(seg.n_pos, k)]
        usable = seg.n_pos > 0
        return _mean_over_groups(dcg / np.where(usable, idcg, 1.0), usable)


class HitRatioMetric(SortedMetric):
    """Hit ratio at ``k``: whether any positive is ranked in the top ``k``.

    ``Hit@k = mean_g 1[exists positive i in g with rank_i <= k]``, over groups
    with at least one positive. Ties are broken by input order.
    """

    name = "hit"
    needs_k = True

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.grouped
        hits = (_top_k_positives(seg, int(self.k or 0)) > 0).astype(np.float64)
        return _mean_over_groups(hits, seg.n_pos > 0)


class RecallMetric(SortedMetric):
    """Recall at ``k``: the share of a group's positives ranked in the top ``k``.

    ``Recall@k = mean_g |positives with rank <= k| / n_pos,g``, over groups
    with at least one positive. Ties are broken by input order.
    """

    name = "recall"
    needs_k = True

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.grouped
        recall = _top_k_positives(seg, int(self.k or 0)) / np.maximum(seg.n_pos, 1)
        return _mean_over_groups(recall, seg.n_pos > 0)


class PrecisionMetric(SortedMetric):
    """Precision at ``k``: positives in the top ``k``, divided by ``k``.

    ``Precision@k = mean_g |positives with rank <= k| / k``, over groups with
    at least one positive. The denominator is ``k`` even when a group has
    fewer than ``k`` items, so such groups cannot reach 1. Ties are broken by
    input order.
    """

    name = "precision"
    needs_k = True

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.grouped
        precision = _top_k_positives(seg, int(self.k or 0)) / float(self.k or 0)
        return _mean_over_groups(precision, seg.n_pos > 0)


class LRAPMetric(SortedMetric):
    """Label ranking average precision, a group being one row.

    ``LRAP_g = (1 / n_pos,g) * sum_{positives i} |positives j with rank_j <=
    rank_i| / rank_i``, averaged over groups with at least one positive
    (Tsoumakas et al. 2010; scikit-learn's
    ``label_ranking_average_precision_score`` per row). Ties are broken by
    input order; scikit-learn instead ranks each of tied items last among
    them, so the two differ only when scores tie.
    """

    name = "lrap"

    def compute_sorted(self, pairs: SortedPairs) -> MetricValue:
        seg = pairs.grouped
        precision_at_i = positive_ordinals(seg) / seg.positive_rank
        usable = seg.n_pos > 0
        return _mean_over_groups(seg.per_group_positive_sum(precision_at_i) / np.maximum(seg.n_pos, 1), usable)
