"""The ebnerd processor on tiny EB-NeRD parquet files (``fixtures/ebnerd/make_fixture.py`` writes them)."""

from __future__ import annotations

import datetime
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.ebnerd import EBNeRDOptions, EBNeRDProcessor

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

FIXTURES = Path(__file__).parent / "fixtures"
EBNERD = FIXTURES / "ebnerd"
DEMO = EBNERD / "ebnerd_demo"


def ebnerd(**options) -> EBNeRDProcessor:
    return EBNeRDProcessor(EBNeRDOptions(**options))


def behaviors(folder: Path) -> list[dict]:
    return pq.read_table(folder / "behaviors.parquet").to_pylist()


def histories(folder: Path) -> dict[str, list[tuple[str, int]]]:
    """user -> [(article, time in Unix seconds)] of a history.parquet, read independently."""
    out = {}
    for r in pq.read_table(folder / "history.parquet").to_pylist():
        pairs = zip(r["article_id_fixed"], r["impression_time_fixed"], strict=True)
        out[str(r["user_id"])] = [(str(a), seconds(t)) for a, t in pairs]
    return out


def seconds(when: datetime.datetime) -> int:
    """A naive timestamp of the files (UTC) as Unix seconds."""
    return int(when.replace(tzinfo=datetime.timezone.utc).timestamp())


def test_labels_come_from_the_clicked_list_and_splits_are_official(tmp_path: Path, build, rows) -> None:
    depot = build(ebnerd(), EBNERD, tmp_path / "d")
    info = depot.meta["info"]
    assert (info["variant"], info["splits"], info["test_folder"]) == (
        "demo",
        "train = train, valid = validation",
        "unlabelled, articles only",
    )
    assert depot.splits == ["train", "valid"] and info["impressions"] == {"train": 6, "valid": 3}
    for split, folder in (("train", "train"), ("valid", "validation")):
        expected = [
            (str(b["user_id"]), str(a), float(a in b["article_ids_clicked"]), seconds(b["impression_time"]))
            for b in behaviors(DEMO / folder)
            for a in b["article_ids_inview"]
        ]
        got = rows(depot, split)
        assert [(r["person"], r["item"], r["label"], r["time"]) for r in got] == expected
        assert len({r["group"] for r in got}) == len(behaviors(DEMO / folder))  # one group per impression
    assert info["clicks"] == {"train": 6, "valid": 3}  # 505 has no click; 504 has two


def test_one_history_row_per_user_and_split_minus_its_targets(tmp_path: Path, build, rows) -> None:
    depot = build(ebnerd(), EBNERD, tmp_path / "d")
    info = depot.meta["info"]
    assert depot.users.num_rows == 6 and info["user_rows_per"] == "user"  # 3 train users, 3 validation users
    assert info["unknown_history_items"] == 1  # 9770099 is in no articles file (a known quirk): dropped
    assert info["history_items_removed"] == 2 and info["users_without_history"] == 1
    for split, folder in (("train", "train"), ("valid", "validation")):
        snapshot = histories(DEMO / folder)
        got = rows(depot, split)
        for person in {r["person"] for r in got}:
            mine = [r for r in got if r["person"] == person]
            assert len({r["row"] for r in mine}) == 1  # one users row per user and split
            targets = {r["item"] for r in mine}
            expected = [a for a, _ in snapshot.get(person, []) if a not in targets and a != "9770099"]
            assert mine[0]["history"] == expected
            for r in mine:  # leakage-free: every history click is before every impression of the row
                assert r["item"] not in r["history"]
                clicks = snapshot.get(person, [])
                assert all(t < r["time"] for a, t in clicks if a in r["history"])
                assert clicks or not r["history"]
    train_101 = next(r for r in rows(depot, "train") if r["person"] == "101")
    assert train_101["history"] == ["9770001", "9770002"]  # 9780002 is shown to 101 in train: removed


