"""The sorted-order steps of the split protocol, in bounded memory (used by :mod:`lego_datasets.splits`).

:func:`lego_datasets.splits.split_ratings` works in the order of the
ratings sorted by person, then time, then file order. These steps build that
order and, on it, the history contexts, the candidate pools and the histories
without full-size int64 temporaries: one packed in-place sort instead of
``np.lexsort``; contexts as runs of the sorted order (no ``np.unique`` over
per-rating keys) when each person's splits come in time order; gathers and
passes in slices of :data:`CHUNK_ROWS` ratings; histories in batches of about
:data:`BATCH_ENTRIES` candidates. Their results are those of the original,
all-at-once code (``tests/test_datasets_splits_memory.py`` keeps it and
compares).

Example:
    >>> order = sorted_order(np.array([1, 0, 1, 0]), np.array([0, 2, 0, 1]), span=3)
    >>> order.tolist()  # person 0 at times 1 then 2, then person 1's tie in file order
    [3, 1, 0, 2]
    >>> sorted_unique(np.array([3, 1, 3])).tolist(), member(np.array([1, 2]), np.array([1, 3])).tolist()
    ([1, 3], [True, False])
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from lego_core.data.ragged import Ragged

CHUNK_ROWS = 1 << 20  # ratings per slice of the sliced passes
BATCH_ENTRIES = 1 << 20  # history candidates gathered at once


def chunks(n: int) -> Iterator[tuple[int, int]]:
    """``(lo, hi)`` slices of ``0..n`` of :data:`CHUNK_ROWS` rows."""
    return ((lo, min(lo + CHUNK_ROWS, n)) for lo in range(0, n, CHUNK_ROWS))


def index_dtype(limit: int) -> Any:
    """int32 when every value is below ``limit`` and ``limit`` fits, else int64."""
    return np.int32 if limit < 2**31 else np.int64


def gather(values: np.ndarray, index: np.ndarray, dtype: Any = None) -> np.ndarray:
    """``values[index]`` as ``dtype``, in slices (no full-size temporary of ``values``' type)."""
    out = np.empty(len(index), values.dtype if dtype is None else dtype)
    for lo, hi in chunks(len(index)):
        out[lo:hi] = values[index[lo:hi]]
    return out


def unix_seconds(time: np.ndarray) -> np.ndarray:
    """The ``time`` column: whole seconds as int64."""
    return np.floor(time).astype(np.int64) if np.issubdtype(time.dtype, np.floating) else time.astype(np.int64)


def time_rank(time: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense rank of each time among the distinct times (int32), and a bound above every rank."""
    if np.issubdtype(time.dtype, np.floating) and np.isnan(time).any():  # NaNs rank together, last
        rank = np.unique(time, return_inverse=True)[1].reshape(-1).astype(np.int64)
        return rank, int(rank.max(initial=0)) + 2
    distinct = sorted_unique(time)
    rank = np.empty(len(time), index_dtype(len(distinct)))
    for lo, hi in chunks(len(time)):
        rank[lo:hi] = np.searchsorted(distinct, time[lo:hi])
    return rank, len(distinct) + 1


def sorted_order(person: np.ndarray, rank: np.ndarray, span: int) -> np.ndarray:
    """Indices sorted by (person, rank, index): ``np.lexsort((index, time, person))`` in less memory.

    When the key and the index fit in 63 bits together they are packed into one
    int64 and sorted in place (no index array beside the keys); else a stable argsort.
    """
    n = len(person)
    key = person.astype(np.int64)
    key *= span
    key += rank
    shift = max(n - 1, 1).bit_length()
    if int(key.max(initial=0)) < 1 << (63 - shift):
        key <<= shift
        for lo, hi in chunks(n):
            key[lo:hi] |= np.arange(lo, hi, dtype=np.int64)
        key.sort()
        key &= (1 << shift) - 1
        return key
    return np.argsort(key, kind="stable")


def levels_ordered(person: np.ndarray, level: np.ndarray) -> bool:
    """Within each person (sorted by time), train comes before valid and valid before test."""
    return not bool(np.any((level[1:] < level[:-1]) & (person[1:] == person[:-1])))


def context_runs(
    person: np.ndarray, level: np.ndarray, num_persons: int, context_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The context of each (sorted) rating and each context's first row, when levels are ordered per person.

    A context starts at a new person, a new split, or every ``context_size``
    train ratings of a person (whose train ratings come first).
    """
    n = len(person)
    start = np.ones(n, bool)
    np.not_equal(person[1:], person[:-1], out=start[1:])
    start[1:] |= level[1:] != level[:-1]
    counts = np.bincount(person, minlength=max(num_persons, 1))
    first = np.cumsum(counts) - counts
    for lo, hi in chunks(n):
        train_rank = np.arange(lo, hi) - first[person[lo:hi]]
        start[lo:hi] |= (level[lo:hi] == 0) & (train_rank % context_size == 0)
    ctx = np.cumsum(start, dtype=index_dtype(n + 1))
    ctx -= 1
    return ctx, np.flatnonzero(start)


def context_keys(
    person: np.ndarray, level: np.ndarray, num_persons: int, context_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`context_runs` for splits that interleave in time: contexts numbered by (person, split, chunk)."""
    is_train = level == 0
    counts = np.bincount(person, minlength=1)
    seen_train = np.cumsum(is_train)
    first = np.cumsum(counts) - counts
    before = np.where(first > 0, seen_train[np.maximum(first - 1, 0)], 0)
    chunk = np.where(is_train, (seen_train - 1 - before[person]) // context_size, 0)
    del seen_train, is_train
    key = (person.astype(np.int64) * 3 + level) * (int(chunk.max(initial=0)) + 1) + chunk
    del chunk
    _, first_row, ctx = np.unique(key, return_index=True, return_inverse=True)
    return ctx.reshape(-1).astype(index_dtype(len(person) + 1)), first_row


def candidates(
    person: np.ndarray,
    level: np.ndarray,
    tr: np.ndarray,
    item: np.ndarray,
    positive: np.ndarray,
    ctx_person: np.ndarray,
    ctx_split: np.ndarray,
    ctx_start: np.ndarray,
    span: int,
    single: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pool of positive items and each context's candidate range ``pool[begin:end]``, oldest first.

    ``single``: levels are ordered within each person, so no positive of a
    later split is earlier than a context's first rating and one pool serves
    every split; else one pool per split (positives of splits <= it).
    """
    num_ctx = len(ctx_person)
    begin, end = np.zeros(num_ctx, np.int64), np.zeros(num_ctx, np.int64)
    base = 0
    pools = []
    for lv in (2,) if single else (0, 1, 2):
        sel = positive if single else positive & (level <= lv)
        keys = person[sel].astype(np.int64)
        keys *= span
        keys += tr[sel]
        rows = slice(None) if single else ctx_split == lv
        first = ctx_person[rows].astype(np.int64) * span
        begin[rows] = base + np.searchsorted(keys, first, "left")
        end[rows] = base + np.searchsorted(keys, first + ctx_start[rows], "left")
        del keys, first
        pools.append(item[sel])
        base += len(pools[-1])
    pool = pools[0] if single else np.concatenate(pools)
    return pool, begin, end


def histories(
    pool: np.ndarray,
    begin: np.ndarray,
    end: np.ndarray,
    ctx_size: np.ndarray,
    bounds: np.ndarray,
    by_ctx: np.ndarray | None,
    ctx_sorted: np.ndarray,
    item: np.ndarray,
    num_items: int,
    max_history: int,
) -> Ragged:
    """Each context's candidates minus its own items, the last ``max_history`` of them, in batches of contexts.

    A batch gathers about :data:`BATCH_ENTRIES` candidates: the last
    ``max_history`` + (its ratings) of each context are usually enough, and a
    context that is still short (a target rated repeatedly) widens its window.
    """
    num_ctx = len(begin)
    available = end - begin
    width = available.copy()
    if max_history > 0:
        width = np.minimum(available, max_history + ctx_size)
    reach = np.cumsum(width)
    lengths = np.zeros(num_ctx, np.int64)
    values = []
    c0 = 0
    while c0 < num_ctx:
        c1 = max(c0 + 1, int(np.searchsorted(reach, reach[c0] - width[c0] + BATCH_ENTRIES, "right")))
        c1 = min(c1, num_ctx, max(c0 + 1, int(np.searchsorted(bounds, bounds[c0] + BATCH_ENTRIES, "right")) - 1))
        rows = np.arange(bounds[c0], bounds[c1]) if by_ctx is None else by_ctx[bounds[c0] : bounds[c1]]
        targets = sorted_unique((ctx_sorted[rows] - c0).astype(np.int64) * num_items + item[rows])
        w, av, e = width[c0:c1].copy(), available[c0:c1], end[c0:c1]
        count = c1 - c0
        while True:
            history_ctx = np.repeat(np.arange(count), w)
            starts = np.cumsum(w) - w
            history = pool[np.arange(int(w.sum())) - np.repeat(starts, w) + np.repeat(e - w, w)]
            keep = ~member(history_ctx * num_items + history, targets)
            history, history_ctx = history[keep], history_ctx[keep]
            kept = np.bincount(history_ctx, minlength=count)
            short = (kept < max_history) & (w < av)
            if max_history == 0 or not short.any():
                break
            w[short] = np.minimum(av, 2 * w + 1)[short]
        if max_history > 0:
            rank = np.arange(len(history)) - (np.cumsum(kept) - kept)[history_ctx]
            recent = rank >= (kept - max_history)[history_ctx]
            history, history_ctx = history[recent], history_ctx[recent]
        lengths[c0:c1] = np.bincount(history_ctx, minlength=count)
        values.append(history.astype(np.int32))
        c0 = c1
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Ragged(values=np.concatenate(values) if values else np.zeros(0, np.int32), offsets=offsets)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (NumPy 2.4's hash-based ``np.unique`` is far slower on large int arrays)."""
    ordered = np.sort(values, axis=None)
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(ordered) else ordered


def member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted, unique ``sorted_set``, by binary search."""
    if not len(sorted_set):
        return np.zeros(np.shape(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values
