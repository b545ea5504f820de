"""Listening logs (Last.fm 1K, HetRec Last.fm 2K, LFM-1b) as implicit ratings: options and play counting.

A listening log has no ratings, only plays. The three Last.fm processors turn
plays into :class:`~lego_datasets.splits.Ratings` the same way:

- ``dedupe = "first"`` (default) keeps one interaction per (user, item) at
  the time of its first play (``"last"``: the latest play; ``"none"``: every
  play, the sequential setting with repeats).
- The "rating" of an interaction is the number of plays of its (user, item)
  pair in the whole log: ``label = 1`` when it is at least
  ``positive_threshold`` (default 1: every pair is a positive), else 0.
- Implicit data is all positives, so valid and test get
  ``eval_negatives = 100`` sampled unplayed items per user by default
  (drawn once, seeded, stored in the depot).

Example:
    >>> import numpy as np
    >>> r, info = play_ratings(np.array([0, 0, 0, 1]), np.array([5, 7, 5, 5]), np.array([30, 10, 20, 40]),
    ...                        dedupe="first", threshold=2)
    >>> r.item.tolist(), r.time.tolist(), r.label.tolist(), info
    ([7, 5, 5], [10, 20, 40], [0.0, 1.0, 0.0], {'plays': 4, 'pairs': 3})
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_datasets.splits import RatingOptions, Ratings, one_of

DEDUPE = ("first", "last", "none")


@attrs.define(kw_only=True, frozen=True)
class ImplicitOptions(RatingOptions):
    """:class:`RatingOptions` with the defaults of implicit data (play counts, sampled negatives)."""

    positive_threshold: float = attrs.field(
        default=1.0,
        validator=v.instance_of((int, float)),
        metadata={
            "doc": "Plays of a (user, item) pair at or above this make it a positive; pairs played "
            "fewer times are kept as negatives (label 0). 1 makes every pair a positive."
        },
    )
    eval_negatives: int = attrs.field(
        default=100,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Unplayed items sampled once per user for valid and for test (label 0), so that "
            "ranking metrics mean something on all-positive data; 0 evaluates on played items only."
        },
    )


@attrs.define(kw_only=True, frozen=True)
class ListeningOptions(ImplicitOptions):
    """Options of timestamped listening logs (``lastfm1k``, ``lfm1b``)."""

    dedupe: str = attrs.field(
        default="first",
        validator=one_of(DEDUPE),
        metadata={
            "doc": '"first": one interaction per (user, item) at its first play; "last": at its '
            'latest play; "none": every play is an interaction (repeats included).'
        },
    )


def play_ratings(
    person: np.ndarray, item: np.ndarray, time: np.ndarray, *, dedupe: str, threshold: float
) -> tuple[Ratings, dict[str, Any]]:
    """Plays (in file order) as :class:`Ratings`, labelled by the play count of their (user, item) pair.

    Args:
        person, item: dense indices per play.
        time: Unix seconds per play (ties keep file order).
        dedupe: ``"first"``, ``"last"`` or ``"none"`` (see the module docstring).
        threshold: plays of a pair at or above this make a positive.

    Returns:
        The ratings (in file order of the kept plays) and the counts of ``plays`` and ``pairs``.
    """
    if dedupe not in DEDUPE:
        raise ValueError(f"dedupe must be one of {', '.join(map(repr, DEDUPE))}, got {dedupe!r}")
    n = len(person)
    person, item, time = np.asarray(person, np.int64), np.asarray(item, np.int64), np.asarray(time, np.int64)
    num_items = int(item.max(initial=-1)) + 1
    key = person * num_items + item
    order = np.lexsort((time, key))  # by pair, then time; lexsort is stable, so ties keep file order
    sorted_key = key[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_key[1:] != sorted_key[:-1]])) if n else np.zeros(0, int)
    counts = np.diff(np.append(starts, n))
    if dedupe == "none":
        plays = np.empty(n, np.int64)
        plays[order] = np.repeat(counts, counts)
        keep = np.arange(n)
    else:
        chosen = starts if dedupe == "first" else starts + counts - 1
        keep_order = np.argsort(order[chosen], kind="stable")
        keep = order[chosen][keep_order]
        plays = counts[keep_order]
    label = (plays >= threshold).astype(np.float32)
    ratings = Ratings(person=person[keep], item=item[keep], time=time[keep], label=label)
    return ratings, {"plays": n, "pairs": len(starts)}
