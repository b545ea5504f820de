"""Grouped computation on flat arrays: sort once, then segment operations.

Metrics receive three flat arrays over all scored pairs (``scores``,
``labels``, ``groups``). :func:`segment` sorts them by ``(group, score
descending)``, after which every group is a contiguous slice and every
per-group quantity is a :func:`numpy.bincount`, a ``ufunc.reduceat`` or a
gather by group index. Nothing here loops over groups in Python.

:class:`SortedPairs` shares the sorting between metrics: the evaluation
sorts a split's pairs once (a stable sort by score, then a stable sort of
that order by group) and every grouped metric, and the overall AUC, reads
the same sorted arrays (:meth:`Metric.compute_sorted`), instead of each
metric sorting a million pairs again. The sorts themselves are in
:mod:`~lego_core.metrics.sort_keys`.

Example:
    >>> seg = segment(np.array([0.1, 0.9, 0.5]), np.array([1, 0, 1]), np.array([7, 7, 3]))
    >>> seg.num_groups, seg.rank.tolist(), seg.n_pos.tolist()
    (2, [1, 1, 2], [1, 1])
    >>> tied_ascending_ranks(seg).tolist()
    [1.0, 2.0, 1.0]
"""

from __future__ import annotations

import attrs
import numpy as np

from lego_core.metrics.sort_keys import group_order, score_order


@attrs.frozen
class Segments:
    """Pairs sorted by ``(group, score descending)``, with per-group counts.

    Per pair (length ``n``, in sorted order): ``scores``, ``positive``,
    ``group_of`` (index ``0..G-1`` of the pair's group) and ``rank`` (1-based
    rank within its group; equal scores keep input order). Per group (length
    ``G``, groups in increasing id order): ``starts`` (offset of its first
    pair), ``sizes``, ``n_pos`` and ``n_neg``. Per positive pair (in sorted
    order): ``positive_at`` (its position), ``positive_group`` and
    ``positive_rank``; metrics that only look at positives reduce these short
    arrays instead of masking all ``n`` pairs.
    """

    scores: np.ndarray
    positive: np.ndarray
    group_of: np.ndarray
    rank: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    n_pos: np.ndarray
    n_neg: np.ndarray
    positive_at: np.ndarray
    positive_group: np.ndarray
    positive_rank: np.ndarray

    @property
    def num_groups(self) -> int:
        return int(self.starts.shape[0])

    def per_group_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-pair array (sorted order) within each group, as float64."""
        return np.bincount(self.group_of, weights=values, minlength=self.num_groups)

    def per_group_positive_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-positive array (``positive_at`` order) within each group, as float64."""
        return np.bincount(self.positive_group, weights=values, minlength=self.num_groups)


