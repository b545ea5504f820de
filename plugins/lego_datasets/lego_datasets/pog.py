"""The ``pog`` processor: Alibaba iFashion / POG (Chen et al., KDD 2019), click histories split at their end.

``--raw`` holds the three text files of the POG release (UTF-8, no header, commas between
fields, semicolons inside lists): ``item_data.txt`` (``item_id,cate_id,pic_url,title``),
``user_data.txt`` (``user_id,item_id;item_id;...,outfit_id``) and, optionally,
``outfit_data.txt`` (``outfit_id,item_id;item_id;...``). Plain or compressed
(``.gz``/``.bz2``/``.xz``/one-member ``.zip``).

Items: one row per line of ``item_data.txt``, in file order. ``title`` (word ids under ``words``,
the string in ``title_text``; the titles are Chinese, space-segmented, so ``title_tokens =
"words"`` splits at spaces and ``"characters"`` makes each Chinese character a token),
``category`` (``cate_id``) and, with ``outfit_data.txt``, ``outfits``: the outfits an item is part
of (``tokens``, vocabulary ``outfits``; the first ``max_outfits`` in file order). A title may
hold commas: a line is split at its first three. ``pic_url`` is not read (image columns are
another part of lego's job).

Interactions: each user's clicked items, all positives. The file has no timestamps: the item
list is taken to be in click order, oldest first (the order the POG paper and the
Legommenders/RecBench processors use), and ``time`` holds the position in that list (0, 1, 2,
...), which orders one user's clicks and nothing more. A user on several lines gets the lists
joined in file order. ``dedupe`` keeps the first click of each item in a list. Split
(``split_by``): ``last_items`` (default) puts the last ``test_items`` of each history in test and
the ``valid_items`` before them in valid (leave-one-out); ``user`` takes fractions
(:mod:`lego_datasets.splits`, as are the history rows and the evaluation negatives,
``eval_negatives`` = 100 by default). Only ``eval_users`` users (default 100,000, drawn with
``seed``) are evaluated; the others keep all their clicks in train, since valid and test rows for
all 3.57M users at 100 negatives each would be 714M rows.

The outfit each user clicked (the last field) is not used: it is a different kind of target (an
outfit, not an item) and its items would leak test clicks into any user feature built from it;
``info.users_with_outfit`` counts the rows that have one.

Bad data. A malformed line is ``file:line: ...`` (or skipped and counted with
``skip_bad_rows``). An item id of a history or an outfit that is not in ``item_data.txt`` is an
error as well; with ``skip_bad_rows`` it is dropped (the line is kept) and counted in
``info.unknown_items``.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "pog"
    >>> content = POGProcessor().build(raw)
    >>> content.info["items"], content.info["persons"], content.info["clicks"], content.info["outfits"]
    (10, 5, 23, 4)
"""

from __future__ import annotations

import re
from array import array
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.data.ragged import Ragged
from lego_core.data.vocab import PAD, UNK, tokenize
from lego_core.errors import DataError
from lego_datasets.builders import IdIndex
from lego_datasets.columns import id_column
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_lines
from lego_datasets.splits import (
    RatingOptions,
    Ratings,
    assign_splits,
    member,
    one_of,
    person_time_order,
    rating_depot,
    sorted_unique,
    unit_fraction,
)

SOURCE = "https://github.com/wenyuer/POG (the Google Drive folder linked from its README)"
ITEM_FORMAT = "item_id,cate_id,pic_url,title (the title may hold commas); UTF-8; no header"
USER_FORMAT = "user_id,item_id;item_id;...,outfit_id (clicked items in click order, then one outfit); no header"
OUTFIT_FORMAT = "outfit_id,item_id;item_id;...; no header"
FILES = (
    RawFile("item_data.txt", ITEM_FORMAT, SOURCE),
    RawFile("user_data.txt", USER_FORMAT, SOURCE),
    RawFile("outfit_data.txt", OUTFIT_FORMAT, SOURCE, optional=True),
)
SPLIT_BY = ("last_items", "user")
TITLE_TOKENS = ("words", "characters")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_OR_OTHER = re.compile(f"[{_HAN}]|[^{_HAN}]+")


