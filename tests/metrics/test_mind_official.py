"""Lego's metrics against MIND's official scoring, written out independently here.

MIND's ``evaluate.py`` (https://github.com/msnews/MIND) scores each impression on its own and
averages over impressions:

- AUC: ``roc_auc_score(labels, scores)`` of scikit-learn, i.e. the Mann-Whitney statistic,
  a tie between a positive and a negative counting 1/2;
- MRR: ``order = argsort(scores)[::-1]``, then ``sum(y[order] / rank) / sum(y)``: the mean
  reciprocal rank of *all* positives;
- nDCG@k: ``DCG = sum_{rank <= k} (2^y - 1) / log2(rank + 1)`` in that order, divided by the DCG
  of the labels sorted by themselves.

Ties. AUC needs no order. MRR and nDCG take the order of ``argsort(scores)[::-1]``: NumPy's
default sort is not stable (here an 8-element array already comes back unstable), so among tied
scores the official script's order is whatever its NumPy returns. The references below take that
order literally from ``np.argsort``, and lego is given each impression's candidates in that same
order: lego ranks tied candidates in input order, so it then reproduces the official ranking
exactly, whatever NumPy did. Without that reordering the two agree whenever ties stay within one
label, and otherwise differ by exactly the gap between the two tie orders, which the last test
pins down.

Lego's keys: ``gauc`` is MIND's AUC (per impression), ``mind_mrr`` its MRR (``mrr`` is the
reciprocal rank of the *first* positive only), ``ndcg@5`` and ``ndcg@10`` its nDCG.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from lego_core.metrics.ranking import GAUCMetric, MindMRRMetric, MRRMetric, NDCGMetric

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ the official formulas, per impression
def official_order(scores: np.ndarray) -> np.ndarray:
    """The official script's ranking: ``np.argsort(scores)[::-1]`` (ties as NumPy leaves them)."""
    return np.argsort(scores)[::-1]


def official_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The Mann-Whitney statistic by counting pairs; what ``roc_auc_score`` returns."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def official_mrr(labels: np.ndarray, scores: np.ndarray) -> float:
    ranked = labels[official_order(scores)]
    return float(sum(y / (rank + 1) for rank, y in enumerate(ranked)) / labels.sum())


