"""The ``lfm1b`` processor: LFM-1b (Schedl 2016), 1.09 billion Last.fm listening events of 120,322 users.

``--raw`` holds ``LFM-1b.zip`` unpacked (the files, or an ``LFM-1b/`` folder
with them); any file may be gzip, bzip2 or xz compressed. Files:

- ``LFM-1b_LEs.txt``: ``user_id artist_id album_id track_id timestamp``, TAB
  separated whole numbers, no header; streamed in blocks by
  :mod:`lego_datasets.lfm1b_events`.
- ``LFM-1b_tracks.txt`` (``track_id track_name artist_id``), ``LFM-1b_artists.txt``
  (``artist_id artist_name``), optional ``LFM-1b_albums.txt`` (``album_id
  album_name artist_id``): UTF-8, TAB separated, no header (a first line naming
  the columns is skipped); a name holding TABs is put back together with
  spaces. Only the rows of items that are used are parsed beyond their id.
- ``LFM-1b_users.txt`` (optional): header ``user_id country age gender playcount
  registered_unixtime``. ``LFM-1b_users_additional.txt`` and ``LFM-1b_LEs.mat``
  are not read.

Items (``item``): ``"track"`` (default) with ``track_name``, ``artist_name``
and, with the albums file, ``album_name`` (words + ``_text``; the album is the
one of the track's first kept event) and ``artist`` (category of the artist
id); or ``"artist"`` with ``artist_name``. Only the items that occur in the
kept events are in the table, ordered by id. An event whose item is not in its
names file is a bad row. Users: ``country``, ``age``, ``gender`` and
``registered_year`` (categories; an empty or negative age or registration
time is unknown).

Size. The whole file does not fit the split protocol on a 24 GB machine (about
150 bytes a kept event at peak); the usual practice with LFM-1b is to prepare
a sample, chosen as the file streams: ``user_fraction`` (a seeded share of the
users with all their events: the common user sample), ``start_time`` /
``end_time`` (a time window) and ``max_events`` (the first kept events in file
order: a quick cut for trials, biased to the first users when the file is
grouped by user). A run predicted to keep more than ``SAFE_EVENTS`` events (from
the file size at about 33 bytes a line) is refused before reading, and one whose
kept events and items need more than ``BUDGET_BYTES`` (about 150 bytes an event,
1.5 KB an item for its text columns) right after reading, with this advice,
unless ``allow_full = true``. Plays become interactions through
:mod:`lego_datasets.listening` and the per-user time split of
:mod:`lego_datasets.splits`.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "lfm1b"
    >>> content = LFM1bProcessor().build(raw)
    >>> content.info["plays"], content.info["pairs"], content.info["items"], content.info["persons"]
    (32, 25, 8, 4)
"""

from __future__ import annotations

import datetime
from array import array
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.columns import category_column, id_column, text_columns
from lego_datasets.lfm1b_events import LES_FORMAT, event_blocks
from lego_datasets.listening import ListeningOptions, play_ratings
from lego_datasets.rawio import compression, find_variant
from lego_datasets.reader import RowErrors, read_lines, read_rows
from lego_datasets.splits import one_of, rating_depot

FOLDER = "LFM-1b"
SOURCE = (
    "http://www.cp.jku.at/datasets/LFM-1b/ (LFM-1b.zip; taken offline by JKU, "
    "ask the authors or use a copy you are licensed to)"
)
LES, TRACKS, ARTISTS, ALBUMS, USERS = (
    "LFM-1b_LEs.txt",
    "LFM-1b_tracks.txt",
    "LFM-1b_artists.txt",
    "LFM-1b_albums.txt",
    "LFM-1b_users.txt",
)
CATALOG_FORMAT = {
    TRACKS: "track_id track_name artist_id",
    ARTISTS: "artist_id artist_name",
    ALBUMS: "album_id album_name artist_id",
}
FORMATS = {
    LES: LES_FORMAT,
    **{name: f"UTF-8, TAB-separated: {fields}; no header" for name, fields in CATALOG_FORMAT.items()},
    USERS: "UTF-8, TAB-separated, header user_id country age gender playcount registered_unixtime",
}
USERS_HEADER = ("user_id", "country", "age", "gender", "playcount", "registered_unixtime")
ITEMS = ("track", "artist")
BUDGET_BYTES = 18_000_000_000  # of a 24 GB machine, leaving room for the system and the imports
EVENT_BYTES, ITEM_BYTES = 150, 1_500  # peak memory per kept event (split protocol) and per item (text columns)
SAFE_EVENTS = BUDGET_BYTES // EVENT_BYTES
LINE_BYTES = 33  # a line of LFM-1b_LEs.txt, on the short side, so that the prediction errs on the safe side
ITEM_COLUMN = {"track": 3, "artist": 1}


