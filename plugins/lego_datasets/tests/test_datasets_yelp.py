"""The yelp processor on hand-made Yelp Open Dataset files (synthetic businesses, reviews, users).

``fixtures/yelp/`` is a current dump: ``categories`` a comma-separated string or null,
``attributes`` strings holding Python reprs (``u'free'``, nested dicts, ``None``) or null, a
business id starting with ``-``, a repeated business id, a reviewer missing from the user file and a
user without reviews, ``elite`` as ``"2018,2019,20,20"``, a user who reviewed a business twice.
``fixtures/yelp-old/`` is an older dump: no spaces after ``:``/``,``, extra keys (``neighborhood``,
``type``), integer stars, bare dates, one business with list ``categories``/``attributes``, and no
user file (it is optional).
"""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.yelp import YelpOptions, YelpProcessor, attribute_tokens, bucket, elite_years, parse_time

FIXTURES = Path(__file__).parent / "fixtures"
RAW, OLD = FIXTURES / "yelp", FIXTURES / "yelp-old"
REVIEW = "yelp_academic_dataset_review.json"


def yelp(**options) -> YelpProcessor:
    return YelpProcessor(YelpOptions(**options))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def seconds(date: str) -> int:
    when = datetime.datetime.fromisoformat(date) if len(date) > 10 else datetime.datetime.strptime(date, "%Y-%m-%d")
    return int(when.replace(tzinfo=datetime.timezone.utc).timestamp())


def all_rows(depot, rows) -> list[dict]:
    return [dict(r, split=s) for s in depot.splits for r in rows(depot, s)]


def test_businesses_give_name_categories_city_state_and_attributes(tmp_path: Path, build) -> None:
    depot = build(yelp(), RAW, tmp_path / "d")
    items, info = depot.items, depot.meta["info"]
    ids = depot.vocab("item_id")[1:]
    assert ids == [b["business_id"] for b in lines(RAW / "yelp_academic_dataset_business.json")[:6]]
    assert ids[1].startswith("-") and info["duplicate_businesses"] == 1
    assert items.strings("name_text") == [
        "Sample Pizza",
        "Café Lumière",
        'Joe\'s "Famous" Subs',
        "Bright Smiles Dental",
        "Taco Trail",
        "Quiet Books",
    ]  # first row of an id

    def tokens(column: str, row: int) -> list[str]:
        vocab = depot.vocab(items.vocab_name(column))
        return [vocab[t] for t in items[column].row(row)]

    assert tokens("categories", 1) == ["Coffee & Tea", "Cafes", "Breakfast & Brunch"]
    assert tokens("categories", 2) == [] and tokens("attributes", 2) == []  # null categories and attributes
    assert tokens("attributes", 0) == [
        "RestaurantsTakeOut=True",
        "WiFi=free",
        "BusinessParking.garage=False",
        "BusinessParking.street=True",
        "BusinessParking.validated=False",
        "BusinessParking.valet=False",
    ]  # lot is None: no token
    assert tokens("attributes", 1) == ["WiFi=no", "NoiseLevel=quiet"]  # Alcohol "None": no token
    city = [depot.vocab("city")[c] for c in items["city"]]
    state = [depot.vocab("state")[s] for s in items["state"]]
    assert city == ["Tampa", "Philadelphia", "Tampa", "Reno", "Philadelphia", "Reno"]
    assert state == ["FL", "PA", "FL", "NV", "PA", "NV"]
    assert {items.kind("categories"), items.kind("attributes")} == {"tokens"}
    assert items.kind("city") == items.kind("state") == "category"
    bare = build(yelp(attributes=False), RAW, tmp_path / "e")
    assert "attributes" not in bare.items


