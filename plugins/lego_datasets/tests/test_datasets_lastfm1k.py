"""The lastfm1k processor on a hand-made Last.fm 1K folder (newest-first log, missing MBIDs, a TAB in a name)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.lastfm1k import LOG, PROFILE, LastFM1KOptions, LastFM1KProcessor, join_names, parse_time

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "lastfm1k"


def lastfm(**options) -> LastFM1KProcessor:
    return LastFM1KProcessor(LastFM1KOptions(**options))


def raw_plays(item: str = "track") -> list[tuple[str, str, int]]:
    """(user, item key, Unix time) per line of the fixture log, read independently of the processor."""
    out = []
    for line in (RAW / LOG).read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) == 7:  # the one track name with a TAB
            fields = [*fields[:5], " ".join(fields[5:])]
        user, stamp, artist_id, artist, track_id, track = fields
        if item == "track":
            key = track_id or f"{artist}\t{track}"
        else:
            key = artist_id or artist
        out.append((user, key, parse_time(stamp)))
    return out


def first_plays(item: str = "track") -> dict[tuple[str, str], int]:
    first: dict[tuple[str, str], int] = {}
    for user, key, time in raw_plays(item):
        first[(user, key)] = min(time, first.get((user, key), time))
    return first


def play_counts(item: str = "track") -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for user, key, _ in raw_plays(item):
        counts[(user, key)] = counts.get((user, key), 0) + 1
    return counts


def played_rows(depot, rows) -> list[dict]:
    """The interactions of every split that are plays (not sampled negatives)."""
    first = first_plays()
    return [r for s in depot.splits for r in rows(depot, s) if (r["person"], r["item"]) in first]


def test_repeated_plays_become_one_interaction_at_the_first_play(tmp_path: Path, build, rows) -> None:
    depot = build(lastfm(), RAW, tmp_path / "d")
    info = depot.meta["info"]
    first = first_plays()
    assert info["plays"] == 30 and info["pairs"] == len(first) == 25 and info["ratings"] == 25
    assert info["items"] == depot.items.num_rows == 10 and info["persons"] == 5  # user_000005: profile only
    got = played_rows(depot, rows)
    assert sorted((r["person"], r["item"], r["time"]) for r in got) == sorted((u, i, t) for (u, i), t in first.items())
    assert all(r["label"] == 1.0 for r in got)
    assert info["names_with_tabs"] == 1 and info["rows_without_mbid"] == 0
    assert depot.meta["processor"] == "lastfm1k" and set(depot.meta["raw_files"]) == {LOG, PROFILE}


def test_the_per_user_split_takes_each_users_latest_first_plays(tmp_path: Path, build, rows) -> None:
    depot = build(lastfm(eval_negatives=0), RAW, tmp_path / "d")
    by_user: dict[str, dict[str, list[int]]] = {}
    for split in depot.splits:
        for r in rows(depot, split):
            by_user.setdefault(r["person"], {}).setdefault(split, []).append(r["time"])
    assert sorted(by_user) == ["user_000001", "user_000002", "user_000003", "user_000004"]
    for person, splits in by_user.items():
        assert len(splits["valid"]) == len(splits["test"]) == 1, person
        assert max(splits["train"]) <= splits["valid"][0] <= splits["test"][0], person


@pytest.mark.parametrize(
    "options",
    [{}, {"split_by": "time"}, {"positive_threshold": 2, "context_size": 1}, {"dedupe": "last", "context_size": 2}],
)
def test_histories_are_leakage_free(tmp_path: Path, options: dict, build, check_leakage) -> None:
    depot = build(lastfm(**options), RAW, tmp_path / "d")
    counts = play_counts()
    plays = raw_plays()
    pick = max if options.get("dedupe") == "last" else min
    times = {key: pick(t for u, i, t in plays if (u, i) == key) for key in counts}
    labels = {key: float(n >= options.get("positive_threshold", 1)) for key, n in counts.items()}
    assert check_leakage(depot, times, labels) > 0


def test_items_are_keyed_by_musicbrainz_id_or_by_name_with_their_names(tmp_path: Path, build) -> None:
    depot = build(lastfm(), RAW, tmp_path / "d")
    ids, items = depot.vocab("item_id")[1:], depot.items
    assert ids[:3] == [
        "0a1b2c3d-0000-4000-8000-0000000000a8",
        "0a1b2c3d-0000-4000-8000-0000000000a2",
        "0a1b2c3d-0000-4000-8000-0000000000a7",
    ]
    assert {"Mørke Skog\tDemo Track", "Unknown Artist\tDemo Track", "Unknown Artist\tTuesday"} <= set(ids)
    tracks, artists = items.strings("track_name_text"), items.strings("artist_name_text")
    assert tracks[:5] == ["Third, with comma", "Don't Stop", "Part Two", "Demo Track", 'Say "Hello"']
    assert artists[2] == artists[4] == 'The "Quoted" Ones' and artists[3] == "Mørke Skog"
    assert items.vocab_name("track_name") == items.vocab_name("artist_name") == "words"
    artist = [depot.vocab("artist")[a] for a in items["artist"]]
    assert artist[0] == "0a1b2c3d-0000-4000-8000-000000000001" and artist[7] == "Unknown Artist"


def test_artists_as_items(tmp_path: Path, build, rows, check_leakage) -> None:
    depot = build(lastfm(item="artist"), RAW, tmp_path / "d")
    assert depot.vocab("item_id")[1:] == [
        "0a1b2c3d-0000-4000-8000-000000000001",
        "0a1b2c3d-0000-4000-8000-000000000004",
        "0a1b2c3d-0000-4000-8000-000000000002",
        "Unknown Artist",
    ]
    assert set(depot.items) == {"item_id", "artist_name", "artist_name_text"}
    first = first_plays("artist")
    assert depot.meta["info"]["pairs"] == len(first) == 13
    check_leakage(depot, first, {key: 1.0 for key in first})


def test_rows_without_a_track_mbid_can_be_dropped_as_recbench_does(tmp_path: Path, build) -> None:
    depot = build(lastfm(missing_mbid="skip"), RAW, tmp_path / "d")
    info = depot.meta["info"]
    assert info["rows_without_mbid"] == 7 and info["plays"] == 23 and info["items"] == 7
    assert all("\t" not in key for key in depot.vocab("item_id"))


def test_play_count_threshold_and_every_play(tmp_path: Path, build, rows) -> None:
    counts = play_counts()
    depot = build(lastfm(positive_threshold=2, eval_negatives=0), RAW, tmp_path / "a")
    got = played_rows(depot, rows)
    assert {(r["person"], r["item"]): r["label"] for r in got} == {k: float(n >= 2) for k, n in counts.items()}
    assert sum(r["label"] for r in got) == 5
    every = build(lastfm(dedupe="none", eval_negatives=0), RAW, tmp_path / "b")
    assert every.meta["info"]["ratings"] == 30
    for r in played_rows(every, rows):
        assert r["item"] not in r["history"]


def test_profile_attributes_are_categories(tmp_path: Path, build) -> None:
    depot = build(lastfm(), RAW, tmp_path / "d")
    users, ids = depot.users, depot.vocab("user_id")
    people = {}
    for row in range(users.num_rows):
        people[ids[users["user_id"][row]]] = {
            c: depot.vocab(c)[users[c][row]] for c in ("gender", "age", "country", "registered_year")
        }
    assert people["user_000001"] == {"gender": "m", "age": "25", "country": "Norway", "registered_year": "2006"}
    assert people["user_000002"] == {
        "gender": "f",
        "age": "<unk>",
        "country": "United Kingdom",
        "registered_year": "2007",
    }
    assert people["user_000003"]["gender"] == "<unk>" and people["user_000003"]["age"] == "31"
    assert set(people["user_000004"].values()) == {"<unk>"}  # in the log, not in the profile


def test_evaluation_negatives_are_unplayed_items_sampled_once(tmp_path: Path, build, rows, column_arrays) -> None:
    depot = build(lastfm(), RAW, tmp_path / "a")
    played = {(u, i) for u, i, _ in raw_plays()}
    for split in ("valid", "test"):
        sampled = [r for r in rows(depot, split) if (r["person"], r["item"]) not in played]
        per_user: dict[str, list[str]] = {}
        for r in sampled:
            assert r["label"] == 0.0
            per_user.setdefault(r["person"], []).append(r["item"])
        unplayed = {u: 10 - len({i for p, i in played if p == u}) for u in per_user}
        assert {u: len(set(v)) for u, v in per_user.items()} == unplayed  # all of them: fewer than 100 exist
    assert depot.meta["info"]["sampled_negatives"] == {"train": 0, "valid": 15, "test": 15}
    again = column_arrays(build(lastfm(), RAW, tmp_path / "b"))
    first = column_arrays(depot)
    assert first.keys() == again.keys() and all(np.array_equal(first[k], again[k]) for k in first)
    assert prepare(lastfm(), RAW, tmp_path / "a").skipped  # same inputs: not redrawn


def test_nested_folder_and_gzipped_log_read_the_same(tmp_path: Path, build, column_arrays) -> None:
    raw = tmp_path / "raw" / "lastfm-dataset-1K"
    shutil.copytree(RAW, raw)
    with open(raw / LOG, "rb") as plain, gzip.open(raw / f"{LOG}.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    (raw / LOG).unlink()
    names = [f.name for f in lastfm().expected_files(raw.parent)]
    assert names == [f"lastfm-dataset-1K/{LOG}.gz", f"lastfm-dataset-1K/{PROFILE}"]
    nested = build(lastfm(), raw.parent, tmp_path / "a")
    assert nested.meta["info"]["folder"] == "lastfm-dataset-1K"
    a, b = column_arrays(nested), column_arrays(build(lastfm(), RAW, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_without_the_profile_and_with_a_missing_log(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "lastfm1k")
    (raw / PROFILE).unlink()
    depot = build(lastfm(), raw, tmp_path / "d")
    assert set(depot.users) == {"user_id", "history"} and depot.meta["info"]["persons"] == 4
    (raw / LOG).unlink()
    with pytest.raises(DataError) as err:
        prepare(lastfm(), raw, tmp_path / "e")
    assert "MISSING" in str(err.value) and LOG in str(err.value) and "optional" in str(err.value)


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, plays left)
    "lastfm1k-timestamp": (f"{LOG}:4:", "timestamp '1199521800' is not like", {LOG: 1}, 29),
    "lastfm1k-columns": (f"{LOG}:12:", "5 fields where 6 were expected", {LOG: 1}, 29),
    "lastfm1k-tabs": (
        f"{LOG}:15:",
        "8 fields where 6 were expected and the track id column cannot be told",
        {LOG: 1},
        29,
    ),
    "lastfm1k-mbid": (f"{LOG}:20:", "track id 'track-10' is not a MusicBrainz id", {LOG: 1}, 29),
    "lastfm1k-latin1": (f"{LOG}:6:", "is not valid UTF-8", {LOG: 1}, 29),
    "lastfm1k-age": (f"{PROFILE}:3:", "age 'twenty' is not a number", {PROFILE: 1}, 30),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "lastfm1k", variant)
    with pytest.raises(DataError) as err:
        lastfm().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    depot = build(lastfm(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["plays"] == left


def test_a_wrong_profile_header_is_an_error_even_when_skipping(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "lastfm1k")
    (raw / PROFILE).write_text("id\tgender\tage\tcountry\tregistered\n", encoding="utf-8")
    with pytest.raises(DataError, match="header"):
        lastfm(skip_bad_rows=True).build(raw)


def test_helpers_and_options() -> None:
    assert parse_time("2009-05-04T23:08:57Z") == 1241478537
    for bad in ("2009-05-04 23:08:57", "2009-13-04T23:08:57Z", "1241478537", "2009-05-04T23:08:57+00:00"):
        with pytest.raises(ValueError):
            parse_time(bad)
    mbid = "0a1b2c3d-0000-4000-8000-0000000000a7"
    assert join_names(["u", "t", "", "A", "B", mbid, "C", "D"]) == ["u", "t", "", "A B", mbid, "C D"]
    assert join_names(["u", "t", "", "A", "", "B", "C"]) == ["u", "t", "", "A", "", "B C"]
    assert join_names(["u", "t", "", "A", "", "B", "", "C"]) is None
    with pytest.raises(ValueError, match="item"):
        LastFM1KOptions(item="album")
    with pytest.raises(ValueError, match="dedupe"):
        LastFM1KOptions(dedupe="sum")
    assert LastFM1KOptions().eval_negatives == 100 and LastFM1KOptions().positive_threshold == 1.0


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(lastfm(), RAW, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
