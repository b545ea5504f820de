"""Building columns row by row in bounded memory.

A big raw file (Netflix's 100M ratings, Amazon Books' reviews) must never
become a list of dicts: a Python object per field costs 50-100 bytes. These
builders keep numbers in typed ``array.array`` buffers (4-8 bytes a value)
and ids in one dict of strings, then hand NumPy arrays to the split protocol.

- :class:`IdIndex` maps original ids (strings) to dense indices in
  first-seen order.
- :class:`EventLog` collects ``(person, item, time, rating)`` events and turns
  them into :class:`lego_datasets.splits.Ratings`, with optional deduplication
  of repeated ``(person, item)`` pairs (listening logs, repeat purchases).

Example:
    >>> log = EventLog()
    >>> log.add("u1", "i1", 30, 5.0); log.add("u1", "i2", 10, 2.0); log.add("u2", "i1", 20, 4.0)
    >>> r = log.ratings(threshold=4.0)
    >>> r.person.tolist(), r.item.tolist(), r.label.tolist()
    ([0, 0, 1], [0, 1, 0], [1.0, 0.0, 1.0])
    >>> log.persons.ids, log.items.ids
    (['u1', 'u2'], ['i1', 'i2'])
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np

from lego_datasets.splits import Ratings

DEDUPE = ("none", "first", "last")


class IdIndex:
    """Original ids -> dense indices ``0..n-1``, in first-seen order.

    Example:
        >>> index = IdIndex()
        >>> index.add("b"), index.add("a"), index.add("b"), index.get("zzz"), len(index)
        (0, 1, 0, None, 2)
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        for value in ids:
            self.add(value)

    def add(self, value: str) -> int:
        """The index of ``value``, adding it when new."""
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.ids)
            self.ids.append(value)
        return found

    def get(self, value: str) -> int | None:
        """The index of ``value``, or None when it was never added."""
        return self.index.get(value)

    def __contains__(self, value: object) -> bool:
        return value in self.index

    def __len__(self) -> int:
        return len(self.ids)


class EventLog:
    """Interaction events kept as typed arrays (about 28 bytes an event).

    Args:
        persons, items: id indices to fill (pass the item catalogue's index to
            keep item rows aligned with the items table).
    """

    def __init__(self, persons: IdIndex | None = None, items: IdIndex | None = None) -> None:
        self.persons = persons if persons is not None else IdIndex()
        self.items = items if items is not None else IdIndex()
        self._person = array("i")
        self._item = array("i")
        self._time = array("q")
        self._rating = array("f")

    def __len__(self) -> int:
        return len(self._person)

    def add(self, person: str, item: str, time: int, rating: float = 1.0) -> None:
        """One event; ``time`` in Unix seconds (or any number whose order is the time order)."""
        self._person.append(self.persons.add(person))
        self._item.append(self.items.add(item))
        self._time.append(int(time))
        self._rating.append(rating)

    def add_indexed(self, person: int, item: int, time: int, rating: float = 1.0) -> None:
        """One event whose person and item indices are already known (faster for big files)."""
        self._person.append(person)
        self._item.append(item)
        self._time.append(int(time))
        self._rating.append(rating)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(person int32, item int32, time int64, rating float32)`` views of the events."""
        return (
            np.frombuffer(self._person, dtype=np.int32),
            np.frombuffer(self._item, dtype=np.int32),
            np.frombuffer(self._time, dtype=np.int64),
            np.frombuffer(self._rating, dtype=np.float32),
        )

    def ratings(self, threshold: float | None = None, *, dedupe: str = "none") -> Ratings:
        """The events as :class:`Ratings`.

        Args:
            threshold: ``rating >= threshold`` is a positive; None makes every
                event a positive (implicit data).
            dedupe: ``"none"`` keeps every event; ``"first"``/``"last"`` keep one
                event per (person, item), the earliest or the latest in time
                (ties: file order).
        """
        if dedupe not in DEDUPE:
            raise ValueError(f"dedupe must be one of {DEDUPE}, got {dedupe!r}")
        person, item, time, rating = self.arrays()
        if dedupe != "none" and len(person):
            keep = _one_per_pair(person, item, time, latest=dedupe == "last")
            person, item, time, rating = person[keep], item[keep], time[keep], rating[keep]
        label = (
            np.ones(len(person), dtype=np.float32) if threshold is None else (rating >= threshold).astype(np.float32)
        )
        return Ratings(
            person=np.asarray(person, dtype=np.int64),
            item=np.asarray(item, dtype=np.int64),
            time=np.asarray(time),
            label=label,
        )


def _one_per_pair(person: np.ndarray, item: np.ndarray, time: np.ndarray, *, latest: bool) -> np.ndarray:
    """Sorted positions of one event per (person, item): the earliest (or latest) in time, ties in file order."""
    position = np.arange(len(person))
    # sort by pair, then time, then file order; take the first (or last) of each pair
    order = np.lexsort((position, time, item, person))
    p, i = person[order], item[order]
    boundary = np.ones(len(order), dtype=bool)
    if latest:
        boundary[:-1] = (p[1:] != p[:-1]) | (i[1:] != i[:-1])
    else:
        boundary[1:] = (p[1:] != p[:-1]) | (i[1:] != i[:-1])
    return np.sort(order[boundary])