def test_users_get_buckets_of_their_activity(tmp_path: Path, build) -> None:
    depot = build(yelp(), RAW, tmp_path / "d")
    users = depot.users
    person = {depot.vocab("user_id")[u]: row for row, u in enumerate(np.asarray(users["user_id"]))}
    assert len(depot.vocab("user_id")) - 1 == 4 and "Zz0Yy9Xx8Ww7Vv6Uu5Tt4S" not in person  # no reviews

    def value(column: str, user: str) -> str:
        return depot.vocab(users.vocab_name(column))[users[column][person[user]]]

    sam, newbie, veteran, unknown = (
        "Qq1Rr2Ss3Tt4Uu5Vv6Ww7X",
        "-Aa1Bb2Cc3Dd4Ee5Ff6Gg7",
        "Hh8Ii9Jj0Kk1Ll2Mm3Nn4O",
        "Pp5Qq6Rr7Ss8Tt9Uu0Vv1W",
    )
    fields = ("review_count", "elite_years", "fans", "since_year")
    assert [value(f, sam) for f in fields] == ["20-99", "2-3", "1-4", "2012"]  # "2018,2019,20,20": 3 years
    assert [value(f, newbie) for f in fields] == ["1-4", "0", "0", "2016"]
    assert [value(f, veteran) for f in fields] == ["500+", "7+", "100+", "2009"]
    assert [value(f, unknown) for f in fields] == ["<unk>"] * 4  # not in the user file
    assert depot.meta["info"]["persons_without_user_row"] == 1
    assert all(users.kind(f) == "category" for f in fields)
    assert bucket(4, (1, 5, 20)) == "1-4" and bucket(20, (1, 5, 20)) == "20+" and elite_years(["2015", 2016]) == 2
    assert elite_years("") == elite_years("None") == 0


def test_labels_and_times_come_from_stars_and_dates(tmp_path: Path, build, rows) -> None:
    depot = build(yelp(), RAW, tmp_path / "d")
    raw = lines(RAW / REVIEW)
    expected = sorted((r["user_id"], r["business_id"], seconds(r["date"]), float(r["stars"] >= 4)) for r in raw)
    assert sorted((r["person"], r["item"], r["time"], r["label"]) for r in all_rows(depot, rows)) == expected
    neutral = build(yelp(drop_neutral=True), RAW, tmp_path / "e")
    assert neutral.meta["info"]["neutral_dropped"] == sum(r["stars"] == 3 for r in raw) == 2
    assert neutral.meta["info"]["ratings"] == 15
    strict = build(yelp(positive_threshold=5.0), RAW, tmp_path / "f")
    assert sum(r["label"] for r in all_rows(strict, rows)) == sum(r["stars"] == 5 for r in raw)


def test_an_older_dump_reads_the_same_way_without_a_user_file(tmp_path: Path, build, rows) -> None:
    depot = build(yelp(), OLD, tmp_path / "d")
    info = depot.meta["info"]
    assert info["items"] == 3 and info["ratings"] == 9 and "persons_without_user_row" not in info
    assert set(depot.users) == {"user_id", "history"}
    items = depot.items
    assert [depot.vocab("categories")[c] for c in items["categories"].row(1)] == ["Diners", "Restaurants"]
    assert [depot.vocab("attributes")[a] for a in items["attributes"].row(1)] == [
        "BikeParking=True",
        "BusinessParking.garage=False",
        "BusinessParking.lot=True",
    ]
    raw = lines(OLD / REVIEW)
    expected = sorted((r["user_id"], r["business_id"], seconds(r["date"]), float(r["stars"] >= 4)) for r in raw)
    assert sorted((r["person"], r["item"], r["time"], r["label"]) for r in all_rows(depot, rows)) == expected
    assert attribute_tokens(["WiFi: u'paid'", "Open24Hours: False"]) == ["WiFi=paid", "Open24Hours=False"]


def test_each_user_is_split_by_time(tmp_path: Path, build, rows) -> None:
    depot = build(yelp(), RAW, tmp_path / "d")
    by_person: dict[str, dict[str, list[int]]] = {}
    for r in all_rows(depot, rows):
        by_person.setdefault(r["person"], {}).setdefault(r["split"], []).append(r["time"])
    for person, splits in by_person.items():
        assert max(splits["train"]) <= min(splits["valid"]) <= min(splits["test"]), person
    assert depot.meta["info"]["user_rows"] == {"train": 4, "valid": 4, "test": 4}


@pytest.mark.parametrize("options", [{}, {"split_by": "time"}, {"context_size": 1, "eval_negatives": 2}])
def test_histories_are_leakage_free(tmp_path: Path, build, check_leakage, options) -> None:
    # one review per (user, business), as check_leakage keys ratings by that pair
    depot = build(yelp(**{"context_size": 2, "dedupe": "first", **options}), RAW, tmp_path / "d")
    times, labels = {}, {}
    for r in lines(RAW / REVIEW):
        times.setdefault((r["user_id"], r["business_id"]), seconds(r["date"]))
        labels.setdefault((r["user_id"], r["business_id"]), float(r["stars"] >= 4))
    assert check_leakage(depot, times, labels) > 0


