"""The ``steam`` processor: the UCSD Steam data (Kang & McAuley 2018; Pathak et al. 2017).

Every file is gzipped "loose JSON": one Python dict literal per line (single
quotes, ``True``/``False``, ``u'...'``), read with ``ast.literal_eval`` (a plain
JSON line is accepted too). One interaction file is read, chosen by ``source``:

- ``reviews`` (version 2): ``steam_reviews.json.gz``, one review per line; the
  person is ``username`` (not unique on Steam, as SASRec and RecBole use it) or
  the optional ``user_id``; time = ``date`` (``YYYY-MM-DD``); every review is a
  positive (the file has no recommend flag).
- ``user_reviews`` (version 1): ``australian_user_reviews.json.gz``, one user
  per line with a list of reviews; label = ``recommend`` (True = 1, False = 0)
  or all positives; time = ``posted`` (``"Posted November 5, 2011."``). Steam
  leaves the year out for reviews of the crawl year (``"Posted April 21."``):
  ``yearless_year`` supplies it, else such a review counts as undated. An
  undated review takes the time of the review before it in its line (the
  first dated one after it when none is before), so it keeps its place in
  file order.
- ``plays`` (version 1): ``australian_users_items.json.gz``, one user per line
  with the games owned and ``playtime_forever`` (minutes); games played less
  than ``min_playtime`` are left out; label = 1 when playtime reaches
  ``positive_threshold`` minutes (default 0: every game a positive). There are
  no dates: ``time`` is the position in the file, so splits follow file order.

Items come from ``steam_games.json.gz`` (joined on ``id``): ``title`` (+
``title_text``: ``app_name``, else ``title``), ``genres``, ``tags``, ``specs``
(multi-valued tokens, one vocabulary each), ``developer``, ``publisher``
(categories). A game that is interacted with but not in ``steam_games`` (or a
line without ``id``) gets empty content, with the ``item_name`` of the plays
file as its title where there is one. ``catalog = "interacted"`` (default)
keeps the games people reviewed or played; ``"all"`` keeps every game of
``steam_games`` too (cold items). ``bundle_data.json.gz`` is not read, and
Steam has no user attributes.

Interactions follow :mod:`lego_datasets.splits` (per-user time order, one
history row per ``context_size`` train interactions, leakage-free
histories); because the data is (nearly) all positives, ``eval_negatives``
defaults to 100 sampled unseen games per user for valid and for test.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "steam"
    >>> content = SteamProcessor().build(raw)
    >>> content.info["source"], content.info["items"], content.info["ratings"]
    ('reviews', 7, 17)
    >>> parse_posted("Posted November 5, 2011."), parse_posted("Posted April 21."), parse_posted("")
    (1320451200, None, None)
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import DEDUPE, EventLog, IdIndex
from lego_datasets.columns import category_column, id_column, text_columns, token_list_column
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_json_lines
from lego_datasets.splits import RatingOptions, one_of, rating_depot

SOURCE = "https://cseweb.ucsd.edu/~jmcauley/datasets.html#steam_data"
SOURCES = ("auto", "reviews", "user_reviews", "plays")
LABELS = ("auto", "recommend", "all")
USER_KEYS = ("username", "user_id")
CATALOGS = ("interacted", "all")
FILE_OF = {
    "reviews": "steam_reviews.json.gz",
    "user_reviews": "australian_user_reviews.json.gz",
    "plays": "australian_users_items.json.gz",
}
GAMES = "steam_games.json.gz"
REVIEWS_FORMAT = (
    "Python-literal lines {'username': str, 'product_id': str, 'date': 'YYYY-MM-DD', "
    "'user_id': str (optional), 'hours', 'text', ...} (version 2)"
)
USER_REVIEWS_FORMAT = (
    "Python-literal lines {'user_id': str, 'reviews': [{'item_id': str, 'recommend': bool, "
    "'posted': 'Posted November 5, 2011.', ...}]} (version 1)"
)
PLAYS_FORMAT = (
    "Python-literal lines {'user_id': str, 'items': [{'item_id': str, 'item_name': str, "
    "'playtime_forever': int (minutes), ...}]} (version 1)"
)
GAMES_FORMAT = (
    "Python-literal lines {'id': str, 'app_name', 'title', 'genres': [str], 'tags': [str], "
    "'specs': [str], 'developer', 'publisher', ...} (every key optional)"
)
FORMAT_OF = {"reviews": REVIEWS_FORMAT, "user_reviews": USER_REVIEWS_FORMAT, "plays": PLAYS_FORMAT}
MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
MONTHS.update({name[:3]: number for name, number in list(MONTHS.items())})
_POSTED = re.compile(r"^Posted:?\s+([A-Za-z]+)\.?\s+(\d{1,2})(?:,\s*(\d{4}))?\s*\.?$")
_EPOCH = datetime.date(1970, 1, 1).toordinal()
LIST_FIELDS = ("genres", "tags", "specs")
CATEGORY_FIELDS = ("developer", "publisher")


@attrs.define(kw_only=True, frozen=True)
class SteamOptions(RatingOptions):
    source: str = attrs.field(
        default="auto",
        validator=one_of(SOURCES),
        metadata={
            "doc": "Interaction file: reviews (steam_reviews, v2), user_reviews (australian_user_reviews, "
            "v1), plays (australian_users_items, v1); auto takes the first found in that order."
        },
    )
    labels: str = attrs.field(
        default="auto",
        validator=one_of(LABELS),
        metadata={
            "doc": "recommend: v1 reviews' recommend flag is the label; all: every interaction a positive; "
            "auto: recommend for user_reviews, all for reviews (plays: see positive_threshold)."
        },
    )
    positive_threshold: float = attrs.field(
        default=0.0,
        validator=[v.instance_of((int, float)), v.ge(0)],
        metadata={
            "doc": "plays only: label 1 when playtime_forever (minutes) reaches this, else 0; "
            "0 makes every play a positive."
        },
    )
    min_playtime: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "plays only: owned games played fewer minutes are left out; 0 keeps every owned game."},
    )
    user_key: str = attrs.field(
        default="username",
        validator=one_of(USER_KEYS),
        metadata={
            "doc": "reviews only: the person is username (every line has it; not unique on Steam) or "
            "user_id (optional in the file; lines without it are left out and counted)."
        },
    )
    yearless_year: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "user_reviews: the year of 'Posted April 21.' dates (Steam omits the crawl year); "
            "0 treats them as undated (they keep their place in file order)."
        },
    )
    dedupe: str = attrs.field(
        default="first",
        validator=one_of(DEDUPE),
        metadata={"doc": "One interaction per user and game: first (earliest) or last, or none to keep repeats."},
    )
    catalog: str = attrs.field(
        default="interacted",
        validator=one_of(CATALOGS),
        metadata={"doc": "Items: interacted (games with an interaction) or all (every game of steam_games too)."},
    )
    eval_negatives: int = attrs.field(
        default=100,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Unseen games sampled once per user for valid and for test (label 0); Steam is "
            "(nearly) all positives, so 0 would leave nothing to rank against."
        },
    )


def parse_posted(text: str, yearless_year: int = 0) -> int | None:
    """``"Posted November 5, 2011."`` -> Unix seconds (UTC midnight); ``None`` when undated.

    A date without a year (``"Posted April 21."``) takes ``yearless_year``, or is
    undated when that is 0. Raises ``ValueError`` on text that is no such date.
    """
    text = text.strip()
    if not text:
        return None
    found = _POSTED.match(text)
    month = MONTHS.get(found.group(1).lower()) if found else None
    if found is None or month is None:
        raise ValueError(text)
    year = int(found.group(3)) if found.group(3) else yearless_year
    if not year:
        return None
    return (datetime.date(year, month, int(found.group(2))).toordinal() - _EPOCH) * 86400


def parse_day(text: str, _days: dict[str, int] = {}) -> int:  # noqa: B006 - a deliberate cache
    """``"2018-01-05"`` -> Unix seconds (UTC midnight); raises ``ValueError`` on anything else."""
    day = _days.get(text)
    if day is None:
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        day = _days[text] = (datetime.date(int(text[:4]), int(text[5:7]), int(text[8:])).toordinal() - _EPOCH) * 86400
    return day


@attrs.define
class _Games:
    """``steam_games`` rows by id, first row of an id wins."""

    index: dict[str, int] = attrs.field(factory=dict)
    ids: list[str] = attrs.field(factory=list)
    titles: list[str] = attrs.field(factory=list)
    lists: dict[str, list[list[str]]] = attrs.field(factory=lambda: {f: [] for f in LIST_FIELDS})
    categories: dict[str, list[str | None]] = attrs.field(factory=lambda: {f: [] for f in CATEGORY_FIELDS})
    without_id: int = 0
    duplicates: int = 0

    def read(self, path: Path, errors: RowErrors) -> None:
        for number, game in read_json_lines(path, errors, expected=GAMES_FORMAT, python_literals=True):
            problem = next(
                (f"{f} is {game[f]!r}, not a list of strings" for f in LIST_FIELDS if not _is_list(game.get(f))), None
            )
            if problem:
                errors.bad(path, number, problem, GAMES_FORMAT)
                continue
            game_id = _text(game.get("id"))
            if not game_id:
                self.without_id += 1
                continue
            if game_id in self.index:
                self.duplicates += 1
                continue
            self.index[game_id] = len(self.ids)
            self.ids.append(game_id)
            self.titles.append(_text(game.get("app_name")) or _text(game.get("title")))
            for f in LIST_FIELDS:
                self.lists[f].append(_values(game.get(f)))
            for f in CATEGORY_FIELDS:
                self.categories[f].append(_text(game.get(f)) or None)


def shipped_name(raw: Path, name: str) -> str:
    """The name of the gzipped file ``name`` in ``raw``: as shipped, unpacked (``.json``) or recompressed."""
    found = find_variant(raw, name.removesuffix(".gz"))
    return found if (Path(raw) / found).is_file() else name


def _is_list(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value))
    )


def _values(value: Any) -> list[str]:
    """A list field as distinct non-empty strings (a lone string is one value)."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    return list(dict.fromkeys(x.strip() for x in values if x.strip()))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


