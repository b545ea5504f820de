"""Item and user features held as tensors and gathered by index.

The depot is memory-mapped NumPy; for training, the columns an experiment
uses are padded once into tensors (tokens ``(num_items, L)``, categories
``(num_items,)``, histories ``(num_users, H)``), so a batch is a gather, not
a Python loop. A content operator may add columns of its own in
``prepare(store)`` (a language model's token ids) with :meth:`ItemStore.add_tokens`.
Image attributes are not loaded here: the encoded files stay in the depot and
a vision operator decodes them once in ``prepare(store)`` (``store.depot``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from lego_core.data.depot import Depot
from lego_core.data.ragged import Ragged
from lego_core.errors import DataError
from lego_core.model.context import Attribute
from lego_core.model.inputs import ItemBatch, UserBatch


def attribute_of(depot: Depot, table: str, column: str, max_length: int, where: str) -> Attribute:
    """Describe a depot column as a model attribute, or explain why it cannot be one."""
    tbl = depot.table(table)
    if column not in tbl:
        usable = [c for c in tbl if tbl.kind(c) in ("tokens", "category", "image")]
        raise DataError(f"{where}: the depot's {table} table has no column {column!r}; usable: {', '.join(usable)}")
    kind = tbl.kind(column)
    if kind == "image" and table == "items":
        return Attribute(name=column, kind="image", vocab_size=0)
    if kind not in ("tokens", "category"):
        raise DataError(
            f"{where}: column {table}.{column} is of kind {kind!r}; only text (tokens), "
            "categorical and (item) image columns can be attributes"
        )
    vocab = tbl.vocab_name(column) or ""
    size = depot.vocab_size(vocab) if vocab else int(np.max(tbl[column], initial=0)) + 1
    return Attribute(
        name=column, kind=kind, vocab_size=size, max_length=max_length if kind == "tokens" else 1, vocabulary=vocab
    )


class ItemStore:
    """Every item's inputs as tensors on one device."""

    def __init__(self, depot: Depot, attributes: Mapping[str, Attribute], device: torch.device | str = "cpu") -> None:
        self.depot = depot
        self.device = torch.device(device)
        self.num_items = depot.items.num_rows
        self.tokens: dict[str, Tensor] = {}
        self.masks: dict[str, Tensor] = {}
        self.categories: dict[str, Tensor] = {}
        for name, attr in attributes.items():
            if attr.kind == "image":
                continue  # decoded by the vision operator that reads it (prepare), never padded here
            column = depot.items[name]
            if attr.kind == "tokens":
                self.add_tokens(name, column, attr.max_length)
            else:
                self.add_category(name, np.asarray(column))

    def add_tokens(self, name: str, column: Ragged, max_length: int, pad_value: int = 0) -> None:
        longest = int(column.lengths.max(initial=0))
        ids, mask = column.pad(max_length=max(1, min(max_length, longest)), keep="first", pad_value=pad_value)
        self.tokens[name] = torch.from_numpy(ids.astype(np.int64)).to(self.device)
        self.masks[name] = torch.from_numpy(mask).to(self.device)

    def add_category(self, name: str, values: np.ndarray) -> None:
        self.categories[name] = torch.from_numpy(np.asarray(values, dtype=np.int64)).to(self.device)

    def batch(self, index: Tensor) -> ItemBatch:
        """The inputs of the given items; text is cut to the longest real row among them.

        Padding is masked, so cutting it changes no output, and attention over
        8 real tokens costs a quarter of attention over 32.
        """
        index = index.to(self.device)
        tokens, masks = {}, {}
        for name, column in self.tokens.items():
            mask = self.masks[name][index]
            width = max(1, int(mask.sum(dim=1).max())) if len(index) else 1
            tokens[name] = column[index, :width]
            masks[name] = mask[:, :width]
        return ItemBatch(
            index=index, tokens=tokens, masks=masks, categories={k: v[index] for k, v in self.categories.items()}
        )


class UserStore:
    """Every user row's history (last ``max_history`` items), person id and categorical attributes."""

    def __init__(
        self, depot: Depot, attributes: Mapping[str, Attribute], max_history: int, device: torch.device | str = "cpu"
    ) -> None:
        users = depot.users
        self.device = torch.device(device)
        self.num_users = users.num_rows
        history, mask = users["history"].pad(max_length=max_history, keep="last")
        if history.size and (history.min() < 0 or history.max() >= depot.items.num_rows):
            raise DataError(f"{depot.path}: users.history holds item indices outside 0..{depot.items.num_rows - 1}")
        self.history = torch.from_numpy(history.astype(np.int64)).to(self.device)  # (U, H)
        self.mask = torch.from_numpy(mask).to(self.device)  # (U, H)
        # the same histories without padding, row after row, for the batches that need only the real items
        # (32-bit where the catalogue allows: half the memory of the padded copy's 64-bit ids)
        self.lengths = self.mask.sum(dim=1)  # (U,)
        self.starts = self.lengths.cumsum(0) - self.lengths  # (U,) where each row's items begin in flat
        narrow = torch.int32 if depot.items.num_rows <= torch.iinfo(torch.int32).max else torch.int64
        self.flat_history = self.history[self.mask].to(narrow)  # (sum of lengths,)
        self.has_person = "user_id" in users
        person = np.asarray(users["user_id"]) if self.has_person else np.zeros(self.num_users)
        self.person = torch.from_numpy(person.astype(np.int64)).to(self.device)
        self.categories: dict[str, Tensor] = {}  # (U,) ids, or (U, L) ids padded with 0 for a multi-valued column
        for name, attr in attributes.items():
            column = users[name]
            if attr.kind == "tokens":
                longest = int(column.lengths.max(initial=0))
                values, _ = column.pad(max_length=max(1, min(attr.max_length, longest)), keep="first", pad_value=0)
            else:
                values = np.asarray(column)
            self.categories[name] = torch.from_numpy(np.asarray(values, dtype=np.int64)).to(self.device)

    def real_history(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        """The real history items of ``rows`` ``(B,)``, one row after another ``(N,)``, and their counts ``(B,)``.

        The same as ``history[rows][mask[rows]]`` and ``mask[rows].sum(1)``, without gathering the padding.
        """
        counts = self.lengths[rows]
        n = int(counts.sum())
        # each entry's place in flat_history: its row's start there, plus its place within the row
        shift = torch.repeat_interleave(self.starts[rows] - (counts.cumsum(0) - counts), counts, output_size=n)
        return self.flat_history[shift + torch.arange(n, device=self.device)].long(), counts

    def batch(self, rows: Tensor) -> UserBatch:
        rows = rows.to(self.device)
        return UserBatch(
            index=rows, person=self.person[rows], categories={k: v[rows] for k, v in self.categories.items()}
        )
