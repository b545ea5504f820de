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

SPLITS = ("train", "valid", "test")
SPLIT_BY = ("user", "time")
SAMPLING_ROUNDS = 16


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
        default=4.0, validator=v.instance_of((int, float)),
        metadata={"doc": "A rating at or above this is a positive (label 1), below it a negative (label 0)."})
    max_history: int = attrs.field(
        default=50, validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent positives kept in a history row; 0 keeps all."})
    split_by: str = attrs.field(
        default="user", validator=one_of(SPLIT_BY),
        metadata={"doc": '"user": the last ratings of each user form valid/test; "time": global time cut points.'})
    valid_fraction: float = attrs.field(
        default=0.1, validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "Share of ratings (per user, or in time) that form the valid split."})
    test_fraction: float = attrs.field(
        default=0.1, validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "Share of ratings (per user, or in time) that form the test split."})
    context_size: int = attrs.field(
        default=10, validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Train ratings per history row; 1 gives every train rating its own history "
                         "(most faithful, largest depot)."})
    eval_negatives: int = attrs.field(
        default=0, validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Unrated items sampled once per user for valid and for test (label 0); "
                         "0 evaluates on the rated items only."})
    seed: int = attrs.field(default=2023, validator=v.instance_of(int),
                            metadata={"doc": "Seed of the evaluation negatives; same seed, same depot."})
    skip_bad_rows: bool = attrs.field(
        default=False, validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows and count them in info.skipped_rows instead of failing."})

    def __attrs_post_init__(self) -> None:
        if self.valid_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"valid_fraction + test_fraction must be below 1, got "
                             f"{self.valid_fraction} + {self.test_fraction}")


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
    n_valid = np.minimum(part(o.valid_fraction), np.maximum(counts - 1 - n_test, 0))
    person = r.person[order]
    from_end = np.cumsum(counts)[person] - np.arange(n)  # 1 for a user's last rating
    split[order] = np.where(from_end <= n_test[person], 2, np.where(from_end <= (n_test + n_valid)[person], 1, 0))
    return split


def person_time_order(r: Ratings) -> np.ndarray:
    """Rating indices sorted by person, then time, then file order."""
    return np.lexsort((np.arange(len(r.person)), r.time, r.person))


def split_ratings(r: Ratings, num_items: int, o: RatingOptions) -> Contexts:
    """History contexts and interaction tables (steps 2-5 of the protocol)."""
    n = len(r.person)
    order = person_time_order(r)
    split = assign_splits(r, o, order)
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
    targets = sorted_unique(ctx_sorted.astype(np.int64) * num_items + item)
    available = end - begin
    width = available.copy()
    if o.max_history > 0:  # the last max_history + (targets) candidates are usually enough ...
        width = np.minimum(available, o.max_history + np.bincount(ctx_sorted, minlength=num_ctx))
    while True:
        history_ctx = np.repeat(np.arange(num_ctx), width)
        starts = np.cumsum(width) - width
        history = pool[np.arange(int(width.sum())) - np.repeat(starts, width) + np.repeat(end - width, width)]
        keep = ~member(history_ctx * num_items + history, targets)
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
    group_keys = sorted_unique(split.astype(np.int64) * num_persons + r.person)
    group = np.searchsorted(group_keys, split.astype(np.int64) * num_persons + r.person)
    time = np.floor(r.time).astype(np.int64) if np.issubdtype(r.time.dtype, np.floating) else r.time.astype(np.int64)
    ctx_time = time[order][first_row]
    out_order = np.arange(n) if r.split is not None else order
    sampled = np.zeros((num_ctx, 0), np.int64)
    if o.eval_negatives > 0:
        rated = sorted_unique(r.person.astype(np.int64) * num_items + r.item)
        evaluated = np.flatnonzero(ctx_split > 0)
        sampled = np.full((num_ctx, o.eval_negatives), -1, np.int64)
        sampled[evaluated] = sample_negatives(np.random.default_rng(o.seed), ctx_person[evaluated], rated,
                                              num_items, o.eval_negatives)
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
            groups = np.concatenate([groups, np.searchsorted(
                group_keys, lv * num_persons + ctx_person[ctx_ids].astype(np.int64))])
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


def sample_negatives(rng: np.random.Generator, persons: np.ndarray, rated: np.ndarray, num_items: int,
                     count: int) -> np.ndarray:
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
        ok = (candidates >= 0) & ~member(persons[todo, None] * num_items + candidates, rated)
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
        chosen[row, :len(picked)] = picked
    return chosen


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


def rating_depot(*, items: dict[str, Column], vocabs: dict[str, list[str]], persons: Sequence[str],
                 person_columns: Mapping[str, Column], ratings: Ratings, options: RatingOptions,
                 info: dict[str, Any]) -> DepotContent:
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
        raise DataError(f"no usable ratings were read (skipped rows: {info.get('skipped_rows', {})}); "
                        "check the raw files")
    ctx = split_ratings(ratings, len(items["item_id"]), options)
    user_ids, user_vocab = id_column(list(persons), "user_id")
    users = {"user_id": take(user_ids, ctx.person), "history": Column("items", ctx.history)}
    users.update({name: take(column, ctx.person) for name, column in person_columns.items()})
    info = {**info, "items": len(items["item_id"]), "persons": len(persons), "ratings": len(ratings.person),
            **ctx.info}
    return DepotContent(tables={"items": items, "users": users, **ctx.tables},
                        vocabs={**vocabs, "user_id": user_vocab}, info=info)
