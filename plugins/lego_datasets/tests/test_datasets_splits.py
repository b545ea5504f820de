"""Property tests of the rating-log protocol on random logs, against a slow reference implementation."""

from __future__ import annotations

import numpy as np
import pytest

from lego_datasets.splits import RatingOptions, Ratings, assign_splits, sample_negatives, split_ratings

NUM_ITEMS = 25


def random_log(seed: int, presplit: bool) -> Ratings:
    """A small log with many equal timestamps, repeated (person, item) pairs and float times."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    return Ratings(
        person=rng.integers(0, 8, size=n),
        item=rng.integers(0, NUM_ITEMS, size=n),
        time=rng.integers(0, 40, size=n).astype(np.float64) * 1.5,
        label=(rng.random(n) < 0.6).astype(np.float32),
        split=rng.integers(0, 3, size=n).astype(np.int8) if presplit else None,
    )


def reference_history(r: Ratings, split: np.ndarray, rows: np.ndarray, level: int, max_history: int) -> list[int]:
    """The protocol, spelled out: earlier positives of the same person from splits <= level, minus targets."""
    person, start = r.person[rows[0]], r.time[rows].min()
    targets = set(r.item[rows].tolist())
    earlier = [
        (r.time[j], j, int(r.item[j]))
        for j in range(len(r.person))
        if r.person[j] == person and r.label[j] > 0 and split[j] <= level and r.time[j] < start
    ]
    items = [item for _, _, item in sorted(earlier) if item not in targets]
    return items[-max_history:] if max_history else items


@pytest.mark.parametrize("seed", range(40))
def test_histories_and_tables_match_the_reference(seed: int) -> None:
    presplit = seed % 2 == 0
    r = random_log(seed, presplit)
    o = RatingOptions(
        split_by="time" if seed % 3 == 0 else "user",
        context_size=1 + seed % 4,
        max_history=seed % 5,
        eval_negatives=seed % 3,
    )
    ctx = split_ratings(r, NUM_ITEMS, o)
    n = len(r.person)
    split = assign_splits(r, o)
    if presplit:
        assert np.array_equal(split, r.split)
    order = np.arange(n) if presplit else np.lexsort((np.arange(n), r.time, r.person))
    context = np.full(n, -1)
    for level, name in enumerate(("train", "valid", "test")):
        rated = order[split[order] == level]  # file order when pre-split, else by person and time
        if name not in ctx.tables:
            assert not len(rated)
            continue
        table = {k: np.asarray(c.data) for k, c in ctx.tables[name].items()}
        assert np.array_equal(table["item"][: len(rated)], r.item[rated])
        assert np.array_equal(table["label"][: len(rated)], r.label[rated])
        assert np.array_equal(table["time"][: len(rated)], np.floor(r.time[rated]).astype(np.int64))
        context[rated] = table["user"][: len(rated)]
        sampled, sampled_users = table["item"][len(rated) :], table["user"][len(rated) :]
        assert np.all(table["label"][len(rated) :] == 0) and (level > 0 or not len(sampled))
        for u in np.unique(sampled_users):
            got = sampled[sampled_users == u].tolist()
            rated_items = set(r.item[r.person == ctx.person[u]].tolist())
            assert len(set(got)) == len(got) and not rated_items & set(got)
            assert len(got) == min(o.eval_negatives, NUM_ITEMS - len(rated_items))
        # one group per person and split
        groups = {(int(ctx.person[u]), g) for u, g in zip(table["user"], table["group"], strict=True)}
        assert len({g for _, g in groups}) == len({p for p, _ in groups}) == len(groups)
    assert (context >= 0).all()
    for c in range(len(ctx.person)):
        rows = np.flatnonzero(context == c)
        assert len(rows), "a users row without interactions"
        assert (r.person[rows] == ctx.person[c]).all() and (split[rows] == ctx.split[c]).all()
        assert len(rows) <= (o.context_size if ctx.split[c] == 0 else n)
        expected = reference_history(r, split, rows, int(ctx.split[c]), o.max_history)
        assert ctx.history.row(c).tolist() == expected


@pytest.mark.parametrize("seed", range(20))
def test_split_assignment(seed: int) -> None:
    r = random_log(seed, presplit=False)
    by_user = assign_splits(r, RatingOptions(valid_fraction=0.2, test_fraction=0.1))
    for person in np.unique(r.person):
        rows = np.flatnonzero(r.person == person)
        rows = rows[np.lexsort((rows, r.time[rows]))]
        levels = by_user[rows]
        assert (np.diff(levels) >= 0).all()  # train, then valid, then test, in time order
        count = len(rows)
        n_test = min(max(int(np.floor(count * 0.1 + 0.5)), 1), count - 1)
        n_valid = min(max(int(np.floor(count * 0.2 + 0.5)), 1), max(count - 1 - n_test, 0))
        assert [(levels == k).sum() for k in (2, 1)] == [n_test, n_valid]
    by_time = assign_splits(r, RatingOptions(split_by="time"))
    for earlier, later in ((0, 1), (1, 2), (0, 2)):
        if (by_time == earlier).any() and (by_time == later).any():
            assert r.time[by_time == earlier].max() < r.time[by_time == later].min()


def test_sample_negatives_when_almost_everything_is_rated() -> None:
    rated = np.array([0 * 10 + i for i in range(9)] + [1 * 10 + i for i in range(3)])
    got = sample_negatives(np.random.default_rng(0), np.array([0, 1, 0]), rated, 10, 4)
    assert got[0].tolist() == [9, -1, -1, -1] and got[2].tolist() == [9, -1, -1, -1]
    assert sorted(got[1].tolist()) == sorted(set(got[1].tolist())) and set(got[1].tolist()) <= set(range(3, 10))
