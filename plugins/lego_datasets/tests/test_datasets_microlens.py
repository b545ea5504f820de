"""The microlens processor on hand-made MicroLens-50k, -100k and -1M folders."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.microlens import MicroLensOptions, MicroLensProcessor, unquote

FIXTURES = Path(__file__).parent / "fixtures"
ML50K = FIXTURES / "microlens-50k"


def microlens(**options) -> MicroLensProcessor:
    return MicroLensProcessor(MicroLensOptions(**options))


def first_views(pairs: Path) -> dict[tuple[str, str], int]:
    """(user, item) -> milliseconds of the first view, read independently of the processor."""
    rows = list(csv.reader(pairs.read_text(encoding="utf-8-sig").splitlines()))[1:]
    first: dict[tuple[str, str], int] = {}
    for user, item, stamp in rows:
        first[(user, item)] = min(first.get((user, item), int(stamp)), int(stamp))
    return first


def viewed(depot, rows, pairs: Path = ML50K / "MicroLens-50k_pairs.csv") -> dict[str, list[dict]]:
    views = first_views(pairs)
    return {s: [r for r in rows(depot, s) if (r["person"], r["item"]) in views] for s in depot.splits}


def test_50k_items_titles_and_covers(tmp_path: Path, build) -> None:
    depot = build(microlens(), ML50K, tmp_path / "d")
    info, items = depot.meta["info"], depot.items
    assert (info["release"], info["items"], info["persons"], info["views"], info["ratings"]) == ("50k", 10, 4, 17, 16)
    assert info["duplicate_title_rows"] == 1 and info["items_without_title"] == 1 and info["repeated_views"] == 1
    assert depot.vocab("item_id")[1:] == [str(i) for i in range(1, 11)]  # titles file order, then pairs-only
    titles = items.strings("title_text")
    assert titles[1] == "Street food tour, night market edition"
    assert titles[2] == 'Cat meets cucumber, "again" \U0001f431'
    assert titles[4] == "Three ways to fold a shirt, fast"  # the first row of item 5 wins
    assert titles[9] == ""  # item 10 is only in the pairs
    assert items.kind("title") == "tokens" and items.vocab_name("title") == "words"
    assert items.kind("image_path") == "text"
    paths = items.strings("image_path")
    assert paths[:4] == ["MicroLens-50k_covers/1.jpg", "MicroLens-50k_covers/2.jpg", "MicroLens-50k_covers/3.jpg", ""]
    assert paths[9] == "MicroLens-50k_covers/10.jpg" and info["covers"] == 4
    assert (Path(info["image_root"]) / paths[0]).is_file()
    assert "image_path" not in build(microlens(covers=False), ML50K, tmp_path / "n").items


def test_views_are_positives_with_times_in_seconds(tmp_path: Path, build, rows) -> None:
    depot = build(microlens(), ML50K, tmp_path / "d")
    views = first_views(ML50K / "MicroLens-50k_pairs.csv")
    got = viewed(depot, rows)
    assert sum(len(v) for v in got.values()) == len(views)
    for split in got.values():
        for r in split:
            assert r["label"] == 1.0 and r["time"] == views[(r["person"], r["item"])] // 1000
    for split in ("valid", "test"):
        others = [r for r in rows(depot, split) if (r["person"], r["item"]) not in views]
        assert others and all(r["label"] == 0.0 for r in others)


def test_user_split_follows_the_timestamps_not_the_file_order(tmp_path: Path, build, rows) -> None:
    depot = build(microlens(), ML50K, tmp_path / "d")
    got = viewed(depot, rows)
    user2 = {s: [r["item"] for r in got[s] if r["person"] == "2"] for s in got}
    assert user2 == {"train": ["2", "3", "8"], "valid": ["9"], "test": ["10"]}  # the file lists 8 first


def test_leave_one_out_tests_on_the_last_view_and_validates_on_the_one_before(tmp_path: Path, build, rows) -> None:
    depot = build(microlens(split_by="leave_one_out"), ML50K, tmp_path / "d")
    views = first_views(ML50K / "MicroLens-50k_pairs.csv")
    got = viewed(depot, rows)
    for person in {u for u, _ in views}:
        order = [i for (u, i), _ in sorted(views.items(), key=lambda kv: kv[1]) if u == person]
        test = [r["item"] for r in got["test"] if r["person"] == person]
        valid = [r["item"] for r in got["valid"] if r["person"] == person]
        assert test == order[-1:]
        assert valid == (order[-2:-1] if len(order) >= 3 else [])
    assert depot.meta["info"]["user_rows"] == {"train": 4, "valid": 3, "test": 4}  # user 4 has two views


def test_milliseconds_order_views_within_a_second(tmp_path: Path, build, rows, raw_folder) -> None:
    raw = raw_folder(tmp_path, "microlens-50k")
    with open(raw / "MicroLens-50k_pairs.csv", "a") as handle:
        handle.write("5,1,1600000500900\n5,2,1600000500100\n5,3,1600000400000\n")
    depot = build(microlens(split_by="leave_one_out"), raw, tmp_path / "d")
    assert [r["item"] for r in rows(depot, "test") if r["person"] == "5" and r["label"] == 1.0] == ["1"]
    assert [r["item"] for r in rows(depot, "valid") if r["person"] == "5" and r["label"] == 1.0] == ["2"]


@pytest.mark.parametrize("split_by", ["user", "time", "leave_one_out"])
def test_histories_are_leakage_free(tmp_path: Path, split_by: str, build, check_leakage) -> None:
    depot = build(microlens(split_by=split_by, context_size=2), ML50K, tmp_path / "d")
    views = first_views(ML50K / "MicroLens-50k_pairs.csv")
    times = {key: ms // 1000 for key, ms in views.items()}
    assert check_leakage(depot, times, dict.fromkeys(times, 1.0)) > 0


def test_100k_and_1m_title_files_without_header(tmp_path: Path, build) -> None:
    big = build(microlens(), FIXTURES / "microlens-100k", tmp_path / "a")  # BOM and CRLF in the pairs
    info = big.meta["info"]
    assert (info["release"], info["titles_file"], info["items"], info["ratings"]) == (
        "100k",
        "MicroLens-100k_title_en.csv",
        6,
        11,
    )
    assert big.items.strings("title_text")[:3] == [
        "Sunset timelapse at the harbour",
        "Kitten learns to jump, then falls",
        "How to brew tea",
    ]
    assert info["duplicate_title_rows"] == 1 and "image_path" not in big.items
    huge = build(microlens(), FIXTURES / "microlens-1m", tmp_path / "b")
    assert huge.meta["info"]["release"] == "1m"
    assert huge.items.strings("title_text")[1] == '"Half quoted title, with a comma'  # kept as written
    assert unquote(' "a, ""b"""') == 'a, "b"' and unquote("plain, text") == "plain, text"


