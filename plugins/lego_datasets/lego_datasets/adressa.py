"""The ``adressa`` processor: Adressa news reads (Adresseavisen / NTNU SmartMedia), 1-week or 3-month release.

``--raw`` holds the unpacked release, ``one_week/`` (day files ``20170101`` ... ``20170107``) or
``three_month/`` (``20170101`` ... ``20170331``), or is such a folder itself; ``release`` picks
one when both are there. A day file is named ``YYYYMMDD`` with no extension, plain or compressed
(``20170101.gz``); each line is one JSON page-view event (``shared/datasets/FORMATS.md`` section 3).

Articles. An event with an article ``id`` is a read; the others (front page, section pages) are
left out, and a line with no ``"id"`` key is not even parsed. Each article field comes from the
first event that has it: ``title`` (+ ``title_text``), ``category``/``subcategory``
(``category1`` ``"nyheter|trondheim"`` split at the first ``|``; without one, the URL path before
the date when ``category_from_url``), ``keywords`` (comma-separated, lower-cased), ``authors``, and
a tokens column ``profile_<group>`` per ``profile_groups`` group (that group's profile items,
heaviest first). An article that no event gives a title is dropped with its reads
(``info["untitled_articles"]``), as the literature does: it has no content to recommend from.

Users: ``city``, ``region``, ``country``, ``device_type``, ``os`` (categories), each from the
person's first kept read that has it.

Interactions are implicit: every kept read is a positive. With ``min_active_time > 0`` only reads
with ``activeTime`` of at least that many seconds count (a read without ``activeTime`` does not);
then ``dedupe`` keeps one read per (user, article), and users with fewer than ``min_user_reads``
reads are left out. ``split_by = "user"`` or ``"time"`` follow
:mod:`lego_datasets.splits`; ``"days"`` puts the last ``test_days`` day files in test, the
``valid_days`` before them in valid and the rest in train. Evaluation negatives
(``eval_negatives``, default 20: the 3-month release has 3.1M readers) are articles the user never
read, sampled once with ``seed``.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "adressa"
    >>> content = AdressaProcessor(AdressaOptions(split_by="days")).build(raw)
    >>> content.info["release"], content.info["days"], content.info["items"], content.info["ratings"]
    ('one_week', 7, 11, 29)
"""

from __future__ import annotations

import json
import math
import re
from array import array
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import EventLog, IdIndex
from lego_datasets.columns import category_column, id_column, text_columns, token_list_column
from lego_datasets.reader import RowErrors, read_lines
from lego_datasets.splits import RatingOptions, Ratings, one_of, rating_depot, unit_fraction

RELEASES = ("one_week", "three_month")
SPLIT_BY = ("user", "time", "days")
DEDUPE = ("first", "last", "none")
PROFILE_GROUPS = (
    "category",
    "taxonomy",
    "concept",
    "entity",
    "classification",
    "sentiment",
    "pageclass",
    "site",
    "language",
    "adressa-access",
    "adressa-importance",
    "author",
    "person",
    "location",
    "company",
)
USER_FIELDS = {"city": "city", "region": "region", "country": "country", "deviceType": "device_type", "os": "os"}
PROFILE_KEY = '"profile": ['
ARTICLE_ID = re.compile(r'"id": "([^"\\]*)"')
DAY_FILE = re.compile(r"^(\d{8})(\.gz|\.bz2|\.xz|\.zip)?$")
EVENT_FORMAT = (
    "UTF-8 JSON lines, one page-view event per line, no header: userId, time (Unix seconds), "
    "id (40-hex article id), title, category1, keywords, activeTime, ..."
)
SOURCE = "https://reclab.idi.ntnu.no/dataset/ (unpack one_week.tar.gz or three_month.tar.gz into --raw)"
ANY_RELEASE = (
    RawFile(
        "one_week/YYYYMMDD",
        f"one release is enough; 1-week release: day files 20170101 ... 20170107 (plain or .gz); {EVENT_FORMAT}",
        SOURCE,
    ),
    RawFile("three_month/YYYYMMDD", "one release is enough; 3-month release: day files 20170101 ... 20170331", SOURCE),
)


