"""Time-ordered splits of rating logs, with leakage-free history contexts.

Used by the ``movielens`` and ``recbole`` processors: they read the raw files
into :class:`Ratings` (one entry per rated item) and :func:`rating_depot`
turns them into the users table and the ``train``/``valid``/``test`` tables.

The protocol (also in the package README):

1. Labels. ``label = 1`` when ``rating >= positive_threshold``, else 0. Every
   rated item is kept, positives and negatives (data without ratings is all
   positives).
2. Splits. Each rating goes to one split. ``split_by = "user"`` (default):
   each user's ratings in time order (ties keep file order); the last
   ``test_fraction`` go to test, the ``valid_fraction`` before them to valid,
   the rest to train (each part rounded, at least one rating when its fraction
   is positive, and train keeps at least one). ``split_by = "time"``: global
   cut points in time, so every valid rating is at or after every train
   rating and every test rating at or after every valid one; ratings at the
   same second fall on the same side. Raw files that come pre-split (RecBole's
   ``NAME.train.inter`` ...) keep their split row for row.
3. History contexts (the rows of ``users``). A user's train ratings, in time
   order, are cut into chunks of ``context_size``; each chunk is one users row
   and its ratings point at it. Valid and test get one row per user each.
   A row's ``history`` is the user's positives that are strictly earlier than
   the row's earliest rating, taken from train for train rows, from train and
   valid for valid rows, from all splits for test rows; minus the items the
   row's own ratings point at; the last ``max_history`` of them (oldest first).
   So no interaction sees its own item, a later item, or an item of a later
   split, even when pre-split files are not time ordered.
4. Evaluation candidates. ``eval_negatives = 0``: valid/test hold the rated
   items with their threshold labels. ``eval_negatives = N``: each valid and
   test row also gets N items the user never rated (at any time), drawn once
   with ``seed`` and written as label-0 rows (appended after the rated rows).
5. Groups. ``group`` is one id per user and split (there are no impressions);
   ``time`` is the rating's timestamp (a sampled row takes its row's earliest).

Example:
    >>> r = Ratings(person=np.array([0, 0, 0, 0]), item=np.array([3, 1, 2, 0]),
    ...             time=np.array([10, 20, 30, 40]), label=np.array([1, 1, 0, 1], dtype=np.float32))
    >>> ctx = split_ratings(r, 4, RatingOptions(valid_fraction=0.25, test_fraction=0.25))
    >>> [ctx.history.row(i).tolist() for i in range(len(ctx.person))]
    [[], [3, 1], [3, 1]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.ragged import Ragged
from lego_core.errors import DataError
from lego_datasets.columns import id_column
from lego_datasets.contexts import (
    candidates,
    chunks,
    context_keys,
    context_runs,
    gather,
    histories,
    index_dtype,
    levels_ordered,
    sorted_order,
    time_rank,
    unix_seconds,
)
from lego_datasets.contexts import member as member
from lego_datasets.contexts import sorted_unique as sorted_unique

SPLITS = ("train", "valid", "test")
SPLIT_BY = ("user", "time")
SAMPLING_ROUNDS = 16
SAMPLE_ENTRIES = 1 << 20  # candidates drawn at once when sampling evaluation negatives


def unit_fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1), got {value!r}")


def one_of(choices: Sequence[str]) -> Any:
    def check(instance: object, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(map(repr, choices))}, got {value!r}")

    return check


@attrs.define(kw_only=True, frozen=True)
class RatingOptions:
    """Options shared by the processors of rating logs (see the module docstring for the protocol)."""

    positive_threshold: float = attrs.field(
        default=4.0,
        validator=v.instance_of((int, float)),
        metadata={"doc": "A rating at or above this is a positive (label 1), below it a negative (label 0)."},
    )
    max_history: int = attrs.field(
        default=50,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent positives kept in a history row; 0 keeps all."},
    )
    split_by: str = attrs.field(
        default="user",
        validator=one_of(SPLIT_BY),
        metadata={"doc": '"user": the last ratings of each user form valid/test; "time": global time cut points.'},
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "Share of ratings (per user, or in time) that form the valid split."},
    )
    test_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "Share of ratings (per user, or in time) that form the test split."},
    )
    context_size: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={
            "doc": "Train ratings per history row; 1 gives every train rating its own history "
            "(most faithful, largest depot)."
        },
    )
    eval_negatives: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Unrated items sampled once per user for valid and for test (label 0); "
            "0 evaluates on the rated items only."
        },
    )
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": "Seed of the evaluation negatives; same seed, same depot."},
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows and count them in info.skipped_rows instead of failing."},
    )

    def __attrs_post_init__(self) -> None:
        if self.valid_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"valid_fraction + test_fraction must be below 1, got {self.valid_fraction} + {self.test_fraction}"
            )


@attrs.frozen
class Ratings:
    """A rating log, one entry per row of the raw files, in file order.

    Args:
        person: index of the person (into the ``user_id`` vocabulary, 0-based).
        item: index of the item (its row in the items table).
        time: timestamps (any numeric type; only their order matters for splitting).
        label: 1.0 for a positive, 0.0 for a negative.
        split: 0/1/2 (train/valid/test) when the raw files give the split, else ``None``.
    """

    person: np.ndarray
    item: np.ndarray
    time: np.ndarray
    label: np.ndarray
    split: np.ndarray | None = None


@attrs.frozen
class Contexts:
    """The history contexts (users rows) and interaction tables of a rating log."""

    person: np.ndarray
    split: np.ndarray
    history: Ragged
    tables: dict[str, dict[str, Column]]
    info: dict[str, Any]


def assign_splits(r: Ratings, o: RatingOptions, order: np.ndarray | None = None) -> np.ndarray:
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
    order = person_time_order(r) if order is None else order
    counts = np.bincount(r.person)

    def part(fraction: float) -> np.ndarray:
        return np.maximum(np.floor(counts * fraction + 0.5), 1).astype(np.int64) if fraction > 0 else 0 * counts

    n_test = np.minimum(part(o.test_fraction), np.maximum(counts - 1, 0))
    n_held = n_test + np.minimum(part(o.valid_fraction), np.maximum(counts - 1 - n_test, 0))
    ends = np.cumsum(counts)
    for lo, hi in chunks(n):  # in slices of the sorted order: no full-size temporaries
        rows = order[lo:hi]
        person = r.person[rows]
        from_end = ends[person] - np.arange(lo, hi)  # 1 for a user's last rating
        split[rows] = np.where(from_end <= n_test[person], 2, np.where(from_end <= n_held[person], 1, 0))
    return split


def person_time_order(r: Ratings) -> np.ndarray:
    """Rating indices sorted by person, then time, then file order."""
    n = len(r.person)
    if not n:
        return np.zeros(0, np.int64)
    rank, span = time_rank(r.time)
    return sorted_order(r.person, rank, span)


def split_ratings(r: Ratings, num_items: int, o: RatingOptions) -> Contexts:
    """History contexts and interaction tables (steps 2-5 of the protocol).

    Memory: besides ``r`` and the output tables, about 30 bytes a rating (the
    sorted order, the split, the context of each rating, ...); the rest is
    built in slices and batches (:mod:`lego_datasets.contexts`, and
    :data:`SAMPLE_ENTRIES` sampled candidates at a time).
    """
    n = len(r.person)
    rank, span = time_rank(r.time)
    order = sorted_order(r.person, rank, span)
    split = assign_splits(r, o, order)
    num_persons = int(r.person.max(initial=-1)) + 1
    # everything below is in the sorted order (person, time, file order) unless named otherwise
    person = gather(r.person, order, index_dtype(num_persons))
    level = split[order]
    tr = gather(rank, order)
    del rank
    monotonic = levels_ordered(person, level)
    if monotonic:  # train, then valid, then test within each person: contexts are runs
        ctx_sorted, first_row = context_runs(person, level, num_persons, o.context_size)
    else:  # pre-split files whose splits interleave in time
        ctx_sorted, first_row = context_keys(person, level, num_persons, o.context_size)
    num_ctx = len(first_row)
    ctx_person, ctx_split, ctx_start = r.person[order[first_row]], level[first_row], tr[first_row]  # earliest
    item = gather(r.item, order, index_dtype(max(num_items, int(r.item.max(initial=0)) + 1)))

    # candidate history: positives of splits <= the row's split, strictly before its earliest rating
    positive = np.empty(n, bool)
    for lo, hi in chunks(n):
        positive[lo:hi] = r.label[order[lo:hi]] > 0
    pool, begin, end = candidates(
        person, level, tr, item, positive, ctx_person, ctx_split, ctx_start, span, single=monotonic
    )
    del positive, tr, person
    ctx_size = np.bincount(ctx_sorted, minlength=num_ctx)
    if monotonic:  # the ratings of contexts c0..c1-1 are rows first_row[c0]:first_row[c1]
        by_ctx = None
        bounds = np.append(first_row, n)
    else:
        by_ctx = np.argsort(ctx_sorted, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(ctx_size)])
    history = histories(pool, begin, end, ctx_size, bounds, by_ctx, ctx_sorted, item, num_items, o.max_history)
    del pool, begin, end, by_ctx, item

    # interaction tables
    ctx_time = unix_seconds(r.time[order[first_row]])
    sampled, evaluated = np.zeros((0, 0), np.int64), np.flatnonzero(ctx_split > 0)
    if o.eval_negatives > 0:
        rated = _rated_keys(r, num_items)
        sampled = sample_negatives(
            np.random.default_rng(o.seed), ctx_person[evaluated], rated, num_items, o.eval_negatives
        )
        del rated
    present = np.zeros(3 * max(num_persons, 1), bool)  # (split, person) pairs that have ratings
    present[ctx_split.astype(np.int64) * num_persons + ctx_person] = True
    ctx_group = (np.cumsum(present) - 1)[ctx_split.astype(np.int64) * num_persons + ctx_person]
    del present
    if r.split is not None:  # tables keep the file order
        ctx_row = np.empty(n, ctx_sorted.dtype)
        ctx_row[order] = ctx_sorted
        del ctx_sorted
    tables: dict[str, dict[str, Column]] = {}
    info: dict[str, Any] = {"user_rows": {}, "interactions": {}, "positives": {}, "sampled_negatives": {}}
    for lv, name in enumerate(SPLITS):
        ctx_ids, negatives = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(sampled):
            at = ctx_split[evaluated] == lv
            local, slots = np.nonzero(sampled[at] >= 0)
            ctx_ids, negatives = evaluated[at][local], sampled[at][local, slots]
        rated_rows = int(np.count_nonzero(level == lv))
        total = rated_rows + len(ctx_ids)
        if not total:
            continue
        user, items = np.empty(total, np.int32), np.empty(total, np.int32)
        label, times = np.empty(total, np.float32), np.empty(total, np.int64)
        done = 0
        for lo, hi in chunks(n):
            if r.split is None:  # sorted order
                here = level[lo:hi] == lv
                rows = order[lo:hi][here]
                user_here = ctx_sorted[lo:hi][here]
            else:  # file order
                rows = lo + np.flatnonzero(split[lo:hi] == lv)
                user_here = ctx_row[rows]
            k = done + len(rows)
            user[done:k], items[done:k], label[done:k] = user_here, r.item[rows], r.label[rows]
            times[done:k] = unix_seconds(r.time[rows])
            done = k
        user[done:], items[done:], label[done:] = ctx_ids, negatives, 0.0
        times[done:] = ctx_time[ctx_ids]
        tables[name] = {
            "user": Column("int", user),
            "item": Column("int", items),
            "label": Column("float", label),
            "group": Column("int", ctx_group[user]),
            "time": Column("int", times),
        }
        info["user_rows"][name] = int((ctx_split == lv).sum())
        info["interactions"][name] = total
        info["positives"][name] = int(label.sum())
        info["sampled_negatives"][name] = len(ctx_ids)
    return Contexts(person=ctx_person, split=ctx_split, history=history, tables=tables, info=info)


def _rated_keys(r: Ratings, num_items: int) -> np.ndarray:
    """Sorted, distinct ``person * num_items + item`` of every rating."""
    keys = np.empty(len(r.person), np.int64)
    for lo, hi in chunks(len(keys)):
        keys[lo:hi] = r.person[lo:hi]
        keys[lo:hi] *= num_items
        keys[lo:hi] += r.item[lo:hi]
    keys.sort()
    if len(keys):
        distinct = np.ones(len(keys), bool)
        np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
        keys = keys[distinct]
    return keys


def sample_negatives(
    rng: np.random.Generator, persons: np.ndarray, rated: np.ndarray, num_items: int, count: int
) -> np.ndarray:
    """``count`` distinct items per row that ``persons[row]`` never rated, ``-1`` where too few exist.

    ``rated`` holds the sorted keys ``person * num_items + item``. Rejection
    sampling, vectorised over rows (in batches of about :data:`SAMPLE_ENTRIES`
    candidates; the random stream is drawn in row order either way); rows still
    short after a few rounds (users who rated nearly everything) draw from
    their unrated items directly.
    """
    rows = len(persons)
    chosen = np.full((rows, count), -1, np.int64)
    todo = np.arange(rows)
    persons = persons.astype(np.int64)
    batch = max(1, SAMPLE_ENTRIES // (3 * max(count, 1)))
    for _ in range(SAMPLING_ROUNDS):
        if not len(todo):
            break
        short = []
        for lo in range(0, len(todo), batch):
            part = todo[lo : lo + batch]
            candidates = np.concatenate([chosen[part], rng.integers(0, num_items, size=(len(part), 2 * count))], axis=1)
            ok = (candidates >= 0) & ~member(persons[part, None] * num_items + candidates, rated)
            flat = np.where(ok, np.arange(len(part))[:, None] * num_items + candidates, -1).reshape(-1)
            by_key = np.argsort(flat, kind="stable")
            repeated = np.zeros(len(flat), bool)
            repeated[by_key[1:]] = (flat[by_key[1:]] == flat[by_key[:-1]]) & (flat[by_key[1:]] >= 0)
            ok &= ~repeated.reshape(ok.shape)
            rank = np.cumsum(ok, axis=1)
            row_at, col_at = np.nonzero(ok & (rank <= count))
            picked = np.full((len(part), count), -1, np.int64)
            picked[row_at, rank[row_at, col_at] - 1] = candidates[row_at, col_at]
            chosen[part] = picked
            short.append(part[(picked >= 0).sum(axis=1) < count])
        todo = np.concatenate(short)
    for row in todo:
        lo, hi = np.searchsorted(rated, [persons[row] * num_items, (persons[row] + 1) * num_items])
        free = np.setdiff1d(np.arange(num_items), rated[lo:hi] - persons[row] * num_items)
        picked = rng.permutation(free)[:count]
        chosen[row] = -1
        chosen[row, : len(picked)] = picked
    return chosen


def take(column: Column, rows: np.ndarray) -> Column:
    """The column's values at ``rows`` (dense or ragged)."""
    if not isinstance(column.data, Ragged):
        return Column(column.kind, np.asarray(column.data)[rows], vocab=column.vocab)
    data: Ragged = column.data
    lengths = data.lengths[rows]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    starts = data.offsets[:-1][rows]
    index = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths) + np.repeat(starts, lengths)
    return Column(column.kind, Ragged(values=np.asarray(data.values)[index], offsets=offsets), vocab=column.vocab)


