"""The vectorised metrics against slow, textbook references written per group.

Random data has groups of 1..30 pairs, some single-class, with ids that are
neither contiguous nor sorted, and pairs shuffled across groups. Rank-based
metrics break ties by input order, which the references reproduce with
Python's stable ``sorted``; ``auc``/``gauc`` give ties half credit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lego_core.metrics import BUILTIN_METRICS
from lego_core.metrics.base import Metric, MetricValue
from lego_core.metrics.classification import F1Metric, LogLossMetric
from lego_core.metrics.ranking import (
    AUCMetric,
    GAUCMetric,
    HitRatioMetric,
    LRAPMetric,
    MindMRRMetric,
    MRRMetric,
    NDCGMetric,
    PrecisionMetric,
    RecallMetric,
)

SEEDS = range(4)
RANK_METRICS = (
    MRRMetric,
    MindMRRMetric,
    NDCGMetric,
    HitRatioMetric,
    RecallMetric,
    PrecisionMetric,
    LRAPMetric,
)
KS = (1, 3, 10, 100)


def random_pairs(seed: int, ties: bool, num_groups: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 31, size=num_groups)
    # Sparse, signed, unsorted ids.
    ids = rng.choice(2_000_000, size=num_groups, replace=False) - 1_000_000
    groups = np.repeat(ids, sizes)
    # Per-group positive rate: all-negative, all-positive or mixed groups.
    rate = rng.choice([0.0, 1.0, 0.2, 0.5], size=num_groups, p=[0.15, 0.1, 0.4, 0.35])
    labels = (rng.random(groups.shape[0]) < np.repeat(rate, sizes)).astype(np.float64)
    scores = rng.integers(0, 4, size=groups.shape[0]) / 4.0 if ties else rng.normal(size=groups.shape[0])
    order = rng.permutation(groups.shape[0])
    # Labels arrive as floats, ints or booleans.
    labels = [labels, labels.astype(np.int32), labels.astype(bool)][seed % 3][order]
    return scores[order], labels, groups[order]


def make(cls: type[Metric], k: int = 5) -> Metric:
    return cls(k) if cls.needs_k else cls()


# ---------------------------------------------------------------- references


def ref_auc(scores: list[float], labels: list[bool]) -> float | None:
    """Fraction of (positive, negative) pairs ordered correctly, ties counting 1/2."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    total = 0.0
    for p in pos:
        for n in neg:
            total += 1.0 if p > n else 0.5 if p == n else 0.0
    return total / (len(pos) * len(neg))


