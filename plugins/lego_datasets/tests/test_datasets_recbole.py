"""The recbole processor: typed atomic headers to columns, dataset detection, implicit data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.recbole import RecBoleOptions, RecBoleProcessor

FIXTURES = Path(__file__).parent / "fixtures"


def rb(**options) -> RecBoleProcessor:
    return RecBoleProcessor(RecBoleOptions(**options))


def test_typed_fields_become_columns(tmp_path: Path, build) -> None:
    depot = build(rb(), FIXTURES / "recbole-books", tmp_path / "d")
    items = depot.items
    kinds = {c: items.kind(c) for c in items}
    assert kinds == {
        "item_id": "category",
        "title": "tokens",
        "title_text": "text",
        "categories": "tokens",
        "brand": "category",
        "price": "float",
    }
    assert items.vocab_name("categories") == "categories" and items.vocab_name("brand") == "brand"
    assert depot.vocab("item_id")[1:] == ["b1", "b2", "b3", "b4", "b5", "b9"]  # b9: only in books.inter
    assert items.strings("title_text") == [
        "The Long Harbor",
        "Cooking with Rain",
        "Stars Over Town",
        "A Field Guide to Moss",
        "Quiet Numbers",
        "",
    ]
    price = np.asarray(items["price"])
    assert price[0] == 12.5 and math.isnan(price[2]) and math.isnan(price[5])
    assert [depot.vocab("categories")[c] for c in items["categories"].row(0)] == ["Fiction", "Sea"]
    assert depot.vocab("brand")[items["brand"][3]] == "<unk>"  # empty token


def test_label_threshold_and_leakage(tmp_path: Path, build, rows, check_leakage) -> None:
    depot = build(rb(positive_threshold=4.5, context_size=1), FIXTURES / "recbole-books", tmp_path / "d")
    lines = [line.split("\t") for line in (FIXTURES / "recbole-books/books.inter").read_text().splitlines()[1:]]
    times = {(u, i): int(t) for u, i, _, t in lines}
    labels = {(u, i): float(float(r) >= 4.5) for u, i, r, _ in lines}
    for split in depot.splits:
        for r in rows(depot, split):
            assert r["label"] == labels[(r["person"], r["item"])]
    check_leakage(depot, times, labels)


def test_implicit_data_without_rating_or_time(tmp_path: Path, build) -> None:
    depot = build(rb(eval_negatives=1), FIXTURES / "recbole-implicit", tmp_path / "d")
    info = depot.meta["info"]
    assert info["labels"].startswith("implicit") and "row order" in info["time"]
    assert info["positives"] == {"train": 6, "valid": 3, "test": 3}
    assert info["sampled_negatives"] == {"train": 0, "valid": 3, "test": 3}


def test_field_names_are_options(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "recbole-books")
    for name in ("books.inter", "books.item"):
        text = (raw / name).read_text().replace("item_id:token", "book:token").replace("rating:float", "stars:float")
        (raw / name).write_text(text)
    with pytest.raises(DataError, match="no field 'item_id'"):
        rb().build(raw)
    depot = build(rb(item_field="book", rating_field="stars"), raw, tmp_path / "d")
    assert depot.meta["info"]["positives"]["train"] == 3


def test_several_datasets_need_the_dataset_option(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "recbole-books")
    (raw / "clicks.inter").write_text((FIXTURES / "recbole-implicit/clicks.inter").read_text())
    with pytest.raises(DataError, match="several datasets.*books, clicks"):
        rb().expected_files(raw)
    assert build(rb(dataset="clicks"), raw, tmp_path / "d").meta["info"]["dataset"] == "clicks"


def test_presplit_files_are_expected_when_present(tmp_path: Path) -> None:
    names = [(f.name, f.optional) for f in rb().expected_files(FIXTURES / "recbole-presplit")]
    assert names == [
        ("ml-mini.train.inter", False),
        ("ml-mini.valid.inter", False),
        ("ml-mini.test.inter", False),
        ("ml-mini.item", True),
        ("ml-mini.user", True),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="NAME.inter"):
        prepare(rb(), empty, tmp_path / "d")


def test_bad_header_is_an_error_even_when_skipping(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "recbole-books")
    text = (raw / "books.item").read_text().replace("price:float", "price:number")
    (raw / "books.item").write_text(text)
    with pytest.raises(DataError, match=r"books.item:1: header field 'price:number'"):
        rb(skip_bad_rows=True).build(raw)


def test_movielens_in_recbole_format_reads_through_the_same_reader(tmp_path: Path, build) -> None:
    generic = build(rb(), FIXTURES / "recbole-ml", tmp_path / "a")
    from lego_datasets.movielens import MovieLensProcessor

    movielens = build(MovieLensProcessor(), FIXTURES / "recbole-ml", tmp_path / "b")
    for split in ("train", "valid", "test"):
        for column in ("user", "item", "label", "group", "time"):
            assert np.array_equal(generic.table(split)[column], movielens.table(split)[column])
    assert generic.users["history"].values.tolist() == movielens.users["history"].values.tolist()
    assert {"movie_title", "release_year", "class"} <= set(generic.items)
    assert {"title", "year", "genres"} <= set(movielens.items)
