"""Token sequences assembled from pieces: a user's history flattened, a prompt around a (user, item) pair.

Every item's text is tokenised once, without the tokenizer's framing
(``[CLS]``/``[SEP]``, ``<s>``), into a depot cache
(:func:`lego_llm.tokens.tokenize_items` with ``special_tokens = False``), cut
to ``item_max_length`` tokens. A sequence is then a concatenation of id
lists, never a re-tokenised string: literal text (tokenised once), items,
user text (a user column such as a generated profile, tokenised on first use
per row), separators. Tokenising pieces apart can differ from tokenising the
whole string at the piece boundaries (a BPE merge across them); the pieces
are what lets every item be tokenised once for all users.

The history is the user row's last ``max_history`` items (``users.history``,
oldest first), written oldest to most recent with ``separator`` ids between
them. When the sequence would pass its budget, the oldest items are dropped
first, and the most recent one is cut if even it alone does not fit.

Example:
    >>> fill_history([[1, 2], [3], [4, 5, 6]], separator=[0], budget=6)
    [3, 0, 4, 5, 6]
    >>> fill_history([[1, 2], [3, 4, 5, 6, 7]], separator=[0], budget=3)
    [3, 4, 5]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lego_core.data.depot import Depot
from lego_llm.layout import Layout, column_strings, source_digests
from lego_llm.prompts import history_lists
from lego_llm.tokens import tokenize_items


def fill_history(items: Sequence[Sequence[int]], separator: Sequence[int], budget: int) -> list[int]:
    """The items (oldest first) joined by ``separator``, keeping the most recent ones within ``budget`` ids."""
    kept: list[Sequence[int]] = []
    used = 0
    for item in reversed(items):
        cost = len(item) + (len(separator) if kept else 0)
        if used + cost > budget:
            if not kept and budget > 0:
                kept.append(item[:budget])
            break
        kept.append(item)
        used += cost
    out: list[int] = []
    for i, item in enumerate(reversed(kept)):
        if i:
            out.extend(separator)
        out.extend(item)
    return out


def framing(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a text by itself: ``([CLS], [SEP])``, ``([<s>], [])``."""
    plain = list(tokenizer("a", add_special_tokens=False)["input_ids"])
    framed = list(tokenizer("a", add_special_tokens=True)["input_ids"])
    for i in range(len(framed) - len(plain) + 1):
        if framed[i : i + len(plain)] == plain:
            return framed[:i], framed[i + len(plain) :]
    return [], []


def text_ids(tokenizer: Any, text: str) -> list[int]:
    """``text`` as ids without special tokens ("" gives [])."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


class Pieces:
    """Every item's ids, each user row's history and its user-column ids: what sequences are made of.

    Args:
        depot: the depot.
        tokenizer: the language model's tokenizer.
        item_layout: how an item is written (:mod:`lego_llm.layout`).
        item_max_length: ids kept per item.
        max_history: items kept per user row.
        user_fields: user columns a template reads (text, or tokens/category through their vocabulary).
        user_max_length: ids kept per user field.
        revision: the tokenizer's hub revision (part of the item cache key).
    """

    def __init__(
        self,
        depot: Depot,
        tokenizer: Any,
        item_layout: Layout,
        *,
        item_max_length: int,
        max_history: int,
        user_fields: Sequence[str] = (),
        user_max_length: int = 64,
        revision: str | None = None,
        where: str = "template",
    ) -> None:
        self.tokenizer = tokenizer
        tokens = tokenize_items(depot, tokenizer, item_layout, item_max_length, revision, special_tokens=False)
        self.item_key = tokens.key
        self._values = np.asarray(tokens.ids.values)
        self._offsets = np.asarray(tokens.ids.offsets)
        self.histories = history_lists(depot, max_history)
        self.user_fields = list(user_fields)
        self.user_sources = source_digests(depot, self.user_fields, table="users", where=where)
        self._user_strings = {f: column_strings(depot, f, where, table="users") for f in self.user_fields}
        self.user_max_length = user_max_length
        self._user_ids: dict[tuple[str, int], list[int]] = {}

    def item(self, index: int) -> list[int]:
        return self._values[self._offsets[index] : self._offsets[index + 1]].tolist()

    def history(self, row: int) -> list[list[int]]:
        """The row's history items as id lists, oldest first."""
        return [self.item(int(i)) for i in self.histories[row]]

    def user(self, field: str, row: int) -> list[int]:
        """The ids of user column ``field`` of ``row`` (tokenised once per row, cut to ``user_max_length``)."""
        key = (field, row)
        if key not in self._user_ids:
            self._user_ids[key] = text_ids(self.tokenizer, self._user_strings[field][row])[: self.user_max_length]
        return self._user_ids[key]


def pad_left(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Id lists as a left-padded ``(n, L)`` matrix and its mask (the last column is every row's last id)."""
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), max(width, 1)), pad_id, dtype=np.int64)
    mask = np.zeros(ids.shape, dtype=bool)
    for i, row in enumerate(rows):
        if row:
            ids[i, ids.shape[1] - len(row) :] = row
            mask[i, ids.shape[1] - len(row) :] = True
    return ids, mask


def pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Id lists as a right-padded ``(n, L)`` matrix and its mask."""
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), max(width, 1)), pad_id, dtype=np.int64)
    mask = np.zeros(ids.shape, dtype=bool)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = True
    return ids, mask
