"""Benchmark: vectorised grouped metrics against a per-group Python loop.

Run::

    python benchmarks/metrics.py --out metrics.json [--pairs 1000000] [--groups 100000]

Data: ``--pairs`` random scores (uniform floats, so ties are practically
absent) and labels (10% positive), each pair assigned to one of ``--groups``
sparse random group ids, so group sizes are roughly Poisson with mean
``pairs / groups``; some groups are single-class or have one pair.

Ours: :class:`GAUCMetric`, :class:`MRRMetric` and ``NDCGMetric(10)`` on all
pairs, best of ``--repeat`` runs, each run including the sort.

Baseline: a Python loop over groups, what evaluation scripts such as MIND's
``evaluate.py`` do. With scikit-learn importable, gauc calls
``sklearn.metrics.roc_auc_score`` and ndcg@10 calls ``sklearn.metrics.ndcg_score``
per group; scikit-learn has no MRR, so mrr is always a NumPy per-group loop.
Without scikit-learn every baseline is a NumPy per-group loop. The JSON
records which under ``"baseline"``.

The loop over all groups would take minutes, so it is timed on a random
subset of ``--baseline-groups`` groups (``"baseline_groups_timed"``) and its
time extrapolated linearly to all groups: per-group cost does not depend on
how many other groups there are, since the groups are split beforehand (the
split is not timed, which favours the baseline). Both sides are checked to
agree within 1e-6 on that subset before anything is timed.

The timings are wall-clock on a shared machine: compare speedups, not
absolute seconds, across machines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lego_core.metrics.base import Metric
from lego_core.metrics.ranking import GAUCMetric, MRRMetric, NDCGMetric

try:
    import sklearn
    from sklearn.metrics import ndcg_score, roc_auc_score
except ImportError:  # scikit-learn is not a dependency of lego-core
    sklearn = None

GroupFn = Callable[[np.ndarray, np.ndarray], "float | None"]


# ------------------------------------------------- per-group baseline functions


def numpy_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Mann-Whitney AUC of one group, ties averaged; None if single-class."""
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    sorted_scores = np.sort(scores)
    # Average rank of each score: mean of its first and last 1-based position.
    ranks = (
        np.searchsorted(sorted_scores, scores, "left") + np.searchsorted(sorted_scores, scores, "right") + 1
    ) / 2
    return (ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def sklearn_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, scores))


def numpy_mrr(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """1 / rank of the first positive; stable sort, as ours."""
    hits = np.flatnonzero(labels[np.argsort(-scores, kind="stable")])
    return 1.0 / (hits[0] + 1) if hits.size else None


def numpy_ndcg10(scores: np.ndarray, labels: np.ndarray) -> float | None:
    n_pos = int(labels.sum())
    if n_pos == 0:
        return None
    ranked = labels[np.argsort(-scores, kind="stable")][:10]
    discounts = 1.0 / np.log2(np.arange(2, 12))
    return float(ranked @ discounts[: ranked.size] / discounts[: min(10, n_pos)].sum())


def sklearn_ndcg10(scores: np.ndarray, labels: np.ndarray) -> float | None:
    if not labels.any():
        return None
    if labels.size == 1:  # ndcg_score refuses a single document; its NDCG is 1
        return 1.0
    return float(ndcg_score(labels[None, :].astype(np.float64), scores[None, :], k=10))


# -------------------------------------------------------------------- harness


def make_data(pairs: int, groups: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.int64(2) ** 40, size=groups, replace=False)
    group_of_pair = ids[rng.integers(0, groups, size=pairs)]
    labels = (rng.random(pairs) < 0.1).astype(np.int8)
    return rng.random(pairs), labels, group_of_pair


def split_groups(
    scores: np.ndarray, labels: np.ndarray, groups: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.argsort(groups, kind="stable")
    cuts = np.flatnonzero(np.diff(groups[order])) + 1
    return list(zip(np.split(scores[order], cuts), np.split(labels[order] > 0, cuts), strict=True))


def run_loop(fn: GroupFn, split: list[tuple[np.ndarray, np.ndarray]]) -> float:
    values = [v for v in (fn(s, y) for s, y in split) if v is not None]
    return float(np.mean(values)) if values else float("nan")


def best_of(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write the figures to")
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument(
        "--baseline-groups", type=int, default=5_000, help="groups the baseline loop is timed on"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    scores, labels, groups = make_data(args.pairs, args.groups, args.seed)
    present = np.unique(groups)
    rng = np.random.default_rng(args.seed + 1)
    timed_ids = (
        present
        if present.size <= args.baseline_groups
        else rng.choice(present, args.baseline_groups, replace=False)
    )
    in_subset = np.isin(groups, timed_ids)
    split = split_groups(scores[in_subset], labels[in_subset], groups[in_subset])

    cases: dict[str, tuple[Metric, GroupFn, str]] = {
        "gauc": (
            GAUCMetric(),
            sklearn_auc if sklearn else numpy_auc,
            "roc_auc_score" if sklearn else "numpy",
        ),
        "mrr": (MRRMetric(), numpy_mrr, "numpy"),
        "ndcg@10": (
            NDCGMetric(10),
            sklearn_ndcg10 if sklearn else numpy_ndcg10,
            "ndcg_score" if sklearn else "numpy",
        ),
    }
    figures: dict[str, object] = {}
    seconds: dict[str, dict[str, float]] = {}
    for key, (metric, fn, _) in cases.items():
        ours_subset = metric(scores[in_subset], labels[in_subset], groups[in_subset])
        baseline_subset = run_loop(fn, split)
        if not math.isclose(ours_subset, baseline_subset, rel_tol=0, abs_tol=1e-6):
            raise SystemExit(
                f"{key}: ours gives {ours_subset!r}, the baseline {baseline_subset!r} on the same groups"
            )
        ours = best_of(args.repeat, lambda m=metric: m(scores, labels, groups))
        timed = best_of(args.repeat, lambda f=fn: run_loop(f, split))
        extrapolated = timed * present.size / len(split)
        seconds[key] = {"ours": ours, "baseline": extrapolated, "baseline_timed": timed}
        figures[f"speedup_{key}"] = extrapolated / ours
        figures[f"value_{key}"] = metric(scores, labels, groups)
        print(
            f"{key:8s} ours {ours:8.4f}s  baseline {extrapolated:9.3f}s (extrapolated)  x{extrapolated / ours:,.0f}"
        )

    result = {
        "pairs": args.pairs,
        "groups": args.groups,
        "groups_present": int(present.size),
        "baseline": (
            f"per-group loop, scikit-learn {sklearn.__version__}" if sklearn else "per-group NumPy loop"
        ),
        "baseline_per_metric": {key: name for key, (_, _, name) in cases.items()},
        "baseline_groups_timed": len(split),
        "baseline_extrapolated": len(split) < present.size,
        "repeat": args.repeat,
        "seconds": seconds,
        **figures,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
