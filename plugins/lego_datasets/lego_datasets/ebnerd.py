"""The ``ebnerd`` processor: EB-NeRD (Ekstra Bladet News Recommendation Dataset, RecSys Challenge 2024).

``--raw`` holds the unzipped archives: ``ebnerd_demo/``, ``ebnerd_small/`` or
``ebnerd_large/`` (or their content directly: ``plain``), each with
``articles.parquet`` and ``train/`` and ``validation/`` folders of
``behaviors.parquet`` and ``history.parquet``; optionally ``ebnerd_testset/``
(``articles.parquet``, ``test/behaviors.parquet``, ``test/history.parquet``)
or a ``test/`` folder next to ``train/``. Apache Parquet, read with pyarrow
(``pip install 'lego-datasets[parquet]'``) in batches of ``batch_rows`` rows.

Items: the union of the ``articles.parquet`` files (the first row of an id
wins): ``title``, ``subtitle``, ``body`` (text; word ids of the body cut to
``max_body_words``), ``category`` (``category_str``), ``subcategory``,
``topics``, ``entities`` (``ner_clusters``) and ``entity_groups`` (multi-valued),
``article_type``, ``premium``, ``sentiment`` (``sentiment_label``) as
categories, ``sentiment_score`` (float) and ``published_time`` (Unix
seconds, 0 when missing). The ``total_*`` counts aggregate the whole period
(test included) and are not read; nor are urls and image ids.

Users: the history is the user's ``article_id_fixed`` of the split's
``history.parquet`` (a snapshot of the weeks before the split's behaviors),
minus the items the row's impressions show, cut to the last ``max_history``.
``user_rows = "user"`` (default): one row per user and split;
``"impression"``: one row per impression, as in MIND (far bigger). User
attributes per row (categories, from the row's first impression):
``is_subscriber``, ``is_sso_user``, ``gender``, ``age``, ``postcode``
(their codes) and ``device_type`` (desktop, mobile, tablet; 0 = unknown).

Interactions: every ``article_ids_inview`` of every impression, label 1 when
the article is in ``article_ids_clicked``; ``group`` is one id per
impression, ``time`` the ``impression_time`` (Unix seconds).

Splits: train = ``train/``, valid = ``validation/``, test = a labelled test
folder (one with ``article_ids_clicked``). The official test set has no
labels: it adds its articles only, and there is no test split unless
``validation_split = "test"`` (MIND's rule: test = ``validation/``, valid =
the last ``valid_fraction`` of the train impressions by time).

Bad data: a parquet file without a required column is an error naming it.
A bad row (null ``user_id``/``impression_time``, empty ``article_ids_inview``,
an in-view article that is not in ``articles.parquet``, a clicked article not
in view) is ``file:ROW: ...`` (ROW counts the file's rows from 1) or, with
``skip_bad_rows``, skipped and counted. History articles missing from
``articles.parquet`` (a known quirk of the release) are dropped and counted in
``info["unknown_history_items"]``.

Example:
    >>> from pathlib import Path
    >>> content = EBNeRDProcessor().build(Path(__file__).parents[1] / "tests" / "fixtures" / "ebnerd")
    >>> content.info["variant"], content.info["impressions"], content.info["test_folder"]
    ('demo', {'train': 6, 'valid': 3}, 'unlabelled, articles only')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.data.ragged import Ragged
from lego_core.errors import DataError
from lego_datasets.columns import category_column, id_column, token_list_column
from lego_datasets.impressions import (
    VALIDATION_SPLITS,
    Impressions,
    hold_out_latest,
    impression_depot,
    ragged,
    raw_folder,
    snapshot_histories,
    split_levels,
    word_columns,
)
from lego_datasets.reader import RowErrors
from lego_datasets.splits import member, one_of, sorted_unique, unit_fraction

VARIANTS = {"demo": "ebnerd_demo/", "small": "ebnerd_small/", "large": "ebnerd_large/", "plain": ""}
TESTSET = "ebnerd_testset/"
SOURCE = "https://recsys.eb.dk/ (register; unzip ebnerd_<size>.zip, and ebnerd_testset.zip, into --raw)"
PARQUET_HINT = "pip install 'lego-datasets[parquet]'"
ARTICLES_FORMAT = (
    "Apache Parquet, one row per article: article_id, title, subtitle, body, category_str, "
    "subcategory, topics, ner_clusters, entity_groups, premium, article_type, "
    "sentiment_label, sentiment_score, published_time"
)
BEHAVIORS_FORMAT = (
    "Apache Parquet, one row per impression: impression_id, user_id, impression_time "
    "(timestamp), article_ids_inview (list of article ids), article_ids_clicked (absent in "
    "the test set), device_type, is_sso_user, gender, postcode, age, is_subscriber"
)
HISTORY_FORMAT = "Apache Parquet, one row per user: user_id, article_id_fixed (article ids, oldest first)"
REQUIRED = {
    "articles": ("article_id", "title"),
    "behaviors": ("impression_id", "user_id", "impression_time", "article_ids_inview"),
    "history": ("user_id", "article_id_fixed"),
}
USER_FIELDS = ("is_subscriber", "is_sso_user", "gender", "age", "postcode", "device_type")
DEVICES = {1: "desktop", 2: "mobile", 3: "tablet"}
UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
USER_ROWS = ("user", "impression")
MISSING = np.iinfo(np.int64).min  # a null integer
MISSING_CODE = -32768  # a null (or out-of-range) user attribute code, kept as int16


@attrs.define(kw_only=True, frozen=True)
class EBNeRDOptions:
    variant: str = attrs.field(
        default="auto",
        validator=one_of(("auto", *VARIANTS)),
        metadata={
            "doc": "Folder: demo (ebnerd_demo/), small, large, plain (train/ and validation/ directly "
            "in --raw), or auto to detect."
        },
    )
    user_rows: str = attrs.field(
        default="user",
        validator=one_of(USER_ROWS),
        metadata={
            "doc": '"user": one history row per user and split; "impression": one per impression '
            "(as in MIND; exact device_type, much bigger)."
        },
    )
    validation_split: str = attrs.field(
        default="valid",
        validator=one_of(VALIDATION_SPLITS),
        metadata={
            "doc": 'Without a labelled test folder: "valid" (validation/ is the valid split, no '
            'test), or "test" (MIND\'s rule: validation/ is test, valid the last '
            "valid_fraction of train)."
        },
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={
            "doc": 'With validation_split="test": the last share of train impressions (by time) held '
            "out as valid; 0 writes no valid split."
        },
    )
    max_history: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent history articles kept per row; 0 keeps all."},
    )
    body: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Keep the article body as the text column body (+ body_text)."},
    )
    max_body_words: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Word ids kept per body (the first ones; body_text keeps all); 0 keeps all."},
    )
    batch_rows: int = attrs.field(
        default=65536,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Parquet rows read at a time (memory against speed)."},
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed impressions and history rows, counting them, instead of failing."},
    )


def _files(prefix: str) -> list[RawFile]:
    files = [RawFile(f"{prefix}articles.parquet", ARTICLES_FORMAT, SOURCE)]
    for folder in ("train", "validation", "test"):
        optional = folder == "test"
        files += [
            RawFile(f"{prefix}{folder}/behaviors.parquet", BEHAVIORS_FORMAT, SOURCE, optional=optional),
            RawFile(f"{prefix}{folder}/history.parquet", HISTORY_FORMAT, SOURCE, optional=optional),
        ]
    return files + [
        RawFile(f"{TESTSET}articles.parquet", ARTICLES_FORMAT, SOURCE, optional=True),
        RawFile(f"{TESTSET}test/behaviors.parquet", BEHAVIORS_FORMAT, SOURCE, optional=True),
        RawFile(f"{TESTSET}test/history.parquet", HISTORY_FORMAT, SOURCE, optional=True),
    ]


def pyarrow_modules() -> tuple[Any, Any, Any]:
    """``(pyarrow, pyarrow.compute, pyarrow.parquet)``, imported only when parquet is read."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError as err:
        raise DataError(f"EB-NeRD ships Apache Parquet files; reading them needs pyarrow: {PARQUET_HINT}") from err
    return pa, pc, pq


