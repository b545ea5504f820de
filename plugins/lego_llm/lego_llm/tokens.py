"""Tokenise every item once and keep the ids in the depot.

The token ids of all items are a ragged ``tokens`` column under
``depot/cache/lm-tokens-<hash>/``, built once by
:meth:`~lego_core.data.depot.Depot.cached_column`. The key covers the
tokenizer (name, revision and full definition: vocabulary, merges, normaliser,
special tokens), the layout (template and columns, and a digest of the
contents of the columns it reads), ``max_length`` and whether the
tokenizer's special tokens are added; a change of any of them makes a new column.
Rows are truncated to ``max_length`` with the tokenizer's own special tokens
kept; an item whose text tokenises to nothing gets one token (EOS, else UNK,
else padding), so no row is empty and every item has a real position to pool.
"""

from __future__ import annotations

from typing import Any

import attrs

from lego_core.data.depot import Column, Depot, cache_key
from lego_core.data.ragged import Ragged
from lego_llm.layout import Layout, item_texts, source_digests
from lego_llm.loading import tokenizer_digest

CHUNK = 4096  # texts per tokenizer call


@attrs.frozen
class ItemTokens:
    """Every item's token ids and what they were made from.

    Args:
        ids: ragged token ids, one row per item.
        key: the depot cache key (changes with tokenizer, layout, max_length).
        pad_id: the id padded slots get.
    """

    ids: Ragged
    key: str
    pad_id: int


def pad_id_of(tokenizer: Any) -> int:
    """The padding id: the tokenizer's pad token, else EOS (decoders often have no pad token), else 0."""
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if value is not None:
            return int(value)
    return 0


def tokens_key(
    tokenizer: Any,
    layout: Layout,
    max_length: int,
    revision: str | None = None,
    sources: dict[str, str] | None = None,
    special_tokens: bool = True,
) -> str:
    extra = {} if special_tokens else {"special_tokens": False}
    return cache_key(
        "lm-tokens",
        tokenizer=tokenizer_digest(tokenizer),
        name=tokenizer.name_or_path,
        revision=revision,
        template=layout.template,
        fields=layout.fields,
        max_length=max_length,
        sources=sources,
        **extra,
    )


def tokenize_items(
    depot: Depot,
    tokenizer: Any,
    layout: Layout,
    max_length: int,
    revision: str | None = None,
    special_tokens: bool = True,
) -> ItemTokens:
    """The token ids of every item of ``depot``, from the depot cache or built now.

    ``special_tokens = False`` leaves out the tokenizer's own framing (``[CLS] ... [SEP]``, ``<s>``):
    the pieces a prompt or a flattened history is assembled from.
    """
    fill = next(
        (int(v) for v in (tokenizer.eos_token_id, tokenizer.unk_token_id) if v is not None), pad_id_of(tokenizer)
    )

    def build(d: Depot) -> Column:
        texts = item_texts(d, layout)
        rows: list[list[int]] = []
        for start in range(0, len(texts), CHUNK):
            encoded = tokenizer(
                texts[start : start + CHUNK], truncation=True, max_length=max_length, add_special_tokens=special_tokens
            )["input_ids"]
            # a text that tokenises to nothing gets one token (every item needs a position to pool),
            # except as a piece of a longer sequence, where nothing is nothing
            rows.extend(list(r) if len(r) or not special_tokens else [fill] for r in encoded)
        return Column(kind="tokens", data=Ragged.from_lists(rows))

    key = tokens_key(tokenizer, layout, max_length, revision, source_digests(depot, layout.fields), special_tokens)
    column = depot.cached_column(key, build)
    return ItemTokens(ids=column.data, key=key, pad_id=pad_id_of(tokenizer))
