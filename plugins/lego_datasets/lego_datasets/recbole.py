"""The ``recbole`` processor: any dataset in RecBole's atomic files, split by time.

``--raw`` holds ``NAME.inter`` (or the pre-split ``NAME.train.inter``,
``NAME.valid.inter``, ``NAME.test.inter``, kept row for row) and optionally
``NAME.item`` and ``NAME.user``. Each header field is typed, and its type
decides the column:

==============  =====================================================================
``token``       ``category`` column with its own vocabulary (named after the field)
``token_seq``   ``tokens`` column with its own vocabulary (each token one value)
``float``       ``float`` column (float32; an empty value is NaN)
``float_seq``   ``float`` column of shape (rows, n) when every row has n values; else left out
==============  =====================================================================

Fields named in ``text_fields`` (``token`` or ``token_seq``) are text instead:
words under the shared ``words`` vocabulary plus the raw string in
``<field>_text``. Items that appear only in the interactions get empty
features. Interactions follow :mod:`lego_datasets.splits`; without a
``rating_field`` in the header every interaction is a positive (then set
``eval_negatives`` to evaluate against sampled items), and without a
``time_field`` the row order is the time.

MovieLens in RecBole's format is better read by ``movielens`` (``layout =
"recbole"``), which names its columns like the other MovieLens layouts; both
read through :mod:`lego_datasets.atomic`.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "recbole-books"
    >>> content = RecBoleProcessor().build(raw)
    >>> sorted(content.tables["items"])
    ['brand', 'categories', 'item_id', 'price', 'title', 'title_text']
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.atomic import (
    ATOMIC_FORMAT,
    SOURCE,
    AtomicFile,
    atomic_files,
    atomic_ratings,
    atomic_stems,
    read_atomic_dataset,
    unique_ids,
)
from lego_datasets.columns import category_column, id_column, text_columns, token_list_column
from lego_datasets.reader import RowErrors
from lego_datasets.splits import RatingOptions, rating_depot

TEXT_FIELDS = ("title", "movie_title", "item_name", "name", "description", "abstract", "text", "review", "summary")
RESERVED = ("item_id", "user_id", "history", "words")


@attrs.define(kw_only=True, frozen=True)
class RecBoleOptions(RatingOptions):
    dataset: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={"doc": "NAME of NAME.inter; empty finds the only one in --raw."},
    )
    user_field: str = attrs.field(default="user_id", metadata={"doc": "Header field of the user id."})
    item_field: str = attrs.field(default="item_id", metadata={"doc": "Header field of the item id."})
    rating_field: str = attrs.field(
        default="rating", metadata={"doc": "Float field compared with positive_threshold; absent: all positive."}
    )
    time_field: str = attrs.field(
        default="timestamp", metadata={"doc": "Float field of the time; absent: the row order."}
    )
    text_fields: tuple[str, ...] = attrs.field(
        default=TEXT_FIELDS,
        converter=tuple,
        metadata={"doc": "Item/user fields read as text (shared word vocabulary + raw string) when present."},
    )


class RecBoleProcessor(Processor):
    name = "recbole"
    description = (
        "Any dataset in RecBole atomic files (NAME.inter, .item, .user, or pre-split): typed fields "
        "become columns; time-ordered splits with leakage-free histories."
    )
    files = (
        RawFile("NAME.inter", f"interactions: {ATOMIC_FORMAT}", SOURCE),
        RawFile("NAME.item", f"item features: {ATOMIC_FORMAT}", SOURCE, optional=True),
        RawFile("NAME.user", f"user features: {ATOMIC_FORMAT}", SOURCE, optional=True),
    )
    Options = RecBoleOptions

    def dataset(self, raw: Path) -> str | None:
        o: RecBoleOptions = self.options
        if o.dataset:
            return o.dataset
        stems = atomic_stems(Path(raw))
        if len(stems) > 1:
            raise DataError(
                f"{raw} holds RecBole files of several datasets ({', '.join(stems)}); "
                f"choose one with the option dataset=NAME"
            )
        return stems[0] if stems else None

    def expected_files(self, raw: Path) -> list[RawFile]:
        name = self.dataset(raw)
        return list(self.files) if name is None else atomic_files(Path(raw), name)

    def build(self, raw: Path) -> DepotContent:
        o: RecBoleOptions = self.options
        raw = Path(raw)
        name = self.dataset(raw)
        if name is None:
            raise DataError(f"{raw}: no NAME.inter file (expected RecBole atomic files: {ATOMIC_FORMAT})")
        errors = RowErrors(raw, o.skip_bad_rows)
        ds = read_atomic_dataset(raw, name, errors, user_field=o.user_field, item_field=o.item_field)
        item_ids, item_rows = unique_ids(ds.item, o.item_field, errors) if ds.item else ([], [])
        user_ids, user_rows = unique_ids(ds.user, o.user_field, errors) if ds.user else ([], [])
        items_index = {item: i for i, item in enumerate(item_ids)}
        persons = {user: i for i, user in enumerate(user_ids)}
        ratings, notes = atomic_ratings(
            ds,
            errors,
            items=items_index,
            persons=persons,
            user_field=o.user_field,
            item_field=o.item_field,
            rating_field=o.rating_field,
            time_field=o.time_field,
            threshold=o.positive_threshold,
            add_items=True,
        )

        vocabs: dict[str, list[str]] = {}
        skipped: list[str] = []
        item_column, vocabs["item_id"] = id_column(list(items_index), "item_id")
        items = {"item_id": item_column}
        if ds.item is not None:
            items.update(self._features(ds.item, o.item_field, item_rows, len(items_index), vocabs, skipped, ""))
        person_columns = {}
        if ds.user is not None:
            person_columns = self._features(ds.user, o.user_field, user_rows, len(persons), vocabs, skipped, "user_")
        info: dict[str, Any] = {"dataset": name, **notes, "skipped_rows": errors.counts}
        if skipped:
            info["skipped_fields"] = skipped
        return rating_depot(
            items=items,
            vocabs=vocabs,
            persons=list(persons),
            person_columns=person_columns,
            ratings=ratings,
            options=o,
            info=info,
        )

    def _features(
        self,
        file: AtomicFile,
        id_field: str,
        rows: list[int],
        total: int,
        vocabs: dict[str, list[str]],
        skipped: list[str],
        prefix: str,
    ) -> dict[str, Column]:
        """Columns of every field but the id, one row per id (rows beyond ``rows`` are empty)."""
        o: RecBoleOptions = self.options
        extra = total - len(rows)
        columns: dict[str, Column] = {}
        texts: dict[str, list[str]] = {}
        for field, kind in file.types.items():
            if field == id_field:
                continue
            name = field if field not in RESERVED else f"{prefix or 'item_'}{field}"
            values = [file.values[field][r] for r in rows]
            if kind in ("token", "token_seq") and field in o.text_fields:
                texts[name] = [" ".join(x) if isinstance(x, list) else x for x in values] + [""] * extra
            elif kind == "token":
                vocab = name if name not in vocabs else f"{prefix}{name}"
                columns[name], vocabs[vocab] = category_column(values + [None] * extra, vocab)
            elif kind == "token_seq":
                vocab = name if name not in vocabs else f"{prefix}{name}"
                columns[name], vocabs[vocab] = token_list_column(values + [[]] * extra, vocab)
            elif kind == "float":
                columns[name] = Column("float", np.asarray(values + [math.nan] * extra, dtype=np.float32))
            elif len({len(x) for x in values}) == 1 and values and not extra:
                columns[name] = Column("float", np.asarray(values, dtype=np.float32))
            else:
                skipped.append(f"{file.path.name}:{field} (float_seq of varying length)")
        if texts:
            text, words = text_columns(texts, "words" if "words" not in vocabs else f"{prefix}words")
            vocabs["words" if "words" not in vocabs else f"{prefix}words"] = words
            columns.update(text)
        return columns
