"""Readers of the GroupLens MovieLens files: 100K, 1M/10M (``::``) and 20M/25M/latest (CSV).

Each reader returns the same three things: a :class:`Catalog` of movies, the
:class:`People` who rated, and the :class:`~lego_datasets.splits.Ratings`.
The formats are those of ``shared/datasets/FORMATS.md`` section 9; the older
files (``u.item``, ``movies.dat``) are ISO-8859-1, read per line as UTF-8 with
a Latin-1 fallback so a copy re-saved as UTF-8 reads the same; the CSV files
are UTF-8, and a line that is not is a bad row.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import attrs
import numpy as np

from lego_datasets.reader import RowErrors, read_rows
from lego_datasets.splits import Ratings

GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
NO_GENRES = "(no genres listed)"
_YEAR = re.compile(r"^(.*?)\s*\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)\s*$")

U_DATA = "TAB-separated user_id, item_id, rating (1-5), timestamp (Unix seconds); no header"
U_ITEM = (
    "PIPE-separated movie_id|title|release_date|video_release_date|IMDb_URL| then 19 genre flags 0/1; "
    "ISO-8859-1; no header"
)
U_USER = "PIPE-separated user_id|age|gender|occupation|zip_code; no header"
RATINGS_DAT = "UserID::MovieID::Rating::Timestamp (Unix seconds); no header"
MOVIES_DAT = "MovieID::Title (Year)::Genre|Genre; ISO-8859-1; no header"
USERS_DAT = "UserID::Gender::Age::Occupation::Zip-code; no header"
TAGS_DAT = "UserID::MovieID::Tag::Timestamp; no header (ml-10m)"
RATINGS_CSV = "CSV with header userId,movieId,rating,timestamp; UTF-8"
MOVIES_CSV = 'CSV with header movieId,title,genres; UTF-8; titles with commas are "quoted"'
TAGS_CSV = "CSV with header userId,movieId,tag,timestamp; UTF-8"


@attrs.define
class Catalog:
    """Movies in file order: ids, titles without the year, years, genres, tags (``None``: no tag file)."""

    ids: list[str] = attrs.field(factory=list)
    titles: list[str] = attrs.field(factory=list)
    years: list[str | None] = attrs.field(factory=list)
    genres: list[list[str]] = attrs.field(factory=list)
    tags: list[list[str]] | None = None
    index: dict[str, int] = attrs.field(factory=dict)

    def add(self, movie: str, title: str, year: str | None, genres: list[str]) -> None:
        self.index[movie] = len(self.ids)
        self.ids.append(movie)
        self.titles.append(title)
        self.years.append(year)
        self.genres.append(genres)


@attrs.define
class People:
    """The users file's people in file order, then people first seen in the ratings."""

    index: dict[str, int] = attrs.field(factory=dict)
    attributes: dict[str, list[str | None]] = attrs.field(factory=dict)

    @property
    def ids(self) -> list[str]:
        return list(self.index)

    def filled(self) -> dict[str, list[str | None]]:
        """Attributes padded with ``None`` for the people who are not in the users file."""
        return {k: values + [None] * (len(self.index) - len(values)) for k, values in self.attributes.items()}


def split_year(title: str) -> tuple[str, str | None]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", "1995")``; a title without a year keeps it all."""
    found = _YEAR.match(title)
    return (found.group(1), found.group(2)) if found and found.group(1) else (title.strip(), None)


def read_100k(raw: Path, errors: RowErrors, threshold: float) -> tuple[Catalog, People, Ratings]:
    catalog, people = Catalog(), People()
    path = raw / "u.item"
    for number, f in read_rows(path, errors, sep="|", columns=24, expected=U_ITEM, latin1_fallback=True):
        flags = f[5:]
        if any(flag not in ("0", "1") for flag in flags):
            errors.bad(path, number, f"genre flags {'|'.join(flags)!r} are not all 0 or 1", U_ITEM)
        elif _known(catalog.index, path, number, f[0], errors):
            title, year = split_year(f[1])
            date_year = f[2].strip()[-4:]
            catalog.add(
                f[0],
                title,
                year or (date_year if date_year.isdigit() else None),
                [g for g, flag in zip(GENRES_100K[1:], flags[1:], strict=True) if flag == "1"],
            )
    if (raw / "u.user").is_file():
        _people(
            people,
            raw / "u.user",
            errors,
            sep="|",
            expected=U_USER,
            fields=("age", "gender", "occupation"),
            positions=(1, 2, 3),
        )
    rows = read_rows(raw / "u.data", errors, sep="\t", columns=4, expected=U_DATA)
    return catalog, people, _ratings(rows, raw / "u.data", errors, catalog, people, threshold, U_DATA, "u.item")