def _fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{attribute.name} must be in (0, 1], got {value!r}")


@attrs.define(kw_only=True, frozen=True)
class LFM1bOptions(ListeningOptions):
    item: str = attrs.field(
        default="track", validator=one_of(ITEMS), metadata={"doc": '"track" or "artist": what an item is.'}
    )
    user_fraction: float = attrs.field(
        default=1.0,
        validator=[v.instance_of((int, float)), _fraction],
        metadata={
            "doc": "Share of users kept (each user in or out by a hash of its id and seed, with all "
            "its events); the usual way to prepare LFM-1b on one machine, e.g. 0.05."
        },
    )
    max_events: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Stop after this many kept events (the first in file order); 0 reads them all."},
    )
    start_time: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Keep events at or after this Unix time; 0: no lower bound."},
    )
    end_time: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Keep events before this Unix time; 0: no upper bound."},
    )
    allow_full: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={
            "doc": "Prepare even a sample predicted to need more than 18 GB of memory (about 150 bytes "
            "an event and 1.5 KB an item), for machines bigger than 24 GB."
        },
    )


class LFM1bProcessor(Processor):
    name = "lfm1b"
    description = (
        "LFM-1b (Schedl 2016): a billion Last.fm plays of tracks or artists with names, user "
        "demographics; streamed with user sampling; per-user time split with sampled negatives."
    )
    files = (
        RawFile(LES, FORMATS[LES], SOURCE),
        RawFile(TRACKS, FORMATS[TRACKS], SOURCE),
        RawFile(ARTISTS, FORMATS[ARTISTS], SOURCE),
        RawFile(ALBUMS, FORMATS[ALBUMS], SOURCE, optional=True),
        RawFile(USERS, FORMATS[USERS], SOURCE, optional=True),
    )
    Options = LFM1bOptions

    @staticmethod
    def folder(raw: Path) -> str:
        """``""`` when the files are in ``raw``, ``"LFM-1b/"`` when they are one level down."""
        raw = Path(raw)
        return f"{FOLDER}/" if (raw / FOLDER).is_dir() and not (raw / find_variant(raw, LES)).is_file() else ""

    def expected_files(self, raw: Path) -> list[RawFile]:
        o: LFM1bOptions = self.options
        prefix = self.folder(raw)
        base = Path(raw) / prefix
        return [
            attrs.evolve(f, name=prefix + find_variant(base, f.name))
            for f in self.files
            if not (o.item == "artist" and f.name in (TRACKS, ALBUMS))
        ]

    def paths(self, raw: Path) -> dict[str, Path]:
        """Where each file of ``files`` is (under its compressed name when it is compressed)."""
        base = Path(raw) / self.folder(raw)
        return {f.name: base / find_variant(base, f.name) for f in self.files}

    def build(self, raw: Path | None) -> DepotContent:
        o: LFM1bOptions = self.options
        if raw is None:
            raise DataError(f"{self.name} reads raw files: pass --raw, the folder that holds them")
        raw = Path(raw)
        paths = self.paths(raw)
        if not paths[LES].is_file():
            raise DataError(f"{raw}: no {LES} (nor in {FOLDER}/); unpack LFM-1b.zip there")
        self._check_size(paths[LES])
        errors = RowErrors(raw, o.skip_bad_rows)
        users, items, albums, times = self._events(paths[LES], errors)
        catalog = paths[TRACKS if o.item == "track" else ARTISTS]
        used = np.unique(items)
        self._check_memory(paths[LES], len(items), len(used))
        names, extra = _read_names(catalog, TRACKS if o.item == "track" else ARTISTS, errors, used)
        known = names != None  # noqa: E711 - an object array
        if not known.all():
            missing = used[~known]
            if not o.skip_bad_rows:
                self._report_dangling(paths[LES], errors, missing, catalog.name)
            kept = known[np.searchsorted(used, items)]
            errors.counts[errors.name(paths[LES])] += int((~kept).sum())
            users, items, albums, times = users[kept], items[kept], albums[kept], times[kept]
            used, names, extra = used[known], names[known], extra[known]
        if not len(items):
            raise DataError(
                f"{paths[LES]}: no listening events were kept (skipped rows: {errors.counts}); "
                "check the files and the options user_fraction, max_events, start_time, end_time"
            )
        persons = np.unique(users)
        person, item = np.searchsorted(persons, users), np.searchsorted(used, items)
        ratings, counts = play_ratings(person, item, times, dedupe=o.dedupe, threshold=o.positive_threshold)

        texts: dict[str, list[str]] = {}
        unnamed = 0
        vocabs: dict[str, list[str]] = {}
        item_columns: dict[str, Column] = {}
        if o.item == "track":
            artist_ids = np.unique(extra)
            artist_names, _ = _read_names(paths[ARTISTS], ARTISTS, errors, artist_ids)
            artist_of = np.searchsorted(artist_ids, extra)
            texts = {"track_name": list(names), "artist_name": [artist_names[a] or "" for a in artist_of]}
            unnamed = int(sum(artist_names[a] is None for a in artist_of))
            if paths[ALBUMS].is_file():
                first_album = albums[np.unique(item, return_index=True)[1]]
                album_ids = np.unique(first_album)
                album_names, _ = _read_names(paths[ALBUMS], ALBUMS, errors, album_ids)
                texts["album_name"] = [album_names[a] or "" for a in np.searchsorted(album_ids, first_album)]
            item_columns["artist"], vocabs["artist"] = category_column([str(a) for a in extra], "artist")
        else:
            texts = {"artist_name": list(names)}
        item_ids, vocabs["item_id"] = id_column([str(i) for i in used], "item_id")
        text, vocabs["words"] = text_columns(texts)
        person_columns: dict[str, Column] = {}
        if paths[USERS].is_file():
            for name, values in _read_users(paths[USERS], errors, persons).items():
                person_columns[name], vocabs[name] = category_column(values, name)
        info: dict[str, Any] = {
            "folder": self.folder(raw).rstrip("/") or ".",
            "item": o.item,
            **counts,
            "tracks_with_unknown_artist": unnamed,
            "sample": {
                "user_fraction": o.user_fraction,
                "max_events": o.max_events,
                "start_time": o.start_time,
                "end_time": o.end_time,
            },
            "skipped_rows": errors.counts,
        }
        return rating_depot(
            items={"item_id": item_ids, **text, **item_columns},
            vocabs=vocabs,
            persons=[str(p) for p in persons],
            person_columns=person_columns,
            ratings=ratings,
            options=o,
            info=info,
        )

    def _check_size(self, path: Path) -> None:
        """Refuse a run predicted to keep more than ``SAFE_EVENTS`` events, unless ``allow_full``."""
        o: LFM1bOptions = self.options
        plain = path.stat().st_size * (4 if compression(path) else 1)  # text compresses about 4:1
        predicted = int(plain / LINE_BYTES * o.user_fraction)
        if o.max_events:
            predicted = min(predicted, o.max_events)
        if predicted > SAFE_EVENTS and not o.allow_full:
            raise DataError(
                f"{path}: {plain / 1e9:.1f} GB of listening events (about {plain // LINE_BYTES:,} lines) would keep "
                f"about {predicted:,} events with user_fraction={o.user_fraction}, more than the {SAFE_EVENTS:,} "
                f"that fit 24 GB of memory. Prepare a sample, as is usual with LFM-1b: "
                f"--set user_fraction={max(SAFE_EVENTS * LINE_BYTES / plain / 2, 0.001):.3f} (a seeded share of the "
                f"users), --set max_events=N, or a window with start_time/end_time; or --set allow_full=true on a "
                f"machine with about {predicted * EVENT_BYTES / 1e9:.0f} GB"
            )

    def _check_memory(self, path: Path, events: int, items: int) -> None:
        """Refuse, before the costly part, a sample whose events and items need more than ``BUDGET_BYTES``."""
        o: LFM1bOptions = self.options
        need = events * EVENT_BYTES + items * ITEM_BYTES
        if need > BUDGET_BYTES and not o.allow_full:
            raise DataError(
                f"{path}: the sample has {events:,} events of {items:,} {o.item}s, which need about "
                f"{need / 1e9:.0f} GB of memory to prepare, more than the {BUDGET_BYTES / 1e9:.0f} GB budget of a "
                f"24 GB machine. Take a smaller sample (user_fraction, max_events, start_time/end_time; "
                f"item=artist has far fewer items), or --set allow_full=true on a bigger machine"
            )

    def _events(self, path: Path, errors: RowErrors) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(user, item, album, time)`` int32 arrays of the kept events, in file order."""
        o: LFM1bOptions = self.options
        column = ITEM_COLUMN[o.item]
        parts: list[list[np.ndarray]] = [[], [], [], []]
        left = o.max_events or -1
        for _, rows in event_blocks(
            path, errors, user_fraction=o.user_fraction, seed=o.seed, start_time=o.start_time, end_time=o.end_time
        ):
            if left >= 0:
                rows = rows[:left]
                left -= len(rows)
            for part, at in zip(parts, (0, column, 2, 4), strict=True):
                part.append(rows[:, at].astype(np.int32))
            if left == 0:
                break
        return tuple(np.concatenate(p) if p else np.zeros(0, np.int32) for p in parts)  # type: ignore[return-value]

    def _report_dangling(self, path: Path, errors: RowErrors, missing: np.ndarray, catalog: str) -> None:
        """Raise the ``file:line`` error of the first kept event whose item is not in ``catalog``."""
        o: LFM1bOptions = self.options
        column = ITEM_COLUMN[o.item]
        for numbers, rows in event_blocks(
            path,
            RowErrors(errors.raw, skip=True),
            user_fraction=o.user_fraction,
            seed=o.seed,
            start_time=o.start_time,
            end_time=o.end_time,
        ):
            ids = rows[:, column]
            hit = np.flatnonzero(missing[np.minimum(np.searchsorted(missing, ids), len(missing) - 1)] == ids)
            if len(hit):
                errors.bad(path, int(numbers[hit[0]]), f"{o.item} {int(ids[hit[0]])} is not in {catalog}", LES_FORMAT)
        raise DataError(f"{path}: {len(missing)} {o.item}s are not in {catalog} (first: {int(missing[0])})")


def _read_names(path: Path, kind: str, errors: RowErrors, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Names (object array, ``None`` where absent) and last-field ids (artist ids, -1) of the sorted ``wanted`` ids.

    A catalogue row is ``id<TAB>name`` or ``id<TAB>name<TAB>artist_id``; only rows
    of wanted ids are parsed beyond the id, and the first row of an id wins.
    """
    three = kind != ARTISTS
    names = np.full(len(wanted), None, dtype=object)
    extra = np.full(len(wanted), -1, dtype=np.int64)
    if not len(wanted):
        return names, extra
    slots = np.full(int(wanted[-1]) + 1, -1, np.int32)
    slots[wanted] = np.arange(len(wanted), dtype=np.int32)
    slot_of = array("i", slots.tobytes())  # fast to index from Python, 4 bytes an id
    expected, header = FORMATS[kind], CATALOG_FORMAT[kind].split()[0]
    for number, line in read_lines(path, errors):
        head, _, rest = line.partition("\t")
        if not head.isdigit():
            if not (number == 1 and head == header):
                errors.bad(path, number, f"id {head!r} is not a whole number", expected)
            continue
        at = int(head)
        slot = slot_of[at] if at < len(slot_of) else -1
        if slot < 0 or names[slot] is not None:
            continue
        if three:
            name, _, artist = rest.rpartition("\t")
            if not artist.isdigit():
                errors.bad(path, number, f"artist id {artist!r} is not a whole number", expected)
                continue
            extra[slot] = int(artist)
        else:
            name = rest
        names[slot] = name.replace("\t", " ")
    return names, extra


