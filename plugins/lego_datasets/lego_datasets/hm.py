"""The ``hm`` processor: H&M Personalized Fashion Recommendations (Kaggle, 2022), split by week.

``--raw`` holds the competition's three tables, plain or zipped as Kaggle serves them one by one
(``articles.csv`` or ``articles.csv.zip``, and so on): ``articles.csv``, ``customers.csv`` and
``transactions_train.csv``. ``sample_submission.csv`` and the ``images/`` folder of the download
are not read (image columns are another part of lego's job).

Items: one row per article, in file order, ids with their leading zero (``0108775015``).
``prod_name`` and ``detail_desc`` are text (word ids under ``words``, strings in
``prod_name_text``/``detail_desc_text``); the fields in ``article_categories`` (default:
``product_code`` and the eleven ``*_name`` fields) are categories, each with its own vocabulary.

Users (``customers.csv``): ``age`` in buckets cut at ``age_edges`` (default ``<20``, ``20-24``,
``25-29``, ``30-39``, ``40-49``, ``50-59``, ``60+``), ``club_member_status``,
``fashion_news_frequency`` (``None`` is read as ``NONE``), ``Active`` and ``FN`` (``1``, or
unknown where the file leaves them empty), and ``postal_code`` when that option is set. A missing
value is unknown (id 0).

Interactions: every transaction is a purchase (label 1) at its day (``t_dat`` as Unix seconds,
midnight UTC; purchases of one day keep file order). ``dedupe`` keeps the first purchase of each
customer and article (``first``), one per customer, article and day (``day``: rows of several
units of one purchase become one), or every row (``none``). Splits (``split_by``): ``last_week``
(default) puts the last ``test_days`` days of the file in test and the ``valid_days`` before them
in valid, as the Kaggle community validates; ``user`` and ``time`` are the protocol of
:mod:`lego_datasets.splits`, which also gives the history rows and the evaluation negatives
(``eval_negatives``, default 100, since purchases are all positives). ``eval_users`` evaluates
a sample of the customers (the others' valid/test purchases are dropped); the default, all, is
small with ``last_week`` (two weeks of customers) but not with ``user``/``time`` on the full data.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "hm"
    >>> content = HMProcessor().build(raw)
    >>> content.info["items"], content.info["persons"], content.info["transactions"]
    (8, 6, 27)
    >>> content.info["split"]
    'test = 2020-09-16..2020-09-22, valid = 2020-09-09..2020-09-15, train = earlier'
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from array import array
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.builders import IdIndex
from lego_datasets.columns import id_column, text_columns
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_lines, read_rows, split_csv
from lego_datasets.splits import (
    RatingOptions,
    Ratings,
    assign_splits,
    member,
    one_of,
    rating_depot,
    sorted_unique,
    unit_fraction,
)

SOURCE = (
    "https://www.kaggle.com/competitions/h-and-m-personalized-fashion-recommendations/data "
    "(accept the rules; `kaggle competitions download -c h-and-m-personalized-fashion-recommendations "
    "-f NAME` gives NAME.zip, read as is)"
)
ARTICLE_HEADER = (
    "article_id",
    "product_code",
    "prod_name",
    "product_type_no",
    "product_type_name",
    "product_group_name",
    "graphical_appearance_no",
    "graphical_appearance_name",
    "colour_group_code",
    "colour_group_name",
    "perceived_colour_value_id",
    "perceived_colour_value_name",
    "perceived_colour_master_id",
    "perceived_colour_master_name",
    "department_no",
    "department_name",
    "index_code",
    "index_name",
    "index_group_no",
    "index_group_name",
    "section_no",
    "section_name",
    "garment_group_no",
    "garment_group_name",
    "detail_desc",
)
CUSTOMER_HEADER = ("customer_id", "FN", "Active", "club_member_status", "fashion_news_frequency", "age", "postal_code")
TRANSACTION_HEADER = ("t_dat", "customer_id", "article_id", "price", "sales_channel_id")
TEXT_FIELDS = ("prod_name", "detail_desc")
CATEGORY_FIELDS = tuple(f for f in ARTICLE_HEADER if f not in ("article_id", *TEXT_FIELDS))
DEFAULT_CATEGORIES = ("product_code", *(f for f in ARTICLE_HEADER if f.endswith("_name") and f != "prod_name"))
USER_FIELDS = ("FN", "Active", "club_member_status", "fashion_news_frequency")
ARTICLES_FORMAT = (
    f"CSV with header {','.join(ARTICLE_HEADER[:3])},...,detail_desc (25 columns); UTF-8; ids "
    'with leading zeros; detail_desc may be empty or "quoted"'
)
CUSTOMERS_FORMAT = f"CSV with header {','.join(CUSTOMER_HEADER)}; UTF-8; empty = missing"
TRANSACTIONS_FORMAT = (
    f"CSV with header {','.join(TRANSACTION_HEADER)}; t_dat YYYY-MM-DD, article_id with its "
    "leading zero, price a float, sales_channel_id 1 or 2"
)
SPLIT_BY = ("last_week", "user", "time")
DEDUPE = ("first", "day", "none")
DAY = 86400
EPOCH = datetime.date(1970, 1, 1).toordinal()
ARTICLE_START = re.compile(r"\d+,\d+,")  # article_id,product_code,: never the rest of a description
MAX_RECORD_LINES = 20  # a quoted detail_desc may span lines; an unclosed quote gives up after this many


def _edges(instance: object, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    if not value or not all(isinstance(x, int) and x > 0 for x in value) or list(value) != sorted(set(value)):
        raise ValueError(f"{attribute.name} must be increasing positive whole ages, e.g. [20, 25, 30], got {value!r}")


def _article_fields(instance: object, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
    unknown = [f for f in value if f not in CATEGORY_FIELDS]
    if unknown:
        raise ValueError(
            f"{attribute.name}: {', '.join(map(repr, unknown))} not in articles.csv's categorical "
            f"fields ({', '.join(CATEGORY_FIELDS)})"
        )


@attrs.define(kw_only=True, frozen=True)
class HMOptions:
    split_by: str = attrs.field(
        default="last_week",
        validator=one_of(SPLIT_BY),
        metadata={
            "doc": '"last_week": the last test_days days are test, the valid_days before valid (Kaggle '
            'practice); "user": the last purchases of each customer; "time": global time cut points.'
        },
    )
    test_days: int = attrs.field(
        default=7,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "last_week: days at the end of the file that form test."},
    )
    valid_days: int = attrs.field(
        default=7,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "last_week: days before the test days that form valid; 0: none."},
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "user/time: share of purchases (per customer, or in time) in valid."},
    )
    test_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "user/time: share of purchases (per customer, or in time) in test."},
    )
    dedupe: str = attrs.field(
        default="first",
        validator=one_of(DEDUPE),
        metadata={
            "doc": '"first": one purchase per customer and article (the first); "day": one per customer, '
            'article and day (multi-unit rows merged, repurchases kept); "none": every row.'
        },
    )
    max_history: int = attrs.field(
        default=50,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent purchases kept in a history row; 0 keeps all."},
    )
    context_size: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Train purchases per history row; 1 gives every purchase its own history."},
    )
    eval_negatives: int = attrs.field(
        default=100,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Articles never bought by the customer, sampled once per customer for valid and for test (label 0)."
        },
    )
    eval_users: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Customers evaluated, drawn with seed; the valid/test purchases of the others are "
            "dropped. 0: all (fine for last_week; set it with user/time on the full data)."
        },
    )
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": "Seed of the evaluation negatives; same seed, same depot."},
    )
    age_edges: tuple[int, ...] = attrs.field(
        default=(20, 25, 30, 40, 50, 60),
        converter=tuple,
        validator=_edges,
        metadata={"doc": "Where the age buckets start: [20, 25] gives <20, 20-24, 25+."},
    )
    article_categories: tuple[str, ...] = attrs.field(
        default=DEFAULT_CATEGORIES,
        converter=tuple,
        validator=_article_fields,
        metadata={"doc": "articles.csv fields that become category columns (product_code and the *_name fields)."},
    )
    postal_code: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Add the customers' hashed postal_code as a category (a large vocabulary)."},
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows and count them in info.skipped_rows instead of failing."},
    )

    def __attrs_post_init__(self) -> None:
        if self.valid_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"valid_fraction + test_fraction must be below 1, got {self.valid_fraction} + {self.test_fraction}"
            )

    def rating_options(self) -> RatingOptions:
        """The shared protocol's options (the split itself is given for ``last_week``)."""
        return RatingOptions(
            max_history=self.max_history,
            split_by="time" if self.split_by == "time" else "user",
            valid_fraction=self.valid_fraction,
            test_fraction=self.test_fraction,
            context_size=self.context_size,
            eval_negatives=self.eval_negatives,
            seed=self.seed,
        )


