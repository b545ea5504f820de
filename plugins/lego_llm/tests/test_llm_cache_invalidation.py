"""Caches derived from item columns follow the columns' contents: a replaced column builds new caches."""

from __future__ import annotations

from pathlib import Path

import torch

from lego_core.data.add_columns import add_item_columns
from lego_core.data.depot import Depot, text_column
from lego_llm.augment import augment_depot
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.testing import depot_store


def _prepared(folder: Path, depot: Path) -> LMOperator:
    context, store = depot_store(depot, attributes=("title",), hidden_size=16)
    op = LMOperator(
        options=LMConfig(model=str(folder), tune_from=-1, split=True, template="{title}", max_length=16),
        context=context,
    )
    op.prepare(store)
    return op


def test_replacing_a_column_invalidates_the_token_and_split_caches(bert_dir: Path, depot_copy: Path) -> None:
    before = _prepared(bert_dir, depot_copy)
    titles = Depot(depot_copy).items.strings("title_text")
    add_item_columns(depot_copy, {"title_text": text_column([f"zz {t}" for t in titles])}, replace=True)
    after = _prepared(bert_dir, depot_copy)
    assert after.tokens_key != before.tokens_key
    assert after.split_cache.folder != before.split_cache.folder
    ids = Depot(depot_copy).items  # the new tokens are the new text's
    assert ids.num_rows == 60
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    expected = tokenizer(f"zz {titles[0]}", truncation=True, max_length=16)["input_ids"]
    context, store = depot_store(depot_copy, attributes=("title",), hidden_size=16)
    after.prepare(store)
    assert store.tokens["lm"][0][store.masks["lm"][0]].tolist() == expected
    # the same contents again reuse the caches
    again = _prepared(bert_dir, depot_copy)
    assert again.split_cache.folder == after.split_cache.folder and again.tokens_key == after.tokens_key
    assert torch.equal(again.split_cache.offsets, after.split_cache.offsets)


def test_augment_does_not_resume_from_generations_of_replaced_text(depot_copy: Path) -> None:
    echo = lambda prompts, seed: list(prompts)  # noqa: E731
    first = augment_depot(depot_copy, echo, template="{title}", column="copy")
    titles = Depot(depot_copy).items.strings("title_text")
    add_item_columns(depot_copy, {"title_text": text_column([t.upper() for t in titles])}, replace=True)
    second = augment_depot(depot_copy, echo, template="{title}", column="copy2")
    assert second.cache != first.cache and second.resumed == 0 and second.generated == 60
    assert Depot(depot_copy).items.strings("copy2_text")[0] == titles[0].upper()
