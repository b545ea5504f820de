"""`lego data import`: a user's own files, the inferred spec, the spec round trip, every error, real data."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import numpy as np
import pytest

from lego_core.cli.main import main
from lego_core.config.tomlio import loads_toml
from lego_core.data.depot import Depot
from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.import_infer import infer_spec
from lego_datasets.import_spec import (
    ImportSpec,
    InteractionsSpec,
    TableSpec,
    render_spec,
    spec_problems,
    structure_spec,
)
from lego_datasets.importer import ImportOptions, ImportProcessor

FIXTURES = Path(__file__).parent / "fixtures"
BASIC = FIXTURES / "import-basic"
MALFORMED = FIXTURES / "import-malformed"
DOCS = Path(__file__).parents[1] / "docs" / "your-own-data.md"
SPLITS = ("train", "valid", "test")


# ------------------------------------------------------------------------------------------------ helpers


def lego(capsys, *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def imported(capsys, *argv: str | Path) -> str:
    """``lego data import ARGV``: exit 0, nothing on stderr; returns stdout."""
    code, out, err = lego(capsys, "data", "import", *argv)
    assert code == 0, err
    assert not [line for line in err.splitlines() if line and not line.startswith("warning: ")], err
    return out


def import_error(capsys, *argv: str | Path) -> str:
    """``lego data import ARGV`` fails as a user error: exit 2, one ``error:`` line, no traceback."""
    code, _, err = lego(capsys, "data", "import", *argv)
    lines = [line for line in err.splitlines() if line and not line.startswith("warning: ")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def basic(*extra: str | Path) -> list[str | Path]:
    return [BASIC / "ratings.csv", "--items", BASIC / "movies.csv", "--users", BASIC / "users.csv", *extra]


def ratings_of(path: Path = BASIC / "ratings.csv") -> list[dict[str, str]]:
    """The ratings as read by the csv module, independently of lego."""
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def tables(depot: Depot) -> dict[str, np.ndarray]:
    return {
        f"{s}.{c}": np.asarray(depot.table(s)[c])
        for s in depot.splits
        for c in ("user", "item", "label", "group", "time")
    }


def same_interactions(a: Depot, b: Depot) -> bool:
    ta, tb = tables(a), tables(b)
    history = [np.asarray(getattr(d.users["history"], part)) for d in (a, b) for part in ("values", "offsets")]
    return (
        ta.keys() == tb.keys()
        and all(np.array_equal(ta[k], tb[k]) for k in ta)
        and np.array_equal(history[0], history[2])
        and np.array_equal(history[1], history[3])
    )


def spec_file(tmp_path: Path, capsys, *argv: str | Path) -> Path:
    """The spec printed by ``--dry-run``, saved as a user would (``--dry-run > spec.toml``)."""
    path = tmp_path / "spec.toml"
    path.write_text(imported(capsys, *argv, "--dry-run"))
    return path


# ------------------------------------------------------------------------------------------ the inferred spec


def test_the_spec_inferred_from_a_csv_with_a_bom_and_crlf_and_its_tables() -> None:
    data, notes = infer_spec(
        {"interactions": BASIC / "ratings.csv", "items": BASIC / "movies.csv", "users": BASIC / "users.csv"}
    )
    i = data["interactions"]
    assert (i["format"], i["delimiter"], i["header"], i["encoding"]) == ("csv", ",", True, "utf-8")
    assert (i["user"], i["item"], i["rating"], i["timestamp"], i["timestamp_format"]) == (
        "user_id",
        "item_id",
        "rating",
        "timestamp",
        "unix",
    )  # the BOM is not part of "user_id"
    assert (i["label"], i["split"], i["item_columns"], i["user_columns"]) == ("", "", {}, {})
    assert data["items"]["columns"] == {"title": "text", "genres": "tags", "year": "category"}
    assert data["items"]["list_separator"] == "|"
    assert data["users"]["id"] == "user_id"
    assert data["users"]["columns"] == {
        "age": "category",
        "gender": "category",
        "occupation": "category",
        "zip_code": "skip",
    }  # four distinct zip codes for four users: an id
    assert (data["label_rule"], data["positive_threshold"], data["split_rule"]) == ("threshold", 4.0, "user_time")
    assert "1 to 5" in notes["interactions.rating"] and "skip" not in notes["users.columns.zip_code"]
    spec = structure_spec(data)
    assert spec_problems(spec, has_items=True, has_users=True) == []


def test_names_like_userId_and_movieId_milliseconds_and_tabs() -> None:
    data, _ = infer_spec(
        {"interactions": FIXTURES / "import-tsv" / "ratings.tsv", "items": FIXTURES / "import-tsv" / "movies.tsv"}
    )
    i = data["interactions"]
    assert (i["format"], i["delimiter"], i["quote"]) == ("tsv", "\t", "")
    assert (i["user"], i["item"], i["timestamp_format"]) == ("userId", "movieId", "unix_ms")
    assert data["items"]["id"] == "movieId"
    assert data["items"]["columns"] == {"title": "text", "genres": "tags"}


def test_json_lines_with_iso_times_lists_and_a_constant_flag() -> None:
    data, notes = infer_spec(
        {
            "interactions": FIXTURES / "import-jsonl" / "reviews.jsonl",
            "items": FIXTURES / "import-jsonl" / "items.jsonl",
        }
    )
    i = data["interactions"]
    assert (i["format"], i["user"], i["item"], i["rating"]) == ("jsonl", "customer_id", "asin", "stars")
    assert (i["timestamp"], i["timestamp_format"]) == ("reviewTime", "iso")
    assert i["item_columns"] == {"verified": "skip"} and "same value" in notes["interactions.item_columns.verified"]
    assert data["items"]["columns"] == {"title": "text", "categories": "tags", "brand": "category"}


def test_a_flat_file_gives_label_and_split_columns_and_item_and_user_attributes() -> None:
    data, notes = infer_spec({"interactions": FIXTURES / "import-flat" / "events.csv"})
    i = data["interactions"]
    assert (i["user"], i["item"], i["label"], i["timestamp"], i["timestamp_format"], i["split"]) == (
        "visitor_id",
        "article_id",
        "clicked",
        "date",
        "iso",
        "fold",
    )
    assert i["item_columns"] == {"headline": "text", "section": "category", "device": "skip"}
    assert i["user_columns"] == {"age_group": "category"}
    assert "per-interaction" in notes["interactions.item_columns.device"]
    assert (data["label_rule"], data["split_rule"]) == ("column", "column")


def test_implicit_data_gets_all_positives_sampled_negatives_and_a_random_split(tmp_path: Path) -> None:
    path = tmp_path / "plays.csv"
    path.write_text(
        "listener_id,track_id\n" + "".join(f"u{u},t{(u * 3 + k) % 7}\n" for u in range(4) for k in range(4))
    )
    data, _ = infer_spec({"interactions": path})
    assert (data["interactions"]["user"], data["interactions"]["item"]) == ("listener_id", "track_id")
    assert (data["label_rule"], data["eval_negatives"], data["split_rule"]) == ("all", 100, "random")


def test_a_file_named_csv_but_separated_by_semicolons_is_read_with_semicolons() -> None:
    data, notes = infer_spec({"interactions": MALFORMED / "ratings-semicolons.csv"})
    assert data["interactions"]["delimiter"] == ";" and data["interactions"]["user"] == "user_id"
    assert "semicolons" in notes["interactions.delimiter"]


def test_a_file_without_header_needs_names_and_then_infers_roles(tmp_path: Path, capsys) -> None:
    path = tmp_path / "u.data"
    path.write_text(
        "".join(
            f"{u}\t{i}\t{(u + i) % 5 + 1}\t{881250949 + 60 * (u * 8 + i)}\n" for u in range(1, 5) for i in range(1, 7)
        )
    )
    data, notes = infer_spec({"interactions": path})
    assert data["interactions"]["header"] is False
    assert data["interactions"]["names"] == ["column_1", "column_2", "column_3", "column_4"]
    assert "names" in notes["interactions.header"]
    # printed, then refused: no column is named like a user id
    code, out, err = lego(capsys, "data", "import", path, "--out", tmp_path / "d")
    assert code == 2 and "interactions.user is empty" in err and "header = false" in out
    assert not (tmp_path / "d").exists()
    names = 'interactions.names=["user_id", "item_id", "rating", "timestamp"]'
    imported(capsys, path, "--out", tmp_path / "d", "--set", names)
    assert Depot(tmp_path / "d").meta["info"]["interactions_read"] == 24


# ----------------------------------------------------------------------------------------- the spec round trip


def test_dry_run_prints_the_spec_as_toml_and_writes_nothing(tmp_path: Path, capsys) -> None:
    out = imported(capsys, *basic("--out", tmp_path / "d", "--dry-run"))
    assert not (tmp_path / "d").exists()
    spec = structure_spec(loads_toml(out))  # stdout is the spec and nothing else
    data, _ = infer_spec(
        {"interactions": BASIC / "ratings.csv", "items": BASIC / "movies.csv", "users": BASIC / "users.csv"}
    )
    assert spec == structure_spec(data)
    assert "ratings.csv" in out.splitlines()[0] and "# 1 to 5 in the sampled rows" in out


def test_render_and_read_back_give_the_same_spec_for_every_kind_of_value() -> None:
    spec = ImportSpec(
        label_rule="column",
        split_rule="leave_one_out",
        positive_threshold=3.5,
        eval_negatives=7,
        interactions=InteractionsSpec(
            format="tsv",
            delimiter="\t",
            quote="",
            header=False,
            names=["u", "i", "ok", "when"],
            user="u",
            item="i",
            label="ok",
            timestamp="when",
            timestamp_format="%d/%m/%Y",
            item_columns={"Movie Title": "text", 'a "b"': "skip"},
        ),
        items=TableSpec(format="parquet", id="i", columns={"genres": "tags"}),
    )
    assert structure_spec(loads_toml(render_spec(spec, {"interactions.u": "a\nnote"}))) == spec


def test_an_edited_spec_passed_back_is_used_as_is(tmp_path: Path, capsys) -> None:
    path = spec_file(tmp_path, capsys, *basic())
    text = path.read_text()
    text = text.replace('split_rule = "user_time"', 'split_rule = "leave_one_out"')
    text = text.replace('year = "category"', 'year = "skip"').replace('zip_code = "skip"', 'zip_code = "category"')
    text = text.replace("positive_threshold = 4.0", "positive_threshold = 5.0")
    path.write_text(text)
    imported(capsys, *basic("--spec", path, "--out", tmp_path / "d"))
    depot = Depot(tmp_path / "d")
    assert "year" not in depot.items and "zip_code" in depot.users
    assert depot.meta["options"]["spec"]["split_rule"] == "leave_one_out"
    assert depot.meta["info"]["interactions"] == {"train": 16, "valid": 4, "test": 4}  # 6 each: 4 + 1 + 1
    labels = np.concatenate([np.asarray(depot.table(s)["label"]) for s in SPLITS])
    assert labels.sum() == sum(r["rating"] == "5" for r in ratings_of())


def test_with_a_spec_nothing_is_inferred(tmp_path: Path, capsys) -> None:
    """A spec that reads the title as a category: inference would say text; the spec wins, and no spec is printed."""
    spec = ImportSpec(
        interactions=InteractionsSpec(
            format="csv", user="user_id", item="item_id", rating="rating", timestamp="timestamp"
        ),
        items=TableSpec(format="csv", id="item_id", columns={"title": "category"}),
    )
    path = tmp_path / "spec.toml"
    path.write_text(render_spec(spec))
    out = imported(
        capsys, BASIC / "ratings.csv", "--items", BASIC / "movies.csv", "--spec", path, "--out", tmp_path / "d"
    )
    assert "[interactions]" not in out
    items = Depot(tmp_path / "d").items
    assert items.kind("title") == "category" and "genres" not in items and "title_text" not in items


def test_set_changes_a_key_of_the_inferred_spec_and_of_a_given_spec(tmp_path: Path, capsys) -> None:
    out = imported(capsys, *basic("--dry-run", "--set", "split_rule=random", "--set", "items.columns.year=skip"))
    spec = structure_spec(loads_toml(out))
    assert spec.split_rule == "random" and spec.items is not None and spec.items.columns["year"] == "skip"
    path = spec_file(tmp_path, capsys, *basic())
    imported(capsys, *basic("--spec", path, "--set", "eval_negatives=2", "--out", tmp_path / "d"))
    assert Depot(tmp_path / "d").meta["info"]["sampled_negatives"] == {"train": 0, "valid": 8, "test": 8}


# ------------------------------------------------------------------------------------------------ the depots


def test_csv_items_and_users_become_a_depot_that_trains(
    tmp_path: Path, capsys, rows, check_leakage, train_small
) -> None:
    imported(capsys, *basic("--out", tmp_path / "d"))
    depot = Depot(tmp_path / "d")
    items, users = depot.items, depot.users
    assert depot.vocab("item_id")[1:] == [str(i) for i in range(1, 9)]  # the items table's order
    assert items.strings("title_text")[3] == "American President, The"
    assert items.kind("title") == "tokens" and items.vocab_name("title") == "words"
    genres = depot.vocab("genres")
    assert [genres[g] for g in items["genres"].row(0)] == ["Animation", "Children's", "Comedy"]
    assert depot.vocab("year")[items["year"][7]] == "1997"
    persons = depot.vocab("user_id")
    assert {persons[p]: depot.vocab("gender")[g] for p, g in zip(users["user_id"], users["gender"], strict=True)} == {
        "1": "M",
        "2": "F",
        "3": "F",
        "4": "M",
    }
    raw = ratings_of()
    times = {(r["user_id"], r["item_id"]): int(r["timestamp"]) for r in raw}
    labels = {(r["user_id"], r["item_id"]): float(int(r["rating"]) >= 4) for r in raw}
    assert check_leakage(depot, times, labels) > 0
    for user in "1234":  # per-user time split: the latest rating is test, the one before valid
        latest = sorted((t, i) for (u, i), t in times.items() if u == user)
        for split, (_, item) in (("test", latest[-1]), ("valid", latest[-2])):
            assert [r["item"] for r in rows(depot, split) if r["person"] == user] == [item]
    results = train_small(tmp_path / "d", tmp_path / "run")
    assert set(results) >= {"valid", "test"}


def test_the_same_data_as_tsv_jsonl_gzip_and_parquet_gives_the_same_interactions(tmp_path: Path, capsys) -> None:
    imported(capsys, BASIC / "ratings.csv", "--items", BASIC / "movies.csv", "--out", tmp_path / "csv")
    reference = Depot(tmp_path / "csv")
    imported(
        capsys,
        FIXTURES / "import-tsv" / "ratings.tsv",
        "--items",
        FIXTURES / "import-tsv" / "movies.tsv",
        "--out",
        tmp_path / "tsv",
    )
    assert same_interactions(reference, Depot(tmp_path / "tsv"))  # milliseconds: the same seconds
    raw = ratings_of()
    with gzip.open(tmp_path / "ratings.csv.gz", "wt") as handle:
        handle.write(
            "user_id,item_id,rating,timestamp\n"
            + "".join(f"{r['user_id']},{r['item_id']},{r['rating']},{r['timestamp']}\n" for r in raw)
        )
    imported(capsys, tmp_path / "ratings.csv.gz", "--items", BASIC / "movies.csv", "--out", tmp_path / "gz")
    assert same_interactions(reference, Depot(tmp_path / "gz"))
    with open(tmp_path / "ratings.jsonl", "w") as handle:
        for r in raw:
            handle.write(
                json.dumps(
                    {
                        "user_id": int(r["user_id"]),
                        "item_id": int(r["item_id"]),
                        "rating": float(r["rating"]),
                        "timestamp": int(r["timestamp"]),
                    }
                )
                + "\n"
            )
    imported(capsys, tmp_path / "ratings.jsonl", "--items", BASIC / "movies.csv", "--out", tmp_path / "jsonl")
    assert same_interactions(reference, Depot(tmp_path / "jsonl"))  # ids 1 and "1" are the same id


def test_parquet_files_written_here(tmp_path: Path, capsys) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime

    raw = ratings_of()
    stamps = [datetime.datetime.fromtimestamp(int(r["timestamp"]), tz=datetime.timezone.utc) for r in raw]
    pq.write_table(
        pa.table(
            {
                "user_id": [int(r["user_id"]) for r in raw],
                "item_id": [r["item_id"] for r in raw],
                "rating": [float(r["rating"]) for r in raw],
                "timestamp": pa.array(stamps, pa.timestamp("s", tz="UTC")),
            }
        ),
        tmp_path / "ratings.parquet",
    )
    movies = list(csv.DictReader((BASIC / "movies.csv").read_text().splitlines()))
    pq.write_table(
        pa.table(
            {
                "item_id": [int(m["item_id"]) for m in movies],
                "title": [m["title"] for m in movies],
                "genres": [m["genres"].split("|") for m in movies],
            }
        ),
        tmp_path / "movies.parquet",
    )
    out = imported(capsys, tmp_path / "ratings.parquet", "--items", tmp_path / "movies.parquet", "--dry-run")
    spec = structure_spec(loads_toml(out))
    assert spec.interactions.format == "parquet" and spec.items is not None
    assert spec.items.columns == {"title": "text", "genres": "tags"}
    imported(capsys, tmp_path / "ratings.parquet", "--items", tmp_path / "movies.parquet", "--out", tmp_path / "pq")
    imported(capsys, BASIC / "ratings.csv", "--items", BASIC / "movies.csv", "--out", tmp_path / "csv")
    parquet, reference = Depot(tmp_path / "pq"), Depot(tmp_path / "csv")
    assert same_interactions(reference, parquet)
    genres = parquet.vocab("genres")
    assert [genres[g] for g in parquet.items["genres"].row(0)] == ["Animation", "Children's", "Comedy"]


def test_parquet_without_pyarrow_names_the_extra(tmp_path: Path, capsys, monkeypatch) -> None:
    path = tmp_path / "ratings.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 16 + b"PAR1")  # not read: the missing reader is found first
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    line = import_error(capsys, path, "--out", tmp_path / "d")
    assert "ratings.parquet" in line and "pip install 'lego-datasets[parquet]'" in line and "pyarrow" in line
    spec = ImportSpec(
        interactions=InteractionsSpec(format="parquet", user="u", item="i"), label_rule="all", split_rule="random"
    )
    with pytest.raises(DataError, match=r"lego-datasets\[parquet\]"):
        prepare(ImportProcessor(ImportOptions(spec=spec, interactions="ratings.parquet")), tmp_path, tmp_path / "e")


def test_label_and_split_columns_and_attributes_carried_by_the_rows(tmp_path: Path, capsys, rows, train_small) -> None:
    imported(capsys, FIXTURES / "import-flat" / "events.csv", "--out", tmp_path / "d")
    depot = Depot(tmp_path / "d")
    raw = list(csv.DictReader((FIXTURES / "import-flat" / "events.csv").read_text().splitlines()))
    got = {s: sorted((r["person"], r["item"], r["label"]) for r in rows(depot, s)) for s in depot.splits}
    assert got == {
        s: sorted((r["visitor_id"], r["article_id"], float(r["clicked"])) for r in raw if r["fold"] == s)
        for s in SPLITS
    }
    items, users = depot.items, depot.users
    titles = dict(zip(depot.vocab("item_id")[1:], items.strings("headline_text"), strict=True))
    assert titles["a4"] == "New museum opens its doors downtown"
    assert depot.vocab("section")[items["section"][depot.vocab("item_id").index("a6") - 1]] == "business"
    assert "device" not in items and "device" not in users and items.kind("headline") == "tokens"
    ages = {
        depot.vocab("user_id")[p]: depot.vocab("age_group")[a]
        for p, a in zip(users["user_id"], users["age_group"], strict=True)
    }
    assert ages == {"v1": "18-34", "v2": "35-54", "v3": "18-34", "v4": "35-54"}
    assert set(np.asarray(depot.table("train")["time"])) <= {1704067200 + 86400 * d for d in range(10)}
    train_small(tmp_path / "d", tmp_path / "run")


def test_split_rules(tmp_path: Path, capsys, rows) -> None:
    def split_of(rule: str, *extra: str) -> dict[str, list[tuple[str, str]]]:
        out = tmp_path / f"{rule}{'-'.join(extra)}"
        imported(capsys, BASIC / "ratings.csv", "--out", out, "--set", f"split_rule={rule}", *extra)
        depot = Depot(out)
        return {s: sorted((r["person"], r["item"]) for r in rows(depot, s)) for s in depot.splits}

    raw = ratings_of()
    times = {(r["user_id"], r["item_id"]): int(r["timestamp"]) for r in raw}
    loo = split_of("leave_one_out")
    for user in "1234":
        mine = sorted((t, key) for key, t in times.items() if key[0] == user)
        assert [k for k in loo["test"] if k[0] == user] == [mine[-1][1]]
        assert [k for k in loo["valid"] if k[0] == user] == [mine[-2][1]]
    by_time = split_of("global_time", "--set", "valid_fraction=0.25", "--set", "test_fraction=0.25")
    latest = {s: [times[k] for k in by_time[s]] for s in SPLITS}
    assert max(latest["train"]) <= min(latest["valid"]) and max(latest["valid"]) <= min(latest["test"])
    first, again, other = (
        split_of("random"),
        split_of("random", "--set", "seed=2023"),
        split_of("random", "--set", "seed=7"),
    )
    assert first == again and first != other  # seeded: the same seed gives the same split
    for split in (first, other):
        assert all(sum(k[0] == user for k in split["test"]) == 1 for user in "1234")  # round(6 x 0.1) -> 1
    with_times = {s: [times[k] for k in first[s]] for s in SPLITS}
    assert not max(with_times["train"]) <= min(with_times["test"])  # random: not a time split


def test_implicit_data_with_sampled_negatives_stored_once(tmp_path: Path, capsys) -> None:
    imported(
        capsys, BASIC / "ratings.csv", "--out", tmp_path / "a", "--set", "label_rule=all", "--set", "eval_negatives=2"
    )
    imported(
        capsys, BASIC / "ratings.csv", "--out", tmp_path / "b", "--set", "label_rule=all", "--set", "eval_negatives=2"
    )
    a, b = Depot(tmp_path / "a"), Depot(tmp_path / "b")
    assert np.asarray(a.table("train")["label"]).min() == 1.0
    assert a.meta["info"]["sampled_negatives"] == {"train": 0, "valid": 8, "test": 8}
    assert same_interactions(a, b)
    test = a.table("test")
    rated = {(r["user_id"], r["item_id"]) for r in ratings_of()}
    persons, items = a.vocab("user_id"), a.vocab("item_id")
    negatives = [
        (persons[a.users["user_id"][u]], items[i + 1])
        for u, i, label in zip(test["user"], test["item"], test["label"], strict=True)
        if label == 0
    ]
    assert len(negatives) == 8 and not set(negatives) & rated


def test_repeated_pairs_kept_or_deduplicated(tmp_path: Path, capsys) -> None:
    path = tmp_path / "views.csv"
    path.write_text("user,item,time\n" + "u1,a,10\nu1,b,20\nu1,a,30\nu1,c,40\nu1,d,50\nu2,a,15\nu2,b,25\n")
    for dedupe, kept in (("none", 7), ("first", 6), ("last", 6)):
        imported(capsys, path, "--out", tmp_path / dedupe, "--set", f"dedupe={dedupe}")
        info = Depot(tmp_path / dedupe).meta["info"]
        assert info["ratings"] == kept and info["interactions_read"] == 7


def test_a_second_import_of_the_same_files_and_spec_is_a_no_op(tmp_path: Path, capsys) -> None:
    imported(capsys, *basic("--out", tmp_path / "d"))
    before = (tmp_path / "d" / "meta.json").read_text()
    assert "up to date" in imported(capsys, *basic("--out", tmp_path / "d"))
    assert (tmp_path / "d" / "meta.json").read_text() == before
    assert "wrote" in imported(capsys, *basic("--out", tmp_path / "d", "--force"))
    assert "wrote" in imported(capsys, *basic("--out", tmp_path / "d", "--set", "max_history=5"))  # another spec
    meta = Depot(tmp_path / "d").meta
    assert meta["processor"] == "import" and set(meta["raw_files"]) == {"ratings.csv", "movies.csv", "users.csv"}


def test_files_in_different_folders_are_named_relative_to_their_common_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "r.csv").write_bytes((BASIC / "ratings.csv").read_bytes())
    imported(capsys, tmp_path / "a" / "r.csv", "--items", BASIC / "movies.csv", "--out", tmp_path / "d")
    meta = Depot(tmp_path / "d").meta
    common = Path(os.path.commonpath([tmp_path, BASIC]))
    assert set(meta["raw_files"]) == {
        (tmp_path / "a" / "r.csv").relative_to(common).as_posix(),
        (BASIC / "movies.csv").relative_to(common).as_posix(),
    }


def test_quoted_line_breaks_and_a_cp1252_items_file(tmp_path: Path, capsys) -> None:
    items = tmp_path / "items.csv"
    items.write_bytes(
        'item_id,title,blurb\n1,Café Society,"A love story\nin two cities"\n2,Zoë,"short"\n'
        '3,Amélie,"Paris, again"\n'.encode("cp1252")
    )
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user_id,item_id\nu1,1\nu1,2\nu2,3\nu2,1\n")
    data, notes = infer_spec({"interactions": ratings, "items": items})
    assert data["items"]["encoding"] == "cp1252" and "UTF-8" in notes["items.encoding"]
    imported(
        capsys,
        ratings,
        "--items",
        items,
        "--out",
        tmp_path / "d",
        "--set",
        "items.columns.blurb=text",
        "--set",
        "items.columns.title=text",
    )
    depot = Depot(tmp_path / "d")
    assert depot.items.strings("title_text") == ["Café Society", "Zoë", "Amélie"]
    assert depot.items.strings("blurb_text")[0] == "A love story\nin two cities"
    bad = tmp_path / "bad.csv"
    bad.write_text('item_id,title\n1,"two\nlines"\n2,ok\n2,again\n')
    line = import_error(capsys, ratings, "--items", bad, "--out", tmp_path / "e")
    assert f"{bad}:5: item '2' is listed twice" in line  # line numbers count the lines inside quotes


# ------------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("interactions", "items", "expected"),
    [
        ("ratings-semicolons.csv", None, "ratings-semicolons.csv:1: the header has one column"),
        ("ratings-unknown-item.csv", "movies", "ratings-unknown-item.csv:6: item '99' is not in the items table"),
        (
            "ratings-bad-time.csv",
            None,
            "ratings-bad-time.csv:5: timestamp 'yesterday' in column 'timestamp' is not Unix seconds",
        ),
        ("ratings-bad-rating.csv", None, "ratings-bad-rating.csv:4: rating 'four' in column 'rating' is not a number"),
        ("ratings-fields.csv", None, "ratings-fields.csv:10: 3 fields where the header has 4"),
        ("ratings-no-user.csv", None, "ratings-no-user.csv:3: no user id in column 'user_id'"),
    ],
    ids=["delimiter", "unknown-item", "timestamp", "rating", "fields", "empty-id"],
)
def test_bad_rows_are_file_line_errors(
    tmp_path: Path, capsys, interactions: str, items: str | None, expected: str
) -> None:
    path = MALFORMED / interactions
    spec = spec_file(tmp_path, capsys, BASIC / "ratings.csv", *(["--items", BASIC / "movies.csv"] if items else []))
    argv = [path, *(["--items", BASIC / "movies.csv"] if items else []), "--spec", spec, "--out", tmp_path / "d"]
    line = import_error(capsys, *argv)
    assert expected in line, line
    assert not (tmp_path / "d").exists()  # nothing half-written


def test_a_time_in_microseconds_is_not_taken_for_milliseconds(tmp_path: Path, capsys) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,ts\nu1,a,1700000000000000\nu1,b,1700000000500000\n")
    line = import_error(capsys, path, "--out", tmp_path / "d")
    assert (
        f"{path}:2: timestamp '1700000000000000' in column 'ts' is after the year 30,000 as Unix milliseconds" in line
    )


def test_wrong_delimiter_message_says_what_to_set(tmp_path: Path, capsys) -> None:
    spec = spec_file(tmp_path, capsys, BASIC / "ratings.csv")
    line = import_error(capsys, MALFORMED / "ratings-semicolons.csv", "--spec", spec, "--out", tmp_path / "d")
    assert "separated by semicolons, not ','" in line and "delimiter = ';'" in line


def test_skip_bad_rows_counts_them_instead(tmp_path: Path, capsys) -> None:
    spec = spec_file(tmp_path, capsys, *basic())
    bad = tmp_path / "ratings.csv"
    lines = (MALFORMED / "ratings-bad-time.csv").read_text().splitlines()
    lines[9] = "2,99,4,978300000"  # and an unknown item
    bad.write_text("\n".join(lines) + "\n")
    for name in ("movies.csv", "users.csv"):  # one folder: the counts are keyed by the bare names
        (tmp_path / name).write_bytes((BASIC / name).read_bytes())
    tables = ["--items", tmp_path / "movies.csv", "--users", tmp_path / "users.csv", "--spec", spec]
    line = import_error(capsys, bad, *tables, "--out", tmp_path / "d")
    assert "skip_bad_rows" in line
    imported(capsys, bad, *tables, "--set", "skip_bad_rows=true", "--out", tmp_path / "d")
    info = Depot(tmp_path / "d").meta["info"]
    assert info["skipped_rows"]["ratings.csv"] == 2 and info["interactions_read"] == 22


def test_a_skipped_row_adds_no_item(tmp_path: Path, capsys) -> None:
    """Without an items table items come from the rows, but not from a row skipped for its unknown user."""
    spec = spec_file(tmp_path, capsys, BASIC / "ratings.csv", "--users", BASIC / "users.csv")
    bad = tmp_path / "ratings.csv"
    bad.write_text((BASIC / "ratings.csv").read_text(encoding="utf-8-sig") + "9,77,5,978300000\n")
    (tmp_path / "users.csv").write_bytes((BASIC / "users.csv").read_bytes())
    imported(
        capsys,
        bad,
        "--users",
        tmp_path / "users.csv",
        "--spec",
        spec,
        "--set",
        "skip_bad_rows=true",
        "--out",
        tmp_path / "d",
    )
    depot = Depot(tmp_path / "d")
    assert depot.meta["info"]["skipped_rows"]["ratings.csv"] == 1 and "77" not in depot.vocab("item_id")


def test_ids_missing_from_the_tables_and_repeated_ids(tmp_path: Path, capsys) -> None:
    spec = spec_file(tmp_path, capsys, *basic())
    line = import_error(
        capsys,
        MALFORMED / "ratings-unknown-user.csv",
        "--items",
        BASIC / "movies.csv",
        "--users",
        BASIC / "users.csv",
        "--spec",
        spec,
        "--out",
        tmp_path / "d",
    )
    assert "ratings-unknown-user.csv:8: user '9' is not in the users table import-basic/users.csv" in line
    line = import_error(
        capsys,
        BASIC / "ratings.csv",
        "--items",
        MALFORMED / "movies-duplicate.csv",
        "--users",
        BASIC / "users.csv",
        "--spec",
        spec,
        "--out",
        tmp_path / "d",
    )
    assert "movies-duplicate.csv:5: item '3' is listed twice" in line


def test_a_quote_that_is_never_closed_is_an_error_even_when_skipping(tmp_path: Path, capsys) -> None:
    spec = spec_file(tmp_path, capsys, BASIC / "ratings.csv")
    for extra in ([], ["--set", "skip_bad_rows=true"]):
        line = import_error(
            capsys, MALFORMED / "ratings-open-quote.csv", "--spec", spec, *extra, "--out", tmp_path / "d"
        )
        assert "ratings-open-quote.csv:7: a quoted field opened on this line is not closed" in line
        assert 'quote = ""' in line


def test_bad_labels_splits_json_and_bytes(tmp_path: Path, capsys) -> None:
    spec = spec_file(tmp_path, capsys, FIXTURES / "import-flat" / "events.csv")
    line = import_error(capsys, MALFORMED / "events-bad-split.csv", "--spec", spec, "--out", tmp_path / "d")
    assert "events-bad-split.csv:5: split 'holdout' in column 'fold' is not train, valid or test" in line
    line = import_error(capsys, MALFORMED / "events-bad-label.csv", "--spec", spec, "--out", tmp_path / "d")
    assert "events-bad-label.csv:3: label 'maybe' in column 'clicked' is not 0/1" in line
    spec = spec_file(tmp_path, capsys, FIXTURES / "import-jsonl" / "reviews.jsonl")
    line = import_error(capsys, MALFORMED / "reviews-broken.jsonl", "--spec", spec, "--out", tmp_path / "d")
    assert "reviews-broken.jsonl:4: not a JSON object" in line
    spec = spec_file(tmp_path, capsys, *basic())
    line = import_error(
        capsys,
        BASIC / "ratings.csv",
        "--items",
        MALFORMED / "movies-latin1.csv",
        "--users",
        BASIC / "users.csv",
        "--spec",
        spec,
        "--out",
        tmp_path / "d",
    )
    assert "movies-latin1.csv:3: byte b'\\xe9'" in line and "UTF-8" in line


def test_json_objects_in_cells_are_read_not_a_traceback(tmp_path: Path, capsys) -> None:
    path = tmp_path / "nested.jsonl"
    rows = [{"user": u, "item": i, "meta": {"k": i}, "cats": [{"n": i}, "x"]} for u in range(4) for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = structure_spec(loads_toml(lego(capsys, "data", "import", path, "--dry-run")[1]))
    assert spec.interactions.item_columns == {"meta": "text", "cats": "tags"}  # judged on their JSON text
    imported(capsys, path, "--out", tmp_path / "nested")
    assert Depot(tmp_path / "nested").items.strings("meta_text")[:2] == ['{"k": 0}', '{"k": 1}']
    path.write_text('{"user": {"a": 1}, "item": 2}\n{"user": [1], "item": 3}\n{"user": 5, "item": 3}\n')
    line = import_error(capsys, path, "--out", tmp_path / "d")
    assert f"{path}:1: no user id in column 'user'" in line


def test_missing_columns_and_json_keys_no_row_has(tmp_path: Path, capsys) -> None:
    spec = spec_file(tmp_path, capsys, *basic())
    line = import_error(capsys, *basic("--spec", spec, "--set", "interactions.rating=score", "--out", tmp_path / "d"))
    assert "ratings.csv:1: no column 'score'" in line and "columns: 'user_id', 'item_id'" in line
    line = import_error(capsys, *basic("--spec", spec, "--set", "items.columns.genre=tags", "--out", tmp_path / "d"))
    assert "movies.csv:1: no column 'genre'" in line
    jspec = spec_file(
        tmp_path,
        capsys,
        FIXTURES / "import-jsonl" / "reviews.jsonl",
        "--items",
        FIXTURES / "import-jsonl" / "items.jsonl",
    )
    line = import_error(
        capsys,
        FIXTURES / "import-jsonl" / "reviews.jsonl",
        "--items",
        FIXTURES / "import-jsonl" / "items.jsonl",
        "--spec",
        jspec,
        "--set",
        "items.columns.titel=text",
        "--out",
        tmp_path / "d",
    )
    assert "items.jsonl: no row has a value for 'titel'" in line


def test_a_column_named_by_set_that_the_file_lacks_stops_inference(tmp_path: Path, capsys) -> None:
    line = import_error(capsys, *basic("--dry-run", "--set", "interactions.user=uid"))
    assert "ratings.csv:1: no column 'uid' (columns: 'user_id', 'item_id'" in line
    assert "fix interactions.user (given by --set)" in line
    line = import_error(capsys, *basic("--dry-run", "--set", "items.id=movie"))
    assert "movies.csv:1: no column 'movie'" in line and "items.id (given by --set)" in line
    line = import_error(capsys, *basic("--dry-run", "--set", "interactions.rating=5"))  # TOML: a number
    assert "wrong type: got int 5, expected a column name (str) @ $.interactions.rating" in line


def test_spec_mistakes_are_config_errors_naming_the_key(tmp_path: Path, capsys) -> None:
    path = spec_file(tmp_path, capsys, BASIC / "ratings.csv")
    path.write_text(path.read_text().replace("split_rule", "splt_rule"))
    line = import_error(capsys, BASIC / "ratings.csv", "--spec", path, "--out", tmp_path / "d")
    assert "unknown key 'splt_rule' (did you mean 'split_rule'?)" in line
    line = import_error(capsys, BASIC / "ratings.csv", "--dry-run", "--set", "split_rule=later")
    assert "split_rule must be one of" in line and "'later'" in line
    line = import_error(capsys, *basic("--dry-run", "--set", "items.columns.title=words"))
    assert "roles must be one of" in line
    line = import_error(capsys, BASIC / "ratings.csv", "--dry-run", "--set", "interactions.timestamp_format=dmy")
    assert "strptime" in line
    line = import_error(capsys, BASIC / "ratings.csv", "--dry-run", "--set", "interactions.format=xls")
    assert "format must be one of 'csv', 'tsv', 'jsonl', 'parquet', got 'xls' @ $.interactions.format" in line
    path = spec_file(tmp_path, capsys, BASIC / "ratings.csv")
    line = import_error(
        capsys, BASIC / "ratings.csv", "--items", BASIC / "movies.csv", "--spec", path, "--out", tmp_path / "d"
    )
    assert "--items was given but the spec has no [items] table" in line
    line = import_error(
        capsys, BASIC / "ratings.csv", "--spec", path, "--set", "label_rule=column", "--out", tmp_path / "d"
    )
    assert 'label_rule = "column" needs a label column' in line


def test_problems_of_a_spec_are_all_reported(tmp_path: Path) -> None:
    spec = ImportSpec(
        split_rule="user_time",
        label_rule="column",
        interactions=InteractionsSpec(format="csv", header=False, user="u", item="u"),
        items=TableSpec(
            format="jsonl", id="", delimiter=";", columns={"item_id": "category", "a b": "text", "a_b": "category"}
        ),
    )
    problems = spec_problems(spec, has_items=True, has_users=True)
    text = "\n".join(problems)
    for expected in (
        "interactions: column 'u' is named twice",
        'label_rule = "column" needs a label column',
        'split_rule = "user_time" needs interactions.timestamp',
        "header = false needs interactions.names",
        "items.id is empty",
        "--users was given but the spec has no [users] table",
        "items: delimiter, header and names are for csv/tsv files",
        "keeps 'item_id' for itself",
        "would both write the items column 'a_b'",
    ):
        assert expected in text, (expected, problems)


def test_command_line_mistakes(tmp_path: Path, capsys) -> None:
    assert "no such file" in import_error(capsys, tmp_path / "nope.csv", "--out", tmp_path / "d")
    assert "not a file" in import_error(capsys, tmp_path, "--out", tmp_path / "d")
    assert "--out DEPOT is required" in import_error(capsys, BASIC / "ratings.csv")
    assert "--items" in import_error(capsys, BASIC / "ratings.csv", "--items", tmp_path / "x.csv", "--dry-run")
    line = import_error(capsys, BASIC / "ratings.csv", "--dry-run", "--set", "users.columns.age=category")
    assert "no users table without --users FILE" in line
    assert "a folder, not a spec file" in import_error(capsys, BASIC / "ratings.csv", "--spec", tmp_path, "--dry-run")
    assert "nope.toml: no such file" in import_error(
        capsys, BASIC / "ratings.csv", "--spec", tmp_path / "nope.toml", "--dry-run"
    )
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    line = import_error(capsys, BASIC / "ratings.csv", "--out", tmp_path / "mine")
    assert "not a depot" in line and (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# --------------------------------------------------------------------------------------------- command, docs


def test_the_command_is_registered_by_lego_datasets_and_stays_light(capsys) -> None:
    from lego_core.cli.command import COMMAND
    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries

    entry = Registries(PluginHost())[COMMAND].get("data import")
    assert entry.distribution == "lego-datasets"
    with pytest.raises(SystemExit) as exit_:
        main(["data", "import", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lego data import") and "--dry-run" in out and "--spec" in out
    code = "import sys, lego_datasets.import_command; print(sorted(sys.modules))"
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'torch'" not in modules and "'numpy'" not in modules


def test_every_spec_key_is_documented_in_the_page() -> None:
    page = DOCS.read_text()
    for cls in (ImportSpec, InteractionsSpec, TableSpec):
        for field in attrs.fields(cls):
            assert field.metadata.get("doc"), f"{cls.__name__}.{field.name} has no doc"
            forms = (f"`{field.name}`", f"`[{field.name}]`", f".{field.name}]`")  # a key, a table, a sub-table
            assert any(form in page for form in forms), f"{field.name} is not in {DOCS.name}"
    for rule in ("threshold", "all", "column", "user_time", "global_time", "random", "leave_one_out"):
        assert f"`{rule}`" in page
    from lego_datasets import import_infer

    for names in ("USER_NAMES", "ITEM_NAMES", "RATING_NAMES", "LABEL_NAMES", "TIME_NAMES", "SPLIT_NAMES"):
        listed = ", ".join(getattr(import_infer, names))
        assert listed in " ".join(page.split()), f"the page does not list {names} as the code has it"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    root = (Path(__file__).parents[3] / "README.md").read_text()
    assert "docs/your-own-data.md" in readme and "plugins/lego_datasets/docs/your-own-data.md" in root


# -------------------------------------------------------------------------------------------------- real data


@pytest.mark.real
def test_a_plain_csv_made_from_movielens_100k_trains(request, tmp_path: Path, capsys, train_small) -> None:
    """The done-when of issue 10: plain CSVs of ML-100K import with no spec and no processor, and train.

    The depot's interactions and histories are those of the ``movielens`` processor on
    the original files, array for array: the import and the processor share one protocol.
    """
    if "real" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("real data: run with -m real")
    from lego_datasets.fetch_ml100k import fetch_ml100k
    from lego_datasets.movielens import MovieLensProcessor

    repo = Path(__file__).resolve().parents[3]
    ml = fetch_ml100k(Path(os.environ.get("LEGO_DATA_CACHE") or repo / ".cache"))

    def atomic(name: str) -> list[list[str]]:
        return [line.split("\t") for line in (ml / name).read_text(encoding="utf-8").splitlines()[1:]]

    files = {
        "ratings.csv": (
            ["user_id", "item_id", "rating", "timestamp"],
            [[u, i, r, str(int(float(t)))] for u, i, r, t in atomic("ml-100k.inter")],
        ),
        "movies.csv": (
            ["item_id", "title", "year", "genres"],
            [[i, title, year, "|".join(genres.split())] for i, title, year, genres in atomic("ml-100k.item")],
        ),
        "users.csv": (["user_id", "age", "gender", "occupation", "zip_code"], atomic("ml-100k.user")),
    }
    for name, (header, body) in files.items():
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body)
    out = imported(
        capsys,
        tmp_path / "ratings.csv",
        "--items",
        tmp_path / "movies.csv",
        "--users",
        tmp_path / "users.csv",
        "--out",
        tmp_path / "depot",
    )
    spec = structure_spec(loads_toml(out[: out.index("\nwrote ")]))
    assert (spec.label_rule, spec.positive_threshold, spec.split_rule) == ("threshold", 4.0, "user_time")
    assert spec.items is not None and spec.items.columns == {"title": "text", "year": "category", "genres": "tags"}
    depot = Depot(tmp_path / "depot")
    info = depot.meta["info"]
    assert (info["persons"], info["items"], info["ratings"]) == (943, 1682, 100_000)
    assert sum(info["skipped_rows"].values()) == 0 and depot.items.strings("title_text")[0] == "Toy Story"
    assert {"age", "gender", "occupation"} <= set(depot.users) and "zip_code" not in depot.users
    prepare(MovieLensProcessor(), ml, tmp_path / "movielens")
    assert same_interactions(depot, Depot(tmp_path / "movielens"))
    results = train_small(tmp_path / "depot", tmp_path / "run", batch_size=1024)  # 80k train rows: 79 steps
    assert {"valid", "test"} <= set(results)