def test_user_attributes_per_row(tmp_path: Path, build) -> None:
    depot = build(ebnerd(), EBNERD, tmp_path / "d")
    users, persons = depot.users, depot.vocab("user_id")

    def value(name: str, row: int) -> str:
        return depot.vocab(name)[users[name][row]]

    by_person = {persons[users["user_id"][i]]: i for i in range(3)}  # the train rows
    first = by_person["101"]
    fields = ("is_subscriber", "is_sso_user", "gender", "age", "postcode", "device_type")
    assert [value(n, first) for n in fields] == ["true", "true", "0", "30", "2", "mobile"]
    assert value("gender", by_person["102"]) == "<unk>"
    assert value("device_type", by_person["102"]) == "desktop"
    assert value("device_type", by_person["103"]) == "<unk>"  # device_type 0 = unknown
    per_impression = build(ebnerd(user_rows="impression"), EBNERD, tmp_path / "i")
    assert per_impression.users.num_rows == 9 and per_impression.meta["info"]["user_rows"] == 9
    devices = [per_impression.vocab("device_type")[d] for d in per_impression.users["device_type"]]
    assert devices[:3] == ["mobile", "desktop", "tablet"]  # 101's second impression is on a tablet


def test_items_from_every_articles_file(tmp_path: Path, build) -> None:
    depot = build(ebnerd(), EBNERD, tmp_path / "d")
    items, ids = depot.items, depot.vocab("item_id")
    assert ids[1:] == [
        "9770001",
        "9770002",
        "9770003",
        "9780001",
        "9780002",
        "9780003",
        "9780004",
        "9780005",
        "9790001",
        "9790002",
    ]  # the test set's own articles last
    assert depot.meta["info"]["duplicate_articles"] == 2
    row = {a: i for i, a in enumerate(ids[1:])}
    assert items.strings("title_text")[row["9770002"]] == "Ny bro over åen"
    assert items.strings("subtitle_text")[row["9770003"]] == ""  # null subtitle
    assert items.strings("body_text")[row["9780002"]] == ""

    def tokens(name: str, article: str) -> list[str]:
        return [depot.vocab(name)[t] for t in items[name].row(row[article])]

    def category(name: str, article: str) -> str:
        return depot.vocab(name)[items[name][row[article]]]

    assert tokens("topics", "9770002") == ["Trafik", "Politik"] and tokens("topics", "9780002") == []
    assert tokens("subcategory", "9770002") == ["133", "140"]
    assert tokens("entities", "9770003") == ["FC Eksempel", "Jens Jensen"]
    assert tokens("entity_groups", "9770003") == ["ORG", "PER"]
    assert category("category", "9770003") == "sport"
    assert category("category", "9780003") == "300"  # no category_str: the category id
    assert category("premium", "9770003") == "true" and category("sentiment", "9780001") == "Negative"
    assert category("article_type", "9780005") == "article_timeline"
    assert items["sentiment_score"][row["9770001"]] == pytest.approx(0.81)
    assert items["published_time"][row["9780001"]] == seconds(datetime.datetime(2023, 5, 18, 6))
    assert not {"total_inviews", "url", "image_ids"} & set(items)
    short = build(ebnerd(max_body_words=2, max_history=1), EBNERD, tmp_path / "s")
    assert short.items["body"].lengths.max() == 2 and short.users["history"].lengths.max() == 1
    assert "body" not in build(ebnerd(body=False), EBNERD, tmp_path / "b").items


def test_validation_as_test_and_a_labelled_test_folder(tmp_path: Path, build, rows, raw_folder) -> None:
    depot = build(ebnerd(validation_split="test", valid_fraction=0.2), EBNERD, tmp_path / "a")
    assert depot.meta["info"]["impressions"] == {"train": 5, "valid": 1, "test": 3}
    valid = rows(depot, "valid")
    latest = max(seconds(b["impression_time"]) for b in behaviors(DEMO / "train"))
    assert {r["time"] for r in valid} == {latest}
    assert valid[0]["row"] not in {r["row"] for r in rows(depot, "train")}  # a users row never spans splits
    raw = raw_folder(tmp_path, "ebnerd")
    shutil.copytree(raw / "ebnerd_demo" / "validation", raw / "ebnerd_demo" / "test")
    labelled = build(ebnerd(), raw, tmp_path / "b")
    info = labelled.meta["info"]
    assert info["test_folder"] == "labelled"
    assert info["splits"] == "train = train, valid = validation, test = test"
    assert info["impressions"] == {"train": 6, "valid": 3, "test": 3}