class EBNeRDProcessor(Processor):
    name = "ebnerd"
    description = (
        "EB-NeRD news recommendation (Ekstra Bladet; demo, small, large): titles, subtitles, "
        "bodies, categories, topics, entities; user attributes; official train/validation."
    )
    files = tuple(_files(VARIANTS["small"]))
    Options = EBNeRDOptions

    def prefix(self, raw: Path) -> str | None:
        """The folder prefix in ``raw`` (``"ebnerd_small/"``, ``""`` for plain), ``None`` if none is there."""
        o: EBNeRDOptions = self.options
        wanted = VARIANTS if o.variant == "auto" else {o.variant: VARIANTS[o.variant]}
        found = [p for p in wanted.values() if (Path(raw) / f"{p}train").is_dir()]
        if len(found) > 1:
            folders = ", ".join(f + "train/" for f in found)
            raise DataError(
                f"{raw} holds several EB-NeRD variants ({folders}); choose one with the option "
                "variant=demo|small|large|plain"
            )
        return found[0] if found else None

    def expected_files(self, raw: Path) -> list[RawFile]:
        prefix = self.prefix(raw)
        return list(self.files) if prefix is None else _files(prefix)

    def build(self, raw: Path | None) -> DepotContent:
        o: EBNeRDOptions = self.options
        raw = raw_folder(raw, self.name)
        prefix = self.prefix(raw)
        if prefix is None:
            raise DataError(
                f"{raw}: no EB-NeRD folders (expected ebnerd_demo/, ebnerd_small/, ebnerd_large/ "
                "or train/ and validation/, with articles.parquet)"
            )
        reader = _Reader(pyarrow_modules(), RowErrors(raw, o.skip_bad_rows), o)
        articles = _Articles()
        articles.read(reader, raw / f"{prefix}articles.parquet")
        tests = [raw / f"{prefix}test", raw / f"{TESTSET}test"]
        test = next((t for t in tests if (t / "behaviors.parquet").is_file()), None)
        labelled = test is not None and "article_ids_clicked" in reader.columns(test / "behaviors.parquet")
        if (raw / f"{TESTSET}articles.parquet").is_file():
            articles.read(reader, raw / f"{TESTSET}articles.parquet")
        articles.index()
        folders = {"train": raw / f"{prefix}train", "validation": raw / f"{prefix}validation"}
        if labelled and test is not None:
            folders["test"] = test
        parts = [_Part.read(reader, folder, articles) for folder in folders.values()]
        log, attributes, folder_of = _combine(parts)
        bounds = np.cumsum([0, *(len(p.users) for p in parts)])
        without_history = sum(p.without_history for p in parts)
        del parts  # the folders' arrays are in log now
        rows = {name: np.arange(bounds[i], bounds[i + 1], dtype=np.int64) for i, name in enumerate(folders)}
        if labelled:
            splits = {"train": rows["train"], "valid": rows["validation"], "test": rows["test"]}
            protocol = "train = train, valid = validation, test = test"
        elif o.validation_split == "valid":
            splits = {"train": rows["train"], "valid": rows["validation"]}
            protocol = "train = train, valid = validation"
        else:
            train, valid = hold_out_latest(rows["train"], log.time, o.valid_fraction)
            splits = {"train": train, "valid": valid, "test": rows["validation"]}
            protocol = f"test = validation; valid = last {o.valid_fraction} of train by time"
        level = split_levels(len(log.row), splits)
        log, first = _users_rows(log, level, folder_of, o)
        user_columns, user_vocabs = _user_columns(attributes, first)
        items, vocabs = articles.columns(o)
        info: dict[str, Any] = {
            "variant": prefix.rstrip("/").removeprefix("ebnerd_") or "plain",
            "splits": protocol,
            "test_folder": _test_folder(labelled, test is not None, (raw / f"{TESTSET}articles.parquet").is_file()),
            "user_rows_per": o.user_rows,
            "articles_columns_missing": articles.missing,
            "duplicate_articles": articles.duplicates,
            "users_without_history": without_history,
        }
        return impression_depot(
            items=items,
            vocabs={**vocabs, **user_vocabs},
            log=log,
            splits=splits,
            info=info,
            skipped=reader.errors.counts,
            user_columns=user_columns,
            group_dtype=np.int32 if len(log.row) < 2**31 else np.int64,
        )


