"""The ``microlens`` processor: MicroLens micro-video views (Westlake University), 50k, 100k or 1M users.

``--raw`` holds the plain files of one release as downloaded (``shared/datasets/FORMATS.md``
section 10); ``release`` picks one when several are there:

- ``MicroLens-50k_pairs.csv`` (``-100k``, ``-1M``): CSV ``user,item,timestamp``, the time in
  epoch milliseconds, one row per view. The header may be absent (a first row of numbers).
- the titles: ``MicroLens-50k_titles.csv`` (header ``item,title``), ``MicroLens-100k_title_en.csv``
  (English, no header) or ``MicroLens-1M_title.csv`` (no header, unbalanced quotes), the first of
  these found, or ``title_file``. A line is split at its first comma, and the title unquoted when
  it is one well-formed CSV field; otherwise it is kept as written.
- optionally a cover folder ``MicroLens-50k_covers/`` (or ``covers/``) of ``<item>.jpg``.

Not read: ``*_pairs.tsv`` (the same views without timestamps), ``*_likes_and_views.txt``
(popularity counted over the whole period, which would leak the test period into item features),
comments, videos and audio.

Items: the titles file's items in file order (a repeated item: its first row wins, counted in
``info["duplicate_title_rows"]``), then items only seen in the pairs, with an empty title
(``info["items_without_title"]``). Columns ``title`` + ``title_text`` and, when a cover folder is
there and ``covers`` is on, ``image_path``: the cover's path relative to ``--raw`` (``""`` for an
item without a cover; ``info["image_root"]`` is the raw folder). The images are not opened.

Interactions are implicit: every view is a positive; ``dedupe`` keeps one view per (user, item).
Times are read in milliseconds (they overflow int32) and kept to the millisecond for ordering;
the depot's ``time`` is Unix seconds. ``split_by = "user"`` or ``"time"`` follow
:mod:`lego_datasets.splits`; ``"leave_one_out"`` puts each user's last view in test and the one
before it in valid (a user with two views has no valid one, a user with one is train only).
Evaluation negatives (``eval_negatives``, default 20, so that MicroLens-1M fits a 24 GB machine) are
items the user never viewed, sampled once with ``seed``.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "microlens-50k"
    >>> content = MicroLensProcessor(MicroLensOptions(split_by="leave_one_out")).build(raw)
    >>> content.info["release"], content.info["items"], content.info["persons"], content.info["ratings"]
    ('50k', 10, 4, 16)
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent, text_column
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import EventLog, IdIndex
from lego_datasets.columns import id_column, text_columns
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_lines, read_rows
from lego_datasets.splits import (
    RatingOptions,
    Ratings,
    one_of,
    person_time_order,
    rating_depot,
    unit_fraction,
)

RELEASES = {"50k": "MicroLens-50k", "100k": "MicroLens-100k", "1m": "MicroLens-1M"}
SPLIT_BY = ("user", "time", "leave_one_out")
DEDUPE = ("first", "last", "none")
PAIRS_FILE = re.compile(r"^(MicroLens-(50k|100k|1m))_pairs\.csv(\.gz|\.bz2|\.xz|\.zip)?$", re.IGNORECASE)
TITLE_SUFFIXES = ("_titles.csv", "_title_en.csv", "_title.csv")
PAIRS_HEADERS = (("user", "item", "timestamp"), ("userid", "videoid", "timestamp"))
PAIRS_FORMAT = "CSV with header user,item,timestamp (integer ids, epoch milliseconds); UTF-8"
TITLES_FORMAT = "item,title per line (integer item id, then the title, quoted when it holds commas); UTF-8"
SOURCE = "https://github.com/westlake-repl/MicroLens (files at https://recsys.westlake.edu.cn/)"
ANY_RELEASE = (
    RawFile("MicroLens-50k_pairs.csv", f"or MicroLens-100k_pairs.csv / MicroLens-1M_pairs.csv; {PAIRS_FORMAT}", SOURCE),
    RawFile(
        "MicroLens-50k_titles.csv", f"or MicroLens-100k_title_en.csv / MicroLens-1M_title.csv; {TITLES_FORMAT}", SOURCE
    ),
)


@attrs.define(kw_only=True, frozen=True)
class MicroLensOptions:
    release: str = attrs.field(
        default="auto",
        validator=one_of(("auto", *RELEASES)),
        metadata={"doc": "50k, 100k or 1m: whose MicroLens-*_pairs.csv to read; auto finds the only one in --raw."},
    )
    title_file: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={
            "doc": "Titles file in --raw; empty takes the first of <release>_titles.csv, _title_en.csv, _title.csv."
        },
    )
    covers: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={
            "doc": "Record each item's cover path (image_path) when a <release>_covers/ or covers/ folder is there."
        },
    )
    dedupe: str = attrs.field(
        default="first",
        validator=one_of(DEDUPE),
        metadata={
            "doc": "Repeated views of an item by a user: first or last keeps the earliest or latest, none keeps all."
        },
    )
    split_by: str = attrs.field(
        default="user",
        validator=one_of(SPLIT_BY),
        metadata={
            "doc": '"user": the last views of each user are valid/test; "time": global time cut points; '
            '"leave_one_out": the last view is test, the one before valid.'
        },
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "split_by user/time: share of views (per user, or in time) that form the valid split."},
    )
    test_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "split_by user/time: share of views (per user, or in time) that form the test split."},
    )
    context_size: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Train views per history row; 1 gives every train view its own history."},
    )
    max_history: int = attrs.field(
        default=50,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent views kept in a history row; 0 keeps all."},
    )
    eval_negatives: int = attrs.field(
        default=20,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Unviewed items sampled once per user for valid and for test (label 0); 0 samples none. "
            "20 keeps MicroLens-1M within about 9 GB; 100 suits 50k/100k."
        },
    )
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": "Seed of the evaluation negatives; same seed, same depot."},
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows and count them in info.skipped_rows instead of failing."},
    )

    def __attrs_post_init__(self) -> None:
        self.protocol()  # checks valid_fraction + test_fraction < 1

    def protocol(self) -> RatingOptions:
        """The split protocol's options (labels are all positives; leave_one_out passes its own split)."""
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


