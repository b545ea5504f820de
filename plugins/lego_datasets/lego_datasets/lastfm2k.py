"""The ``lastfm2k`` processor: HetRec 2011 Last.fm 2K (1,892 users, 17,632 artists, play counts, tags, friends).

``--raw`` holds ``hetrec2011-lastfm-2k.zip`` unpacked (the files, or a
``hetrec2011-lastfm-2k/`` folder with them). TAB-separated files with a header
line; ``tags.dat``, ``user_artists.dat`` and ``user_friends.dat`` have CRLF
endings (read like LF):

- ``user_artists.dat``: ``userID artistID weight`` (weight = play count).
- ``artists.dat``: ``id name url pictureURL`` (the urls are not read; a row may
  lack the last field). Read as UTF-8, a line that is not as Latin-1.
- ``tags.dat`` (optional): ``tagID tagValue``, Latin-1/Windows-1252; a line is
  read as UTF-8 when it is valid UTF-8 (a re-saved copy), else as Windows-1252.
- ``user_taggedartists.dat`` or ``user_taggedartists-timestamps.dat``
  (optional, the same tag assignments; the first one found is read; tags need
  ``tags.dat`` as well).
- ``user_friends.dat`` (optional): ``userID friendID``.

Items: the artists of ``artists.dat`` in file order: ``artist_name`` (words +
``_text``) and ``tags``, the artist's ``max_tags`` most applied tags over all
users (lower-cased, vocabulary ``tags``). A tag assignment of an artist that
is not in ``artists.dat`` adds nothing and is counted in
``info["tag_rows_unknown_artist"]``. Users: ``friends`` (tokens, vocabulary
``friends``: the user ids of the person's friends).

Interactions: one per ``user_artists.dat`` row; ``label = 1`` when the weight
is at least ``positive_threshold`` (default 1: all positives). The data has no
listening times, so each user's artists are put in a random order drawn once
with ``seed``, and the per-user split of :mod:`lego_datasets.splits` cuts that
order (the last 10% to test, the 10% before to valid); histories hold the
artists earlier in that order, and ``time`` is the position in it. Tag
timestamps are not used for the order: only the artists a user also tagged
have one, and it dates the tagging, not the listening. Valid and test get 100
sampled unplayed artists per user by default (``eval_negatives``).

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "lastfm2k"
    >>> content = LastFM2KProcessor().build(raw)
    >>> content.info["items"], content.info["ratings"], content.info["tag_file"]
    (8, 21, 'user_taggedartists.dat')
"""

from __future__ import annotations

from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import IdIndex
from lego_datasets.columns import id_column, text_columns, token_list_column
from lego_datasets.listening import ImplicitOptions
from lego_datasets.reader import RowErrors, read_rows
from lego_datasets.splits import Ratings, one_of, rating_depot

FOLDER = "hetrec2011-lastfm-2k"
SOURCE = "https://grouplens.org/datasets/hetrec-2011/ (hetrec2011-lastfm-2k.zip)"
USER_ARTISTS = "user_artists.dat"
ARTISTS = "artists.dat"
TAGS = "tags.dat"
TAGGED = "user_taggedartists.dat"
TAGGED_TIMES = "user_taggedartists-timestamps.dat"
FRIENDS = "user_friends.dat"
HEADERS = {
    USER_ARTISTS: ("userID", "artistID", "weight"),
    ARTISTS: ("id", "name", "url", "pictureURL"),
    TAGS: ("tagID", "tagValue"),
    TAGGED: ("userID", "artistID", "tagID", "day", "month", "year"),
    TAGGED_TIMES: ("userID", "artistID", "tagID", "timestamp"),
    FRIENDS: ("userID", "friendID"),
}
FORMATS = {name: f"TAB-separated with header {' '.join(header)}" for name, header in HEADERS.items()}
FORMATS[USER_ARTISTS] += " (weight = play count); CRLF"
FORMATS[TAGS] += "; Latin-1/Windows-1252; CRLF"
FORMATS[TAGGED_TIMES] += " (epoch ms)"
FORMATS[FRIENDS] += "; CRLF"
OPTIONAL = (TAGS, TAGGED, TAGGED_TIMES, FRIENDS)


