"""A trained run loaded for use: top-k items for a user, scores of new items, vectors.

Top-k goes through the cached path of evaluation: every item of the depot is
encoded once (the item cache), the user's row once, and then

- with the core's ``dot`` predictor and no predictor fields, one matrix product
  ``users @ items.T`` per chunk of users;
- with any other predictor, the predictor itself over all items, in chunks of
  users x items (``pairs_per_step`` pairs at a time).

Scores of the items the person already interacted with are set to ``-inf``
before ``torch.topk`` (``exclude_seen``, the default): every item of the
histories of the person's user rows, and every item of a positive pair of the
person in any split of the depot.

A person (the original id ``--user`` names) may own several user rows (MIND
writes one per impression, time-ordered MovieLens one per split); the row
with the longest history is the one recommended for (the latest, in a
time-ordered depot; among equals, the last row).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from lego_core.builtins.dot import DotPredictor
from lego_core.data.depot import Depot
from lego_core.engine import rundir
from lego_core.engine.checkpoint import load_checkpoint
from lego_core.errors import LegoError
from lego_core.model.inputs import FieldInputs
from lego_core.model.recommender import Recommender
from lego_core.plugin.host import PluginHost
from lego_core.serve.new_items import NewItems, encode_new_items

SCORES_PER_STEP = 1 << 24  # users x items scores held at once (64 MiB of float32)
PAIRS_PER_STEP = 1 << 18  # (user, item) pairs per predictor call on the general path


@attrs.frozen
class Recommendation:
    """One recommended item: its rank (1 = best), original id, score (the predictor's logit), and row."""

    rank: int
    item_id: str
    score: float
    item: int  # the row in the depot's item table, or in the new items (``new``)
    new: bool = False

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _ids(depot: Depot, table: str, column: str) -> list[str]:
    """The original id of every row (its vocabulary string), or the row number when there is no id column."""
    t = depot.table(table)
    if column not in t:
        return [str(i) for i in range(t.num_rows)]
    vocab = depot.vocab(t.vocab_name(column) or column)
    return [vocab[int(i)] for i in np.asarray(t[column])]


class TrainedModel:
    """A run directory's model with its depot, ready to recommend.

    Args:
        model: the :class:`~lego_core.model.recommender.Recommender` with the checkpoint's weights.
        depot: its depot.
        run_dir: the run directory it came from.
    """

    def __init__(self, model: Recommender, depot: Depot, run_dir: Path | None = None) -> None:
        self.model = model.eval()
        self.depot = depot
        self.run_dir = run_dir
        self.device = model.items.device
        self._item_cache: Tensor | None = None
        self._item_ids: list[str] | None = None
        self._seen: tuple[np.ndarray, np.ndarray] | None = None
        users = depot.users
        self.person = (
            np.asarray(users["user_id"], dtype=np.int64)
            if "user_id" in users
            else np.arange(users.num_rows, dtype=np.int64)
        )

    @classmethod
    def load(
        cls, run_dir: str | Path, checkpoint: str = "best.pt", device: str | None = None, host: PluginHost | None = None
    ) -> TrainedModel:
        """Load ``run_dir``'s ``checkpoint`` (``best.pt``; ``last.pt`` when there is no best)."""
        from lego_core.experiment import Experiment

        run_dir = Path(run_dir)
        experiment = Experiment.from_run_dir(run_dir, host=host)
        bound = experiment.bind(device)
        path = run_dir / rundir.CHECKPOINTS / checkpoint
        if not path.is_file() and checkpoint == "best.pt":
            path = run_dir / rundir.CHECKPOINTS / "last.pt"
        if not path.is_file():
            raise LegoError(f"{run_dir}: no checkpoint {checkpoint} in {rundir.CHECKPOINTS}/; is the run trained?")
        model = experiment.build(bound.device)
        model.load_state_dict(load_checkpoint(path, bound.device)["model"])
        return cls(model, bound.depot, run_dir)

    # ------------------------------------------------------------------ ids and vectors
    @property
    def item_ids(self) -> list[str]:
        if self._item_ids is None:
            self._item_ids = _ids(self.depot, "items", "item_id")
        return self._item_ids

    def item_cache(self) -> Tensor:
        """Every depot item's vector ``(num_items, D)``, encoded once."""
        if self._item_cache is None:
            self._item_cache = self.model.encode_all_items()
        return self._item_cache

    def item_vectors(self) -> tuple[list[str], np.ndarray]:
        """The original ids and vectors (float32) of every depot item."""
        return self.item_ids, self.item_cache().float().cpu().numpy()

    def user_vectors(self, all_rows: bool = False) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(ids, rows, vectors)``: one vector per person (their row with the longest history), or per row."""
        rows = np.arange(len(self.person)) if all_rows else self.person_rows()
        user, mask = self.model.encode_users(torch.from_numpy(rows).to(self.device), self.item_cache())
        if mask is not None:
            raise LegoError(
                f"the behavior operator {self.model.behavior.name!r} keeps a sequence per user, not "
                "one vector; only a vector behavior operator's users can be exported"
            )
        ids = _ids(self.depot, "users", "user_id")
        return [ids[int(r)] for r in rows], rows, user.float().cpu().numpy()

    def person_rows(self) -> np.ndarray:
        """One user row per person: the one with the longest history (the last among equals), in person order."""
        lengths = np.asarray(self.depot.users["history"].lengths)
        rows = np.arange(len(self.person))
        # sort by person, then length, then row: the last row of each person's run is the one wanted
        order = np.lexsort((rows, lengths, self.person))
        last = np.append(self.person[order][1:] != self.person[order][:-1], True)
        return order[last]

    def row_of(self, user_id: str) -> int:
        """The user row recommended for the person with original id ``user_id``."""
        users = self.depot.users
        if "user_id" in users:
            vocab = self.depot.vocab(users.vocab_name("user_id") or "user_id")
            try:
                person = vocab.index(str(user_id), 1)
            except ValueError:
                close = [v for v in vocab[1:] if v.lower() == str(user_id).lower()][:1]
                hint = (
                    f" Did you mean {close[0]!r}?"
                    if close
                    else f" Ids look like {vocab[1]!r}."
                    if len(vocab) > 1
                    else ""
                )
                raise LegoError(f"no user {user_id!r} in the depot {self.depot.path}.{hint}") from None
        else:  # no id column: users are named by their row
            if not str(user_id).isdigit() or int(user_id) >= users.num_rows:
                raise LegoError(
                    f"the depot {self.depot.path} has no user_id column; name a user by its row "
                    f"(0..{users.num_rows - 1}), got {user_id!r}"
                )
            person = int(user_id)
        rows = np.flatnonzero(self.person == person)
        if not len(rows):
            raise LegoError(f"user {user_id!r} has no row in the depot's user table {self.depot.path}")
        lengths = np.asarray(users["history"].lengths)[rows]
        return int(rows[np.lexsort((rows, lengths))[-1]])

    # ------------------------------------------------------------------ what a person has seen
    def _seen_by_person(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR ``(offsets, items)`` by person id: their history items and positive items of every split."""
        if self._seen is None:
            users, num_items = self.depot.users, self.depot.items.num_rows
            history = users["history"]
            lengths = np.asarray(history.lengths)
            persons = [np.repeat(self.person, lengths)]
            items = [np.asarray(history.values, dtype=np.int64)]
            for split in self.depot.splits:
                table = self.depot.table(split)
                positive = np.asarray(table["label"]) > 0.5
                persons.append(self.person[np.asarray(table["user"], dtype=np.int64)[positive]])
                items.append(np.asarray(table["item"], dtype=np.int64)[positive])
            keys = np.unique(np.concatenate(persons) * num_items + np.concatenate(items))
            owner, item = keys // num_items, keys % num_items
            size = int(self.person.max(initial=0)) + 1
            offsets = np.zeros(size + 1, dtype=np.int64)
            np.cumsum(np.bincount(owner, minlength=size), out=offsets[1:])
            self._seen = (offsets, item)
        return self._seen

    def seen_items(self, user_id: str) -> np.ndarray:
        """The depot items the person ``user_id`` interacted with (histories and positive pairs)."""
        offsets, items = self._seen_by_person()
        person = self.person[self.row_of(user_id)]
        return items[offsets[person] : offsets[person + 1]]

    def _mask_seen(self, scores: Tensor, rows: np.ndarray) -> None:
        offsets, items = self._seen_by_person()
        person = self.person[rows]
        starts, ends = offsets[person], offsets[person + 1]
        counts = ends - starts
        if not counts.sum():
            return
        which = np.repeat(np.arange(len(rows)), counts)
        slots = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        scores[torch.from_numpy(which).to(scores.device), torch.from_numpy(items[slots]).to(scores.device)] = -torch.inf

    # ------------------------------------------------------------------ scoring
    def _dot_path(self) -> bool:
        model = self.model
        return (
            isinstance(model.predictor, DotPredictor)
            and model.behavior.output == "vector"
            and not model.item_fields
            and not model.user_fields
        )

    def _scores(
        self,
        user: Tensor,
        user_mask: Tensor | None,
        rows: Tensor,
        vectors: Tensor,
        categories: dict[str, Tensor] | None = None,
        out: Tensor | None = None,
        transposed: Tensor | None = None,
    ) -> Tensor:
        """Scores ``(B, N)`` of every candidate in ``vectors`` for the users ``(B, ...)``, into ``out`` if given.

        ``transposed``: ``vectors.T`` made contiguous once for every chunk of users (the dot path).
        """
        model, count = self.model, len(vectors)
        out = torch.empty(len(rows), count, device=self.device) if out is None else out
        if self._dot_path():
            return torch.mm(user.float(), vectors.float().T if transposed is None else transposed, out=out)
        page = max(1, PAIRS_PER_STEP // max(len(rows), 1))
        for s in range(0, count, page):
            candidates = torch.arange(s, min(s + page, count), device=self.device).expand(len(rows), -1)  # (B, C)
            if categories is None:
                fields = model.fields(rows, candidates)
            else:  # new items carry their own categorical fields
                fields = FieldInputs(
                    item={n: categories[n][candidates] for n in model.item_fields},
                    user={n: model.users.categories[n][rows] for n in model.user_fields},
                )
            out[:, s : s + page] = model.predictor(user, vectors[candidates], fields, user_mask).float()
        return out

    @torch.no_grad()
    def top_k(
        self, rows: Sequence[int] | np.ndarray, k: int = 10, exclude_seen: bool = True, new: NewItems | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for each user row: ``(items (R, k), scores (R, k))``, best first.

        Candidates are the depot's items, or the ``new`` items only. With ``exclude_seen`` a person's
        seen depot items are never returned; where fewer than ``k`` remain, the row is padded with
        item -1 and score ``-inf``.
        """
        if k < 1:
            raise LegoError(f"k must be at least 1, got {k}")
        rows = np.asarray(rows, dtype=np.int64)
        vectors = self.item_cache() if new is None else new.vectors
        count = len(vectors)
        take = min(k, count)
        top_items = np.full((len(rows), k), -1, dtype=np.int64)
        top_scores = np.full((len(rows), k), -np.inf, dtype=np.float32)
        chunk = max(1, SCORES_PER_STEP // max(count, 1))  # users whose scores over every candidate fit at once
        # one block of scores reused by every chunk, and the item matrix transposed once: no allocation per chunk
        block = torch.empty(min(chunk, len(rows)), count, device=self.device)
        transposed = vectors.float().T.contiguous() if self._dot_path() else None
        for s in range(0, len(rows), chunk):
            part = rows[s : s + chunk]
            index = torch.from_numpy(part).to(self.device)
            user, mask = self.model.encode_users(index, self.item_cache())
            scores = self._scores(
                user,
                mask,
                index,
                vectors,
                None if new is None else dict(new.categories),
                out=block[: len(part)],
                transposed=transposed,
            )
            if exclude_seen and new is None:
                self._mask_seen(scores, part)
            values, found = torch.topk(scores, take, dim=1)
            top_items[s : s + chunk, :take] = found.cpu().numpy()
            top_scores[s : s + chunk, :take] = values.cpu().numpy()
        top_items[~np.isfinite(top_scores)] = -1
        return top_items, top_scores

    def recommend(
        self, user_id: str, k: int = 10, exclude_seen: bool = True, items: NewItems | str | Path | None = None
    ) -> list[Recommendation]:
        """The top ``k`` for the person ``user_id``: depot items, or the new items of ``items``.

        ``items``: a JSON Lines file of new items (or :meth:`encode_new_items`' result); they are
        ranked on their own, and ``exclude_seen`` does not apply to them (nobody has seen them).
        """
        new = self.encode_new_items(items) if isinstance(items, (str, Path)) else items
        found, scores = self.top_k([self.row_of(user_id)], k, exclude_seen, new)
        ids = self.item_ids if new is None else new.ids
        return [
            Recommendation(rank=i + 1, item_id=ids[int(item)], score=float(score), item=int(item), new=new is not None)
            for i, (item, score) in enumerate(zip(found[0], scores[0]))
            if item >= 0
        ]

    def encode_new_items(self, path: str | Path) -> NewItems:
        """Encode the items of a JSON Lines file with the trained content operator (see :mod:`.new_items`)."""
        self.item_cache()  # the depot's items first: encoding new ones re-prepares the content operator
        return encode_new_items(self.model, self.depot, path)

    def title_of(self, item: int, new: NewItems | None = None) -> str | None:
        """An item's ``title_text`` (for showing recommendations), where the depot keeps one."""
        if new is not None:
            return new.titles[item] if item < len(new.titles) else None
        items = self.depot.items
        if "title_text" not in items or items.kind("title_text") != "text":
            return None
        column = items["title_text"]
        return bytes(column.values[column.offsets[item] : column.offsets[item + 1]]).decode("utf-8")
