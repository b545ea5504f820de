"""Mean, standard deviation and a bootstrap interval of a handful of runs.

The interval is the percentile bootstrap of the mean (Efron & Tibshirani,
*An Introduction to the Bootstrap*, 1993, ch. 13): resample the runs with
replacement, take each resample's mean, and read the 2.5th and 97.5th
percentiles. It is computed from a fixed seed, so a report is the same every
time it is made. With few seeds it is coarse and narrower than a t interval:
with 3 runs the extreme resamples (all runs the lowest, all the highest) each
have probability 1/27 > 2.5%, so the interval is the range of the runs. It
says how much the mean moves with the seeds at hand, not more; use 5 or more
seeds for an interval worth quoting.

Example:
    >>> s = summarise([0.80, 0.82, 0.81])
    >>> round(s.mean, 4), round(s.std, 4), s.n
    (0.81, 0.01, 3)
    >>> s.low <= s.mean <= s.high
    True
    >>> summarise([0.7]).std is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

RESAMPLES = 10_000
LEVEL = 0.95
SEED = 0


@attrs.frozen
class Summary:
    """``mean`` and sample ``std`` (None for one run) of ``n`` values, and the interval ``[low, high]``."""

    mean: float
    std: float | None
    low: float
    high: float
    n: int
    values: tuple[float, ...]


def bootstrap_interval(
    values: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values``, vectorised over resamples."""
    data = np.asarray(values, dtype=np.float64)
    if len(data) == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def summarise(values: Sequence[float | None]) -> Summary:
    """Mean ± std and the 95% bootstrap interval of ``values`` (NaN values are dropped)."""
    kept = tuple(float(v) for v in values if v is not None and not math.isnan(v))
    if not kept:
        nan = float("nan")
        return Summary(mean=nan, std=None, low=nan, high=nan, n=0, values=())
    data = np.asarray(kept)
    low, high = bootstrap_interval(kept)
    return Summary(
        mean=float(data.mean()),
        std=float(data.std(ddof=1)) if len(kept) > 1 else None,
        low=low,
        high=high,
        n=len(kept),
        values=kept,
    )
