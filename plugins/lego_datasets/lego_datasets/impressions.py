"""Impression logs (MIND, xMIND, PENS, EB-NeRD): history rows, candidates and labels as typed arrays.

A news log records impressions: a person, a time, the person's click
history (a snapshot taken before the impression) and the candidates shown,
each clicked (1) or not (0). The processors read their raw files into an
:class:`Impressions` and :func:`impression_depot` writes the depot:

- ``users``: one row per history context (``row_person`` names the person);
  MIND, xMIND and PENS give every impression its own row
  (:class:`ImpressionLog`), EB-NeRD one row per person and split, or per
  impression (:func:`snapshot_histories`).
- ``train``/``valid``/``test``: every candidate of every impression of the
  split; ``group`` is one id per impression, ``time`` the impression time.
- A history never holds an item that the impressions of its row show (the
  target), and keeps the last ``max_history`` items (0 keeps all).

:func:`hold_out_latest` is MIND's rule for a valid split without a labelled
test: the latest share of the train impressions by time.

Example:
    >>> log = ImpressionLog()
    >>> log.add("U1", 100, [0, 1, 2], [2, 3], b"\\x01\\x00")
    >>> log.add("U2", 50, [], [1, 3], b"\\x00\\x01")
    >>> imp = log.freeze()
    >>> imp.history.row(0).tolist(), imp.removed_targets, imp.labels.values.tolist()
    ([0, 1], 1, [1, 0, 0, 1])
    >>> train, valid = hold_out_latest(np.arange(2), imp.time, 0.5)
    >>> train.tolist(), valid.tolist()
    ([1], [0])
"""

from __future__ import annotations

import datetime
from array import array
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from lego_core.data.depot import Column, DepotContent, text_column
from lego_core.data.ragged import Ragged
from lego_core.data.vocab import build_text_vocab, tokenize
from lego_core.errors import DataError
from lego_datasets.builders import IdIndex
from lego_datasets.columns import id_column
from lego_datasets.splits import SPLITS, member, sorted_unique, take

EPOCH = datetime.date(1970, 1, 1).toordinal()
VALIDATION_SPLITS = ("valid", "test")


def raw_folder(raw: Path | None, name: str) -> Path:
    """``raw`` as a Path; a processor of raw files without ``--raw`` is an error."""
    if raw is None:
        raise DataError(f"the {name!r} processor reads raw files: pass the folder that holds them with --raw")
    return Path(raw)


def parse_time(text: str, _days: dict[str, int] = {}) -> int:  # noqa: B006 - a deliberate cache
    """``"11/15/2019 8:55:22 AM"`` (MIND, PENS) -> Unix seconds (UTC); ``ValueError`` on anything else."""
    date, clock, half = text.split(" ")
    hours, minutes, seconds = (int(x) for x in clock.split(":"))
    if not (1 <= hours <= 12 and 0 <= minutes < 60 and 0 <= seconds < 61) or half not in ("AM", "PM"):
        raise ValueError(text)
    day = _days.get(date)
    if day is None:
        month, dom, year = (int(x) for x in date.split("/"))
        day = _days[date] = (datetime.date(year, month, dom).toordinal() - EPOCH) * 86400
    return day + ((hours % 12) + (12 if half == "PM" else 0)) * 3600 + minutes * 60 + seconds


@attrs.frozen
class Impressions:
    """An impression log as arrays: users rows (history contexts) and the impressions pointing at them.

    Args:
        persons: the original user ids; ``row_person`` indexes them.
        row_person: (rows,) the person of each users row.
        history: (rows,) ragged item indices, oldest first.
        row: (impressions,) the users row of each impression.
        time: (impressions,) Unix seconds.
        candidates: (impressions,) ragged item indices shown.
        labels: (impressions,) ragged int8 0/1, aligned with ``candidates``.
        unknown_history: history ids dropped because no item has them.
        removed_targets: history entries dropped because their row's impressions show them.
    """

    persons: Sequence[str]
    row_person: np.ndarray
    history: Ragged
    row: np.ndarray
    time: np.ndarray
    candidates: Ragged
    labels: Ragged
    unknown_history: int = 0
    removed_targets: int = 0


