"""The hotelrec processor on a hand-made ``HotelRec.txt`` (strict JSON lines, synthetic reviews).

The fixture has 21 lines: 5 authors, 7 hotels, one review twice (an exact duplicate line), an author
who reviewed the same hotel twice, month-resolution dates with ties, 3-star reviews, a URL whose
location holds an extra ``-``, a URL without a location, lines without ``property_dict`` and
non-ASCII text.
"""

from __future__ import annotations

import datetime
import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.hotelrec import HotelRecOptions, HotelRecProcessor, hotel_from_url, parse_date

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "hotelrec"


def hotelrec(**options) -> HotelRecProcessor:
    return HotelRecProcessor(HotelRecOptions(**options))


def raw_reviews() -> list[dict]:
    return [json.loads(line) for line in (RAW / "HotelRec.txt").read_text(encoding="utf-8").splitlines()]


def seconds(date: str) -> int:
    return int(datetime.datetime.fromisoformat(date).replace(tzinfo=datetime.timezone.utc).timestamp())


def hotel(url: str) -> str:
    return "d" + url.split("-d")[1].split("-")[0]


def all_rows(depot, rows) -> list[dict]:
    return [dict(r, split=s) for s in depot.splits for r in rows(depot, s)]


def test_hotels_come_from_the_url_with_name_location_and_geo(tmp_path: Path, build) -> None:
    depot = build(hotelrec(), RAW, tmp_path / "d")
    items = depot.items
    assert depot.vocab("item_id")[1:] == [f"d200000{n}" for n in range(1, 8)]
    assert items.strings("name_text") == [
        "Seaside Inn",
        "Harbour View Hotel",
        "Alpine Lodge",
        "Grand Plaza",
        "Chalet du Lac",
        "Station Hostel",
        "Old Mill B B",
    ]
    assert items.strings("location_text")[:5] == [
        "Sample Town Sample Region",
        "Sample Town Sample Region",
        "Berg Valley-Upper Province",
        "",
        "Berg Valley Upper Province",
    ]
    geo = [depot.vocab("geo")[g] for g in items["geo"]]
    assert geo == ["g100001", "g100001", "g100002", "g100003", "g100002", "g100004", "g100004"]
    assert items.kind("name") == items.kind("location") == "tokens" and items.vocab_name("location") == "words"
    assert set(items) == {"item_id", "name", "name_text", "location", "location_text", "geo"}
    assert hotel_from_url("Hotel_Review-g1-d2-Reviews-Inn.html") == ("d2", "g1", "Inn", "")
    with pytest.raises(ValueError):
        hotel_from_url("Restaurant_Review-g1-d2-Reviews-Cafe.html")


def test_labels_follow_the_threshold_and_every_review_is_kept_once(tmp_path: Path, build, rows) -> None:
    depot = build(hotelrec(), RAW, tmp_path / "d")
    info = depot.meta["info"]
    assert info["reviews_read"] == 21 and info["duplicates"] == 1 and info["ratings"] == 20
    assert info["persons"] == 5 and info["items"] == 7
    raw = raw_reviews()
    expected = sorted((r["author"], hotel(r["hotel_url"]), seconds(r["date"]), float(r["rating"] >= 4)) for r in raw)
    expected.remove(("Anna K", "d2000001", seconds("2018-02-01T00:00:00"), 1.0))  # the duplicate line, once
    got = sorted((r["person"], r["item"], r["time"], r["label"]) for r in all_rows(depot, rows))
    assert got == expected
    strict = build(hotelrec(positive_threshold=5.0), RAW, tmp_path / "e")
    assert sum(r["label"] for r in all_rows(strict, rows)) == 6 == sum(r["rating"] == 5.0 for r in raw)


def test_drop_neutral_removes_three_star_reviews(tmp_path: Path, build, rows) -> None:
    depot = build(hotelrec(drop_neutral=True), RAW, tmp_path / "d")
    assert depot.meta["info"]["neutral_dropped"] == 2 and depot.meta["info"]["ratings"] == 18
    threes = {(r["author"], hotel(r["hotel_url"])) for r in raw_reviews() if r["rating"] == 3.0}
    assert not threes & {(r["person"], r["item"]) for r in all_rows(depot, rows)}


@pytest.mark.parametrize(
    ("dedupe", "ratings", "seaside"), [("none", 21, 2), ("exact", 20, 1), ("first", 19, 1), ("last", 19, 1)]
)
def test_dedupe_modes(tmp_path: Path, build, rows, dedupe: str, ratings: int, seaside: int) -> None:
    depot = build(hotelrec(dedupe=dedupe), RAW, tmp_path / "d")
    assert depot.meta["info"]["ratings"] == ratings
    anna = [r for r in all_rows(depot, rows) if (r["person"], r["item"]) == ("Anna K", "d2000001")]
    assert len(anna) == seaside
    visits = sorted(
        r["time"] for r in all_rows(depot, rows) if (r["person"], r["item"]) == ("traveller_abc", "d2000001")
    )
    if dedupe == "first":
        assert visits == [seconds("2015-07-01T00:00:00")]
    elif dedupe == "last":
        assert visits == [seconds("2017-03-01T00:00:00")]
    else:
        assert len(visits) == 2