def _profile_groups(instance: object, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
    unknown = [g for g in value if g not in PROFILE_GROUPS]
    if unknown:
        raise ValueError(
            f"{attribute.name}: unknown profile group(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(PROFILE_GROUPS)}"
        )


@attrs.define(kw_only=True, frozen=True)
class AdressaOptions:
    release: str = attrs.field(
        default="auto",
        validator=one_of(("auto", *RELEASES)),
        metadata={"doc": "one_week or three_month: the release folder to read; auto finds the one in --raw."},
    )
    min_active_time: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Seconds of activeTime a read needs to count; 0 counts every read (also those without activeTime)."
        },
    )
    dedupe: str = attrs.field(
        default="first",
        validator=one_of(DEDUPE),
        metadata={
            "doc": "Repeated reads of an article by a user: first or last keeps the earliest or latest, none keeps all."
        },
    )
    min_user_reads: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Users with fewer reads (after dedupe) are left out with their reads; 1 keeps every reader."},
    )
    split_by: str = attrs.field(
        default="user",
        validator=one_of(SPLIT_BY),
        metadata={
            "doc": '"user": the last reads of each user are valid/test; "time": global time cut points; '
            '"days": the last day files are valid/test.'
        },
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "split_by user/time: share of reads (per user, or in time) that form the valid split."},
    )
    test_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "split_by user/time: share of reads (per user, or in time) that form the test split."},
    )
    valid_days: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "split_by days: day files before the test days that form valid (0: no valid split)."},
    )
    test_days: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "split_by days: last day files that form test."},
    )
    context_size: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Train reads per history row; 1 gives every train read its own history."},
    )
    max_history: int = attrs.field(
        default=50,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent reads kept in a history row; 0 keeps all."},
    )
    eval_negatives: int = attrs.field(
        default=20,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Unread articles sampled once per user for valid and for test (label 0); 0 samples none. "
            "20 keeps the 3-month release (3.1M readers) within about 15 GB."
        },
    )
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": "Seed of the evaluation negatives; same seed, same depot."},
    )
    category_from_url: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={
            "doc": "An article without category1 takes its category from the URL path (nyheter/trondheim/2017/...)."
        },
    )
    profile_groups: tuple[str, ...] = attrs.field(
        default=("entity", "concept"),
        converter=tuple,
        validator=_profile_groups,
        metadata={
            "doc": "Profile groups kept as tokens columns profile_<group> (e.g. entity, concept, person, location)."
        },
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed events and count them in info.skipped_rows instead of failing."},
    )

    def __attrs_post_init__(self) -> None:
        self.protocol()  # checks valid_fraction + test_fraction < 1

    def protocol(self) -> RatingOptions:
        """The split protocol's options (labels are all positives; ``days`` passes its own split)."""
        return RatingOptions(
            max_history=self.max_history,
            split_by="time" if self.split_by == "time" else "user",
            valid_fraction=self.valid_fraction,
            test_fraction=self.test_fraction,
            context_size=self.context_size,
            eval_negatives=self.eval_negatives,
            seed=self.seed,
            skip_bad_rows=self.skip_bad_rows,
        )


def day_files(folder: Path) -> list[str]:
    """The day files of ``folder`` in date order (``20170101``, ``20170102.gz``, ...)."""
    by_date: dict[str, str] = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        found = DAY_FILE.match(path.name)
        if found and path.is_file():
            if found.group(1) in by_date:
                raise DataError(
                    f"{folder} holds day {found.group(1)} twice ({by_date[found.group(1)]} and "
                    f"{path.name}); keep one of them"
                )
            by_date[found.group(1)] = path.name
    return [by_date[day] for day in sorted(by_date)]


def find_release(raw: Path, release: str = "auto") -> tuple[str, Path, list[str]] | None:
    """``(release, folder, day files)`` found in ``raw``, or None when it holds no day files."""
    raw = Path(raw)
    found = [(name, raw / name, day_files(raw / name)) for name in RELEASES if release in ("auto", name)]
    found = [f for f in found if f[2]]
    if len(found) > 1:
        raise DataError(
            f"{raw} holds both one_week/ and three_month/; choose one with the option "
            "release=one_week or release=three_month"
        )
    if found:
        return found[0]
    days = day_files(raw)
    if not days:
        return None
    if release == "auto":
        release = raw.name if raw.name in RELEASES else ("one_week" if len(days) <= 7 else "three_month")
    return release, raw, days