def ragged(values: Any, lengths: Any, dtype: type) -> Ragged:
    """A :class:`Ragged` from flat values and per-row lengths (typed arrays are copied, NumPy arrays kept)."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    if len(lengths):
        np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    if isinstance(values, np.ndarray) and values.dtype == dtype:
        return Ragged(values=values, offsets=offsets)  # already an array of its own: no copy
    return Ragged(values=np.array(values, dtype=dtype), offsets=offsets)


class ImpressionLog:
    """Impressions read row by row (MIND, xMIND, PENS), each with its own users row.

    Args:
        max_history: most recent history items kept per impression; 0 keeps all.
    """

    def __init__(self, max_history: int = 0) -> None:
        self.max_history = max_history
        self.persons = IdIndex()
        self.person = array("q")
        self._times = array("q")
        self.history, self.history_lengths = array("i"), array("q")
        self.items, self.lengths = array("i"), array("q")
        self.labels = bytearray()  # 0/1 per candidate
        self.unknown_history = 0  # counted by the readers
        self.removed_targets = 0

    def __len__(self) -> int:
        return len(self.person)

    def add(self, person: str, time: int, history: list[int], items: list[int], labels: bytes) -> None:
        """One impression: ``items`` shown with ``labels`` (bytes of 0/1) to ``person`` at ``time``.

        ``history`` (item indices, oldest first) loses the items shown, then
        keeps its last ``max_history`` entries.
        """
        shown = set(items)
        if not shown.isdisjoint(history):
            kept = [k for k in history if k not in shown]
            self.removed_targets += len(history) - len(kept)
            history = kept
        if self.max_history and len(history) > self.max_history:
            history = history[-self.max_history :]
        self.person.append(self.persons.add(person))
        self._times.append(time)
        self.history.extend(history)
        self.history_lengths.append(len(history))
        self.items.extend(items)
        self.labels.extend(labels)
        self.lengths.append(len(items))

    def times(self) -> np.ndarray:
        return np.frombuffer(self._times, dtype=np.int64) if len(self._times) else np.zeros(0, np.int64)

    def freeze(self) -> Impressions:
        """The log as :class:`Impressions` (row ``i`` is impression ``i``)."""
        flags = np.frombuffer(bytes(self.labels), dtype=np.int8) if self.labels else np.zeros(0, np.int8)
        return Impressions(
            persons=self.persons.ids,
            row_person=np.asarray(self.person, dtype=np.int64),
            history=ragged(self.history, self.history_lengths, np.int32),
            row=np.arange(len(self.person), dtype=np.int64),
            time=self.times().copy(),
            candidates=ragged(self.items, self.lengths, np.int32),
            labels=ragged(flags, self.lengths, np.int8),
            unknown_history=self.unknown_history,
            removed_targets=self.removed_targets,
        )


def hold_out_latest(rows: np.ndarray, times: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``(kept, held)``: the last ``fraction`` of ``rows`` by time held out (ties in the order of ``rows``).

    ``round(len(rows) * fraction)`` rows are held; both results are sorted.
    """
    held = int(np.floor(len(rows) * fraction + 0.5))
    by_time = rows[np.lexsort((rows, times[rows]))]
    valid = np.sort(by_time[len(rows) - held :])
    return np.setdiff1d(rows, valid), valid


def split_levels(num_impressions: int, splits: Mapping[str, np.ndarray]) -> np.ndarray:
    """0/1/2 (train/valid/test) per impression; -1 for impressions in no split."""
    level = np.full(num_impressions, -1, dtype=np.int8)
    for name, rows in splits.items():
        level[rows] = SPLITS.index(name)
    return level


