"""The lastfm2k processor on a hand-made HetRec 2011 Last.fm 2K folder (CRLF files, Windows-1252 tags)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.lastfm2k import LastFM2KOptions, LastFM2KProcessor

FIXTURES = Path(__file__).parent / "fixtures"
RAW = FIXTURES / "lastfm2k"


def hetrec(**options) -> LastFM2KProcessor:
    return LastFM2KProcessor(LastFM2KOptions(**options))


def weights() -> dict[tuple[str, str], int]:
    """(user, artist) -> weight of user_artists.dat, read independently of the processor."""
    lines = (RAW / "user_artists.dat").read_bytes().decode("ascii").split("\r\n")[1:]
    return {(u, a): int(w) for u, a, w in (line.split("\t") for line in lines if line)}


def played(depot, rows) -> dict[str, list[dict]]:
    pairs = weights()
    return {s: [r for r in rows(depot, s) if (r["person"], r["item"]) in pairs] for s in depot.splits}


def test_every_user_artist_pair_is_one_interaction(tmp_path: Path, build, rows) -> None:
    depot = build(hetrec(), RAW, tmp_path / "d")
    info = depot.meta["info"]
    assert info["items"] == depot.items.num_rows == 8 and info["persons"] == 4 and info["ratings"] == 21
    got = [r for split in played(depot, rows).values() for r in split]
    assert sorted((r["person"], r["item"]) for r in got) == sorted(weights())
    assert all(r["label"] == 1.0 for r in got)
    assert depot.vocab("item_id")[1:] == [str(a) for a in range(1, 9)]


def test_the_split_cuts_a_seeded_random_order_of_each_users_artists(tmp_path: Path, build, rows) -> None:
    depot = build(hetrec(eval_negatives=0), RAW, tmp_path / "a")
    per_user: dict[str, dict[str, list[int]]] = {}
    for split, got in played(depot, rows).items():
        for r in got:
            per_user.setdefault(r["person"], {}).setdefault(split, []).append(r["time"])
    count = {u: sum(1 for p, _ in weights() if p == u) for u in per_user}
    for user, splits in per_user.items():
        positions = sorted(t for ts in splits.values() for t in ts)
        assert positions == list(range(count[user]))  # time = position in the user's order
        assert splits["test"] == [count[user] - 1] and splits["valid"] == [count[user] - 2]
    order = lambda d: sorted((r["person"], r["time"], r["item"]) for g in played(d, rows).values() for r in g)  # noqa: E731
    same = build(hetrec(eval_negatives=0), RAW, tmp_path / "b")
    other = build(hetrec(eval_negatives=0, seed=5), RAW, tmp_path / "c")
    assert order(depot) == order(same) and order(depot) != order(other)
    assert "seeded random order" in depot.meta["info"]["order"]


def test_weight_threshold_labels_and_leakage_free_histories(tmp_path: Path, build, rows, check_leakage) -> None:
    depot = build(hetrec(positive_threshold=50, context_size=1), RAW, tmp_path / "d")
    truth = {k: float(w >= 50) for k, w in weights().items()}
    got = [r for split in played(depot, rows).values() for r in split]
    assert {(r["person"], r["item"]): r["label"] for r in got} == truth
    times = {(r["person"], r["item"]): r["time"] for r in got}
    assert check_leakage(depot, times, truth) > 0


def test_artist_names_and_most_applied_tags(tmp_path: Path, build) -> None:
    depot = build(hetrec(), RAW, tmp_path / "d")
    items, tags = depot.items, depot.vocab("tags")
    assert items.strings("artist_name_text")[2:5] == ["La Fête Triste", 'The "Night" Owls', "Dust, Rust & Bones"]
    per_artist = [[tags[t] for t in items["tags"].row(i)] for i in range(items.num_rows)]
    assert per_artist[0] == ["metal", "seen live"]  # metal: three users
    assert per_artist[2] == ["métal français", "rock\u2019n\u2019roll"]  # Windows-1252 bytes E9 and 92
    assert per_artist[5] == ["chill out"] and per_artist[6] == []
    info = depot.meta["info"]
    assert info["tag_file"] == "user_taggedartists.dat" and info["tag_rows_unknown_artist"] == 1
    top = build(hetrec(max_tags=1), RAW, tmp_path / "e")
    assert [top.vocab("tags")[t] for t in top.items["tags"].row(0)] == ["metal"]


def test_the_timestamps_file_gives_the_same_tags(tmp_path: Path, build, raw_folder, column_arrays) -> None:
    raw = raw_folder(tmp_path, "lastfm2k")
    (raw / "user_taggedartists.dat").unlink()
    depot = build(hetrec(), raw, tmp_path / "a")
    assert depot.meta["info"]["tag_file"] == "user_taggedartists-timestamps.dat"
    a, b = column_arrays(depot), column_arrays(build(hetrec(), RAW, tmp_path / "b"))
    assert all(np.array_equal(a[k], b[k]) for k in a if k.startswith("items."))


def test_friends_are_a_user_column(tmp_path: Path, build) -> None:
    depot = build(hetrec(), RAW, tmp_path / "d")
    users, ids, friends = depot.users, depot.vocab("user_id"), depot.vocab("friends")
    got = {ids[users["user_id"][row]]: [friends[f] for f in users["friends"].row(row)] for row in range(users.num_rows)}
    assert got == {"2": ["3", "5"], "3": ["2"], "4": ["7"], "5": ["2"]}


def test_crlf_files_and_a_nested_folder(tmp_path: Path, build, column_arrays) -> None:
    for name in ("tags.dat", "user_artists.dat", "user_friends.dat"):
        assert b"\r\n" in (RAW / name).read_bytes(), name  # the fixture carries the quirk
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw / "hetrec2011-lastfm-2k")
    assert hetrec().expected_files(raw)[0].name == "hetrec2011-lastfm-2k/user_artists.dat"
    nested = build(hetrec(), raw, tmp_path / "a")
    assert nested.meta["info"]["folder"] == "hetrec2011-lastfm-2k"
    a, b = column_arrays(nested), column_arrays(build(hetrec(), RAW, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_evaluation_negatives_are_unplayed_artists_sampled_once(tmp_path: Path, build, rows, column_arrays) -> None:
    depot = build(hetrec(), RAW, tmp_path / "a")
    pairs = weights()
    for split in ("valid", "test"):
        sampled = [r for r in rows(depot, split) if (r["person"], r["item"]) not in pairs]
        assert sampled and all(r["label"] == 0.0 for r in sampled)
        for user in {r["person"] for r in sampled}:
            assert len([r for r in sampled if r["person"] == user]) == 8 - sum(1 for p, _ in pairs if p == user)
    a, b = column_arrays(depot), column_arrays(build(hetrec(), RAW, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_only_user_artists_and_artists_are_required(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "lastfm2k")
    for name in ("tags.dat", "user_taggedartists.dat", "user_taggedartists-timestamps.dat", "user_friends.dat"):
        (raw / name).unlink()
    depot = build(hetrec(), raw, tmp_path / "d")
    assert depot.items["tags"].lengths.sum() == 0 and "friends" not in depot.users
    (raw / "artists.dat").unlink()
    with pytest.raises(DataError) as err:
        prepare(hetrec(), raw, tmp_path / "e")
    message = str(err.value)
    assert "MISSING" in message and "artists.dat" in message and "grouplens.org" in message


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, ratings left)
    "lastfm2k-weight": ("user_artists.dat:6:", "weight 'many' is not a whole number", {"user_artists.dat": 1}, 20),
    "lastfm2k-unknown-artist": (
        "user_artists.dat:10:",
        "artist '42' is not in artists.dat",
        {"user_artists.dat": 1},
        20,
    ),
    "lastfm2k-columns": ("user_artists.dat:15:", "2 fields where 3 were expected", {"user_artists.dat": 1}, 20),
    "lastfm2k-unknown-tag": (
        "user_taggedartists.dat:5:",
        "tag '77' is not in tags.dat",
        {"user_taggedartists.dat": 1},
        21,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "lastfm2k", variant)
    with pytest.raises(DataError) as err:
        hetrec().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    depot = build(hetrec(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


def test_a_wrong_header_is_an_error_even_when_skipping(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "lastfm2k", "lastfm2k-header")
    with pytest.raises(DataError, match="user_artists.dat:1: header"):
        hetrec(skip_bad_rows=True).build(raw)


def test_options() -> None:
    with pytest.raises(ValueError, match="split_by"):
        LastFM2KOptions(split_by="time")
    with pytest.raises(ValueError, match="max_tags"):
        LastFM2KOptions(max_tags=-1)
    assert LastFM2KOptions().eval_negatives == 100


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(hetrec(), RAW, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
