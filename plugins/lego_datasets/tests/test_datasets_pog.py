"""The pog processor on a hand-made POG / iFashion fixture."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.columns import text_columns
from lego_datasets.pog import POGOptions, POGProcessor, title_tokens

FIXTURES = Path(__file__).parent / "fixtures"
POG = FIXTURES / "pog"


def pog(**options) -> POGProcessor:
    return POGProcessor(POGOptions(**options))


def histories(dedupe: bool = True) -> dict[str, list[str]]:
    """Each user's clicks in file order (lines of one user joined), read independently."""
    out: dict[str, list[str]] = {}
    for line in (POG / "user_data.txt").read_text().splitlines():
        user, clicked, _ = line.split(",")
        out.setdefault(user, []).extend(clicked.split(";"))
    return {u: list(dict.fromkeys(h)) if dedupe else h for u, h in out.items()}


def test_leave_one_out_puts_the_last_click_in_test_and_the_one_before_in_valid(tmp_path: Path, build, rows) -> None:
    depot = build(pog(eval_negatives=0), POG, tmp_path / "d")
    info = depot.meta["info"]
    assert depot.items.num_rows == 10 and info["persons"] == 5 and info["clicks"] == 23
    assert info["ratings"] == 22 and info["duplicates_removed"] == 1  # u000002 clicked i0000002 twice
    assert info["users_with_outfit"] == 5  # u000005's outfit field is empty
    got = {split: [(r["person"], r["item"]) for r in rows(depot, split)] for split in depot.splits}
    expected: dict[str, list[tuple[str, str]]] = {"train": [], "valid": [], "test": []}
    for user, clicked in histories().items():
        n = len(clicked)
        n_test = min(1, n - 1)
        n_valid = min(1, n - 1 - n_test)
        expected["train"] += [(user, i) for i in clicked[: n - n_test - n_valid]]
        expected["valid"] += [(user, i) for i in clicked[n - n_test - n_valid : n - n_test]]
        expected["test"] += [(user, i) for i in clicked[n - n_test :]]
    assert {s: sorted(v) for s, v in got.items()} == {s: sorted(v) for s, v in expected.items()}
    assert ("u000003", "i0000009") in got["train"]  # one click: train only
    assert ("u000004", "i0000005") in got["test"] and "valid" not in {  # two clicks: train + test
        s for s, pairs in got.items() if any(p == "u000004" for p, _ in pairs)
    }
    assert ("u000001", "i0000008") in got["test"]  # u000001's second line comes after the first


def test_time_is_the_position_in_the_joined_click_list(tmp_path: Path, build, rows) -> None:
    depot = build(pog(eval_negatives=0, dedupe=False), POG, tmp_path / "d")
    times = {}
    for split in depot.splits:
        for r in rows(depot, split):
            times.setdefault(r["person"], []).append((r["time"], r["item"]))
    for user, clicked in histories(dedupe=False).items():
        assert [item for _, item in sorted(times[user])] == clicked
        assert sorted(t for t, _ in times[user]) == list(range(len(clicked)))
    assert depot.meta["info"]["ratings"] == 23


@pytest.mark.parametrize("split_by", ["last_items", "user"])
def test_histories_are_leakage_free(tmp_path: Path, split_by: str, build, check_leakage, rows) -> None:
    depot = build(pog(split_by=split_by, context_size=2, eval_negatives=2), POG, tmp_path / "d")
    times = {(u, i): t for u, clicked in histories().items() for t, i in enumerate(clicked)}
    # positions after dedupe keep the original position of the first click
    raw = {(u, i): t for u, clicked in histories(dedupe=False).items() for t, i in reversed(list(enumerate(clicked)))}
    assert check_leakage(depot, {k: raw[k] for k in times}, dict.fromkeys(times, 1.0)) > 0
    if split_by == "last_items":
        test = [r for r in rows(depot, "test") if r["label"] == 1.0 and r["person"] == "u000005"]
        assert test[0]["item"] == "i0000007" and test[0]["history"] == [
            "i0000001",
            "i0000003",
            "i0000006",
            "i0000010",
            "i0000004",
            "i0000009",
        ]