def url_path(url: str) -> list[str]:
    """The section path of an article URL.

    ``http://adressa.no/nyheter/trondheim/2017/01/01/x.ece`` -> ``[nyheter, trondheim]``.
    """
    segments = urlsplit(url).path.strip("/").split("/")[:-1]
    out = []
    for segment in segments:
        if segment.isdigit():
            break
        out.append(segment.lower())
    return [s for s in out if s]


class Articles:
    """Article content from the events, each field from the first event that has it."""

    def __init__(self, groups: tuple[str, ...]) -> None:
        self.index = IdIndex()
        self.groups = groups
        self.title: list[str | None] = []
        self.category: list[list[str] | None] = []
        self.url_category: list[list[str] | None] = []
        self.keywords: list[list[str] | None] = []
        self.authors: list[list[str] | None] = []
        self.profile: list[dict[str, list[str]] | None] = []
        self.done = bytearray()

    def see(self, article: str, event: dict[str, Any]) -> int:
        """The index of ``article``, filling the fields it still lacks from ``event``."""
        i = self.index.get(article)
        if i is None:
            i = self.index.add(article)
            for field in (self.title, self.category, self.url_category, self.keywords, self.authors, self.profile):
                field.append(None)
            self.done.append(0)
        if not self.done[i]:
            self._fill(i, event)
        return i

    def _fill(self, i: int, event: dict[str, Any]) -> None:
        title = event.get("title")
        if self.title[i] is None and isinstance(title, str) and title.strip():
            self.title[i] = title.strip()
        category = event.get("category1")
        if self.category[i] is None and isinstance(category, str) and category.strip():
            self.category[i] = [s.strip() for s in category.split("|") if s.strip()]
        url = event.get("canonicalUrl") or event.get("url")
        if self.url_category[i] is None and isinstance(url, str) and url_path(url):
            self.url_category[i] = url_path(url)
        keywords = event.get("keywords")
        if self.keywords[i] is None and isinstance(keywords, str) and keywords.strip():
            self.keywords[i] = list(dict.fromkeys(k.strip().lower() for k in keywords.split(",") if k.strip()))
        authors = event.get("author")
        if self.authors[i] is None and isinstance(authors, list) and authors:
            self.authors[i] = list(dict.fromkeys(a.strip() for a in authors if isinstance(a, str) and a.strip()))
        profile = event.get("profile")
        if self.groups and self.profile[i] is None and isinstance(profile, list) and profile:
            self.profile[i] = _profile(profile, self.groups)
        self.done[i] = all(f[i] is not None for f in (self.title, self.category, self.keywords, self.authors)) and (
            not self.groups or self.profile[i] is not None
        )

    def categories(self, i: int, from_url: bool) -> tuple[str | None, str | None]:
        path = self.category[i] or (self.url_category[i] if from_url else None) or []
        return (path[0] if path else None), ("|".join(path[1:]) or None)


def _profile(profile: list[Any], groups: tuple[str, ...]) -> dict[str, list[str]]:
    """Each group's profile items, heaviest first (ties by name)."""
    weights: dict[str, dict[str, float]] = {g: {} for g in groups}
    for entry in profile:
        if not isinstance(entry, dict) or not isinstance(entry.get("item"), str) or not entry["item"].strip():
            continue
        for group in entry.get("groups") or ():
            if isinstance(group, dict) and group.get("group") in weights:
                weight = group.get("weight")
                weight = float(weight) if isinstance(weight, (int, float)) else 0.0
                found = weights[group["group"]]
                name = entry["item"].strip()
                found[name] = max(found.get(name, -math.inf), weight)
    return {g: _heaviest(w) for g, w in weights.items()}


def _heaviest(weights: dict[str, float]) -> list[str]:
    return sorted(weights, key=lambda name: (-weights[name], name))