def rating_depot(
    *,
    items: dict[str, Column],
    vocabs: dict[str, list[str]],
    persons: Sequence[str],
    person_columns: Mapping[str, Column],
    ratings: Ratings,
    options: RatingOptions,
    info: dict[str, Any],
) -> DepotContent:
    """The depot of a rating log: ``items`` as given, users rows and splits from :func:`split_ratings`.

    Args:
        items: the item table (``item_id`` first); its vocabularies are in ``vocabs``.
        vocabs: all vocabularies so far; ``user_id`` is added here.
        persons: the original user ids; ``ratings.person`` indexes them.
        person_columns: user attributes, one row per person (vocabularies in ``vocabs``).
        ratings: the rating log.
        options: the protocol options.
        info: facts from reading (layout, skipped rows); the split counts are added.
    """
    if not len(ratings.person):
        raise DataError(
            f"no usable ratings were read (skipped rows: {info.get('skipped_rows', {})}); check the raw files"
        )
    ctx = split_ratings(ratings, len(items["item_id"]), options)
    user_ids, user_vocab = id_column(list(persons), "user_id")
    users = {"user_id": take(user_ids, ctx.person), "history": Column("items", ctx.history)}
    users.update({name: take(column, ctx.person) for name, column in person_columns.items()})
    info = {**info, "items": len(items["item_id"]), "persons": len(persons), "ratings": len(ratings.person), **ctx.info}
    return DepotContent(
        tables={"items": items, "users": users, **ctx.tables}, vocabs={**vocabs, "user_id": user_vocab}, info=info
    )
