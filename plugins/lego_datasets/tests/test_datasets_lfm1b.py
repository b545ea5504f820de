"""The lfm1b processor on a hand-made LFM-1b folder, and the block reader of its listening events."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets import lfm1b
from lego_datasets.lfm1b import LES, LFM1bOptions, LFM1bProcessor
from lego_datasets.lfm1b_events import event_blocks, parse_block, user_hash
from lego_datasets.reader import RowErrors

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "lfm1b"


def lfm(**options) -> LFM1bProcessor:
    return LFM1bProcessor(LFM1bOptions(**options))


def events() -> list[tuple[str, str, str, int]]:
    """(user, artist, track, time) per line of the fixture's events, read independently of the processor."""
    lines = (RAW / LES).read_text().splitlines()
    return [(u, a, t, int(s)) for u, a, _, t, s in (line.split("\t") for line in lines)]


def first_plays(item: str = "track") -> dict[tuple[str, str], int]:
    first: dict[tuple[str, str], int] = {}
    for user, artist, track, time in events():
        key = (user, track if item == "track" else artist)
        first[key] = min(time, first.get(key, time))
    return first


def played(depot, rows, item: str = "track") -> list[dict]:
    first = first_plays(item)
    return [r for s in depot.splits for r in rows(depot, s) if (r["person"], r["item"]) in first]


def test_plays_become_one_interaction_per_user_and_track(tmp_path: Path, build, rows) -> None:
    depot = build(lfm(), RAW, tmp_path / "d")
    info = depot.meta["info"]
    first = first_plays()
    assert info["plays"] == 32 and info["pairs"] == info["ratings"] == len(first) == 25
    assert info["persons"] == 4  # 1009 is in the users file only; 1007 in the events only
    assert depot.vocab("item_id")[1:] == [str(t) for t in range(201, 209)]  # played tracks, by id
    got = played(depot, rows)
    assert sorted((r["person"], r["item"], r["time"]) for r in got) == sorted((u, i, t) for (u, i), t in first.items())
    assert all(r["label"] == 1.0 for r in got)


@pytest.mark.parametrize(
    "options", [{}, {"split_by": "time"}, {"positive_threshold": 2, "context_size": 1}, {"item": "artist"}]
)
def test_histories_are_leakage_free(tmp_path: Path, options: dict, build, check_leakage) -> None:
    depot = build(lfm(**options), RAW, tmp_path / "d")
    first = first_plays(options.get("item", "track"))
    counts: dict[tuple[str, str], int] = {}
    for user, artist, track, _ in events():
        key = (user, track if options.get("item", "track") == "track" else artist)
        counts[key] = counts.get(key, 0) + 1
    labels = {k: float(n >= options.get("positive_threshold", 1)) for k, n in counts.items()}
    assert check_leakage(depot, first, labels) > 0


def test_tracks_carry_track_artist_and_album_names(tmp_path: Path, build) -> None:
    depot = build(lfm(), RAW, tmp_path / "d")
    items = depot.items
    assert items.strings("track_name_text") == [
        "Harbor Song",
        "Low Tide",
        "Natt og Dag",
        'Say "Hi"',
        "Part Two",
        "Rust",
        "Koi, Pond",
        "Früh",
    ]
    assert items.strings("artist_name_text")[2] == items.strings("artist_name_text")[7] == "Mørke Skog"
    assert items.strings("album_name_text")[:3] == ["Harbor", "Harbor", "Skog"]
    assert [depot.vocab("artist")[a] for a in items["artist"]] == ["11", "11", "12", "13", "13", "14", "15", "12"]
    assert {items.vocab_name(c) for c in ("track_name", "artist_name", "album_name")} == {"words"}


def test_artists_as_items_need_no_track_files(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "lfm1b")
    (raw / "LFM-1b_tracks.txt").unlink()
    (raw / "LFM-1b_albums.txt").unlink()
    assert [f.name for f in lfm(item="artist").expected_files(raw)] == [LES, "LFM-1b_artists.txt", "LFM-1b_users.txt"]
    depot = build(lfm(item="artist"), raw, tmp_path / "d")
    assert depot.meta["info"]["pairs"] == 19 and depot.vocab("item_id")[1:] == ["11", "12", "13", "14", "15"]
    assert set(depot.items) == {"item_id", "artist_name", "artist_name_text"}
    with pytest.raises(DataError) as err:
        prepare(lfm(), raw, tmp_path / "e")
    assert "MISSING" in str(err.value) and "LFM-1b_tracks.txt" in str(err.value)


def test_user_attributes(tmp_path: Path, build) -> None:
    depot = build(lfm(), RAW, tmp_path / "d")
    users, ids = depot.users, depot.vocab("user_id")
    people = {
        ids[users["user_id"][row]]: {
            c: depot.vocab(c)[users[c][row]] for c in ("country", "age", "gender", "registered_year")
        }
        for row in range(users.num_rows)
    }
    assert people["1001"] == {"country": "NO", "age": "25", "gender": "m", "registered_year": "2006"}
    assert people["1002"]["age"] == "<unk>"  # -1
    assert people["1003"]["country"] == "<unk>" and people["1003"]["registered_year"] == "<unk>"  # empty, 0
    assert set(people["1007"].values()) == {"<unk>"}