def as_flat(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert inputs: float64 scores, boolean labels (``> 0.5``), int64 groups."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(labels).reshape(-1) > 0.5
    groups = np.asarray(groups).reshape(-1).astype(np.int64, copy=False)
    if not (scores.shape[0] == positive.shape[0] == groups.shape[0]):
        raise ValueError(
            f"metric inputs differ in length: scores has {scores.shape[0]}, labels "
            f"{positive.shape[0]}, groups {groups.shape[0]}; pass one entry per scored pair"
        )
    return scores, positive, groups


def segment(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Segments:
    """Sort pairs by ``(group, score descending)`` and compute group boundaries and counts.

    The sort is stable, so pairs with equal scores in one group keep their
    input order: rank-based metrics break ties that way.
    """
    scores, positive, groups = as_flat(scores, labels, groups)
    return grouped_segments(scores, positive, *group_order(score_order(scores), groups))


def grouped_segments(scores: np.ndarray, positive: np.ndarray, order: np.ndarray, group_keys: np.ndarray) -> Segments:
    """Segments of the pairs in ``order``; ``group_keys`` (in that order) are equal exactly within a group."""
    n = order.shape[0]
    new_group = np.empty(n, dtype=bool)
    new_group[:1] = True
    np.not_equal(group_keys[1:], group_keys[:-1], out=new_group[1:])
    starts = np.flatnonzero(new_group)
    group_of = np.cumsum(new_group) - 1
    rank = np.arange(1, n + 1) - starts[group_of]
    return _counted(scores[order], positive[order], group_of, rank, starts)


def one_segment(scores: np.ndarray, positive: np.ndarray, order: np.ndarray) -> Segments:
    """All pairs as one group in ``order`` (the overall AUC): no keys to compare, no ranks to offset."""
    n = order.shape[0]
    starts = np.zeros(min(n, 1), dtype=np.int64)
    return _counted(scores[order], positive[order], np.zeros(n, dtype=np.int64), np.arange(1, n + 1), starts)


def _counted(
    scores: np.ndarray, positive: np.ndarray, group_of: np.ndarray, rank: np.ndarray, starts: np.ndarray
) -> Segments:
    num_groups = starts.shape[0]
    sizes = np.diff(np.append(starts, scores.shape[0]))
    positive_at = np.flatnonzero(positive)
    positive_group = group_of[positive_at]
    n_pos = np.bincount(positive_group, minlength=num_groups)
    return Segments(
        scores=scores,
        positive=positive,
        group_of=group_of,
        rank=rank,
        starts=starts,
        sizes=sizes,
        n_pos=n_pos,
        n_neg=sizes - n_pos,
        positive_at=positive_at,
        positive_group=positive_group,
        positive_rank=rank[positive_at],
    )


def positive_ordinals(seg: Segments) -> np.ndarray:
    """Per positive (``positive_at`` order), how many positives of its group rank at or above it."""
    p = seg.positive_group.shape[0]
    first = np.empty(p, dtype=bool)
    first[:1] = True
    np.not_equal(seg.positive_group[1:], seg.positive_group[:-1], out=first[1:])
    # The position of the group's first positive, carried forward over the group's other positives.
    group_start = np.maximum.accumulate(np.where(first, np.arange(p), 0))
    return np.arange(1, p + 1) - group_start


def positive_ascending_rank_sums(seg: Segments) -> np.ndarray:
    """Per group, the sum of its positives' ascending ranks, ties averaged (Mann-Whitney's ``R_pos``).

    Without ties a positive's ascending rank is ``size + 1 - rank``, so the sum
    needs only the positives; with ties it reads :func:`tied_ascending_ranks`
    at them.
    """
    scores = seg.scores
    if scores.shape[0] > 1 and bool((scores[1:] == scores[:-1]).any()):
        return seg.per_group_positive_sum(tied_ascending_ranks(seg)[seg.positive_at])
    return seg.n_pos * (seg.sizes + 1.0) - seg.per_group_positive_sum(seg.positive_rank.astype(np.float64))


def tied_ascending_ranks(seg: Segments) -> np.ndarray:
    """Per pair, its 1-based rank by *ascending* score within its group, ties averaged.

    This is the rank used by the Mann-Whitney U statistic: a run of ``m``
    equal scores occupying descending ranks ``r..r+m-1`` all get the mean
    descending rank ``r + (m-1)/2``, and ascending rank = ``size + 1 -
    descending rank``.
    """
    n = seg.scores.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    # A tie run starts where the group starts or the score changes; sorted
    # order makes equal scores in a group contiguous.
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(seg.scores[1:], seg.scores[:-1], out=new_run[1:])
    new_run[seg.starts] = True
    if np.count_nonzero(new_run) == n:  # no ties: every run is one pair, its mean rank its own
        return seg.sizes[seg.group_of] + 1.0 - seg.rank
    run_starts = np.flatnonzero(new_run)
    run_of = np.cumsum(new_run) - 1
    run_last = np.append(run_starts[1:], n) - 1
    mean_desc = 0.5 * (seg.rank[run_starts] + seg.rank[run_last])
    return seg.sizes[seg.group_of] + 1.0 - mean_desc[run_of]


class SortedPairs:
    """A split's scored pairs, sorted once for every metric that needs an order.

    Args:
        scores, labels, groups: the flat arrays (as for :meth:`Metric.compute`).

    ``grouped`` is the :class:`Segments` by ``(group, score descending)``;
    ``overall`` the one-group :class:`Segments` by score (the overall AUC);
    both are computed on first use and share the one sort by score.
    """

    def __init__(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> None:
        self.scores, self.positive, self.groups = as_flat(scores, labels, groups)
        self.labels = labels
        self._by_score: np.ndarray | None = None
        self._grouped: Segments | None = None
        self._overall: Segments | None = None

    @property
    def by_score(self) -> np.ndarray:
        if self._by_score is None:
            self._by_score = score_order(self.scores)
        return self._by_score

    @property
    def grouped(self) -> Segments:
        if self._grouped is None:
            self._grouped = grouped_segments(self.scores, self.positive, *group_order(self.by_score, self.groups))
        return self._grouped

    @property
    def overall(self) -> Segments:
        if self._overall is None:
            self._overall = one_segment(self.scores, self.positive, self.by_score)
        return self._overall
