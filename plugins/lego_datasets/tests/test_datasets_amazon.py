"""The amazon processor on hand-made fixtures of the 2014, 2018 and 2023 releases."""

from __future__ import annotations

import ast
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.config.converter import structure
from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.amazon import AmazonOptions, AmazonProcessor, price_range
from lego_datasets.columns import category_column, text_columns, token_list_column

FIXTURES = Path(__file__).parent / "fixtures"
LAYOUTS = {  # fixture -> (layout, category, reviews file, items, persons, ratings after dedupe)
    "amazon-2014": ("2014", "Electronics", "reviews_Electronics_5.json.gz", 6, 4, 20),
    "amazon-2018": ("2018", "Books", "Books_5.json.gz", 7, 5, 27),
    "amazon-2023": ("2023", "CDs_and_Vinyl", "CDs_and_Vinyl.jsonl", 7, 4, 20),
}
KEYS = {
    "2014": ("reviewerID", "asin", "overall", "unixReviewTime"),
    "2018": ("reviewerID", "asin", "overall", "unixReviewTime"),
    "2023": ("user_id", "parent_asin", "rating", "timestamp"),
}


def amazon(**options) -> AmazonProcessor:
    return AmazonProcessor(AmazonOptions(**options))


def lines(path: Path) -> list[dict]:
    """The objects of a (gzip) JSON-lines file, read independently (Python literals too)."""
    data = path.read_bytes()
    text = gzip.decompress(data).decode() if data[:2] == b"\x1f\x8b" else data.decode()
    return [json.loads(line) if line.startswith('{"') else ast.literal_eval(line) for line in text.splitlines()]


