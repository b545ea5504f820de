"""The hm processor on a hand-made H&M fixture (plain and zipped as Kaggle serves the files)."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.hm import HMOptions, HMProcessor, age_bucket_names

FIXTURES = Path(__file__).parent / "fixtures"
HM = FIXTURES / "hm"


def hm(**options) -> HMProcessor:
    return HMProcessor(HMOptions(**options))


def transactions() -> list[tuple[str, str, int]]:
    """(customer, article, Unix day) per row of the fixture, read independently."""
    with open(HM / "transactions_train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    epoch = datetime.datetime(1970, 1, 1)
    return [
        (r["customer_id"], r["article_id"], int((datetime.datetime.fromisoformat(r["t_dat"]) - epoch).total_seconds()))
        for r in rows
    ]


def customers() -> list[str]:
    with open(HM / "customers.csv", newline="") as handle:
        return [r["customer_id"] for r in csv.DictReader(handle)]


def day(text: str) -> int:
    return int((datetime.datetime.fromisoformat(text) - datetime.datetime(1970, 1, 1)).total_seconds())


def positives(rows_of_split: list[dict]) -> list[tuple[str, str, int]]:
    return [(r["person"], r["item"], r["time"]) for r in rows_of_split if r["label"] == 1.0]


def test_last_week_split_puts_the_last_seven_days_in_test_and_the_week_before_in_valid(
    tmp_path: Path, build, rows
) -> None:
    depot = build(hm(eval_negatives=0), HM, tmp_path / "d")
    info = depot.meta["info"]
    assert info["split"] == "test = 2020-09-16..2020-09-22, valid = 2020-09-09..2020-09-15, train = earlier"
    assert info["dates"] == ["2020-08-20", "2020-09-22"]
    assert depot.items.num_rows == 8 and info["persons"] == 6 and info["transactions"] == 27
    assert depot.splits == ["train", "valid", "test"]
    first = {}
    for customer, article, when in transactions():  # dedupe = "first": the first purchase of each pair
        first.setdefault((customer, article), when)
    expected = {"train": [], "valid": [], "test": []}
    for (customer, article), when in first.items():
        split = "test" if when >= day("2020-09-16") else "valid" if when >= day("2020-09-09") else "train"
        expected[split].append((customer, article, when))
    for split in depot.splits:
        got = rows(depot, split)
        assert all(r["label"] == 1.0 for r in got)  # eval_negatives = 0: the purchases only
        assert sorted(positives(got)) == sorted(expected[split]), split
    assert info["ratings"] == 23 and info["duplicates_removed"] == 4


def test_dedupe_first_day_none(tmp_path: Path, build, rows) -> None:
    counts = {}
    for how in ("first", "day", "none"):
        depot = build(hm(dedupe=how, eval_negatives=0), HM, tmp_path / how)
        counts[how] = depot.meta["info"]["ratings"]
        test = positives(rows(depot, "test"))
        c1, c3 = customers()[0], customers()[2]
        repurchase = (c1, "0345678001", day("2020-09-21"))  # bought on 2020-09-01 too
        assert (repurchase in test) == (how != "first")
        assert test.count((c3, "0234567001", day("2020-09-18"))) == (2 if how == "none" else 1)  # two units
    assert counts == {"first": 23, "day": 25, "none": 27}


@pytest.mark.parametrize("split_by", ["last_week", "user", "time"])
def test_histories_are_leakage_free(tmp_path: Path, split_by: str, build, check_leakage) -> None:
    depot = build(hm(split_by=split_by, context_size=2, eval_negatives=2), HM, tmp_path / "d")
    times = {}
    for customer, article, when in transactions():
        times.setdefault((customer, article), when)
    assert check_leakage(depot, times, dict.fromkeys(times, 1.0)) > 0


def test_user_and_time_splits_follow_the_shared_protocol(tmp_path: Path, build, rows) -> None:
    depot = build(hm(split_by="time", eval_negatives=0), HM, tmp_path / "t")
    train, valid, test = (depot.table(s)["time"] for s in ("train", "valid", "test"))
    assert train.max() <= valid.min() and valid.max() <= test.min()
    depot = build(hm(split_by="user", eval_negatives=0), HM, tmp_path / "u")
    last = {}
    for split in depot.splits:
        for r in rows(depot, split):
            last.setdefault(r["person"], {}).setdefault(split, []).append(r["time"])
    for splits in last.values():
        if "test" in splits:
            assert max(splits.get("train", [0]) + splits.get("valid", [0])) <= min(splits["test"])


def test_eval_users_keeps_the_valid_and_test_purchases_of_a_sample_of_customers(tmp_path: Path, build, rows) -> None:
    everyone = build(hm(eval_negatives=0), HM, tmp_path / "all")
    assert everyone.meta["info"]["evaluated_users"] == 5
    depot = build(hm(eval_users=2, eval_negatives=0), HM, tmp_path / "d")
    info = depot.meta["info"]
    evaluated = {r["person"] for s in ("valid", "test") for r in rows(depot, s)}
    assert info["evaluated_users"] == len(evaluated) == 2
    assert info["ratings"] + info["dropped_not_evaluated"] == 23

    def train(d) -> list[tuple]:
        return [(r["person"], r["item"], r["time"], r["history"]) for r in rows(d, "train")]

    assert train(depot) == train(everyone)  # train is untouched


def test_fewer_test_days_and_no_valid(tmp_path: Path, build, rows) -> None:
    depot = build(hm(test_days=3, valid_days=0, eval_negatives=0), HM, tmp_path / "d")
    assert depot.splits == ["train", "test"]
    assert depot.meta["info"]["split"] == "test = 2020-09-20..2020-09-22, no valid, train = earlier"
    assert {r["time"] for r in rows(depot, "test")} == {day("2020-09-20"), day("2020-09-22")}


def test_articles_keep_leading_zeros_and_give_text_and_category_columns(tmp_path: Path, build) -> None:
    depot = build(hm(), HM, tmp_path / "d")
    items = depot.items
    assert depot.vocab("item_id")[1:4] == ["0123456001", "0123456002", "0234567001"]
    assert items.kind("prod_name") == "tokens" and items.vocab_name("detail_desc") == "words"
    desc = items.strings("detail_desc_text")
    assert desc[4] == ""  # an empty detail_desc
    assert desc[5] == 'Calf-length skirt in woven fabric, with pleats and a "hidden" zip.'
    assert desc[6] == "Fine-knit socks in a cotton blend.\nThree pairs in a pack."  # a quoted line break
    assert items.strings("prod_name_text")[6] == "Sock 3p"
    words = depot.vocab("words")
    assert [words[w] for w in items["prod_name"].row(0)] == ["sample", "tee"]
    expected = {
        "product_code",
        "product_type_name",
        "product_group_name",
        "graphical_appearance_name",
        "colour_group_name",
        "perceived_colour_value_name",
        "perceived_colour_master_name",
        "department_name",
        "index_name",
        "index_group_name",
        "section_name",
        "garment_group_name",
    }
    assert expected <= set(items) and "colour_group_code" not in items
    codes = depot.vocab("product_code")
    assert [codes[c] for c in items["product_code"][:3]] == ["0123456", "0123456", "0234567"]
    colours = depot.vocab("colour_group_name")
    assert [colours[c] for c in items["colour_group_name"]] == [
        "Black",
        "White",
        "Dark Blue",
        "Light Blue",
        "Beige",
        "Black",
        "Black",
        "Dark Green",
    ]
    few = build(hm(article_categories=["colour_group_code", "index_name"]), HM, tmp_path / "few")
    assert {c for c in few.items if few.items.kind(c) == "category"} == {"item_id", "colour_group_code", "index_name"}
    assert few.vocab("colour_group_code")[1] == "09"


def person_attributes(depot, column: str) -> dict[str, str]:
    users = depot.users
    ids, vocab = depot.vocab("user_id"), depot.vocab(users.vocab_name(column))
    return {ids[u]: vocab[a] for u, a in zip(users["user_id"], users[column], strict=True)}


def test_customer_attributes_age_buckets_and_missing_values(tmp_path: Path, build) -> None:
    depot = build(hm(), HM, tmp_path / "d")
    c = customers()
    assert set(depot.users) == {
        "user_id",
        "history",
        "age",
        "FN",
        "Active",
        "club_member_status",
        "fashion_news_frequency",
    }
    assert depot.vocab("age") == ["<unk>", "<20", "20-24", "25-29", "30-39", "40-49", "50-59", "60+"]
    age = person_attributes(depot, "age")
    assert [age[c[i]] for i in range(5)] == ["20-24", "40-49", "30-39", "<unk>", "60+"]  # c[5] bought nothing
    assert c[5] not in age
    assert [person_attributes(depot, "FN")[c[i]] for i in range(5)] == ["1", "<unk>", "1", "<unk>", "<unk>"]
    news = person_attributes(depot, "fashion_news_frequency")
    assert [news[c[i]] for i in range(5)] == ["Regularly", "NONE", "Monthly", "<unk>", "NONE"]  # "None" -> NONE
    club = person_attributes(depot, "club_member_status")
    assert [club[c[i]] for i in range(5)] == ["ACTIVE", "ACTIVE", "PRE-CREATE", "<unk>", "LEFT CLUB"]
    assert depot.vocab("user_id")[1:] == c  # every customer is in the vocabulary, in file order
    other = build(hm(age_edges=[30], postal_code=True), HM, tmp_path / "o")
    assert other.vocab("age") == ["<unk>", "<30", "30+"]
    assert person_attributes(other, "age")[c[0]] == "<30"
    postal = person_attributes(other, "postal_code")
    assert postal[c[1]] == postal[c[4]] != postal[c[0]]  # two customers share a postal code
    assert age_bucket_names((20, 25)) == ["<20", "20-24", "25+"]


def test_eval_negatives_are_unbought_articles_stored_once(tmp_path: Path, build, rows, column_arrays) -> None:
    depot = build(hm(eval_negatives=3, seed=5), HM, tmp_path / "a")
    bought = {(c, a) for c, a, _ in transactions()}
    for split in ("valid", "test"):
        got = rows(depot, split)
        sampled = [r for r in got if r["label"] == 0.0]
        assert sampled and all((r["person"], r["item"]) not in bought for r in sampled)
        per_user = {}
        for r in sampled:
            per_user.setdefault(r["person"], []).append(r["item"])
        for person, items in per_user.items():
            unbought = 8 - len({a for c, a in bought if c == person})
            assert len(items) == len(set(items)) == min(3, unbought)
    again = build(hm(eval_negatives=3, seed=5), HM, tmp_path / "b")
    a, b = column_arrays(depot), column_arrays(again)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert prepare(hm(eval_negatives=3, seed=5), HM, tmp_path / "a").skipped  # never re-drawn
    info = build(hm(), HM, tmp_path / "c").meta["info"]
    assert info["sampled_negatives"] == {"train": 0, "valid": 11, "test": 17}  # default 100, capped by 8 articles


def test_zipped_files_read_the_same_as_plain_ones(tmp_path: Path, build, column_arrays) -> None:
    names = [f.name for f in hm().expected_files(FIXTURES / "hm-zipped")]
    assert names == ["articles.csv.zip", "customers.csv.zip", "transactions_train.csv.zip"]
    zipped = build(hm(eval_negatives=2), FIXTURES / "hm-zipped", tmp_path / "z")
    plain = build(hm(eval_negatives=2), HM, tmp_path / "p")
    a, b = column_arrays(zipped), column_arrays(plain)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert set(zipped.meta["raw_files"]) == set(names)


def test_missing_files_are_listed(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "hm")
    (raw / "customers.csv").unlink()
    with pytest.raises(DataError) as err:
        prepare(hm(), raw, tmp_path / "d")
    message = str(err.value)
    assert "MISSING" in message and "customers.csv" in message and "transactions_train.csv" in message
    assert "kaggle.com" in message


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, purchases left)
    "hm-unknown-article": ("transactions_train.csv:5:", "leading zero was lost", {"transactions_train.csv": 1}, 22),
    "hm-bad-date": (
        "transactions_train.csv:8:",
        "'2020/08/30' is not a YYYY-MM-DD date",
        {"transactions_train.csv": 1},
        23,
    ),  # the 09-21 repurchase becomes the first
    "hm-columns": ("transactions_train.csv:3:", "4 fields where 5", {"transactions_train.csv": 1}, 23),
    "hm-unknown-customer": ("transactions_train.csv:10:", "is not in customers.csv", {"transactions_train.csv": 1}, 22),
    # a skipped customer takes their 7 purchases along
    "hm-bad-age": ("customers.csv:4:", "age 'thirty'", {"customers.csv": 1, "transactions_train.csv": 7}, 17),
    # an unclosed quote stops at the next article line; the skipped article takes its 4 purchases along
    "hm-unclosed-quote": ("articles.csv:4:", "never closed", {"articles.csv": 1, "transactions_train.csv": 4}, 20),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "hm", variant)
    with pytest.raises(DataError) as err:
        hm().build(raw)
    message = str(err.value)
    assert where in message and what in message and "(expected " in message and "skip_bad_rows" in message
    depot = build(hm(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


def test_a_wrong_header_is_an_error_even_when_skipping(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "hm", "hm-header")
    with pytest.raises(DataError, match=r"transactions_train.csv:1: header .* is not the expected"):
        hm(skip_bad_rows=True).build(raw)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="split_by"):
        HMOptions(split_by="random")
    with pytest.raises(ValueError, match="dedupe"):
        HMOptions(dedupe="last")
    with pytest.raises(ValueError, match="age_edges"):
        HMOptions(age_edges=[30, 20])
    with pytest.raises(ValueError, match="'colour' not in articles.csv"):
        HMOptions(article_categories=["colour"])
    with pytest.raises(ValueError, match="below 1"):
        HMOptions(valid_fraction=0.5, test_fraction=0.5)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(hm(eval_negatives=3), HM, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results and "valid" in results