def snapshot_histories(
    snapshots: Ragged,
    row_snapshot: np.ndarray,
    impression_row: np.ndarray,
    candidates: Ragged,
    max_history: int,
    chunk: int = 1 << 22,
) -> tuple[Ragged, int]:
    """Histories of users rows that share history snapshots (EB-NeRD), minus their targets.

    Args:
        snapshots: the history snapshots (item indices, oldest first).
        row_snapshot: (rows,) the snapshot of each users row, -1 for none (empty history).
        impression_row: (impressions,) the users row of each impression.
        candidates: (impressions,) the items each impression shows (the row's targets).
        max_history: keep the last ``max_history`` items; 0 keeps all.
        chunk: candidates compared at a time (bounds the memory of the target check).

    Returns:
        The histories and the number of entries removed because a target is
        among them (counted among the entries examined: with ``max_history``
        only the most recent ones are).
    """
    rows = len(row_snapshot)
    num_items = int(max(snapshots.values.max(initial=-1), candidates.values.max(initial=-1))) + 1
    has = row_snapshot >= 0
    begin = np.where(has, snapshots.offsets[:-1][np.maximum(row_snapshot, 0)], 0)
    available = np.where(has, snapshots.lengths[np.maximum(row_snapshot, 0)], 0).astype(np.int64)
    width = available
    if max_history > 0:  # the last max_history + (targets) entries are usually enough ...
        targets = np.bincount(impression_row, weights=candidates.lengths, minlength=rows).astype(np.int64)
        width = np.minimum(available, max_history + targets)
    while True:
        total = int(width.sum())
        index_type = np.int32 if len(snapshots.values) < 2**31 else np.int64
        row_of = np.repeat(np.arange(rows, dtype=np.int32), width)
        index: np.ndarray = np.arange(total, dtype=index_type)
        index += np.repeat((begin + available - width - (np.cumsum(width) - width)).astype(index_type), width)
        history = snapshots.values[index]
        del index
        keys = np.empty(total, dtype=np.int64)  # row * num_items + item, rebuilt after the (in-place) sort
        hits = _shown(_keys(row_of, history, num_items, keys), impression_row, candidates, num_items, chunk)
        keep = _absent(_keys(row_of, history, num_items, keys), hits, chunk)
        del keys
        kept = np.bincount(row_of[keep], minlength=rows)
        short = (kept < max_history) & (width < available)
        if max_history == 0 or not short.any():
            break
        width = np.where(short, np.minimum(available, 2 * width + 1), width)  # ... unless targets repeat
    removed = int(len(keep) - keep.sum())
    history, row_of = history[keep], row_of[keep]
    if max_history > 0:
        rank = np.arange(len(history)) - np.repeat(np.cumsum(kept) - kept, kept)
        recent = rank >= np.repeat(kept - max_history, kept)
        history, row_of = history[recent], row_of[recent]
    lengths = np.bincount(row_of, minlength=rows)
    return ragged(np.asarray(history, dtype=np.int32), lengths, np.int32), removed


def _keys(row_of: np.ndarray, history: np.ndarray, num_items: int, out: np.ndarray) -> np.ndarray:
    """``row_of * num_items + history`` into ``out`` (int64), without temporaries."""
    out[:] = row_of
    out *= num_items
    out += history
    return out


def _absent(values: np.ndarray, sorted_set: np.ndarray, chunk: int) -> np.ndarray:
    """``~member(values, sorted_set)``, ``chunk`` values at a time (member's temporaries are 3 int64 a value)."""
    out = np.empty(len(values), dtype=bool)
    for lo in range(0, len(values), chunk):
        out[lo : lo + chunk] = ~member(values[lo : lo + chunk], sorted_set)
    return out


def _shown(keys: np.ndarray, impression_row: np.ndarray, candidates: Ragged, num_items: int, chunk: int) -> np.ndarray:
    """The sorted ``row * num_items + item`` keys among ``keys`` that an impression of that row shows.

    ``keys`` is sorted in place (it is scratch space); candidates are compared ``chunk`` at a time.
    """
    keys.sort()
    hits = []
    total = int(candidates.offsets[-1])
    bounds = np.unique(np.searchsorted(candidates.offsets, np.arange(0, total + chunk, chunk), "right") - 1)
    bounds = np.minimum(np.maximum(bounds, 0), len(impression_row))
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi <= lo:
            continue
        a, b = int(candidates.offsets[lo]), int(candidates.offsets[hi])
        per_row = np.diff(candidates.offsets[lo : hi + 1])
        shown = np.repeat(np.asarray(impression_row[lo:hi], dtype=np.int64), per_row)
        shown *= num_items
        shown += candidates.values[a:b]
        shown = sorted_unique(shown)  # sorted queries make the binary search cache-friendly
        hits.append(shown[member(shown, keys)])
    return sorted_unique(np.concatenate(hits)) if hits else np.zeros(0, np.int64)