def raw_reviews(fixture: str) -> list[tuple[str, str, float, int]]:
    """(user, item, rating, Unix seconds) of a fixture's review file, in file order."""
    layout, _, reviews, *_ = LAYOUTS[fixture]
    user, item, rating, time = KEYS[layout]
    scale = 1000 if layout == "2023" else 1
    return [(r[user], r[item], float(r[rating]), r[time] // scale) for r in lines(FIXTURES / fixture / reviews)]


def truth(fixture: str) -> tuple[dict, dict]:
    """(person, item) -> earliest time, and -> label (1 if any of its ratings is >= 4)."""
    times: dict = {}
    labels: dict = {}
    for user, item, rating, time in raw_reviews(fixture):
        times[(user, item)] = min(time, times.get((user, item), time))
        labels[(user, item)] = max(float(rating >= 4), labels.get((user, item), 0.0))
    return times, labels


@pytest.mark.parametrize("fixture", list(LAYOUTS))
def test_each_release_prepares_a_depot_with_rating_labels(tmp_path: Path, fixture: str, build, rows) -> None:
    layout, category, reviews, num_items, num_persons, num_ratings = LAYOUTS[fixture]
    depot = build(amazon(), FIXTURES / fixture, tmp_path / "d")
    info = depot.meta["info"]
    assert (info["layout"], info["category"], info["reviews_file"]) == (layout, category, reviews)
    assert depot.items.num_rows == num_items and info["persons"] == num_persons
    assert sum(depot.table(s).num_rows for s in depot.splits) == info["ratings"] == num_ratings
    assert info["reviews_read"] == len(raw_reviews(fixture))
    assert depot.splits == ["train", "valid", "test"] and depot.meta["processor"] == "amazon"
    ratings = {(u, i, t): r for u, i, r, t in raw_reviews(fixture)}
    for split in depot.splits:
        for r in rows(depot, split):
            assert r["label"] == float(ratings[(r["person"], r["item"], r["time"])] >= 4)
    items = depot.items
    assert {items.kind(c) for c in ("title", "description", "features", "categories")} == {"tokens"}
    assert items.vocab_name("title") == items.vocab_name("description") == "words"
    assert {items.kind(c) for c in ("main_category", "brand", "price_range")} == {"category"}
    assert items.kind("title_text") == "text" and set(depot.users) == {"user_id", "history"}


@pytest.mark.parametrize("fixture", list(LAYOUTS))
def test_histories_are_leakage_free_and_splits_take_each_users_latest(
    tmp_path: Path, fixture: str, build, rows, check_leakage
) -> None:
    # one rating per (user, item), as check_leakage keys by the pair (A4 rated 2018's item 1 twice)
    options = amazon(context_size=2, eval_negatives=2, dedupe="first")
    depot = build(options, FIXTURES / fixture, tmp_path / "d")
    rated, labels = truth(fixture)
    assert check_leakage(depot, rated, labels) > 0
    times: dict = {}
    for split in depot.splits:
        for r in rows(depot, split):
            if (r["person"], r["item"]) in rated:  # not a sampled negative
                times.setdefault(r["person"], {}).setdefault(split, []).append(r["time"])
    for person, splits in times.items():
        assert max(splits["train"]) <= min(splits["valid"]), person
        assert max(splits["valid"]) <= min(splits["test"]), person


def test_2018_items_content_html_and_missing_metadata(tmp_path: Path, build) -> None:
    depot = build(amazon(), FIXTURES / "amazon-2018", tmp_path / "d")
    items, info = depot.items, depot.meta["info"]
    ids = depot.vocab("item_id")[1:]
    assert ids == [
        "0000000001",
        "0000000002",
        "0000000003",
        "0000000004",
        "0000000005",
        "0000000008",
        "0000000006",
    ]  # reviewed items in metadata order, then 0000000006 (no metadata row)
    assert "0000000007" not in ids  # metadata only, never reviewed
    titles = items.strings("title_text")
    assert titles[0] == "The Lighthouse & the Sea" and titles[4] == "Café Numbers"
    assert titles[3] == "A Field Guide to Moss"  # a repeated asin keeps its first row
    assert titles[5] == "Rock 'n' Roll Stories"
    assert titles[6] == "" and items["title"].row(6).tolist() == []  # reviewed, no metadata
    assert items.strings("description_text")[0] == "A keeper finds a map. Then a storm comes."
    assert items.strings("features_text")[3] == "Waterproof cover 120 drawings"
    assert [depot.vocab("categories")[c] for c in items["categories"].row(0)] == [
        "Books",
        "Literature & Fiction",
        "Classics",
    ]

    def category(column: str) -> list[str]:
        return [depot.vocab(column)[c] for c in items[column]]

    assert category("main_category") == ["Books"] * 6 + ["<unk>"]  # item 2's is an <img alt="Books">
    assert category("brand")[:3] == ["Sample Press", "Rainy Day Books", "<unk>"]
    assert category("price_range") == ["10-20", "<unk>", "<unk>", "<unk>", "500+", "20-50", "<unk>"]
    words = depot.vocab("words")
    assert [words[w] for w in items["title"].row(0)] == ["the", "lighthouse", "&", "the", "sea"]
    counts = ("items_without_metadata", "metadata_rows_unused", "metadata_rows_repeated")
    assert [info[k] for k in counts] == [1, 1, 1]
    raw_html = build(amazon(clean_html=False), FIXTURES / "amazon-2018", tmp_path / "raw")
    assert raw_html.items.strings("title_text")[0] == "The Lighthouse &amp; the Sea"
    assert raw_html.items.strings("description_text")[0] == "A keeper <b>finds</b> a map. Then a storm comes."


@pytest.mark.parametrize("fixture", list(LAYOUTS))
def test_item_columns_are_those_the_shared_column_helpers_build(tmp_path: Path, fixture: str, build) -> None:
    """The streaming builder gives the vocabularies and ids that columns.text_columns & co. give."""
    depot = build(amazon(), FIXTURES / fixture, tmp_path / "d")
    items = depot.items
    texts = {name: items.strings(f"{name}_text") for name in ("title", "description", "features")}
    columns, words = text_columns(texts)
    assert depot.vocab("words") == words
    for name in texts:
        assert np.array_equal(items[name].values, columns[name].data.values)
        assert np.array_equal(items[name].offsets, columns[name].data.offsets)
    vocab = depot.vocab("categories")
    lists = [[vocab[t] for t in items["categories"].row(i)] for i in range(items.num_rows)]
    column, expected = token_list_column(lists, "categories")
    assert vocab == expected and np.array_equal(items["categories"].values, column.data.values)
    for name in ("main_category", "brand", "price_range"):
        values = [depot.vocab(name)[c] for c in items[name]]
        column, expected = category_column([None if v == "<unk>" else v for v in values], name)
        assert depot.vocab(name) == expected and np.array_equal(items[name], column.data)


def test_2014_python_literal_lines_are_read(tmp_path: Path, build) -> None:
    depot = build(amazon(), FIXTURES / "amazon-2014", tmp_path / "d")
    items = depot.items
    titles = items.strings("title_text")
    assert titles[:3] == ["Rock 'n' Roll Headphones", "Ångström USB Cable", "Pocket Radio"]
    assert items.strings("description_text")[3] == 'Folding plug; "universal" voltage.'
    assert [depot.vocab("categories")[c] for c in items["categories"].row(0)] == [
        "Electronics",
        "Accessories & Supplies",
        "Audio & Video Accessories",
        "Headphones",
    ]  # list of lists
    assert [depot.vocab("price_range")[c] for c in items["price_range"]] == [
        "20-50",
        "<5",
        "<unk>",
        "10-20",
        "200-500",
        "<5",
    ]
    assert items.strings("features_text") == [""] * 6  # 2014 has no feature list


def test_2023_items_are_parent_asins_and_times_are_seconds(tmp_path: Path, build, rows) -> None:
    depot = build(amazon(), FIXTURES / "amazon-2023", tmp_path / "d")
    info = depot.meta["info"]
    assert depot.vocab("item_id")[1:] == [f"B0SAMPLE{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7)]
    assert info["duplicates_removed"] == 1  # two variants of one parent, same user and time
    times = {r["time"] for s in depot.splits for r in rows(depot, s)}
    assert min(times) == 1588615855 and all(t < 2_000_000_000 for t in times)
    items = depot.items
    assert items.strings("description_text")[2] == "The loudest record of the year."
    assert items.strings("title_text")[2] == "Loud & Clear" and items.strings("title_text")[6] == ""
    assert [depot.vocab("brand")[b] for b in items["brand"]][:4] == [
        "Sample Records",
        "Eastern Label",
        "Sample Records",
        "<unk>",
    ]  # the store
    assert [depot.vocab("main_category")[b] for b in items["main_category"]][2] == "Music"


def test_duplicates_neutral_ratings_and_their_options(tmp_path: Path, build) -> None:
    raw = FIXTURES / "amazon-2018"
    info = build(amazon(), raw, tmp_path / "a").meta["info"]
    assert (info["reviews_read"], info["duplicates_removed"], info["ratings"]) == (28, 1, 27)
    assert build(amazon(dedupe="none"), raw, tmp_path / "b").meta["info"]["ratings"] == 28
    first = build(amazon(dedupe="first"), raw, tmp_path / "c").meta["info"]
    assert first["ratings"] == 26  # A4 reviewed item 1 twice, on different days
    neutral = build(amazon(drop_neutral=True), raw, tmp_path / "e").meta["info"]
    threes = sum(r == 3.0 for _, _, r, _ in raw_reviews("amazon-2018"))
    assert neutral["neutral_dropped"] == threes == 2 and neutral["ratings"] == 27 - threes
    strict = build(amazon(positive_threshold=5.0), raw, tmp_path / "f").meta["info"]
    fives = sum(r == 5.0 for _, _, r, _ in set(raw_reviews("amazon-2018")))  # set: without the duplicate line
    assert sum(strict["positives"].values()) == fives


def test_eval_negatives_are_stored_once_and_deterministic(tmp_path: Path, build, rows, column_arrays) -> None:
    raw = FIXTURES / "amazon-2018"
    depot = build(amazon(eval_negatives=2, seed=5), raw, tmp_path / "a")
    rated = {(u, i) for u, i, _, _ in raw_reviews("amazon-2018")}
    for split in ("valid", "test"):
        sampled = [r for r in rows(depot, split) if (r["person"], r["item"]) not in rated]
        assert sampled and all(r["label"] == 0.0 for r in sampled)
        per_user: dict = {}
        for r in sampled:
            per_user.setdefault(r["person"], []).append(r["item"])
        assert all(len(set(v)) == len(v) <= 2 for v in per_user.values())
    assert depot.meta["info"]["sampled_negatives"]["train"] == 0
    a = column_arrays(depot)
    b = column_arrays(build(amazon(eval_negatives=2, seed=5), raw, tmp_path / "b"))
    c = column_arrays(build(amazon(eval_negatives=2, seed=6), raw, tmp_path / "c"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert prepare(amazon(eval_negatives=2, seed=5), raw, tmp_path / "a").skipped  # never re-drawn


def test_unpacked_files_read_the_same_as_gzip(tmp_path: Path, build, column_arrays) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("Books_5.json.gz", "meta_Books.json.gz"):
        (raw / name[:-3]).write_bytes(gzip.decompress((FIXTURES / "amazon-2018" / name).read_bytes()))
    plain = build(amazon(), raw, tmp_path / "a")
    info = plain.meta["info"]
    assert info["reviews_file"] == "Books_5.json" and info["meta_file"] == "meta_Books.json"
    a, b = column_arrays(plain), column_arrays(build(amazon(), FIXTURES / "amazon-2018", tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_category_reviews_and_layout_options_choose_among_files(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "amazon-2018")
    for name in ("CDs_and_Vinyl.jsonl", "meta_CDs_and_Vinyl.jsonl"):
        shutil.copy(FIXTURES / "amazon-2023" / name, raw / name)
    with pytest.raises(DataError, match=r"several categories .*the option category=Books\|CDs"):
        amazon().expected_files(raw)
    assert build(amazon(category="CDs_and_Vinyl"), raw, tmp_path / "a").meta["info"]["layout"] == "2023"
    assert build(amazon(layout="2018"), raw, tmp_path / "b").meta["info"]["category"] == "Books"
    first_ten = lines(raw / "Books_5.json.gz")[:10]
    (raw / "Books.json").write_text("".join(json.dumps(r) + "\n" for r in first_ten))
    with pytest.raises(DataError, match=r"both 5-core and full reviews .*option reviews=5core\|full"):
        amazon(category="Books").expected_files(raw)
    full = build(amazon(category="Books", reviews="full"), raw, tmp_path / "c").meta["info"]
    assert (full["reviews_file"], full["five_core"], full["reviews_read"]) == ("Books.json", False, 10)
    five = build(amazon(category="Books", reviews="5core"), raw, tmp_path / "e").meta["info"]
    assert five["reviews_file"] == "Books_5.json.gz" and five["five_core"]


def test_layout_given_on_the_command_line_as_a_number() -> None:
    options, problems = structure({"layout": 2018, "category": "Books"}, AmazonOptions, "$")
    assert not problems and options.layout == "2018"
    options, problems = structure({"layout": 2019}, AmazonOptions, "$")
    assert options is None and "layout must be one of" in problems[0]
    with pytest.raises(ValueError, match="reviews"):
        AmazonOptions(reviews="all")


def test_missing_files_are_listed(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "amazon-2018")
    (raw / "meta_Books.json.gz").unlink()
    with pytest.raises(DataError) as err:
        prepare(amazon(), raw, tmp_path / "d")
    assert "MISSING" in str(err.value) and "meta_Books.json.gz" in str(err.value)
    assert "found    Books_5.json.gz" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        prepare(amazon(), empty, tmp_path / "d")
    for name in (
        "CATEGORY.json.gz",
        "meta_CATEGORY.json.gz",
        "reviews_CATEGORY.json.gz",
        "CATEGORY.jsonl.gz",
        "meta_CATEGORY.jsonl.gz",
    ):
        assert name in str(err.value)
    with pytest.raises(DataError, match="reviews_Books.json.gz"):
        prepare(amazon(layout="2014", category="Books"), empty, tmp_path / "d")
    with pytest.raises(DataError, match="no Amazon review file"):
        amazon().build(empty)


MALFORMED = {  # variant -> (base, "file:line:", words in the message, skipped rows, ratings left)
    "amazon-2018-rating": (
        "amazon-2018",
        "Books_5.json.gz:3:",
        "overall 'five' is not a number",
        {"Books_5.json.gz": 1},
        26,
    ),
    "amazon-2018-json": ("amazon-2018", "Books_5.json.gz:5:", "not a JSON object", {"Books_5.json.gz": 1}, 26),
    "amazon-2018-time": ("amazon-2018", "Books_5.json.gz:7:", "no 'unixReviewTime'", {"Books_5.json.gz": 1}, 26),
    "amazon-2018-meta": ("amazon-2018", "meta_Books.json.gz:4:", "not a JSON object", {"meta_Books.json.gz": 1}, 27),
    "amazon-2014-literal": (
        "amazon-2014",
        "meta_Electronics.json.gz:2:",
        "neither JSON nor a Python literal",
        {"meta_Electronics.json.gz": 1},
        20,
    ),
    "amazon-2023-parent": ("amazon-2023", "CDs_and_Vinyl.jsonl:4:", "no 'parent_asin'", {"CDs_and_Vinyl.jsonl": 1}, 19),
    "amazon-2023-time": (
        "amazon-2023",
        "CDs_and_Vinyl.jsonl:6:",
        "timestamp '2020-05-04' is not an integer",
        {"CDs_and_Vinyl.jsonl": 1},
        19,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    base, where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, base, variant)
    with pytest.raises(DataError) as err:
        amazon().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    info = build(amazon(skip_bad_rows=True), raw, tmp_path / "d").meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


def test_malformed_metadata_leaves_its_item_without_content(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "amazon-2018", "amazon-2018-meta")
    depot = build(amazon(skip_bad_rows=True), raw, tmp_path / "d")
    row = depot.vocab("item_id").index("0000000003") - 1  # line 4 held item 3
    assert depot.items.strings("title_text")[row] == "" and row == 5  # after the items with metadata
    assert depot.meta["info"]["items_without_metadata"] == 2


def test_price_range() -> None:
    assert [price_range(x) for x in (0, 4.99, 5, 19.99, "$ 20", 1e6)] == ["<5", "<5", "5-10", "10-20", "20-50", "500+"]
    assert [price_range(x) for x in ("", "free", True, -1.0, float("nan"), [12.0])] == [None] * 6


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(amazon(eval_negatives=2), FIXTURES / "amazon-2018", tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results and "valid" in results
