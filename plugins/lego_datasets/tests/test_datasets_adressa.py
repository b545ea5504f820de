"""The adressa processor on hand-made day files of the 1-week and 3-month releases."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.adressa import AdressaOptions, AdressaProcessor, EventReader, url_path
from lego_datasets.reader import RowErrors

FIXTURES = Path(__file__).parent / "fixtures"
ONE_WEEK = FIXTURES / "adressa" / "one_week"
A = {n: ("%02x" % (n * 17)) * 20 for n in range(1, 13)}  # the fixture's article ids


def adressa(**options) -> AdressaProcessor:
    return AdressaProcessor(AdressaOptions(**options))


def raw_events(folder: Path = ONE_WEEK) -> list[tuple[int, dict]]:
    """(day index, event) of every line of the day files, read independently of the processor."""
    out = []
    for day, path in enumerate(sorted(folder.iterdir(), key=lambda p: p.name[:8])):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        out += [(day, json.loads(line)) for line in data.decode().splitlines()]
    return out


def expected_reads(folder: Path = ONE_WEEK, min_active: int = 0) -> dict[tuple[str, str], tuple[int, int]]:
    """(user, article) -> (time, day) of the first kept read of each pair of a titled article."""
    events = raw_events(folder)
    titled = {e["id"] for _, e in events if e.get("id") and e.get("title")}
    first: dict[tuple[str, str], tuple[int, int]] = {}
    for day, e in events:
        if e.get("id") in titled and (not min_active or e.get("activeTime", 0) >= min_active):
            key = (e["userId"], e["id"])
            if key not in first or e["time"] < first[key][0]:
                first[key] = (e["time"], day)
    return first


def rated(depot, rows) -> dict[str, list[dict]]:
    reads = expected_reads()
    return {s: [r for r in rows(depot, s) if (r["person"], r["item"]) in reads] for s in depot.splits}


def test_items_come_from_the_events_and_untitled_articles_are_dropped(tmp_path: Path, build) -> None:
    depot = build(adressa(), FIXTURES / "adressa", tmp_path / "d")
    info, items = depot.meta["info"], depot.items
    assert info["release"] == "one_week" and info["days"] == 7 and info["items"] == 11
    assert info["untitled_articles"] == 1 and info["untitled_events"] == 2  # article 6 never has a title
    assert info["other_events"] == 4 and info["repeated_reads"] == 2
    assert depot.vocab("item_id")[1:] == [A[n] for n in (1, 2, 9, 10, 11, 12, 3, 4, 5, 8, 7)]  # first seen first
    row = {article: i for i, article in enumerate(depot.vocab("item_id")[1:])}
    titles = items.strings("title_text")
    assert titles[row[A[1]]] == "Ny bro åpner i sentrum"  # \u00e5 in the JSON
    assert titles[row[A[3]]] == "Været blir kaldt"  # from a later event (in the gzipped day file)
    assert titles[row[A[7]]] == 'Ny butikk i Midtbyen, "endelig"'

    def section(n: int) -> tuple[str, str]:
        return (
            depot.vocab("category")[items["category"][row[A[n]]]],
            depot.vocab("subcategory")[items["subcategory"][row[A[n]]]],
        )

    assert section(1) == ("nyheter", "trondheim") and section(5) == ("kultur", "<unk>")
    assert section(3) == ("100sport", "vintersport")  # no category1: from the URL
    assert section(7) == ("nyheter", "trondheim|midtbyen")

    def tokens(column: str, n: int) -> list[str]:
        return [depot.vocab(items.vocab_name(column))[t] for t in items[column].row(row[A[n]])]

    assert tokens("keywords", 4) == ["trondheim", "budsjett"]  # lower-cased, repeated once
    assert tokens("authors", 4) == ["ola nordmann", "lise berg"]
    assert tokens("profile_entity", 1) == ["bybrua", "elgeseter"]  # heaviest first
    assert tokens("profile_concept", 1) == ["samferdsel"] and tokens("profile_entity", 5) == []
    assert items.kind("title") == "tokens" and items.vocab_name("title") == "words"


def test_url_path_gives_the_section_before_the_date() -> None:
    assert url_path("http://adressa.no/nyheter/trondheim/2017/01/01/x-1.ece") == ["nyheter", "trondheim"]
    assert url_path("http://adressa.no/pluss/x-1.ece") == ["pluss"] and url_path("http://adressa.no") == []


def test_reads_are_positives_with_user_attributes(tmp_path: Path, build, rows) -> None:
    depot = build(adressa(), FIXTURES / "adressa", tmp_path / "d")
    reads = expected_reads()
    got = rated(depot, rows)
    assert sum(len(v) for v in got.values()) == len(reads) == depot.meta["info"]["ratings"] == 29
    assert all(r["label"] == 1.0 and r["time"] == reads[(r["person"], r["item"])][0] for v in got.values() for r in v)
    for split in ("valid", "test"):  # the rest are sampled articles the user never read
        others = [r for r in rows(depot, split) if (r["person"], r["item"]) not in reads]
        assert others and all(r["label"] == 0.0 for r in others)
    users = depot.users
    people = {
        depot.vocab("user_id")[users["user_id"][i]]: {
            c: depot.vocab(c)[users[c][i]] for c in ("city", "region", "country", "device_type", "os")
        }
        for i in range(users.num_rows)
    }
    assert len(people) == 5 and "cx:5e6f7a8b9c0d:ee05" not in people  # front-page views only
    assert people["cx:1a2b3c4d5e6f:aa01"] == {
        "city": "trondheim",
        "region": "sor-trondelag",
        "country": "no",
        "device_type": "Mobile",
        "os": "Android",
    }
    assert people["cx:2b3c4d5e6f7a:bb02"]["country"] == "no"  # from a later read
    assert people["cx:2b3c4d5e6f7a:bb02"]["city"] == "<unk>"


@pytest.mark.parametrize("split_by", ["user", "time", "days"])
def test_histories_are_leakage_free(tmp_path: Path, split_by: str, build, check_leakage) -> None:
    depot = build(adressa(split_by=split_by, context_size=2, eval_negatives=3), FIXTURES / "adressa", tmp_path / "d")
    reads = expected_reads()
    times = {key: t for key, (t, _) in reads.items()}
    assert check_leakage(depot, times, dict.fromkeys(times, 1.0)) > 0


def test_days_split_tests_on_the_last_day_and_validates_on_the_day_before(tmp_path: Path, build, rows) -> None:
    depot = build(adressa(split_by="days"), FIXTURES / "adressa", tmp_path / "d")
    reads = expected_reads()
    got = rated(depot, rows)
    assert {reads[(r["person"], r["item"])][1] for r in got["test"]} == {6}
    assert {reads[(r["person"], r["item"])][1] for r in got["valid"]} == {5}
    assert {reads[(r["person"], r["item"])][1] for r in got["train"]} == {0, 1, 2, 3, 4}
    assert len(got["train"]) + len(got["valid"]) + len(got["test"]) == len(reads)
    wide = build(adressa(split_by="days", valid_days=2, test_days=2), FIXTURES / "adressa", tmp_path / "w")
    got = rated(wide, rows)
    assert {reads[(r["person"], r["item"])][1] for r in got["test"]} == {5, 6}
    with pytest.raises(DataError, match="leaves no train day"):
        adressa(split_by="days", valid_days=3, test_days=4).build(FIXTURES / "adressa")


def test_user_split_takes_the_latest_reads_of_each_user(tmp_path: Path, build, rows) -> None:
    depot = build(adressa(), FIXTURES / "adressa", tmp_path / "d")
    got = rated(depot, rows)
    for person in {r["person"] for r in got["train"]}:
        train = [r["time"] for r in got["train"] if r["person"] == person]
        later = [r["time"] for s in ("valid", "test") for r in got[s] if r["person"] == person]
        assert later and max(train) <= min(later)


def test_min_active_time_keeps_only_real_reads(tmp_path: Path, build, rows) -> None:
    depot = build(adressa(min_active_time=30), FIXTURES / "adressa", tmp_path / "d")
    kept = expected_reads(min_active=30)
    info = depot.meta["info"]
    assert info["ratings"] == len(kept) == 18
    assert info["short_reads"] == 14  # 12 reads under 30 s, 2 without activeTime
    assert {(r["person"], r["item"]) for s in depot.splits for r in rows(depot, s) if r["label"] == 1.0} == set(kept)


def test_dedupe_options(tmp_path: Path, build, rows) -> None:
    every = build(adressa(dedupe="none"), FIXTURES / "adressa", tmp_path / "a").meta["info"]
    assert every["ratings"] == 31 and every["repeated_reads"] == 0
    latest = build(adressa(dedupe="last", eval_negatives=0), FIXTURES / "adressa", tmp_path / "b")
    times = {(r["person"], r["item"]): r["time"] for s in latest.splits for r in rows(latest, s)}
    assert times[("cx:1a2b3c4d5e6f:aa01", A[1])] == 1483228800 + 86400 + 9000  # its second read


def test_three_month_release_and_folder_detection(tmp_path: Path, build) -> None:
    three = build(adressa(), FIXTURES / "adressa-three-month", tmp_path / "a").meta["info"]
    assert (three["release"], three["days"], three["first_day"], three["last_day"]) == (
        "three_month",
        8,
        "20170324",
        "20170331",
    )
    inside = build(adressa(), ONE_WEEK, tmp_path / "b").meta  # --raw is the release folder itself
    assert inside["info"]["release"] == "one_week" and "20170103.gz" in inside["raw_files"]
    both = tmp_path / "both"
    shutil.copytree(FIXTURES / "adressa", both)
    shutil.copytree(FIXTURES / "adressa-three-month", both, dirs_exist_ok=True)
    with pytest.raises(DataError, match="release=one_week or release=three_month"):
        prepare(adressa(), both, tmp_path / "c")
    picked = build(adressa(release="three_month"), both, tmp_path / "d").meta
    assert picked["info"]["release"] == "three_month" and all(n.startswith("three_month/") for n in picked["raw_files"])


def test_missing_release_lists_the_expected_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "one_week.tar.gz").write_bytes(b"")
    with pytest.raises(DataError) as err:
        prepare(adressa(), empty, tmp_path / "d")
    message = str(err.value)
    assert "MISSING" in message and "one_week/YYYYMMDD" in message and "three_month/YYYYMMDD" in message
    assert "unpack" in message
    with pytest.raises(DataError) as err:
        prepare(adressa(release="three_month"), FIXTURES / "adressa", tmp_path / "d")
    assert "three_month/YYYYMMDD" in str(err.value) and "one_week/YYYYMMDD" not in str(err.value)


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, ratings left)
    "adressa-not-json": ("one_week/20170102:3:", "not a JSON object", {"one_week/20170102": 1}, 28),
    "adressa-bad-time": ("one_week/20170104:2:", "'2017-01-04 00:35' is not an integer", {"one_week/20170104": 1}, 28),
    "adressa-no-user": ("one_week/20170105:1:", "userId None", {"one_week/20170105": 1}, 28),
    "adressa-active-time": ("one_week/20170106:2:", "activeTime 'long'", {"one_week/20170106": 1}, 28),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_events_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "adressa", variant)
    with pytest.raises(DataError) as err:
        adressa().build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    info = build(adressa(skip_bad_rows=True), raw, tmp_path / "d").meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


def test_eval_negatives_are_stored_once_and_follow_the_seed(tmp_path: Path, build, column_arrays) -> None:
    a = column_arrays(build(adressa(eval_negatives=2, seed=5), FIXTURES / "adressa", tmp_path / "a"))
    b = column_arrays(build(adressa(eval_negatives=2, seed=5), FIXTURES / "adressa", tmp_path / "b"))
    c = column_arrays(build(adressa(eval_negatives=2, seed=6), FIXTURES / "adressa", tmp_path / "c"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    assert prepare(adressa(eval_negatives=2, seed=5), FIXTURES / "adressa", tmp_path / "a").skipped


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="unknown profile group"):
        AdressaOptions(profile_groups=("entity", "entities"))
    with pytest.raises(ValueError, match="below 1"):
        AdressaOptions(valid_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="split_by"):
        AdressaOptions(split_by="random")
    assert AdressaOptions(profile_groups=["person"]).profile_groups == ("person",)


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(adressa(split_by="days", context_size=2), FIXTURES / "adressa", tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results and "valid" in results


def test_min_user_reads_leaves_out_occasional_readers(tmp_path: Path, build) -> None:
    info = build(adressa(min_user_reads=5), FIXTURES / "adressa", tmp_path / "d").meta["info"]
    per_user: dict[str, int] = {}
    for user, _ in expected_reads():
        per_user[user] = per_user.get(user, 0) + 1
    assert info["persons"] == sum(1 for n in per_user.values() if n >= 5) == 4  # the 4-read user is left out
    assert info["users_below_min_reads"] == 1 and info["reads_of_users_below_min"] == 4
    assert info["ratings"] == 29 - 4


def test_skipping_known_profiles_reads_the_same_depot(tmp_path: Path, build, column_arrays, monkeypatch) -> None:
    fast = column_arrays(build(adressa(), FIXTURES / "adressa", tmp_path / "a"))
    monkeypatch.setattr(EventReader, "_parse", lambda self, line: json.loads(line))
    full = column_arrays(build(adressa(), FIXTURES / "adressa", tmp_path / "b"))
    assert fast.keys() == full.keys() and all(np.array_equal(fast[k], full[k]) for k in fast)


def test_a_profile_that_cannot_be_cut_is_parsed_whole() -> None:
    reader = EventReader(AdressaOptions(), RowErrors(FIXTURES, skip=False))
    event = {"id": A[1], "profile": [{"item": "odd ]}] name", "groups": [{"group": "entity", "weight": 1}]}]}
    reader.articles.see(A[1], event)  # the article and its profile are known now
    line = json.dumps({"profile": event["profile"], "id": A[1], "userId": "cx:1", "time": 1})
    assert reader._parse(line) == json.loads(line)
    plain = json.dumps({"profile": [{"item": "x", "groups": []}], "id": A[1], "userId": "cx:1", "time": 1})
    assert reader._parse(plain)["profile"] == [] and reader._parse(plain)["userId"] == "cx:1"


def test_front_page_views_only_is_an_error(tmp_path: Path) -> None:
    raw = tmp_path / "raw" / "one_week"
    raw.mkdir(parents=True)
    (raw / "20170101").write_text('{"eventId": 1, "time": 1483228800, "userId": "cx:a", "url": "http://adressa.no"}\n')
    with pytest.raises(DataError, match="no usable ratings"):
        adressa().build(raw.parent)