class EventReader:
    """Reads day files into typed arrays: one entry per kept read."""

    def __init__(self, o: AdressaOptions, errors: RowErrors) -> None:
        self.o = o
        self.errors = errors
        self.articles = Articles(o.profile_groups)
        self.log = EventLog()
        self.day = array("h")
        self.user_codes = {name: array("i") for name in USER_FIELDS.values()}
        self.user_vocabs: dict[str, dict[str, int]] = {name: {} for name in USER_FIELDS.values()}
        self.counts = {"events": 0, "other_events": 0, "short_reads": 0}

    def read(self, path: Path, day: int) -> None:
        o, errors, counts = self.o, self.errors, self.counts
        for number, line in read_lines(path, errors):
            counts["events"] += 1
            if '"id"' not in line:  # front page and section views: no article
                counts["other_events"] += 1
                continue
            try:
                event = self._parse(line)
            except ValueError as err:
                errors.bad(path, number, f"not a JSON object ({getattr(err, 'msg', err)})", EVENT_FORMAT)
                continue
            if not isinstance(event, dict):
                errors.bad(path, number, f"a JSON {type(event).__name__}, not an object", EVENT_FORMAT)
                continue
            article = event.get("id")
            if article is None or article == "":
                counts["other_events"] += 1
                continue
            user, seconds, active = event.get("userId"), event.get("time"), event.get("activeTime")
            if not isinstance(article, str):
                errors.bad(path, number, f"article id {article!r} is not a string", EVENT_FORMAT)
            elif not isinstance(user, str) or not user.strip():
                errors.bad(path, number, f"userId {user!r} is missing or empty", EVENT_FORMAT)
            elif type(seconds) is not int:
                errors.bad(path, number, f"time {seconds!r} is not an integer (Unix seconds)", EVENT_FORMAT)
            elif active is not None and type(active) not in (int, float):
                errors.bad(path, number, f"activeTime {active!r} is not a number of seconds", EVENT_FORMAT)
            else:
                item = self.articles.see(article, event)
                dwell = math.nan if active is None else float(active)
                if o.min_active_time and not dwell >= o.min_active_time:
                    counts["short_reads"] += 1
                    continue
                person = self._person(user, event)
                self.log.add_indexed(person, item, seconds, dwell)
                self.day.append(day)

    def _parse(self, line: str) -> Any:
        """The event of ``line``; an article whose profile is known already skips parsing its long profile.

        The profile list (often most of the line) is cut out as text, ``"profile": [`` up to the
        ``]}]`` that closes its last entry; if what is left is not JSON, the whole line is parsed.
        """
        start = line.find(PROFILE_KEY)
        if start >= 0 and line[start + len(PROFILE_KEY) : start + len(PROFILE_KEY) + 1] != "]":
            found = ARTICLE_ID.search(line)
            known = self.articles.index.get(found.group(1)) if found else None
            end = line.find("]}]", start)
            if (
                known is not None
                and end > 0
                and (not self.o.profile_groups or self.articles.profile[known] is not None)
            ):
                try:
                    return json.loads(line[: start + len(PROFILE_KEY)] + line[end + 2 :])
                except ValueError:
                    pass
        return json.loads(line)

    def _person(self, user: str, event: dict[str, Any]) -> int:
        person = self.log.persons.add(user)
        for field, name in USER_FIELDS.items():
            codes = self.user_codes[name]
            if person == len(codes):
                codes.append(0)
            value = event.get(field)
            if not codes[person] and isinstance(value, str) and value.strip():
                vocab = self.user_vocabs[name]
                codes[person] = vocab.setdefault(value.strip(), len(vocab) + 1)
        return person


def first_per_pair(person: np.ndarray, item: np.ndarray, time: np.ndarray, latest: bool) -> np.ndarray:
    """Sorted positions of one entry per (person, item): the earliest (or latest) in time, ties in file order."""
    order = np.lexsort((np.arange(len(person)), time, item, person))
    p, i = person[order], item[order]
    change = (p[1:] != p[:-1]) | (i[1:] != i[:-1])
    boundary = np.concatenate([change, [True]]) if latest else np.concatenate([[True], change])
    return np.sort(order[boundary])


