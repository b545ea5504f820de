"""Contract checks and specifics of lego-text's content operators."""

from __future__ import annotations

import pytest
import torch

from lego_core.errors import ConfigError
from lego_core.model.inputs import ItemBatch
from lego_core.testing import check_content_operator, make_context, random_items
from lego_text.attention import AttentionConfig, AttentionOperator
from lego_text.cnn import CNNConfig, CNNOperator
from lego_text.cnn_concat import CNNConcatConfig, CNNConcatOperator
from lego_text.fastformer import FastformerConfig, FastformerOperator
from lego_text.pooling import PoolingConfig, PoolingOperator
from lego_text.transformer import TransformerConfig, TransformerOperator

SMALL = dict(embedding_dim=8, category_dim=4)

CASES = [
    (PoolingOperator, PoolingConfig(**SMALL)),
    (PoolingOperator, PoolingConfig(pooling="max", **SMALL)),
    (CNNOperator, CNNConfig(attention_dim=8, **SMALL)),
    (CNNOperator, CNNConfig(attention_dim=8, window_size=5, dropout=0.0, **SMALL)),
    (CNNConcatOperator, CNNConcatConfig(**SMALL)),
    (CNNConcatOperator, CNNConcatConfig(num_filters=6, **SMALL)),
    (AttentionOperator, AttentionConfig(attention_dim=8, **SMALL)),
    (AttentionOperator, AttentionConfig(attention_dim=8, num_heads=2, **SMALL)),
    (TransformerOperator, TransformerConfig(attention_dim=8, num_layers=1, num_heads=4, **SMALL)),
    (TransformerOperator, TransformerConfig(attention_dim=8, num_layers=2, num_heads=2, feedforward_size=12, **SMALL)),
    (FastformerOperator, FastformerConfig(attention_dim=8, num_heads=4, **SMALL)),
    (FastformerOperator, FastformerConfig(attention_dim=8, num_heads=2, num_layers=2, feedforward_size=6, **SMALL)),
]
IDS = [f"{cls.name}-{i}" for i, (cls, _) in enumerate(CASES)]


@pytest.mark.parametrize(("cls", "options"), CASES, ids=IDS)
def test_text_content_contract(cls, options):
    check_content_operator(cls, options)


@pytest.mark.parametrize("keep", ["tokens", "category"])
@pytest.mark.parametrize(("cls", "options"), CASES[::2], ids=IDS[::2])
def test_text_content_single_kind_of_attribute(cls, options, keep):
    full = make_context()
    selected = {n: a for n, a in full.item_attributes.items() if a.kind == keep}
    check_content_operator(cls, options, context=make_context(item_attributes=selected))


@pytest.mark.parametrize(("cls", "options"), CASES[::2], ids=IDS[::2])
def test_text_content_empty_text_is_finite(cls, options):
    context = make_context()
    items = random_items(context, n=3)
    empty = ItemBatch(
        index=items.index,
        categories=items.categories,
        tokens={k: torch.zeros_like(v) for k, v in items.tokens.items()},
        masks={k: torch.zeros_like(v) for k, v in items.masks.items()},
    )
    op = cls(options=options, context=context).eval()
    assert torch.isfinite(op(empty)).all()


def test_text_content_heads_must_divide_hidden():
    with pytest.raises(ConfigError, match=r"hidden size \(16\).*heads \(3\)"):
        AttentionOperator(options=AttentionConfig(num_heads=3), context=make_context())


def test_text_content_needs_attributes():
    with pytest.raises(ConfigError, match="data.item_attributes"):
        CNNOperator(context=make_context(item_attributes={}))


def test_text_content_shares_word_table_per_vocabulary():
    op = CNNOperator(options=CNNConfig(**SMALL), context=make_context())
    assert list(op.embeddings.word_tables) == ["words"]
    assert set(op.embeddings.category_tables) == {"category", "subcategory"}


def test_text_content_freeze_needs_word_vectors():
    with pytest.raises(ConfigError, match="word_vectors"):
        PoolingOperator(options=PoolingConfig(freeze_word_vectors=True), context=make_context())


def test_text_content_even_window_refused():
    with pytest.raises(ValueError, match="window_size must be odd"):
        CNNConfig(window_size=4)