class _Reader:
    """Parquet access with the errors of this processor: missing columns, bad rows, unreadable files."""

    def __init__(self, modules: tuple[Any, Any, Any], errors: RowErrors, options: EBNeRDOptions) -> None:
        self.pa, self.pc, self.pq = modules
        self.errors = errors
        self.options = options

    def open(self, path: Path, kind: str) -> Any:
        """A ``ParquetFile`` whose schema has the required columns of ``kind``."""
        try:
            parquet = self.pq.ParquetFile(path)
        except (OSError, self.pa.ArrowException) as err:
            raise DataError(f"{path}: not a readable Apache Parquet file ({err}); download it again") from err
        names = parquet.schema_arrow.names
        missing = [c for c in REQUIRED[kind] if c not in names]
        if missing:
            raise DataError(
                f"{path} has no column {', '.join(map(repr, missing))} (its columns: "
                f"{', '.join(names)}); is this the EB-NeRD {kind}.parquet?"
            )
        self.errors.seen(path)
        return parquet

    def columns(self, path: Path) -> list[str]:
        """The column names of a parquet file (its schema only)."""
        try:
            return list(self.pq.read_schema(path).names)
        except (OSError, self.pa.ArrowException) as err:
            raise DataError(f"{path}: not a readable Apache Parquet file ({err}); download it again") from err

    def batches(self, parquet: Any, columns: Sequence[str], path: Path) -> Any:
        try:
            yield from parquet.iter_batches(batch_size=self.options.batch_rows, columns=list(columns))
        except (OSError, self.pa.ArrowException) as err:
            raise DataError(f"{path}: the parquet data is damaged ({err}); download it again") from err

    def ints(self, array: Any, where: str = "a column") -> np.ndarray:
        """An integer, boolean or timestamp Arrow array as int64 (timestamps in seconds; nulls MISSING)."""
        pa, pc = self.pa, self.pc
        if pa.types.is_boolean(array.type):
            array = pc.cast(array, pa.int8())
        if pa.types.is_timestamp(array.type):
            unit = UNITS[array.type.unit]
            values = pc.fill_null(pc.cast(array, pa.int64()), MISSING).to_numpy(zero_copy_only=False)
            return np.where(values == MISSING, MISSING, np.floor_divide(values, unit))
        if not pa.types.is_integer(array.type):
            raise DataError(
                f"{where} has type {array.type} where integers or timestamps were expected; "
                "is this the EB-NeRD release?"
            )
        return np.asarray(pc.fill_null(pc.cast(array, pa.int64()), MISSING).to_numpy(zero_copy_only=False))

    def lists(self, array: Any, where: str = "a column") -> tuple[np.ndarray, np.ndarray]:
        """A list column as ``(lengths, values)``: lengths -1 for a null list, null values as ``MISSING``."""
        pc = self.pc
        if not (self.pa.types.is_list(array.type) or self.pa.types.is_large_list(array.type)):
            raise DataError(f"{where} has type {array.type} where a list was expected; is this the EB-NeRD release?")
        lengths = np.asarray(
            pc.fill_null(pc.list_value_length(array), -1).to_numpy(zero_copy_only=False), dtype=np.int64
        )
        return lengths, self.ints(pc.list_flatten(array), where)

    def bad_rows(self, path: Path, rows: np.ndarray, message: str, expected: str) -> None:
        """Raise for the first of ``rows`` (0-based) or count them all."""
        if not len(rows):
            return
        if not self.errors.skip:
            self.errors.bad(path, int(rows[0]) + 1, message, expected)
        name = self.errors.name(path)
        self.errors.counts[name] = self.errors.counts.get(name, 0) + len(rows)