FILES = (
    RawFile("articles.csv", ARTICLES_FORMAT, SOURCE),
    RawFile("customers.csv", CUSTOMERS_FORMAT, SOURCE),
    RawFile("transactions_train.csv", TRANSACTIONS_FORMAT, SOURCE),
)


class HMProcessor(Processor):
    name = "hm"
    description = (
        "H&M Personalized Fashion Recommendations (Kaggle): article names, descriptions and categories, "
        "customer attributes; purchases split by week, sampled evaluation negatives."
    )
    files = FILES
    Options = HMOptions

    def expected_files(self, raw: Path) -> list[RawFile]:
        return [attrs.evolve(f, name=find_variant(Path(raw), f.name)) for f in FILES]

    def build(self, raw: Path | None) -> DepotContent:
        o: HMOptions = self.options
        if raw is None:
            raise DataError(
                "hm reads raw files: pass the folder that holds articles.csv, customers.csv and transactions_train.csv"
            )
        raw = Path(raw)
        errors = RowErrors(raw, o.skip_bad_rows)
        path = {f.name: raw / find_variant(raw, f.name) for f in FILES}
        articles, texts, categories = _read_articles(path["articles.csv"], errors, o.article_categories)
        customers, person_columns, person_vocabs = _read_customers(path["customers.csv"], errors, o)
        purchases = _read_transactions(path["transactions_train.csv"], errors, customers, articles)
        ratings = _dedupe(purchases, o.dedupe)
        first_day, last_day = (int(ratings.time.min()), int(ratings.time.max())) if len(ratings.time) else (0, 0)
        info: dict[str, Any] = {
            "transactions": len(purchases.person),
            "dedupe": o.dedupe,
            "duplicates_removed": len(purchases.person) - len(ratings.person),
        }
        del purchases
        split: np.ndarray | None = None
        if o.split_by == "last_week" and len(ratings.person):
            split, info["split"] = _last_days(ratings, last_day, o.test_days, o.valid_days)
        else:
            split = assign_splits(ratings, o.rating_options()) if len(ratings.person) else None
            info["split"] = (
                f"per customer, last {o.test_fraction} test, {o.valid_fraction} valid before"
                if o.split_by == "user"
                else f"global time cut points, last {o.test_fraction} test, {o.valid_fraction} valid before"
            )
        if split is not None:
            ratings = _evaluated_only(ratings, split, o.eval_users, o.seed, info)
        info["dates"] = [_date(first_day), _date(last_day)] if len(ratings.time) else []

        item_ids, item_vocab = id_column(articles.ids, "item_id")
        text, words = text_columns(texts)
        items: dict[str, Column] = {"item_id": item_ids, **text}
        vocabs: dict[str, list[str]] = {"item_id": item_vocab, "words": words, **person_vocabs}
        for field, (codes, vocab) in categories.items():
            items[field] = Column("category", codes, vocab=field)
            vocabs[field] = vocab
        info["skipped_rows"] = errors.counts
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=customers.ids,
            person_columns=person_columns,
            ratings=ratings,
            options=o.rating_options(),
            info=info,
        )