def test_more_test_items_and_no_valid(tmp_path: Path, build, rows) -> None:
    depot = build(pog(test_items=2, valid_items=0, eval_negatives=0), POG, tmp_path / "d")
    assert depot.splits == ["train", "test"]
    test = [(r["person"], r["item"]) for r in rows(depot, "test")]
    assert ("u000005", "i0000009") in test and ("u000005", "i0000007") in test
    assert [p for p, _ in test].count("u000004") == 1  # train keeps one click


def test_eval_users_limits_the_evaluated_users_and_keeps_the_others_clicks_in_train(
    tmp_path: Path, build, rows
) -> None:
    everyone = build(pog(eval_negatives=0), POG, tmp_path / "all")
    assert everyone.meta["info"]["evaluated_users"] == 4  # u000003 has one click: nothing to evaluate
    depot = build(pog(eval_users=2, eval_negatives=2), POG, tmp_path / "d")
    info = depot.meta["info"]
    assert info["evaluated_users"] == 2
    evaluated = {r["person"] for s in ("valid", "test") for r in rows(depot, s)}
    assert len(evaluated) == 2
    clicks = {s: sum(r["label"] for r in rows(depot, s)) for s in depot.splits}
    assert sum(clicks.values()) == 22 and clicks["test"] == 2  # the others' last clicks are train
    train = {(r["person"], r["item"]) for r in rows(depot, "train")}
    for user, clicked in histories().items():
        if user not in evaluated:
            assert {(user, i) for i in clicked} <= train
    again = build(pog(eval_users=2, eval_negatives=2), POG, tmp_path / "again")
    assert {r["person"] for r in rows(again, "test")} == {r["person"] for r in rows(depot, "test")}


def test_items_have_titles_categories_and_outfits(tmp_path: Path, build) -> None:
    depot = build(pog(), POG, tmp_path / "d")
    items = depot.items
    assert set(items) == {"item_id", "title", "title_text", "category", "outfits"}
    assert depot.vocab("item_id")[1:] == [f"i{n:07d}" for n in range(1, 11)]
    titles = items.strings("title_text")
    assert titles[0] == "夏季 新款 纯棉 短袖 T恤" and titles[3] == "休闲 裤, 男款 宽松" and titles[9] == ""
    words = depot.vocab("words")
    assert [words[w] for w in items["title"].row(0)] == ["夏季", "新款", "纯棉", "短袖", "t恤"]
    # the same ids as the shared text columns would give
    reference, reference_words = text_columns({"title": titles})
    assert reference_words == words
    assert np.array_equal(reference["title"].data.values, items["title"].values)
    assert np.array_equal(reference["title"].data.offsets, items["title"].offsets)
    categories = depot.vocab("category")
    assert [categories[c] for c in items["category"]] == [
        "c501",
        "c501",
        "c502",
        "c502",
        "c503",
        "c503",
        "c504",
        "c504",
        "c505",
        "<unk>",
    ]
    outfits = depot.vocab("outfits")
    assert outfits == ["<pad>", "<unk>", "o000001", "o000002", "o000003", "o000004"]
    member = [[outfits[o] for o in items["outfits"].row(i)] for i in range(10)]
    assert member[0] == ["o000001", "o000004"] and member[6] == ["o000001", "o000003"] and member[9] == []
    one = build(pog(max_outfits=1), POG, tmp_path / "one")
    assert one.items["outfits"].lengths.max() == 1
    assert [one.vocab("outfits")[o] for o in one.items["outfits"].row(0)] == ["o000001"]
    chars = build(pog(title_tokens="characters"), POG, tmp_path / "c")
    assert [chars.vocab("words")[w] for w in chars.items["title"].row(6)] == ["帆", "布", "鞋", "白", "色"]
    assert title_tokens("T恤", "characters") == ["t", "恤"]