def find_release(raw: Path, release: str = "auto") -> tuple[str, str, str] | None:
    """``(release, file prefix, pairs file)`` found in ``raw``, or None when there is none."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(Path(raw).iterdir()):
        match = PAIRS_FILE.match(path.name)
        if match and path.is_file():
            found.setdefault(match.group(2).lower(), (match.group(1), path.name))
    if release != "auto":
        return (release, *found[release]) if release in found else None
    if len(found) > 1:
        raise DataError(
            f"{raw} holds the pairs of several MicroLens releases ({', '.join(found)}); "
            f"choose one with the option release={'|'.join(found)}"
        )
    return next(((key, *value) for key, value in found.items()), None)


def title_file(raw: Path, prefix: str, chosen: str) -> str:
    """The titles file to read: ``chosen``, else the first of the release's title files found."""
    if chosen:
        return chosen
    for suffix in TITLE_SUFFIXES:
        name = find_variant(raw, prefix + suffix)
        if (Path(raw) / name).is_file():
            return name
    return prefix + TITLE_SUFFIXES[0]


def unquote(text: str) -> str:
    """The title after the first comma: unquoted when it is one well-formed CSV field, else as written."""
    text = text.strip()
    if text.startswith('"'):
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error:
            return text
        if len(fields) == 1:
            return fields[0].strip()
    return text


def read_titles(path: Path, errors: RowErrors, items: IdIndex) -> tuple[list[str], int]:
    """Titles in file order into ``items``; returns them and the number of repeated item rows."""
    titles: list[str] = []
    repeated = 0
    first = True
    for number, line in read_lines(path, errors):
        if first and line.replace(" ", "").lower() == "item,title":
            first = False
            continue
        first = False
        item, comma, rest = line.partition(",")
        item = item.strip()
        if not comma or not item.isdigit():
            what = "no comma after the item id" if not comma else f"item id {item[:40]!r} is not an integer"
            errors.bad(path, number, what, TITLES_FORMAT)
        elif item in items:
            repeated += 1
        else:
            items.add(item)
            titles.append(unquote(rest))
    return titles, repeated


def read_pairs(path: Path, errors: RowErrors, log: EventLog) -> None:
    """Views into ``log`` (time in milliseconds); the header, when there, must be the official one."""
    first = True
    for number, (user, item, stamp) in read_rows(path, errors, sep=",", columns=3, expected=PAIRS_FORMAT):
        user, item, stamp = user.strip(), item.strip(), stamp.strip()
        if first:
            first = False
            if (user.lower(), item.lower(), stamp.lower()) in PAIRS_HEADERS:
                continue
            if not (user.isdigit() and item.isdigit()):
                raise DataError(
                    f"{path}:{number}: header {','.join((user, item, stamp))!r} is not the expected "
                    f"'user,item,timestamp'; is this the right file?"
                )
        if not user.isdigit() or not item.isdigit():
            errors.bad(path, number, f"user {user!r} or item {item!r} is not an integer id", PAIRS_FORMAT)
            continue
        try:
            millis = int(stamp)
        except ValueError:
            errors.bad(path, number, f"timestamp {stamp!r} is not an integer (epoch milliseconds)", PAIRS_FORMAT)
            continue
        log.add(user, item, millis)


