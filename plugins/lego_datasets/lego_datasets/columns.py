"""Item and user columns in the depot's conventions, built over all rows at once.

- Text attributes share one word vocabulary (``"words"``): ``title`` holds the
  word ids (kind ``tokens``) and ``title_text`` the original string.
- A categorical attribute is a ``category`` column with its own vocabulary;
  id 0 is unknown, and a missing value (``None`` or ``""``) gets it.
- A multi-valued attribute (genres, tags, entities) is a ``tokens`` column
  with its own vocabulary (``<pad>``, ``<unk>``, then values by frequency).

Example:
    >>> columns, words = text_columns({"title": ["A Dog", "a cat"]})
    >>> sorted(columns), words
    (['title', 'title_text'], ['<pad>', '<unk>', 'a', 'cat', 'dog'])
    >>> column, vocab = category_column(["M", None, "F", "M"], "gender")
    >>> column.data.tolist(), vocab
    ([1, 0, 2, 1], ['<unk>', 'M', 'F'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lego_core.data.depot import Column, text_column
from lego_core.data.vocab import (
    build_category_vocab,
    build_text_vocab,
    encode_categories,
    encode_texts,
    tokenize,
)


def id_column(ids: Sequence[str], vocab: str) -> tuple[Column, list[str]]:
    """The ``item_id``/``user_id`` column: row ``i`` has id ``i + 1`` in a vocabulary of the original ids."""
    words = ["<unk>", *ids]
    return Column("category", np.arange(1, len(ids) + 1, dtype=np.int32), vocab=vocab), words


def text_columns(texts: Mapping[str, Sequence[str]], vocab: str = "words") -> tuple[dict[str, Column], list[str]]:
    """``name`` (word ids) and ``name_text`` (strings) for every text attribute, under one vocabulary."""
    tokenised = {name: [tokenize(text) for text in values] for name, values in texts.items()}
    words = build_text_vocab(tokens for values in tokenised.values() for tokens in values)
    columns: dict[str, Column] = {}
    for name, values in texts.items():
        columns[name] = Column("tokens", encode_texts(tokenised[name], words), vocab=vocab)
        columns[f"{name}_text"] = text_column(list(values))
    return columns, words


def category_column(values: Sequence[str | None], vocab: str) -> tuple[Column, list[str]]:
    """One id per row; the vocabulary lists the values in first-seen order after ``<unk>``."""
    words = build_category_vocab(v for v in values if v)
    return Column("category", encode_categories([v or "" for v in values], words), vocab=vocab), words


def token_list_column(lists: Sequence[Sequence[str]], vocab: str) -> tuple[Column, list[str]]:
    """A multi-valued attribute: each value is one token (not split into words)."""
    words = build_text_vocab(lists)
    return Column("tokens", encode_texts(lists, words), vocab=vocab), words