@attrs.define(kw_only=True, frozen=True)
class POGOptions:
    split_by: str = attrs.field(
        default="last_items",
        validator=one_of(SPLIT_BY),
        metadata={
            "doc": '"last_items": the last test_items clicks of each user are test, the valid_items '
            'before them valid; "user": the last valid_fraction/test_fraction of each history.'
        },
    )
    test_items: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "last_items: clicks at the end of each history in test."},
    )
    valid_items: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "last_items: clicks before the test ones in valid; 0: none."},
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "user: share of each history in valid."},
    )
    test_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "user: share of each history in test."},
    )
    dedupe: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Keep only the first click of an item in a user's history."},
    )
    max_history: int = attrs.field(
        default=50,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent clicks kept in a history row; 0 keeps all."},
    )
    context_size: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Train clicks per history row; 1 gives every click its own history."},
    )
    eval_negatives: int = attrs.field(
        default=100,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Items the user never clicked, sampled once per user for valid and for test (label 0)."},
    )
    eval_users: int = attrs.field(
        default=100_000,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Users evaluated (drawn with seed among those with 2+ clicks); the others keep all "
            "their clicks in train. 0 evaluates every user (3.57M x 2 x eval_negatives rows)."
        },
    )
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": "Seed of the evaluation negatives; same seed, same depot."},
    )
    outfits: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Add the items' outfits (from outfit_data.txt, when present) as the tokens column outfits."},
    )
    max_outfits: int = attrs.field(
        default=20,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Outfits kept per item, the first in file order; 0 keeps all."},
    )
    title_tokens: str = attrs.field(
        default="words",
        validator=one_of(TITLE_TOKENS),
        metadata={
            "doc": '"words": title tokens split at spaces and punctuation (POG titles are segmented); '
            '"characters": each Chinese character is a token.'
        },
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows and drop unknown item ids, counting them, instead of failing."},
    )

    def __attrs_post_init__(self) -> None:
        if self.valid_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"valid_fraction + test_fraction must be below 1, got {self.valid_fraction} + {self.test_fraction}"
            )

    def rating_options(self) -> RatingOptions:
        """The shared protocol's options (the split itself is given for ``last_items``)."""
        return RatingOptions(
            max_history=self.max_history,
            split_by="user",
            valid_fraction=self.valid_fraction,
            test_fraction=self.test_fraction,
            context_size=self.context_size,
            eval_negatives=self.eval_negatives,
            seed=self.seed,
        )


