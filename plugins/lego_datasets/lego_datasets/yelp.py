"""The ``yelp`` processor: the Yelp Open Dataset (business, review and user JSON lines).

``--raw`` holds the files of ``yelp_dataset.tar`` (older: ``.tgz``; Kaggle
zips), strict JSON lines: ``yelp_academic_dataset_business.json``,
``yelp_academic_dataset_review.json`` and optionally
``yelp_academic_dataset_user.json`` (each may also be gzipped; the checkin
and tip files are not read). Older dumps write the JSON without spaces and
have extra keys (``neighborhood``, ``type``); they read the same.

Items: ``name`` (+ ``name_text``), ``categories`` (tokens: the comma-separated
string split on commas; a JSON list in the oldest dumps is taken as it is),
``city`` and ``state`` (categories) and, with ``attributes = true``
(default), ``attributes``: one token ``key=value`` per attribute. Yelp stores
attribute values as strings that are often Python reprs (``"u'free'"``,
``"{'garage': False, 'street': True}"``); they are read with
``ast.literal_eval``, a nested dict gives ``key.sub=value`` tokens, and
``None`` values give none. Every business is an item.

Users (with the user file): buckets of a few user fields, as categories:
``review_count`` (0, 1-4, 5-19, 20-99, 100-499, 500+), ``elite_years`` (how many
years the user was Elite: 0, 1, 2-3, 4-6, 7+; the ``"20,20"`` that some dumps
write for 2020 counts once), ``fans`` (0, 1-4, 5-19, 20-99, 100+) and
``since_year`` (the year of ``yelping_since``). They are the user's totals at
dump time. A reviewer missing from the user file gets unknown (0).

Interactions: every review; ``label = stars >= positive_threshold``
(default 4; ``drop_neutral`` drops 3-star reviews first, as Legommenders
does); time = ``date`` (``YYYY-MM-DD HH:MM:SS``, read as UTC). Review texts are
never kept (the file is about 5 GB): about 30 bytes a review stay in memory.
Splits and histories follow :mod:`lego_datasets.splits` (per-user time order,
leakage-free histories, optional sampled evaluation negatives).

Example:
    >>> attribute_tokens({"WiFi": "u'free'", "BusinessParking": "{'garage': False, 'lot': True}", "Smoking": "None"})
    ['WiFi=free', 'BusinessParking.garage=False', 'BusinessParking.lot=True']
    >>> bucket(0, REVIEW_COUNT_EDGES), bucket(42, REVIEW_COUNT_EDGES), elite_years("2018,2019,20,20")
    ('0', '20-99', 3)
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "yelp"
    >>> content = YelpProcessor().build(raw)
    >>> content.info["items"], content.info["persons"], content.info["ratings"], sorted(content.tables["users"])
    (6, 4, 17, ['elite_years', 'fans', 'history', 'review_count', 'since_year', 'user_id'])
"""

from __future__ import annotations

import ast
import datetime
from collections.abc import Sequence
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

SOURCE = "https://www.yelp.com/dataset (yelp_dataset.tar: extract the JSON files into --raw)"
BUSINESS = "yelp_academic_dataset_business.json"
REVIEW = "yelp_academic_dataset_review.json"
USER = "yelp_academic_dataset_user.json"
BUSINESS_FORMAT = (
    'JSON lines {"business_id", "name", "city", "state", "categories": "A, B" or null, '
    '"attributes": {key: str} or null, ...}'
)
REVIEW_FORMAT = (
    'JSON lines {"review_id", "user_id", "business_id", "stars": 1-5, "date": "YYYY-MM-DD HH:MM:SS", "text", ...}'
)
USER_FORMAT = (
    'JSON lines {"user_id", "review_count": int, "yelping_since": "YYYY-MM-DD HH:MM:SS", '
    '"elite": "2015,2016" or "", "fans": int, ...}'
)
REVIEW_COUNT_EDGES = (1, 5, 20, 100, 500)
ELITE_EDGES = (1, 2, 4, 7)
FANS_EDGES = (1, 5, 20, 100)
_EPOCH = datetime.date(1970, 1, 1).toordinal()
_LITERAL_START = ("u'", 'u"', "'", '"', "{", "[", "(")


@attrs.define(kw_only=True, frozen=True)
class YelpOptions(RatingOptions):
    attributes: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Add the business attributes as key=value tokens (column attributes)."},
    )
    drop_neutral: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Drop 3-star reviews before labelling (the Legommenders derivation: label = stars > 3)."},
    )
    dedupe: str = attrs.field(
        default="none",
        validator=one_of(DEDUPE),
        metadata={"doc": "first/last: one review per user and business (earliest/latest); none keeps every review."},
    )


