"""Word-level tokenisation and vocabularies for text and categorical columns.

Id 0 is padding (text) or unknown (categories), id 1 is ``<unk>`` for text.
Vocabularies are built once per depot over all items, never per split, so a
word or a category has one id everywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from lego_core.data.ragged import Ragged

PAD = "<pad>"
UNK = "<unk>"
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks: ``"It's a Dog!"`` -> ``["it's", "a", "dog", "!"]``."""
    return _WORD.findall(text.lower())


def build_text_vocab(texts: Iterable[Sequence[str]], min_count: int = 1) -> list[str]:
    """Words seen at least ``min_count`` times, most frequent first, after ``<pad>`` and ``<unk>``."""
    counts: Counter[str] = Counter()
    for words in texts:
        counts.update(words)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return [PAD, UNK, *words]


def encode_texts(tokenised: Sequence[Sequence[str]], vocab: Sequence[str]) -> Ragged:
    """Token lists -> ragged ids under ``vocab`` (unknown words -> 1)."""
    index = {w: i for i, w in enumerate(vocab)}
    return Ragged.from_lists([[index.get(w, 1) for w in words] for words in tokenised])


def build_category_vocab(values: Iterable[str]) -> list[str]:
    """Distinct values in first-seen order after ``<unk>`` (id 0)."""
    seen = dict.fromkeys(v for v in values)
    seen.pop(UNK, None)
    return [UNK, *seen]


def encode_categories(values: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
    index = {w: i for i, w in enumerate(vocab)}
    return np.fromiter((index.get(v, 0) for v in values), dtype=np.int32, count=len(values))
