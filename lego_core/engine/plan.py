"""What each training epoch sees: order, candidates and labels, decided up front.

An epoch's plan depends only on ``(seed, epoch)``, so a resumed run rebuilds
exactly the batches it would have seen and skips the ones already done.

Matching: every positive pair gets ``neg_count`` negatives, first from its
own impression's non-clicked items (drawn without replacement), then items
sampled uniformly from the catalogue that are not among the user's training
positives (rejection sampling, vectorised). The positive sits in column 0.
Ranking: every labelled pair once, with its label.
"""

from __future__ import annotations

import attrs
import numpy as np

from lego_core.data.depot import Depot
from lego_core.errors import DataError

_REJECTION_ROUNDS = 20


@attrs.frozen
class EpochPlan:
    rows: np.ndarray  # (n,) user rows
    candidates: np.ndarray  # (n, K) items; matching: positive first
    labels: np.ndarray  # (n,) float32, ranking only (ones in matching)

    def __len__(self) -> int:
        return len(self.rows)


class TrainingPlan:
    """Builds :class:`EpochPlan` objects for a depot's training split."""

    def __init__(self, depot: Depot, neg_count: int, seed: int) -> None:
        if "train" not in depot.splits:
            raise DataError(f"{depot.path}: the depot has no train split; it has {', '.join(depot.splits)}")
        train = depot.table("train")
        self.seed = seed
        self.neg_count = neg_count
        self.num_items = depot.items.num_rows
        users = np.asarray(train["user"], dtype=np.int64)
        items = np.asarray(train["item"], dtype=np.int64)
        labels = np.asarray(train["label"], dtype=np.float32)
        groups = np.asarray(train["group"], dtype=np.int64)
        positive = labels > 0.5
        if not positive.any():
            raise DataError(f"{depot.path}: the train split has no positive pair (label 1); nothing to learn")
        if neg_count == 0:
            if positive.all():
                raise DataError(
                    f"{depot.path}: the train split has only positive pairs, and ranking (neg_count = 0) needs "
                    "labelled negatives; train with matching (model.neg_count > 0), which samples them"
                )
            self.users, self.items, self.labels = users, items, labels
            return
        self.users, self.items = users[positive], items[positive]
        self.labels = np.ones(len(self.users), dtype=np.float32)
        # the impression negatives of each positive: a slice of the group-sorted negatives
        neg_groups, neg_items = groups[~positive], items[~positive]
        order = np.argsort(neg_groups, kind="stable")
        self.neg_items = neg_items[order]
        sorted_groups = neg_groups[order]
        pos_groups = groups[positive]
        self.neg_lo = np.searchsorted(sorted_groups, pos_groups, side="left")
        self.neg_hi = np.searchsorted(sorted_groups, pos_groups, side="right")
        # the user's positives, to keep them out of the sampled negatives
        person = (
            np.asarray(depot.users["user_id"], dtype=np.int64)
            if "user_id" in depot.users
            else np.arange(depot.users.num_rows)
        )
        self.owner = person[self.users]
        self.positive_keys = np.unique(self.owner * self.num_items + self.items)

    def epoch(self, epoch: int) -> EpochPlan:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.users))
        rows = self.users[order]
        if self.neg_count == 0:
            return EpochPlan(rows=rows, candidates=self.items[order, None], labels=self.labels[order])
        negatives = self._negatives(order, rng)
        candidates = np.concatenate([self.items[order, None], negatives], axis=1)
        return EpochPlan(rows=rows, candidates=candidates, labels=self.labels[order])

    def _negatives(self, order: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = self.neg_count
        n = len(order)
        lo, hi = self.neg_lo[order], self.neg_hi[order]
        counts = hi - lo
        out = np.full((n, k), -1, dtype=np.int64)
        total = int(counts.sum())
        if total:
            seg = np.repeat(np.arange(n), counts)
            starts = np.zeros(n, dtype=np.int64)
            np.cumsum(counts[:-1], out=starts[1:])
            flat = np.lexsort((rng.random(total), seg))  # a random order inside each impression
            rank = np.arange(total) - starts[seg]
            keep = rank < k
            chosen = flat[keep]
            src_seg = seg[chosen]
            out[src_seg, rank[keep]] = self.neg_items[lo[src_seg] + (chosen - starts[src_seg])]
        missing = out < 0
        owners = np.broadcast_to(self.owner[order, None], out.shape)
        for _ in range(_REJECTION_ROUNDS):
            if not missing.any():
                break
            draw = rng.integers(0, self.num_items, size=int(missing.sum()))
            keys = owners[missing] * self.num_items + draw
            pos = np.searchsorted(self.positive_keys, keys)
            clash = self.positive_keys[np.minimum(pos, len(self.positive_keys) - 1)] == keys
            fill = out[missing]
            fill[~clash] = draw[~clash]
            out[missing] = fill
            missing = out < 0
        if missing.any():  # a user who clicked nearly everything: accept any item
            out[missing] = rng.integers(0, self.num_items, size=int(missing.sum()))
        return out