def read_1m(raw: Path, errors: RowErrors, threshold: float, max_tags: int) -> tuple[Catalog, People, Ratings]:
    catalog, people = Catalog(), People()
    path = raw / "movies.dat"
    for number, f in read_rows(path, errors, sep="::", columns=3, expected=MOVIES_DAT, latin1_fallback=True):
        if _known(catalog.index, path, number, f[0], errors):
            catalog.add(f[0], *split_year(f[1]), _genres(f[2]))
    if (raw / "users.dat").is_file():
        _people(
            people,
            raw / "users.dat",
            errors,
            sep="::",
            expected=USERS_DAT,
            fields=("gender", "age", "occupation"),
            positions=(1, 2, 3),
        )
    if (raw / "tags.dat").is_file():
        rows = read_rows(raw / "tags.dat", errors, sep="::", columns=4, expected=TAGS_DAT, latin1_fallback=True)
        catalog.tags = _tags(rows, raw / "tags.dat", errors, catalog, max_tags, TAGS_DAT)
    rows = read_rows(raw / "ratings.dat", errors, sep="::", columns=4, expected=RATINGS_DAT)
    ratings = _ratings(rows, raw / "ratings.dat", errors, catalog, people, threshold, RATINGS_DAT, "movies.dat")
    return catalog, people, ratings


def read_csv(raw: Path, errors: RowErrors, threshold: float, max_tags: int) -> tuple[Catalog, People, Ratings]:
    catalog, people = Catalog(), People()
    path = raw / "movies.csv"
    for number, f in read_rows(
        path, errors, sep=",", columns=3, expected=MOVIES_CSV, header=("movieId", "title", "genres")
    ):
        if _known(catalog.index, path, number, f[0], errors):
            catalog.add(f[0], *split_year(f[1]), _genres(f[2]))
    if (raw / "tags.csv").is_file():
        rows = read_rows(
            raw / "tags.csv",
            errors,
            sep=",",
            columns=4,
            expected=TAGS_CSV,
            header=("userId", "movieId", "tag", "timestamp"),
        )
        catalog.tags = _tags(rows, raw / "tags.csv", errors, catalog, max_tags, TAGS_CSV)
    rows = read_rows(
        raw / "ratings.csv",
        errors,
        sep=",",
        columns=4,
        expected=RATINGS_CSV,
        header=("userId", "movieId", "rating", "timestamp"),
    )
    ratings = _ratings(rows, raw / "ratings.csv", errors, catalog, people, threshold, RATINGS_CSV, "movies.csv")
    return catalog, people, ratings


def _known(index: dict[str, int], path: Path, number: int, movie: str, errors: RowErrors) -> bool:
    """A movie row is usable: a non-empty id seen for the first time."""
    if not movie.strip():
        errors.bad(path, number, "empty movie id", "a movie id in the first field")
        return False
    if movie in index:
        errors.bad(path, number, f"movie {movie!r} is listed twice", "one row per movie")
        return False
    return True


def _genres(field: str) -> list[str]:
    return [] if field.strip() in ("", NO_GENRES) else [g.strip() for g in field.split("|") if g.strip()]


def _people(
    people: People,
    path: Path,
    errors: RowErrors,
    *,
    sep: str,
    expected: str,
    fields: tuple[str, ...],
    positions: tuple[int, ...],
) -> None:
    people.attributes = {name: [] for name in fields}
    for number, f in read_rows(path, errors, sep=sep, columns=5, expected=expected):
        user = f[0].strip()
        if not user or user in people.index:
            errors.bad(path, number, f"user {user!r} is empty or listed twice", "one row per user")
            continue
        people.index[user] = len(people.index)
        for name, at in zip(fields, positions, strict=True):
            people.attributes[name].append(f[at].strip() or None)


def _tags(
    rows: Iterator[tuple[int, list[str]]], path: Path, errors: RowErrors, catalog: Catalog, max_tags: int, expected: str
) -> list[list[str]]:
    """Each movie's most applied tags (lower-cased), most frequent first, at most ``max_tags``."""
    counts: list[Counter[str]] = [Counter() for _ in catalog.ids]
    for number, f in rows:
        index = catalog.index.get(f[1].strip())
        if index is None:
            errors.bad(path, number, f"movie {f[1]!r} is not in the movies file", expected)
            continue
        tag = " ".join(f[2].lower().split())
        if tag:
            counts[index][tag] += 1

    def by_count(tags: Counter[str]) -> list[str]:
        return sorted(tags, key=lambda t: (-tags[t], t))

    return [by_count(c)[:max_tags] if max_tags else sorted(c) for c in counts]


def _ratings(
    rows: Iterator[tuple[int, list[str]]],
    path: Path,
    errors: RowErrors,
    catalog: Catalog,
    people: People,
    threshold: float,
    expected: str,
    movies_file: str,
) -> Ratings:
    persons, items, labels, times = array("q"), array("q"), array("b"), array("q")  # compact for ml-25m
    for number, (user, movie, rating, timestamp) in rows:
        user, movie = user.strip(), movie.strip()
        index = catalog.index.get(movie)
        if not user:
            errors.bad(path, number, "empty user id", expected)
            continue
        if index is None:
            errors.bad(path, number, f"movie {movie!r} is not in {movies_file}", expected)
            continue
        try:
            value = float(rating)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            errors.bad(path, number, f"rating {rating!r} is not a number", expected)
            continue
        try:
            seconds = int(timestamp)
        except ValueError:
            errors.bad(path, number, f"timestamp {timestamp!r} is not an integer (Unix seconds)", expected)
            continue
        persons.append(people.index.setdefault(user, len(people.index)))
        items.append(index)
        labels.append(value >= threshold)
        times.append(seconds)
    return Ratings(
        person=np.array(persons, dtype=np.int64),
        item=np.array(items, dtype=np.int64),
        time=np.array(times, dtype=np.int64),
        label=np.array(labels, dtype=np.float32),
    )