def test_release_and_title_file_options(tmp_path: Path, build) -> None:
    both = tmp_path / "both"
    shutil.copytree(ML50K, both)
    shutil.copytree(FIXTURES / "microlens-100k", both, dirs_exist_ok=True)
    with pytest.raises(DataError, match="choose one with the option release="):
        prepare(microlens(), both, tmp_path / "x")
    assert build(microlens(release="100k"), both, tmp_path / "a").meta["info"]["items"] == 6
    other = build(microlens(release="50k", title_file="MicroLens-100k_title_en.csv"), both, tmp_path / "b")
    assert other.meta["info"]["titles_file"] == "MicroLens-100k_title_en.csv"
    assert other.meta["info"]["items_without_title"] == 10  # no 50k item has a 100k title
    with pytest.raises(ValueError, match="release"):
        MicroLensOptions(release="10m")
    with pytest.raises(ValueError, match="below 1"):
        MicroLensOptions(valid_fraction=0.6, test_fraction=0.4)


def test_missing_files_are_listed(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "microlens-50k")
    (raw / "MicroLens-50k_titles.csv").unlink()
    with pytest.raises(DataError) as err:
        prepare(microlens(), raw, tmp_path / "d")
    assert "MISSING" in str(err.value) and "MicroLens-50k_titles.csv" in str(err.value)
    assert "found" in str(err.value) and "MicroLens-50k_pairs.csv" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        prepare(microlens(), empty, tmp_path / "d")
    assert "MicroLens-50k_pairs.csv" in str(err.value) and "MicroLens-1M_title.csv" in str(err.value)
    with pytest.raises(DataError) as err:
        prepare(microlens(release="1m"), ML50K, tmp_path / "d")
    assert "MicroLens-1M_pairs.csv" in str(err.value) and "MISSING" in str(err.value)


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, views left)
    "microlens-50k-columns": ("MicroLens-50k_pairs.csv:4:", "2 fields", {"MicroLens-50k_pairs.csv": 1}, 16),
    "microlens-50k-timestamp": (
        "MicroLens-50k_pairs.csv:9:",
        "'2020-09-13 12:00:50' is not an integer",
        {"MicroLens-50k_pairs.csv": 1},
        16,
    ),
    "microlens-50k-title-id": (
        "MicroLens-50k_titles.csv:5:",
        "'cover of an old song' is not an integer",
        {"MicroLens-50k_titles.csv": 1},
        17,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "microlens-50k", variant)
    with pytest.raises(DataError) as err:
        microlens().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    info = build(microlens(skip_bad_rows=True), raw, tmp_path / "d").meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["views"] == left


def test_a_wrong_header_is_an_error_even_when_skipping(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "microlens-50k", "microlens-50k-header")
    with pytest.raises(DataError, match="MicroLens-50k_pairs.csv:1: header 'uid,iid,ts'"):
        microlens(skip_bad_rows=True).build(raw)


def test_eval_negatives_are_unviewed_items_stored_once(tmp_path: Path, build, rows, column_arrays) -> None:
    depot = build(microlens(), ML50K, tmp_path / "a")
    views = first_views(ML50K / "MicroLens-50k_pairs.csv")
    items = {str(i) for i in range(1, 11)}
    for split in ("valid", "test"):
        sampled: dict[int, list[str]] = {}
        for r in rows(depot, split):
            if (r["person"], r["item"]) not in views:
                sampled.setdefault(r["row"], []).append(r["item"])
        for row, chosen in sampled.items():  # fewer than 20 unviewed items: all of them, once each
            person = depot.vocab("user_id")[depot.users["user_id"][row]]
            assert sorted(chosen) == sorted(items - {i for u, i in views if u == person})
    again = build(microlens(eval_negatives=2, seed=1), ML50K, tmp_path / "b")
    a = column_arrays(again)
    b = column_arrays(build(microlens(eval_negatives=2, seed=1), ML50K, tmp_path / "c"))
    c = column_arrays(build(microlens(eval_negatives=2, seed=2), ML50K, tmp_path / "e"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert again.meta["info"]["sampled_negatives"] == {"train": 0, "valid": 6, "test": 8}
    assert prepare(microlens(eval_negatives=2, seed=1), ML50K, tmp_path / "b").skipped


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(microlens(split_by="leave_one_out", context_size=2), ML50K, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results and "valid" in results