def test_each_author_is_split_by_time_with_month_ties_in_file_order(tmp_path: Path, build, rows) -> None:
    depot = build(hotelrec(dedupe="first"), RAW, tmp_path / "d")
    by_person: dict[str, list[tuple[int, str, str]]] = {}
    for r in all_rows(depot, rows):
        by_person.setdefault(r["person"], []).append((r["time"], r["item"], r["split"]))
    for person, got in by_person.items():
        train = [t for t, _, s in got if s == "train"]
        later = [t for t, _, s in got if s != "train"]
        assert not later or max(train) <= min(later), person
    assert [s for _, _, s in by_person["solo_guest"]] == ["train"]  # one review: train only
    anna = {item: split for _, item, split in by_person["Anna K"]}
    # d2000002 and d2000004 share April 2018: the later line (d2000004) falls after it
    assert anna["d2000005"] == "test" and anna["d2000004"] == "valid" and anna["d2000002"] == "train"


@pytest.mark.parametrize("options", [{}, {"split_by": "time"}, {"context_size": 1, "eval_negatives": 2}])
def test_histories_are_leakage_free(tmp_path: Path, build, check_leakage, options) -> None:
    depot = build(hotelrec(dedupe="first", **options), RAW, tmp_path / "d")
    times, labels = {}, {}
    for r in raw_reviews():
        key = (r["author"], hotel(r["hotel_url"]))
        times.setdefault(key, seconds(r["date"]))
        labels.setdefault(key, float(r["rating"] >= 4))
    assert check_leakage(depot, times, labels) > 0


def test_zipped_and_gzipped_files_read_the_same(tmp_path: Path, build, column_arrays) -> None:
    plain = column_arrays(build(hotelrec(), RAW, tmp_path / "plain"))
    zipped = tmp_path / "zip"
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "HotelRec.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(RAW / "HotelRec.txt", "HotelRec.txt")
    gzipped = tmp_path / "gz"
    gzipped.mkdir()
    (gzipped / "HotelRec.txt.gz").write_bytes(gzip.compress((RAW / "HotelRec.txt").read_bytes()))
    for folder, name in ((zipped, "HotelRec.zip"), (gzipped, "HotelRec.txt.gz")):
        assert [f.name for f in hotelrec().expected_files(folder)] == [name]
        other = column_arrays(build(hotelrec(), folder, tmp_path / f"out-{folder.name}"))
        assert other.keys() == plain.keys() and all(np.array_equal(plain[k], other[k]) for k in plain)


def test_the_file_option_reads_a_subset_and_a_missing_file_is_listed(tmp_path: Path, build) -> None:
    subset = tmp_path / "subset"
    subset.mkdir()
    lines = (RAW / "HotelRec.txt").read_text(encoding="utf-8").splitlines()
    (subset / "HotelRec-5core.txt").write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    depot = build(hotelrec(file="HotelRec-5core.txt"), subset, tmp_path / "d")
    assert depot.meta["info"]["ratings"] == 6 and depot.meta["info"]["file"] == "HotelRec-5core.txt"
    with pytest.raises(DataError) as err:
        prepare(hotelrec(), subset, tmp_path / "e")
    assert "MISSING" in str(err.value) and "HotelRec.txt" in str(err.value) and "github.com" in str(err.value)


def test_eval_negatives_are_stored_once_under_the_seed(tmp_path: Path, build, column_arrays, rows) -> None:
    a = column_arrays(build(hotelrec(eval_negatives=2, seed=3), RAW, tmp_path / "a"))
    b = column_arrays(build(hotelrec(eval_negatives=2, seed=3), RAW, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    depot = build(hotelrec(eval_negatives=2, seed=3), RAW, tmp_path / "a")
    assert prepare(hotelrec(eval_negatives=2, seed=3), RAW, tmp_path / "a").skipped
    reviewed = {(r["author"], hotel(r["hotel_url"])) for r in raw_reviews()}
    sampled = [r for s in ("valid", "test") for r in rows(depot, s) if (r["person"], r["item"]) not in reviewed]
    assert sampled and all(r["label"] == 0.0 for r in sampled)
    info = depot.meta["info"]["sampled_negatives"]
    assert info["valid"] + info["test"] == len(sampled) and info["train"] == 0
    per_row: dict[tuple[str, int], list[str]] = {}
    for r in sampled:
        per_row.setdefault((r["person"], r["row"]), []).append(r["item"])
    assert all(len(items) == len(set(items)) <= 2 for items in per_row.values())


MALFORMED = {  # variant -> ("file:line:", words in the message, reviews left)
    "hotelrec-rating": ("HotelRec.txt:5:", "rating 'four' is not a number from 1 to 5", 19),
    "hotelrec-url": ("HotelRec.txt:3:", "is not Hotel_Review-g<geoId>-d<hotelId>-Reviews-<slug>.html", 19),
    "hotelrec-date": ("HotelRec.txt:8:", "date 'August 2014' is not YYYY-MM-DDT00:00:00", 19),
    "hotelrec-json": ("HotelRec.txt:18:", "not a JSON object", 19),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "hotelrec", variant)
    with pytest.raises(DataError) as err:
        hotelrec().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    depot = build(hotelrec(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert info["skipped_rows"] == {"HotelRec.txt": 1} and info["ratings"] == left


def test_dates_parse_to_utc_seconds() -> None:
    assert parse_date("2015-07-01T00:00:00") == seconds("2015-07-01T00:00:00") == parse_date("2015-07-01")
    for bad in ("2015-13-01T00:00:00", "July 2015", "2015-07-01T25:00:00"):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, fixtures: Path, train_small) -> None:
    prepare(HotelRecProcessor(HotelRecOptions(eval_negatives=2)), fixtures / "hotelrec", tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
