"""Hashed bigrams: an item is the mean of the embeddings of its text's word pairs."""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import Tensor, nn

from lego_core.errors import ConfigError
from lego_core.model.bricks import ContentOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import ItemBatch

# a large prime: (previous * PRIME + next) spreads word pairs over the buckets
PRIME = 1_000_003


@attrs.define(kw_only=True, frozen=True)
class BigramConfig:
    attribute: str = attrs.field(
        default="title", metadata={"doc": "The text attribute to read (one of data.item_attributes)."}
    )
    num_buckets: int = attrs.field(
        default=4096,
        validator=v.gt(0),
        metadata={"doc": "Hash buckets for word pairs; more buckets, fewer collisions, more parameters."},
    )
    unigrams: bool = attrs.field(
        default=True,
        metadata={"doc": "Also pool the single words' embeddings (a one-word text then still has a vector)."},
    )


class BigramOperator(ContentOperator):
    """Mean of hashed-bigram embeddings (plus word embeddings) of one text attribute.

    Paper: Joulin et al., "Bag of Tricks for Efficient Text Classification",
    EACL 2017, https://aclanthology.org/E17-2068/ (fastText's hashed n-grams).

    Each pair of neighbouring real tokens ``(a, b)`` is hashed into one of
    ``num_buckets`` embeddings; the item vector is the mean over the real
    pairs (and, with ``unigrams``, the real tokens). Padding never takes
    part, and a text with no real token gives a zero vector.

    Args:
        options: :class:`BigramConfig`.
        context: the model context; ``options.attribute`` must be one of its
            text attributes.

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context(hidden_size=16)
        >>> op = BigramOperator(options=BigramConfig(num_buckets=64), context=context)
        >>> op(random_items(context, n=5)).shape
        torch.Size([5, 16])
    """

    name = "bigram"
    paper = (
        "Joulin et al., Bag of Tricks for Efficient Text Classification, EACL 2017. https://aclanthology.org/E17-2068/"
    )
    Options = BigramConfig

    def __init__(self, *, options: BigramConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: BigramConfig = self.options
        texts = context.text_attributes
        if opts.attribute not in texts:
            raise ConfigError(
                f"content_options.attribute = {opts.attribute!r} is not a text attribute of this experiment; "
                f"text attributes: {', '.join(texts) or 'none'} (list it in data.item_attributes)"
            )
        hidden = context.hidden_size
        self.bigrams = nn.Embedding(opts.num_buckets, hidden)
        self.words = nn.Embedding(texts[opts.attribute].vocab_size, hidden) if opts.unigrams else None
        nn.init.normal_(self.bigrams.weight, std=0.1)
        if self.words is not None:
            nn.init.normal_(self.words.weight, std=0.1)

    def forward(self, items: ItemBatch) -> Tensor:
        name = self.options.attribute
        tokens, mask = items.tokens[name], items.masks[name]  # (N, L), (N, L)
        buckets = (tokens[:, :-1] * PRIME + tokens[:, 1:]) % self.options.num_buckets  # (N, L-1)
        pair_mask = (mask[:, :-1] & mask[:, 1:]).unsqueeze(-1).to(self.bigrams.weight.dtype)  # (N, L-1, 1)
        total = (self.bigrams(buckets) * pair_mask).sum(dim=1)  # (N, D)
        count = pair_mask.sum(dim=1)  # (N, 1)
        if self.words is not None:
            word_mask = mask.unsqueeze(-1).to(total.dtype)  # (N, L, 1)
            total = total + (self.words(tokens) * word_mask).sum(dim=1)
            count = count + word_mask.sum(dim=1)
        return total / count.clamp(min=1.0)  # (N, D)
