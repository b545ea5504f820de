"""The lean split protocol gives exactly the output of the original one, in a fraction of the memory.

``lego_datasets.splits`` was rewritten to prepare Netflix-sized logs (100M
ratings) in bounded memory (its sorted-order steps now in
``lego_datasets.contexts``): one packed sort instead of ``np.lexsort``,
contexts as runs of the sorted order, histories and sampled negatives built
in batches, no full-size int64 temporaries. Its output must not change, so
the functions as they were before (``*_v1`` below, copied verbatim from the
commit before the rewrite, kept only here) are the reference: same arrays,
same dtypes, same ``info``, same depot bytes.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lego_core.data.depot import Column, Depot
from lego_core.data.prepare import prepare
from lego_core.data.ragged import Ragged
from lego_datasets import contexts, splits
from lego_datasets.splits import SAMPLING_ROUNDS, SPLITS, Contexts, RatingOptions, Ratings

FIXTURES = Path(__file__).parent / "fixtures"


# ---- the protocol before the memory work (reference only) ---------------------------------------------------


def assign_splits_v1(r: Ratings, o: RatingOptions, order: np.ndarray | None = None) -> np.ndarray:
    """0/1/2 per rating: the given split, or the time-ordered one of ``o.split_by``.

    ``order`` is :func:`person_time_order` of ``r`` when the caller has it already.
    """
    n = len(r.person)
    if r.split is not None:
        return np.asarray(r.split, dtype=np.int8)
    split = np.zeros(n, dtype=np.int8)
    if n == 0:
        return split
    if o.split_by == "time":
        times = np.sort(r.time, kind="stable")
        for level, fraction in ((1, o.valid_fraction + o.test_fraction), (2, o.test_fraction)):
            first = n - int(np.floor(n * fraction + 0.5))
            if fraction > 0 and first < n:
                split[r.time >= times[first]] = level
        return split
    order = person_time_order_v1(r) if order is None else order
    counts = np.bincount(r.person)

    def part(fraction: float) -> np.ndarray:
        return np.maximum(np.floor(counts * fraction + 0.5), 1).astype(np.int64) if fraction > 0 else 0 * counts

    n_test = np.minimum(part(o.test_fraction), np.maximum(counts - 1, 0))
    n_valid = np.minimum(part(o.valid_fraction), np.maximum(counts - 1 - n_test, 0))
    person = r.person[order]
    from_end = np.cumsum(counts)[person] - np.arange(n)  # 1 for a user's last rating
    split[order] = np.where(from_end <= n_test[person], 2, np.where(from_end <= (n_test + n_valid)[person], 1, 0))
    return split


def person_time_order_v1(r: Ratings) -> np.ndarray:
    """Rating indices sorted by person, then time, then file order."""
    return np.lexsort((np.arange(len(r.person)), r.time, r.person))


def split_ratings_v1(r: Ratings, num_items: int, o: RatingOptions) -> Contexts:
    """History contexts and interaction tables (steps 2-5 of the protocol)."""
    n = len(r.person)
    order = person_time_order_v1(r)
    split = assign_splits_v1(r, o, order)
    trank = np.unique(r.time, return_inverse=True)[1].reshape(-1).astype(np.int64)
    span = int(trank.max(initial=0)) + 2
    person, level, tr, item = r.person[order], split[order], trank[order], r.item[order]

    # contexts: (person, split, chunk of context_size train ratings)
    is_train = level == 0
    counts = np.bincount(person, minlength=1)
    seen_train = np.cumsum(is_train)
    first = np.cumsum(counts) - counts
    before = np.where(first > 0, seen_train[np.maximum(first - 1, 0)], 0)
    chunk = np.where(is_train, (seen_train - 1 - before[person]) // o.context_size, 0)
    key = (person.astype(np.int64) * 3 + level) * (int(chunk.max(initial=0)) + 1) + chunk
    _, first_row, ctx_sorted = np.unique(key, return_index=True, return_inverse=True)
    ctx_sorted = ctx_sorted.reshape(-1)
    num_ctx = len(first_row)
    ctx_person, ctx_split, ctx_start = person[first_row], level[first_row], tr[first_row]  # earliest rating

    # candidate history: positives of splits <= the row's split, strictly before its earliest rating
    positive = r.label[order] > 0
    keys, values, begin, end = [], [], np.zeros(num_ctx, np.int64), np.zeros(num_ctx, np.int64)
    base = 0
    for lv in range(3):
        sel = positive & (level <= lv)
        lv_keys = person[sel].astype(np.int64) * span + tr[sel]
        rows = ctx_split == lv
        begin[rows] = base + np.searchsorted(lv_keys, ctx_person[rows].astype(np.int64) * span, "left")
        end[rows] = base + np.searchsorted(lv_keys, ctx_person[rows].astype(np.int64) * span + ctx_start[rows], "left")
        keys.append(lv_keys)
        values.append(item[sel])
        base += len(lv_keys)
    pool = np.concatenate(values) if values else np.zeros(0, np.int64)
    targets = sorted_unique_v1(ctx_sorted.astype(np.int64) * num_items + item)
    available = end - begin
    width = available.copy()
    if o.max_history > 0:  # the last max_history + (targets) candidates are usually enough ...
        width = np.minimum(available, o.max_history + np.bincount(ctx_sorted, minlength=num_ctx))
    while True:
        history_ctx = np.repeat(np.arange(num_ctx), width)
        starts = np.cumsum(width) - width
        history = pool[np.arange(int(width.sum())) - np.repeat(starts, width) + np.repeat(end - width, width)]
        keep = ~member_v1(history_ctx * num_items + history, targets)
        history, history_ctx = history[keep], history_ctx[keep]
        kept = np.bincount(history_ctx, minlength=num_ctx)
        short = (kept < o.max_history) & (width < available)
        if o.max_history == 0 or not short.any():
            break
        width[short] = np.minimum(available, 2 * width + 1)[short]  # ... unless a target was rated repeatedly
    if o.max_history > 0:
        rank = np.arange(len(history)) - (np.cumsum(kept) - kept)[history_ctx]
        recent = rank >= (kept - o.max_history)[history_ctx]
        history, history_ctx = history[recent], history_ctx[recent]
    lengths = np.bincount(history_ctx, minlength=num_ctx)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ragged = Ragged(values=history.astype(np.int32), offsets=offsets)

    # interaction tables
    ctx_row = np.empty(n, np.int64)
    ctx_row[order] = ctx_sorted
    num_persons = int(r.person.max(initial=-1)) + 1
    group_keys = sorted_unique_v1(split.astype(np.int64) * num_persons + r.person)
    group = np.searchsorted(group_keys, split.astype(np.int64) * num_persons + r.person)
    time = np.floor(r.time).astype(np.int64) if np.issubdtype(r.time.dtype, np.floating) else r.time.astype(np.int64)
    ctx_time = time[order][first_row]
    out_order = np.arange(n) if r.split is not None else order
    sampled = np.zeros((num_ctx, 0), np.int64)
    if o.eval_negatives > 0:
        rated = sorted_unique_v1(r.person.astype(np.int64) * num_items + r.item)
        evaluated = np.flatnonzero(ctx_split > 0)
        sampled = np.full((num_ctx, o.eval_negatives), -1, np.int64)
        sampled[evaluated] = sample_negatives_v1(
            np.random.default_rng(o.seed), ctx_person[evaluated], rated, num_items, o.eval_negatives
        )
    tables: dict[str, dict[str, Column]] = {}
    info: dict[str, Any] = {"user_rows": {}, "interactions": {}, "positives": {}, "sampled_negatives": {}}
    for lv, name in enumerate(SPLITS):
        rows = out_order[split[out_order] == lv]
        user, items, label = ctx_row[rows], r.item[rows], r.label[rows].astype(np.float32)
        groups, times = group[rows], time[rows]
        ctx_ids, slots = np.nonzero((sampled >= 0) & (ctx_split == lv)[:, None])
        if len(ctx_ids):
            user = np.concatenate([user, ctx_ids])
            items = np.concatenate([items, sampled[ctx_ids, slots]])
            label = np.concatenate([label, np.zeros(len(ctx_ids), np.float32)])
            groups = np.concatenate(
                [groups, np.searchsorted(group_keys, lv * num_persons + ctx_person[ctx_ids].astype(np.int64))]
            )
            times = np.concatenate([times, ctx_time[ctx_ids]])
        if not len(user):
            continue
        tables[name] = {
            "user": Column("int", user.astype(np.int32)),
            "item": Column("int", items.astype(np.int32)),
            "label": Column("float", label),
            "group": Column("int", groups.astype(np.int64)),
            "time": Column("int", times.astype(np.int64)),
        }
        info["user_rows"][name] = int((ctx_split == lv).sum())
        info["interactions"][name] = len(user)
        info["positives"][name] = int(label.sum())
        info["sampled_negatives"][name] = len(ctx_ids)
    return Contexts(person=ctx_person, split=ctx_split, history=ragged, tables=tables, info=info)


def sample_negatives_v1(
    rng: np.random.Generator, persons: np.ndarray, rated: np.ndarray, num_items: int, count: int
) -> np.ndarray:
    """``count`` distinct items per row that ``persons[row]`` never rated, ``-1`` where too few exist.

    ``rated`` holds the sorted keys ``person * num_items + item``. Rejection
    sampling, vectorised over rows; rows still short after a few rounds
    (users who rated nearly everything) draw from their unrated items directly.
    """
    rows = len(persons)
    chosen = np.full((rows, count), -1, np.int64)
    todo = np.arange(rows)
    persons = persons.astype(np.int64)
    for _ in range(SAMPLING_ROUNDS):
        if not len(todo):
            break
        candidates = np.concatenate([chosen[todo], rng.integers(0, num_items, size=(len(todo), 2 * count))], axis=1)
        ok = (candidates >= 0) & ~member_v1(persons[todo, None] * num_items + candidates, rated)
        flat = np.where(ok, np.arange(len(todo))[:, None] * num_items + candidates, -1).reshape(-1)
        by_key = np.argsort(flat, kind="stable")
        repeated = np.zeros(len(flat), bool)
        repeated[by_key[1:]] = (flat[by_key[1:]] == flat[by_key[:-1]]) & (flat[by_key[1:]] >= 0)
        ok &= ~repeated.reshape(ok.shape)
        rank = np.cumsum(ok, axis=1)
        row_at, col_at = np.nonzero(ok & (rank <= count))
        picked = np.full((len(todo), count), -1, np.int64)
        picked[row_at, rank[row_at, col_at] - 1] = candidates[row_at, col_at]
        chosen[todo] = picked
        todo = todo[(picked >= 0).sum(axis=1) < count]
    for row in todo:
        lo, hi = np.searchsorted(rated, [persons[row] * num_items, (persons[row] + 1) * num_items])
        free = np.setdiff1d(np.arange(num_items), rated[lo:hi] - persons[row] * num_items)
        picked = rng.permutation(free)[:count]
        chosen[row] = -1
        chosen[row, : len(picked)] = picked
    return chosen


def sorted_unique_v1(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (NumPy 2.4's hash-based ``np.unique`` is far slower on large int arrays)."""
    ordered = np.sort(values, axis=None)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(ordered) else ordered


