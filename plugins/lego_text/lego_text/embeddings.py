"""Embedding tables of item attributes: words per depot vocabulary, categories per attribute.

Every content operator of this plugin starts here. Text attributes that share
a depot vocabulary (``title`` and ``abstract`` under ``words``) share one word
table; each table can be initialised from GloVe-format word vectors. Each
categorical attribute has its own table.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.errors import ConfigError
from lego_core.model.context import Attribute, ModelContext
from lego_core.model.inputs import ItemBatch
from lego_text.word_vectors import load_word_vectors


@attrs.define(kw_only=True, frozen=True)
class EmbeddingConfig:
    """Options shared by the content operators of lego-text (each adds its own)."""

    embedding_dim: int = attrs.field(
        default=300,
        validator=v.gt(0),
        metadata={
            "doc": "Size of the word vectors (300 matches the GloVe vectors NAML, NRMS and LSTUR used); must equal "
            "the dimension of `word_vectors` when that is set."
        },
    )
    word_vectors: str | None = attrs.field(
        default=None,
        metadata={
            "doc": "A GloVe-format text file (`word v1 v2 ...` per line) to initialise the word tables from; relative "
            "paths are tried from the current directory, then the depot. The matrix is cached in the depot's "
            "cache/."
        },
    )
    freeze_word_vectors: bool = attrs.field(
        default=False, metadata={"doc": "Keep the loaded word vectors fixed during training (needs `word_vectors`)."}
    )
    category_dim: int = attrs.field(
        default=100,
        validator=v.gt(0),
        metadata={"doc": "Size of the embeddings of categorical attributes (NAML: 100)."},
    )
    dropout: float = attrs.field(
        default=0.2,
        validator=[v.ge(0.0), v.lt(1.0)],
        metadata={"doc": "Dropout on word vectors and on the encoders' outputs (NAML/NRMS: 0.2)."},
    )


def module_key(name: str) -> str:
    """A name usable as an ``nn.ModuleDict`` key (no dots)."""
    return name.replace(".", "_") or "_"


def text_attributes(context: ModelContext, operator: str) -> dict[str, Attribute]:
    """The context's text attributes; an error if it has no attribute at all."""
    if not context.item_attributes:
        raise ConfigError(
            f"content operator {operator!r} reads item attributes, but the experiment selects "
            f'none; list some in data.item_attributes (e.g. ["title", "category"])'
        )
    return context.text_attributes


class ItemEmbeddings(nn.Module):
    """Word vectors of text attributes and embeddings of categorical attributes.

    Args:
        context: the model context (its item attributes and depot).
        options: an :class:`EmbeddingConfig` (or a subclass).

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context()
        >>> embeddings = ItemEmbeddings(context, EmbeddingConfig(embedding_dim=8, category_dim=4))
        >>> items = random_items(context, n=5)
        >>> embeddings.words(items, "title").shape, embeddings.category(items, "category").shape
        (torch.Size([5, 7, 8]), torch.Size([5, 4]))
        >>> len(embeddings.word_tables)  # title and abstract share the "words" vocabulary
        1
    """

    def __init__(self, context: ModelContext, options: EmbeddingConfig) -> None:
        super().__init__()
        if options.freeze_word_vectors and options.word_vectors is None:
            raise ConfigError(
                "content_options.freeze_word_vectors = true needs content_options.word_vectors (a GloVe-format file)"
            )
        sizes: dict[str, int] = {}
        self.vocabulary_of: dict[str, str] = {}
        for name, attribute in context.text_attributes.items():
            vocabulary = attribute.vocabulary or name
            self.vocabulary_of[name] = vocabulary
            sizes[vocabulary] = max(sizes.get(vocabulary, 0), attribute.vocab_size)
        self.word_tables = nn.ModuleDict()
        for vocabulary, size in sizes.items():
            table = nn.Embedding(size, options.embedding_dim, padding_idx=0)
            nn.init.normal_(table.weight, std=0.1)
            with torch.no_grad():
                table.weight[0].zero_()
            if options.word_vectors is not None:
                self._load(table, vocabulary, context, options)
            self.word_tables[module_key(vocabulary)] = table
        self.category_tables = nn.ModuleDict(
            {
                module_key(name): nn.Embedding(attribute.vocab_size, options.category_dim)
                for name, attribute in context.categorical_attributes.items()
            }
        )
        for category_table in self.category_tables.values():
            nn.init.normal_(category_table.get_parameter("weight"), std=0.1)

    @staticmethod
    def _load(table: nn.Embedding, vocabulary: str, context: ModelContext, options: EmbeddingConfig) -> None:
        if context.depot_path is None:
            raise ConfigError(
                "content_options.word_vectors needs the depot's vocabulary, but the model context has no depot_path"
            )
        assert options.word_vectors is not None  # the caller checked
        vectors = load_word_vectors(options.word_vectors, context.depot_path, vocabulary, options.embedding_dim)
        if vectors.matrix.shape[0] != table.num_embeddings:
            raise ConfigError(
                f"content_options.word_vectors: the depot vocabulary {vocabulary!r} has "
                f"{vectors.matrix.shape[0]} words but the attributes say {table.num_embeddings}; "
                "re-create the depot"
            )
        with torch.no_grad():
            table.weight.copy_(torch.from_numpy(vectors.matrix))
        table.weight.requires_grad_(not options.freeze_word_vectors)

    def words(self, items: ItemBatch, name: str) -> Tensor:
        """``(N, L, E)`` word vectors of text attribute ``name``, exactly zero at padded positions."""
        table = self.word_tables[module_key(self.vocabulary_of[name])]
        mask = items.masks[name]
        return table(items.tokens[name] * mask) * mask.unsqueeze(-1).to(table.get_parameter("weight").dtype)

    def category(self, items: ItemBatch, name: str) -> Tensor:
        """``(N, C)`` embeddings of categorical attribute ``name``."""
        return self.category_tables[module_key(name)](items.categories[name])
