"""Multi-view content operators: one vector per attribute, fused by additive attention.

NAML's design, shared here by ``cnn``, ``attention``, ``transformer`` and
``fastformer``: each text attribute is encoded into a ``(N, D)`` vector by
the operator's own text encoder (one per attribute, parameters not shared),
each categorical attribute into a view by embedding -> dense -> ReLU, and
the views are fused by additive attention (an operator with a single view
returns it as it is). Subclasses only say how to build a text encoder.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import ContentOperator
from lego_core.model.context import Attribute, ModelContext
from lego_core.model.dropout import Dropout
from lego_core.model.inputs import ItemBatch
from lego_text.additive_attention import AdditiveAttention
from lego_text.embeddings import EmbeddingConfig, ItemEmbeddings, module_key, text_attributes


@attrs.define(kw_only=True, frozen=True)
class ViewConfig(EmbeddingConfig):
    """Options of the multi-view operators (each adds its own)."""

    attention_dim: int = attrs.field(
        default=200,
        validator=v.gt(0),
        metadata={"doc": "Size of the additive attention's query, over words and over views (NAML/NRMS: 200)."},
    )


class ViewOperator(ContentOperator):
    """Base of multi-view content operators; subclasses implement :meth:`build_text_encoder`.

    A text encoder is a module called as ``encoder(words (N, L, E), mask (N, L)) -> (N, D)``,
    with the word vectors already zero at padded positions and dropped out.
    """

    Options = ViewConfig

    def __init__(self, *, options: ViewConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: ViewConfig = self.options
        hidden = context.hidden_size
        self.text_names = list(text_attributes(context, self.name))
        self.category_names = list(context.categorical_attributes)
        self.embeddings = ItemEmbeddings(context, opts)
        self.word_dropout = Dropout(opts.dropout)
        self.text_encoders = nn.ModuleDict(
            {module_key(name): self.build_text_encoder(context.text_attributes[name]) for name in self.text_names}
        )
        self.category_dense = nn.ModuleDict(
            {module_key(name): nn.Linear(opts.category_dim, hidden) for name in self.category_names}
        )
        views = len(self.text_names) + len(self.category_names)
        self.view_attention = AdditiveAttention(hidden, opts.attention_dim) if views > 1 else None

    def build_text_encoder(self, attribute: Attribute) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def views(self, items: ItemBatch) -> Tensor:
        """``(N, V, D)``: one vector per attribute, text attributes first."""
        views = []
        for name in self.text_names:
            words = self.word_dropout(self.embeddings.words(items, name))  # (N, L, E)
            views.append(self.text_encoders[module_key(name)](words, items.masks[name]))  # (N, D)
        for name in self.category_names:
            dense = self.category_dense[module_key(name)]
            views.append(torch.relu(dense(self.embeddings.category(items, name))))  # (N, D)
        return torch.stack(views, dim=1)  # (N, V, D)

    def forward(self, items: ItemBatch) -> Tensor:
        views = self.views(items)  # (N, V, D)
        if self.view_attention is None:
            return views[:, 0]
        everything = torch.ones(views.shape[:2], dtype=torch.bool, device=views.device)
        return self.view_attention(views, everything)  # (N, D)