def member_v1(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted, unique ``sorted_set``, by binary search."""
    if not len(sorted_set):
        return np.zeros(np.shape(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


# ---- comparisons ----------------------------------------------------------------------------------------------


def assert_same(old: Contexts, new: Contexts) -> None:
    """Every array equal in value and dtype, every count equal."""
    for name, a, b in (
        ("person", old.person, new.person),
        ("split", old.split, new.split),
        ("history.values", old.history.values, new.history.values),
        ("history.offsets", old.history.offsets, new.history.offsets),
    ):
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert old.tables.keys() == new.tables.keys()
    for table, columns in old.tables.items():
        assert columns.keys() == new.tables[table].keys()
        for column, a in columns.items():
            b = new.tables[table][column]
            assert a.kind == b.kind and a.data.dtype == b.data.dtype, (table, column)
            assert a.data.tobytes() == b.data.tobytes(), (table, column)
    assert old.info == new.info


def random_log(seed: int) -> tuple[Ratings, int, RatingOptions]:
    """A log of random shape: many ties, repeated pairs, float or int times, pre-split or not, any options."""
    rng = np.random.default_rng(seed)
    n, persons, items = int(rng.integers(1, 1500)), int(rng.integers(1, 40)), int(rng.integers(1, 60))
    time = rng.integers(0, int(rng.integers(1, 300)), size=n)
    r = Ratings(
        person=rng.integers(0, persons, size=n),
        item=rng.integers(0, items, size=n),
        time=time * 1.5 if seed % 3 == 0 else time,
        label=(rng.random(n) < 0.6).astype(np.float32),
        split=rng.integers(0, 3, size=n).astype(np.int8) if seed % 4 == 0 else None,
    )
    o = RatingOptions(
        split_by="time" if seed % 5 == 0 else "user",
        context_size=int(rng.integers(1, 12)),
        max_history=int(rng.integers(0, 12)),
        eval_negatives=int(rng.integers(0, 3)) * 7,
        valid_fraction=float(rng.choice([0.0, 0.1, 0.3])),
        test_fraction=float(rng.choice([0.0, 0.1, 0.2])),
        seed=seed,
    )
    return r, items, o


@pytest.fixture
def small_batches(monkeypatch):
    """Slices and batches of a few rows, so that every batched path runs many times on small logs."""

    def set_sizes(chunk: int, batch: int, sample: int) -> None:
        monkeypatch.setattr(contexts, "CHUNK_ROWS", chunk)
        monkeypatch.setattr(contexts, "BATCH_ENTRIES", batch)
        monkeypatch.setattr(splits, "SAMPLE_ENTRIES", sample)

    return set_sizes


@pytest.mark.parametrize("seed", range(60))
def test_split_ratings_is_unchanged_on_random_logs(seed: int, small_batches) -> None:
    r, items, o = random_log(seed)
    sizes = ((3, 7, 5), (100, 50, 200), (1 << 20, 1 << 20, 1 << 20))[seed % 3]
    small_batches(*sizes)
    assert_same(split_ratings_v1(r, items, o), splits.split_ratings(r, items, o))
    assert np.array_equal(person_time_order_v1(r), splits.person_time_order(r))
    assert np.array_equal(assign_splits_v1(r, o), splits.assign_splits(r, o))


def test_split_ratings_is_unchanged_on_edge_cases(small_batches) -> None:
    small_batches(7, 11, 13)
    rng = np.random.default_rng(1)
    n = 400
    person, item = rng.integers(0, 9, n), rng.integers(0, 6, n)
    label = (rng.random(n) < 0.7).astype(np.float32)
    logs = [
        Ratings(
            person=person,
            item=item,
            label=label,  # NaN times sort last, together
            time=np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n).round(1)),
        ),
        Ratings(person=person, item=item, label=label, time=-rng.integers(0, 30, n).astype(np.float64)),
        Ratings(
            person=person.astype(np.int32),
            item=item.astype(np.int32),
            label=label,  # compact dtypes
            time=rng.integers(0, 5, n).astype(np.int32),
        ),
        Ratings(
            person=person,
            item=item,
            label=label,
            time=rng.integers(0, 50, n),  # pre-split, all train
            split=np.zeros(n, np.int8),
        ),
        Ratings(person=person, item=item, label=label, time=np.zeros(n, np.int64)),  # one timestamp
        Ratings(person=np.array([0]), item=np.array([0]), time=np.array([3]), label=np.array([1.0], np.float32)),
    ]
    for r in logs:
        for o in (
            RatingOptions(),
            RatingOptions(eval_negatives=4, context_size=3, max_history=2),
            RatingOptions(split_by="time", max_history=0, context_size=1),
        ):
            with np.errstate(invalid="ignore"):  # NaN times cast to int64 (as before)
                assert_same(split_ratings_v1(r, 6, o), splits.split_ratings(r, 6, o))


def netflix_like(n: int, seed: int = 0) -> Ratings:
    """Distinct (person, item) pairs with skewed activity and popularity, day-resolution times."""
    rng = np.random.default_rng(seed)
    persons, items = max(20, n // 200), 500
    activity, popularity = rng.lognormal(0, 1.25, persons), rng.lognormal(0, 2.0, items)
    keys = np.unique(
        rng.choice(persons, size=n, p=activity / activity.sum()).astype(np.int64) * items
        + rng.choice(items, size=n, p=popularity / popularity.sum())
    )
    person, item = keys // items, keys % items
    day = rng.integers(10_000, 12_000, size=len(keys))
    return Ratings(
        person=person.astype(np.int32),
        item=item.astype(np.int32),
        time=(day * 86400).astype(np.int32),
        label=(rng.random(len(keys)) < 0.55).astype(np.float32),
    )


@pytest.mark.parametrize("options", [{}, {"eval_negatives": 20, "context_size": 1}, {"split_by": "time"}])
def test_split_ratings_is_unchanged_on_a_netflix_like_log(options: dict, small_batches) -> None:
    small_batches(1 << 12, 1 << 12, 1 << 12)
    r, o = netflix_like(60_000), RatingOptions(**options)
    assert_same(split_ratings_v1(r, 500, o), splits.split_ratings(r, 500, o))


def test_sample_negatives_is_unchanged_and_draws_the_same_stream_in_batches(small_batches) -> None:
    rng = np.random.default_rng(4)
    persons = rng.integers(0, 30, 200)
    rated = sorted_unique_v1(rng.integers(0, 30, 3000) * 50 + rng.integers(0, 50, 3000))
    expected = sample_negatives_v1(np.random.default_rng(9), persons, rated, 50, 12)
    for batch in (3 * 36, 37 * 36, 1 << 20):  # 3 rows, 37 rows, all rows at once
        small_batches(1 << 20, 1 << 20, batch)
        assert np.array_equal(splits.sample_negatives(np.random.default_rng(9), persons, rated, 50, 12), expected)


def depot_bytes(path: Path) -> dict[str, bytes]:
    """Every file of a depot but meta.json (which records its creation time), and meta's info."""
    out = {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != "meta.json"
    }
    out["meta.json:info"] = repr(Depot(path).meta["info"]).encode()
    return out


@pytest.mark.parametrize(
    "fixture, processor, options",
    [
        ("ml-100k", "movielens", {}),
        ("ml-1m", "movielens", {"eval_negatives": 3, "context_size": 2}),
        ("ml-latest", "movielens", {"split_by": "time", "max_history": 2}),
        ("recbole-presplit", "recbole", {"eval_negatives": 2}),
        ("recbole-books", "recbole", {"context_size": 1}),
    ],
)
def test_depots_are_byte_identical_to_the_original_protocol(
    tmp_path: Path, monkeypatch, fixture: str, processor: str, options: dict
) -> None:
    from lego_datasets.movielens import MovieLensOptions, MovieLensProcessor
    from lego_datasets.recbole import RecBoleOptions, RecBoleProcessor

    make = (
        (lambda: MovieLensProcessor(MovieLensOptions(**options)))
        if processor == "movielens"
        else (lambda: RecBoleProcessor(RecBoleOptions(**options)))
    )
    prepare(make(), FIXTURES / fixture, tmp_path / "new")
    monkeypatch.setattr(splits, "split_ratings", split_ratings_v1)
    prepare(make(), FIXTURES / fixture, tmp_path / "old")
    assert depot_bytes(tmp_path / "new") == depot_bytes(tmp_path / "old")


def peak_bytes(function, *args) -> tuple[int, object]:
    """Peak traced allocation of a call above what was allocated before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = function(*args)
        return tracemalloc.get_traced_memory()[1] - before, result
    finally:
        tracemalloc.stop()


def test_the_lean_protocol_needs_a_fraction_of_the_memory(small_batches) -> None:
    """About 20 bytes a rating besides the output tables (the original: about 250)."""
    small_batches(1 << 14, 1 << 14, 1 << 14)
    r, o = netflix_like(300_000), RatingOptions(eval_negatives=10)
    n = len(r.person)
    new_peak, ctx = peak_bytes(splits.split_ratings, r, 500, o)
    old_peak, _ = peak_bytes(split_ratings_v1, r, 500, o)
    output = sum(c.data.nbytes for t in ctx.tables.values() for c in t.values()) + ctx.history.values.nbytes
    assert new_peak - output < 40 * n, (new_peak - output) / n
    assert new_peak < old_peak / 3, (new_peak, old_peak)