def _date(seconds: int) -> str:
    return datetime.date.fromordinal(EPOCH + seconds // DAY).isoformat()


def _day(text: str) -> int:
    """``"2020-09-22"`` -> Unix seconds of that midnight (UTC); raises ``ValueError``."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(text)
    return (datetime.date.fromisoformat(text).toordinal() - EPOCH) * DAY


class _Codes:
    """A category column filled row by row: codes in an int32 array, values in first-seen order after ``<unk>``."""

    def __init__(self, vocab: list[str] | None = None) -> None:
        self.words = ["<unk>", *(vocab or [])]
        self.index = {w: i for i, w in enumerate(self.words)}
        self.codes = array("i")

    def add(self, value: str | None) -> None:
        if not value:
            self.codes.append(0)
            return
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.words)
            self.words.append(value)
        self.codes.append(code)

    def column(self, vocab: str) -> Column:
        return Column("category", np.array(self.codes, dtype=np.int32), vocab=vocab)


def _records(
    path: Path, errors: RowErrors, *, header: tuple[str, ...], expected: str, record_start: re.Pattern[str]
) -> Iterator[tuple[int, list[str]]]:
    """CSV records of ``path`` as ``(first line, fields)``; a quoted field may span lines.

    A line that matches ``record_start`` always begins a new record. A record whose quote is
    still open at such a line, after ``MAX_RECORD_LINES`` lines or at the end is a bad row at
    its first line, and the lines after it are read again as records of their own.
    """
    source = read_lines(path, errors)
    pushed: deque[tuple[int, str]] = deque()
    width = len(header)
    seen_header = False
    while True:
        line = pushed.popleft() if pushed else next(source, None)
        if line is None:
            return
        start, text = line
        taken: list[tuple[int, str]] = []
        while text.count('"') % 2 and len(taken) < MAX_RECORD_LINES:
            more = pushed.popleft() if pushed else next(source, None)
            if more is None:
                break
            if record_start.match(more[1]):
                pushed.appendleft(more)
                break
            taken.append(more)
            text = f"{text}\n{more[1]}"
        if text.count('"') % 2:
            errors.bad(path, start, "a quoted field is never closed", expected)
            pushed.extendleft(reversed(taken))
            continue
        try:
            fields = split_csv(text)
        except csv.Error as err:
            errors.bad(path, start, f"unreadable CSV ({err})", expected)
            continue
        if not seen_header:
            if [f.strip() for f in fields] != list(header):
                raise DataError(
                    f"{path}:{start}: header {text[:120]!r} is not the expected "
                    f"{','.join(header)!r}; is this the right file?"
                )
            seen_header = True
            continue
        if len(fields) != width:
            errors.bad(path, start, f"{len(fields)} fields where {width} were expected", expected)
            continue
        yield start, fields


def _read_articles(
    path: Path, errors: RowErrors, fields: tuple[str, ...]
) -> tuple[IdIndex, dict[str, list[str]], dict[str, tuple[np.ndarray, list[str]]]]:
    """The articles in file order: their ids, text fields and category columns (codes, vocabulary)."""
    ids = IdIndex()
    texts: dict[str, list[str]] = {f: [] for f in TEXT_FIELDS}
    codes = {f: _Codes() for f in fields}
    at = {f: ARTICLE_HEADER.index(f) for f in (*TEXT_FIELDS, *fields)}
    for number, f in _records(
        path, errors, header=ARTICLE_HEADER, expected=ARTICLES_FORMAT, record_start=ARTICLE_START
    ):
        article = f[0].strip()
        if not article.isdigit():
            errors.bad(path, number, f"article_id {article!r} is not a number", ARTICLES_FORMAT)
            continue
        if article in ids:
            errors.bad(path, number, f"article {article!r} is listed twice", "one row per article")
            continue
        ids.add(article)
        for name in TEXT_FIELDS:
            texts[name].append(f[at[name]].strip())
        for name, column in codes.items():
            column.add(f[at[name]].strip())
    return ids, texts, {name: (np.array(c.codes, dtype=np.int32), c.words) for name, c in codes.items()}


def age_bucket_names(edges: tuple[int, ...]) -> list[str]:
    """``(20, 25, 30)`` -> ``["<20", "20-24", "25-29", "30+"]``."""
    inner = [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:], strict=False)]
    return [f"<{edges[0]}", *inner, f"{edges[-1]}+"]


def _flag(value: str) -> str | None:
    """FN/Active: ``"1.0"`` -> ``"1"``, empty -> None; raises ``ValueError`` on a non-number."""
    value = value.strip()
    if not value:
        return None
    number = float(value)
    return str(int(number)) if number.is_integer() else value


def _read_customers(
    path: Path, errors: RowErrors, o: HMOptions
) -> tuple[IdIndex, dict[str, Column], dict[str, list[str]]]:
    """The customers in file order and their attribute columns (with vocabularies)."""
    ids = IdIndex()
    buckets = age_bucket_names(o.age_edges)
    edges = np.asarray(o.age_edges)
    age = _Codes(buckets)
    attributes = {f: _Codes() for f in USER_FIELDS}
    postal = _Codes()
    for number, f in read_rows(path, errors, sep=",", columns=7, expected=CUSTOMERS_FORMAT, header=CUSTOMER_HEADER):
        customer = f[0].strip()
        if not customer or customer in ids:
            errors.bad(path, number, f"customer {customer!r} is empty or listed twice", "one row per customer")
            continue
        try:
            flags = _flag(f[1]), _flag(f[2])
            years = float(f[5]) if f[5].strip() else None
        except ValueError:
            errors.bad(path, number, f"FN {f[1]!r}, Active {f[2]!r} or age {f[5]!r} is not a number", CUSTOMERS_FORMAT)
            continue
        if years is not None and not (math.isfinite(years) and 0 <= years < 150):
            errors.bad(path, number, f"age {f[5]!r} is not an age in years", CUSTOMERS_FORMAT)
            continue
        ids.add(customer)
        attributes["FN"].add(flags[0])
        attributes["Active"].add(flags[1])
        attributes["club_member_status"].add(f[3].strip())
        news = f[4].strip()
        attributes["fashion_news_frequency"].add("NONE" if news.upper() == "NONE" else news)
        age.codes.append(0 if years is None else 1 + int(np.searchsorted(edges, math.floor(years), "right")))
        if o.postal_code:
            postal.add(f[6].strip())
    columns = {"age": age.column("age"), **{name: c.column(name) for name, c in attributes.items()}}
    vocabs = {"age": age.words, **{name: c.words for name, c in attributes.items()}}
    if o.postal_code:
        columns["postal_code"], vocabs["postal_code"] = postal.column("postal_code"), postal.words
    return ids, columns, vocabs


def _read_transactions(path: Path, errors: RowErrors, customers: IdIndex, articles: IdIndex) -> Ratings:
    """Every purchase, in file order, as an all-positive rating at its day (Unix seconds, midnight UTC).

    31.8M rows: three typed arrays (12 bytes a row) and bound appends, no object per row.
    """
    person, item, when = array("i"), array("i"), array("i")  # day numbers since 1970 fit in int32
    add_person, add_item, add_day = person.append, item.append, when.append
    days: dict[str, int] = {}
    person_of, item_of, bad = customers.index.get, articles.index.get, errors.bad
    for number, (date, customer, article, price, channel) in read_rows(
        path, errors, sep=",", columns=5, expected=TRANSACTIONS_FORMAT, header=TRANSACTION_HEADER
    ):
        day = days.get(date)
        if day is None:
            try:
                day = days[date] = _day(date) // DAY
            except ValueError:
                bad(path, number, f"t_dat {date!r} is not a YYYY-MM-DD date", TRANSACTIONS_FORMAT)
                continue
        who = person_of(customer)
        if who is None:
            bad(path, number, f"customer {customer[:16]!r}... is not in customers.csv", TRANSACTIONS_FORMAT)
            continue
        what = item_of(article)
        if what is None:
            hint = (
                (
                    f" (its leading zero was lost: articles.csv has {article.zfill(10)!r}; read the file "
                    "with dtype=str when re-saving it)"
                )
                if article.isdigit() and article.zfill(10) in articles
                else ""
            )
            bad(path, number, f"article {article!r} is not in articles.csv{hint}", TRANSACTIONS_FORMAT)
            continue
        try:
            float(price)
        except ValueError:
            bad(path, number, f"price {price!r} is not a number", TRANSACTIONS_FORMAT)
            continue
        if channel not in ("1", "2"):
            bad(path, number, f"sales_channel_id {channel!r} is not 1 or 2", TRANSACTIONS_FORMAT)
            continue
        add_person(who)
        add_item(what)
        add_day(day)
    n = len(person)
    return Ratings(
        person=np.frombuffer(person, dtype=np.int32) if n else np.zeros(0, np.int32),
        item=np.frombuffer(item, dtype=np.int32) if n else np.zeros(0, np.int32),
        time=(np.frombuffer(when, dtype=np.int32) if n else np.zeros(0, np.int32)).astype(np.int64) * DAY,
        label=np.ones(n, dtype=np.float32),
    )


def _dedupe(r: Ratings, how: str) -> Ratings:
    """One purchase per customer and article (``first``), or per customer, article and day (``day``).

    The earliest is kept (ties: file order), and the kept rows stay in file order.
    """
    position = np.arange(len(r.person))
    if how != "none" and len(position):
        order = np.lexsort((position, r.time, r.item, r.person))
        p, i = r.person[order], r.item[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (p[1:] != p[:-1]) | (i[1:] != i[:-1])
        if how == "day":
            t = r.time[order]
            first[1:] |= t[1:] != t[:-1]
        del p, i
        position = np.sort(order[first])
    return Ratings(
        person=r.person[position].astype(np.int64),
        item=r.item[position].astype(np.int64),
        time=r.time[position],
        label=r.label[position],
    )


def _last_days(r: Ratings, last_day: int, test_days: int, valid_days: int) -> tuple[np.ndarray, str]:
    """The ``last_week`` split: test = the last ``test_days`` days, valid = the ``valid_days`` before."""
    test_from = last_day - (test_days - 1) * DAY
    valid_from = test_from - valid_days * DAY
    split = np.where(r.time >= test_from, 2, np.where(r.time >= valid_from, 1, 0)).astype(np.int8)
    text = f"test = {_date(test_from)}..{_date(last_day)}, "
    text += f"valid = {_date(valid_from)}..{_date(test_from - DAY)}, " if valid_days else "no valid, "
    return split, text + "train = earlier"


def _evaluated_only(r: Ratings, split: np.ndarray, eval_users: int, seed: int, info: dict[str, Any]) -> Ratings:
    """``r`` with ``split``; only ``eval_users`` customers (drawn with ``seed``) keep valid/test purchases.

    The valid/test purchases of the others are dropped, not moved to train: they come after the
    cut, and training on them would show the model the evaluation period.
    """
    candidates = sorted_unique(r.person[split > 0])
    info["evaluated_users"] = len(candidates)
    if eval_users and len(candidates) > eval_users:
        chosen = np.sort(np.random.default_rng((seed, 1)).choice(candidates, size=eval_users, replace=False))
        keep = (split == 0) | member(r.person, chosen)
        info["evaluated_users"] = eval_users
        info["dropped_not_evaluated"] = int((~keep).sum())
        r, split = (
            Ratings(person=r.person[keep], item=r.item[keep], time=r.time[keep], label=r.label[keep]),
            split[keep],
        )
    return attrs.evolve(r, split=split)
