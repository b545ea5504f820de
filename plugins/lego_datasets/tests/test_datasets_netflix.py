"""The netflix processor on hand-made Netflix Prize fixtures (Kaggle repack and the official layout)."""

from __future__ import annotations

import datetime
import gzip
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets import netflix_blocks
from lego_datasets.netflix import NetflixOptions, NetflixProcessor
from lego_datasets.netflix_blocks import BlockReader
from lego_datasets.reader import RowErrors

FIXTURES = Path(__file__).parent / "fixtures"
KAGGLE, OFFICIAL = FIXTURES / "netflix", FIXTURES / "netflix-official"
DAY = 86400


def nf(**options) -> NetflixProcessor:
    return NetflixProcessor(NetflixOptions(**options))


def unix(date: str) -> int:
    return (datetime.date.fromisoformat(date) - datetime.date(1970, 1, 1)).days * DAY


def raw_ratings(folder: Path = KAGGLE) -> list[tuple[str, str, int, int]]:
    """(customer, movie, rating, Unix seconds) of the rating files, read independently of the processor."""
    out, movie = [], None
    for part in sorted(folder.glob("combined_data_*.txt")):
        for line in part.read_text().splitlines():
            if line.endswith(":"):
                movie = line[:-1]
            else:
                customer, rating, date = line.split(",")
                out.append((customer, movie, int(rating), unix(date)))
    return out


def probe_pairs(folder: Path = KAGGLE) -> set[tuple[str, str]]:
    pairs, movie = set(), None
    for line in (folder / "probe.txt").read_text().splitlines():
        if line.endswith(":"):
            movie = line[:-1]
        else:
            pairs.add((line, movie))
    return pairs


def test_kaggle_layout_gives_items_customers_and_threshold_labels(tmp_path: Path, build, rows) -> None:
    depot = build(nf(), KAGGLE, tmp_path / "d")
    info, ratings = depot.meta["info"], raw_ratings()
    assert info["layout"] == "kaggle" and info["rating_files"] == [f"combined_data_{p}.txt" for p in (1, 2, 3, 4)]
    assert (info["items"], info["persons"], info["ratings"], info["movies_rated"]) == (9, 6, 44, 8)
    assert sum(depot.table(s).num_rows for s in depot.splits) == 44 and depot.splits == ["train", "valid", "test"]
    truth = {(c, m): (float(r >= 4), t) for c, m, r, t in ratings}
    got = [(r["person"], r["item"], r["label"], r["time"]) for s in depot.splits for r in rows(depot, s)]
    assert sorted(got) == sorted((c, m, *truth[(c, m)]) for c, m, _, _ in ratings)  # every rating, 3s included
    # customers numbered in id order; the titles file in file order, split at the first two commas, Latin-1
    assert depot.vocab("user_id")[1:] == sorted({c for c, *_ in ratings}, key=int)
    assert depot.vocab("item_id")[1:] == [str(m) for m in range(1, 10)]
    titles = depot.items.strings("title_text")
    assert [titles[i] for i in (1, 2, 3, 5, 8)] == [
        "The Lighthouse Keeper, Part One",
        "Café Lumière",
        "Night Train, Day Train, Any Train",
        "Señor Robles: Season 1",
        "Never Rated, Not Once",
    ]
    years = depot.vocab("year")
    assert [years[y] for y in np.asarray(depot.items["year"])] == [
        "2003",
        "1997",
        "2004",
        "1994",
        "2001",
        "1999",
        "<unk>",
        "2005",
        "1987",
    ]  # NULL is unknown
    assert info["years_missing"] == 1 and depot.items.kind("title") == "tokens"
    assert depot.items.vocab_name("title") == "words" and "users" in depot.table_names
    assert set(depot.users) == {"user_id", "history"}  # Netflix has no user attributes


def test_per_user_split_puts_each_customers_latest_ratings_in_valid_and_test(tmp_path: Path, build, rows) -> None:
    depot = build(nf(valid_fraction=0.2, test_fraction=0.2), KAGGLE, tmp_path / "d")
    ratings = raw_ratings()
    for customer in {c for c, *_ in ratings}:
        mine = [(t, i) for i, (c, _, _, t) in enumerate(ratings) if c == customer]
        n = len(mine)
        want_test, want_valid = max(round(0.2 * n), 1), max(round(0.2 * n), 1)
        times = {s: sorted(r["time"] for r in rows(depot, s) if r["person"] == customer) for s in depot.splits}
        assert (len(times["test"]), len(times["valid"])) == (want_test, want_valid)
        assert max(times["train"]) <= min(times["valid"]) and max(times["valid"]) <= min(times["test"])
        ordered = [t for t, _ in sorted(mine)]  # ties keep file order: the split cuts the sorted list
        assert times["test"] == ordered[n - want_test :]