def test_outfits_are_optional(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "pog")
    (raw / "outfit_data.txt").unlink()
    depot = build(pog(), raw, tmp_path / "d")
    assert "outfits" not in depot.items and depot.meta["info"]["outfits"] == "not read"
    off = build(pog(outfits=False), POG, tmp_path / "off")
    assert "outfits" not in off.items and off.meta["info"]["outfits"] == "left out (outfits = false)"


def test_eval_negatives_are_unclicked_items_stored_once(tmp_path: Path, build, rows, column_arrays) -> None:
    depot = build(pog(eval_negatives=3, seed=9), POG, tmp_path / "a")
    clicked = {(u, i) for u, h in histories().items() for i in h}
    for split in ("valid", "test"):
        sampled = [r for r in rows(depot, split) if r["label"] == 0.0]
        assert sampled and all((r["person"], r["item"]) not in clicked for r in sampled)
        per_user = {}
        for r in sampled:
            per_user.setdefault(r["person"], []).append(r["item"])
        for user, items in per_user.items():
            assert len(items) == len(set(items)) == min(3, 10 - len(histories()[user]))
    again = column_arrays(build(pog(eval_negatives=3, seed=9), POG, tmp_path / "b"))
    first = column_arrays(depot)
    assert first.keys() == again.keys() and all(np.array_equal(first[k], again[k]) for k in first)
    other = column_arrays(build(pog(eval_negatives=3, seed=10), POG, tmp_path / "c"))
    assert not all(np.array_equal(first[k], other[k]) for k in first)


def test_compressed_files_read_the_same(tmp_path: Path, build, raw_folder, column_arrays) -> None:
    raw = raw_folder(tmp_path, "pog")
    for name in ("user_data.txt", "item_data.txt"):
        (raw / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes()))
        (raw / name).unlink()
    assert [f.name for f in pog().expected_files(raw)] == ["item_data.txt.gz", "user_data.txt.gz", "outfit_data.txt"]
    a = column_arrays(build(pog(), raw, tmp_path / "a"))
    b = column_arrays(build(pog(), POG, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_missing_files_are_listed(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "pog")
    (raw / "item_data.txt").unlink()
    (raw / "outfit_data.txt").unlink()
    with pytest.raises(DataError) as err:
        prepare(pog(), raw, tmp_path / "d")
    message = str(err.value)
    assert "MISSING  item_data.txt" in message and "optional outfit_data.txt" in message
    assert "found    user_data.txt" in message and "wenyuer/POG" in message


MALFORMED = {  # variant -> ("file:line:", words, skipped rows, unknown items dropped, clicks left)
    "pog-unknown-item": ("user_data.txt:4:", "'i0000099' is not in item_data.txt", {}, {"user_data.txt": 1}, 23),
    "pog-item-columns": (
        "item_data.txt:6:",
        "3 fields where 4",
        {"item_data.txt": 1},
        {"user_data.txt": 3, "outfit_data.txt": 1},
        20,
    ),
    "pog-user-columns": ("user_data.txt:3:", "2 fields where 3", {"user_data.txt": 1}, {}, 22),
    "pog-outfit-unknown-item": (
        "outfit_data.txt:2:",
        "'i0000088' is not in item_data.txt",
        {},
        {"outfit_data.txt": 1},
        23,
    ),
    "pog-duplicate-item": (
        "item_data.txt:9:",
        "'i0000003' is empty or listed twice",
        {"item_data.txt": 1},
        {"user_data.txt": 2, "outfit_data.txt": 1},
        21,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, unknown, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "pog", variant)
    with pytest.raises(DataError) as err:
        pog().build(raw)
    message = str(err.value)
    assert where in message and what in message and "(expected " in message and "skip_bad_rows" in message
    depot = build(pog(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["unknown_items"] == unknown
    assert info["clicks"] == left


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="split_by"):
        POGOptions(split_by="time")
    with pytest.raises(ValueError, match="title_tokens"):
        POGOptions(title_tokens="jieba")
    with pytest.raises(ValueError, match="test_items"):
        POGOptions(test_items=0)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(pog(eval_negatives=3), POG, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results and "valid" in results
