"""The movielens processor on hand-made fixtures of every layout."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.depot import Depot
from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.movielens import MovieLensOptions, MovieLensProcessor

FIXTURES = Path(__file__).parent / "fixtures"


def ml(**options) -> MovieLensProcessor:
    return MovieLensProcessor(MovieLensOptions(**options))


def raw_ratings(layout: str) -> list[tuple[str, str, float, int]]:
    """(user, item, rating, time) read independently of the processor."""
    folder = FIXTURES / layout
    if layout == "ml-100k":
        lines = [line.split("\t") for line in (folder / "u.data").read_text().splitlines()]
    elif layout == "ml-1m":
        lines = [line.split("::") for line in (folder / "ratings.dat").read_text().splitlines()]
    elif layout == "ml-latest":
        lines = list(csv.reader((folder / "ratings.csv").read_text().splitlines()))[1:]
    else:
        lines = [line.split("\t") for line in (folder / "ml-mini.inter").read_text().splitlines()[1:]]
    return [(u, i, float(r), int(float(t))) for u, i, r, t in lines]


LAYOUTS = {  # fixture -> (layout, items, persons)
    "ml-100k": ("100k", 8, 5),
    "ml-1m": ("1m", 10, 4),
    "ml-latest": ("csv", 6, 3),
    "recbole-ml": ("recbole", 5, 4),
}


@pytest.mark.parametrize("fixture", list(LAYOUTS))
def test_each_layout_prepares_a_valid_depot_with_threshold_labels(tmp_path: Path, fixture: str, build, rows) -> None:
    layout, num_items, num_persons = LAYOUTS[fixture]
    depot = build(ml(), FIXTURES / fixture, tmp_path / "depot")
    info = depot.meta["info"]
    ratings = raw_ratings(fixture)
    assert info["layout"] == layout
    assert depot.items.num_rows == num_items and info["persons"] == num_persons
    assert sum(depot.table(s).num_rows for s in depot.splits) == len(ratings) == info["ratings"]
    assert depot.splits == ["train", "valid", "test"]
    assert depot.meta["processor"] == "movielens" and depot.meta["raw_files"]
    truth = {(u, i): r >= 4 for u, i, r, _ in ratings}
    for split in depot.splits:
        for r in rows(depot, split):
            assert r["label"] == truth[(r["person"], r["item"])]
    items = depot.items
    assert items.kind("title") == "tokens" and items.vocab_name("title") == "words"
    assert items.kind("title_text") == "text" and items.vocab_name("genres") == "genres"
    assert items.kind("year") == "category"


@pytest.mark.parametrize("fixture", list(LAYOUTS))
@pytest.mark.parametrize("split_by", ["user", "time"])
def test_histories_are_leakage_free(tmp_path: Path, fixture: str, split_by: str, build, check_leakage) -> None:
    depot = build(ml(split_by=split_by, context_size=2, eval_negatives=2), FIXTURES / fixture, tmp_path / "d")
    ratings = raw_ratings(fixture)
    times = {(u, i): t for u, i, _, t in ratings}
    labels = {(u, i): float(r >= 4) for u, i, r, _ in ratings}
    assert check_leakage(depot, times, labels) > 0


def test_time_split_puts_every_valid_rating_after_every_train_rating(tmp_path: Path, build) -> None:
    depot = build(ml(split_by="time"), FIXTURES / "ml-latest", tmp_path / "d")
    train, valid, test = (depot.table(s)["time"] for s in ("train", "valid", "test"))
    assert train.max() <= valid.min() and valid.max() <= test.min()


def test_user_split_takes_the_last_ratings_of_each_user(tmp_path: Path, build, rows) -> None:
    depot = build(ml(), FIXTURES / "ml-100k", tmp_path / "d")
    by_user = {}
    for split in depot.splits:
        for r in rows(depot, split):
            by_user.setdefault(r["person"], {}).setdefault(split, []).append(r["time"])
    for person, splits in by_user.items():
        assert len(splits["train"]) == 6 and len(splits["valid"]) == len(splits["test"]) == 1, person
        assert max(splits["train"]) <= splits["valid"][0] <= splits["test"][0]


def test_titles_lose_their_year_and_keep_latin1_and_quoted_commas(tmp_path: Path, build) -> None:
    old = build(ml(), FIXTURES / "ml-100k", tmp_path / "a")
    assert old.items.strings("title_text")[:3] == ["Harbor Lights", "Café Noir", "Birdcage, The"]
    years = [old.vocab("year")[y] for y in old.items["year"]]
    assert years[:6] == ["1995", "1994", "1996", "1997", "<unk>", "1993"]  # "Quiet Valley" takes its release date
    assert [old.vocab("genres")[g] for g in old.items["genres"].row(4)] == []  # the "unknown" flag
    new = build(ml(), FIXTURES / "ml-latest", tmp_path / "b")
    assert new.items.strings("title_text")[1] == "Cat, the Hat and Me"
    assert new.items.strings("title_text")[4] == "Long Road, The"
    assert [new.vocab("tags")[t] for t in new.items["tags"].row(1)] == ["funny", "cats, hats"]


def test_utf8_copy_of_a_latin1_file_reads_the_same(tmp_path: Path, build, raw_folder) -> None:
    latin1 = build(ml(), FIXTURES / "ml-100k", tmp_path / "a")
    utf8 = build(ml(), raw_folder(tmp_path, "ml-100k", "ml-100k-utf8"), tmp_path / "b")
    assert latin1.items.strings("title_text") == utf8.items.strings("title_text")


def test_user_attributes_are_categories(tmp_path: Path, build) -> None:
    depot = build(ml(), FIXTURES / "ml-1m", tmp_path / "d")
    users = depot.users
    assert {"age", "gender", "occupation"} <= set(users)
    first = {c: depot.vocab(users.vocab_name(c))[users[c][0]] for c in ("age", "gender", "occupation")}
    assert first == {"age": "1", "gender": "F", "occupation": "10"}


def test_recbole_presplit_files_are_used_row_for_row(tmp_path: Path, build, rows, check_leakage) -> None:
    raw = FIXTURES / "recbole-presplit"
    depot = build(ml(eval_negatives=2), raw, tmp_path / "d")
    assert depot.meta["info"]["layout"] == "recbole"
    times, labels = {}, {}
    for split in ("train", "valid", "test"):
        lines = [line.split("\t") for line in (raw / f"ml-mini.{split}.inter").read_text().splitlines()[1:]]
        got = [r for r in rows(depot, split) if (r["person"], r["item"]) in {(u, i) for u, i, _, _ in lines}]
        assert [(r["person"], r["item"], r["label"], r["time"]) for r in got[: len(lines)]] == [
            (u, i, float(float(x) >= 4), int(t)) for u, i, x, t in lines
        ]
        assert all(r["label"] == 0.0 for r in rows(depot, split)[len(lines) :])  # sampled negatives come after
        times.update({(u, i): int(t) for u, i, _, t in lines})
        labels.update({(u, i): float(float(x) >= 4) for u, i, x, _ in lines})
    check_leakage(depot, times, labels)  # valid rows earlier than some train rows: still no leakage


def test_vocabularies_and_item_indices_are_shared_across_splits(tmp_path: Path, build, rows) -> None:
    depot = build(ml(), FIXTURES / "ml-100k", tmp_path / "d")
    ids = depot.vocab("item_id")
    assert ids == ["<unk>", "1", "2", "3", "4", "5", "6", "7", "8"]
    assert (np.asarray(depot.items["item_id"]) == np.arange(1, 9)).all()
    seen = {split: {r["item"] for r in rows(depot, split)} for split in depot.splits}
    assert seen["train"] & seen["test"]  # one item, one index in every split


def test_no_eval_negatives_when_every_item_is_rated(tmp_path: Path, build) -> None:
    depot = build(ml(eval_negatives=3, seed=7), FIXTURES / "ml-latest", tmp_path / "d")
    assert depot.meta["info"]["sampled_negatives"] == {"train": 0, "valid": 0, "test": 0}


def test_eval_negatives_are_distinct_unrated_items_per_user_and_split(tmp_path: Path, build, rows, raw_folder) -> None:
    raw = raw_folder(tmp_path, "recbole-books")
    (raw / "books.item").write_text(
        (raw / "books.item").read_text()
        + "".join(f"b{n}\tSpare Book {n}\tFiction\tNorthPress\t9\n" for n in range(10, 40))
    )
    from lego_datasets.recbole import RecBoleOptions, RecBoleProcessor

    depot = build(RecBoleProcessor(RecBoleOptions(eval_negatives=5, seed=3)), raw, tmp_path / "d")
    rated = {tuple(line.split("\t")[:2]) for line in (raw / "books.inter").read_text().splitlines()[1:]}
    for split in ("valid", "test"):
        sampled = [r for r in rows(depot, split) if (r["person"], r["item"]) not in rated]
        assert len(sampled) == 5 * 3 and all(r["label"] == 0.0 for r in sampled)
        per_user = {}
        for r in sampled:
            per_user.setdefault(r["person"], []).append(r["item"])
        assert all(len(set(v)) == 5 for v in per_user.values())


def test_output_is_deterministic_under_a_seed(tmp_path: Path, build, column_arrays) -> None:
    a = column_arrays(build(ml(eval_negatives=1, seed=11), FIXTURES / "ml-1m", tmp_path / "a"))
    b = column_arrays(build(ml(eval_negatives=1, seed=11), FIXTURES / "ml-1m", tmp_path / "b"))
    c = column_arrays(build(ml(eval_negatives=1, seed=12), FIXTURES / "ml-1m", tmp_path / "c"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_prepare_again_is_a_no_op(tmp_path: Path) -> None:
    prepare(ml(), FIXTURES / "ml-100k", tmp_path / "d")
    assert prepare(ml(), FIXTURES / "ml-100k", tmp_path / "d").skipped


def test_context_size_one_gives_each_train_rating_its_own_history(tmp_path: Path, build) -> None:
    depot = build(ml(context_size=1, max_history=2), FIXTURES / "ml-100k", tmp_path / "d")
    assert depot.users["history"].lengths.max() <= 2
    assert depot.meta["info"]["user_rows"]["train"] == 30  # 6 train ratings for each of 5 users


def test_missing_file_lists_the_expected_files(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "ml-100k")
    (raw / "u.item").unlink()
    with pytest.raises(DataError) as err:
        prepare(ml(), raw, tmp_path / "d")
    assert "MISSING" in str(err.value) and "u.item" in str(err.value) and "u.data" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        prepare(ml(), empty, tmp_path / "d")
    for name in ("u.data", "u.item", "ratings.dat", "movies.dat", "ratings.csv", "movies.csv", "NAME.inter"):
        assert name in str(err.value)


MALFORMED = {  # variant -> (base fixture, "file:line:", words in the message, skipped rows, ratings left)
    "ml-100k-columns": ("ml-100k", "u.data:3:", "3 fields", {"u.data": 1}, 39),
    "ml-100k-rating": ("ml-100k", "u.data:5:", "'four' is not a number", {"u.data": 1}, 39),
    "ml-100k-unknown-item": ("ml-100k", "u.data:6:", "'99' is not in u.item", {"u.data": 1}, 39),
    # a skipped movie takes its ratings along
    "ml-100k-genre-flags": ("ml-100k", "u.item:3:", "genre flags", {"u.item": 1, "u.data": 5}, 35),
    "ml-1m-timestamp": ("ml-1m", "ratings.dat:4:", "'2001-01-01' is not an integer", {"ratings.dat": 1}, 23),
    "ml-latest-latin1": (
        "ml-latest",
        "movies.csv:4:",
        "not valid UTF-8",
        {"movies.csv": 1, "ratings.csv": 3, "tags.csv": 2},
        15,
    ),
    "ml-latest-quote": ("ml-latest", "ratings.csv:8:", "unreadable CSV", {"ratings.csv": 1}, 17),
    "recbole-rating": ("recbole-ml", "ml-mini.inter:8:", "rating:float is 'x'", {"ml-mini.inter": 1}, 19),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    base, where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, base, variant)
    with pytest.raises(DataError) as err:
        ml().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    depot = build(ml(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


def test_forced_layout_and_bad_options(tmp_path: Path, build) -> None:
    with pytest.raises(DataError, match="no MovieLens layout"):
        ml(layout="recbole").build(FIXTURES / "ml-100k")
    with pytest.raises(ValueError, match="split_by"):
        MovieLensOptions(split_by="random")
    with pytest.raises(ValueError, match="below 1"):
        MovieLensOptions(valid_fraction=0.5, test_fraction=0.5)
    depot = Depot(build(ml(layout="100k"), FIXTURES / "ml-100k", tmp_path / "d").path)
    assert depot.meta["options"]["layout"] == "100k"


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, fixtures: Path, train_small) -> None:
    prepare(MovieLensProcessor(), fixtures / "ml-100k", tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