def bucket(value: int, edges: Sequence[int]) -> str:
    """The bucket label of a count: ``"0"`` below ``edges[0]``, ``"a-b"`` between edges, ``"n+"`` beyond."""
    if value < edges[0]:
        return "0" if edges[0] == 1 else f"0-{edges[0] - 1}"
    for low, high in zip(edges, edges[1:]):
        if value < high:
            return str(low) if high == low + 1 else f"{low}-{high - 1}"
    return f"{edges[-1]}+"


def elite_years(value: Any) -> int:
    """How many distinct years an ``elite`` field names (``"2015,2016"``, ``""``, ``"None"`` or a list)."""
    parts = [str(x) for x in value] if isinstance(value, (list, tuple)) else str(value or "").split(",")
    parts = [p.strip() for p in parts if p.strip() and p.strip() != "None"]
    digits = "".join(parts)
    if digits.isdigit() and len(digits) % 4 == 0:  # "2019,20,20": 2020 written as "20,20"
        return len({digits[i : i + 4] for i in range(0, len(digits), 4)})
    return len(set(parts))


def attribute_tokens(attributes: Any) -> list[str]:
    """``key=value`` tokens of a business's ``attributes`` (a dict, a list of ``"key: value"``, or null)."""
    if isinstance(attributes, (list, tuple)):  # the oldest dumps: ["BikeParking: True", ...]
        attributes = dict(str(a).partition(": ")[::2] for a in attributes)
    if not isinstance(attributes, dict):
        return []
    tokens: list[str] = []
    for key, raw in attributes.items():
        value = _literal(raw)
        if isinstance(value, dict):
            tokens.extend(f"{key}.{sub}={_literal(x)}" for sub, x in value.items() if _literal(x) is not None)
        elif value is not None and value != "":
            tokens.append(f"{key}={value}")
    return tokens


