"""The ``amazon`` processor: Amazon product reviews (2014, 2018 or 2023 release), any category.

Layouts, detected from the file names in ``--raw`` (or forced with ``layout``);
each file may be gzip-compressed (as shipped) or unpacked:

- ``2014`` (McAuley et al., SIGIR 2015): ``reviews_<Cat>.json.gz`` or the 5-core
  ``reviews_<Cat>_5.json.gz``, and ``meta_<Cat>.json.gz``, whose lines are
  Python dict literals (single quotes; read with ``ast.literal_eval``).
- ``2018`` (Ni et al., EMNLP 2019): ``<Cat>.json.gz`` or ``<Cat>_5.json.gz``
  and ``meta_<Cat>.json.gz``, strict JSON lines.
- ``2023`` (Hou et al., 2024): ``<Cat>.jsonl[.gz]`` and ``meta_<Cat>.jsonl[.gz]``;
  items are ``parent_asin`` (a review of a variant counts for its parent).

``category`` picks the category when the folder holds several, ``reviews``
the 5-core or the full review file when both are there.

Interactions are the reviews: user, item, rating, time (2023's milliseconds
become seconds). Review text is not item content and is never kept. Events
with the same user, item and time as an earlier one (duplicate lines, or two
variants of one 2023 parent) are dropped and counted (``dedupe``). The
protocol is :mod:`lego_datasets.splits`: ``label = rating >= positive_threshold``
(a 3 is a negative, or dropped with ``drop_neutral``), per-user time split,
leakage-free histories, optional sampled evaluation negatives.

Items are the reviewed items, in metadata-file order (then the reviewed items
without metadata, in first-review order): ``title``, ``description``
and ``features`` (text: word ids + ``<attr>_text``; HTML tags and entities
removed with ``clean_html``), ``categories`` (the breadcrumb, tokens),
and, as categories, ``main_category``, ``brand`` (2023: the store) and
``price_range`` (a bucket of a plain price like ``$12.99``; ranges and HTML
give none). A reviewed item without metadata gets empty content; metadata of
items nobody reviewed is not kept; a repeated asin keeps its first row.

Memory: reviews go straight into an :class:`~lego_datasets.builders.EventLog`
(review texts are dropped line by line), and the metadata is read after the
split, into byte and word-id buffers (:mod:`lego_datasets.ucsd`), so it never
sits beside the split's working arrays.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "amazon-2018"
    >>> content = AmazonProcessor().build(raw)
    >>> content.info["layout"], content.info["category"], content.info["reviews_file"]
    ('2018', 'Books', 'Books_5.json.gz')
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v

from lego_core.data.depot import DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import EventLog
from lego_datasets.columns import id_column
from lego_datasets.rawio import SUFFIXES, find_variant
from lego_datasets.reader import RowErrors, read_json_lines
from lego_datasets.splits import RatingOptions, one_of, rating_depot
from lego_datasets.ucsd import (
    DEDUPE,
    DEDUPE_DOC,
    ItemContent,
    as_strings,
    as_text,
    event_ratings,
    renumber_items,
)

LAYOUTS = ("auto", "2014", "2018", "2023")
REVIEW_FILES = ("auto", "5core", "full")
SOURCES = {
    "2014": "https://jmcauley.ucsd.edu/data/amazon/ (per-category 'reviews' / '5-core' and 'metadata' files)",
    "2018": "https://nijianmo.github.io/amazon/ (per-category 'reviews' / '5-core' and 'metadata' files)",
    "2023": "https://amazon-reviews-2023.github.io/ (Hugging Face McAuley-Lab/Amazon-Reviews-2023, raw/)",
}
REVIEW_FORMATS = {
    "2014": "JSON lines (Python literals accepted): reviewerID, asin, overall (1-5), unixReviewTime (s), ...",
    "2018": "strict JSON lines: reviewerID, asin, overall (1-5), unixReviewTime (Unix s), reviewText, ...",
    "2023": "strict JSON lines: user_id, parent_asin, rating (1-5), timestamp (Unix ms), text, ...",
}
META_FORMATS = {
    "2014": "Python dict literals, one a line: asin, title, description, categories (list of lists), brand, "
    "price, salesRank, ...",
    "2018": "strict JSON lines: asin, title, description (list), feature, category (list), main_cat, brand, "
    "price ('$12.99'), ...",
    "2023": "strict JSON lines: parent_asin, title, description (list), features, categories, main_category, "
    "store, price (number or null), ...",
}
REVIEW_KEYS = {
    "2014": ("reviewerID", "asin", "overall", "unixReviewTime"),
    "2018": ("reviewerID", "asin", "overall", "unixReviewTime"),
    "2023": ("user_id", "parent_asin", "rating", "timestamp"),
}
_REVIEW_NAMES = {
    "2014": re.compile(r"reviews_(?P<cat>.+?)(?P<core>_5)?\.json"),
    "2018": re.compile(r"(?P<cat>.+?)(?P<core>_5)?\.json"),
    "2023": re.compile(r"(?P<cat>.+)\.jsonl"),
}
PRICE_EDGES = (5, 10, 20, 50, 100, 200, 500)
_PRICE = re.compile(r"\s*\$\s*(\d[\d,]*(?:\.\d+)?)\s*")
_TAG = re.compile(r"<[^>]*>")
_ALT = re.compile(r"""alt=["']([^"']+)["']""")


def _review_name(layout: str, category: str, five_core: bool) -> str:
    core = "_5" if five_core else ""
    return {
        "2014": f"reviews_{category}{core}.json.gz",
        "2018": f"{category}{core}.json.gz",
        "2023": f"{category}.jsonl.gz",
    }[layout]


def _layout_files(layout: str, category: str = "CATEGORY", note: str = "one layout is enough; ") -> tuple[RawFile, ...]:
    core = "" if layout == "2023" else " (or the 5-core " + _review_name(layout, category, True) + ")"
    meta = f"meta_{category}.jsonl.gz" if layout == "2023" else f"meta_{category}.json.gz"
    reviews = f"{note}{layout} reviews{core}: {REVIEW_FORMATS[layout]}"
    return (
        RawFile(_review_name(layout, category, False), reviews, SOURCES[layout]),
        RawFile(meta, f"{note}{layout} item metadata: {META_FORMATS[layout]}", SOURCES[layout]),
    )


ANY_LAYOUT = tuple(f for layout in ("2018", "2014", "2023") for f in _layout_files(layout))


@attrs.define(kw_only=True, frozen=True)
class AmazonOptions(RatingOptions):
    layout: str | int = attrs.field(
        default="auto",
        converter=str,
        validator=one_of(LAYOUTS),
        metadata={"doc": "Release: 2014, 2018 or 2023; auto detects it from the file names."},
    )
    category: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={
            "doc": "Category as in the file names (Books, CDs_and_Vinyl, Electronics, ...); "
            "empty finds the only one in --raw."
        },
    )
    reviews: str = attrs.field(
        default="auto",
        validator=one_of(REVIEW_FILES),
        metadata={
            "doc": "Review file: 5core (<Cat>_5), full (<Cat>), or auto: the one present (an error when both are)."
        },
    )
    dedupe: str = attrs.field(default="exact", validator=one_of(DEDUPE), metadata={"doc": DEDUPE_DOC})
    drop_neutral: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={
            "doc": "Drop reviews rated exactly 3 before splitting (the Legommenders convention); "
            "by default they are kept as negatives."
        },
    )
    clean_html: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Remove HTML tags and decode entities (&amp;) in titles, descriptions and features."},
    )


@attrs.frozen
class Found:
    """The files of one category in one layout."""

    layout: str
    category: str
    reviews: str
    five_core: bool
    meta: str


def _strip_compression(name: str) -> str:
    for suffix in SUFFIXES[1:]:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class AmazonProcessor(Processor):
    name = "amazon"
    description = (
        "Amazon product reviews (2014, 2018 or 2023 release; any category, full or 5-core): "
        "titles, descriptions, categories, brands; rating labels, time-ordered splits."
    )
    files = ANY_LAYOUT
    Options = AmazonOptions

    def candidates(self, raw: Path) -> list[Found]:
        """Review files in ``raw`` that fit the options: one :class:`Found` each."""
        o: AmazonOptions = self.options
        found = []
        for path in sorted(Path(raw).iterdir()):
            base = _strip_compression(path.name)
            if not path.is_file() or base.startswith("meta_"):
                continue
            for layout, pattern in _REVIEW_NAMES.items():
                match = pattern.fullmatch(base)
                if match is None:
                    continue
                five_core = bool(match.groupdict().get("core"))
                if (
                    o.layout in ("auto", layout)
                    and (not o.category or match["cat"] == o.category)
                    and o.reviews in ("auto", "5core" if five_core else "full")
                ):
                    meta = f"meta_{match['cat']}.json{'l' if layout == '2023' else ''}"
                    if not (Path(raw) / find_variant(Path(raw), meta)).is_file():
                        meta += path.name[len(base) :]  # missing: name it compressed like the reviews
                    meta = find_variant(Path(raw), meta)
                    found.append(Found(layout, match["cat"], path.name, five_core, meta))
                break  # reviews_X.json is 2014, never the 2018 category "reviews_X"
        return found

    def detect(self, raw: Path) -> Found | None:
        """The one review file to read, ``None`` when there is none; several: an error naming the option."""
        found = self.candidates(raw)
        if not found:
            return None
        for what, option, values in (
            ("the reviews of several categories", "category", {f.category for f in found}),
            ("the reviews of several releases", "layout", {f.layout for f in found}),
            ("both 5-core and full reviews", "reviews", {"5core" if f.five_core else "full" for f in found}),
        ):
            if len(values) > 1:
                names = ", ".join(f.reviews for f in found)
                raise DataError(
                    f"{raw} holds {what} ({names}); choose one with the option {option}=" + "|".join(sorted(values))
                )
        return found[0]

    def expected_files(self, raw: Path) -> list[RawFile]:
        o: AmazonOptions = self.options
        found = self.detect(raw)
        if found is None:
            layouts = ("2018", "2014", "2023") if o.layout == "auto" else (str(o.layout),)
            note = "one layout is enough; " if len(layouts) > 1 else ""
            return [f for layout in layouts for f in _layout_files(layout, o.category or "CATEGORY", note)]
        core = "5-core " if found.five_core else ""
        return [
            RawFile(
                found.reviews, f"{found.layout} {core}reviews: {REVIEW_FORMATS[found.layout]}", SOURCES[found.layout]
            ),
            RawFile(found.meta, f"{found.layout} item metadata: {META_FORMATS[found.layout]}", SOURCES[found.layout]),
        ]

    def build(self, raw: Path | None) -> DepotContent:
        o: AmazonOptions = self.options
        if raw is None:
            raise DataError("amazon reads raw files: pass the folder that holds them (--raw DIR)")
        raw = Path(raw)
        found = self.detect(raw)
        if found is None:
            names = ", ".join(f.name for f in self.expected_files(raw))
            raise DataError(f"{raw}: no Amazon review file found (expected one of: {names})")
        errors = RowErrors(raw, o.skip_bad_rows)
        log = self._reviews(raw / found.reviews, found.layout, errors)
        neutral = log.arrays()[3] == 3.0 if o.drop_neutral else None
        ratings, duplicates = event_ratings(log, o.positive_threshold, o.dedupe, drop=neutral)
        persons, items, reviews_read = log.persons, log.items, len(log)
        del log  # the events are in ratings now; of the users only the ids are needed from here
        persons.index.clear()
        item_ids, item_vocab = id_column(items.ids, "item_id")
        info = {
            "layout": found.layout,
            "category": found.category,
            "reviews_file": found.reviews,
            "meta_file": found.meta,
            "five_core": found.five_core,
            "reviews_read": reviews_read,
            "neutral_dropped": int(neutral.sum()) if neutral is not None else 0,
            "duplicates_removed": duplicates,
            "dedupe": o.dedupe,
            "labels": f"rating >= {o.positive_threshold}",
            "skipped_rows": errors.counts,
        }
        del neutral
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
        # the metadata is read after the split, so its buffers never sit beside the split's working arrays
        content = ItemContent(
            items,
            texts=("title", "description", "features"),
            tokens={"categories": "categories"},
            categories={"main_category": "main_category", "brand": "brand", "price_range": "price_range"},
        )
        self._meta(raw / found.meta, found.layout, errors, content)
        items.index.clear()
        columns, vocabs = content.columns()
        renumber_items(depot, content.order, items.ids)  # items in metadata order: the buffers need no copy
        depot.tables["items"].update(columns)
        depot.vocabs.update(vocabs)
        depot.info.update(
            {
                "items_without_metadata": len(items) - content.filled,
                "metadata_rows_unused": content.unused,
                "metadata_rows_repeated": content.duplicates,
            }
        )
        return depot

    def _reviews(self, path: Path, layout: str, errors: RowErrors) -> EventLog:
        """The reviews as events (user, item, Unix seconds, rating); review texts are dropped line by line."""
        keys = REVIEW_KEYS[layout]
        user_key, item_key, rating_key, time_key = keys
        expected = REVIEW_FORMATS[layout]
        milliseconds = layout == "2023"
        log = EventLog()
        add, bad = log.add, errors.bad
        for number, row in read_json_lines(
            path, errors, expected=expected, python_literals=layout == "2014", required=keys
        ):
            user, item, rating, stamp = row[user_key], row[item_key], row[rating_key], row[time_key]
            if not isinstance(user, str) or not user:
                bad(path, number, f"{user_key} {user!r} is not a non-empty string", expected)
            elif not isinstance(item, str) or not item:
                bad(path, number, f"{item_key} {item!r} is not a non-empty string", expected)
            elif not _number(rating):
                bad(path, number, f"{rating_key} {rating!r} is not a number", expected)
            elif isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or stamp != stamp // 1:
                bad(
                    path,
                    number,
                    f"{time_key} {stamp!r} is not an integer (Unix {'milliseconds' if milliseconds else 'seconds'})",
                    expected,
                )
            else:
                add(user, item, int(stamp) // 1000 if milliseconds else int(stamp), float(rating))
        return log

    def _meta(self, path: Path, layout: str, errors: RowErrors, content: ItemContent) -> None:
        """Fill ``content`` from the metadata rows of reviewed items."""
        clean = _clean if self.options.clean_html else _plain
        key = "parent_asin" if layout == "2023" else "asin"
        for _, row in read_json_lines(
            path, errors, expected=META_FORMATS[layout], python_literals=layout == "2014", required=(key,)
        ):
            index = content.row(row[key])
            if index is None:
                continue
            if layout == "2014":
                categories = as_strings(row.get("categories"))
                main, features, brand = (categories[0] if categories else None), "", row.get("brand")
            elif layout == "2018":
                categories, main = as_strings(row.get("category")), row.get("main_cat")
                features, brand = as_text(row.get("feature")), row.get("brand")
            else:
                categories, main = as_strings(row.get("categories")), row.get("main_category")
                features, brand = as_text(row.get("features")), row.get("store")
            content.add(
                index,
                {
                    "title": clean(as_text(row.get("title"))),
                    "description": clean(as_text(row.get("description"))),
                    "features": clean(features),
                    "categories": [html.unescape(c) for c in categories],
                    "main_category": _label(main),
                    "brand": _label(brand),
                    "price_range": price_range(row.get("price")),
                },
            )


def _number(value: Any) -> bool:
    """A finite JSON number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain(text: str) -> str:
    return text


def _clean(text: str) -> str:
    """Text without HTML tags and entities, whitespace collapsed."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return " ".join(text.split())


def _label(value: Any) -> str | None:
    """A categorical metadata value: its text (the ``alt`` of an HTML image: 2018's ``main_cat``), or None."""
    if not isinstance(value, str):
        return None
    if "<" in value:
        alt = _ALT.search(value)
        value = alt[1] if alt else _TAG.sub(" ", value)
    value = " ".join(html.unescape(value).split())
    return value or None


def price_range(value: Any) -> str | None:
    """The bucket of a plain price (a number, or a string like ``"$1,299.00"``); None for anything else.

    Example:
        >>> price_range(12.99), price_range("$1,299.00"), price_range("$3.99 - $9.99"), price_range(None)
        ('10-20', '500+', None, None)
    """
    if isinstance(value, str):
        match = _PRICE.fullmatch(value)
        value = float(match[1].replace(",", "")) if match else None
    if not _number(value) or value < 0:
        return None
    low = 0
    for edge in PRICE_EDGES:
        if value < edge:
            return f"<{edge}" if low == 0 else f"{low}-{edge}"
        low = edge
    return f"{low}+"
