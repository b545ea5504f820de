"""The ``hotelrec`` processor: HotelRec (Antognini & Faltings, LREC 2020), TripAdvisor hotel reviews.

One file, ``HotelRec.txt`` (about 50 GB, 50M reviews; distributed zipped:
``HotelRec.zip`` or ``HotelRec.txt.zip``/``.gz`` are read as they are), strict
JSON lines: ``hotel_url``, ``author``, ``date`` (``YYYY-MM-DDT00:00:00``, month
resolution in practice), ``rating`` (1-5), ``title``, ``text``,
``property_dict`` (sub-ratings). ``file`` names another file of this format
(a k-core subset).

There is no item table: a hotel is the ``d<hotelId>`` of its URL
``Hotel_Review-g<geoId>-d<hotelId>-Reviews-<Name>-<Location>.html``; the slug
after ``-Reviews-`` is split on its first ``-`` into ``name`` and
``location`` (text columns, ``_`` read as a space; a slug without ``-`` is all
name), and ``g<geoId>`` is the category ``geo``. The first URL seen for a hotel
names it. Users are the ``author`` names (no attributes). Review titles, texts
and sub-ratings are not kept, so memory stays bounded: about 40 bytes per
review plus the author names (a 24 GB machine prepares the full file).

Labels: ``rating >= positive_threshold`` (default 4); ``drop_neutral`` drops
3-star reviews first (the Legommenders derivation). Exact duplicate lines
(the same review scraped twice) are kept once (``dedupe = "exact"``, by a
64-bit BLAKE2 digest of the line); ``"first"``/``"last"`` keep one review per
author and hotel. Interactions follow :mod:`lego_datasets.splits`: per-user
time order (ties, frequent at month resolution, keep file order), leakage-free
histories, optional sampled evaluation negatives.

Example:
    >>> hotel_from_url("Hotel_Review-g100001-d2000001-Reviews-Seaside_Inn-Sample_Town_Sample_Region.html")
    ('d2000001', 'g100001', 'Seaside Inn', 'Sample Town Sample Region')
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "hotelrec"
    >>> content = HotelRecProcessor().build(raw)
    >>> content.info["items"], content.info["persons"], content.info["ratings"], content.info["duplicates"]
    (7, 5, 20, 1)
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from array import array
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import EventLog, IdIndex
from lego_datasets.columns import category_column, id_column, text_columns
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_lines
from lego_datasets.splits import RatingOptions, Ratings, one_of, rating_depot

SOURCE = "https://github.com/Diego999/HotelRec (HotelRec.zip; the .txt may stay zipped)"
FORMAT = (
    'JSON lines {"hotel_url": "Hotel_Review-g<geoId>-d<hotelId>-Reviews-<Name>-<Location>.html", '
    '"author": str, "date": "YYYY-MM-DDT00:00:00", "rating": 1-5, "title", "text", "property_dict"}'
)
DEDUPE = ("none", "exact", "first", "last")
_URL = re.compile(r"Hotel_Review-g(\d+)-d(\d+)-Reviews-(.*?)(?:\.html?)?$")
_EPOCH = datetime.date(1970, 1, 1).toordinal()


@attrs.define(kw_only=True, frozen=True)
class HotelRecOptions(RatingOptions):
    file: str = attrs.field(
        default="HotelRec.txt",
        validator=v.instance_of(str),
        metadata={
            "doc": "The reviews file in --raw (plain, .gz, .bz2, .xz or a one-member .zip); a k-core "
            "subset in the same format works too."
        },
    )
    drop_neutral: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Drop 3-star reviews before labelling (the Legommenders derivation: label = rating > 3)."},
    )
    dedupe: str = attrs.field(
        default="exact",
        validator=one_of(DEDUPE),
        metadata={
            "doc": "exact: identical lines (a review scraped twice) are kept once; first/last: one review "
            "per author and hotel (earliest/latest); none: keep every line."
        },
    )


def hotel_from_url(url: str) -> tuple[str, str, str, str]:
    """``(item id "d<hotelId>", geo "g<geoId>", name, location)`` of a HotelRec URL; raises ``ValueError``."""
    found = _URL.search(url)
    if found is None:
        raise ValueError(url)
    name, _, location = found.group(3).partition("-")
    return (
        f"d{found.group(2)}",
        f"g{found.group(1)}",
        name.replace("_", " ").strip(),
        location.replace("_", " ").strip(),
    )


def parse_date(text: str, _days: dict[str, int] = {}) -> int:  # noqa: B006 - a deliberate cache
    """``"2015-07-01T00:00:00"`` (or ``"2015-07-01"``) -> Unix seconds (UTC); raises ``ValueError``."""
    seconds = _days.get(text)
    if seconds is None:
        day, _, clock = text.partition("T")
        if len(day) != 10 or day[4] != "-" or day[7] != "-":
            raise ValueError(text)
        seconds = (datetime.date(int(day[:4]), int(day[5:7]), int(day[8:])).toordinal() - _EPOCH) * 86400
        if clock:
            h, m, s = (int(x) for x in clock.split(":"))
            if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
                raise ValueError(text)
            seconds += h * 3600 + m * 60 + s
        _days[text] = seconds
    return seconds


class HotelRecProcessor(Processor):
    name = "hotelrec"
    description = (
        "HotelRec (TripAdvisor, 50M reviews): hotel name, location and geo from the URL; "
        "rating-threshold labels, per-user time splits, exact duplicates dropped, bounded memory."
    )
    files = (RawFile("HotelRec.txt", FORMAT, SOURCE),)
    Options = HotelRecOptions

    def path_name(self, raw: Path) -> str:
        """The reviews file in ``raw``: ``file`` itself, compressed, or ``<stem>.zip``; ``file`` when none is there."""
        o: HotelRecOptions = self.options
        found = find_variant(raw, o.file)
        if (Path(raw) / found).is_file():
            return found
        zipped = str(Path(o.file).with_suffix(".zip"))
        return zipped if (Path(raw) / zipped).is_file() else o.file

    def expected_files(self, raw: Path) -> list[RawFile]:
        return [RawFile(self.path_name(raw), FORMAT, SOURCE)]

    def build(self, raw: Path | None) -> DepotContent:
        o: HotelRecOptions = self.options
        if raw is None:
            raise DataError(f"{self.name!r} reads raw files: pass the folder that holds them as --raw")
        raw = Path(raw)
        path = raw / self.path_name(raw)
        errors = RowErrors(raw, o.skip_bad_rows)
        hotels = _Hotels()
        persons, ratings, notes = self._read(path, errors, hotels)  # the event buffers are freed here
        if not len(ratings.person):
            raise DataError(
                f"{path}: no usable reviews were read (skipped rows: {errors.counts}); "
                f"is this the HotelRec file? (expected {FORMAT})"
            )
        item_ids, item_vocab = id_column(hotels.index.ids, "item_id")
        text, words = text_columns({"name": hotels.names, "location": hotels.locations})
        geo, geo_vocab = category_column(hotels.geos, "geo")
        items = {"item_id": item_ids, **text, "geo": geo}
        vocabs = {"item_id": item_vocab, "words": words, "geo": geo_vocab}
        info: dict[str, Any] = {"file": path.name, **notes, "dedupe": o.dedupe, "skipped_rows": errors.counts}
        return rating_depot(
            items=items, vocabs=vocabs, persons=persons, person_columns={}, ratings=ratings, options=o, info=info
        )

    def _read(self, path: Path, errors: RowErrors, hotels: _Hotels) -> tuple[list[str], Ratings, dict[str, int]]:
        """The author ids, the deduplicated reviews and counts; the author index and event buffers die here."""
        o: HotelRecOptions = self.options
        log = EventLog(items=hotels.index)
        digests = array("q")
        exact, neutral = o.dedupe == "exact", 0
        add, author_index, hotel_index, blake2b = log.add_indexed, log.persons.add, hotels.add, hashlib.blake2b
        for number, line in read_lines(path, errors):
            try:
                review = json.loads(line)
            except json.JSONDecodeError as err:
                errors.bad(path, number, f"not a JSON object ({err.msg} at column {err.colno})", FORMAT)
                continue
            problem, fields = _review(review)
            if problem:
                errors.bad(path, number, problem, FORMAT)
                continue
            url, author, time, rating = fields  # type: ignore[misc]
            if o.drop_neutral and rating == 3.0:
                neutral += 1
                continue
            add(author_index(author), hotel_index(url), time, rating)
            if exact:
                digests.append(
                    int.from_bytes(
                        blake2b(line.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True
                    )
                )
        if exact:
            person, item, time, rating = log.arrays()
            keep = _first_of_each(np.frombuffer(digests, dtype=np.int64))
            ratings = Ratings(
                person=person[keep].astype(np.int64),
                item=item[keep].astype(np.int64),
                time=time[keep],
                label=(rating[keep] >= o.positive_threshold).astype(np.float32),
            )
        else:
            ratings = log.ratings(o.positive_threshold, dedupe=o.dedupe)
        notes = {
            "reviews_read": len(log) + neutral,
            "neutral_dropped": neutral,
            "duplicates": len(log) - len(ratings.person),
        }
        return log.persons.ids, ratings, notes


def _review(review: Any) -> tuple[str, tuple[str, str, int, float] | None]:
    """``(problem, (hotel_url, author, time, rating))`` of one parsed line."""
    if not isinstance(review, dict):
        return f"a JSON {type(review).__name__}, not an object", None
    missing = [k for k in ("hotel_url", "author", "date", "rating") if k not in review]
    if missing:
        return f"no {', '.join(repr(k) for k in missing)}", None
    url, author, date, rating = review["hotel_url"], review["author"], review["date"], review["rating"]
    if not isinstance(url, str) or _URL.search(url) is None:
        return f"hotel_url {url!r} is not Hotel_Review-g<geoId>-d<hotelId>-Reviews-<slug>.html", None
    if not isinstance(author, str) or not author.strip():
        return f"author {author!r} is empty", None
    try:
        time = parse_date(date) if isinstance(date, str) else parse_date("")
    except ValueError:
        return f"date {date!r} is not YYYY-MM-DDT00:00:00", None
    if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not 1 <= rating <= 5:
        return f"rating {rating!r} is not a number from 1 to 5", None
    return "", (url, author.strip(), time, float(rating))


@attrs.define
class _Hotels:
    """Hotels in first-seen order, named by their first URL."""

    index: IdIndex = attrs.field(factory=IdIndex)
    names: list[str] = attrs.field(factory=list)
    locations: list[str] = attrs.field(factory=list)
    geos: list[str] = attrs.field(factory=list)
    _urls: dict[str, int] = attrs.field(factory=dict)

    def add(self, url: str) -> int:
        found = self._urls.get(url)
        if found is not None:
            return found
        hotel, geo, name, location = hotel_from_url(url)
        row = self.index.get(hotel)
        if row is None:
            row = self.index.add(hotel)
            self.names.append(name)
            self.locations.append(location)
            self.geos.append(geo)
        self._urls[url] = row
        return row


def _first_of_each(keys: np.ndarray) -> np.ndarray:
    """Sorted positions of the first occurrence of each key."""
    if not len(keys):
        return np.zeros(0, np.int64)
    order = np.argsort(keys, kind="stable")
    first = np.ones(len(keys), bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    return np.sort(order[first])
