"""The splits :mod:`lego_datasets.splits` does not have: random, leave-one-out, and a given split column.

Each returns one 0/1/2 (train/valid/test) per rating, which
:func:`lego_datasets.splits.rating_depot` takes as a given split
(``Ratings.split``); labels, history rows, sampled negatives and groups then
follow the shared protocol unchanged. Histories stay leakage-free under any
split, because a history only holds positives strictly earlier in time than
its row's earliest interaction (and none of the row's own items).

- ``random``: each user's interactions in a seeded random order; the last
  ``test_fraction`` go to test and the ``valid_fraction`` before them to valid,
  rounded exactly as the per-user time split rounds (at least one rating a
  part, train keeps one), as RecBole's random ordering with ``group_by: user``.
- ``leave_one_out``: each user's last interaction in time (ties: file order)
  is test when the user has two or more, the one before it valid when three
  or more, the rest train.
- ``column``: the levels read from the split column, as given.

Example:
    >>> import numpy as np
    >>> r = Ratings(person=np.array([0, 0, 0, 1, 1]), item=np.array([0, 1, 2, 0, 1]),
    ...             time=np.array([30, 10, 20, 5, 6]), label=np.ones(5, np.float32))
    >>> leave_one_out(r).tolist()
    [2, 0, 1, 0, 2]
    >>> sorted(random_split(r, 0.0, 0.34, seed=1).tolist())
    [0, 0, 0, 2, 2]
"""

from __future__ import annotations

import attrs
import numpy as np

from lego_datasets.splits import RatingOptions, Ratings, assign_splits, person_time_order


def random_split(r: Ratings, valid_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """0/1/2 per rating: the per-user split of a seeded random order (the time split's rounding)."""
    shuffled = attrs.evolve(r, time=np.random.default_rng(seed).random(len(r.person)), split=None)
    return assign_splits(
        shuffled, RatingOptions(split_by="user", valid_fraction=valid_fraction, test_fraction=test_fraction)
    )


def leave_one_out(r: Ratings) -> np.ndarray:
    """0/1/2 per rating: each user's last interaction is test (2+), the one before valid (3+), the rest train."""
    split = np.zeros(len(r.person), dtype=np.int8)
    if not len(split):
        return split
    order = person_time_order(r)
    person = r.person[order]
    counts = np.bincount(person)
    from_end = np.cumsum(counts)[person] - np.arange(len(order))  # 1 for a user's last interaction
    many = counts[person]
    split[order] = np.where((from_end == 1) & (many >= 2), 2, np.where((from_end == 2) & (many >= 3), 1, 0))
    return split
