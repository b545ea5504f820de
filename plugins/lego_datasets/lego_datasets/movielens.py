"""The ``movielens`` processor: MovieLens ratings in any official layout, split by time.

Layouts, detected in ``--raw`` in this order (or forced with ``layout``):

- ``100k``: ``u.data``, ``u.item`` (19 genre flags), ``u.user`` (age, gender, occupation).
- ``1m``: ``ratings.dat``, ``movies.dat``, ``users.dat``; the same reader takes ml-10m
  (no ``users.dat``, half-star ratings, ``tags.dat``).
- ``csv``: ml-20m, ml-25m, ml-latest(-small): ``ratings.csv``, ``movies.csv``, ``tags.csv``.
- ``recbole``: RecBole atomic files ``NAME.inter``/``.item``/``.user``, or the
  pre-split ``NAME.train.inter``/``.valid.inter``/``.test.inter`` (kept row for row).

Items: ``title`` + ``title_text`` (the GroupLens year in parentheses moved out of
the title), ``genres`` (tokens, vocabulary ``genres``; 100K's "unknown" flag and
"(no genres listed)" give none), ``year`` (category) and, with a tag file,
``tags`` (a movie's ``max_tags`` most applied tags, lower-cased, vocabulary
``tags``; item content aggregated over all users and times, as usual). Users:
``age``, ``gender``, ``occupation`` (categories; 1M keeps its codes) where the
layout has them.

Interactions follow the protocol of :mod:`lego_datasets.splits`: labels from
``positive_threshold``, per-user (or global) time-ordered splits, one history
row per chunk of ``context_size`` train ratings and per user for valid and
test, histories of strictly earlier positives, optional sampled evaluation
negatives.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "ml-100k"
    >>> content = MovieLensProcessor().build(raw)
    >>> content.info["layout"], content.info["items"], content.info["ratings"]
    ('100k', 8, 40)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets import grouplens as gl
from lego_datasets.atomic import (
    AtomicFile,
    atomic_files,
    atomic_ratings,
    atomic_stems,
    read_atomic_dataset,
    unique_ids,
)
from lego_datasets.columns import category_column, id_column, text_columns, token_list_column
from lego_datasets.reader import RowErrors
from lego_datasets.splits import RatingOptions, Ratings, one_of, rating_depot

LAYOUTS = ("auto", "100k", "1m", "csv", "recbole")
SOURCE = "https://grouplens.org/datasets/movielens/"
LAYOUT_FILES = {
    "100k": (
        RawFile("u.data", gl.U_DATA, SOURCE),
        RawFile("u.item", gl.U_ITEM, SOURCE),
        RawFile("u.user", gl.U_USER, SOURCE, optional=True),
    ),
    "1m": (
        RawFile("ratings.dat", gl.RATINGS_DAT, SOURCE),
        RawFile("movies.dat", gl.MOVIES_DAT, SOURCE),
        RawFile("users.dat", gl.USERS_DAT, SOURCE, optional=True),
        RawFile("tags.dat", gl.TAGS_DAT, SOURCE, optional=True),
    ),
    "csv": (
        RawFile("ratings.csv", gl.RATINGS_CSV, SOURCE),
        RawFile("movies.csv", gl.MOVIES_CSV, SOURCE),
        RawFile("tags.csv", gl.TAGS_CSV, SOURCE, optional=True),
    ),
}
KEY_FILES = {"100k": "u.data", "1m": "ratings.dat", "csv": "ratings.csv"}
ANY_LAYOUT = tuple(
    RawFile(f.name, f"one layout is enough; {layout.upper()}: {f.format}", f.source)
    for layout, files in LAYOUT_FILES.items()
    for f in files
    if not f.optional
) + (
    RawFile(
        "NAME.inter",
        "one layout is enough; RecBole atomic interactions (user_id:token item_id:token "
        "rating:float timestamp:float), with optional NAME.item and NAME.user",
        "pip download --no-deps recbole==1.2.1 (ml-100k), or https://recbole.io/dataset_list.html",
    ),
)
USER_ATTRIBUTES = ("age", "gender", "occupation")
RECBOLE_FIELDS = {
    "title": ("movie_title", "title"),
    "year": ("release_year", "year"),
    "genres": ("class", "genre", "genres"),
}


@attrs.define(kw_only=True, frozen=True)
class MovieLensOptions(RatingOptions):
    layout: str = attrs.field(
        default="auto",
        validator=one_of(LAYOUTS),
        metadata={"doc": "Raw layout; auto detects 100k, 1m, csv, then recbole."},
    )
    dataset: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={"doc": "RecBole layout: NAME of NAME.inter; empty finds the only one."},
    )
    max_tags: int = attrs.field(
        default=20,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most applied tags kept per movie (tag files only); 0 keeps all."},
    )


class MovieLensProcessor(Processor):
    name = "movielens"
    description = (
        "MovieLens ratings (100K, 1M, 10M, 20M/25M/latest, or RecBole atomic files): titles, genres, "
        "years, tags, user attributes; time-ordered splits with leakage-free histories."
    )
    files = ANY_LAYOUT
    Options = MovieLensOptions

    def detect(self, raw: Path) -> tuple[str, str] | None:
        """``(layout, RecBole dataset name)`` of the files in ``raw``, or ``None`` when none is there."""
        o: MovieLensOptions = self.options
        raw = Path(raw)
        for layout, key in KEY_FILES.items():
            if o.layout in ("auto", layout) and (raw / key).is_file():
                return layout, ""
            if o.layout == layout:
                return layout, ""  # forced: expected_files says what is missing
        if o.layout in ("auto", "recbole"):
            stems = [o.dataset] if o.dataset else atomic_stems(raw)
            if len(stems) > 1:
                raise DataError(
                    f"{raw} holds RecBole files of several datasets ({', '.join(stems)}); "
                    f"choose one with the option dataset=NAME"
                )
            if stems:
                return "recbole", stems[0]
        return None

    def expected_files(self, raw: Path) -> list[RawFile]:
        found = self.detect(raw)
        if found is None:
            return list(ANY_LAYOUT)
        layout, name = found
        return atomic_files(Path(raw), name, "MovieLens") if layout == "recbole" else list(LAYOUT_FILES[layout])

    def build(self, raw: Path) -> DepotContent:
        o: MovieLensOptions = self.options
        raw = Path(raw)
        found = self.detect(raw)
        if found is None:
            names = ", ".join(f.name for f in ANY_LAYOUT)
            raise DataError(f"{raw}: no MovieLens layout found (expected one of: {names})")
        layout, name = found
        errors = RowErrors(raw, o.skip_bad_rows)
        notes: dict = {}
        if layout == "100k":
            catalog, people, ratings = gl.read_100k(raw, errors, o.positive_threshold)
        elif layout == "1m":
            catalog, people, ratings = gl.read_1m(raw, errors, o.positive_threshold, o.max_tags)
        elif layout == "csv":
            catalog, people, ratings = gl.read_csv(raw, errors, o.positive_threshold, o.max_tags)
        else:
            catalog, people, ratings, notes = self._read_recbole(raw, name, errors)

        item_ids, item_vocab = id_column(catalog.ids, "item_id")
        text, words = text_columns({"title": catalog.titles})
        genres, genre_vocab = token_list_column(catalog.genres, "genres")
        year, year_vocab = category_column(catalog.years, "year")
        items: dict[str, Column] = {"item_id": item_ids, **text, "genres": genres, "year": year}
        vocabs = {"item_id": item_vocab, "words": words, "genres": genre_vocab, "year": year_vocab}
        if catalog.tags is not None:
            items["tags"], vocabs["tags"] = token_list_column(catalog.tags, "tags")
        person_columns = {}
        for attribute, values in people.filled().items():
            person_columns[attribute], vocabs[attribute] = category_column(values, attribute)
        info = {"layout": layout, **({"dataset": name} if name else {}), **notes, "skipped_rows": errors.counts}
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=people.ids,
            person_columns=person_columns,
            ratings=ratings,
            options=o,
            info=info,
        )

    def _read_recbole(
        self, raw: Path, name: str, errors: RowErrors
    ) -> tuple[gl.Catalog, gl.People, Ratings, dict[str, Any]]:
        """MovieLens in RecBole atomic files, through the shared atomic reader."""
        o: MovieLensOptions = self.options
        ds = read_atomic_dataset(raw, name, errors, user_field="user_id", item_field="item_id")
        catalog, people = gl.Catalog(), gl.People()
        if ds.item is not None:
            ids, rows = unique_ids(ds.item, "item_id", errors)
            title, year, genres = (_field(ds.item, RECBOLE_FIELDS[k]) for k in ("title", "year", "genres"))
            for movie, row in zip(ids, rows, strict=True):
                catalog.add(
                    movie, _text(ds.item, title, row) or "", _text(ds.item, year, row), _list(ds.item, genres, row)
                )
        if ds.user is not None:
            ids, rows = unique_ids(ds.user, "user_id", errors)
            people.index = {user: i for i, user in enumerate(ids)}
            people.attributes = {
                a: [_text(ds.user, a, row) for row in rows] for a in USER_ATTRIBUTES if a in ds.user.types
            }
        ratings, notes = atomic_ratings(
            ds,
            errors,
            items=catalog.index,
            persons=people.index,
            user_field="user_id",
            item_field="item_id",
            rating_field="rating",
            time_field="timestamp",
            threshold=o.positive_threshold,
            add_items=ds.item is None,
        )
        for movie in list(catalog.index)[len(catalog.ids) :]:  # items only known from the ratings
            catalog.ids.append(movie)
            catalog.titles.append("")
            catalog.years.append(None)
            catalog.genres.append([])
        return catalog, people, ratings, notes


def _field(file: AtomicFile, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in file.types), None)


def _text(file: AtomicFile, field: str | None, row: int) -> str | None:
    if field is None or field not in file.values:
        return None
    value = file.values[field][row]
    text = " ".join(value) if isinstance(value, list) else str(value)
    return text or None


def _list(file: AtomicFile, field: str | None, row: int) -> list[str]:
    if field is None:
        return []
    value = file.values[field][row]
    return list(value) if isinstance(value, list) else ([value] if value else [])