def leave_one_out(r: Ratings) -> np.ndarray:
    """0/1/2 per view: each user's last view is test, the one before valid (3+ views), the rest train."""
    order = person_time_order(r)
    counts = np.bincount(r.person)
    person = r.person[order]
    from_end = np.cumsum(counts)[person] - np.arange(len(order))  # 1 for a user's last view
    level = np.where(
        (from_end == 1) & (counts[person] >= 2), 2, np.where((from_end == 2) & (counts[person] >= 3), 1, 0)
    )
    split = np.empty(len(order), dtype=np.int8)
    split[order] = level
    return split


def cover_paths(raw: Path, prefix: str, ids: list[str]) -> tuple[str, list[str]] | None:
    """``(folder, path per item)`` of the cover images ``<folder>/<item>.jpg``, or None without a folder."""
    for name in (f"{prefix}_covers", "covers"):
        folder = Path(raw) / name
        if folder.is_dir():
            with os.scandir(folder) as entries:
                files = {
                    e.name.rsplit(".", 1)[0]: e.name for e in entries if e.name.lower().endswith(".jpg") and e.is_file()
                }
            return name, [f"{name}/{files[i]}" if i in files else "" for i in ids]
    return None


class MicroLensProcessor(Processor):
    name = "microlens"
    description = (
        "MicroLens micro-video views (50k, 100k, 1M users): titles and cover paths; implicit views, "
        "per-user time or leave-one-out splits, sampled evaluation negatives."
    )
    files = ANY_RELEASE
    Options = MicroLensOptions

    def expected_files(self, raw: Path) -> list[RawFile]:
        o: MicroLensOptions = self.options
        found = find_release(Path(raw), o.release)
        if found is None:
            if o.release == "auto":
                return list(ANY_RELEASE)
            prefix = RELEASES[o.release]
            return [
                RawFile(f"{prefix}_pairs.csv", PAIRS_FORMAT, SOURCE),
                RawFile(title_file(Path(raw), prefix, o.title_file), TITLES_FORMAT, SOURCE),
            ]
        _, prefix, pairs = found
        return [
            RawFile(pairs, PAIRS_FORMAT, SOURCE),
            RawFile(title_file(Path(raw), prefix, o.title_file), TITLES_FORMAT, SOURCE),
        ]

    def build(self, raw: Path | None) -> DepotContent:
        o: MicroLensOptions = self.options
        if raw is None:
            raise DataError("microlens reads the release's files: pass their folder with --raw")
        raw = Path(raw)
        found = find_release(raw, o.release)
        if found is None:
            raise DataError(
                f"{raw}: no MicroLens pairs file found (expected MicroLens-50k_pairs.csv, "
                "MicroLens-100k_pairs.csv or MicroLens-1M_pairs.csv)"
            )
        release, prefix, pairs = found
        titles_name = title_file(raw, prefix, o.title_file)
        errors = RowErrors(raw, o.skip_bad_rows)
        catalog = IdIndex()
        titles, repeated = read_titles(raw / titles_name, errors, catalog)
        log = EventLog(items=catalog)
        read_pairs(raw / pairs, errors, log)
        views = len(log)
        ratings = log.ratings(None, dedupe=o.dedupe)
        ratings = attrs.evolve(
            ratings,
            time=ratings.time / 1000.0,  # milliseconds -> seconds, order kept
            split=leave_one_out(ratings) if o.split_by == "leave_one_out" else None,
        )

        ids = catalog.ids
        untitled = len(ids) - len(titles)
        item_ids, item_vocab = id_column(ids, "item_id")
        text, words = text_columns({"title": titles + [""] * untitled})
        items: dict[str, Column] = {"item_id": item_ids, **text}
        info: dict[str, Any] = {
            "release": release,
            "pairs_file": pairs,
            "titles_file": titles_name,
            "views": views,
            "repeated_views": views - len(ratings.person),
            "items_without_title": untitled,
            "duplicate_title_rows": repeated,
        }
        covers = cover_paths(raw, prefix, ids) if o.covers else None
        if covers is not None:
            items["image_path"] = text_column(covers[1])
            info.update(cover_folder=covers[0], covers=sum(1 for p in covers[1] if p), image_root=str(raw.resolve()))
        info.update(split=o.split_by, skipped_rows=errors.counts)
        return rating_depot(
            items=items,
            vocabs={"item_id": item_vocab, "words": words},
            persons=log.persons.ids,
            person_columns={},
            ratings=ratings,
            options=o.protocol(),
            info=info,
        )
