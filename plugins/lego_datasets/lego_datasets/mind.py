"""The ``mind`` processor: MIND (Microsoft News Dataset), small, large or demo.

``--raw`` holds the unzipped archives, one folder each: ``MINDsmall_train``,
``MINDsmall_dev`` (and ``MINDsmall_test``), the same with ``MINDlarge_`` or
``MINDdemo_``, or plain ``train``, ``dev``, ``test``. Each folder has
``news.tsv`` and ``behaviors.tsv`` (``entity_embedding.vec`` and
``relation_embedding.vec`` are not read).

Items are the union of every folder's ``news.tsv`` (a news id in several
folders is one item; its first row wins): ``title`` and ``abstract`` (word ids
under ``words``, strings in ``title_text``/``abstract_text``), ``category``,
``subcategory`` and ``title_entities``/``abstract_entities`` (the WikidataIds
of the entity JSON, vocabulary ``entities``).

Users: one row per impression, because MIND's history belongs to the
impression (``user_id`` keeps the person). The history is the impression's
own column 4, oldest first, with the impression's candidates removed (a
history never holds a target; ``info["history_items_removed"]`` counts them)
and cut to the last ``max_history`` items when that is positive.

Interactions: every candidate of every impression, clicked = 1, not
clicked = 0; ``group`` is one id per impression (its users row), ``time`` the
impression time in Unix seconds (read as UTC).

Splits. With a labelled test folder (candidates carry ``-0``/``-1``), train =
train, valid = dev, test = test. Otherwise (the official MINDlarge test has no
labels, and MINDsmall has no test) test = dev, and valid = the last
``valid_fraction`` of the train impressions by time (ties in file order);
an unlabelled test folder contributes its news only.

The impression machinery (users rows, valid hold-out, depot tables) lives in
:mod:`lego_datasets.impressions`, shared with ``xmind``, ``pens`` and ``ebnerd``.

Bad data. A malformed row raises ``file:line: ...`` or, with
``skip_bad_rows``, is skipped and counted in ``info["skipped_rows"]``; a
malformed candidate (``N1-x``, an unknown news id) skips its whole impression.
A history id that is in no ``news.tsv`` is an error too; with
``skip_bad_rows`` it is dropped from that history (the impression is kept)
and counted in ``info["unknown_history_items"]``.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "mind-small"
    >>> content = MINDProcessor().build(raw)
    >>> content.info["splits"], content.info["impressions"]
    ('test = dev; valid = last 0.1 of train by time', {'train': 5, 'valid': 1, 'test': 3})
"""

from __future__ import annotations

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
from lego_core.errors import DataError
from lego_datasets.columns import category_column, id_column, text_columns
from lego_datasets.impressions import ImpressionLog, hold_out_latest, impression_depot, parse_time, raw_folder
from lego_datasets.reader import RowErrors, read_lines, read_rows
from lego_datasets.splits import one_of, unit_fraction

__all__ = ["MINDOptions", "MINDProcessor", "News", "news_columns", "parse_time", "read_behaviors"]

VARIANTS = {"small": "MINDsmall_", "large": "MINDlarge_", "demo": "MINDdemo_", "plain": ""}
NEWS_FORMAT = (
    "UTF-8, TAB-separated, 8 columns: news_id, category, subcategory, title, abstract, url, "
    "title_entities (JSON list), abstract_entities (JSON list); no header"
)
BEHAVIORS_FORMAT = (
    "UTF-8, TAB-separated, 5 columns: impression_id, user_id, time (M/D/YYYY h:mm:ss AM/PM), "
    "history (space-separated news ids), impressions (space-separated NEWSID-1 / NEWSID-0)"
)
SOURCE = "https://msnews.github.io/ (unzip each MIND*_{train,dev,test}.zip into a folder of its name)"
LABELS = frozenset(("0", "1"))
_FLAGS = bytes.maketrans(b"01", b"\x00\x01")


@attrs.define(kw_only=True, frozen=True)
class MINDOptions:
    variant: str = attrs.field(
        default="auto",
        validator=one_of(("auto", *VARIANTS)),
        metadata={"doc": "Folder names: small (MINDsmall_*), large, demo, plain (train/dev/test), or auto to detect."},
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={
            "doc": "Without a labelled test folder: the last share of train impressions (by time) "
            "held out as valid; 0 writes no valid split."
        },
    )
    max_history: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent history items kept per impression; 0 keeps all."},
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows (and drop unknown history ids), counting them, instead of failing."},
    )


def _files(prefix: str, optional_test: bool = True) -> list[RawFile]:
    return [
        RawFile(f"{prefix}{split}/{name}", fmt, SOURCE, optional=split == "test" and optional_test)
        for split in ("train", "dev", "test")
        for name, fmt in (("news.tsv", NEWS_FORMAT), ("behaviors.tsv", BEHAVIORS_FORMAT))
    ]


