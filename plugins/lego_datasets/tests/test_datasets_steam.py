"""The steam processor on hand-made UCSD Steam fixtures (v2 reviews, v1 Australian reviews and plays).

``fixtures/steam/`` holds gzipped Python-literal lines as UCSD ships them (``u'...'`` strings,
embedded quotes, a JSON line, a game without ``id``, a duplicate ``id``, a review of a game that
is not in ``steam_games``, a username shared by two Steam accounts, a repeated review).
``fixtures/steam-australian/`` has the v1 files: gzipped reviews with ``Posted ...`` dates (one
without a year, one empty), a duplicate user line and a user without reviews, and an unpacked
(plain ``.json``) ``australian_users_items``.
"""

from __future__ import annotations

import ast
import datetime
import gzip
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.steam import SteamOptions, SteamProcessor, parse_posted

FIXTURES = Path(__file__).parent / "fixtures"
V2, V1 = FIXTURES / "steam", FIXTURES / "steam-australian"


def steam(**options) -> SteamProcessor:
    return SteamProcessor(SteamOptions(**options))


def literal_lines(path: Path) -> list[dict]:
    """The Python-literal lines of a fixture, read independently of the processor."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [ast.literal_eval(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def day(text: str) -> int:
    return int(datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc).timestamp())


def posted_day(posted: str) -> int | None:
    """``"Posted November 5, 2011."`` by strptime; None without a year or a date."""
    try:
        return int(
            datetime.datetime.strptime(posted, "Posted %B %d, %Y.").replace(tzinfo=datetime.timezone.utc).timestamp()
        )
    except ValueError:
        return None


def v2_reviews() -> list[tuple[str, str, int]]:
    return [(r["username"], r["product_id"], day(r["date"])) for r in literal_lines(V2 / "steam_reviews.json.gz")]


def v1_reviews() -> list[tuple[str, str, bool, str]]:
    return [
        (line["user_id"], r["item_id"], r["recommend"], r["posted"])
        for line in literal_lines(V1 / "australian_user_reviews.json.gz")
        for r in line["reviews"]
    ]


def all_rows(depot, rows) -> list[dict]:
    return [dict(r, split=s) for s in depot.splits for r in rows(depot, s)]


def test_v2_reviews_are_positives_split_by_date_with_sampled_negatives(tmp_path: Path, build, rows) -> None:
    depot = build(steam(), V2, tmp_path / "d")
    info = depot.meta["info"]
    raw = v2_reviews()
    assert info["source"] == "reviews" and info["labels"] == "all" and info["user_key"] == "username"
    assert info["events"] == len(raw) == 18 and info["ratings"] == 17  # Pixel Fan reviewed game 100 twice
    assert info["persons"] == 4 and info["items"] == 7 and depot.splits == ["train", "valid", "test"]
    reviewed = {(u, i) for u, i, _ in raw}
    first_time = {}
    for u, i, t in raw:
        first_time.setdefault((u, i), t)
    by_person: dict[str, dict[str, list[int]]] = {}
    for r in all_rows(depot, rows):
        if (r["person"], r["item"]) in reviewed:
            assert r["label"] == 1.0 and r["time"] == first_time[(r["person"], r["item"])]
            by_person.setdefault(r["person"], {}).setdefault(r["split"], []).append(r["time"])
        else:  # a sampled negative: a game the person never reviewed, label 0, in valid/test only
            assert r["label"] == 0.0 and r["split"] != "train"
    for person, splits in by_person.items():
        assert max(splits["train"]) <= min(splits["valid"]) <= min(splits["test"]), person
    assert info["sampled_negatives"]["valid"] == info["sampled_negatives"]["test"] > 0


def test_items_have_titles_genres_tags_specs_developer_publisher(tmp_path: Path, build) -> None:
    depot = build(steam(), V2, tmp_path / "d")
    items, info = depot.items, depot.meta["info"]
    ids = depot.vocab("item_id")[1:]
    assert ids == ["761140", "100", "200", "300", "999", "500", "600"]  # first interaction order
    row = {game: ids.index(game) for game in ids}
    titles = items.strings("title_text")
    assert titles[row["100"]] == "Rocket's Rally"  # the first of two rows with id 100
    assert titles[row["200"]] == 'Tiny Kingdoms: "Gold" Edition'
    assert titles[row["300"]] == "Night Train"  # no app_name: the title key
    assert titles[row["500"]] == "Café Manager"  # u'Caf\xe9 Manager'
    assert titles[row["600"]] == "Sky Pilots"  # a plain JSON line
    assert titles[row["999"]] == ""  # reviewed, but not in steam_games
    assert info["items_without_metadata"] == 1 and info["games_without_id"] == 1 and info["duplicate_games"] == 1

    def tokens(column: str, game: str) -> list[str]:
        vocab = depot.vocab(items.vocab_name(column))
        return [vocab[t] for t in items[column].row(row[game])]

    assert tokens("genres", "200") == ["Strategy", "Indie"] and tokens("genres", "300") == []
    assert tokens("tags", "100") == ["Action", "Racing", "Multiplayer"]
    assert tokens("specs", "600") == ["Single-player", "VR Support"] and tokens("specs", "999") == []
    category = {c: [depot.vocab(items.vocab_name(c))[x] for x in items[c]] for c in ("developer", "publisher")}
    assert category["developer"][row["500"]] == "Café Society"
    assert category["publisher"][row["300"]] == "<unk>" and category["developer"][row["300"]] == "Lantern Games"
    assert items.kind("title") == "tokens" and items.vocab_name("title") == "words"
    assert {items.kind(c) for c in ("genres", "tags", "specs")} == {"tokens"}


def test_user_id_instead_of_username_separates_accounts_that_share_a_name(tmp_path: Path, build) -> None:
    depot = build(steam(user_key="user_id"), V2, tmp_path / "d")
    info = depot.meta["info"]
    assert depot.vocab("user_id")[1:] == ["76561190000000002", "76561190000000003"]
    assert info["reviews_without_user_id"] == 14 and info["ratings"] == 4
    by_name = build(steam(), V2, tmp_path / "e")
    assert "Nova" in by_name.vocab("user_id")  # by username, both accounts are one person


@pytest.mark.parametrize(
    ("dedupe", "ratings", "time"), [("none", 18, None), ("first", 17, "2014-08-08"), ("last", 17, "2015-01-01")]
)
def test_dedupe_keeps_one_review_per_person_and_game(tmp_path: Path, build, rows, dedupe, ratings, time) -> None:
    depot = build(steam(dedupe=dedupe, eval_negatives=0), V2, tmp_path / "d")
    assert depot.meta["info"]["ratings"] == ratings
    times = [r["time"] for r in all_rows(depot, rows) if (r["person"], r["item"]) == ("Pixel Fan", "100")]
    assert times == ([day("2014-08-08"), day("2015-01-01")] if time is None else [day(time)])


def test_catalog_all_keeps_games_nobody_reviewed(tmp_path: Path, build) -> None:
    depot = build(steam(catalog="all"), V2, tmp_path / "d")
    assert depot.vocab("item_id")[1:] == ["761140", "100", "200", "300", "400", "500", "600", "999"]
    assert depot.items.strings("title_text")[4] == "Deep Sea"


def test_v1_reviews_label_recommend_and_order_by_posted_date(tmp_path: Path, build, rows) -> None:
    depot = build(steam(), V1, tmp_path / "d")
    info = depot.meta["info"]
    assert info["source"] == "user_reviews" and info["labels"] == "recommend"
    assert info["events"] == 11 and info["ratings"] == 10  # sampleplayer01's second line repeats a review
    assert info["persons"] == 3 and "quiet_one" not in depot.vocab("user_id")  # no reviews, no person
    assert info["undated_reviews"] == 2
    recommend = {(u, i): r for u, i, r, _ in v1_reviews()}
    got = {(r["person"], r["item"]): r for r in all_rows(depot, rows) if (r["person"], r["item"]) in recommend}
    assert len(got) == 10 and all(r["label"] == float(recommend[k]) for k, r in got.items())
    assert got[("sampleplayer01", "100")]["time"] == day("2011-11-05")
    assert got[("sampleplayer01", "200")]["label"] == 0.0
    # "Posted April 21." (no year) and "" are undated: they take the date of the review before them
    # (the first dated one when none is before), so they keep their place in the line
    user = "76561190000000005"
    assert got[(user, "300")]["time"] == got[(user, "100")]["time"] == day("2014-12-01")
    assert got[(user, "600")]["time"] == got[(user, "500")]["time"] == day("2015-01-09")
    assert got[(user, "600")]["split"] == "test" and got[(user, "500")]["split"] == "valid"


def test_yearless_year_dates_reviews_posted_without_a_year(tmp_path: Path, build, rows) -> None:
    depot = build(steam(yearless_year=2016), V1, tmp_path / "d")
    assert depot.meta["info"]["undated_reviews"] == 1
    got = {(r["person"], r["item"]): r for r in all_rows(depot, rows) if r["person"] == "76561190000000005"}
    assert got[("76561190000000005", "300")]["time"] == day("2016-04-21")
    assert got[("76561190000000005", "300")]["split"] == "test"
    assert parse_posted("Posted April 21.", 2016) == day("2016-04-21")
    assert parse_posted("Posted Nov 5, 2011") == day("2011-11-05")
    with pytest.raises(ValueError):
        parse_posted("Posted 2014-12-01")


def test_labels_all_makes_every_v1_review_a_positive(tmp_path: Path, build, rows) -> None:
    depot = build(steam(labels="all", eval_negatives=0), V1, tmp_path / "d")
    assert depot.meta["info"]["labels"] == "all"
    assert all(r["label"] == 1.0 for r in all_rows(depot, rows))


def test_plays_take_file_order_titles_from_item_names_and_playtime_options(tmp_path: Path, build, rows) -> None:
    depot = build(steam(source="plays", eval_negatives=0), V1, tmp_path / "d")
    info = depot.meta["info"]
    assert info["source"] == "plays" and info["ratings"] == 12 and info["persons"] == 3
    assert "file order" in info["time"]
    titles = dict(zip(depot.vocab("item_id")[1:], depot.items.strings("title_text")))
    assert titles["10"] == "Sample Shooter" and titles["30"] == "Sample Puzzle 2"  # not in steam_games
    assert titles["200"] == 'Tiny Kingdoms: "Gold" Edition'  # steam_games wins over item_name
    assert info["items_without_metadata"] == 3
    collector = sorted((r["time"], r["item"], r["split"]) for r in all_rows(depot, rows) if r["person"] == "collector")
    assert [i for _, i, _ in collector] == ["10", "20", "100", "600", "30"]  # the order of the items list
    assert [s for _, _, s in collector] == ["train", "train", "train", "valid", "test"]
    assert all(r["label"] == 1.0 for r in all_rows(depot, rows))

    played = build(steam(source="plays", min_playtime=1, positive_threshold=60.0, eval_negatives=0), V1, tmp_path / "e")
    assert played.meta["info"]["plays_below_min_playtime"] == 3 and played.meta["info"]["ratings"] == 9
    minutes = {
        (line["user_id"], i["item_id"]): i["playtime_forever"]
        for line in literal_lines(V1 / "australian_users_items.json")
        for i in line["items"]
    }
    for r in all_rows(played, rows):
        assert r["label"] == float(minutes[(r["person"], r["item"])] >= 60)


@pytest.mark.parametrize(
    ("folder", "options"), [(V2, {}), (V1, {}), (V1, {"source": "plays"}), (V2, {"split_by": "time"})]
)
def test_histories_are_leakage_free(tmp_path: Path, build, check_leakage, folder, options) -> None:
    depot = build(steam(context_size=2, **options), folder, tmp_path / "d")
    times, labels = {}, {}
    if folder == V2:
        for u, i, t in v2_reviews():
            times.setdefault((u, i), t)
            labels[(u, i)] = 1.0
    elif options.get("source") == "plays":
        position = 0
        for line in literal_lines(V1 / "australian_users_items.json"):
            for item in line["items"]:
                times.setdefault((line["user_id"], item["item_id"]), position)
                labels[(line["user_id"], item["item_id"])] = 1.0
                position += 1
    else:  # dated reviews by their date; undated ones take the date before them in the line (or the next)
        for line in literal_lines(V1 / "australian_user_reviews.json.gz"):
            dated = [posted_day(r["posted"]) for r in line["reviews"]]
            last = next((t for t in dated if t is not None), 0)
            for r, t in zip(line["reviews"], dated):
                last = t if t is not None else last
                times.setdefault((line["user_id"], r["item_id"]), last)
                labels[(line["user_id"], r["item_id"])] = float(r["recommend"])
    assert check_leakage(depot, times, labels) > 0


def test_eval_negatives_are_stored_once_and_follow_the_seed(tmp_path: Path, build, column_arrays) -> None:
    a = column_arrays(build(steam(catalog="all", seed=5), V2, tmp_path / "a"))
    b = column_arrays(build(steam(catalog="all", seed=5), V2, tmp_path / "b"))
    c = column_arrays(build(steam(catalog="all", seed=6), V2, tmp_path / "c"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test.item"], c["test.item"])
    assert prepare(steam(catalog="all", seed=5), V2, tmp_path / "a").skipped  # same inputs: not re-drawn
    again = column_arrays(build(steam(catalog="all", seed=5), V2, tmp_path / "a"))
    assert all(np.array_equal(a[k], again[k]) for k in a)


def test_expected_files_follow_the_source_and_missing_files_are_listed(tmp_path: Path, raw_folder) -> None:
    assert [f.name for f in steam().expected_files(V1)] == ["australian_user_reviews.json.gz", "steam_games.json.gz"]
    plays = steam(source="plays").expected_files(V1)
    assert [(f.name, f.optional) for f in plays] == [
        ("australian_users_items.json", False),
        ("steam_games.json.gz", True),
    ]
    raw = raw_folder(tmp_path, "steam")
    (raw / "steam_games.json.gz").unlink()
    with pytest.raises(DataError) as err:
        prepare(steam(), raw, tmp_path / "d")
    assert "MISSING" in str(err.value) and "steam_games.json.gz" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        prepare(steam(), empty, tmp_path / "d")
    for name in (
        "steam_reviews.json.gz",
        "australian_user_reviews.json.gz",
        "australian_users_items.json.gz",
        "steam_games.json.gz",
    ):
        assert name in str(err.value)
    only_plays = raw_folder(tmp_path, "steam-australian")
    (only_plays / "steam_games.json.gz").unlink()
    (only_plays / "australian_user_reviews.json.gz").unlink()
    depot = prepare(steam(), only_plays, tmp_path / "p")  # steam_games is optional with plays
    assert depot.info["source"] == "plays" and depot.info["games"] == 0


def test_options_that_do_not_fit_the_source_are_errors() -> None:
    with pytest.raises(DataError, match="labels='recommend' needs australian_user_reviews"):
        steam(labels="recommend").build(V2)
    with pytest.raises(DataError, match="apply to play logs"):
        steam(min_playtime=5).build(V1)
    with pytest.raises(ValueError, match="source"):
        SteamOptions(source="bundles")
    with pytest.raises(ValueError, match="user_key"):
        SteamOptions(user_key="steam_id")


MALFORMED = {  # variant -> (base, "file:line:", words in the message, skipped rows, ratings left)
    "steam-literal": (
        "steam",
        "steam_reviews.json.gz:3:",
        "neither JSON nor a Python literal",
        {"steam_reviews.json.gz": 1},
        16,
    ),
    "steam-date": (
        "steam",
        "steam_reviews.json.gz:6:",
        "date 'February 2, 2015' is not YYYY-MM-DD",
        {"steam_reviews.json.gz": 1},
        16,
    ),
    "steam-australian-recommend": (
        "steam-australian",
        "australian_user_reviews.json.gz:3:",
        "review 3: recommend is 'No', not True or False",
        {"australian_user_reviews.json.gz": 1},
        9,
    ),
    "steam-australian-posted": (
        "steam-australian",
        "australian_user_reviews.json.gz:2:",
        "review 2: posted 'Posted 2014-12-01'",
        {"australian_user_reviews.json.gz": 1},
        9,
    ),
    "steam-australian-playtime": (
        "steam-australian",
        "australian_users_items.json:2:",
        "item 2: playtime_forever is '45 min'",
        {"australian_users_items.json": 1},
        11,
    ),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    base, where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, base, variant)
    source = "plays" if "playtime" in variant else "auto"
    with pytest.raises(DataError) as err:
        steam(source=source).build(raw)
    assert where in str(err.value) and what in str(err.value) and "(expected " in str(err.value)
    assert "skip_bad_rows" in str(err.value)
    depot = build(steam(source=source, skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


@pytest.mark.parametrize("folder", ["steam", "steam-australian"])
def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, fixtures: Path, train_small, folder: str) -> None:
    prepare(SteamProcessor(), fixtures / folder, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