def word_columns(
    texts: Mapping[str, Sequence[str]],
    *,
    max_words: Mapping[str, int] | None = None,
    segment: Callable[[str], list[str]] = tokenize,
) -> tuple[dict[str, Column], list[str]]:
    """Text attributes as ``columns.text_columns`` makes them, for long or unspaced texts.

    Args:
        texts: attribute -> one string per item.
        max_words: attribute -> most words kept as ids (the first ones; 0 or absent keeps all);
            ``<attr>_text`` always keeps the whole string.
        segment: string -> words (the core's tokenizer by default).

    Every word is stored once (news bodies hold tens of millions of words).
    """
    limits = max_words or {}
    seen: dict[str, str] = {}
    tokenised: dict[str, list[list[str]]] = {}
    for name, values in texts.items():
        limit = limits.get(name, 0)
        rows = tokenised[name] = []
        for text in values:
            words = segment(text)
            rows.append([seen.setdefault(w, w) for w in (words[:limit] if limit else words)])
    words = build_text_vocab(tokens for rows in tokenised.values() for tokens in rows)
    index = {w: i for i, w in enumerate(words)}
    columns: dict[str, Column] = {}
    for name, values in texts.items():
        rows = tokenised.pop(name)
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        ids = np.fromiter((index.get(w, 1) for r in rows for w in r), dtype=np.int32, count=int(lengths.sum()))
        columns[name] = Column("tokens", ragged(ids, lengths, np.int32), vocab="words")  # no list of ids
        columns[f"{name}_text"] = text_column(list(values))
    return columns, words


def _rows_of(data: Ragged, rows: np.ndarray) -> Ragged:
    """``take`` for ragged data, slicing when ``rows`` is a contiguous ascending range (no index arrays)."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and bool(np.all(np.diff(rows) == 1)):
        lo, hi = int(data.offsets[rows[0]]), int(data.offsets[rows[-1] + 1])
        return Ragged(values=np.asarray(data.values[lo:hi]), offsets=data.offsets[rows[0] : rows[-1] + 2] - lo)
    return take(Column("items", data), rows).data


def impression_depot(
    *,
    items: dict[str, Column],
    vocabs: dict[str, list[str]],
    log: Impressions,
    splits: Mapping[str, np.ndarray],
    info: dict[str, Any],
    skipped: dict[str, int],
    user_columns: Mapping[str, Column] | None = None,
    group_dtype: type = np.int64,
) -> DepotContent:
    """The depot of an impression log.

    Args:
        items: the item table (``item_id`` first); its vocabularies are in ``vocabs``.
        vocabs: the item vocabularies; ``user_id`` is added here.
        log: the impressions and their users rows.
        splits: impression indices per split (``train``, ``valid``, ``test``), in table order.
        info: facts from reading (variant, protocol); the counts are added.
        skipped: the bad rows skipped per file (``RowErrors.counts``).
        user_columns: user attributes, one row per users row (vocabularies in ``vocabs``).
        group_dtype: the dtype of ``group`` (the engine reads it as int64; int32 saves memory).
    """
    person_ids, user_vocab = id_column(list(log.persons), "user_id")
    users = {
        "user_id": take(person_ids, np.asarray(log.row_person, dtype=np.int64)),
        "history": Column("items", log.history),
        **(user_columns or {}),
    }
    tables: dict[str, dict[str, Column]] = {"items": items, "users": users}
    counts: dict[str, dict[str, int]] = {"impressions": {}, "interactions": {}, "clicks": {}}
    for split, rows in splits.items():
        if not len(rows):
            continue
        picked = _rows_of(log.candidates, rows)
        per_row = np.diff(picked.offsets)
        clicks = _rows_of(log.labels, rows).values
        tables[split] = {
            "user": Column("int", np.repeat(log.row[rows].astype(np.int32), per_row)),
            "item": Column("int", np.asarray(picked.values, dtype=np.int32)),
            "label": Column("float", np.asarray(clicks, dtype=np.float32)),
            "group": Column("int", np.repeat(np.asarray(rows, dtype=group_dtype), per_row)),  # per impression
            "time": Column("int", np.repeat(log.time[rows], per_row)),
        }
        counts["impressions"][split] = len(rows)
        counts["interactions"][split] = int(per_row.sum())
        counts["clicks"][split] = int(clicks.sum())
    info = {
        **info,
        "items": len(items["item_id"]),
        "persons": len(log.persons),
        "user_rows": len(log.row_person),
        **counts,
        "unknown_history_items": log.unknown_history,
        "history_items_removed": log.removed_targets,
        "skipped_rows": skipped,
    }
    return DepotContent(tables=tables, vocabs={**vocabs, "user_id": user_vocab}, info=info)