class MINDProcessor(Processor):
    name = "mind"
    description = (
        "MIND news recommendation (small, large, demo): titles, abstracts, categories, entities; "
        "one history row per impression; impressions as groups."
    )
    files = tuple(_files("MINDsmall_"))
    Options = MINDOptions

    def prefix(self, raw: Path) -> str | None:
        """The folder prefix in ``raw`` (``"MINDsmall_"``, ``""`` for plain), ``None`` when none is there."""
        o: MINDOptions = self.options
        wanted = VARIANTS if o.variant == "auto" else {o.variant: VARIANTS[o.variant]}
        found = [p for p in wanted.values() if (Path(raw) / f"{p}train").is_dir()]
        if len(found) > 1:
            raise DataError(
                f"{raw} holds several MIND variants ({', '.join(f + 'train' for f in found)}); "
                f"choose one with the option variant=small|large|demo|plain"
            )
        return found[0] if found else None

    def expected_files(self, raw: Path) -> list[RawFile]:
        prefix = self.prefix(raw)
        return list(self.files) if prefix is None else _files(prefix)

    def build(self, raw: Path | None) -> DepotContent:
        o: MINDOptions = self.options
        raw = raw_folder(raw, self.name)
        prefix = self.prefix(raw)
        if prefix is None:
            raise DataError(
                f"{raw}: no MIND folders (expected MINDsmall_train/, MINDlarge_train/, "
                f"MINDdemo_train/ or train/, each with news.tsv and behaviors.tsv)"
            )
        errors = RowErrors(raw, o.skip_bad_rows)
        folders = {s: raw / f"{prefix}{s}" for s in ("train", "dev", "test")}
        has_test = (folders["test"] / "news.tsv").is_file() or (folders["test"] / "behaviors.tsv").is_file()
        labelled_test = (folders["test"] / "behaviors.tsv").is_file() and _labelled(folders["test"] / "behaviors.tsv")
        news = News()
        for split in ("train", "dev", "test"):
            if split != "test" or (folders["test"] / "news.tsv").is_file():
                news.read(folders[split] / "news.tsv", errors)
        log = ImpressionLog(o.max_history)
        parts = {
            split: read_behaviors(folders[split] / "behaviors.tsv", news.index, log, errors)
            for split in ("train", "dev")
        }
        if labelled_test:
            parts["test"] = read_behaviors(folders["test"] / "behaviors.tsv", news.index, log, errors)
            splits = {"train": parts["train"], "valid": parts["dev"], "test": parts["test"]}
            protocol = "train = train, valid = dev, test = test"
        else:
            train, valid = hold_out_latest(parts["train"], log.times(), o.valid_fraction)
            splits = {"train": train, "valid": valid, "test": parts["dev"]}
            protocol = f"test = dev; valid = last {o.valid_fraction} of train by time"
        info: dict[str, Any] = {
            "variant": prefix.rstrip("_") or "plain",
            "splits": protocol,
            "test_folder": "labelled" if labelled_test else ("unlabelled, news only" if has_test else "absent"),
        }
        items, vocabs = self.item_columns(raw, prefix, news, errors, info)
        return impression_depot(
            items=items, vocabs=vocabs, log=log.freeze(), splits=splits, info=info, skipped=errors.counts
        )

    def item_columns(
        self, raw: Path, prefix: str, news: News, errors: RowErrors, info: dict[str, Any]
    ) -> tuple[dict[str, Column], dict[str, list[str]]]:
        """The items table and its vocabularies (a subclass may replace the text; it may add to ``info``)."""
        return news_columns(news)


def news_columns(
    news: News,
    text: tuple[dict[str, Column], list[str]] | None = None,
) -> tuple[dict[str, Column], dict[str, list[str]]]:
    """MIND's item columns; ``text`` replaces the title/abstract columns and the ``words`` vocabulary."""
    item_ids, item_vocab = id_column(news.ids, "item_id")
    if text is None:
        text = text_columns({"title": news.titles, "abstract": news.abstracts})
    columns, words = text
    category, category_vocab = category_column(news.categories, "category")
    subcategory, subcategory_vocab = category_column(news.subcategories, "subcategory")
    entities = build_text_vocab(news.title_entities + news.abstract_entities)
    items = {
        "item_id": item_ids,
        **columns,
        "category": category,
        "subcategory": subcategory,
        "title_entities": Column("tokens", encode_texts(news.title_entities, entities), vocab="entities"),
        "abstract_entities": Column("tokens", encode_texts(news.abstract_entities, entities), vocab="entities"),
    }
    vocabs = {
        "item_id": item_vocab,
        "words": words,
        "category": category_vocab,
        "subcategory": subcategory_vocab,
        "entities": entities,
    }
    return items, vocabs


