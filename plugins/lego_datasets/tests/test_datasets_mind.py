"""The mind processor on hand-made MIND fixtures (MINDsmall_* folders and plain train/dev/test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.mind import MINDOptions, MINDProcessor, parse_time

FIXTURES = Path(__file__).parent / "fixtures"


def mind(**options) -> MINDProcessor:
    return MINDProcessor(MINDOptions(**options))


def impressions(path: Path) -> list[tuple[str, list[str], list[tuple[str, float]]]]:
    """(user, history, [(news, label)]) per line of a behaviors file, read independently."""
    out = []
    for line in path.read_text().splitlines():
        _, user, _, history, shown = line.split("\t")
        out.append((user, history.split(), [(t[:-2], float(t[-1])) for t in shown.split()]))
    return out


def test_small_layout_tests_on_dev_and_holds_out_the_latest_train_impressions(tmp_path: Path, build, rows) -> None:
    depot = build(mind(), FIXTURES / "mind-small", tmp_path / "d")
    info = depot.meta["info"]
    assert info["variant"] == "MINDsmall" and info["test_folder"] == "absent"
    assert info["impressions"] == {"train": 5, "valid": 1, "test": 3}
    assert depot.users.num_rows == 9  # one row per impression
    valid = rows(depot, "valid")
    assert {r["time"] for r in valid} == {max(r["time"] for s in ("train", "valid") for r in rows(depot, s))}
    dev = impressions(FIXTURES / "mind-small/MINDsmall_dev/behaviors.tsv")
    got = rows(depot, "test")
    assert [(r["person"], r["item"], r["label"]) for r in got] == [(u, n, y) for u, _, shown in dev for n, y in shown]


def test_labelled_test_folder_gives_train_dev_test(tmp_path: Path, build, rows) -> None:
    depot = build(mind(), FIXTURES / "mind-plain", tmp_path / "d")
    info = depot.meta["info"]
    assert info["variant"] == "plain" and info["test_folder"] == "labelled"
    assert info["impressions"] == {"train": 6, "valid": 3, "test": 2}
    for split, folder in (("train", "train"), ("valid", "dev"), ("test", "test")):
        expected = impressions(FIXTURES / "mind-plain" / folder / "behaviors.tsv")
        got = rows(depot, split)
        assert [(r["person"], r["item"], r["label"]) for r in got] == [
            (u, n, y) for u, _, shown in expected for n, y in shown
        ]


def test_unlabelled_test_folder_adds_news_only(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "mind-small", "mind-unlabelled-test")
    depot = build(mind(), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert info["test_folder"] == "unlabelled, news only"
    assert info["impressions"] == {"train": 5, "valid": 1, "test": 3}
    assert "MINDsmall_test/behaviors.tsv" in depot.meta["raw_files"]


def test_items_are_the_union_of_all_news_files_with_entities(tmp_path: Path, build) -> None:
    depot = build(mind(), FIXTURES / "mind-small", tmp_path / "d")
    items = depot.items
    assert depot.vocab("item_id")[1:] == [f"N{i}" for i in range(1, 11)]
    assert set(items) == {
        "item_id",
        "title",
        "abstract",
        "title_text",
        "abstract_text",
        "category",
        "subcategory",
        "title_entities",
        "abstract_entities",
    }
    assert items.strings("title_text")[0] == "A quiet round at the lake course"
    assert items.strings("abstract_text")[7] == 'Small steps, "big" savings.'
    entities = depot.vocab("entities")
    assert [entities[e] for e in items["title_entities"].row(0)] == ["Q23397"]
    assert [entities[e] for e in items["abstract_entities"].row(1)] == ["Q1416"]
    assert items["title_entities"].row(0).tolist() == items["title_entities"].row(9).tolist()  # same entity
    assert items.vocab_name("title") == items.vocab_name("abstract") == "words"


def test_one_group_per_impression_and_histories_never_hold_the_target(tmp_path: Path, build, rows) -> None:
    depot = build(mind(), FIXTURES / "mind-small", tmp_path / "d")
    groups = {}
    for split in depot.splits:
        for r in rows(depot, split):
            assert r["item"] not in r["history"]
            groups.setdefault(r["group"], set()).add(r["row"])
    assert all(len(users) == 1 for users in groups.values()) and len(groups) == 9
    assert depot.meta["info"]["history_items_removed"] == 1  # impression 3 shows N2, which is in its history
    train = [r for r in rows(depot, "train") if r["group"] == 2]
    assert train[0]["history"] == ["N1", "N3"]


def test_max_history_keeps_the_most_recent(tmp_path: Path, build) -> None:
    depot = build(mind(max_history=2), FIXTURES / "mind-small", tmp_path / "d")
    history, ids = depot.users["history"], depot.vocab("item_id")
    assert history.lengths.max() == 2
    assert [ids[h + 1] for h in history.row(5)] == ["N6", "N8"]  # impression 6: N5 N6 N8


def test_expected_files_follow_the_layout(tmp_path: Path, raw_folder) -> None:
    names = [f.name for f in mind().expected_files(FIXTURES / "mind-plain")]
    assert names == [
        "train/news.tsv",
        "train/behaviors.tsv",
        "dev/news.tsv",
        "dev/behaviors.tsv",
        "test/news.tsv",
        "test/behaviors.tsv",
    ]
    raw = raw_folder(tmp_path, "mind-small")
    (raw / "MINDsmall_dev" / "behaviors.tsv").unlink()
    with pytest.raises(DataError) as err:
        prepare(mind(), raw, tmp_path / "d")
    assert "MISSING" in str(err.value) and "MINDsmall_dev/behaviors.tsv" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="MINDsmall_train/news.tsv"):
        prepare(mind(), empty, tmp_path / "d")


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, impressions left)
    "mind-unknown-item": (
        "MINDsmall_train/behaviors.tsv:2:",
        "candidate news 'N99' is in no news.tsv",
        {"MINDsmall_train/behaviors.tsv": 1},
        8,
    ),
    "mind-bad-label": (
        "MINDsmall_train/behaviors.tsv:3:",
        "'N7-x' is not NEWSID-1 or NEWSID-0",
        {"MINDsmall_train/behaviors.tsv": 1},
        8,
    ),
    "mind-bad-time": (
        "MINDsmall_train/behaviors.tsv:5:",
        "time '13/45/2019 12:30:45 XM'",
        {"MINDsmall_train/behaviors.tsv": 1},
        8,
    ),
    "mind-news-columns": (
        "MINDsmall_dev/news.tsv:4:",
        "4 fields where 8 were expected",
        {"MINDsmall_dev/news.tsv": 1},
        9,
    ),  # N8 is also in the train news
    "mind-unknown-history": ("MINDsmall_dev/behaviors.tsv:3:", "history news 'N77' is in no news.tsv", {}, 9),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "mind-small", variant)
    with pytest.raises(DataError) as err:
        mind().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    depot = build(mind(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {k: n for k, n in info["skipped_rows"].items() if n} == skipped
    assert depot.users.num_rows == left
    assert info["unknown_history_items"] == (1 if variant == "mind-unknown-history" else 0)


def test_parse_time() -> None:
    assert parse_time("11/15/2019 8:55:22 AM") == 1573808122
    assert parse_time("11/15/2019 12:00:00 AM") == 1573776000
    assert parse_time("11/15/2019 12:30:00 PM") == 1573776000 + 12 * 3600 + 1800
    for bad in ("11/15/2019 13:00:00 PM", "11/15/2019 8:55:22", "2019-11-15 08:55:22 AM", "2/30/2019 1:00:00 AM"):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_deterministic_and_options_checked(tmp_path: Path, build, column_arrays) -> None:
    a = column_arrays(build(mind(), FIXTURES / "mind-small", tmp_path / "a"))
    b = column_arrays(build(mind(), FIXTURES / "mind-small", tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="variant"):
        MINDOptions(variant="medium")
    no_valid = build(mind(valid_fraction=0.0), FIXTURES / "mind-small", tmp_path / "c")
    assert no_valid.splits == ["train", "test"]
