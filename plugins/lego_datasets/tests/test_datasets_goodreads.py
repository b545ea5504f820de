"""The goodreads processor on a hand-made UCSD Book Graph genre subset (poetry)."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.goodreads import GoodreadsOptions, GoodreadsProcessor, parse_time

FIXTURES = Path(__file__).parent / "fixtures"
POETRY = FIXTURES / "goodreads-poetry"


def goodreads(**options) -> GoodreadsProcessor:
    return GoodreadsProcessor(GoodreadsOptions(**options))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]


def when(text: str) -> int:
    return int(datetime.datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").timestamp())


def shelvings(name: str = "goodreads_interactions_poetry.json.gz") -> list[dict]:
    return lines(POETRY / name)


def test_shelvings_give_is_read_labels_in_time_order(tmp_path: Path, build, rows) -> None:
    depot = build(goodreads(), POETRY, tmp_path / "d")
    info = depot.meta["info"]
    raw = shelvings()
    assert (info["genre"], info["labels"], info["interactions_read"]) == ("poetry", "is_read", len(raw))
    assert info["duplicates_removed"] == 1 and info["ratings"] == len(raw) - 1
    assert depot.items.num_rows == 7 and info["persons"] == 4
    truth = {(r["user_id"], r["book_id"]): (float(r["is_read"]), when(r["date_added"])) for r in raw}
    for split in depot.splits:
        for r in rows(depot, split):
            assert (r["label"], r["time"]) == truth[(r["person"], r["item"])]
    for person in {r["user_id"] for r in raw}:
        times = {s: [r["time"] for r in rows(depot, s) if r["person"] == person] for s in depot.splits}
        assert max(times["train"]) <= min(times["valid"]) <= max(times["valid"]) <= min(times["test"])


@pytest.mark.parametrize("label", ["is_read", "rating", "all"])
def test_histories_are_leakage_free(tmp_path: Path, label: str, build, check_leakage) -> None:
    depot = build(goodreads(label=label, context_size=2, eval_negatives=1), POETRY, tmp_path / "d")
    times, labels = {}, {}
    for r in shelvings():
        times[(r["user_id"], r["book_id"])] = when(r["date_added"])
        value = {"is_read": r["is_read"], "rating": r["rating"] >= 4, "all": True}[label]
        labels[(r["user_id"], r["book_id"])] = float(value)
    assert check_leakage(depot, times, labels) > 0


def test_rating_label_drops_unrated_shelvings(tmp_path: Path, build, rows) -> None:
    depot = build(goodreads(label="rating", positive_threshold=5.0), POETRY, tmp_path / "d")
    info = depot.meta["info"]
    raw = shelvings()
    unrated = sum(r["rating"] == 0 for r in raw)
    assert info["labels"] == "rating >= 5.0" and info["unrated_dropped"] == unrated
    assert info["ratings"] == len(raw) - unrated  # the repeated line is unrated: dropped before deduplication
    ratings = {(r["user_id"], r["book_id"]): r["rating"] for r in raw}
    for split in depot.splits:
        for r in rows(depot, split):
            assert r["label"] == float(ratings[(r["person"], r["item"])] >= 5)


def test_all_positive_with_sampled_negatives(tmp_path: Path, build, rows) -> None:
    depot = build(goodreads(label="all", eval_negatives=2, seed=1), POETRY, tmp_path / "d")
    info = depot.meta["info"]
    assert info["positives"] == {"train": 13, "valid": 4, "test": 4}
    assert info["sampled_negatives"]["valid"] > 0 and info["sampled_negatives"]["train"] == 0
    shelved = {(r["user_id"], r["book_id"]) for r in shelvings()}
    for r in rows(depot, "test"):
        assert (r["label"] == 1.0) == ((r["person"], r["item"]) in shelved)


def test_reviews_source_reads_ratings_and_never_the_text(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "goodreads-poetry")
    (raw / "goodreads_interactions_poetry.json.gz").unlink()
    depot = build(goodreads(), raw, tmp_path / "d")  # auto: the reviews file, rating labels
    info = depot.meta["info"]
    reviews = lines(POETRY / "goodreads_reviews_poetry.json.gz")
    assert info["source_file"] == "goodreads_reviews_poetry.json.gz" and info["labels"] == "rating >= 4.0"
    assert info["unrated_dropped"] == sum(r["rating"] == 0 for r in reviews) == 1
    assert "review_text" not in json.dumps(depot.meta)
    assert not any("fine collection" in text for text in depot.items.strings("description_text"))
    with pytest.raises(DataError, match="reviews have no is_read field; use the option label=rating"):
        goodreads(label="is_read").build(raw)
    forced = build(goodreads(source="reviews", label="all"), POETRY, tmp_path / "e").meta["info"]
    assert forced["source_file"] == "goodreads_reviews_poetry.json.gz" and forced["ratings"] == len(reviews)


def test_read_at_orders_where_present_and_falls_back_to_date_added(tmp_path: Path, build, rows) -> None:
    depot = build(goodreads(time_field="read_at"), POETRY, tmp_path / "d")
    info = depot.meta["info"]
    raw = shelvings()
    assert info["time_fallbacks"] == sum(not r["read_at"] for r in raw)
    truth = {(r["user_id"], r["book_id"]): when(r["read_at"] or r["date_added"]) for r in raw}
    assert all(r["time"] == truth[(r["person"], r["item"])] for s in depot.splits for r in rows(depot, s))


def test_books_content_shelves_authors_and_genres(tmp_path: Path, build) -> None:
    depot = build(goodreads(max_shelves=2), POETRY, tmp_path / "d")
    items, info = depot.items, depot.meta["info"]
    # books-file order, then 500007 (shelved, no books row)
    assert depot.vocab("item_id")[1:] == ["500001", "500002", "500003", "500004", "500005", "500006", "500007"]
    assert items.strings("title_text")[:2] == ["The Keeper", "Salt & Stone (Coast Poems, #1)"]
    assert items.strings("description_text")[3] == "Poèmes d'été."
    assert items.strings("title_text")[5:] == ["Songs for Later", ""]
    assert info["items_without_metadata"] == 1
    assert info["book_rows_unused"] == 1  # 500009: nobody shelved it

    def row(column: str, i: int) -> list[str]:
        return [depot.vocab(items.vocab_name(column))[t] for t in items[column].row(i)]

    assert row("shelves", 1) == ["to-read", "poetry"]
    assert row("shelves", 3) == ["poetry", "french"]  # a tie: file order
    assert row("authors", 1) == ["Ada Shore", "Ben Quill"] and row("authors", 3) == ["Désirée Fleur"]
    assert row("authors", 5) == ["Ben Quill", "9099"]  # an author missing from the authors file keeps the id
    assert info["authors_named"] == 5
    assert row("genres", 0) == ["fiction", "poetry"] and row("genres", 4) == []
    assert info["items_with_genres"] == 4

    def category(column: str) -> list[str]:
        return [depot.vocab(column)[c] for c in items[column]]

    assert category("language") == ["eng", "eng", "<unk>", "fre", "eng", "eng", "<unk>"]
    assert category("year")[:4] == ["2011", "2011", "<unk>", "1998"]
    assert category("publisher")[3] == "Éditions Exemple"
    everything = build(goodreads(max_shelves=0), POETRY, tmp_path / "e")
    assert everything.items["shelves"].lengths.tolist()[:2] == [3, 3]


def test_optional_files_can_be_missing(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "goodreads-poetry")
    (raw / "goodreads_book_authors.json.gz").unlink()
    (raw / "goodreads_book_genres_initial.json.gz").unlink()
    depot = build(goodreads(), raw, tmp_path / "d")
    ids = depot.vocab("authors")
    assert [ids[t] for t in depot.items["authors"].row(1)] == ["9001", "9002"]
    assert depot.items["genres"].lengths.sum() == 0 and depot.meta["info"]["authors_named"] == 0


def test_full_file_names_and_genre_choice(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "goodreads-poetry")
    for kind in ("books", "interactions"):
        (raw / f"goodreads_{kind}_poetry.json.gz").rename(raw / f"goodreads_{kind}_children.json.gz")
    (raw / "goodreads_reviews_poetry.json.gz").unlink()
    assert build(goodreads(), raw, tmp_path / "a").meta["info"]["genre"] == "children"
    (raw / "goodreads_books_children.json.gz").rename(raw / "goodreads_books.json.gz")
    (raw / "goodreads_interactions_children.json.gz").rename(raw / "goodreads_interactions_dedup.json.gz")
    full = build(goodreads(), raw, tmp_path / "b").meta["info"]
    assert (full["genre"], full["books_file"], full["source_file"]) == (
        "(full)",
        "goodreads_books.json.gz",
        "goodreads_interactions_dedup.json.gz",
    )
    two = raw_folder(tmp_path / "two", "goodreads-poetry")
    (two / "goodreads_books_romance.json").write_text("")
    with pytest.raises(DataError, match=r"several Goodreads genres \(poetry, romance\).*=poetry\|romance"):
        goodreads().expected_files(two)
    assert build(goodreads(genre="poetry"), two, tmp_path / "c").meta["info"]["genre"] == "poetry"
    with pytest.raises(ValueError, match="genre must be one of"):
        GoodreadsOptions(genre="fantasy")


def test_missing_files_are_listed(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "goodreads-poetry")
    (raw / "goodreads_books_poetry.json.gz").unlink()
    with pytest.raises(DataError) as err:
        prepare(goodreads(), raw, tmp_path / "d")
    assert "MISSING  goodreads_books_poetry.json.gz" in str(err.value)
    assert "found    goodreads_interactions_poetry.json.gz" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        prepare(goodreads(), empty, tmp_path / "d")
    assert "goodreads_books.json.gz" in str(err.value)
    assert "goodreads_interactions_dedup.json.gz" in str(err.value)
    with pytest.raises(DataError, match="goodreads_interactions_comics_graphic.json.gz"):
        prepare(goodreads(genre="comics_graphic"), empty, tmp_path / "d")


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, ratings left)
    "goodreads-poetry-date": (
        "goodreads_interactions_poetry.json.gz:4:",
        "date_added '2013-03-08 08:00:00' is not",
        {"goodreads_interactions_poetry.json.gz": 1},
        20,
    ),
    "goodreads-poetry-rating": (
        "goodreads_interactions_poetry.json.gz:8:",
        "rating 'five' is not an integer",
        {"goodreads_interactions_poetry.json.gz": 1},
        20,
    ),
    "goodreads-poetry-books": (
        "goodreads_books_poetry.json.gz:2:",
        "not a JSON object",
        {"goodreads_books_poetry.json.gz": 1},
        21,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "goodreads-poetry", variant)
    with pytest.raises(DataError) as err:
        goodreads().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    info = build(goodreads(skip_bad_rows=True), raw, tmp_path / "d").meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


def test_parse_time() -> None:
    for text in (
        "Mon Aug 01 13:41:57 -0700 2011",
        "Fri Jan 01 00:00:00 +0100 2016",
        "Thu Dec 31 23:59:59 -0800 2015",
        "Tue Feb 29 12:00:00 +0530 2000",
    ):
        assert parse_time(text) == when(text)
    for bad in (
        "",
        "Mon Aug 01 13:41:57 2011",
        "Mon Foo 01 13:41:57 -0700 2011",
        "Mon Feb 30 13:41:57 -0700 2011",
        "Mon Aug 01 25:41:57 -0700 2011",
        "Mon Aug 01 13:41:57 0700 2011",
        "2011-08-01T13:41:57",
    ):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_deterministic_under_a_seed(tmp_path: Path, build, column_arrays) -> None:
    a = column_arrays(build(goodreads(eval_negatives=2, seed=3), POETRY, tmp_path / "a"))
    b = column_arrays(build(goodreads(eval_negatives=2, seed=3), POETRY, tmp_path / "b"))
    c = column_arrays(build(goodreads(eval_negatives=2, seed=4), POETRY, tmp_path / "c"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(goodreads(), POETRY, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results and "valid" in results