class SteamProcessor(Processor):
    name = "steam"
    description = (
        "UCSD Steam (v1 Australian users, v2 reviews): game titles, genres, tags, specs, developer, "
        "publisher; reviews (recommend labels) or play logs; per-user time splits, sampled negatives."
    )
    files = tuple(
        RawFile(name, f"one of the three interaction files is enough; {FORMAT_OF[source]}", SOURCE)
        for source, name in FILE_OF.items()
    ) + (RawFile(GAMES, f"game metadata: {GAMES_FORMAT}; needed with reviews, optional with plays", SOURCE),)
    Options = SteamOptions

    def source(self, raw: Path) -> str | None:
        """The interaction source to read from ``raw``: the forced one, or the first file found."""
        o: SteamOptions = self.options
        if o.source != "auto":
            return o.source
        return next((s for s, name in FILE_OF.items() if (Path(raw) / shipped_name(raw, name)).is_file()), None)

    def expected_files(self, raw: Path) -> list[RawFile]:
        source = self.source(raw)
        if source is None:
            return list(self.files)
        name, games = shipped_name(raw, FILE_OF[source]), shipped_name(raw, GAMES)
        return [
            RawFile(name, FORMAT_OF[source], SOURCE),
            RawFile(games, f"game metadata: {GAMES_FORMAT}", SOURCE, optional=source == "plays"),
        ]

    def build(self, raw: Path | None) -> DepotContent:
        o: SteamOptions = self.options
        if raw is None:
            raise DataError(f"{self.name!r} reads raw files: pass the folder that holds them as --raw")
        raw = Path(raw)
        source = self.source(raw)
        if source is None:
            raise DataError(
                f"{raw}: no Steam interaction file (expected one of {', '.join(FILE_OF.values())}, gzipped or not)"
            )
        labels = ("recommend" if source == "user_reviews" else "all") if o.labels == "auto" else o.labels
        if labels == "recommend" and source != "user_reviews":
            raise DataError(
                f"labels='recommend' needs australian_user_reviews (source='user_reviews'); the {source} "
                f"file has no recommend flag. Use labels='all' or source='user_reviews'."
            )
        if source != "plays" and (o.positive_threshold > 0 or o.min_playtime > 0):
            raise DataError(
                f"positive_threshold and min_playtime apply to play logs (source='plays'), not to "
                f"{source}; leave them at 0 or use source='plays'"
            )
        errors = RowErrors(raw, o.skip_bad_rows)
        games = _Games()
        games_path = raw / shipped_name(raw, GAMES)
        if games_path.is_file():
            games.read(games_path, errors)
        log = EventLog(items=IdIndex(games.ids if o.catalog == "all" else ()))
        path = raw / shipped_name(raw, FILE_OF[source])
        names: dict[str, str] = {}
        if source == "reviews":
            notes = _read_reviews(path, errors, log, o)
        elif source == "user_reviews":
            notes = _read_user_reviews(path, errors, log, o, recommend=labels == "recommend")
        else:
            notes = _read_plays(path, errors, log, o, names)
        threshold = o.positive_threshold if source == "plays" else (1.0 if labels == "recommend" else None)
        ratings = log.ratings(threshold, dedupe=o.dedupe)

        rows = [games.index.get(game) for game in log.items.ids]
        titles = [
            games.titles[r] if r is not None and games.titles[r] else names.get(game, "")
            for game, r in zip(log.items.ids, rows)
        ]
        item_ids, item_vocab = id_column(log.items.ids, "item_id")
        text, words = text_columns({"title": titles})
        items: dict[str, Column] = {"item_id": item_ids, **text}
        vocabs = {"item_id": item_vocab, "words": words}
        for f in LIST_FIELDS:
            items[f], vocabs[f] = token_list_column([games.lists[f][r] if r is not None else [] for r in rows], f)
        for f in CATEGORY_FIELDS:
            items[f], vocabs[f] = category_column([games.categories[f][r] if r is not None else None for r in rows], f)
        info = {
            "source": source,
            "labels": "playtime" if source == "plays" else labels,
            **notes,
            "games": len(games.ids),
            "games_without_id": games.without_id,
            "duplicate_games": games.duplicates,
            "items_without_metadata": sum(r is None for r in rows),
            "events": len(log),
            "dedupe": o.dedupe,
            "skipped_rows": errors.counts,
        }
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=log.persons.ids,
            person_columns={},
            ratings=ratings,
            options=o,
            info=info,
        )


