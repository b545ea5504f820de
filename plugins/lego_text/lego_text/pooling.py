"""The simplest text operator: pooled word vectors and category embeddings, concatenated."""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import ContentOperator
from lego_core.model.context import ModelContext
from lego_core.model.dropout import Dropout
from lego_core.model.inputs import ItemBatch
from lego_text.embeddings import EmbeddingConfig, ItemEmbeddings, text_attributes
from lego_text.masking import masked_max, masked_mean


@attrs.define(kw_only=True, frozen=True)
class PoolingConfig(EmbeddingConfig):
    pooling: str = attrs.field(
        default="mean",
        validator=v.in_(["mean", "max"]),
        metadata={"doc": 'How word vectors of a text attribute are pooled: "mean" or "max" (over real tokens only).'},
    )


class PoolingOperator(ContentOperator):
    """Bag of words: masked mean (or max) of word vectors per text attribute, plus category embeddings.

    Paper: Iyyer et al., "Deep Unordered Composition Rivals Syntactic Methods
    for Text Classification", ACL 2015, https://aclanthology.org/P15-1162/
    (pooled word vectors as a text encoder).

    Each text attribute is pooled over its real tokens into an
    ``embedding_dim`` vector (zeros for an empty text); each categorical
    attribute gives its ``category_dim`` embedding. The vectors are
    concatenated, dropped out and mapped to ``hidden_size`` by one linear
    layer (equivalent to a projection per attribute, summed).

    Args:
        options: :class:`PoolingConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context(hidden_size=16)
        >>> op = PoolingOperator(options=PoolingConfig(embedding_dim=8, pooling="max"), context=context)
        >>> op(random_items(context, n=5)).shape
        torch.Size([5, 16])
    """

    name = "pooling"
    paper = "Iyyer et al., Deep Unordered Composition Rivals Syntactic Methods for Text Classification, ACL 2015. https://aclanthology.org/P15-1162/"
    Options = PoolingConfig

    def __init__(self, *, options: PoolingConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: PoolingConfig = self.options
        self.text_names = list(text_attributes(context, self.name))
        self.category_names = list(context.categorical_attributes)
        self.embeddings = ItemEmbeddings(context, opts)
        self.pool = masked_mean if opts.pooling == "mean" else masked_max
        self.dropout = Dropout(opts.dropout)
        width = opts.embedding_dim * len(self.text_names) + opts.category_dim * len(self.category_names)
        self.projection = nn.Linear(width, context.hidden_size)

    def forward(self, items: ItemBatch) -> Tensor:
        parts = [
            self.pool(self.embeddings.words(items, name), items.masks[name], dim=1) for name in self.text_names
        ]  # each (N, E)
        parts += [self.embeddings.category(items, name) for name in self.category_names]  # each (N, C)
        return self.projection(self.dropout(torch.cat(parts, dim=-1)))  # (N, D)
