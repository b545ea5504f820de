"""The ``goodreads`` processor: the UCSD Book Graph (Goodreads shelves, ratings and books), full or by genre.

Files (gzip JSON lines as shipped, or unpacked), with ``<g>`` the ``genre``
option (``poetry``, ``children``, ``comics_graphic``, ...; empty: the full
files, or the only genre subset in ``--raw``):

- ``goodreads_books_<g>.json.gz`` (full: ``goodreads_books.json.gz``): the books.
- ``goodreads_interactions_<g>.json.gz`` (full: ``goodreads_interactions_dedup.json.gz``):
  one shelving per line (``is_read``, ``rating`` 0-5 with 0 = unrated, dates);
  or, with ``source = "reviews"``, ``goodreads_reviews_<g>.json.gz``
  (full: ``goodreads_reviews_dedup.json.gz``), whose texts are never kept.
- optional ``goodreads_book_authors.json.gz`` (author names) and
  ``goodreads_book_genres_initial.json.gz`` (genre votes).

Labels (``label``): ``is_read`` (the default for shelvings: read = 1, shelved
unread = 0), ``rating`` (``rating >= positive_threshold``; unrated shelvings
are dropped and counted; the default for reviews), or ``all`` (every
interaction a positive; then set ``eval_negatives``). Time: ``time_field``
(default ``date_added``; ``read_at`` and the others fall back to
``date_added`` where empty), in the Goodreads format
``Mon Aug 01 13:41:57 -0700 2011``, read as UTC. Splits and histories follow
:mod:`lego_datasets.splits` (per-user time order).

Items are the books with interactions, in books-file order (then shelved books
without a books row): ``title`` and
``description`` (text), ``shelves`` (the ``max_shelves`` most used popular
shelves, tokens), ``authors`` (names from the authors file, else author
ids; tokens), ``genres`` (from the genres file, most voted first; tokens),
``language``, ``year``, ``publisher`` (categories). A book without a books row
gets empty content; books nobody shelved are not kept. The books are read
after the split, so their buffers never sit beside the split's working arrays.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "goodreads-poetry"
    >>> content = GoodreadsProcessor().build(raw)
    >>> content.info["genre"], content.info["source_file"], content.info["labels"]
    ('poetry', 'goodreads_interactions_poetry.json.gz', 'is_read')
    >>> parse_time("Mon Aug 01 13:41:57 -0700 2011")
    1312231317
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v

from lego_core.data.depot import DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import EventLog
from lego_datasets.columns import id_column
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_json_lines
from lego_datasets.splits import RatingOptions, one_of, rating_depot
from lego_datasets.ucsd import DEDUPE, DEDUPE_DOC, ItemContent, as_text, event_ratings, renumber_items

GENRES = (
    "children",
    "comics_graphic",
    "fantasy_paranormal",
    "history_biography",
    "mystery_thriller_crime",
    "poetry",
    "romance",
    "young_adult",
)
SOURCES = ("auto", "interactions", "reviews")
LABELS = ("auto", "is_read", "rating", "all")
TIME_FIELDS = ("date_added", "date_updated", "read_at", "started_at")
SOURCE = "https://mengtingwan.github.io/data/goodreads.html (UCSD Book Graph; files by genre or complete)"
TIME_FORMAT = "'Mon Aug 01 13:41:57 -0700 2011'"
BOOKS_FORMAT = (
    "JSON lines, values strings: book_id, title, description, popular_shelves ([{count, name}]), "
    "authors ([{author_id, role}]), language_code, publication_year, publisher, ..."
)
INTERACTIONS_FORMAT = (
    f"JSON lines: user_id, book_id, is_read (bool), rating (int 0-5, 0 = unrated), "
    f"date_added, read_at, ... (dates like {TIME_FORMAT} or empty)"
)
REVIEWS_FORMAT = (
    f"JSON lines: user_id, book_id, rating (int 0-5), review_text, date_added, read_at, ... (dates like {TIME_FORMAT})"
)
AUTHORS_FORMAT = "JSON lines: author_id, name, average_rating, ratings_count, text_reviews_count"
GENRES_FORMAT = 'JSON lines: book_id, genres ({"fantasy, paranormal": votes, ...})'
MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
EPOCH = datetime.date(1970, 1, 1).toordinal()
_DAYS: dict[tuple[str, str, str], int] = {}


def parse_time(text: str) -> int:
    """``"Mon Aug 01 13:41:57 -0700 2011"`` -> Unix seconds (UTC); raises ``ValueError`` on anything else."""
    parts = text.split(" ")
    if len(parts) != 6:
        raise ValueError(text)
    _, month, day, clock, zone, year = parts
    days = _DAYS.get((year, month, day))
    if days is None:
        if month not in MONTHS or not (day.isdigit() and year.isdigit()):
            raise ValueError(text)
        date = datetime.date(int(year), MONTHS[month], int(day))
        days = _DAYS[(year, month, day)] = date.toordinal() - EPOCH
    hours, minutes, seconds = (int(x) for x in clock.split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 61):
        raise ValueError(text)
    if len(zone) != 5 or zone[0] not in "+-":
        raise ValueError(text)
    offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60
    return days * 86400 + hours * 3600 + minutes * 60 + seconds - (offset if zone[0] == "+" else -offset)


@attrs.define(kw_only=True, frozen=True)
class GoodreadsOptions(RatingOptions):
    genre: str = attrs.field(
        default="",
        validator=one_of(("", *GENRES)),
        metadata={
            "doc": "Genre subset of the file names (poetry, children, comics_graphic, ...); empty: the "
            "full files, or the only genre subset in --raw."
        },
    )
    source: str = attrs.field(
        default="auto",
        validator=one_of(SOURCES),
        metadata={"doc": "interactions (shelvings) or reviews; auto: interactions when present."},
    )
    label: str = attrs.field(
        default="auto",
        validator=one_of(LABELS),
        metadata={
            "doc": "is_read: read = 1, shelved unread = 0; rating: rating >= positive_threshold, "
            "unrated dropped; all: every interaction is a positive; auto: is_read for "
            "shelvings, rating for reviews."
        },
    )
    time_field: str = attrs.field(
        default="date_added",
        validator=one_of(TIME_FIELDS),
        metadata={"doc": "Date that orders a user's interactions; where it is empty, date_added is used."},
    )
    max_shelves: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most used popular shelves kept per book as tokens; 0 keeps all."},
    )
    dedupe: str = attrs.field(default="exact", validator=one_of(DEDUPE), metadata={"doc": DEDUPE_DOC})


def _gz(raw: Path, name: str) -> str:
    """``name`` as found in ``raw`` (plain or compressed), else as shipped (``.gz``)."""
    found = find_variant(raw, name)
    return found if (raw / found).is_file() else f"{name}.gz"


class GoodreadsProcessor(Processor):
    name = "goodreads"
    description = (
        "Goodreads (UCSD Book Graph), full or one genre: titles, descriptions, shelves, authors, "
        "genres; is_read or rating labels, time-ordered splits."
    )
    files = (
        RawFile("goodreads_books_GENRE.json.gz", f"books (full: goodreads_books.json.gz): {BOOKS_FORMAT}", SOURCE),
        RawFile(
            "goodreads_interactions_GENRE.json.gz",
            f"shelvings (full: goodreads_interactions_dedup.json.gz): {INTERACTIONS_FORMAT}",
            SOURCE,
        ),
        RawFile(
            "goodreads_reviews_GENRE.json.gz",
            f"instead of the shelvings, with source=reviews (full: goodreads_reviews_dedup.json.gz): {REVIEWS_FORMAT}",
            SOURCE,
            optional=True,
        ),
        RawFile("goodreads_book_authors.json.gz", f"author names: {AUTHORS_FORMAT}", SOURCE, optional=True),
        RawFile("goodreads_book_genres_initial.json.gz", f"genre votes: {GENRES_FORMAT}", SOURCE, optional=True),
    )
    Options = GoodreadsOptions

    def genre(self, raw: Path) -> str:
        """The genre of the files to read (``""``: the full files)."""
        o: GoodreadsOptions = self.options
        if o.genre or (raw / _gz(raw, "goodreads_books.json")).is_file():
            return o.genre
        present = [
            g
            for g in GENRES
            if any(
                (raw / _gz(raw, f"goodreads_{kind}_{g}.json")).is_file()
                for kind in ("books", "interactions", "reviews")
            )
        ]
        if len(present) > 1:
            raise DataError(
                f"{raw} holds the files of several Goodreads genres ({', '.join(present)}); "
                f"choose one with the option genre=" + "|".join(present)
            )
        return present[0] if present else ""

    def names(self, raw: Path) -> tuple[str, str, str]:
        """``(books file, interactions or reviews file, "interactions" or "reviews")`` in ``raw``."""
        o: GoodreadsOptions = self.options
        genre = self.genre(raw)
        books = _gz(raw, f"goodreads_books_{genre}.json" if genre else "goodreads_books.json")
        if genre:
            shelvings = _gz(raw, f"goodreads_interactions_{genre}.json")
            reviews = _gz(raw, f"goodreads_reviews_{genre}.json")
        else:
            plain = _gz(raw, "goodreads_interactions.json")
            shelvings = plain if (raw / plain).is_file() else _gz(raw, "goodreads_interactions_dedup.json")
            reviews = _gz(raw, "goodreads_reviews_dedup.json")
        if o.source == "reviews" or (
            o.source == "auto" and not (raw / shelvings).is_file() and (raw / reviews).is_file()
        ):
            return books, reviews, "reviews"
        return books, shelvings, "interactions"

    def expected_files(self, raw: Path) -> list[RawFile]:
        raw = Path(raw)
        books, source, kind = self.names(raw)
        source_format = INTERACTIONS_FORMAT if kind == "interactions" else REVIEWS_FORMAT
        return [
            RawFile(books, f"books: {BOOKS_FORMAT}", SOURCE),
            RawFile(source, f"{kind}: {source_format}", SOURCE),
            RawFile(_gz(raw, "goodreads_book_authors.json"), f"author names: {AUTHORS_FORMAT}", SOURCE, optional=True),
            RawFile(
                _gz(raw, "goodreads_book_genres_initial.json"), f"genre votes: {GENRES_FORMAT}", SOURCE, optional=True
            ),
        ]

    def build(self, raw: Path | None) -> DepotContent:
        o: GoodreadsOptions = self.options
        if raw is None:
            raise DataError("goodreads reads raw files: pass the folder that holds them (--raw DIR)")
        raw = Path(raw)
        books, source, kind = self.names(raw)
        label = o.label if o.label != "auto" else ("is_read" if kind == "interactions" else "rating")
        if label == "is_read" and kind == "reviews":
            raise DataError(
                f"{raw / source}: reviews have no is_read field; use the option label=rating or "
                "label=all, or read the shelvings (source=interactions)"
            )
        errors = RowErrors(raw, o.skip_bad_rows)
        log, notes = self._interactions(raw / source, kind, label, errors)
        threshold = {"is_read": 0.5, "rating": o.positive_threshold, "all": None}[label]
        ratings, duplicates = event_ratings(log, threshold, o.dedupe)
        persons, items, read = log.persons, log.items, len(log)
        del log  # the events are in ratings now; of the users only the ids are needed from here
        persons.index.clear()
        item_ids, item_vocab = id_column(items.ids, "item_id")
        info = {
            "genre": self.genre(raw) or "(full)",
            "books_file": books,
            "source_file": source,
            "labels": label if label != "rating" else f"rating >= {o.positive_threshold}",
            "time_field": o.time_field,
            "interactions_read": read,
            **notes,
            "duplicates_removed": duplicates,
            "dedupe": o.dedupe,
            "skipped_rows": errors.counts,
        }
        depot = rating_depot(
            items={"item_id": item_ids},
            vocabs={"item_id": item_vocab},
            persons=persons.ids,
            person_columns={},
            ratings=ratings,
            options=o,
            info=info,
        )
        del ratings
        # the books are read after the split, so their buffers never sit beside the split's working arrays
        content = ItemContent(
            items,
            texts=("title", "description"),
            tokens={"shelves": "shelves", "authors": "authors"},
            categories={"language": "language", "year": "year", "publisher": "publisher"},
        )
        self._books(raw / books, errors, content)
        authors_file = raw / _gz(raw, "goodreads_book_authors.json")
        named = self._authors(authors_file, errors, content) if authors_file.is_file() else 0
        genres = ItemContent(items, tokens={"genres": "genres"})
        genres_file = raw / _gz(raw, "goodreads_book_genres_initial.json")
        if genres_file.is_file():
            self._genres(genres_file, errors, genres)
        items.index.clear()
        order = content.order
        columns, vocabs = content.columns()
        genre_columns, genre_vocabs = genres.columns(order)
        renumber_items(depot, order, items.ids)  # books in books-file order: the buffers need no copy
        depot.tables["items"].update({**columns, **genre_columns})
        depot.vocabs.update({**vocabs, **genre_vocabs})
        depot.info.update(
            {
                "items_without_metadata": len(items) - content.filled,
                "book_rows_unused": content.unused,
                "book_rows_repeated": content.duplicates,
                "authors_named": named,
                "items_with_genres": genres.filled,
            }
        )
        return depot

    def _interactions(self, path: Path, kind: str, label: str, errors: RowErrors) -> tuple[EventLog, dict[str, int]]:
        """Shelvings or reviews as events (user, book, Unix seconds, label value or rating)."""
        o: GoodreadsOptions = self.options
        expected = INTERACTIONS_FORMAT if kind == "interactions" else REVIEWS_FORMAT
        field = o.time_field
        required = (
            "user_id",
            "book_id",
            "date_added",
            *(("is_read",) if label == "is_read" else ()),
            *(("rating",) if label == "rating" else ()),
        )
        log = EventLog()
        add, bad = log.add, errors.bad
        unrated = fallbacks = 0
        for number, row in read_json_lines(path, errors, expected=expected, required=required):
            user, book, rating = row["user_id"], row["book_id"], row.get("rating", 0)
            if not isinstance(user, str) or not user or not isinstance(book, str) or not book:
                bad(path, number, f"user_id {user!r} or book_id {book!r} is not a non-empty string", expected)
                continue
            if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 5:
                bad(path, number, f"rating {rating!r} is not an integer from 0 to 5", expected)
                continue
            when = row.get(field) if field != "date_added" else None
            if not when:
                fallbacks += field != "date_added"
                field_used, when = "date_added", row["date_added"]
            else:
                field_used = field
            try:
                seconds = parse_time(when)
            except (ValueError, TypeError, AttributeError):
                bad(path, number, f"{field_used} {when!r} is not a date like {TIME_FORMAT}", expected)
                continue
            if label == "is_read":
                read = row["is_read"]
                if not isinstance(read, bool):
                    bad(path, number, f"is_read {read!r} is not true or false", expected)
                    continue
                value = 1.0 if read else 0.0
            elif label == "rating":
                if rating == 0:
                    unrated += 1
                    continue
                value = float(rating)
            else:
                value = 1.0
            add(user, book, seconds, value)
        notes = {"unrated_dropped": unrated} if label == "rating" else {}
        if field != "date_added":
            notes["time_fallbacks"] = fallbacks
        return log, notes

    def _books(self, path: Path, errors: RowErrors, content: ItemContent) -> None:
        keep = self.options.max_shelves
        for _, row in read_json_lines(path, errors, expected=BOOKS_FORMAT, required=("book_id",)):
            index = content.row(row["book_id"])
            if index is None:
                continue
            content.add(
                index,
                {
                    "title": as_text(row.get("title")),
                    "description": as_text(row.get("description")),
                    "shelves": _shelves(row.get("popular_shelves"), keep),
                    "authors": [
                        a["author_id"]
                        for a in row.get("authors") or ()
                        if isinstance(a, dict) and isinstance(a.get("author_id"), str) and a["author_id"]
                    ],
                    "language": _value(row.get("language_code")),
                    "year": _value(row.get("publication_year")),
                    "publisher": _value(row.get("publisher")),
                },
            )

    def _authors(self, path: Path, errors: RowErrors, content: ItemContent) -> int:
        """Rename the author-id tokens to the authors' names; return how many were named."""
        wanted = content.token_ids["authors"].index
        names: dict[str, str] = {}
        for _, row in read_json_lines(path, errors, expected=AUTHORS_FORMAT, required=("author_id", "name")):
            author, name = row["author_id"], row["name"]
            if author in wanted and isinstance(name, str) and name.strip():
                names.setdefault(author, " ".join(name.split()))
        return content.rename_tokens("authors", names)

    def _genres(self, path: Path, errors: RowErrors, genres: ItemContent) -> None:
        rows = read_json_lines(path, errors, expected=GENRES_FORMAT, required=("book_id", "genres"))
        for number, row in rows:
            votes = row["genres"]
            if not isinstance(votes, dict):
                errors.bad(path, number, f"genres {votes!r} is not an object of votes", GENRES_FORMAT)
                continue
            index = genres.row(row["book_id"])
            if index is not None:
                ranked = sorted(votes, key=lambda g: (-_count(votes[g]), g))
                genres.add(index, {"genres": [g.strip() for g in ranked if g.strip()]})


def _count(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _value(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _shelves(value: Any, keep: int) -> list[str]:
    """Popular shelf names, most used first (ties in file order), at most ``keep`` (0: all)."""
    if not isinstance(value, list):
        return []
    counted = []
    for position, shelf in enumerate(value):
        if isinstance(shelf, dict) and isinstance(shelf.get("name"), str) and shelf["name"].strip():
            count = shelf.get("count")
            try:
                number = int(count) if isinstance(count, (str, int)) and not isinstance(count, bool) else 0
            except ValueError:
                number = 0
            counted.append((-number, position, shelf["name"].strip()))
    names = [name for _, _, name in sorted(counted)]
    return names[:keep] if keep else names