@attrs.define
class _Articles:
    """The union of the articles files (first row of an id wins)."""

    ids: list[int] = attrs.field(factory=list)
    seen: set[int] = attrs.field(factory=set)
    text: dict[str, list[str]] = attrs.field(factory=lambda: {"title": [], "subtitle": [], "body": []})
    categories: dict[str, list[str | None]] = attrs.field(
        factory=lambda: {"category": [], "article_type": [], "premium": [], "sentiment": []}
    )
    lists: dict[str, list[list[str]]] = attrs.field(
        factory=lambda: {"subcategory": [], "topics": [], "entities": [], "entity_groups": []}
    )
    sentiment_score: list[float] = attrs.field(factory=list)
    published_time: list[int] = attrs.field(factory=list)
    missing: list[str] = attrs.field(factory=list)
    duplicates: int = 0
    sorted_ids: np.ndarray = attrs.field(factory=lambda: np.zeros(0, np.int64))
    sorted_rows: np.ndarray = attrs.field(factory=lambda: np.zeros(0, np.int64))

    def read(self, reader: _Reader, path: Path) -> None:
        parquet = reader.open(path, "articles")
        names = parquet.schema_arrow.names
        wanted = (
            "article_id",
            "title",
            "subtitle",
            "body",
            "category_str",
            "category",
            "article_type",
            "premium",
            "sentiment_label",
            "subcategory",
            "topics",
            "ner_clusters",
            "entity_groups",
            "sentiment_score",
            "published_time",
        )
        self.missing += [c for c in wanted if c not in names and c not in self.missing and c != "category"]
        start = 0
        for batch in reader.batches(parquet, [c for c in wanted if c in names], path):
            ids = reader.ints(batch.column("article_id"), f"{path}: article_id")
            nulls = start + np.flatnonzero(ids == MISSING)
            reader.bad_rows(path, nulls, "article_id is null", ARTICLES_FORMAT)
            nothing = [None] * len(ids)
            column = {c: batch.column(c) for c in batch.schema.names}
            published = (
                reader.ints(column["published_time"], f"{path}: published_time")
                if "published_time" in column
                else np.full(len(ids), MISSING)
            )
            values = {c: column[c].to_pylist() for c in column if c not in ("article_id", "published_time")}
            get = {c: values.get(c, nothing) for c in wanted}
            for i, article in enumerate(ids.tolist()):
                if article == MISSING:
                    continue
                if article in self.seen:
                    self.duplicates += 1
                    continue
                self.seen.add(article)
                self.ids.append(article)
                for name in ("title", "subtitle", "body"):
                    self.text[name].append(_text(get[name][i]) or "")
                category = _text(get["category_str"][i]) or _text(get["category"][i])
                self.categories["category"].append(category)
                self.categories["article_type"].append(_text(get["article_type"][i]))
                premium = get["premium"][i]
                self.categories["premium"].append(None if premium is None else str(bool(premium)).lower())
                self.categories["sentiment"].append(_text(get["sentiment_label"][i]))
                for name, source in (
                    ("subcategory", "subcategory"),
                    ("topics", "topics"),
                    ("entities", "ner_clusters"),
                    ("entity_groups", "entity_groups"),
                ):
                    found = get[source][i] or []
                    self.lists[name].append(list(dict.fromkeys(str(x) for x in found if x is not None)))
                score = get["sentiment_score"][i]
                self.sentiment_score.append(np.nan if score is None else float(score))
                self.published_time.append(0 if published[i] == MISSING else int(published[i]))
            start += len(ids)

    def index(self) -> None:
        """Prepare :meth:`lookup` once every articles file is read."""
        ids = np.asarray(self.ids, dtype=np.int64)
        self.sorted_rows = np.argsort(ids, kind="stable")
        self.sorted_ids = ids[self.sorted_rows]

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Item indices of article ids, -1 for ids that are in no articles file."""
        if not len(self.sorted_ids):
            return np.full(len(ids), -1, np.int64)
        at = np.minimum(np.searchsorted(self.sorted_ids, ids), len(self.sorted_ids) - 1)
        return np.where(self.sorted_ids[at] == ids, self.sorted_rows[at], -1)

    def columns(self, o: EBNeRDOptions) -> tuple[dict[str, Column], dict[str, list[str]]]:
        item_ids, item_vocab = id_column([str(i) for i in self.ids], "item_id")
        texts = {name: values for name, values in self.text.items() if name != "body" or o.body}
        text, words = word_columns(texts, max_words={"body": o.max_body_words})
        items: dict[str, Column] = {"item_id": item_ids, **text}
        vocabs: dict[str, list[str]] = {"item_id": item_vocab, "words": words}
        for name in (
            "category",
            "subcategory",
            "topics",
            "entities",
            "entity_groups",
            "article_type",
            "premium",
            "sentiment",
        ):
            if name in self.lists:
                items[name], vocabs[name] = token_list_column(self.lists[name], name)
            else:
                items[name], vocabs[name] = category_column(self.categories[name], name)
        items["sentiment_score"] = Column("float", np.asarray(self.sentiment_score, dtype=np.float32))
        items["published_time"] = Column("int", np.asarray(self.published_time, dtype=np.int64))
        return items, vocabs


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _test_folder(labelled: bool, test: bool, test_articles: bool) -> str:
    if labelled:
        return "labelled"
    if test:
        return "unlabelled, articles only" if test_articles else "unlabelled, not read"
    return "articles only" if test_articles else "absent"


@attrs.define
class _Part:
    """One folder (train, validation, test): its impressions and its history snapshots."""

    users: np.ndarray  # (impressions,) user id
    time: np.ndarray
    candidates: Ragged
    labels: Ragged
    attributes: dict[str, np.ndarray]
    snapshot: np.ndarray  # (impressions,) row of the folder's history, -1 for none
    history: Ragged
    unknown_history: int
    without_history: int

    @classmethod
    def read(cls, reader: _Reader, folder: Path, articles: _Articles) -> _Part:
        history_users, history, unknown = _read_history(reader, folder / "history.parquet", articles)
        path = folder / "behaviors.parquet"
        parquet = reader.open(path, "behaviors")
        names = parquet.schema_arrow.names
        labelled = "article_ids_clicked" in names
        fields = [f for f in USER_FIELDS if f in names]
        wanted = [*REQUIRED["behaviors"], *(["article_ids_clicked"] if labelled else []), *fields]
        chunks: dict[str, list[np.ndarray]] = {k: [] for k in ("users", "time", "lengths", "items", "labels", *fields)}
        start = 0
        for batch in reader.batches(parquet, wanted, path):
            n = len(batch)
            users = reader.ints(batch.column("user_id"), f"{path}: user_id")
            time = reader.ints(batch.column("impression_time"), f"{path}: impression_time")
            lengths, shown = reader.lists(batch.column("article_ids_inview"), f"{path}: article_ids_inview")
            counts = np.maximum(lengths, 0)
            row_of = np.repeat(np.arange(n), counts)
            items = articles.lookup(shown)
            if labelled:
                click_lengths, clicked = reader.lists(
                    batch.column("article_ids_clicked"), f"{path}: article_ids_clicked"
                )
                click_rows = np.repeat(np.arange(n), np.maximum(click_lengths, 0))
                click_keys = sorted_unique(_keys(click_rows, clicked))
                shown_keys = _keys(row_of, shown)
                labels = member(shown_keys, click_keys).astype(np.int8)
                stray = click_rows[~member(_keys(click_rows, clicked), sorted_unique(shown_keys))]
            else:
                labels, stray = np.zeros(len(shown), np.int8), np.zeros(0, np.int64)
            problem = np.zeros(n, np.int8)  # the first problem of each row, in this order of checks
            for code, rows in (
                (5, stray),
                (4, row_of[items < 0]),
                (3, np.flatnonzero(lengths <= 0)),
                (2, np.flatnonzero(time == MISSING)),
                (1, np.flatnonzero(users == MISSING)),
            ):
                problem[rows] = code
            bad = np.flatnonzero(problem)
            if len(bad):
                first = int(bad[0])
                reader.bad_rows(
                    path, start + bad, _problem(int(problem[first]), batch, first, articles), BEHAVIORS_FORMAT
                )
            good = problem == 0
            keep = good[row_of]
            chunks["users"].append(users[good])
            chunks["time"].append(time[good])
            chunks["lengths"].append(counts[good])
            chunks["items"].append(items[keep].astype(np.int32))
            chunks["labels"].append(labels[keep])
            for f in fields:
                codes = reader.ints(batch.column(f), f"{path}: {f}")[good]  # small codes, kept as int16
                small = (codes >= -32767) & (codes <= 32767)
                chunks[f].append(np.where(small, codes, MISSING_CODE).astype(np.int16))
            start += n
        joined = {k: np.concatenate(c) if c else np.zeros(0, np.int64) for k, c in chunks.items()}
        users = joined["users"]
        at = np.minimum(np.searchsorted(history_users, users), max(len(history_users) - 1, 0))
        found = (history_users[at] == users) if len(history_users) else np.zeros(len(users), bool)
        return cls(
            users=users,
            time=joined["time"],
            candidates=ragged(joined["items"], joined["lengths"], np.int32),
            labels=ragged(joined["labels"], joined["lengths"], np.int8),
            attributes={f: joined[f] for f in fields},
            snapshot=np.where(found, at, -1),
            history=history,
            unknown_history=unknown,
            without_history=len(np.unique(users[~found])),
        )


def _keys(rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """One int64 per (row, article id) pair (ids are 32-bit, nulls map to a key of their own)."""
    return rows.astype(np.int64) * (1 << 33) + np.where(ids == MISSING, -1, ids) + (1 << 32)


def _problem(code: int, batch: Any, row: int, articles: _Articles) -> str:
    """The message of a bad behaviors row (the slow path, for the first one only)."""
    impression = batch.column("impression_id")[row].as_py()
    if code == 1:
        return f"user_id is null (impression {impression})"
    if code == 2:
        return f"impression_time is null (impression {impression})"
    shown = batch.column("article_ids_inview")[row].as_py() or []
    if code == 3:
        return f"article_ids_inview is empty (impression {impression})"
    if code == 4:
        unknown = next(a for a in shown if a is None or articles.lookup(np.array([a], np.int64))[0] < 0)
        return f"article_ids_inview holds article {unknown} (impression {impression}), which is not in articles.parquet"
    clicked = batch.column("article_ids_clicked")[row].as_py() or []
    stray = next(a for a in clicked if a not in shown)
    return f"article_ids_clicked holds article {stray} (impression {impression}), which is not in article_ids_inview"


def _read_history(reader: _Reader, path: Path, articles: _Articles) -> tuple[np.ndarray, Ragged, int]:
    """``(sorted user ids, their snapshots in that order, unknown article count)`` of a history file."""
    if not path.is_file():
        raise DataError(
            f"{path} is missing: every folder with a behaviors.parquet needs its history.parquet "
            "(unzip the whole archive)"
        )
    parquet = reader.open(path, "history")
    users_chunks, rows_chunks, lengths_chunks, items_chunks = [], [], [], []
    unknown, start = 0, 0
    for batch in reader.batches(parquet, REQUIRED["history"], path):
        n = len(batch)
        users = reader.ints(batch.column("user_id"), f"{path}: user_id")
        lengths, ids = reader.lists(batch.column("article_id_fixed"), f"{path}: article_id_fixed")
        lengths = np.maximum(lengths, 0)
        row_of = np.repeat(np.arange(n), lengths)
        items = articles.lookup(ids)
        known = items >= 0
        unknown += int((~known).sum())
        reader.bad_rows(path, start + np.flatnonzero(users == MISSING), "user_id is null", HISTORY_FORMAT)
        good = users != MISSING
        keep = known & good[row_of]
        users_chunks.append(users[good])
        rows_chunks.append(start + np.flatnonzero(good))
        lengths_chunks.append(np.bincount(row_of[keep], minlength=n)[good])
        items_chunks.append(items[keep])
        start += n
    none = np.zeros(0, np.int64)
    users = np.concatenate(users_chunks) if users_chunks else none
    file_rows = np.concatenate(rows_chunks) if rows_chunks else none
    snapshots = ragged(
        np.concatenate(items_chunks) if items_chunks else none,
        np.concatenate(lengths_chunks) if lengths_chunks else none,
        np.int32,
    )
    order = np.argsort(users, kind="stable")
    ordered = users[order]
    repeated = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1  # a second row of a user: bad, the first wins
    if len(repeated):
        bad = file_rows[order[repeated]]
        user = int(ordered[repeated[int(np.argmin(bad))]])
        reader.bad_rows(path, np.sort(bad), f"user {user} has a second history row", HISTORY_FORMAT)
        order = np.delete(order, repeated)
    return users[order], _take(snapshots, order), unknown


def _take(data: Ragged, rows: np.ndarray) -> Ragged:
    lengths = data.lengths[rows]
    starts = data.offsets[:-1][rows]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    index = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths) + np.repeat(starts, lengths)
    return Ragged(values=np.asarray(data.values)[index], offsets=offsets)


def _concat(parts: Sequence[_Part], name: str, dtype: type) -> Ragged:
    """The ragged attribute ``name`` of all parts in one, emptying each part's copy once it is copied."""
    values: np.ndarray = np.empty(sum(len(getattr(p, name).values) for p in parts), dtype)
    lengths, at = [], 0
    for part in parts:
        data: Ragged = getattr(part, name)
        values[at : at + len(data.values)] = data.values
        at += len(data.values)
        lengths.append(data.lengths)
        setattr(part, name, ragged(np.zeros(0, dtype), np.zeros(0, np.int64), dtype))
    return ragged(values, np.concatenate(lengths) if lengths else np.zeros(0, np.int64), dtype)