def official_dcg(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    ranked = labels[official_order(scores)][:k]
    return float(sum((2**y - 1) / math.log2(rank + 2) for rank, y in enumerate(ranked)))


def official_ndcg(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    return official_dcg(labels, scores, k) / official_dcg(labels, labels.astype(np.float64), k)


# ------------------------------------------------------------------ fixtures with ties
def impressions_with_ties() -> list[tuple[np.ndarray, np.ndarray]]:
    """MIND-like impressions (every one has a click and a non-click), many tied scores.

    Hand-made cases first (a positive tied with negatives at the top, tied positives, an
    impression where every score ties, one of 24 candidates, past NumPy's small-array sort),
    then seeded random ones with scores on a coarse grid.
    """
    cases = [
        ([1, 0, 0], [0.5, 0.5, 0.5]),  # everything tied
        ([0, 1, 0, 0], [0.9, 0.9, 0.1, 0.9]),  # the click tied with two non-clicks at the top
        ([1, 1, 0, 0, 0], [0.3, 0.3, 0.3, 0.8, 0.1]),  # two tied clicks, tied with a non-click
        ([0, 0, 1], [0.2, 0.2, 0.7]),  # ties only among non-clicks
        ([0] * 20 + [1, 0, 1, 0], [0.25] * 12 + [0.5] * 12),  # 24 candidates, two tie blocks
    ]
    out = [(np.array(y, dtype=np.float64), np.array(s, dtype=np.float64)) for y, s in cases]
    rng = np.random.default_rng(13)
    while len(out) < 60:
        n = int(rng.integers(2, 40))
        labels = (rng.random(n) < 0.2).astype(np.float64)
        if 0 < labels.sum() < n:
            out.append((labels, rng.integers(0, 5, size=n) / 4.0))
    return out


def flat(impressions: list[tuple[np.ndarray, np.ndarray]], official_ordered: bool):
    """Lego's flat inputs; ``official_ordered``: each impression's pairs in the official ranking's order."""
    scores, labels, groups = [], [], []
    for g, (y, s) in enumerate(impressions):
        order = official_order(s) if official_ordered else np.arange(len(s))
        scores.append(s[order])
        labels.append(y[order])
        groups.append(np.full(len(s), g))
    return np.concatenate(scores), np.concatenate(labels), np.concatenate(groups)


IMPRESSIONS = impressions_with_ties()


def test_the_fixtures_tie_across_labels_and_sizes():
    assert all(0 < y.sum() < len(y) for y, _ in IMPRESSIONS)  # MIND: a click and a non-click each
    crossing = [y for y, s in IMPRESSIONS if any(len(set(y[s == v])) > 1 for v in np.unique(s))]
    assert len(crossing) >= 20  # many impressions tie a click with a non-click
    assert max(len(y) for y, _ in IMPRESSIONS) > 16


def test_auc_is_mind_auc_with_ties():
    """AUC needs no order: lego's gauc equals the official mean AUC on the raw, tied scores."""
    want = np.mean([official_auc(y, s) for y, s in IMPRESSIONS])
    got = GAUCMetric().compute(*flat(IMPRESSIONS, official_ordered=False))
    assert got.value == pytest.approx(want, abs=1e-12)
    assert (got.groups_used, got.groups_skipped) == (len(IMPRESSIONS), 0)


def test_pair_counting_is_what_the_official_script_calls():
    """The reference AUC above is scikit-learn's ``roc_auc_score``, which the official script uses."""
    metrics = sklearn_metrics()
    for y, s in IMPRESSIONS:
        assert official_auc(y, s) == pytest.approx(metrics.roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize(
    ("lego", "official"),
    [
        (MindMRRMetric(), official_mrr),
        (NDCGMetric(k=5), lambda y, s: official_ndcg(y, s, 5)),
        (NDCGMetric(k=10), lambda y, s: official_ndcg(y, s, 10)),
    ],
    ids=["mrr", "ndcg@5", "ndcg@10"],
)
def test_rank_metrics_are_mind_scoring_in_the_order_it_ranks_ties(lego, official):
    want = np.mean([official(y, s) for y, s in IMPRESSIONS])
    got = lego.compute(*flat(IMPRESSIONS, official_ordered=True))
    assert got.value == pytest.approx(want, abs=1e-12)
    assert got.groups_used == len(IMPRESSIONS)


def test_lego_mrr_is_not_mind_mrr_with_several_clicks():
    """``mrr`` counts the first click only; MIND averages over every click (``mind_mrr``)."""
    y, s = np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.8, 0.1])
    assert official_mrr(y, s) == pytest.approx((1 / 1 + 1 / 3) / 2)
    groups = np.zeros(3)
    assert MindMRRMetric()(s, y, groups) == pytest.approx(official_mrr(y, s))
    assert MRRMetric()(s, y, groups) == pytest.approx(1.0)


def test_without_reordering_ties_across_labels_follow_lego_input_order():
    """Lego ranks tied candidates first come, first ranked; MIND's script as NumPy's sort leaves them.

    An impression where a click ties with a non-click: lego's value depends on which comes first
    in its input, and equals the official formula under that tie order (a stable descending sort).
    """
    y, s = np.array([0.0, 1.0]), np.array([0.5, 0.5])
    groups = np.zeros(2)
    assert MindMRRMetric()(s, y, groups) == pytest.approx(0.5)  # the non-click came first
    assert MindMRRMetric()(s[::-1], y[::-1], groups) == pytest.approx(1.0)
    stable_first_come = np.argsort(-s, kind="stable")
    assert official_mrr(y[stable_first_come], np.arange(2.0, 0.0, -1.0)) == pytest.approx(0.5)
    assert GAUCMetric()(s, y, groups) == GAUCMetric()(s[::-1], y[::-1], groups) == official_auc(y, s) == 0.5


def test_scikit_learn_is_a_ci_test_requirement():
    """The scikit-learn cross-checks (here and in test_metrics.py) run, not skip, in CI."""
    requirements = (ROOT / ".ci" / "requirements.txt").read_text().lower().split()
    assert any(line.startswith("scikit-learn") for line in requirements)
    sklearn_metrics()


def sklearn_metrics():
    """``sklearn.metrics``; missing, it skips locally and fails in CI (``CI`` set), where it is required."""
    try:
        import sklearn.metrics as metrics
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("scikit-learn is in .ci/requirements.txt but not importable: the CI environment is wrong")
        pytest.skip("scikit-learn is not installed (pip install -r .ci/requirements.txt)")
    return metrics
