"""The cold-start report: a split's metrics on cold and warm items, and by user history length.

Content-based recommendation exists for the items an ID model knows nothing
about, so the final splits (``test`` of the default ``train.eval_splits``; every
evaluated split but the validation one) are also measured on parts of their
pairs, scored once (``train.cold_start = true``, the default):

- ``items.cold``: pairs whose item the model never saw in training: not in any
  pair of the ``train`` split, and not in the history of any user row that a
  ``train`` pair points at (a history item's vector is trained through the
  behavior operator). Negatives a matching task samples from the catalogue do
  not count as seen: they are drawn anew every epoch and carry no content.
- ``items.warm``: the other pairs.
- ``history``: pairs by the length of their user row's history in the depot,
  in the buckets of ``train.history_buckets`` (edges ``[1, 5, 10, 20, 50]``
  give ``0``, ``1-4``, ``5-9``, ``10-19``, ``20-49``, ``50+``).

Each part records its pair count, positives, distinct items (or users), and
the metrics on its pairs, grouped as usual (a GAUC impression keeps only its
pairs in that part). A metric a part cannot define (no positive, one class)
is ``null``. A depot without a ``train`` split gets no report (nothing is warm).

Example:
    >>> bucket_labels([1, 5, 10])
    ['0', '1-4', '5-9', '10+']
    >>> bucket_labels([3])
    ['0-2', '3+']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lego_core.data.depot import Depot
from lego_core.engine.evaluate import SplitPairs, compute_metrics
from lego_core.metrics.base import Metric


def bucket_labels(edges: Sequence[int]) -> list[str]:
    """Names of the history-length buckets cut at ``edges`` (increasing, positive)."""
    labels, low = [], 0
    for edge in edges:
        labels.append(str(low) if edge - 1 == low else f"{low}-{edge - 1}")
        low = edge
    labels.append(f"{low}+")
    return labels


def seen_in_training(depot: Depot) -> np.ndarray:
    """``(num_items,)`` bool: items of the ``train`` pairs and of the histories of their user rows."""
    seen = np.zeros(depot.items.num_rows, dtype=bool)
    train = depot.table("train")
    seen[np.asarray(train["item"], dtype=np.int64)] = True
    history = depot.users["history"]
    rows = np.unique(np.asarray(train["user"], dtype=np.int64))
    starts, ends = np.asarray(history.offsets[rows]), np.asarray(history.offsets[rows + 1])
    lengths = ends - starts
    if lengths.sum():
        # every history slot of those rows, gathered without a Python loop
        slots = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        seen[np.asarray(history.values)[slots]] = True
    return seen


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if math.isnan(v) else v) for k, v in metrics.items()}


def _part(
    mask: np.ndarray, pairs: SplitPairs, scores: np.ndarray, metrics: Sequence[Metric], count: str, of: np.ndarray
) -> dict[str, Any]:
    return {
        "pairs": int(mask.sum()),
        "positives": int((pairs.labels[mask] > 0.5).sum()),
        count: int(len(np.unique(of[mask]))),
        "metrics": _finite(compute_metrics(metrics, scores[mask], pairs.labels[mask], pairs.groups[mask])),
    }


def breakdown(
    depot: Depot,
    pairs: SplitPairs,
    scores: np.ndarray,
    metrics: Sequence[Metric],
    history_buckets: Sequence[int],
    seen: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """The cold-start report of one split's scored pairs, or None when the depot has no train split.

    Args:
        depot: the depot the pairs come from.
        pairs: the split's pairs (:class:`~lego_core.engine.evaluate.SplitPairs`).
        scores: their scores, in the same order.
        metrics: the experiment's metric objects.
        history_buckets: the edges of the history-length buckets (empty: no buckets).
        seen: :func:`seen_in_training` of the depot, when already computed.
    """
    if "train" not in depot.splits:
        return None
    seen = seen_in_training(depot) if seen is None else seen
    cold = ~seen[pairs.items]
    report: dict[str, Any] = {
        "items": {
            "cold": _part(cold, pairs, scores, metrics, "items", pairs.items),
            "warm": _part(~cold, pairs, scores, metrics, "items", pairs.items),
        },
    }
    if history_buckets:
        length = np.asarray(depot.users["history"].lengths)[pairs.rows]
        bucket = np.searchsorted(np.asarray(history_buckets), length, side="right")
        report["history"] = {
            label: _part(bucket == b, pairs, scores, metrics, "users", pairs.rows)
            for b, label in enumerate(bucket_labels(history_buckets))
            if (bucket == b).any()
        }
    return report