def _combine(parts: Sequence[_Part]) -> tuple[Impressions, dict[str, np.ndarray], np.ndarray]:
    """All folders as one log whose users rows are the history snapshots (not yet one per split).

    The parts' candidates, labels and snapshots are moved (each part's copy is emptied).
    """
    users = np.concatenate([p.users for p in parts])
    persons = np.unique(users)
    bases = np.cumsum([0, *(len(p.history) for p in parts)])
    snapshot = np.concatenate(
        [np.where(p.snapshot >= 0, p.snapshot + base, -1) for p, base in zip(parts, bases, strict=False)]
    )
    fields = {f for p in parts for f in p.attributes}
    attributes = {
        f: np.concatenate([p.attributes.get(f, np.full(len(p.users), MISSING_CODE, np.int16)) for p in parts])
        for f in USER_FIELDS
        if f in fields
    }
    folder_of = np.concatenate([np.full(len(p.users), i, np.int64) for i, p in enumerate(parts)])
    log = Impressions(
        persons=[str(u) for u in persons.tolist()],
        row_person=np.searchsorted(persons, users),
        history=_concat(parts, "history", np.int32),
        row=snapshot,
        time=np.concatenate([p.time for p in parts]),
        candidates=_concat(parts, "candidates", np.int32),
        labels=_concat(parts, "labels", np.int8),
        unknown_history=sum(p.unknown_history for p in parts),
    )
    return log, attributes, folder_of