class POGProcessor(Processor):
    name = "pog"
    description = (
        "Alibaba iFashion (POG): item titles, categories and outfits; click histories (no timestamps) "
        "split at their end, sampled evaluation negatives."
    )
    files = FILES
    Options = POGOptions

    def expected_files(self, raw: Path) -> list[RawFile]:
        return [attrs.evolve(f, name=find_variant(Path(raw), f.name)) for f in FILES]

    def build(self, raw: Path | None) -> DepotContent:
        o: POGOptions = self.options
        if raw is None:
            raise DataError("pog reads raw files: pass the folder that holds item_data.txt and user_data.txt")
        raw = Path(raw)
        errors = RowErrors(raw, o.skip_bad_rows)
        path = {f.name: raw / find_variant(raw, f.name) for f in FILES}
        catalog = _Catalog()
        catalog.read(path["item_data.txt"], errors)
        unknown: dict[str, int] = {}
        info: dict[str, Any] = {}
        outfits: tuple[Column, list[str]] | None = None
        if o.outfits and path["outfit_data.txt"].is_file():
            column, outfit_vocab, info["outfits"] = _read_outfits(
                path["outfit_data.txt"], errors, catalog.ids, o.max_outfits, unknown
            )
            outfits = column, outfit_vocab
        else:
            info["outfits"] = "not read" if o.outfits else "left out (outfits = false)"
        clicks, info["users_with_outfit"] = _read_users(path["user_data.txt"], errors, catalog.ids, unknown)
        ratings = clicks.ratings(o.dedupe)
        info.update(clicks=len(clicks), duplicates_removed=len(clicks) - len(ratings.person), unknown_items=unknown)
        if len(ratings.person):
            split = (
                _last_items(ratings, o.valid_items, o.test_items)
                if o.split_by == "last_items"
                else assign_splits(ratings, o.rating_options())
            )
            ratings = attrs.evolve(ratings, split=_evaluated_only(ratings, split, o.eval_users, o.seed, info))
        info["split"] = (
            f"per user: last {o.test_items} test, {o.valid_items} valid before, rest train"
            if o.split_by == "last_items"
            else f"per user: last {o.test_fraction} test, {o.valid_fraction} valid before, rest train"
        )
        info["time"] = "position in the user's click list (no timestamps in POG)"

        item_ids, item_vocab = id_column(catalog.ids.ids, "item_id")
        title, words = _title_column(catalog.titles, catalog.title_offsets, o.title_tokens)
        items: dict[str, Column] = {
            "item_id": item_ids,
            "title": title,
            "title_text": Column(
                "text",
                Ragged(
                    values=np.frombuffer(catalog.titles, dtype=np.uint8).copy(),
                    offsets=np.array(catalog.title_offsets, dtype=np.int64),
                ),
            ),
            "category": Column("category", np.array(catalog.categories, dtype=np.int32), vocab="category"),
        }
        vocabs = {"item_id": item_vocab, "words": words, "category": catalog.category_words}
        if outfits is not None:
            items["outfits"], vocabs["outfits"] = outfits
        info["skipped_rows"] = errors.counts
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=clicks.persons.ids,
            person_columns={},
            ratings=ratings,
            options=o.rating_options(),
            info=info,
        )


class _Catalog:
    """``item_data.txt`` in file order, compactly: ids, titles as UTF-8 bytes, category codes."""

    def __init__(self) -> None:
        self.ids = IdIndex()
        self.titles = bytearray()
        self.title_offsets = array("q", [0])
        self.categories = array("i")
        self.category_words = [UNK]
        self._category_index: dict[str, int] = {}

    def read(self, path: Path, errors: RowErrors) -> None:
        for number, line in read_lines(path, errors):
            fields = line.split(",", 3)
            if len(fields) != 4:
                errors.bad(path, number, f"{len(fields)} fields where 4 were expected", ITEM_FORMAT)
                continue
            item, category, _, title = (f.strip() for f in fields)
            if not item or item in self.ids:
                errors.bad(path, number, f"item {item!r} is empty or listed twice", "one line per item")
                continue
            self.ids.add(item)
            code = self._category_index.get(category, 0) if category else 0
            if category and not code:
                code = self._category_index[category] = len(self.category_words)
                self.category_words.append(category)
            self.categories.append(code)
            self.titles += title.encode("utf-8")
            self.title_offsets.append(len(self.titles))


def _item_list(
    field: str, items: IdIndex, path: Path, number: int, errors: RowErrors, unknown: dict[str, int], expected: str
) -> list[int] | None:
    """The item indices of a ``;``-separated list; ``None`` when an unknown id makes the row bad."""
    names = [x.strip() for x in field.split(";") if x.strip()]
    found = [items.index.get(x) for x in names]
    if None in found:
        missing = [x for x, k in zip(names, found, strict=True) if k is None]
        if not errors.skip:
            errors.bad(path, number, f"item {missing[0]!r} is not in item_data.txt", expected)
            return None
        name = errors.name(path)
        unknown[name] = unknown.get(name, 0) + len(missing)
        return [k for k in found if k is not None]
    return found  # type: ignore[return-value]


