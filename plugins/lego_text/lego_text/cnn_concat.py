"""LSTUR's news encoder: CNN title vectors and category embeddings, concatenated and projected."""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import ContentOperator
from lego_core.model.context import ModelContext
from lego_core.model.dropout import Dropout
from lego_core.model.inputs import ItemBatch
from lego_text.embeddings import EmbeddingConfig, ItemEmbeddings, module_key, text_attributes
from lego_text.text_cnn import TextCNN, odd


@attrs.define(kw_only=True, frozen=True)
class CNNConcatConfig(EmbeddingConfig):
    window_size: int = attrs.field(
        default=3, validator=[v.gt(0), odd], metadata={"doc": "Words per convolution window (odd; LSTUR: 3)."}
    )
    num_filters: int | None = attrs.field(
        default=None,
        validator=v.optional(v.gt(0)),
        metadata={"doc": "Convolution filters per text attribute (LSTUR: 300); unset means hidden_size."},
    )
    attention_dim: int = attrs.field(
        default=200, validator=v.gt(0), metadata={"doc": "Size of the word-level additive attention's query."}
    )


class CNNConcatOperator(ContentOperator):
    """News encoder of LSTUR: per-attribute vectors concatenated, then projected to ``hidden_size``.

    Paper: An et al., "Neural News Recommendation with Long- and Short-term
    User Representations", ACL 2019, https://aclanthology.org/P19-1033/.

    Each text attribute: word vectors -> dropout -> Conv1d (``num_filters``) ->
    ReLU -> dropout -> additive attention over words. Each categorical
    attribute (topic, subtopic): its embedding. LSTUR concatenates these into
    the news vector; here the concatenation is followed by a linear layer to
    ``hidden_size``, so it fits any behavior operator.

    Args:
        options: :class:`CNNConcatConfig`.
        context: the model context.

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context(hidden_size=16)
        >>> options = CNNConcatConfig(embedding_dim=8, num_filters=12, category_dim=4)
        >>> CNNConcatOperator(options=options, context=context)(random_items(context, n=5)).shape
        torch.Size([5, 16])
    """

    name = "cnn_concat"
    paper = "An et al., Neural News Recommendation with Long- and Short-term User Representations, ACL 2019. https://aclanthology.org/P19-1033/"
    Options = CNNConcatConfig

    def __init__(self, *, options: CNNConcatConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: CNNConcatConfig = self.options
        filters = opts.num_filters or context.hidden_size
        self.text_names = list(text_attributes(context, self.name))
        self.category_names = list(context.categorical_attributes)
        self.embeddings = ItemEmbeddings(context, opts)
        self.dropout = Dropout(opts.dropout)
        self.text_encoders = nn.ModuleDict(
            {
                module_key(name): TextCNN(
                    opts.embedding_dim,
                    filters,
                    window_size=opts.window_size,
                    attention_dim=opts.attention_dim,
                    dropout=opts.dropout,
                )
                for name in self.text_names
            }
        )
        width = filters * len(self.text_names) + opts.category_dim * len(self.category_names)
        self.projection = nn.Linear(width, context.hidden_size)

    def forward(self, items: ItemBatch) -> Tensor:
        parts = [
            self.text_encoders[module_key(name)](self.dropout(self.embeddings.words(items, name)), items.masks[name])
            for name in self.text_names
        ]  # each (N, F)
        parts += [self.embeddings.category(items, name) for name in self.category_names]  # each (N, C)
        return self.projection(torch.cat(parts, dim=-1))  # (N, D)