def _users_rows(
    log: Impressions, level: np.ndarray, folder_of: np.ndarray, o: EBNeRDOptions
) -> tuple[Impressions, np.ndarray]:
    """The users rows (per user and split, or per impression) with histories, and their first impressions.

    ``log`` comes from :func:`_combine`: ``row_person`` is per impression and
    ``row`` the impression's history snapshot.
    """
    person, snapshot = log.row_person, log.row
    n = len(person)
    if o.user_rows == "impression":
        row = np.arange(n, dtype=np.int64)
        first = row
    else:
        folders = int(folder_of.max(initial=0)) + 1
        key = (level.astype(np.int64) * folders + folder_of) * len(log.persons) + person
        _, first, row = np.unique(key, return_index=True, return_inverse=True)
        row = row.reshape(-1).astype(np.int64)
    histories, removed = snapshot_histories(log.history, snapshot[first], row, log.candidates, o.max_history)
    rows = attrs.evolve(log, row_person=person[first], history=histories, row=row, removed_targets=removed)
    return rows, first


def _user_columns(
    attributes: Mapping[str, np.ndarray], first: np.ndarray
) -> tuple[dict[str, Column], dict[str, list[str]]]:
    """Category columns of the user attributes, taken from each users row's first impression."""
    columns: dict[str, Column] = {}
    vocabs: dict[str, list[str]] = {}
    for name in USER_FIELDS:
        if name not in attributes:
            continue
        codes = attributes[name][first]
        if name == "device_type":
            codes = np.where(np.isin(codes, list(DEVICES)), codes, MISSING_CODE)
        distinct = np.unique(codes[codes != MISSING_CODE])
        if name == "device_type":
            labels = [DEVICES[int(c)] for c in distinct]
        elif name in ("is_subscriber", "is_sso_user"):
            labels = ["true" if c else "false" for c in distinct]
        else:
            labels = [str(int(c)) for c in distinct]
        ids = np.where(codes == MISSING_CODE, 0, np.searchsorted(distinct, codes) + 1).astype(np.int32)
        columns[name] = Column("category", ids, vocab=name)
        vocabs[name] = ["<unk>", *labels]
    return columns, vocabs