class _Clicks:
    """The click lists of ``user_data.txt`` as typed arrays: person, item, position in the person's list."""

    def __init__(self) -> None:
        self.persons = IdIndex()
        self.person, self.item, self.position = array("i"), array("i"), array("q")
        self.next_position = array("q")  # per person: where their next line's clicks start

    def __len__(self) -> int:
        return len(self.person)

    def add(self, user: str, items: list[int]) -> None:
        person = self.persons.add(user)
        if person == len(self.next_position):
            self.next_position.append(0)
        at = self.next_position[person]
        self.person.extend([person] * len(items))
        self.item.extend(items)
        self.position.extend(range(at, at + len(items)))
        self.next_position[person] = at + len(items)

    def ratings(self, dedupe: bool) -> Ratings:
        """All clicks as positives; with ``dedupe`` only the first click of an item in a person's list."""
        n = len(self.person)
        person = np.frombuffer(self.person, dtype=np.int32) if n else np.zeros(0, np.int32)
        item = np.frombuffer(self.item, dtype=np.int32) if n else np.zeros(0, np.int32)
        time = np.frombuffer(self.position, dtype=np.int64) if n else np.zeros(0, np.int64)
        keep = np.arange(n)
        if dedupe and n:
            order = np.lexsort((time, item, person))  # positions are distinct per person
            first = np.ones(n, dtype=bool)
            first[1:] = (person[order][1:] != person[order][:-1]) | (item[order][1:] != item[order][:-1])
            keep = np.sort(order[first])
        return Ratings(
            person=person[keep].astype(np.int64),
            item=item[keep].astype(np.int64),
            time=time[keep],
            label=np.ones(len(keep), dtype=np.float32),
        )


def _read_users(path: Path, errors: RowErrors, items: IdIndex, unknown: dict[str, int]) -> tuple[_Clicks, int]:
    """Each user's clicks, timed by their position in the user's list; also how many rows name an outfit."""
    clicks = _Clicks()
    with_outfit = 0
    for number, line in read_lines(path, errors):
        fields = line.split(",")
        if len(fields) != 3:
            errors.bad(path, number, f"{len(fields)} fields where 3 were expected", USER_FORMAT)
            continue
        user, clicked, outfit = (f.strip() for f in fields)
        if not user or not clicked:
            errors.bad(path, number, "empty user id or click list", USER_FORMAT)
            continue
        found = _item_list(clicked, items, path, number, errors, unknown, USER_FORMAT)
        if found is None:
            continue
        clicks.add(user, found)
        with_outfit += bool(outfit)
    return clicks, with_outfit