@attrs.define(kw_only=True, frozen=True)
class LastFM2KOptions(ImplicitOptions):
    positive_threshold: float = attrs.field(
        default=1.0,
        validator=v.instance_of((int, float)),
        metadata={
            "doc": "A user-artist weight (play count) at or above this is a positive, below it a negative "
            "(label 0); 1 makes every pair a positive."
        },
    )
    split_by: str = attrs.field(
        default="user",
        validator=one_of(("user",)),
        metadata={
            "doc": '"user" only: each user\'s artists in a seeded random order, the last ones form '
            "valid/test (there are no listening times for a global time split)."
        },
    )
    max_tags: int = attrs.field(
        default=20,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most applied tags kept per artist; 0 keeps all."},
    )


def _cp1252(text: str) -> str:
    """A line read as Latin-1 that holds C1 controls (0x80-0x9F) was Windows-1252: read it as that."""
    if any("\x80" <= ch <= "\x9f" for ch in text):
        try:
            return text.encode("latin-1").decode("cp1252")
        except UnicodeError:
            return text
    return text


def _most_applied(counts: Counter[str], keep: int) -> list[str]:
    """Tags by how often they were applied (ties by name), at most ``keep`` (0: all)."""
    ranked = sorted(counts, key=lambda tag: (-counts[tag], tag))
    return ranked[:keep] if keep else ranked