@pytest.mark.parametrize("split_by", ["user", "time", "probe"])
def test_histories_are_leakage_free(tmp_path: Path, split_by: str, build, check_leakage) -> None:
    depot = build(nf(split_by=split_by, context_size=2, eval_negatives=2), KAGGLE, tmp_path / "d")
    ratings = raw_ratings()
    times = {(c, m): t for c, m, _, t in ratings}
    labels = {(c, m): float(r >= 4) for c, m, r, _ in ratings}
    assert check_leakage(depot, times, labels) > 0


def test_probe_split_tests_on_the_probe_set(tmp_path: Path, build, rows) -> None:
    depot = build(nf(split_by="probe"), KAGGLE, tmp_path / "d")
    info = depot.meta["info"]
    assert info["probe"] == {"listed": 6, "test_ratings": 6, "outside_parts": 0}
    assert {(r["person"], r["item"]) for r in rows(depot, "test")} == probe_pairs()
    train, valid = rows(depot, "train"), rows(depot, "valid")
    assert not probe_pairs() & {(r["person"], r["item"]) for r in train + valid}
    for customer in {r["person"] for r in valid}:  # valid: each customer's latest non-probe ratings
        assert max(r["time"] for r in train if r["person"] == customer) <= min(
            r["time"] for r in valid if r["person"] == customer
        )
    assert len(rows(depot, "train")) + len(valid) == 44 - 6


def test_probe_split_needs_probe_txt(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "netflix")
    (raw / "probe.txt").unlink()
    prepare(nf(), raw, tmp_path / "fine")  # only split_by = "probe" reads it
    with pytest.raises(DataError) as err:
        prepare(nf(split_by="probe"), raw, tmp_path / "d")
    assert "MISSING" in str(err.value) and "probe.txt" in str(err.value)