def ranked_labels(scores: list[float], labels: list[bool]) -> list[bool]:
    """Labels by descending score; ``sorted`` is stable, so ties keep input order."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return [labels[i] for i in order]


def ref_rank_metric(name: str, k: int, ranked: list[bool]) -> float | None:
    n_pos = sum(ranked)
    if n_pos == 0:
        return None
    positive_ranks = [r for r, y in enumerate(ranked, start=1) if y]
    top_k = sum(ranked[:k])
    if name == "mrr":
        return 1.0 / positive_ranks[0]
    if name == "mind_mrr":
        return sum(1.0 / r for r in positive_ranks) / n_pos
    if name == "ndcg":
        dcg = sum(1.0 / math.log2(r + 1) for r in positive_ranks if r <= k)
        idcg = sum(1.0 / math.log2(r + 1) for r in range(1, min(k, n_pos) + 1))
        return dcg / idcg
    if name == "hit":
        return float(top_k > 0)
    if name == "recall":
        return top_k / n_pos
    if name == "precision":
        return top_k / k
    if name == "lrap":
        return sum(sum(1 for q in positive_ranks if q <= r) / r for r in positive_ranks) / n_pos
    raise AssertionError(name)


def ref_grouped(metric: Metric, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> MetricValue:
    """Loop over groups in input order and average the per-group textbook value."""
    values, skipped = [], 0
    for g in dict.fromkeys(groups.tolist()):
        idx = np.flatnonzero(groups == g)
        s, y = scores[idx].tolist(), (labels[idx] > 0.5).tolist()
        if metric.name == "gauc":
            v = ref_auc(s, y)
        else:
            v = ref_rank_metric(metric.name, metric.k or 0, ranked_labels(s, y))
        if v is None:
            skipped += 1
        else:
            values.append(v)
    value = sum(values) / len(values) if values else float("nan")
    return MetricValue(value, len(values), skipped)


def assert_same(got: MetricValue, want: MetricValue) -> None:
    assert (got.groups_used, got.groups_skipped) == (want.groups_used, want.groups_skipped)
    if math.isnan(want.value):
        assert math.isnan(got.value)
    else:
        assert got.value == pytest.approx(want.value, abs=1e-9, rel=0)


# ---------------------------------------------------------- against references


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
def test_auc_matches_pairwise_definition(seed: int, ties: bool) -> None:
    scores, labels, groups = random_pairs(seed, ties)
    want = ref_auc(scores.tolist(), (labels > 0.5).tolist())
    assert_same(AUCMetric().compute(scores, labels, groups), MetricValue(want, 1, 0))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
def test_gauc_matches_per_group_pairwise_definition(seed: int, ties: bool) -> None:
    scores, labels, groups = random_pairs(seed, ties)
    metric = GAUCMetric()
    want = ref_grouped(metric, scores, labels, groups)
    assert want.groups_skipped > 0  # the data does exercise single-class groups
    assert_same(metric.compute(scores, labels, groups), want)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties_by_input_order"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cls", RANK_METRICS, ids=lambda c: c.name)
def test_rank_metrics_match_references(cls: type[Metric], seed: int, ties: bool) -> None:
    scores, labels, groups = random_pairs(seed, ties)
    for k in KS if cls.needs_k else (None,):
        metric = cls(k)
        assert_same(metric.compute(scores, labels, groups), ref_grouped(metric, scores, labels, groups))


# ------------------------------------------------------------- tie-breaking


@pytest.mark.parametrize("cls", RANK_METRICS, ids=lambda c: c.name)
def test_rank_metrics_break_ties_by_input_order(cls: type[Metric]) -> None:
    # All scores equal; groups interleaved. The positive comes first in group 9
    # and last in group 4, so group 9 ranks it 1st and group 4 ranks it 3rd.
    scores = np.full(6, 0.5)
    groups = np.array([9, 4, 9, 4, 9, 4])
    labels = np.array([1, 0, 0, 0, 0, 1])
    metric = make(cls, k=2)
    expected = {
        "mrr": (1 + 1 / 3) / 2,
        "mind_mrr": (1 + 1 / 3) / 2,
        "ndcg": (1 + 0) / 2,
        "hit": (1 + 0) / 2,
        "recall": (1 + 0) / 2,
        "precision": (0.5 + 0) / 2,
        "lrap": (1 + 1 / 3) / 2,
    }[cls.name]
    assert metric(scores, labels, groups) == pytest.approx(expected, abs=1e-12)
    # Reversing the input order reverses which group wins.
    assert metric(scores[::-1], labels[::-1], groups[::-1]) == pytest.approx(expected, abs=1e-12)
    assert metric(scores, labels[[5, 1, 2, 3, 4, 0]], groups) == pytest.approx(
        ref_grouped(metric, scores, labels[[5, 1, 2, 3, 4, 0]], groups).value, abs=1e-12
    )


def test_auc_gives_ties_half_credit() -> None:
    scores = np.array([0.3, 0.3, 0.3, 0.7])
    labels = np.array([1, 0, 0, 1])
    groups = np.array([1, 1, 2, 2])
    # Group 1: one tied pair -> 0.5; group 2: 0.7 > 0.3 -> 1.
    assert GAUCMetric()(scores, labels, groups) == pytest.approx(0.75)
    # Globally: positives {0.3, 0.7} vs negatives {0.3, 0.3}: (0.5 + 0.5 + 1 + 1) / 4.
    assert AUCMetric()(scores, labels, groups) == pytest.approx(0.75)


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("cls", BUILTIN_METRICS, ids=lambda c: c.name)
def test_empty_input_is_nan(cls: type[Metric]) -> None:
    empty = np.zeros(0)
    value = make(cls).compute(empty, empty, empty.astype(np.int64))
    assert math.isnan(value.value)
    assert (value.groups_used, value.groups_skipped) == (0, 0)


@pytest.mark.parametrize("cls", [GAUCMetric, *RANK_METRICS], ids=lambda c: c.name)
def test_all_groups_skipped_is_nan_with_counts(cls: type[Metric]) -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    groups = np.array([3, 8, 3, 1, 8])
    value = make(cls).compute(scores, np.zeros(5), groups)
    assert math.isnan(value.value)
    assert (value.groups_used, value.groups_skipped) == (0, 3)


def test_gauc_skips_all_positive_groups_too() -> None:
    value = GAUCMetric().compute(np.array([0.1, 0.2, 0.3]), np.ones(3), np.array([1, 1, 2]))
    assert math.isnan(value.value)
    assert (value.groups_used, value.groups_skipped) == (0, 2)


def test_auc_with_one_class_is_nan_and_skipped() -> None:
    value = AUCMetric().compute(np.array([0.1, 0.2]), np.ones(2), np.array([1, 2]))
    assert math.isnan(value.value)
    assert (value.groups_used, value.groups_skipped) == (0, 1)


def test_k_larger_than_every_group() -> None:
    scores = np.array([0.9, 0.1, 0.5, 0.2])
    labels = np.array([0, 1, 1, 0])
    groups = np.array([1, 1, 2, 2])
    # Group 1: positive at rank 2 of 2; group 2: positive at rank 1 of 2.
    assert NDCGMetric(50)(scores, labels, groups) == pytest.approx((1 / math.log2(3) + 1) / 2)
    assert HitRatioMetric(50)(scores, labels, groups) == 1.0
    assert RecallMetric(50)(scores, labels, groups) == 1.0
    assert PrecisionMetric(50)(scores, labels, groups) == pytest.approx(1 / 50)


def test_single_pair_groups() -> None:
    value = NDCGMetric(10).compute(np.array([0.3, 0.4]), np.array([1, 0]), np.array([5, 6]))
    assert (value.value, value.groups_used, value.groups_skipped) == (1.0, 1, 1)


@pytest.mark.parametrize("cls", [c for c in BUILTIN_METRICS if c.needs_k], ids=lambda c: c.name)
def test_cut_off_is_required(cls: type[Metric]) -> None:
    with pytest.raises(ValueError, match=rf"needs a cut-off: write it as {cls.name}@K"):
        cls()
    with pytest.raises(ValueError, match="needs a cut-off"):
        cls(0)
    assert cls(10).key == f"{cls.name}@10"


@pytest.mark.parametrize("cls", [c for c in BUILTIN_METRICS if not c.needs_k], ids=lambda c: c.name)
def test_cut_off_is_refused(cls: type[Metric]) -> None:
    with pytest.raises(ValueError, match=rf"takes no cut-off; write '{cls.name}' without @5"):
        cls(5)
    assert cls().key == cls.name


def test_length_mismatch_names_both_lengths() -> None:
    with pytest.raises(ValueError, match="scores has 3, labels 2, groups 3"):
        GAUCMetric()(np.zeros(3), np.zeros(2), np.zeros(3))


def test_builtin_metrics_are_distinct_metrics() -> None:
    names = [cls.name for cls in BUILTIN_METRICS]
    assert len(set(names)) == len(names) == 11
    assert all(issubclass(cls, Metric) for cls in BUILTIN_METRICS)
    assert {cls.name for cls in BUILTIN_METRICS if cls.on_probabilities} == {"logloss", "f1"}
    assert {cls.name for cls in BUILTIN_METRICS if not cls.higher_is_better} == {"logloss"}
    assert {cls.name for cls in BUILTIN_METRICS if not cls.grouped} == {"auc", "logloss", "f1"}


# ---------------------------------------------------------- classification


@pytest.mark.parametrize("seed", SEEDS)
def test_logloss_matches_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = np.concatenate([rng.random(200), [0.0, 1.0, 0.0, 1.0]])
    labels = np.concatenate([rng.integers(0, 2, 200), [0, 1, 1, 0]])
    total = 0.0
    for p, y in zip(probs.tolist(), labels.tolist(), strict=True):
        p = min(max(p, 1e-7), 1 - 1e-7)
        total -= math.log(p) if y else math.log(1 - p)
    value = LogLossMetric().compute(probs, labels, np.zeros(204))
    assert value.value == pytest.approx(total / 204, abs=1e-9, rel=0)
    assert (value.groups_used, value.groups_skipped) == (1, 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_f1_matches_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = np.concatenate([rng.random(200), [0.5]])  # 0.5 itself predicts positive
    labels = np.concatenate([rng.integers(0, 2, 200), [1]])
    tp = sum(1 for p, y in zip(probs, labels, strict=True) if p >= 0.5 and y)
    fp = sum(1 for p, y in zip(probs, labels, strict=True) if p >= 0.5 and not y)
    fn = sum(1 for p, y in zip(probs, labels, strict=True) if p < 0.5 and y)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    want = 2 * precision * recall / (precision + recall)
    assert F1Metric()(probs, labels, np.zeros(201)) == pytest.approx(want, abs=1e-9, rel=0)


def test_f1_undefined_without_any_positive() -> None:
    value = F1Metric().compute(np.array([0.1, 0.2]), np.zeros(2), np.zeros(2))
    assert math.isnan(value.value)
    assert (value.groups_used, value.groups_skipped) == (0, 1)


def test_f1_threshold_is_a_class_attribute() -> None:
    class StrictF1(F1Metric):
        threshold = 0.8

    probs, labels = np.array([0.7, 0.9]), np.array([1, 1])
    assert F1Metric()(probs, labels, np.zeros(2)) == 1.0
    assert StrictF1()(probs, labels, np.zeros(2)) == pytest.approx(2 / 3)


# ------------------------------------------------------------ scikit-learn


@pytest.mark.parametrize("seed", SEEDS)
def test_auc_and_gauc_match_sklearn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    scores, labels, groups = random_pairs(seed, ties=True)
    assert AUCMetric()(scores, labels, groups) == pytest.approx(metrics.roc_auc_score(labels > 0.5, scores), abs=1e-9)
    per_group = []
    for g in np.unique(groups):
        y, s = labels[groups == g] > 0.5, scores[groups == g]
        if 0 < y.sum() < y.size:
            per_group.append(metrics.roc_auc_score(y, s))
    assert GAUCMetric()(scores, labels, groups) == pytest.approx(np.mean(per_group), abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_ndcg_and_lrap_match_sklearn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    # Distinct scores: scikit-learn resolves ties differently (averaging for
    # NDCG, pessimistically for LRAP). It also refuses NDCG on one document.
    scores, labels, groups = random_pairs(seed, ties=False)
    sizes = dict(zip(*np.unique(groups, return_counts=True), strict=True))
    keep = np.array([sizes[g] > 1 for g in groups.tolist()])
    scores, labels, groups = scores[keep], labels[keep], groups[keep]
    ndcg, lrap = {k: [] for k in KS}, []
    for g in np.unique(groups):
        y, s = (labels[groups == g] > 0.5).astype(float)[None, :], scores[groups == g][None, :]
        if y.sum() == 0:
            continue
        for k in KS:
            ndcg[k].append(metrics.ndcg_score(y, s, k=k))
        lrap.append(metrics.label_ranking_average_precision_score(y, s))
    for k in KS:
        assert NDCGMetric(k)(scores, labels, groups) == pytest.approx(np.mean(ndcg[k]), abs=1e-9)
    assert LRAPMetric()(scores, labels, groups) == pytest.approx(np.mean(lrap), abs=1e-9)
