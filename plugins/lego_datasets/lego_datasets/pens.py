"""The ``pens`` processor: PENS (PErsonalized News headlineS, Microsoft, ACL 2021).

``--raw`` holds the files of the PENS page, plain or compressed (``news.tsv``
or ``news.tsv.gz`` / ``.zip`` ...): ``news.tsv``, ``train.tsv``,
``valid.tsv`` and, optionally, ``personalized_test.tsv``. All are UTF-8,
TAB-separated, with a header row (checked: a different header is an error).

Items: one per ``news.tsv`` row (a repeated news id keeps its first row):
``title`` (the Headline) and ``body`` (the News body; word ids cut to
``max_body_words``, the whole string in ``body_text``), ``category``,
``topic``, and ``title_entities`` (the entity ids of the ``Title entity``
dict, vocabulary ``entities``). ``Entity content`` is not read.

Users: one row per log row (a user's impression window), as in MIND; the
history is ``ClicknewsID`` minus the row's own candidates, cut to the last
``max_history``. Interactions: ``pos`` (label 1) then ``neg`` (label 0);
``group`` is one id per row, ``time`` the window ``start`` (read as UTC).

Splits: train = ``train.tsv``, valid = ``valid.tsv`` (``validation_split =
"valid"``, the official split); or MIND's rule (``"test"``): test =
``valid.tsv``, valid = the last ``valid_fraction`` of train by time. The
personalized test (103 annotators, their clicks and the news whose headlines
they rewrote) has no impressions or non-clicks, so it is no ranking split as
shipped; ``personalized_test = "clicks"`` makes one: each annotator's last
``test_clicks`` clicks (file order) are the positives, the earlier clicks the
history, plus ``eval_negatives`` news the annotator never clicked, sampled
once with ``seed``. The annotators are not the log's users: their
``user_id`` is ``annotator:<userid>``. Their rows take a time one second
after the last logged impression (the annotation came after the log).
``posnewID`` and the rewritten headlines are not used.

Bad data as in MIND: a malformed row (or a candidate in no ``news.tsv``) is
``file:line: ...`` or, with ``skip_bad_rows``, skipped and counted; a history
id in no ``news.tsv`` is an error, or with ``skip_bad_rows`` dropped and
counted in ``info["unknown_history_items"]``.

Example:
    >>> from pathlib import Path
    >>> content = PENSProcessor().build(Path(__file__).parents[1] / "tests" / "fixtures" / "pens")
    >>> content.info["splits"], content.info["impressions"]
    ('train = train.tsv, valid = valid.tsv', {'train': 5, 'valid': 2})
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.data.vocab import build_text_vocab, encode_texts
from lego_datasets.columns import category_column, id_column
from lego_datasets.impressions import (
    VALIDATION_SPLITS,
    ImpressionLog,
    hold_out_latest,
    impression_depot,
    parse_time,
    raw_folder,
    word_columns,
)
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_rows
from lego_datasets.splits import one_of, sample_negatives, sorted_unique, unit_fraction

SOURCE = "https://msnews.github.io/pens.html (download news.tsv, train.tsv, valid.tsv, personalized_test.tsv)"
NEWS_HEADER = ("News ID", "Category", "Topic", "Headline", "News body", "Title entity", "Entity content")
LOG_HEADER = ("UserID", "ClicknewsID", "dwelltime", "exposure_time", "pos", "neg", "start", "end", "dwelltime_pos")
TEST_HEADER = ("userid", "clicknewsID", "posnewID", "rewrite_titles")
NEWS_FORMAT = (
    "UTF-8, TAB-separated, header "
    + " | ".join(NEWS_HEADER)
    + "; Title entity a JSON dict of surface form -> entity id (trailing empty fields may be cut)"
)
LOG_FORMAT = (
    "UTF-8, TAB-separated, header "
    + " | ".join(LOG_HEADER)
    + "; id lists space-separated, start M/D/YYYY h:mm:ss AM/PM"
)
TEST_FORMAT = (
    "UTF-8, TAB-separated, header " + " | ".join(TEST_HEADER) + "; id lists comma-separated, titles separated by ;;"
)
TESTS = ("ignore", "clicks")


@attrs.define(kw_only=True, frozen=True)
class PENSOptions:
    validation_split: str = attrs.field(
        default="valid",
        validator=one_of(VALIDATION_SPLITS),
        metadata={
            "doc": '"valid": valid.tsv is the valid split (official); "test": MIND\'s rule, valid.tsv '
            "is the test split and valid the last valid_fraction of train by time."
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
        metadata={"doc": "Most recent history items kept per row; 0 keeps all."},
    )
    body: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Keep the news body as the text column body (+ body_text)."},
    )
    max_body_words: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Word ids kept per body (the first ones; body_text keeps all); 0 keeps all."},
    )
    entities: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Read the Title entity column into title_entities; false ignores it."},
    )
    personalized_test: str = attrs.field(
        default="ignore",
        validator=one_of(TESTS),
        metadata={
            "doc": '"ignore" (personalized_test.tsv is not read), or "clicks": each annotator\'s last '
            "test_clicks clicks plus eval_negatives sampled news form the test split."
        },
    )
    test_clicks: int = attrs.field(
        default=5,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={
            "doc": 'personalized_test="clicks": clicks per annotator held out as test positives (at most all but one).'
        },
    )
    eval_negatives: int = attrs.field(
        default=100,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": 'personalized_test="clicks": never-clicked news sampled once per annotator (label 0).'},
    )
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": "Seed of the sampled test negatives; same seed, same depot."},
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows (and drop unknown history ids), counting them, instead of failing."},
    )

    def __attrs_post_init__(self) -> None:
        if self.validation_split == "test" and self.personalized_test != "ignore":
            raise ValueError(
                'validation_split="test" makes valid.tsv the test split; it cannot be combined '
                'with personalized_test="clicks"'
            )


FILES = (
    ("news.tsv", NEWS_FORMAT, False),
    ("train.tsv", LOG_FORMAT, False),
    ("valid.tsv", LOG_FORMAT, False),
    ("personalized_test.tsv", TEST_FORMAT, True),
)


class PENSProcessor(Processor):
    name = "pens"
    description = (
        "PENS personalized news headlines (MSN): headlines, bodies, categories, topics, entities; "
        "one history row per impression window; official train/valid."
    )
    files = tuple(RawFile(name, fmt, SOURCE, optional=optional) for name, fmt, optional in FILES)
    Options = PENSOptions

    def expected_files(self, raw: Path) -> list[RawFile]:
        return [RawFile(find_variant(raw, name), fmt, SOURCE, optional=optional) for name, fmt, optional in FILES]

    def build(self, raw: Path | None) -> DepotContent:
        o: PENSOptions = self.options
        raw = raw_folder(raw, self.name)
        path = {name: raw / find_variant(raw, name) for name, _, _ in FILES}
        errors = RowErrors(raw, o.skip_bad_rows)
        news = _News.read(path["news.tsv"], errors, o.entities)
        log = ImpressionLog(o.max_history)
        train = _read_log(path["train.tsv"], news.index, log, errors)
        valid = _read_log(path["valid.tsv"], news.index, log, errors)
        info: dict[str, Any] = {}
        if o.validation_split == "test":
            train, held = hold_out_latest(train, log.times(), o.valid_fraction)
            splits = {"train": train, "valid": held, "test": valid}
            info["splits"] = f"test = valid.tsv; valid = last {o.valid_fraction} of train.tsv by time"
        else:
            splits = {"train": train, "valid": valid}
            info["splits"] = "train = train.tsv, valid = valid.tsv"
        if o.personalized_test == "clicks" and path["personalized_test.tsv"].is_file():
            splits["test"] = _read_test(path["personalized_test.tsv"], news.index, log, errors, o)
            info["splits"] += f"; test = personalized_test.tsv (last {o.test_clicks} clicks + sampled negatives)"
        present = path["personalized_test.tsv"].is_file()
        info["personalized_test"] = (
            ("read" if o.personalized_test == "clicks" else "present, not read") if present else "absent"
        )
        items, vocabs = news.columns(o)
        return impression_depot(
            items=items, vocabs=vocabs, log=log.freeze(), splits=splits, info=info, skipped=errors.counts
        )


def _entity_ids(field: str) -> list[str]:
    """The entity ids (values) of a ``Title entity`` dict, JSON or a Python literal; raises ``ValueError``."""
    if not field.strip():
        return []
    try:
        entities = json.loads(field)
    except ValueError:
        try:
            entities = ast.literal_eval(field)
        except (SyntaxError, MemoryError, RecursionError) as err:
            raise ValueError(f"neither JSON nor a Python literal: {type(err).__name__}") from err
    if not isinstance(entities, dict):
        raise ValueError(f"a {type(entities).__name__}, not a dict")
    ids: list[str] = []
    for value in entities.values():
        ids.extend(str(x) for x in (value if isinstance(value, list) else [value]) if x not in (None, ""))
    return list(dict.fromkeys(ids))


@attrs.define
class _News:
    """The rows of ``news.tsv``; the first row of an id wins."""

    index: dict[str, int] = attrs.field(factory=dict)
    ids: list[str] = attrs.field(factory=list)
    titles: list[str] = attrs.field(factory=list)
    bodies: list[str] = attrs.field(factory=list)
    categories: list[str] = attrs.field(factory=list)
    topics: list[str] = attrs.field(factory=list)
    entities: list[list[str]] = attrs.field(factory=list)

    @classmethod
    def read(cls, path: Path, errors: RowErrors, entities: bool) -> _News:
        news = cls()
        for number, f in read_rows(path, errors, sep="\t", columns=(5, 7), expected=NEWS_FORMAT, header=NEWS_HEADER):
            news_id = f[0].strip()
            if not news_id:
                errors.bad(path, number, "empty News ID", NEWS_FORMAT)
                continue
            if news_id in news.index:
                continue
            try:
                ids = _entity_ids(f[5]) if entities and len(f) > 5 else []
            except (ValueError, TypeError) as err:
                errors.bad(path, number, f"Title entity {f[5][:40]!r} is not a dict of entities ({err})", NEWS_FORMAT)
                continue
            news.index[news_id] = len(news.ids)
            news.ids.append(news_id)
            news.categories.append(f[1].strip())
            news.topics.append(f[2].strip())
            news.titles.append(f[3])
            news.bodies.append(f[4])
            news.entities.append(ids)
        return news

    def columns(self, o: PENSOptions) -> tuple[dict[str, Column], dict[str, list[str]]]:
        item_ids, item_vocab = id_column(self.ids, "item_id")
        texts = {"title": self.titles, **({"body": self.bodies} if o.body else {})}
        text, words = word_columns(texts, max_words={"body": o.max_body_words})
        category, category_vocab = category_column(self.categories, "category")
        topic, topic_vocab = category_column(self.topics, "topic")
        entities = build_text_vocab(self.entities)
        items = {
            "item_id": item_ids,
            **text,
            "category": category,
            "topic": topic,
            "title_entities": Column("tokens", encode_texts(self.entities, entities), vocab="entities"),
        }
        vocabs = {
            "item_id": item_vocab,
            "words": words,
            "category": category_vocab,
            "topic": topic_vocab,
            "entities": entities,
        }
        return items, vocabs


def _known(
    ids: list[str],
    index: Mapping[str, int],
    log: ImpressionLog,
    errors: RowErrors,
    path: Path,
    number: int,
    what: str,
    expected: str,
) -> list[int]:
    """Item indices of history ids; an unknown id is a bad row, or (skipping) dropped and counted."""
    known = list(map(index.get, ids))
    if None not in known:
        return known  # type: ignore[return-value]  # no None in it
    missing = [n for n, k in zip(ids, known, strict=True) if k is None]
    if not errors.skip:
        errors.bad(path, number, f"{what} {missing[0]!r} is not in news.tsv", expected)
    log.unknown_history += len(missing)
    return [k for k in known if k is not None]


def _read_log(path: Path, index: Mapping[str, int], log: ImpressionLog, errors: RowErrors) -> np.ndarray:
    """Append the rows of ``train.tsv``/``valid.tsv`` to ``log``; return their impression indices."""
    first = len(log)
    for number, f in read_rows(path, errors, sep="\t", columns=9, expected=LOG_FORMAT, header=LOG_HEADER):
        user, clicked, _, _, pos, neg, start = (x.strip() for x in f[:7])
        if not user:
            errors.bad(path, number, "empty UserID", LOG_FORMAT)
            continue
        try:
            seconds = parse_time(start)
        except ValueError:
            errors.bad(path, number, f"start {start!r} is not M/D/YYYY h:mm:ss AM/PM", LOG_FORMAT)
            continue
        shown = pos.split() + neg.split()
        items = list(map(index.get, shown))
        if not items or None in items:
            what = (
                "no candidates (pos and neg are empty)"
                if not items
                else f"candidate news {shown[items.index(None)]!r} is not in news.tsv"
            )
            errors.bad(path, number, what, LOG_FORMAT)
            continue
        history = _known(clicked.split(), index, log, errors, path, number, "history news", LOG_FORMAT)
        labels = b"\x01" * len(pos.split()) + b"\x00" * len(neg.split())
        log.add(user, seconds, history, items, labels)  # type: ignore[arg-type]  # no None left
    return np.arange(first, len(log), dtype=np.int64)


def _read_test(
    path: Path, index: Mapping[str, int], log: ImpressionLog, errors: RowErrors, o: PENSOptions
) -> np.ndarray:
    """One impression per annotator of ``personalized_test.tsv``: held-out clicks + sampled negatives."""
    rows: list[tuple[str, list[int], list[int]]] = []
    for number, f in read_rows(path, errors, sep="\t", columns=4, expected=TEST_FORMAT, header=TEST_HEADER):
        user = f[0].strip()
        clicks = _known(
            [c.strip() for c in f[1].split(",") if c.strip()],
            index,
            log,
            errors,
            path,
            number,
            "clicked news",
            TEST_FORMAT,
        )
        if not user or len(clicks) < 2:
            errors.bad(
                path,
                number,
                "empty userid"
                if not user
                else "fewer than 2 known clicked news (one history item and one test click are needed)",
                TEST_FORMAT,
            )
            continue
        held = min(o.test_clicks, len(clicks) - 1)
        rows.append((user, clicks[:-held], list(dict.fromkeys(clicks[-held:]))))
    first = len(log)
    num_items = len(index)
    when = int(log.times().max(initial=0)) + 1
    clicked = sorted_unique(
        np.array([j * num_items + k for j, (_, h, t) in enumerate(rows) for k in h + t], dtype=np.int64)
    )
    negatives = sample_negatives(
        np.random.default_rng(o.seed), np.arange(len(rows)), clicked, num_items, o.eval_negatives
    )
    for j, (user, history, targets) in enumerate(rows):
        sampled = [int(k) for k in negatives[j] if k >= 0]
        labels = b"\x01" * len(targets) + b"\x00" * len(sampled)
        log.add(f"annotator:{user}", when, history, targets + sampled, labels)
    return np.arange(first, len(log), dtype=np.int64)