def test_dedupe_keeps_one_review_per_user_and_business(tmp_path: Path, build, rows) -> None:
    for dedupe, count, time in (
        ("none", 17, None),
        ("first", 16, "2015-06-01 08:30:00"),
        ("last", 16, "2017-09-09 09:09:09"),
    ):
        depot = build(yelp(dedupe=dedupe), RAW, tmp_path / dedupe)
        assert depot.meta["info"]["ratings"] == count
        times = [
            r["time"]
            for r in all_rows(depot, rows)
            if (r["person"], r["item"]) == ("Hh8Ii9Jj0Kk1Ll2Mm3Nn4O", "-xYzAbCdEfGhIjKlMnOpQr")
        ]
        assert len(times) == (2 if time is None else 1) and (time is None or times == [seconds(time)])


def test_eval_negatives_are_sampled_once_under_the_seed(tmp_path: Path, build, column_arrays, rows) -> None:
    a = column_arrays(build(yelp(eval_negatives=2, seed=1), RAW, tmp_path / "a"))
    b = column_arrays(build(yelp(eval_negatives=2, seed=1), RAW, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert prepare(yelp(eval_negatives=2, seed=1), RAW, tmp_path / "a").skipped
    depot = build(yelp(eval_negatives=2, seed=1), RAW, tmp_path / "a")
    reviewed = {(r["user_id"], r["business_id"]) for r in lines(RAW / REVIEW)}
    for split in ("valid", "test"):
        sampled = [r for r in rows(depot, split) if (r["person"], r["item"]) not in reviewed]
        assert sampled and all(r["label"] == 0.0 for r in sampled)
        assert len(sampled) == depot.meta["info"]["sampled_negatives"][split]


def test_gzipped_files_and_missing_files(tmp_path: Path, build, raw_folder, column_arrays) -> None:
    raw = raw_folder(tmp_path, "yelp")
    (raw / f"{REVIEW}.gz").write_bytes(gzip.compress((raw / REVIEW).read_bytes()))
    (raw / REVIEW).unlink()
    assert [f.name for f in yelp().expected_files(raw)][1] == f"{REVIEW}.gz"
    plain, zipped = (column_arrays(build(yelp(), folder, tmp_path / f"d{n}")) for n, folder in enumerate((RAW, raw)))
    assert all(np.array_equal(plain[k], zipped[k]) for k in plain)
    (raw / f"{REVIEW}.gz").unlink()
    (raw / "yelp_academic_dataset_user.json").unlink()
    with pytest.raises(DataError) as err:
        prepare(yelp(), raw, tmp_path / "e")
    message = str(err.value)
    assert "MISSING" in message and REVIEW in message and "yelp.com/dataset" in message
    assert "optional" in message and "yelp_academic_dataset_user.json" in message


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, ratings left)
    "yelp-stars": (f"{REVIEW}:4:", "stars 'five' is not a number from 1 to 5", {REVIEW: 1}, 16),
    "yelp-date": (f"{REVIEW}:6:", "date '02/01/2018 10:00 AM' is not YYYY-MM-DD HH:MM:SS", {REVIEW: 1}, 16),
    "yelp-unknown-business": (
        f"{REVIEW}:9:",
        "business_id 'NoSuchBusiness12345678' is not in yelp_academic_dataset_business.json",
        {REVIEW: 1},
        16,
    ),
    "yelp-user-count": (
        "yelp_academic_dataset_user.json:2:",
        "review_count 'many' is not a count",
        {"yelp_academic_dataset_user.json": 1},
        17,
    ),
    # a skipped business takes its three reviews along
    "yelp-business-json": (
        "yelp_academic_dataset_business.json:3:",
        "not a JSON object",
        {"yelp_academic_dataset_business.json": 1, REVIEW: 3},
        14,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "yelp", variant)
    with pytest.raises(DataError) as err:
        yelp().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    depot = build(yelp(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


def test_times_parse_as_utc() -> None:
    assert parse_time("2019-03-02 18:22:10") == seconds("2019-03-02 18:22:10")
    assert parse_time("2019-03-02") == seconds("2019-03-02")
    for bad in ("2019-03-02 18:22", "03/02/2019", "2019-02-30 00:00:00", "2019-03-02 24:00:00"):
        with pytest.raises(ValueError):
            parse_time(bad)


@pytest.mark.parametrize("folder", ["yelp", "yelp-old"])
def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, fixtures: Path, train_small, folder: str) -> None:
    prepare(YelpProcessor(), fixtures / folder, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