def _labelled(path: Path) -> bool:
    """Whether the first impression of a behaviors file carries ``-0``/``-1`` labels."""
    for _, line in read_lines(path, RowErrors(path.parent, skip=True)):
        fields = line.split("\t")
        first = fields[4].split()[0] if len(fields) == 5 and fields[4].split() else ""
        return first.rpartition("-")[2] in ("0", "1") and "-" in first
    return False


def _candidate_problem(shown: str, index: Mapping[str, int]) -> str:
    """What is wrong with an impressions column (the slow path, for the message)."""
    for token in shown.split():
        news, dash, label = token.rpartition("-")
        if not dash or label not in LABELS:
            return f"impression {token!r} is not NEWSID-1 or NEWSID-0"
        if news not in index:
            return f"candidate news {news!r} is in no news.tsv"
    return "no impressions" if not shown.split() else f"impressions {shown[:60]!r} are malformed"


def _entity_ids(field: str) -> list[str]:
    """The WikidataIds of an entity JSON list (empty field: none); raises ``ValueError``."""
    if not field.strip():
        return []
    entities = json.loads(field)
    if not isinstance(entities, list):
        raise ValueError("not a JSON list")
    return list(dict.fromkeys(str(e["WikidataId"]) for e in entities if isinstance(e, dict) and "WikidataId" in e))


@attrs.define
class News:
    """The union of the news files, first row of an id wins."""

    index: dict[str, int] = attrs.field(factory=dict)
    ids: list[str] = attrs.field(factory=list)
    titles: list[str] = attrs.field(factory=list)
    abstracts: list[str] = attrs.field(factory=list)
    categories: list[str] = attrs.field(factory=list)
    subcategories: list[str] = attrs.field(factory=list)
    title_entities: list[list[str]] = attrs.field(factory=list)
    abstract_entities: list[list[str]] = attrs.field(factory=list)

    def read(self, path: Path, errors: RowErrors) -> None:
        for number, f in read_rows(path, errors, sep="\t", columns=8, expected=NEWS_FORMAT):
            news = f[0].strip()
            if not news:
                errors.bad(path, number, "empty news id", NEWS_FORMAT)
                continue
            if news in self.index:
                continue
            try:
                title_entities, abstract_entities = _entity_ids(f[6]), _entity_ids(f[7])
            except (ValueError, TypeError) as err:
                errors.bad(path, number, f"the entity columns are not JSON lists of entities ({err})", NEWS_FORMAT)
                continue
            self.index[news] = len(self.ids)
            self.ids.append(news)
            self.categories.append(f[1])
            self.subcategories.append(f[2])
            self.titles.append(f[3])
            self.abstracts.append(f[4])
            self.title_entities.append(title_entities)
            self.abstract_entities.append(abstract_entities)


def read_behaviors(path: Path, index: Mapping[str, int], log: ImpressionLog, errors: RowErrors) -> np.ndarray:
    """Append the impressions of a MIND ``behaviors.tsv`` to ``log``; return their indices.

    A malformed row, or a candidate in no ``news.tsv``, is a bad row; a history
    id in no ``news.tsv`` is one too, unless bad rows are skipped: then it is
    dropped from the history and counted in ``log.unknown_history``.
    """
    first = len(log)
    bad = errors.bad
    for number, (impression, user, when, history, shown) in read_rows(
        path, errors, sep="\t", columns=5, expected=BEHAVIORS_FORMAT
    ):
        if not impression.strip().isdigit() or not user.strip():
            bad(path, number, f"impression id {impression!r} or user id {user!r} is malformed", BEHAVIORS_FORMAT)
            continue
        try:
            seconds = parse_time(when)
        except ValueError:
            bad(path, number, f"time {when!r} is not M/D/YYYY h:mm:ss AM/PM", BEHAVIORS_FORMAT)
            continue
        parts = shown.replace("-", " ").split()  # "N1-0 N2-1" -> N1 0 N2 1
        news_ids, flags = parts[0::2], parts[1::2]
        items = list(map(index.get, news_ids))
        if (
            not items
            or len(items) != len(flags)
            or len(items) != shown.count("-")
            or None in items
            or not LABELS.issuperset(flags)
        ):
            bad(path, number, _candidate_problem(shown, index), BEHAVIORS_FORMAT)
            continue
        known = list(map(index.get, history.split()))
        if None in known:
            missing = [n for n, k in zip(history.split(), known, strict=True) if k is None]
            if not errors.skip:
                bad(path, number, f"history news {missing[0]!r} is in no news.tsv", BEHAVIORS_FORMAT)
            log.unknown_history += len(missing)
            known = [k for k in known if k is not None]
        labels = "".join(flags).encode("ascii").translate(_FLAGS)
        log.add(user.strip(), seconds, known, items, labels)  # type: ignore[arg-type]  # no None left
    return np.arange(first, len(log), dtype=np.int64)