def _literal(raw: Any) -> Any:
    """A Yelp attribute value: Python reprs in strings evaluated, anything unreadable kept as text."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text in ("None", "none", "null"):
        return None
    if text in ("True", "False"):
        return text == "True"
    if text.startswith(_LITERAL_START):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
    return text


def parse_time(text: str, _days: dict[str, int] = {}) -> int:  # noqa: B006 - a deliberate cache
    """``"2019-03-02 18:22:10"`` (or a bare ``"2019-03-02"``) -> Unix seconds (UTC); raises ``ValueError``."""
    day = _days.get(text[:10])
    if day is None:
        if len(text) < 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        day = _days[text[:10]] = (
            datetime.date(int(text[:4]), int(text[5:7]), int(text[8:10])).toordinal() - _EPOCH
        ) * 86400
    if len(text) == 10:
        return day
    if len(text) != 19 or text[10] not in " T" or text[13] != ":" or text[16] != ":":
        raise ValueError(text)
    h, m, s = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61):
        raise ValueError(text)
    return day + h * 3600 + m * 60 + s


class YelpProcessor(Processor):
    name = "yelp"
    description = (
        "Yelp Open Dataset: business name, categories, city, state, attributes; user activity "
        "buckets; star-threshold labels, per-user time splits, bounded memory."
    )
    files = (
        RawFile(BUSINESS, BUSINESS_FORMAT, SOURCE),
        RawFile(REVIEW, REVIEW_FORMAT, SOURCE),
        RawFile(USER, USER_FORMAT, SOURCE, optional=True),
    )
    Options = YelpOptions

    def expected_files(self, raw: Path) -> list[RawFile]:
        return [attrs.evolve(f, name=find_variant(raw, f.name)) for f in self.files]

    def build(self, raw: Path | None) -> DepotContent:
        o: YelpOptions = self.options
        if raw is None:
            raise DataError(f"{self.name!r} reads raw files: pass the folder that holds them as --raw")
        raw = Path(raw)
        errors = RowErrors(raw, o.skip_bad_rows)
        business = _Businesses()
        business.read(raw / find_variant(raw, BUSINESS), errors, o.attributes)
        log = EventLog(items=business.index)
        review_path = raw / find_variant(raw, REVIEW)
        neutral = 0
        for number, review in read_json_lines(
            review_path, errors, expected=REVIEW_FORMAT, required=("user_id", "business_id", "stars", "date")
        ):
            problem, fields = _review(review, business.index, errors.name(business.path))
            if problem:
                errors.bad(review_path, number, problem, REVIEW_FORMAT)
                continue
            person, item, time, stars = fields  # type: ignore[misc]
            if o.drop_neutral and stars == 3.0:
                neutral += 1
                continue
            log.add_indexed(log.persons.add(person), item, time, stars)
        ratings = log.ratings(o.positive_threshold, dedupe=o.dedupe)

        item_ids, item_vocab = id_column(business.index.ids, "item_id")
        text, words = text_columns({"name": business.names})
        items: dict[str, Column] = {"item_id": item_ids, **text}
        vocabs = {"item_id": item_vocab, "words": words}
        items["categories"], vocabs["categories"] = token_list_column(business.categories, "categories")
        for field, values in (("city", business.cities), ("state", business.states)):
            items[field], vocabs[field] = category_column(values, field)
        if o.attributes:
            items["attributes"], vocabs["attributes"] = token_list_column(business.attributes, "attributes")
        info: dict[str, Any] = {
            "businesses": len(business.index),
            "duplicate_businesses": business.duplicates,
            "reviews_read": len(log) + neutral,
            "neutral_dropped": neutral,
            "dedupe": o.dedupe,
        }
        person_columns: dict[str, Column] = {}
        user_path = raw / find_variant(raw, USER)
        if user_path.is_file():
            people = _read_users(user_path, errors, log.persons)
            for field, values in people.items():
                person_columns[field], vocabs[field] = category_column(values, field)
            info["persons_without_user_row"] = sum(v is None for v in people["review_count"])
        info["skipped_rows"] = errors.counts
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=log.persons.ids,
            person_columns=person_columns,
            ratings=ratings,
            options=o,
            info=info,
        )


def _review(review: dict[str, Any], index: IdIndex, business_file: str) -> tuple[str, tuple | None]:
    """``(problem, (user_id, item, time, stars))`` of one review."""
    person, business, stars, date = review["user_id"], review["business_id"], review["stars"], review["date"]
    if not isinstance(person, str) or not person:
        return f"user_id {person!r} is empty", None
    item = index.get(business) if isinstance(business, str) else None
    if item is None:
        return f"business_id {business!r} is not in {business_file}", None
    if isinstance(stars, bool) or not isinstance(stars, (int, float)) or not 1 <= stars <= 5:
        return f"stars {stars!r} is not a number from 1 to 5", None
    try:
        time = parse_time(date) if isinstance(date, str) else parse_time("")
    except ValueError:
        return f"date {date!r} is not YYYY-MM-DD HH:MM:SS", None
    return "", (person, item, time, float(stars))


@attrs.define
class _Businesses:
    """The business file, first row of an id wins."""

    index: IdIndex = attrs.field(factory=IdIndex)
    names: list[str] = attrs.field(factory=list)
    categories: list[list[str]] = attrs.field(factory=list)
    cities: list[str | None] = attrs.field(factory=list)
    states: list[str | None] = attrs.field(factory=list)
    attributes: list[list[str]] = attrs.field(factory=list)
    duplicates: int = 0
    path: Path = Path(BUSINESS)

    def read(self, path: Path, errors: RowErrors, with_attributes: bool) -> None:
        self.path = path
        for number, row in read_json_lines(path, errors, expected=BUSINESS_FORMAT, required=("business_id",)):
            business, categories = row["business_id"], row.get("categories")
            if not isinstance(business, str) or not business:
                errors.bad(path, number, f"business_id {business!r} is empty", BUSINESS_FORMAT)
                continue
            if categories is not None and not isinstance(categories, (str, list)):
                errors.bad(path, number, f"categories {categories!r} is not a string", BUSINESS_FORMAT)
                continue
            if business in self.index:
                self.duplicates += 1
                continue
            self.index.add(business)
            self.names.append(_text(row.get("name")))
            items = categories.split(",") if isinstance(categories, str) else [str(c) for c in categories or ()]
            self.categories.append(list(dict.fromkeys(c.strip() for c in items if c.strip())))
            self.cities.append(_text(row.get("city")) or None)
            self.states.append(_text(row.get("state")) or None)
            self.attributes.append(attribute_tokens(row.get("attributes")) if with_attributes else [])


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _read_users(path: Path, errors: RowErrors, persons: IdIndex) -> dict[str, list[str | None]]:
    """Bucketed user fields, one entry per person of the reviews (``None``: not in the user file)."""
    out: dict[str, list[str | None]] = {
        f: [None] * len(persons) for f in ("review_count", "elite_years", "fans", "since_year")
    }
    for number, user in read_json_lines(path, errors, expected=USER_FORMAT, required=("user_id",)):
        row = persons.get(user["user_id"]) if isinstance(user["user_id"], str) else None
        if row is None:
            continue
        counts = {f: user.get(f, 0) for f in ("review_count", "fans")}
        bad = next((f for f, n in counts.items() if isinstance(n, bool) or not isinstance(n, int) or n < 0), None)
        since = _text(user.get("yelping_since"))
        if bad or (since and not (since[:4].isdigit() and len(since) >= 4)):
            what = f"{bad} {counts[bad]!r} is not a count" if bad else f"yelping_since {since!r} is not a date"
            errors.bad(path, number, what, USER_FORMAT)
            continue
        out["review_count"][row] = bucket(counts["review_count"], REVIEW_COUNT_EDGES)
        out["elite_years"][row] = bucket(elite_years(user.get("elite")), ELITE_EDGES)
        out["fans"][row] = bucket(counts["fans"], FANS_EDGES)
        out["since_year"][row] = since[:4] or None
    return out
