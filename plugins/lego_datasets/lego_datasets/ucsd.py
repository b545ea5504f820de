"""Pieces shared by the processors of the McAuley-lab (UCSD) dumps: ``amazon`` and ``goodreads``.

Both read a big interaction file first (the item index is the items with
interactions) and a metadata file second, whose rows come in their own
order, hold items nobody interacted with, and repeat some ids.
:class:`ItemContent` streams those rows into typed buffers (UTF-8 bytes and
word ids, never a Python list per row) that become the item columns without
a copy, in the depot's conventions (the columns and vocabularies that
:func:`lego_datasets.columns.text_columns`, ``category_column`` and
``token_list_column`` would build from lists of the same rows). Its rows are
the items in metadata order; :func:`renumber_items` puts a depot's items in
that order. :func:`event_ratings` turns the
:class:`~lego_datasets.builders.EventLog` into
:class:`~lego_datasets.splits.Ratings`, removing duplicate events.

Example:
    >>> items = IdIndex(["b1", "b2", "b3"])
    >>> content = ItemContent(items, texts=("title",), tokens={"genres": "genres"},
    ...                       categories={"brand": "brand"})
    >>> content.add(content.row("b3"), {"title": "Night Owl", "genres": ["jazz"], "brand": "Blue"})
    >>> content.add(content.row("b1"), {"title": "Owl Songs", "genres": ["jazz", "folk"], "brand": None})
    >>> content.row("b1"), content.row("zz")  # already filled, not an item: both skipped
    (None, None)
    >>> columns, vocabs = content.columns()
    >>> content.order.tolist()  # b3, b1 (in metadata order), then b2 (no metadata)
    [2, 0, 1]
    >>> columns["title_text"].data.lengths.tolist(), vocabs["words"]
    ([9, 9, 0], ['<pad>', '<unk>', 'owl', 'night', 'songs'])
    >>> columns["genres"].data.row(1).tolist(), vocabs["genres"]
    ([2, 3], ['<pad>', '<unk>', 'jazz', 'folk'])
    >>> columns["brand"].data.tolist(), vocabs["brand"]
    ([1, 0, 0], ['<unk>', 'Blue'])
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lego_core.data.depot import Column, DepotContent
from lego_core.data.ragged import Ragged
from lego_core.data.vocab import PAD, UNK, tokenize
from lego_datasets.builders import EventLog, IdIndex
from lego_datasets.columns import id_column
from lego_datasets.splits import SPLITS, Ratings

DEDUPE = ("exact", "first", "last", "none")
DEDUPE_DOC = (
    'Repeated events: "exact" drops events with the same user, item and time as an earlier one '
    '(duplicate lines of the dump); "first"/"last" keep one event per user and item, the earliest '
    'or the latest; "none" keeps all.'
)


class _Ids:
    """Provisional ids of strings in first-seen order."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def ids(self, values: Iterable[str]) -> list[int]:
        index = self.index
        return [index.setdefault(value, len(index)) for value in values]


class _Ragged:
    """Provisional ids per row (``values`` under an :class:`_Ids`), plus UTF-8 bytes for text."""

    def __init__(self, text: bool) -> None:
        self.values = array("i")
        self.lengths = array("q")
        self.text = bytearray() if text else None
        self.text_lengths = array("q")

    def add(self, ids: Sequence[int], text: str | None = None) -> None:
        self.values.extend(ids)
        self.lengths.append(len(ids))
        if self.text is not None:
            encoded = (text or "").encode("utf-8")
            self.text.extend(encoded)
            self.text_lengths.append(len(encoded))


def _int32(buffer: array) -> np.ndarray:
    """A writable int32 view of an ``array("i")`` (no copy)."""
    return np.frombuffer(buffer, dtype=np.int32) if len(buffer) else np.zeros(0, np.int32)


def _offsets(lengths: array, empty_rows: int) -> np.ndarray:
    """Offsets of the rows of ``lengths``, then ``empty_rows`` empty rows."""
    offsets = np.zeros(len(lengths) + 1 + empty_rows, dtype=np.int64)
    if len(lengths):
        np.cumsum(np.frombuffer(lengths, dtype=np.int64), out=offsets[1 : len(lengths) + 1])
    offsets[len(lengths) + 1 :] = offsets[len(lengths)]
    return offsets