class LastFM2KProcessor(Processor):
    name = "lastfm2k"
    description = (
        "HetRec 2011 Last.fm 2K: user-artist play counts, artist names and tags, friends; "
        "per-user split of a seeded random order with sampled negatives."
    )
    files = tuple(RawFile(name, FORMATS[name], SOURCE, optional=name in OPTIONAL) for name in HEADERS)
    Options = LastFM2KOptions

    @staticmethod
    def folder(raw: Path) -> str:
        """``""`` when the files are in ``raw``, ``"hetrec2011-lastfm-2k/"`` when they are one level down."""
        raw = Path(raw)
        return f"{FOLDER}/" if (raw / FOLDER).is_dir() and not (raw / USER_ARTISTS).is_file() else ""

    def expected_files(self, raw: Path) -> list[RawFile]:
        prefix = self.folder(raw)
        return [attrs.evolve(f, name=prefix + f.name) for f in self.files]

    def build(self, raw: Path | None) -> DepotContent:
        o: LastFM2KOptions = self.options
        if raw is None:
            raise DataError(f"{self.name} reads raw files: pass --raw, the folder that holds them")
        raw = Path(raw)
        base = raw / self.folder(raw)
        if not (base / USER_ARTISTS).is_file():
            raise DataError(f"{raw}: no {USER_ARTISTS} (nor in {FOLDER}/); unpack hetrec2011-lastfm-2k.zip there")
        errors = RowErrors(raw, o.skip_bad_rows)
        artists, names = self._artists(base / ARTISTS, errors)
        info: dict[str, Any] = {"folder": self.folder(raw).rstrip("/") or "."}
        tags = self._tags(base, errors, artists, info)
        persons, ratings = self._plays(base / USER_ARTISTS, errors, artists)

        item_ids, item_vocab = id_column(artists.ids, "item_id")
        text, words = text_columns({"artist_name": names})
        items: dict[str, Column] = {"item_id": item_ids, **text}
        vocabs = {"item_id": item_vocab, "words": words}
        items["tags"], vocabs["tags"] = token_list_column(tags, "tags")
        person_columns: dict[str, Column] = {}
        if (base / FRIENDS).is_file():
            friends = self._friends(base / FRIENDS, errors, persons)
            person_columns["friends"], vocabs["friends"] = token_list_column(friends, "friends")
        info.update({"order": f"seeded random order per user (seed {o.seed})", "skipped_rows": errors.counts})
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=persons.ids,
            person_columns=person_columns,
            ratings=ratings,
            options=o,
            info=info,
        )

    def _artists(self, path: Path, errors: RowErrors) -> tuple[IdIndex, list[str]]:
        artists, names = IdIndex(), []
        for number, fields in read_rows(
            path,
            errors,
            sep="\t",
            columns=(2, 4),
            expected=FORMATS[ARTISTS],
            header=HEADERS[ARTISTS],
            latin1_fallback=True,
        ):
            artist = fields[0].strip()
            if not artist or artist in artists:
                errors.bad(path, number, f"artist {artist!r} is empty or listed twice", "one row per artist")
                continue
            artists.add(artist)
            names.append(fields[1].strip())
        return artists, names

    def _tags(self, base: Path, errors: RowErrors, artists: IdIndex, info: dict[str, Any]) -> list[list[str]]:
        """Each artist's most applied tags (lower-cased), most frequent first."""
        o: LastFM2KOptions = self.options
        counts: list[Counter[str]] = [Counter() for _ in artists.ids]
        tagged = next((base / name for name in (TAGGED, TAGGED_TIMES) if (base / name).is_file()), None)
        info["tag_file"] = tagged.name if tagged is not None else None
        info["tag_rows_unknown_artist"] = 0
        if tagged is None or not (base / TAGS).is_file():
            return [[] for _ in artists.ids]
        values: dict[str, str] = {}
        path = base / TAGS
        for number, (tag, value) in read_rows(
            path, errors, sep="\t", columns=2, expected=FORMATS[TAGS], header=HEADERS[TAGS], latin1_fallback=True
        ):
            tag = tag.strip()
            if not tag or tag in values:
                errors.bad(path, number, f"tag {tag!r} is empty or listed twice", "one row per tag")
                continue
            values[tag] = " ".join(_cp1252(value).lower().split())
        header = HEADERS[tagged.name]
        for number, fields in read_rows(
            tagged, errors, sep="\t", columns=len(header), expected=FORMATS[tagged.name], header=header
        ):
            found = values.get(fields[2].strip())
            if found is None:
                errors.bad(tagged, number, f"tag {fields[2]!r} is not in {TAGS}", FORMATS[tagged.name])
                continue
            artist = artists.get(fields[1].strip())
            if artist is None:
                info["tag_rows_unknown_artist"] += 1
            elif found:
                counts[artist][found] += 1
        return [_most_applied(c, o.max_tags) for c in counts]

    def _plays(self, path: Path, errors: RowErrors, artists: IdIndex) -> tuple[IdIndex, Ratings]:
        o: LastFM2KOptions = self.options
        persons, person, item, weight = IdIndex(), array("q"), array("q"), array("q")
        seen: set[tuple[int, int]] = set()
        for number, (user, artist, count) in read_rows(
            path, errors, sep="\t", columns=3, expected=FORMATS[USER_ARTISTS], header=HEADERS[USER_ARTISTS]
        ):
            user, artist, count = user.strip(), artist.strip(), count.strip()
            index = artists.get(artist)
            if not user:
                errors.bad(path, number, "empty user id", FORMATS[USER_ARTISTS])
            elif index is None:
                errors.bad(path, number, f"artist {artist!r} is not in {ARTISTS}", FORMATS[USER_ARTISTS])
            elif not count.isdigit():
                errors.bad(path, number, f"weight {count!r} is not a whole number", FORMATS[USER_ARTISTS])
            elif (persons.index.get(user, -1), index) in seen:
                errors.bad(
                    path, number, f"user {user!r} and artist {artist!r} are listed twice", "one row per user and artist"
                )
            else:
                p = persons.add(user)
                seen.add((p, index))
                person.append(p)
                item.append(index)
                weight.append(int(count))
        persons_array = np.asarray(person, dtype=np.int64)
        # the order of each user's artists: a seeded shuffle; time = position in it
        shuffled = np.lexsort((np.random.default_rng(o.seed).random(len(person)), persons_array))
        position = np.empty(len(person), np.int64)
        starts = np.searchsorted(persons_array[shuffled], persons_array[shuffled])
        position[shuffled] = np.arange(len(person)) - starts
        label = (np.asarray(weight, dtype=np.float64) >= o.positive_threshold).astype(np.float32)
        return persons, Ratings(person=persons_array, item=np.asarray(item, dtype=np.int64), time=position, label=label)

    def _friends(self, path: Path, errors: RowErrors, persons: IdIndex) -> list[list[str]]:
        friends: list[list[str]] = [[] for _ in persons.ids]
        for number, (user, friend) in read_rows(
            path, errors, sep="\t", columns=2, expected=FORMATS[FRIENDS], header=HEADERS[FRIENDS]
        ):
            user, friend = user.strip(), friend.strip()
            if not user or not friend:
                errors.bad(path, number, "empty user or friend id", FORMATS[FRIENDS])
                continue
            index = persons.get(user)
            if index is not None and friend not in friends[index]:
                friends[index].append(friend)
        return friends
