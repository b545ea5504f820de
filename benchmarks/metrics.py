"""Benchmark: the default metrics on a million pairs, against a per-group NumPy loop.

Run::

    python benchmarks/metrics.py --out metrics.json [--pairs 1000000] [--groups 100000]

Data: ``--pairs`` random scores (uniform floats: as float32 values, what a
model's scores are, then as float64 values; a third run with scores rounded to
2 decimals has many ties) and labels (10% positive), each pair in
one of ``--groups`` sparse random group ids, so group sizes are roughly
Poisson with mean ``pairs / groups``; some groups are single-class.

Ours: ``compute_metrics`` with the default metrics (auc, gauc, mrr, ndcg@5,
ndcg@10), the way an evaluation computes them: the pairs are sorted once and
every metric reads the sorted arrays. Each metric alone is timed too (it then
sorts for itself).

Baseline: the strongest simple alternative, a Python loop over groups that
does each group's work in NumPy (sort, ranks, cumulative sums), as MIND's
``evaluate.py`` does per impression; the groups are split beforehand and
that split is not timed (it favours the baseline). scikit-learn's per-call
input validation would make a slower baseline, so it is not used. Both sides
are checked to agree to 1e-9 before anything is timed. Best of ``--repeat``.
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

from lego_core.engine.evaluate import compute_metrics
from lego_core.metrics.base import Metric
from lego_core.metrics.ranking import AUCMetric, GAUCMetric, MRRMetric, NDCGMetric

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
    ranks = (np.searchsorted(sorted_scores, scores, "left") + np.searchsorted(sorted_scores, scores, "right") + 1) / 2
    return (ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def numpy_mrr(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """1 / rank of the first positive; stable sort, as ours."""
    hits = np.flatnonzero(labels[np.argsort(-scores, kind="stable")])
    return 1.0 / (hits[0] + 1) if hits.size else None


def numpy_ndcg(k: int) -> GroupFn:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))

    def ndcg(scores: np.ndarray, labels: np.ndarray) -> float | None:
        n_pos = int(labels.sum())
        if n_pos == 0:
            return None
        ranked = labels[np.argsort(-scores, kind="stable")][:k]
        return float(ranked @ discounts[: ranked.size] / discounts[: min(k, n_pos)].sum())

    return ndcg


# -------------------------------------------------------------------- harness


def make_data(pairs: int, groups: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.int64(2) ** 40, size=groups, replace=False)
    group_of_pair = ids[rng.integers(0, groups, size=pairs)]
    labels = (rng.random(pairs) < 0.1).astype(np.int8)
    return rng.random(pairs), labels, group_of_pair


def split_groups(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
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


def run_variant(variant: str, args: argparse.Namespace) -> dict[str, object]:
    scores, labels, groups = make_data(args.pairs, args.groups, args.seed)
    if variant == "ties":
        scores = np.round(scores, 2)
    elif variant == "float32":  # what a model's scores are: the evaluation's scores come from float32 tensors
        scores = scores.astype(np.float32).astype(np.float64)
    split = split_groups(scores, labels, groups)
    cases: dict[str, tuple[Metric, GroupFn | None]] = {
        "auc": (AUCMetric(), None),  # one group: the baseline is one NumPy call
        "gauc": (GAUCMetric(), numpy_auc),
        "mrr": (MRRMetric(), numpy_mrr),
        "ndcg@5": (NDCGMetric(5), numpy_ndcg(5)),
        "ndcg@10": (NDCGMetric(10), numpy_ndcg(10)),
    }
    metrics = [m for m, _ in cases.values()]

    def ours_all() -> dict[str, float]:
        return compute_metrics(metrics, scores, labels, groups)

    def overall_auc() -> float:
        return float(numpy_auc(scores, labels > 0) or float("nan"))

    def baseline_all() -> dict[str, float]:
        out = {"auc": overall_auc()}
        out.update({key: run_loop(fn, split) for key, (_, fn) in cases.items() if fn is not None})
        return out

    ours, reference = ours_all(), baseline_all()
    for key, value in ours.items():
        if not math.isclose(value, reference[key], rel_tol=0, abs_tol=1e-9):
            raise SystemExit(f"{variant} {key}: ours {value!r}, the baseline {reference[key]!r}")
    per_metric = {}
    for key, (metric, fn) in cases.items():
        mine = best_of(args.repeat, lambda m=metric: m(scores, labels, groups))
        base = best_of(args.repeat, (lambda f=fn: run_loop(f, split)) if fn is not None else overall_auc)
        per_metric[key] = {
            "ours_seconds": round(mine, 4),
            "baseline_seconds": round(base, 4),
            "speedup": round(base / mine, 1),
        }
    ours_seconds, base_seconds = best_of(args.repeat, ours_all), best_of(args.repeat, baseline_all)
    print(
        f"{variant}: all default metrics {ours_seconds:.3f}s, per-group NumPy loop {base_seconds:.3f}s "
        f"(x{base_seconds / ours_seconds:.1f})",
        flush=True,
    )
    return {
        "all_default_metrics": {
            "ours_seconds": round(ours_seconds, 4),
            "baseline_seconds": round(base_seconds, 4),
            "speedup": round(base_seconds / ours_seconds, 1),
        },
        "per_metric": per_metric,
        "values": ours,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write the figures to")
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result: dict[str, object] = {
        "pairs": args.pairs,
        "groups": args.groups,
        "baseline": "per-group NumPy loop (groups split beforehand, untimed)",
    }
    for variant in ("float32", "distinct", "ties"):
        result[variant] = run_variant(variant, args)
    result.update(python=platform.python_version(), numpy=np.__version__, cpu_count=os.cpu_count())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