def _read_reviews(path: Path, errors: RowErrors, log: EventLog, o: SteamOptions) -> dict[str, Any]:
    """Version 2: one review per line, all positives, time = date."""
    without_user_id = 0
    for number, review in read_json_lines(
        path, errors, expected=REVIEWS_FORMAT, python_literals=True, required=("product_id", "date", "username")
    ):
        person = _text(review.get(o.user_key))
        game = _text(review["product_id"])
        if not person and o.user_key == "user_id":
            without_user_id += 1
            continue
        if not person or not game:
            errors.bad(path, number, f"empty {'product_id' if person else o.user_key}", REVIEWS_FORMAT)
            continue
        try:
            time = parse_day(str(review["date"]))
        except ValueError:
            errors.bad(path, number, f"date {review['date']!r} is not YYYY-MM-DD", REVIEWS_FORMAT)
            continue
        log.add(person, game, time)
    notes: dict[str, Any] = {"time": "date (day resolution; ties keep file order)", "user_key": o.user_key}
    if o.user_key == "user_id":
        notes["reviews_without_user_id"] = without_user_id
    return notes


def _read_user_reviews(
    path: Path, errors: RowErrors, log: EventLog, o: SteamOptions, *, recommend: bool
) -> dict[str, Any]:
    """Version 1 reviews: one user per line; undated reviews keep their place in the line."""
    undated = 0
    for number, line in read_json_lines(
        path, errors, expected=USER_REVIEWS_FORMAT, python_literals=True, required=("user_id", "reviews")
    ):
        person, reviews = _text(line["user_id"]), line["reviews"]
        if not person or not isinstance(reviews, (list, tuple)):
            errors.bad(
                path,
                number,
                "empty user_id" if not person else f"reviews is a {type(reviews).__name__}, not a list",
                USER_REVIEWS_FORMAT,
            )
            continue
        kept: list[tuple[str, int | None, float]] = []
        for at, review in enumerate(reviews, start=1):
            problem, entry = _review_entry(review, o.yearless_year, recommend)
            if problem:
                errors.bad(path, number, f"review {at}: {problem}", USER_REVIEWS_FORMAT)
                continue
            kept.append(entry)  # type: ignore[arg-type]
        times = _fill_times([t for _, t, _ in kept])
        undated += sum(t is None for _, t, _ in kept)
        for (game, _, label), time in zip(kept, times):
            log.add(person, game, time, label)
    return {
        "time": "posted date (day resolution; undated reviews keep their place in file order)",
        "undated_reviews": undated,
    }