MALFORMED = {  # variant -> (file:row:, words in the message, skipped rows, impressions left)
    "ebnerd-unknown-article": (
        "ebnerd_demo/validation/behaviors.parquet:2:",
        "article_ids_inview holds article 9789999 (impression 602), which is not in articles.parquet",
        {"ebnerd_demo/validation/behaviors.parquet": 1},
        8,
    ),
    "ebnerd-null-time": (
        "ebnerd_demo/train/behaviors.parquet:4:",
        "impression_time is null (impression 504)",
        {"ebnerd_demo/train/behaviors.parquet": 1},
        8,
    ),
    "ebnerd-stray-click": (
        "ebnerd_demo/train/behaviors.parquet:5:",
        "article_ids_clicked holds article 9780003 (impression 505), which is not in article_ids_inview",
        {"ebnerd_demo/train/behaviors.parquet": 1},
        8,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_bad_rows_name_file_and_row_or_are_skipped_and_counted(tmp_path: Path, variant: str, build, raw_folder) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "ebnerd", variant)
    with pytest.raises(DataError) as err:
        ebnerd().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected Apache Parquet" in str(err.value)
    depot = build(ebnerd(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {k: n for k, n in info["skipped_rows"].items() if n} == skipped
    assert sum(info["impressions"].values()) == left


def test_a_missing_column_or_a_broken_file_is_an_error(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "ebnerd", "ebnerd-missing-column")
    with pytest.raises(DataError, match=r"behaviors.parquet has no column 'article_ids_inview' \(its col"):
        ebnerd(skip_bad_rows=True).build(raw)
    raw = raw_folder(tmp_path, "ebnerd")
    (raw / "ebnerd_demo" / "validation" / "history.parquet").write_text("user_id,article_id_fixed\n1,2\n")
    with pytest.raises(DataError, match="history.parquet: not a readable Apache Parquet file"):
        ebnerd().build(raw)


def test_a_repeated_history_row_is_a_bad_row_and_a_missing_history_an_error(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "ebnerd")
    path = raw / "ebnerd_demo" / "train" / "history.parquet"
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table, table.slice(1, 1)]), path)  # row 4 repeats user 102
    with pytest.raises(DataError, match=r"train/history.parquet:4: user 102 has a second history row"):
        ebnerd().build(raw)
    depot = build(ebnerd(skip_bad_rows=True), raw, tmp_path / "d")
    assert depot.meta["info"]["skipped_rows"]["ebnerd_demo/train/history.parquet"] == 1
    assert depot.meta["info"]["impressions"] == {"train": 6, "valid": 3}
    (raw / "ebnerd_demo" / "test").mkdir()  # a labelled test folder without its history
    shutil.copy(raw / "ebnerd_demo" / "validation" / "behaviors.parquet", raw / "ebnerd_demo" / "test")
    with pytest.raises(DataError, match=r"test/history.parquet is missing"):
        ebnerd(skip_bad_rows=True).build(raw)


def test_without_pyarrow_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pyarrow", "pyarrow.parquet", "pyarrow.compute"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(DataError, match=r"pip install 'lego-datasets\[parquet\]'"):
        ebnerd().build(EBNERD)


def test_expected_and_missing_files(tmp_path: Path, raw_folder) -> None:
    names = [f.name for f in ebnerd().expected_files(EBNERD)]
    assert names[:5] == [
        "ebnerd_demo/articles.parquet",
        "ebnerd_demo/train/behaviors.parquet",
        "ebnerd_demo/train/history.parquet",
        "ebnerd_demo/validation/behaviors.parquet",
        "ebnerd_demo/validation/history.parquet",
    ]
    raw = raw_folder(tmp_path, "ebnerd")
    (raw / "ebnerd_demo" / "validation" / "history.parquet").unlink()
    with pytest.raises(DataError) as err:
        prepare(ebnerd(), raw, tmp_path / "d")
    assert "MISSING  ebnerd_demo/validation/history.parquet" in str(err.value)
    assert "recsys.eb.dk" in str(err.value)
    plain = tmp_path / "plain"
    shutil.copytree(DEMO, plain)
    assert ebnerd().build(plain).info["variant"] == "plain"
    with pytest.raises(ValueError, match="user_rows"):
        EBNeRDOptions(user_rows="session")


def test_batches_do_not_change_the_depot_and_output_is_deterministic(tmp_path: Path, build, column_arrays) -> None:
    a = column_arrays(build(ebnerd(), EBNERD, tmp_path / "a"))
    b = column_arrays(build(ebnerd(batch_rows=2), EBNERD, tmp_path / "b"))
    c = column_arrays(build(ebnerd(), EBNERD, tmp_path / "c"))
    assert a.keys() == b.keys() == c.keys()
    assert all(np.array_equal(a[k], b[k]) and np.array_equal(a[k], c[k]) for k in a)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(ebnerd(validation_split="test"), EBNERD, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