class AdressaProcessor(Processor):
    name = "adressa"
    description = (
        "Adressa news reads (1-week or 3-month release): titles, categories, keywords, authors, "
        "profile entities, reader location/device; implicit reads, per-user or by-day splits."
    )
    files = ANY_RELEASE
    Options = AdressaOptions

    def expected_files(self, raw: Path) -> list[RawFile]:
        o: AdressaOptions = self.options
        found = find_release(Path(raw), o.release)
        if found is None:
            return [f for f in ANY_RELEASE if o.release in ("auto", f.name.split("/")[0])]
        _, folder, days = found
        prefix = folder.relative_to(raw).as_posix()
        return [RawFile(day if prefix == "." else f"{prefix}/{day}", EVENT_FORMAT, SOURCE) for day in days]

    def build(self, raw: Path | None) -> DepotContent:
        o: AdressaOptions = self.options
        if raw is None:
            raise DataError("adressa reads the release's day files: pass their folder with --raw")
        raw = Path(raw)
        found = find_release(raw, o.release)
        if found is None:
            raise DataError(
                f"{raw}: no Adressa day files found (expected one_week/YYYYMMDD or "
                f"three_month/YYYYMMDD); unpack the release archive into --raw"
            )
        release, folder, days = found
        if o.split_by == "days" and len(days) <= o.valid_days + o.test_days:
            raise DataError(
                f"{folder} has {len(days)} day files, but split_by=days with valid_days={o.valid_days} "
                f"and test_days={o.test_days} leaves no train day; lower them"
            )
        errors = RowErrors(raw, o.skip_bad_rows)
        reader = EventReader(o, errors)
        for day, name in enumerate(days):
            reader.read(folder / name, day)

        articles = reader.articles
        titled = np.array([t is not None for t in articles.title], dtype=bool)
        kept_items = np.flatnonzero(titled)
        new_item = np.cumsum(titled) - 1
        person, item, time, _ = reader.log.arrays()
        day_of = np.frombuffer(reader.day, dtype=np.int16)
        keep = titled[item] if len(item) else np.zeros(0, bool)
        reads = int(keep.sum())
        positions = np.flatnonzero(keep)
        if o.dedupe != "none" and len(positions):
            positions = positions[
                first_per_pair(person[positions], item[positions], time[positions], latest=o.dedupe == "last")
            ]
        reads_of = np.bincount(person[positions], minlength=len(reader.log.persons))
        used = reads_of >= max(o.min_user_reads, 1)
        few = int(((reads_of > 0) & ~used).sum())
        positions = positions[used[person[positions]]]
        new_person = np.cumsum(used) - 1

        split = None
        if o.split_by == "days":
            level = day_of[positions].astype(np.int64) - (len(days) - o.test_days - o.valid_days)
            split = np.where(level >= o.valid_days, 2, np.where(level >= 0, 1, 0)).astype(np.int8)
        ratings = Ratings(
            person=new_person[person[positions]].astype(np.int64),
            item=new_item[item[positions]].astype(np.int64),
            time=time[positions].astype(np.int64),
            label=np.ones(len(positions), np.float32),
            split=split,
        )

        ids = [articles.index.ids[i] for i in kept_items]
        item_ids, item_vocab = id_column(ids, "item_id")
        text, words = text_columns({"title": [articles.title[i] or "" for i in kept_items]})
        items: dict[str, Column] = {"item_id": item_ids, **text}
        vocabs: dict[str, list[str]] = {"item_id": item_vocab, "words": words}
        sections = [articles.categories(int(i), o.category_from_url) for i in kept_items]
        for at, name in enumerate(("category", "subcategory")):
            items[name], vocabs[name] = category_column([s[at] for s in sections], name)
        for name, values in (("keywords", articles.keywords), ("authors", articles.authors)):
            items[name], vocabs[name] = token_list_column([values[i] or [] for i in kept_items], name)
        for group in o.profile_groups:
            name = "profile_" + group.replace("-", "_")
            lists = [(articles.profile[i] or {}).get(group, []) for i in kept_items]
            items[name], vocabs[name] = token_list_column(lists, name)

        person_columns: dict[str, Column] = {}
        for name, codes in reader.user_codes.items():
            person_columns[name] = Column("category", np.frombuffer(codes, dtype=np.int32)[used].copy(), vocab=name)
            vocabs[name] = ["<unk>", *reader.user_vocabs[name]]
        persons = [p for p, u in zip(reader.log.persons.ids, used, strict=True) if u]
        split_rule = (
            f"days: last {o.test_days} test, {o.valid_days} before valid" if o.split_by == "days" else o.split_by
        )
        info: dict[str, Any] = {
            "release": release,
            "days": len(days),
            "first_day": days[0],
            "last_day": days[-1],
            **reader.counts,
            "reads": len(item),
            "untitled_articles": int((~titled).sum()),
            "untitled_events": len(item) - reads,
            "repeated_reads": reads - int(reads_of.sum()),
            "users_below_min_reads": few,
            "reads_of_users_below_min": int(reads_of.sum()) - len(positions),
            "split": split_rule,
            "skipped_rows": errors.counts,
        }
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=persons,
            person_columns=person_columns,
            ratings=ratings,
            options=o.protocol(),
            info=info,
        )