def _counts(buffers: Iterable[array], size: int, chunk: int = 1 << 22) -> np.ndarray:
    """How often each id ``0..size-1`` occurs in the ``array("i")`` buffers.

    ``np.bincount`` widens its input to int64, so it sees a slice at a time.
    """
    counts = np.zeros(size, dtype=np.int64)
    for buffer in buffers:
        values = _int32(buffer)
        for lo in range(0, len(values), chunk):
            counts += np.bincount(values[lo : lo + chunk], minlength=size)
    return counts


def map_in_place(values: np.ndarray, mapping: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """``mapping[values]``, written over ``values`` a slice at a time when it is writable (else a copy)."""
    if not values.flags.writeable:
        return mapping[values].astype(values.dtype, copy=False)
    for lo in range(0, len(values), chunk):
        values[lo : lo + chunk] = mapping[values[lo : lo + chunk]]
    return values


def _gather(values: np.ndarray, offsets: np.ndarray, rows: np.ndarray, chunk: int = 1 << 20) -> Ragged:
    """The ragged rows ``rows`` of ``(values, offsets)``, gathered about ``chunk`` values at a time."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    out = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    gathered = np.empty(int(out[-1]), dtype=values.dtype)
    bounds = np.unique(
        np.concatenate([np.searchsorted(out, np.arange(0, int(out[-1]), chunk), "right") - 1, [len(rows)]])
    )
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        shift = np.repeat(out[lo:hi] - starts[lo:hi], lengths[lo:hi])
        index = np.arange(out[lo], out[hi], dtype=np.int64) - shift
        gathered[out[lo] : out[hi]] = values[index]
    return Ragged(values=gathered, offsets=out)


def _frequency_order(ids: _Ids, counts: np.ndarray) -> tuple[list[str], np.ndarray]:
    """``<pad>``, ``<unk>``, then the strings by count (ties alphabetical), and provisional id -> final id."""
    words = list(ids.index)
    order = sorted(range(len(words)), key=lambda i: (-counts[i], words[i]))
    final = np.zeros(max(len(words), 1), dtype=np.int32)
    final[np.asarray(order, dtype=np.int64)] = np.arange(2, len(words) + 2, dtype=np.int32)
    return [PAD, UNK, *(words[i] for i in order)], final


class ItemContent:
    """Item columns filled from metadata rows in any order.

    Args:
        items: the item index; metadata of other ids is ignored, a second row
            of an id too.
        texts: text attributes: word ids under the shared ``words`` vocabulary
            plus the raw string in ``<name>_text``.
        tokens: multi-valued attributes, name -> vocabulary (one token per value).
        categories: categorical attributes, name -> vocabulary (id 0 = missing).

    :meth:`columns` puts the items with metadata first, in the order their rows
    came, then the others (empty text, no tokens, category 0) in index order:
    the buffers then become the columns without a copy. ``order`` gives the
    item index of each row (:func:`renumber_items` applies it to a depot).
    ``filled``, ``unused`` and ``duplicates`` count the metadata rows.
    """

    def __init__(
        self,
        items: IdIndex,
        *,
        texts: Sequence[str] = (),
        tokens: Mapping[str, str] | None = None,
        categories: Mapping[str, str] | None = None,
    ) -> None:
        self.items = items
        self.slot = np.full(len(items), -1, dtype=np.int64)
        self.filled = self.unused = self.duplicates = 0
        self.words = _Ids()
        self.texts = {name: _Ragged(text=True) for name in texts}
        self.token_vocab = dict(tokens or {})
        self.tokens = {name: _Ragged(text=False) for name in self.token_vocab}
        self.token_ids = {vocab: _Ids() for vocab in self.token_vocab.values()}
        self.category_vocab = dict(categories or {})
        self.codes = {name: array("i") for name in self.category_vocab}
        self.category_ids = {vocab: _Ids() for vocab in self.category_vocab.values()}

    def row(self, item: Any) -> int | None:
        """The index of ``item`` when it is an item still without metadata, else ``None`` (counted)."""
        index = self.items.get(item) if isinstance(item, str) else None
        if index is None:
            self.unused += 1
            return None
        if self.slot[index] >= 0:
            self.duplicates += 1
            return None
        return index

    def add(self, index: int | None, values: Mapping[str, Any]) -> None:
        """The metadata of item ``index`` (from :meth:`row`; ``None`` does nothing).

        ``values`` maps each declared attribute to a string (text), a list of
        strings (tokens) or a string or ``None`` (category); a missing key is empty.
        """
        if index is None:
            return
        self.slot[index] = self.filled
        self.filled += 1
        for name, column in self.texts.items():
            text = values.get(name) or ""
            column.add(self.words.ids(tokenize(text)), text)
        for name, column in self.tokens.items():
            column.add(self.token_ids[self.token_vocab[name]].ids(dict.fromkeys(values.get(name) or ())))
        for name, codes in self.codes.items():
            value = values.get(name)
            codes.append(self.category_ids[self.category_vocab[name]].ids((value,))[0] + 1 if value else 0)

    def rename_tokens(self, vocab: str, names: Mapping[str, str]) -> int:
        """Replace the token values of ``vocab`` by ``names[value]`` where given (author ids -> names).

        Values that end up equal become one token. Returns how many values were renamed.
        """
        old = self.token_ids[vocab]
        new = _Ids()
        remap = np.asarray(new.ids(names.get(value, value) for value in old.index), dtype=np.int32)
        for name, column in self.tokens.items():
            if self.token_vocab[name] == vocab:
                map_in_place(_int32(column.values), remap)
        self.token_ids[vocab] = new
        return sum(value in names for value in old.index)

    @property
    def order(self) -> np.ndarray:
        """The item index of each row of :meth:`columns`: items with metadata in row order, then the rest."""
        has = self.slot >= 0
        first = np.empty(self.filled, dtype=np.int64)
        first[self.slot[has]] = np.flatnonzero(has)
        return np.concatenate([first, np.flatnonzero(~has)])

    def _ragged(self, values: np.ndarray, lengths: array, rows: np.ndarray | None) -> Ragged:
        if rows is None:  # the builder's own order: the buffer as it is
            return Ragged(values=values, offsets=_offsets(lengths, len(self.slot) - self.filled))
        return _gather(values, _offsets(lengths, 1), rows)

    def columns(self, order: np.ndarray | None = None) -> tuple[dict[str, Column], dict[str, list[str]]]:
        """The item columns and their vocabularies; call once (the buffers become the columns).

        Args:
            order: item indices, one per row (another builder's :attr:`order`):
                the rows are gathered into it. ``None``: this builder's
                :attr:`order`, without copying.
        """
        rows = None if order is None else np.where(self.slot[order] >= 0, self.slot[order], self.filled)
        columns: dict[str, Column] = {}
        vocabs: dict[str, list[str]] = {}
        if self.texts:
            counts = _counts((column.values for column in self.texts.values()), len(self.words.index))
            vocabs["words"], final = _frequency_order(self.words, counts)
            for name, column in self.texts.items():
                word_ids = map_in_place(_int32(column.values), final)
                columns[name] = Column("tokens", self._ragged(word_ids, column.lengths, rows), vocab="words")
                text = np.frombuffer(column.text, dtype=np.uint8) if column.text else np.zeros(0, np.uint8)
                columns[f"{name}_text"] = Column("text", self._ragged(text, column.text_lengths, rows))
        for vocab, ids in self.token_ids.items():
            names = [name for name, v in self.token_vocab.items() if v == vocab]
            counts = _counts((self.tokens[name].values for name in names), len(ids.index))
            vocabs[vocab], final = _frequency_order(ids, counts)
            for name in names:
                mapped = map_in_place(_int32(self.tokens[name].values), final)
                ragged = self._ragged(mapped, self.tokens[name].lengths, rows)
                columns[name] = Column("tokens", ragged, vocab=vocab)
        empty = np.zeros(len(self.slot) - self.filled, dtype=np.int32)
        for vocab, ids in self.category_ids.items():
            names = [name for name, v in self.category_vocab.items() if v == vocab]
            coded = {
                name: np.append(_int32(self.codes[name]), 0)[rows]
                if rows is not None
                else np.concatenate([_int32(self.codes[name]), empty])
                for name in names
            }
            # the vocabulary lists values in first-seen order over the rows, as category_column does
            stacked = np.stack([coded[name] for name in names], axis=1).reshape(-1)
            present, first = np.unique(stacked, return_index=True)
            present, first = present[present > 0], first[present > 0]
            seen = present[np.argsort(first, kind="stable")]
            final = np.zeros(len(ids.index) + 1, dtype=np.int32)
            final[seen] = np.arange(1, len(seen) + 1, dtype=np.int32)
            strings = list(ids.index)
            vocabs[vocab] = [UNK, *(strings[code - 1] for code in seen.tolist())]
            for name in names:
                columns[name] = Column("category", final[coded[name]], vocab=vocab)
        return columns, vocabs


def renumber_items(content: DepotContent, order: np.ndarray, ids: Sequence[str]) -> None:
    """Put the items of ``content`` in ``order`` (the old item index of each new row).

    Every item reference follows: the ``item`` column of the split tables and
    every ``items`` column (the users' histories). ``ids`` are the original
    item ids by old index; the ``item_id`` column and vocabulary are rebuilt.
    """
    new = np.empty(len(order), dtype=np.int32)
    new[order] = np.arange(len(order), dtype=np.int32)
    for name, table in content.tables.items():
        for cname, column in list(table.items()):
            if column.kind == "items":
                ragged = column.data
                values = map_in_place(np.asarray(ragged.values), new)
                table[cname] = Column("items", Ragged(values=values, offsets=ragged.offsets), vocab=column.vocab)
            elif name in SPLITS and cname == "item":
                values = map_in_place(np.asarray(column.data), new)
                table[cname] = Column(column.kind, values, vocab=column.vocab)
    item_ids, content.vocabs["item_id"] = id_column([ids[i] for i in order.tolist()], "item_id")
    content.tables["items"]["item_id"] = item_ids


def event_ratings(
    log: EventLog, threshold: float | None, dedupe: str, drop: np.ndarray | None = None
) -> tuple[Ratings, int]:
    """The events of ``log`` as :class:`Ratings` (copies), and how many duplicates were removed.

    Args:
        log: the events in file order.
        threshold: ``value >= threshold`` is a positive; ``None``: every event is.
        dedupe: one of :data:`DEDUPE` (see :data:`DEDUPE_DOC`).
        drop: a mask of events to leave out before deduplicating (e.g. neutral ratings).
    """
    if dedupe not in DEDUPE:
        raise ValueError(f"dedupe must be one of {', '.join(DEDUPE)}, got {dedupe!r}")
    person, item, time, value = log.arrays()
    if drop is not None:
        keep = ~drop
        person, item, time, value = person[keep], item[keep], time[keep], value[keep]
    before = len(person)
    if dedupe in ("first", "last") and before:
        position = np.arange(before)
        order = np.lexsort((position, time, item, person))
        p, i = person[order], item[order]
        boundary = np.ones(before, dtype=bool)
        if dedupe == "last":
            boundary[:-1] = (p[1:] != p[:-1]) | (i[1:] != i[:-1])
        else:
            boundary[1:] = (p[1:] != p[:-1]) | (i[1:] != i[:-1])
        del p, i
        kept = np.sort(order[boundary])
        person, item, time, value = person[kept], item[kept], time[kept], value[kept]
    elif dedupe == "exact" and before:
        order = np.lexsort((time, item, person))  # stable: equal events stay in file order
        same = np.zeros(before, dtype=bool)
        same[1:] = (
            (person[order[1:]] == person[order[:-1]])
            & (item[order[1:]] == item[order[:-1]])
            & (time[order[1:]] == time[order[:-1]])
        )
        if same.any():
            kept = np.sort(order[~same])
            person, item, time, value = person[kept], item[kept], time[kept], value[kept]
        del order, same
    label = np.ones(len(person), dtype=np.float32) if threshold is None else (value >= threshold).astype(np.float32)
    # int32 indices (as EventLog stores them): the split protocol widens where it multiplies
    ratings = Ratings(
        person=np.array(person, dtype=np.int32),
        item=np.array(item, dtype=np.int32),
        time=np.array(time, dtype=np.int64),
        label=label,
    )
    return ratings, before - len(person)


def as_text(value: Any, sep: str = " ") -> str:
    """A metadata value as one string: a string as is, a list of strings joined, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return sep.join(v for v in value if isinstance(v, str) and v)
    return ""


def as_strings(value: Any) -> list[str]:
    """A list of non-empty strings (nested lists flattened, in order, without repeats)."""
    out: dict[str, None] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.strip():
                out[item.strip()] = None
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return list(out)