def _read_outfits(
    path: Path, errors: RowErrors, items: IdIndex, max_outfits: int, unknown: dict[str, int]
) -> tuple[Column, list[str], int]:
    """The ``outfits`` tokens column (the outfits each item is in) and its vocabulary, by frequency."""
    outfits = IdIndex()
    member_item, member_outfit = array("i"), array("i")
    for number, line in read_lines(path, errors):
        fields = line.split(",")
        if len(fields) != 2 or not fields[0].strip():
            errors.bad(path, number, f"{len(fields)} fields or an empty outfit id where 2 were expected", OUTFIT_FORMAT)
            continue
        outfit = fields[0].strip()
        if outfit in outfits:
            errors.bad(path, number, f"outfit {outfit!r} is listed twice", "one line per outfit")
            continue
        found = _item_list(fields[1], items, path, number, errors, unknown, OUTFIT_FORMAT)
        if found is None:
            continue
        index = outfits.add(outfit)
        member_item.extend(dict.fromkeys(found))
        member_outfit.extend([index] * len(set(found)))
    member = np.frombuffer(member_item, dtype=np.int32) if len(member_item) else np.zeros(0, np.int32)
    outfit_of = np.frombuffer(member_outfit, dtype=np.int32) if len(member_outfit) else np.zeros(0, np.int32)
    order = np.argsort(member, kind="stable")  # by item, then file order
    member, outfit_of = member[order], outfit_of[order]
    counts = np.bincount(member, minlength=len(items))
    if max_outfits:
        rank = np.arange(len(member)) - (np.cumsum(counts) - counts)[member]
        keep = rank < max_outfits
        member, outfit_of = member[keep], outfit_of[keep]
        counts = np.bincount(member, minlength=len(items))
    frequency = np.bincount(outfit_of, minlength=len(outfits)).tolist()
    used = sorted((o for o in range(len(outfits)) if frequency[o]), key=lambda o: (-frequency[o], outfits.ids[o]))
    token = np.zeros(len(outfits), dtype=np.int32)
    token[used] = np.arange(2, len(used) + 2, dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    column = Column("tokens", Ragged(values=token[outfit_of], offsets=offsets), vocab="outfits")
    return column, [PAD, UNK, *(outfits.ids[o] for o in used)], len(outfits)


def title_tokens(text: str, mode: str) -> list[str]:
    """Lower-cased title tokens: words (as the shared tokenizer), or with each Chinese character apart.

    Example:
        >>> title_tokens("夏季 新款 T恤", "words"), title_tokens("夏季新款 T恤", "characters")
        (['夏季', '新款', 't恤'], ['夏', '季', '新', '款', 't', '恤'])
    """
    words = tokenize(text)
    if mode == "words":
        return words
    return [part for word in words for part in _HAN_OR_OTHER.findall(word)]


def _title_column(titles: bytearray, offsets: array, mode: str) -> tuple[Column, list[str]]:
    """The ``title`` tokens column and the ``words`` vocabulary (most frequent first), in one pass.

    The same ids as :func:`lego_datasets.columns.text_columns`, without a Python list per title
    (POG has 4.5M items): words get provisional ids in first-seen order, then are renumbered by
    frequency.
    """
    provisional: dict[str, int] = {}
    ids, lengths = array("i"), array("q")
    for start, end in zip(offsets, offsets[1:], strict=False):
        words = title_tokens(titles[start:end].decode("utf-8"), mode)
        ids.extend(provisional.setdefault(w, len(provisional)) for w in words)
        lengths.append(len(words))
    values = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, np.int32)
    counts = np.bincount(values, minlength=len(provisional)).tolist()
    words = list(provisional)
    ranked = sorted(range(len(words)), key=lambda k: (-counts[k], words[k]))
    renumber = np.zeros(len(words), dtype=np.int32)
    renumber[ranked] = np.arange(2, len(words) + 2, dtype=np.int32)
    row_offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    if len(lengths):
        np.cumsum(np.frombuffer(lengths, dtype=np.int64), out=row_offsets[1:])
    column = Column("tokens", Ragged(values=renumber[values], offsets=row_offsets), vocab="words")
    return column, [PAD, UNK, *(words[k] for k in ranked)]


def _evaluated_only(r: Ratings, split: np.ndarray, eval_users: int, seed: int, info: dict[str, Any]) -> np.ndarray:
    """``split`` with the valid/test clicks of all but ``eval_users`` users (drawn with ``seed``) moved to train."""
    candidates = sorted_unique(r.person[split > 0])
    if eval_users and len(candidates) > eval_users:
        chosen = np.sort(np.random.default_rng((seed, 1)).choice(candidates, size=eval_users, replace=False))
        split = np.where(member(r.person, chosen), split, 0).astype(np.int8)
    info["evaluated_users"] = int(min(len(candidates), eval_users or len(candidates)))
    return split


def _last_items(r: Ratings, valid_items: int, test_items: int) -> np.ndarray:
    """0/1/2 per click: each user's last ``test_items`` are test, the ``valid_items`` before valid.

    Train keeps at least one click: a user with one click is train only, with two train + test.
    """
    n = len(r.person)
    order = person_time_order(r)
    counts = np.bincount(r.person)
    n_test = np.minimum(test_items, np.maximum(counts - 1, 0))
    n_valid = np.minimum(valid_items, np.maximum(counts - 1 - n_test, 0))
    person = r.person[order]
    from_end = np.cumsum(counts)[person] - np.arange(n)  # 1 for a user's last click
    split = np.zeros(n, dtype=np.int8)
    split[order] = np.where(from_end <= n_test[person], 2, np.where(from_end <= (n_test + n_valid)[person], 1, 0))
    return split