def test_official_layout_tar_and_compressed_copies_give_the_same_depot(tmp_path: Path, build, column_arrays) -> None:
    kaggle = column_arrays(build(nf(), KAGGLE, tmp_path / "kaggle"))
    official = build(nf(), OFFICIAL, tmp_path / "official")
    assert official.meta["info"]["layout"] == "official" and official.meta["info"]["rating_files"] == 8
    # the Prize archive's training_set.tar, read without unpacking it
    archived = tmp_path / "archived"
    archived.mkdir()
    shutil.copy(OFFICIAL / "movie_titles.txt", archived)
    with tarfile.open(archived / "training_set.tar", "w") as tar:
        tar.add(OFFICIAL / "training_set", arcname="training_set")
    # the Kaggle files compressed, and one rating file with CRLF endings and a byte-order mark
    packed = tmp_path / "packed"
    packed.mkdir()
    for f in KAGGLE.iterdir():
        data = f.read_bytes()
        if f.name == "combined_data_3.txt":
            (packed / f.name).write_bytes(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"))
        else:
            (packed / f"{f.name}.gz").write_bytes(gzip.compress(data))
    for folder in (OFFICIAL, archived, packed):
        other = column_arrays(build(nf(), folder, tmp_path / f"d-{folder.name}"))
        assert other.keys() == kaggle.keys() and all(np.array_equal(other[k], kaggle[k]) for k in kaggle), folder


def test_parts_reads_a_subset_of_the_kaggle_files(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "netflix")
    (raw / "combined_data_4.txt").unlink()  # not needed when parts leaves it out
    names = [f.name for f in nf(parts=[1, 3]).expected_files(raw)]
    assert names == ["combined_data_1.txt", "combined_data_3.txt", "movie_titles.csv", "probe.txt"]
    depot = build(nf(parts=[1, 3], split_by="probe"), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert info["ratings"] == 22 and info["movies_rated"] == 4 and info["items"] == 9
    assert info["probe"] == {"listed": 6, "test_ratings": 4, "outside_parts": 2}  # pairs of movies 5-8 ignored
    with pytest.raises(ValueError, match="parts"):
        NetflixOptions(parts=[5])
    with pytest.raises(ValueError, match="parts"):
        NetflixOptions(parts=[1, 1])
    with pytest.raises(ValueError, match="split_by"):
        NetflixOptions(split_by="random")


def test_eval_negatives_are_stored_once_and_deterministic(tmp_path: Path, build, column_arrays, rows) -> None:
    a = column_arrays(build(nf(eval_negatives=2, seed=5), KAGGLE, tmp_path / "a"))
    b = column_arrays(build(nf(eval_negatives=2, seed=5), KAGGLE, tmp_path / "b"))
    c = column_arrays(build(nf(eval_negatives=2, seed=6), KAGGLE, tmp_path / "c"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    depot = build(nf(eval_negatives=2, seed=5), KAGGLE, tmp_path / "a")  # same inputs: not rebuilt
    rated = {(cu, m) for cu, m, _, _ in raw_ratings()}
    customers = {cu for cu, _ in rated}
    unrated = {cu: 9 - sum(1 for c, _ in rated if c == cu) for cu in customers}  # 9 movies in the titles
    want = sum(min(2, n) for n in unrated.values())
    assert depot.meta["info"]["sampled_negatives"] == {"train": 0, "valid": want, "test": want} and want >= 6
    for split in ("valid", "test"):
        sampled = [r for r in rows(depot, split) if (r["person"], r["item"]) not in rated]
        assert len(sampled) == want and all(r["label"] == 0.0 for r in sampled)
        assert all(sum(1 for r in sampled if r["person"] == cu) == min(2, unrated[cu]) for cu in customers)


MALFORMED = {  # variant -> ("file:line:", words in the message, skipped rows, ratings left, options)
    "netflix-rating": ("combined_data_2.txt:4:", "rating '6' is not a whole number", {"combined_data_2.txt": 1}, 43),
    "netflix-date": ("combined_data_1.txt:5:", "date '2005-02-30'", {"combined_data_1.txt": 1}, 43),
    "netflix-columns": ("combined_data_3.txt:3:", "2 fields where 3 were expected", {"combined_data_3.txt": 1}, 43),
    "netflix-customer": ("combined_data_4.txt:3:", "customer id '14888x4'", {"combined_data_4.txt": 1}, 43),
    # a bad block header takes its block's rows along
    "netflix-unknown-movie": (
        "combined_data_4.txt:7:",
        "movie 99 is not in movie_titles.csv",
        {"combined_data_4.txt": 7},
        38,
    ),
    "netflix-second-block": ("combined_data_2.txt:8:", "movie 1 has a second block", {"combined_data_2.txt": 6}, 39),
    "netflix-no-header": ("combined_data_3.txt:1:", "before the first MovieID: header", {"combined_data_3.txt": 6}, 38),
    "netflix-titles": ("movie_titles.csv:5:", "year '20O1'", {"movie_titles.csv": 1, "combined_data_3.txt": 7}, 38),
}


@pytest.mark.parametrize("variant", list(MALFORMED))
def test_malformed_rows_name_file_and_line_or_are_skipped_and_counted(
    tmp_path: Path, variant: str, build, raw_folder
) -> None:
    where, what, skipped, left = MALFORMED[variant]
    raw = raw_folder(tmp_path, "netflix", variant)
    with pytest.raises(DataError) as err:
        nf().build(raw)
    message = str(err.value)
    assert where in message and what in message and "(expected " in message and "skip_bad_rows" in message
    depot = build(nf(skip_bad_rows=True), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert {name: n for name, n in info["skipped_rows"].items() if n} == skipped
    assert info["ratings"] == left


@pytest.mark.parametrize(
    "variant, where, what, test_ratings",
    [
        ("netflix-probe", "probe.txt:5:", "is not among the ratings read", 5),
        ("netflix-probe-twice", "probe.txt:6:", "is listed twice", 6),
    ],
)
def test_a_probe_pair_that_is_no_rating_or_repeated_is_a_bad_row(
    tmp_path: Path, variant: str, where: str, what: str, test_ratings: int, build, raw_folder
) -> None:
    raw = raw_folder(tmp_path, "netflix", variant)
    nf().build(raw)  # probe.txt is not read by the default split
    with pytest.raises(DataError) as err:
        nf(split_by="probe").build(raw)
    assert where in str(err.value) and what in str(err.value) and "skip_bad_rows" in str(err.value)
    depot = build(nf(split_by="probe", skip_bad_rows=True), raw, tmp_path / "d")
    assert depot.meta["info"]["skipped_rows"]["probe.txt"] == 1
    assert depot.meta["info"]["probe"]["test_ratings"] == test_ratings


def test_missing_files_list_what_is_expected(tmp_path: Path, raw_folder) -> None:
    raw = raw_folder(tmp_path, "netflix")
    (raw / "combined_data_3.txt").unlink()
    with pytest.raises(DataError) as err:
        prepare(nf(), raw, tmp_path / "d")
    assert "MISSING" in str(err.value) and "combined_data_3.txt" in str(err.value)
    assert "kaggle.com" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as err:
        prepare(nf(), empty, tmp_path / "d")
    for name in (
        "combined_data_1.txt",
        "combined_data_4.txt",
        "movie_titles.csv",
        "training_set/mv_0000001.txt",
        "movie_titles.txt",
    ):
        assert name in str(err.value)


def test_a_damaged_archive_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(OFFICIAL / "movie_titles.txt", raw)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(OFFICIAL / "training_set", arcname="training_set")
    (raw / "training_set.tar").write_bytes(buffer.getvalue()[:1500])
    with pytest.raises(DataError, match="damaged or cut short"):
        nf().build(raw)


def slow_reference(lines: list[bytes], kind: str, movies: dict[str, int]) -> tuple[list[tuple], int]:
    """What the reader must return, one line at a time through its slow path: rows and bad-row count."""
    reader = BlockReader(kind, movies, RowErrors(Path("/x"), skip=True), "x")
    out, bad, state = [], 0, netflix_blocks.NO_BLOCK
    for number, raw in enumerate(lines, start=1):
        kind_of, value = reader._slow(raw.rstrip(b"\r"), number)
        if kind_of == "header":
            item = movies.get(str(int(value))) if value.isdigit() else None
            if item is None or item in reader.seen:
                state, bad = netflix_blocks.BAD_BLOCK, bad + 1
            else:
                reader.seen.add(item)
                state = item
        elif kind_of == "row":
            if state >= 0:
                out.append((value[0], state, value[1], value[2]) if kind == "rating" else (value[0], state))
            else:
                bad += 1
        elif kind_of == "bad":
            bad += 1
    return out, bad


def random_lines(rng: np.random.Generator, kind: str) -> list[bytes]:
    """Valid rows and headers, with mutations of every kind, blank lines and CRLF."""
    lines = []
    for _ in range(int(rng.integers(1, 400))):
        roll = rng.random()
        if roll < 0.06:
            lines.append(f"{int(rng.integers(0, 8))}:".encode())
            continue
        customer = str(int(rng.integers(1, 10 ** int(rng.integers(1, 11)))))
        date = f"{int(rng.integers(1998, 2006))}-{int(rng.integers(0, 14)):02d}-{int(rng.integers(0, 33)):02d}"
        line = (f"{customer},{int(rng.integers(0, 7))},{date}" if kind == "rating" else customer).encode()
        if roll < 0.12:  # a mutation: a byte replaced, removed or added
            at = int(rng.integers(0, len(line)))
            line = line[:at] + bytes([int(rng.choice(list(b"0,9-: x\xe9")))]) + line[at + int(rng.integers(0, 2)) :]
        elif roll < 0.14:
            line = b""
        elif roll < 0.16:
            line = b" " + line + b" "
        lines.append(line + (b"\r" if rng.random() < 0.1 else b""))
    return lines


@pytest.mark.parametrize("seed", range(30))
def test_the_fast_parser_reads_exactly_what_the_slow_path_reads(seed: int, monkeypatch) -> None:
    """On random lines (valid, mutated, blank, CRLF) in tiny chunks: the same rows, the same bad-row count."""
    rng = np.random.default_rng(seed)
    kind = ("rating", "probe")[seed % 2]
    movies = {str(m): m - 1 for m in range(1, 6)}
    lines = random_lines(rng, kind)
    monkeypatch.setattr(netflix_blocks, "CHUNK_BYTES", int(rng.choice([7, 64, 1 << 20])))
    errors = RowErrors(Path("/x"), skip=True)
    reader = BlockReader(kind, movies, errors, "x")
    reader.read_stream(io.BytesIO(b"\n".join(lines) + (b"\n" if seed % 3 else b"")), Path("/x/f.txt"))
    got = reader.arrays()
    columns = ("customer", "item", "rating", "day") if kind == "rating" else ("customer", "item")
    expected, bad = slow_reference(lines, kind, movies)
    assert list(zip(*(got[c].tolist() for c in columns), strict=True)) == expected
    assert errors.total == bad


def test_dates_become_utc_midnights_and_every_row_costs_13_bytes() -> None:
    reader = BlockReader("rating", {"1": 0}, RowErrors(Path("/x"), skip=False), "x")
    dates = ["1999-11-11", "2000-02-29", "2004-12-31", "2005-03-01", "1970-01-01"]
    reader.read_stream(
        io.BytesIO(b"1:\n" + b"".join(f"{n + 1},3,{d}\n".encode() for n, d in enumerate(dates))), Path("/x/f.txt")
    )
    assert (reader.arrays()["day"] * DAY).tolist() == [unix(d) for d in dates]
    assert sum(getattr(reader, name).itemsize for name in ("customer", "item", "rating", "day")) == 13


def test_a_prepared_depot_trains_end_to_end(tmp_path: Path, train_small) -> None:
    prepare(NetflixProcessor(), KAGGLE, tmp_path / "depot")
    results = train_small(tmp_path / "depot", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
