import json

import numpy as np
import pytest

import lego_core.data.depot as depot_module
from lego_core.data.depot import (
    FORMAT_VERSION,
    Column,
    Depot,
    DepotContent,
    cache_key,
    decode_text,
    text_column,
    write_depot,
)
from lego_core.data.ragged import Ragged
from lego_core.errors import DataError


def tiny_content(title_word: int = 2) -> DepotContent:
    """Three items, two users, train and test: one column of every kind."""
    items = {
        "title": Column("tokens", Ragged.from_lists([[title_word, 3], [4], []]), vocab="words"),
        "category": Column("category", np.array([1, 2, 1], dtype=np.int32), vocab="category"),
        "cold": Column("int", np.array([0, 0, 1], dtype=np.int8)),
        "score": Column("float", np.array([0.5, 1.5, -2.0], dtype=np.float32)),
        "title_text": text_column(["Dog café", "", "Bird ☀"]),
    }
    users = {
        "user_id": Column("category", np.array([1, 2], dtype=np.int32), vocab="user_id"),
        "history": Column("items", Ragged.from_lists([[0, 1], []])),
    }

    def split(user, item, label, group):
        return {
            "user": Column("int", np.array(user, dtype=np.int32)),
            "item": Column("int", np.array(item, dtype=np.int32)),
            "label": Column("float", np.array(label, dtype=np.float32)),
            "group": Column("int", np.array(group, dtype=np.int64)),
            "time": Column("int", np.arange(len(user), dtype=np.int64)),
        }

    return DepotContent(
        tables={
            "items": items,
            "users": users,
            "train": split([0, 0, 1], [0, 1, 2], [1, 0, 1], [0, 0, 1]),
            "test": split([1, 1], [2, 0], [0, 1], [2, 2]),
        },
        vocabs={
            "words": ["<pad>", "<unk>", "dog", "cat", "bird"],
            "category": ["<unk>", "a", "b"],
            "user_id": ["<unk>", "U1", "U2"],
        },
        info={"items": 3},
    )


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_round_trip_every_kind(tmp_path):
    content = tiny_content()
    path = write_depot(tmp_path / "d", content, meta={"processor": "tiny"})
    depot = Depot(path)
    assert depot.table_names == ["items", "users", "train", "test"]
    assert depot.splits == ["train", "test"]
    assert depot.meta["format_version"] == FORMAT_VERSION and depot.meta["processor"] == "tiny"
    assert depot.meta["info"] == {"items": 3}
    for table, columns in content.tables.items():
        opened = depot.table(table)
        assert set(opened) == set(columns) and opened.num_rows == len(next(iter(columns.values())))
        for name, column in columns.items():
            assert opened.kind(name) == column.kind and opened.vocab_name(name) == column.vocab
            data = opened[name]
            if isinstance(column.data, Ragged):
                np.testing.assert_array_equal(data.values, column.data.values)
                np.testing.assert_array_equal(data.offsets, column.data.offsets)
                assert data.values.dtype == column.data.values.dtype
            else:
                np.testing.assert_array_equal(data, column.data)
                assert data.dtype == column.data.dtype
    assert depot.vocab("words") == content.vocabs["words"] and depot.vocab_size("category") == 3
    assert depot.items["title"].row(2).tolist() == []
    assert decode_text(depot.items["title_text"]) == ["Dog café", "", "Bird ☀"]


def test_columns_are_memory_mapped(tmp_path):
    depot = Depot(write_depot(tmp_path / "d", tiny_content()))
    assert isinstance(depot.items["cold"], np.memmap)
    assert isinstance(depot.items["title"].values, np.memmap)
    assert isinstance(depot.users["history"].offsets, np.memmap)
    assert depot.items["cold"] is depot.items["cold"]  # opened once


def test_reader_errors(tmp_path):
    with pytest.raises(DataError, match="not a depot"):
        Depot(tmp_path)
    depot = Depot(write_depot(tmp_path / "d", tiny_content()))
    with pytest.raises(DataError, match="no table 'valid'"):
        depot.table("valid")
    with pytest.raises(DataError, match="no vocabulary"):
        depot.vocab("nope")
    with pytest.raises(KeyError):
        depot.items["nope"]
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    (tmp_path / "d" / "meta.json").write_text(json.dumps({**meta, "format_version": 999}))
    with pytest.raises(DataError, match="format version 999"):
        Depot(tmp_path / "d")
    (tmp_path / "d" / "meta.json").write_text("{not json")
    with pytest.raises(DataError, match="invalid JSON"):
        Depot(tmp_path / "d")


def test_column_checks_kind_and_data():
    with pytest.raises(ValueError, match="not one of"):
        Column("texts", np.zeros(2))
    with pytest.raises(TypeError):
        Column("tokens", np.zeros(2))
    with pytest.raises(TypeError):
        Column("int", Ragged.from_lists([[1]]))


