"""The one-sort keys of lego_core.metrics.segments give exactly the stable orders they replace."""

import zlib

import numpy as np
import pytest

from lego_core.metrics import sort_keys


def reference_orders(scores, groups):
    by_score = np.argsort(-scores, kind="stable")
    return by_score, np.lexsort((np.arange(len(scores)), -scores, groups))


def draw_scores(rng, n, kind):
    if kind == "float32":
        return rng.random(n).astype(np.float32).astype(np.float64)
    if kind == "float32 ties":
        return np.round(rng.normal(size=n), 1).astype(np.float32).astype(np.float64)
    if kind == "signed zeros and ties":
        return rng.choice([0.0, -0.0, 1.0, -1.0, 3.5, -2.25], size=n)
    if kind == "float64":  # not float32-exact: the unstable SIMD argsort, its ties repaired
        return rng.random(n)
    if kind == "float64 ties":  # 0.1 and most of its multiples are not float32-exact
        return np.round(rng.normal(size=n), 1)
    if kind == "with nan":  # NaN ties cannot be found by comparison: the stable argsort
        return np.where(rng.random(n) < 0.1, np.nan, np.round(rng.random(n), 1))
    return np.where(rng.random(n) < 0.1, np.inf, rng.random(n))  # non-finite: the fallback


@pytest.mark.parametrize(
    "kind", ["float32", "float32 ties", "signed zeros and ties", "float64", "float64 ties", "with inf", "with nan"]
)
@pytest.mark.parametrize("group_ids", ["dense", "sparse", "beyond 63 bits"])
def test_orders_equal_the_stable_sorts(kind, group_ids):
    rng = np.random.default_rng(zlib.crc32(f"{kind}/{group_ids}".encode()))
    for _ in range(30):
        n = int(rng.integers(1, 400))
        scores = draw_scores(rng, n, kind)
        if group_ids == "dense":
            groups = rng.integers(0, 12, n)
        elif group_ids == "sparse":
            groups = rng.choice(np.array([-3, 0, 7, 2**40, 5]), size=n)
        else:  # a span too wide to share a key with the index: the argsort fallback
            groups = rng.choice(np.array([-(2**62), 0, 2**62]), size=n)
        by_score, grouped = reference_orders(scores, groups)
        got = sort_keys.score_order(scores)
        np.testing.assert_array_equal(got, by_score)
        order, keys = sort_keys.group_order(got, groups)
        np.testing.assert_array_equal(order, grouped)
        # the keys change exactly where the group does
        np.testing.assert_array_equal(keys[1:] != keys[:-1], groups[order][1:] != groups[order][:-1])


def test_empty_input_has_empty_orders():
    empty = np.zeros(0)
    assert sort_keys.score_order(empty).shape == (0,)
    order, keys = sort_keys.group_order(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert order.shape == keys.shape == (0,)