def test_a_seeded_user_sample_keeps_all_events_of_the_chosen_users(tmp_path: Path, build) -> None:
    everyone = np.array([1001, 1002, 1003, 1007])
    for seed in (1, 2, 3):
        chosen = everyone[user_hash(everyone, seed) < 0.5]
        if 0 < len(chosen) < 4:
            break
    depot = build(lfm(user_fraction=0.5, seed=seed), RAW, tmp_path / "d")
    assert depot.vocab("user_id")[1:] == [str(u) for u in chosen]
    assert depot.meta["info"]["plays"] == sum(1 for u, *_ in events() if int(u) in chosen)
    assert depot.meta["info"]["sample"]["user_fraction"] == 0.5


def test_max_events_and_a_time_window(tmp_path: Path, build) -> None:
    head = build(lfm(max_events=10), RAW, tmp_path / "a")
    assert head.meta["info"]["plays"] == 10 and head.vocab("user_id")[1:] == ["1001", "1002"]
    start, end = 1301002000, 1301003300
    window = build(lfm(start_time=start, end_time=end), RAW, tmp_path / "b")
    assert window.meta["info"]["plays"] == sum(1 for *_, t in events() if start <= t < end)
    for split in window.splits:
        times = np.asarray(window.table(split)["time"])
        assert times.min() >= start and times.max() < end


def test_blocks_crlf_bom_and_gzip_read_the_same(tmp_path: Path, build, column_arrays) -> None:
    whole = [(n.tolist(), r.tolist()) for n, r in event_blocks(RAW / LES, RowErrors(RAW, skip=False))]
    small = [(n.tolist(), r.tolist()) for n, r in event_blocks(RAW / LES, RowErrors(RAW, skip=False), block_bytes=50)]
    assert len(small) > len(whole) == 1
    assert sum((n for n, _ in small), []) == whole[0][0] == list(range(1, 33))
    assert sum((r for _, r in small), []) == whole[0][1]
    raw = tmp_path / "raw" / "LFM-1b"
    shutil.copytree(RAW, raw)
    text = (raw / LES).read_bytes()
    with gzip.open(raw / f"{LES}.gz", "wb") as packed:
        packed.write(b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n").replace(b"\r\n1002", b"\r\n\r\n1002", 1))
    (raw / LES).unlink()
    assert lfm().expected_files(raw.parent)[0].name == f"LFM-1b/{LES}.gz"
    a, b = column_arrays(build(lfm(), raw.parent, tmp_path / "a")), column_arrays(build(lfm(), RAW, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_block_check_catches_lines_that_make_up_for_each_other(tmp_path: Path) -> None:
    errors = RowErrors(tmp_path, skip=True)
    data = b"1\t2\t3\t4\t5\t6\n1\t2\t3\t4\n7\t8\t9\t10\t11\n1 2\t3\t4\t5\t6\n+1\t2\t3\t4\t5\n"
    numbers, rows = parse_block(data, 1, tmp_path / "LEs.txt", errors)
    assert numbers.tolist() == [3] and rows.tolist() == [[7, 8, 9, 10, 11]]
    assert errors.counts == {"LEs.txt": 4}
    fast = b"10\t20\t30\t40\t1400000000\n0\t0\t0\t0\t0"  # no newline at the end
    numbers, rows = parse_block(fast, 5, tmp_path / "LEs.txt", RowErrors(tmp_path, skip=False))
    assert numbers.tolist() == [5, 6] and rows[:, 4].tolist() == [1400000000, 0]


def test_a_run_too_big_for_memory_is_refused_with_advice(tmp_path: Path, build, monkeypatch) -> None:
    monkeypatch.setattr(lfm1b, "SAFE_EVENTS", 10)
    with pytest.raises(DataError) as err:
        lfm().build(RAW)
    assert "user_fraction=" in str(err.value) and "allow_full=true" in str(err.value)
    assert build(lfm(allow_full=True), RAW, tmp_path / "a").meta["info"]["plays"] == 32
    assert build(lfm(max_events=10), RAW, tmp_path / "b").meta["info"]["plays"] == 10
    monkeypatch.setattr(lfm1b, "SAFE_EVENTS", 1000)
    monkeypatch.setattr(lfm1b, "BUDGET_BYTES", 15_000)  # 32 events and 8 tracks need about 16,800 bytes
    with pytest.raises(DataError, match="32 events of 8 tracks"):
        lfm(max_events=100).build(RAW)
    assert build(lfm(item="artist"), RAW, tmp_path / "c").meta["info"]["items"] == 5  # 12,300 bytes: fine


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, plays left)
    "lfm1b-columns": (f"{LES}:5:", "4 fields where 5 were expected", {LES: 1}, 31),
    "lfm1b-number": (f"{LES}:12:", "field 'x208' of", {LES: 1}, 31),
    "lfm1b-unknown-track": (f"{LES}:20:", "track 299 is not in LFM-1b_tracks.txt", {LES: 1}, 31),
    "lfm1b-users-age": ("LFM-1b_users.txt:2:", "age 'twenty'", {"LFM-1b_users.txt": 1}, 32),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "lfm1b", variant)
    with pytest.raises(DataError) as err:
        lfm().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    depot = build(lfm(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["plays"] == left


def test_deterministic_and_options_checked(tmp_path: Path, build, column_arrays) -> None:
    a = column_arrays(build(lfm(seed=4), RAW, tmp_path / "a"))
    b = column_arrays(build(lfm(seed=4), RAW, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    for bad in ({"user_fraction": 0.0}, {"user_fraction": 1.5}, {"item": "album"}, {"max_events": -1}):
        with pytest.raises(ValueError):
            LFM1bOptions(**bad)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(lfm(), RAW, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
