"""Scoring a split and computing its metrics.

With caches (the default) every item is encoded once, every user row once,
and only the predictor runs per pair. Without (``cache = false``), pairs are
scored in chunks through the plain forward pass. Both give the same scores
to float tolerance (a test holds this for every combination of bricks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch

from lego_core import faults
from lego_core.data.depot import Depot
from lego_core.engine.distributed import SINGLE, Distributed
from lego_core.metrics.base import Metric
from lego_core.metrics.segments import SortedPairs
from lego_core.model.recommender import Recommender


@attrs.frozen
class SplitPairs:
    rows: np.ndarray
    items: np.ndarray
    labels: np.ndarray
    groups: np.ndarray

    @classmethod
    def from_depot(cls, depot: Depot, split: str, group_by: str) -> SplitPairs:
        table = depot.table(split)
        rows = np.asarray(table["user"], dtype=np.int64)
        if group_by == "user":
            users = depot.users
            person = np.asarray(users["user_id"], dtype=np.int64) if "user_id" in users else np.arange(users.num_rows)
            groups = person[rows]
        else:
            groups = np.asarray(table["group"], dtype=np.int64)
        return cls(
            rows=rows,
            items=np.asarray(table["item"], dtype=np.int64),
            labels=np.asarray(table["label"], dtype=np.float32),
            groups=groups,
        )

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def part(self, where: slice) -> SplitPairs:
        """The pairs of a contiguous shard (a rank's under torchrun)."""
        return SplitPairs(
            rows=self.rows[where], items=self.items[where], labels=self.labels[where], groups=self.groups[where]
        )


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA when enabled; nothing on CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def score_split(
    model: Recommender, pairs: SplitPairs, *, cache: bool = True, batch_size: int = 512, amp: bool = False
) -> np.ndarray:
    """Scores (float64) of every pair of a split, in input order."""
    device = model.items.device
    scores = np.empty(len(pairs.rows), dtype=np.float64)
    if not len(scores):  # an empty shard (more ranks than pairs)
        return scores
    was_training = model.training
    model.eval()
    with autocast(device, amp):
        if cache:
            item_cache = model.encode_items_read_by(torch.from_numpy(pairs.rows), torch.from_numpy(pairs.items))
            unique_rows, position = np.unique(pairs.rows, return_inverse=True)
            user, user_mask = model.encode_users(
                torch.from_numpy(unique_rows).to(device), item_cache, page_size=batch_size
            )
            for s in range(0, len(pairs.rows), batch_size):
                pos = torch.from_numpy(position[s : s + batch_size]).to(device)
                rows = torch.from_numpy(pairs.rows[s : s + batch_size]).to(device)
                items = torch.from_numpy(pairs.items[s : s + batch_size]).to(device)
                out = model.score_pairs(
                    user[pos], None if user_mask is None else user_mask[pos], item_cache, rows, items
                )
                scores[s : s + batch_size] = out.float().cpu().numpy()
                faults.point("evaluation")
        else:
            _score_impressions(model, pairs, scores, batch_size)
    model.train(was_training)
    return scores


def _score_impressions(model: Recommender, pairs: SplitPairs, scores: np.ndarray, batch_size: int) -> None:
    """The plain path: each impression (a user row's candidates in one group) is one line of a forward.

    Impressions of similar length share a batch, so padding (a line's own
    first candidate, its score dropped) stays small.
    """
    device = model.items.device
    order = np.lexsort((pairs.groups, pairs.rows))
    rows, groups = pairs.rows[order], pairs.groups[order]
    starts = np.flatnonzero(np.r_[True, (rows[1:] != rows[:-1]) | (groups[1:] != groups[:-1])])
    lengths = np.diff(np.r_[starts, len(order)])
    by_length = np.argsort(lengths, kind="stable")
    for s in range(0, len(by_length), batch_size):
        chosen = by_length[s : s + batch_size]
        width = int(lengths[chosen].max())
        column = np.arange(width)
        real = column[None, :] < lengths[chosen, None]  # (n, width)
        where = order[starts[chosen, None] + np.where(real, column[None, :], 0)]  # padding repeats the first
        candidates = torch.from_numpy(pairs.items[where]).to(device)
        line_rows = torch.from_numpy(rows[starts[chosen]]).to(device)
        out = model(line_rows, candidates).float().cpu().numpy()
        scores[where[real]] = out[real]


def compute_metrics(
    metrics: Sequence[Metric], scores: np.ndarray, labels: np.ndarray, groups: np.ndarray
) -> dict[str, float]:
    """Every metric of a split; the pairs are sorted once and shared (:class:`SortedPairs`)."""
    raw = SortedPairs(scores, labels, groups)
    probabilities = None
    out = {}
    for m in metrics:
        if m.on_probabilities:
            if probabilities is None:
                probabilities = SortedPairs(1.0 / (1.0 + np.exp(-np.clip(scores, -60, 60))), labels, groups)
            out[m.key] = float(m.compute_sorted(probabilities).value)
        else:
            out[m.key] = float(m.compute_sorted(raw).value)
    return out


class Evaluator:
    """Scores a depot's splits with a model and computes the experiment's metrics.

    The trainer is handed one of these for validation; the run uses the same
    object for the final splits, and ``lego eval`` for a finished run.

    Args:
        model: the model (on its device).
        depot: the depot its splits come from.
        metrics: metric objects (``ResolvedExperiment.metrics``).
        group_by: ``"impression"`` or ``"user"``.
        batch_size: pairs (and users) per step.
        cache: use the item and user caches.
        amp: bf16 autocast on CUDA.
    """

    def __init__(
        self,
        model: Recommender,
        depot: Depot,
        metrics: Sequence[Metric],
        *,
        group_by: str,
        batch_size: int = 512,
        cache: bool = True,
        amp: bool = False,
        dist: Distributed = SINGLE,
    ) -> None:
        self.model = model
        self.dist = dist
        self.depot = depot
        self.metrics = list(metrics)
        self.group_by = group_by
        self.batch_size = batch_size
        self.cache = cache
        self.amp = amp
        self._pairs: dict[str, SplitPairs] = {}

    def pairs(self, split: str) -> SplitPairs:
        if split not in self._pairs:
            self._pairs[split] = SplitPairs.from_depot(self.depot, split, self.group_by)
        return self._pairs[split]

    def scores(self, split: str, cache: bool | None = None) -> np.ndarray:
        """Every pair's score of ``split``, in the split's order.

        Under torchrun each rank scores its shard and every rank gets all the scores, so grouped
        metrics see whole groups.
        """
        pairs = self.pairs(split)
        mine = pairs.part(self.dist.shard(len(pairs))) if self.dist.active else pairs
        part = score_split(
            self.model, mine, cache=self.cache if cache is None else cache, batch_size=self.batch_size, amp=self.amp
        )
        return self.dist.gather(part, len(pairs))

    def evaluate(self, split: str, cache: bool | None = None) -> dict[str, float]:
        """Metric key -> value on ``split``."""
        pairs = self.pairs(split)
        return compute_metrics(self.metrics, self.scores(split, cache), pairs.labels, pairs.groups)
