"""The ``lastfm1k`` processor: Last.fm 1K users (Celma 2010), 19M timestamped plays of 992 users.

``--raw`` holds ``lastfm-dataset-1K.tar.gz`` unpacked: the folder
``lastfm-dataset-1K/`` itself or its parent. Files (either may be gzip, bzip2
or xz compressed):

- ``userid-timestamp-artid-artname-traid-traname.tsv``: the plays, UTF-8, TAB
  separated, no header: user, ISO time (``2009-05-04T23:08:57Z``), artist
  MusicBrainz id (may be empty), artist name, track MusicBrainz id (often
  empty), track name. Names are read verbatim (quote characters are plain
  text). A name holding a TAB gives a row of more than 6 fields; it is put back
  together (the TAB becomes a space) when the track id column can be found
  (the one field after the artist name that is a MusicBrainz id or, failing
  that, the one empty field), else the row is a bad row.
- ``userid-profile.tsv`` (optional): ``#id gender age country registered``.

Items (``item``): ``"track"`` (default, as RecBench/Legommenders) or
``"artist"``. An item is keyed by its MusicBrainz id when the row has one,
else by its name (a track by ``artist name<TAB>track name``); with
``missing_mbid = "skip"`` rows without the id are dropped instead (what
RecBench does for tracks), counted in ``info["rows_without_mbid"]``. Item text:
``track_name`` and ``artist_name`` (tracks) or ``artist_name`` (artists), as
words + ``_text``, from the item's first row; tracks also get ``artist``, a
category of the artist's key. Users: ``gender``, ``age``, ``country`` and
``registered_year`` (categories) from the profile.

Plays become interactions through :mod:`lego_datasets.listening` (one per
user and item at its first play, labels from play counts, 100 sampled
evaluation negatives) and the per-user time split of :mod:`lego_datasets.splits`.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "lastfm1k"
    >>> content = LastFM1KProcessor().build(raw)
    >>> content.info["plays"], content.info["pairs"], content.info["items"], content.info["names_with_tabs"]
    (30, 25, 10, 1)
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import attrs

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import EventLog, IdIndex
from lego_datasets.columns import category_column, id_column, text_columns
from lego_datasets.listening import ListeningOptions, play_ratings
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_lines, read_rows
from lego_datasets.splits import one_of, rating_depot

LOG = "userid-timestamp-artid-artname-traid-traname.tsv"
PROFILE = "userid-profile.tsv"
FOLDER = "lastfm-dataset-1K"
SOURCE = "http://ocelma.net/MusicRecommendationDataset/lastfm-1K.html (lastfm-dataset-1K.tar.gz)"
LOG_FORMAT = (
    "UTF-8, TAB-separated, 6 fields: userid, timestamp (ISO 8601 UTC like 2009-05-04T23:08:57Z), "
    "artist MusicBrainz id (or empty), artist name, track MusicBrainz id (or empty), track name; no header"
)
PROFILE_FORMAT = (
    "UTF-8, TAB-separated, header #id gender age country registered; gender m/f/empty, "
    "age a number or empty, registered like 'Aug 13, 2006' or empty"
)
PROFILE_HEADER = ("#id", "gender", "age", "country", "registered")
ITEMS = ("track", "artist")
MISSING_MBID = ("name", "skip")
_MBID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@attrs.define(kw_only=True, frozen=True)
class LastFM1KOptions(ListeningOptions):
    item: str = attrs.field(
        default="track",
        validator=one_of(ITEMS),
        metadata={"doc": '"track" (as RecBench) or "artist": what an item is.'},
    )
    missing_mbid: str = attrs.field(
        default="name",
        validator=one_of(MISSING_MBID),
        metadata={
            "doc": '"name": an item without a MusicBrainz id is keyed by its name (a track by artist and '
            'track name); "skip": such rows are dropped (RecBench) and counted.'
        },
    )


def parse_time(text: str) -> int:
    """``"2009-05-04T23:08:57Z"`` -> Unix seconds; raises ``ValueError`` on any other shape."""
    if len(text) != 20 or text[10] != "T" or text[19] != "Z":
        raise ValueError(text)
    return int(datetime.datetime.fromisoformat(text).timestamp())


def is_mbid(text: str) -> bool:
    return bool(_MBID.match(text))


def join_names(fields: list[str]) -> list[str] | None:
    """A row of more than 6 fields (a TAB inside a name) as its 6 fields, or ``None`` when ambiguous.

    The track id is the one field after the artist name that is a MusicBrainz
    id, else the one empty field; the names around it are joined with spaces.
    """
    rest = fields[3:]
    spots = range(1, len(rest) - 1)
    found = [j for j in spots if is_mbid(rest[j])] or [j for j in spots if not rest[j]]
    if len(found) != 1 or (fields[2] and not is_mbid(fields[2])):
        return None
    j = found[0]
    return [*fields[:3], " ".join(rest[:j]), rest[j], " ".join(rest[j + 1 :])]


class LastFM1KProcessor(Processor):
    name = "lastfm1k"
    description = (
        "Last.fm 1K users (Celma 2010): plays of tracks or artists keyed by MusicBrainz id, track and "
        "artist names, user profiles; per-user time split with sampled negatives."
    )
    files = (RawFile(LOG, LOG_FORMAT, SOURCE), RawFile(PROFILE, PROFILE_FORMAT, SOURCE, optional=True))
    Options = LastFM1KOptions

    @staticmethod
    def folder(raw: Path) -> str:
        """``""`` when the files are in ``raw``, ``"lastfm-dataset-1K/"`` when they are one level down."""
        raw = Path(raw)
        inside = raw / FOLDER
        if inside.is_dir() and not (raw / find_variant(raw, LOG)).is_file():
            return f"{FOLDER}/"
        return ""

    def expected_files(self, raw: Path) -> list[RawFile]:
        prefix = self.folder(raw)
        base = Path(raw) / prefix
        return [attrs.evolve(f, name=prefix + find_variant(base, f.name)) for f in self.files]

    def build(self, raw: Path | None) -> DepotContent:
        o: LastFM1KOptions = self.options
        if raw is None:
            raise DataError(f"{self.name} reads raw files: pass --raw, the folder that holds them")
        raw = Path(raw)
        prefix = self.folder(raw)
        log_file, profile_file = (raw / f.name for f in self.expected_files(raw))
        if not log_file.is_file():
            raise DataError(f"{raw}: no {LOG} (nor in {FOLDER}/); unpack lastfm-dataset-1K.tar.gz there")
        errors = RowErrors(raw, o.skip_bad_rows)
        persons, attributes = _read_profile(profile_file, errors) if profile_file.is_file() else (IdIndex(), {})
        reader = _LogReader(o, errors, persons)
        reader.read(log_file)
        person, item, time, _ = reader.events.arrays()
        ratings, counts = play_ratings(person, item, time, dedupe=o.dedupe, threshold=o.positive_threshold)

        item_ids, item_vocab = id_column(reader.events.items.ids, "item_id")
        texts = {"track_name": reader.track_names} if o.item == "track" else {}
        text, words = text_columns({**texts, "artist_name": reader.artist_names})
        items: dict[str, Column] = {"item_id": item_ids, **text}
        vocabs = {"item_id": item_vocab, "words": words}
        if o.item == "track":
            items["artist"], vocabs["artist"] = category_column(reader.artist_keys, "artist")
        person_columns: dict[str, Column] = {}
        for attribute, values in attributes.items():
            values.extend([None] * (len(persons) - len(values)))  # people only in the log
            person_columns[attribute], vocabs[attribute] = category_column(values, attribute)
        info: dict[str, Any] = {
            "folder": prefix.rstrip("/") or ".",
            "item": o.item,
            **counts,
            "rows_without_mbid": reader.without_mbid,
            "names_with_tabs": reader.joined,
            "skipped_rows": errors.counts,
        }
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=persons.ids,
            person_columns=person_columns,
            ratings=ratings,
            options=o,
            info=info,
        )


class _LogReader:
    """The plays of the log as an :class:`EventLog`, with each item's names from its first row."""

    def __init__(self, o: LastFM1KOptions, errors: RowErrors, persons: IdIndex) -> None:
        self.o, self.errors = o, errors
        self.events = EventLog(persons=persons)
        self.track_names: list[str] = []
        self.artist_names: list[str] = []
        self.artist_keys: list[str] = []
        self.without_mbid = 0
        self.joined = 0

    def read(self, path: Path) -> None:
        track = self.o.item == "track"
        skip_unnamed = self.o.missing_mbid == "skip"
        bad = self.errors.bad
        index = self.events.items.index
        persons = self.events.persons
        add = self.events.add_indexed
        for number, line in read_lines(path, self.errors):
            fields = line.split("\t")
            if len(fields) != 6:
                joined = join_names(fields) if len(fields) > 6 else None
                if joined is None:
                    bad(
                        path,
                        number,
                        f"{len(fields)} fields where 6 were expected"
                        + (" and the track id column cannot be told apart" if len(fields) > 6 else ""),
                        LOG_FORMAT,
                    )
                    continue
                fields = joined
                self.joined += 1
            user, stamp, artist_id, artist, track_id, title = fields
            if not user:
                bad(path, number, "empty user id", LOG_FORMAT)
                continue
            try:
                seconds = parse_time(stamp)
            except ValueError:
                bad(path, number, f"timestamp {stamp!r} is not like 2009-05-04T23:08:57Z", LOG_FORMAT)
                continue
            mbid = track_id if track else artist_id
            if mbid:
                key = mbid
            elif skip_unnamed:
                self.without_mbid += 1
                continue
            else:
                key = f"{artist}\t{title}" if track else artist
                if key in ("\t", ""):
                    bad(path, number, f"no {self.o.item} id and no name", LOG_FORMAT)
                    continue
            found = index.get(key)
            if found is None:
                if not self._new_item(path, number, key, mbid, fields):
                    continue
                found = index[key]
            add(persons.add(user), found, seconds)

    def _new_item(self, path: Path, number: int, key: str, mbid: str, fields: list[str]) -> bool:
        _, _, artist_id, artist, _, title = fields
        track = self.o.item == "track"
        for what, value in ((self.o.item, mbid), ("artist", artist_id)) if track else ((self.o.item, mbid),):
            if value and not is_mbid(value):
                self.errors.bad(path, number, f"{what} id {value!r} is not a MusicBrainz id", LOG_FORMAT)
                return False
        self.events.items.add(key)
        self.artist_names.append(artist)
        if track:
            self.track_names.append(title)
            self.artist_keys.append(artist_id or artist)
        return True


def _read_profile(path: Path, errors: RowErrors) -> tuple[IdIndex, dict[str, list[str | None]]]:
    persons = IdIndex()
    attributes: dict[str, list[str | None]] = {"gender": [], "age": [], "country": [], "registered_year": []}
    for number, (user, gender, age, country, registered) in read_rows(
        path, errors, sep="\t", columns=5, expected=PROFILE_FORMAT, header=PROFILE_HEADER
    ):
        user, age, registered = user.strip(), age.strip(), registered.strip()
        if not user or user in persons:
            errors.bad(path, number, f"user {user!r} is empty or listed twice", "one row per user")
            continue
        if age and not age.isdigit():
            errors.bad(path, number, f"age {age!r} is not a number", PROFILE_FORMAT)
            continue
        year = None
        if registered:
            try:
                year = str(datetime.datetime.strptime(registered, "%b %d, %Y").year)
            except ValueError:
                errors.bad(path, number, f"registered {registered!r} is not like 'Aug 13, 2006'", PROFILE_FORMAT)
                continue
        persons.add(user)
        for name, value in (("gender", gender), ("age", age), ("country", country), ("registered_year", year)):
            attributes[name].append((value or "").strip() or None)
    return persons, attributes