def _review_entry(review: Any, yearless_year: int, recommend: bool) -> tuple[str, tuple | None]:
    """``(problem, (game, time or None, label))`` of one v1 review."""
    if not isinstance(review, dict):
        return f"a {type(review).__name__}, not a dict", None
    game = _text(review.get("item_id"))
    if not game:
        return "no item_id", None
    flag = review.get("recommend")
    if recommend and not isinstance(flag, bool):
        return f"recommend is {flag!r}, not True or False", None
    posted = review.get("posted")
    try:
        time = parse_posted(posted if isinstance(posted, str) else "", yearless_year)
    except ValueError:
        return f"posted {posted!r} is not 'Posted Month D, YYYY.'", None
    return "", (game, time, 1.0 if not recommend or flag else 0.0)


def _fill_times(times: list[int | None]) -> list[int]:
    """Undated entries take the time before them (or the first one after them; 0 when none is dated)."""
    first = next((t for t in times if t is not None), 0)
    out, last = [], first
    for t in times:
        last = t if t is not None else last
        out.append(last)
    return out


def _read_plays(path: Path, errors: RowErrors, log: EventLog, o: SteamOptions, names: dict[str, str]) -> dict[str, Any]:
    """Version 1 ownership: one user per line; time = position in the file; rating = playtime in minutes."""
    position, below = 0, 0
    for number, line in read_json_lines(
        path, errors, expected=PLAYS_FORMAT, python_literals=True, required=("user_id", "items")
    ):
        person, owned = _text(line["user_id"]), line["items"]
        if not person or not isinstance(owned, (list, tuple)):
            errors.bad(
                path,
                number,
                "empty user_id" if not person else f"items is a {type(owned).__name__}, not a list",
                PLAYS_FORMAT,
            )
            continue
        for at, item in enumerate(owned, start=1):
            game = _text(item.get("item_id")) if isinstance(item, dict) else ""
            minutes = item.get("playtime_forever", 0) if isinstance(item, dict) else None
            if not game or isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes < 0:
                what = "no item_id" if not game else f"playtime_forever is {minutes!r}, not minutes"
                errors.bad(path, number, f"item {at}: {what}", PLAYS_FORMAT)
                continue
            name = _text(item.get("item_name"))
            if name:
                names.setdefault(game, name)
            if minutes < o.min_playtime:
                below += 1
                continue
            log.add(person, game, position, float(minutes))
            position += 1
    return {
        "time": "file order (plays have no dates; time is the position in the file)",
        "plays_below_min_playtime": below,
    }