def test_validate_names_every_problem():
    content = tiny_content()
    content.tables["items"]["category"] = Column("category", np.array([1, 2], dtype=np.int32), vocab="nope")
    content.tables["train"]["item"] = Column("int", np.array([0, 1, 7], dtype=np.int32))
    content.tables["test"]["user"] = Column("int", np.array([1, 5], dtype=np.int32))
    del content.tables["users"]["history"]
    with pytest.raises(DataError) as err:
        content.validate()
    message = str(err.value)
    for part in (
        "'items' has columns of different lengths",
        "vocabulary 'nope'",
        "no 'history' column",
        "'train' has item indices outside 0..2",
        "'test' has user rows outside 0..1",
    ):
        assert part in message


def test_validate_missing_tables_and_columns():
    content = tiny_content()
    del content.tables["items"], content.tables["train"], content.tables["test"]
    with pytest.raises(DataError, match="table 'items' is missing") as err:
        content.validate()
    assert "no interaction table" in str(err.value)
    content = tiny_content()
    del content.tables["train"]["group"]
    with pytest.raises(DataError, match=r"'train' lacks columns \['group'\]"):
        content.validate()


def test_invalid_content_writes_nothing(tmp_path):
    content = tiny_content()
    del content.tables["users"]
    with pytest.raises(DataError):
        write_depot(tmp_path / "d", content)
    assert list(tmp_path.iterdir()) == []


def _fail_on_third_column(monkeypatch):
    real, calls = depot_module._write_column, []

    def failing(folder, name, column):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(folder, name, column)

    monkeypatch.setattr(depot_module, "_write_column", failing)


def test_failed_write_leaves_no_folder(tmp_path, monkeypatch):
    _fail_on_third_column(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_depot(tmp_path / "d", tiny_content())
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_old_depot_intact(tmp_path, monkeypatch):
    write_depot(tmp_path / "d", tiny_content(title_word=2), meta={"version": "old"})
    _fail_on_third_column(monkeypatch)
    with pytest.raises(OSError):
        write_depot(tmp_path / "d", tiny_content(title_word=4), meta={"version": "new"})
    depot = Depot(tmp_path / "d")
    assert depot.meta["version"] == "old" and depot.items["title"].row(0).tolist() == [2, 3]
    assert leftovers(tmp_path) == []


def test_rewrite_replaces_old_depot(tmp_path):
    write_depot(tmp_path / "d", tiny_content(title_word=2))
    write_depot(tmp_path / "d", tiny_content(title_word=4))
    assert Depot(tmp_path / "d").items["title"].row(0).tolist() == [4, 3]
    assert leftovers(tmp_path) == []


def test_cached_column_builds_once(tmp_path):
    depot = Depot(write_depot(tmp_path / "d", tiny_content()))
    calls = []

    def build(d):
        calls.append(d)
        return Column("tokens", Ragged.from_lists([[7, 8], [9], [10, 11, 12]]), vocab="words")

    key = cache_key("tok", name="bert", max_length=3)
    first = depot.cached_column(key, build)
    second = depot.cached_column(key, build)
    again = Depot(tmp_path / "d").cached_column(key, build)  # a fresh reader reuses the files
    assert len(calls) == 1 and calls[0] is depot
    for column in (first, second, again):
        assert column.kind == "tokens" and column.vocab == "words"
        assert column.data.row(2).tolist() == [10, 11, 12]
        assert isinstance(column.data.values, np.memmap)
    assert (tmp_path / "d" / "cache" / key / "column.json").is_file()
    assert leftovers(tmp_path / "d" / "cache") == []


def test_cached_column_dense_and_wrong_length(tmp_path):
    depot = Depot(write_depot(tmp_path / "d", tiny_content()))
    dense = depot.cached_column("dense", lambda d: Column("float", np.array([1.0, 2.0, 3.0])))
    np.testing.assert_array_equal(dense.data, [1.0, 2.0, 3.0])
    with pytest.raises(DataError, match="has 2 rows, the item table 3"):
        depot.cached_column("short", lambda d: Column("int", np.array([1, 2])))
    assert not (tmp_path / "d" / "cache" / "short").exists()


def test_cached_column_failed_build_leaves_no_cache(tmp_path):
    depot = Depot(write_depot(tmp_path / "d", tiny_content()))

    def broken(d):
        raise RuntimeError("tokenizer crashed")

    with pytest.raises(RuntimeError):
        depot.cached_column("k", broken)
    assert not (tmp_path / "d" / "cache" / "k").exists()


def test_cache_key_changes_with_any_part():
    base = cache_key("tok", name="bert", revision="abc", columns=["title"], max_length=32)
    assert base.startswith("tok-") and len(base) == len("tok-") + 16
    assert base == cache_key("tok", max_length=32, columns=["title"], revision="abc", name="bert")
    variants = [
        cache_key("tok2", name="bert", revision="abc", columns=["title"], max_length=32),
        cache_key("tok", name="roberta", revision="abc", columns=["title"], max_length=32),
        cache_key("tok", name="bert", revision="abd", columns=["title"], max_length=32),
        cache_key("tok", name="bert", revision="abc", columns=["title", "abstract"], max_length=32),
        cache_key("tok", name="bert", revision="abc", columns=["title"], max_length=64),
        cache_key("tok", name="bert", revision="abc", columns=["title"]),
    ]
    assert len({base, *variants}) == 1 + len(variants)
