"""The pens processor on a hand-made PENS fixture (news.tsv, train.tsv, valid.tsv, personalized_test.tsv)."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.impressions import parse_time
from lego_datasets.pens import PENSOptions, PENSProcessor

FIXTURES = Path(__file__).parent / "fixtures"
PENS = FIXTURES / "pens"


def pens(**options) -> PENSProcessor:
    return PENSProcessor(PENSOptions(**options))


def log_rows(path: Path) -> list[dict]:
    """The rows of train.tsv / valid.tsv, read independently of the processor."""
    out = []
    for line in path.read_text().splitlines()[1:]:
        user, clicked, _, _, pos, neg, start, _, _ = line.split("\t")
        out.append(
            {
                "user": user,
                "history": clicked.split(),
                "start": parse_time(start),
                "shown": [(n, 1.0) for n in pos.split()] + [(n, 0.0) for n in neg.split()],
            }
        )
    return out


def test_official_splits_keep_every_candidate_with_its_label(tmp_path: Path, build, rows) -> None:
    depot = build(pens(), PENS, tmp_path / "d")
    info = depot.meta["info"]
    assert info["splits"] == "train = train.tsv, valid = valid.tsv" and depot.splits == ["train", "valid"]
    assert info["impressions"] == {"train": 5, "valid": 2}
    assert info["personalized_test"] == "present, not read"
    assert depot.users.num_rows == 7  # one users row per log row
    for split, file in (("train", "train.tsv"), ("valid", "valid.tsv")):
        expected = log_rows(PENS / file)
        got = rows(depot, split)
        assert [(r["person"], r["item"], r["label"], r["time"]) for r in got] == [
            (e["user"], n, y, e["start"]) for e in expected for n, y in e["shown"]
        ]
        groups = [r["group"] for r in got]
        assert len(set(groups)) == len(expected)  # one group per impression window
        for r in got:  # history: ClicknewsID minus the row's own candidates
            e = expected[sorted(set(groups)).index(r["group"])]
            assert r["history"] == [h for h in e["history"] if h not in {n for n, _ in e["shown"]}]
            assert r["item"] not in r["history"]
    assert info["history_items_removed"] == 1  # NT1's third window shows N10002, which it clicked before


def test_items_have_headline_body_category_topic_and_entities(tmp_path: Path, build) -> None:
    depot = build(pens(), PENS, tmp_path / "d")
    items, ids = depot.items, depot.vocab("item_id")
    assert ids[1:] == [f"N100{i:02d}" for i in range(1, 13)]  # the repeated N10001 row is ignored
    assert set(items) == {"item_id", "title", "title_text", "body", "body_text", "category", "topic", "title_entities"}
    titles, bodies = items.strings("title_text"), items.strings("body_text")
    assert titles[0] == "Late goal lifts home side"  # first row of N10001 wins
    assert bodies[2] == 'Warm up with these 5" recipes.'  # a stray quote, read as is
    assert bodies[3] == "" and titles[11] == "New album tops the charts"  # empty body; trailing fields cut
    entities = depot.vocab("entities")
    got = {ids[i + 1]: [entities[e] for e in items["title_entities"].row(i)] for i in range(items.num_rows)}
    assert got["N10001"] == ["Q1"] and got["N10002"] == ["Q2"]  # JSON, and a Python-literal dict
    assert got["N10004"] == ["Q3", "Q4"] and got["N10003"] == [] and got["N10012"] == []
    category, topic = depot.vocab("category"), depot.vocab("topic")
    assert category[items["category"][0]] == "sports" and topic[items["topic"][0]] == "soccer"
    assert items.vocab_name("title") == items.vocab_name("body") == "words"


def test_body_options(tmp_path: Path, build) -> None:
    short = build(pens(max_body_words=3), PENS, tmp_path / "a")
    assert short.items["body"].lengths.max() == 3
    assert short.items.strings("body_text")[0].endswith("went in.")  # the string is kept whole
    no_body = build(pens(body=False, entities=False), PENS, tmp_path / "b")
    assert "body" not in no_body.items and "body_text" not in no_body.items
    assert no_body.items["title_entities"].lengths.max() == 0


def test_validation_split_test_follows_minds_rule(tmp_path: Path, build, rows) -> None:
    depot = build(pens(validation_split="test", valid_fraction=0.2), PENS, tmp_path / "d")
    assert depot.meta["info"]["impressions"] == {"train": 4, "valid": 1, "test": 2}
    valid, train = rows(depot, "valid"), rows(depot, "train")
    assert {r["time"] for r in valid} == {parse_time("6/24/2019 1:15:00 PM")}  # the latest train window
    assert max(r["time"] for r in train) < min(r["time"] for r in valid)
    assert [(r["person"], r["item"]) for r in rows(depot, "test")][:3] == [
        ("NT2", "N10011"),
        ("NT2", "N10004"),
        ("NT2", "N10006"),
    ]
    with pytest.raises(ValueError, match="cannot be combined"):
        PENSOptions(validation_split="test", personalized_test="clicks")
    with pytest.raises(ValueError, match="personalized_test"):
        PENSOptions(personalized_test="headlines")


def test_personalized_test_clicks_with_negatives_sampled_once(tmp_path: Path, build, rows, column_arrays) -> None:
    depot = build(pens(personalized_test="clicks", test_clicks=2, eval_negatives=3), PENS, tmp_path / "a")
    info = depot.meta["info"]
    assert info["personalized_test"] == "read" and info["impressions"]["test"] == 2
    test = rows(depot, "test")
    clicks = {"annotator:NT1": [f"N1000{i}" for i in range(1, 7)], "annotator:NT2": ["N10008", "N10009", "N10010"]}
    last = max(r["time"] for s in ("train", "valid") for r in rows(depot, s))
    for person, clicked in clicks.items():
        mine = [r for r in test if r["person"] == person]
        assert [r["item"] for r in mine if r["label"] == 1.0] == clicked[-2:]
        negatives = [r["item"] for r in mine if r["label"] == 0.0]
        assert len(negatives) == 3 == len(set(negatives)) and not set(negatives) & set(clicked)
        assert all(r["history"] == clicked[:-2] and r["time"] == last + 1 for r in mine)
    again = column_arrays(
        build(pens(personalized_test="clicks", test_clicks=2, eval_negatives=3), PENS, tmp_path / "b")
    )
    first = column_arrays(depot)
    assert first.keys() == again.keys() and all(np.array_equal(first[k], again[k]) for k in first)
    other = column_arrays(
        build(pens(personalized_test="clicks", test_clicks=2, eval_negatives=3, seed=7), PENS, tmp_path / "c")
    )
    assert not np.array_equal(first["test.item"], other["test.item"])
    everything = build(pens(personalized_test="clicks"), PENS, tmp_path / "e")  # 100 > the 6 left for NT1
    assert everything.meta["info"]["interactions"]["test"] == (5 + 6) + (2 + 9)


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, users rows left, unknown ids)
    "pens-unknown-candidate": ("train.tsv:3:", "candidate news 'N99999' is not in news.tsv", {"train.tsv": 1}, 6, 0),
    "pens-bad-time": ("valid.tsv:3:", "start '7/2/2019 12:30 PM'", {"valid.tsv": 1}, 6, 0),
    "pens-unknown-history": ("train.tsv:5:", "history news 'N77777' is not in news.tsv", {}, 7, 1),
    # a skipped news row makes the rows that show it bad, and is dropped from histories
    "pens-news-columns": (
        "news.tsv:7:",
        "3 fields where 5 to 7 were expected",
        {"news.tsv": 1, "train.tsv": 1, "valid.tsv": 1},
        5,
        0,
    ),
    "pens-bad-entities": (
        "news.tsv:6:",
        'Title entity \'{"Stocks": "Q5"\' is not a dict',
        {"news.tsv": 1, "train.tsv": 1},
        6,
        1,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left, unknown = MALFORMED[variant]
    raw = raw_folder(tmp_path, "pens", variant)
    with pytest.raises(DataError) as err:
        pens().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    depot = build(pens(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {k: n for k, n in info["skipped_rows"].items() if n} == skipped
    assert depot.users.num_rows == left and info["unknown_history_items"] == unknown


def test_a_wrong_header_is_always_an_error(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "pens", "pens-header")
    with pytest.raises(DataError, match=r"news.tsv:1: header .* is not the expected"):
        pens(skip_bad_rows=True).build(raw)


def test_missing_and_compressed_files(tmp_path: Path, raw_folder, column_arrays, build) -> None:
    assert [f.name for f in pens().expected_files(PENS)] == [
        "news.tsv",
        "train.tsv",
        "valid.tsv",
        "personalized_test.tsv",
    ]
    raw = raw_folder(tmp_path, "pens")
    (raw / "valid.tsv").unlink()
    (raw / "personalized_test.tsv").unlink()
    with pytest.raises(DataError) as err:
        prepare(pens(), raw, tmp_path / "d")
    assert "MISSING  valid.tsv" in str(err.value) and "optional personalized_test.tsv" in str(err.value)
    assert "msnews.github.io/pens.html" in str(err.value)
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "news.tsv.gz").write_bytes(gzip.compress((PENS / "news.tsv").read_bytes()))
    with zipfile.ZipFile(packed / "train.tsv.zip", "w") as archive:
        archive.write(PENS / "train.tsv", "train.tsv")
    (packed / "valid.tsv").write_bytes((PENS / "valid.tsv").read_bytes())
    a = column_arrays(build(pens(), PENS, tmp_path / "a"))
    b = column_arrays(build(pens(), packed, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(pens(personalized_test="clicks", eval_negatives=4), PENS, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "valid" in results and "test" in results