def _read_users(path: Path, errors: RowErrors, persons: np.ndarray) -> dict[str, list[str | None]]:
    """Country, age, gender and registration year of the kept ``persons`` (sorted user ids)."""
    columns: dict[str, list[str | None]] = {
        name: [None] * len(persons) for name in ("country", "age", "gender", "registered_year")
    }
    slot_of = {int(p): slot for slot, p in enumerate(persons)}
    for number, (user, country, age, gender, _, registered) in read_rows(
        path, errors, sep="\t", columns=6, expected=FORMATS[USERS], header=USERS_HEADER
    ):
        user, age, registered = user.strip(), age.strip(), registered.strip()
        if not user.isdigit():
            errors.bad(path, number, f"user id {user!r} is not a whole number", FORMATS[USERS])
            continue
        if not _integer(age) or not _integer(registered):
            errors.bad(
                path, number, f"age {age!r} or registered_unixtime {registered!r} is not a whole number", FORMATS[USERS]
            )
            continue
        slot = slot_of.get(int(user))
        if slot is None:
            continue
        year = (
            str(datetime.datetime.fromtimestamp(int(registered), datetime.timezone.utc).year)
            if registered and int(registered) > 0
            else None
        )
        for name, value in (
            ("country", country.strip()),
            ("age", age if age and int(age) >= 0 else None),
            ("gender", gender.strip()),
            ("registered_year", year),
        ):
            columns[name][slot] = value or None
    return columns


def _integer(text: str) -> bool:
    return not text or text.lstrip("-").isdigit()
