"""RecBole atomic files: ``NAME.inter``, ``NAME.item``, ``NAME.user`` and the pre-split ``NAME.train.inter`` ...

One reader for the ``recbole`` processor and the RecBole layout of
``movielens``. An atomic file is UTF-8, TAB-separated, and its first line is
a header of typed fields ``name:type``, with type one of ``token`` (one
string), ``token_seq`` (space-separated strings), ``float`` and ``float_seq``
(space-separated numbers)::

    user_id:token	item_id:token	rating:float	timestamp:float
    196	242	3	881250949

When ``NAME.train.inter``, ``NAME.valid.inter`` and ``NAME.test.inter`` are
there, they are read instead of ``NAME.inter`` and keep their split row for
row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from lego_core.data.processor import RawFile
from lego_core.errors import DataError
from lego_datasets.reader import RowErrors, read_lines
from lego_datasets.splits import Ratings

ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")
ATOMIC_FORMAT = "UTF-8, TAB-separated, header of NAME:TYPE fields (TYPE: token, token_seq, float, float_seq)"
PRESPLIT = ("train", "valid", "test")
SOURCE = "RecBole atomic files (https://recbole.io/dataset_list.html)"


def _float(value: str) -> float:
    return float(value) if value.strip() else math.nan


def _float_seq(value: str) -> list[float]:
    return [float(x) for x in value.split()]


_PARSERS: dict[str, Callable[[str], Any]] = {
    "token": str,
    "token_seq": str.split,
    "float": _float,
    "float_seq": _float_seq,
}


@attrs.frozen
class AtomicFile:
    """A parsed atomic file: the typed header and each field's values by row."""

    path: Path
    types: dict[str, str]
    values: dict[str, list[Any]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.lines)


def read_atomic(path: Path, errors: RowErrors, *, required: Sequence[str] = ()) -> AtomicFile:
    """Read one atomic file; a bad header is an error, a bad row goes to ``errors``."""
    lines = read_lines(path, errors)
    header = next(lines, None)
    if header is None:
        raise DataError(f"{path}:1: the file is empty (expected {ATOMIC_FORMAT})")
    types: dict[str, str] = {}
    for field in header[1].split("\t"):
        name, _, kind = field.strip().rpartition(":")
        if not name or kind not in ATOMIC_TYPES:
            raise DataError(
                f"{path}:{header[0]}: header field {field!r} is not NAME:TYPE with TYPE one of "
                f"{', '.join(ATOMIC_TYPES)} (expected {ATOMIC_FORMAT})"
            )
        types[name] = kind
    missing = [f for f in required if f not in types]
    if missing:
        raise DataError(
            f"{path}:{header[0]}: no field {', '.join(map(repr, missing))} in the header "
            f"(fields: {', '.join(types)}); name the right field in the processor options"
        )
    names, parsers = list(types), [_PARSERS[types[name]] for name in types]
    columns: list[list[Any]] = [[] for _ in names]
    numbers: list[int] = []
    expected = "\t".join(f"{n}:{t}" for n, t in types.items())
    for number, line in lines:
        fields = line.split("\t")
        if len(fields) != len(names):
            errors.bad(path, number, f"{len(fields)} fields where the header has {len(names)}", expected)
            continue
        try:
            parsed = [parse(value) for parse, value in zip(parsers, fields, strict=True)]
        except ValueError:
            bad = next(i for i, (p, f) in enumerate(zip(parsers, fields, strict=True)) if not _parses(p, f))
            errors.bad(path, number, f"{names[bad]}:{types[names[bad]]} is {fields[bad]!r}, not a number", expected)
            continue
        for column, value in zip(columns, parsed, strict=True):
            column.append(value)
        numbers.append(number)
    return AtomicFile(path=path, types=types, values=dict(zip(names, columns, strict=True)), lines=numbers)


def _parses(parse: Callable[[str], Any], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


def atomic_stems(raw: Path) -> list[str]:
    """Dataset names of the ``*.inter`` files in ``raw`` (``ml-100k`` for ``ml-100k.train.inter``)."""
    stems = set()
    for path in raw.glob("*.inter"):
        stem = path.name[: -len(".inter")]
        for split in PRESPLIT:
            if stem.endswith(f".{split}"):
                stem = stem[: -len(split) - 1]
        stems.add(stem)
    return sorted(stems)


def is_presplit(raw: Path, name: str) -> bool:
    return any((raw / f"{name}.{split}.inter").is_file() for split in PRESPLIT)


def atomic_files(raw: Path, name: str, what: str = "") -> list[RawFile]:
    """The files of dataset ``name``: the pre-split ones when any is there, else ``NAME.inter``."""
    note = f" ({what})" if what else ""
    item = RawFile(f"{name}.item", f"item features{note}: {ATOMIC_FORMAT}", SOURCE, optional=True)
    user = RawFile(f"{name}.user", f"user features{note}: {ATOMIC_FORMAT}", SOURCE, optional=True)
    if is_presplit(raw, name):
        inter = [
            RawFile(f"{name}.{s}.inter", f"{s} interactions, kept row for row{note}: {ATOMIC_FORMAT}", SOURCE)
            for s in PRESPLIT
        ]
    else:
        inter = [RawFile(f"{name}.inter", f"interactions{note}: {ATOMIC_FORMAT}", SOURCE)]
    return [*inter, item, user]


@attrs.frozen
class AtomicDataset:
    """The atomic files of one dataset; ``inter`` pairs each file with its split (``None``: not pre-split)."""

    name: str
    inter: list[tuple[int | None, AtomicFile]]
    item: AtomicFile | None
    user: AtomicFile | None


def read_atomic_dataset(raw: Path, name: str, errors: RowErrors, *, user_field: str, item_field: str) -> AtomicDataset:
    """Read ``NAME.inter`` (or the three pre-split files) and the optional ``.item``/``.user``."""
    if is_presplit(raw, name):
        inter: list[tuple[int | None, AtomicFile]] = [
            (i, read_atomic(raw / f"{name}.{s}.inter", errors, required=(user_field, item_field)))
            for i, s in enumerate(PRESPLIT)
        ]
    else:
        inter = [(None, read_atomic(raw / f"{name}.inter", errors, required=(user_field, item_field)))]
    item_file, user_file = raw / f"{name}.item", raw / f"{name}.user"
    item = read_atomic(item_file, errors, required=(item_field,)) if item_file.is_file() else None
    user = read_atomic(user_file, errors, required=(user_field,)) if user_file.is_file() else None
    return AtomicDataset(name=name, inter=inter, item=item, user=user)


def unique_ids(file: AtomicFile, field: str, errors: RowErrors) -> tuple[list[str], list[int]]:
    """The ids of ``field`` in file order and the rows that hold them; a repeated id is a bad row."""
    index: dict[str, int] = {}
    rows = []
    for row, value in enumerate(file.values[field]):
        if value in index:
            errors.bad(
                file.path,
                file.lines[row],
                f"{field} {value!r} repeats line {file.lines[index[value]]}",
                f"one row per {field}",
            )
            continue
        index[value] = row
        rows.append(row)
    return list(index), rows


def atomic_ratings(
    ds: AtomicDataset,
    errors: RowErrors,
    *,
    items: dict[str, int],
    persons: dict[str, int],
    user_field: str,
    item_field: str,
    rating_field: str,
    time_field: str,
    threshold: float,
    add_items: bool,
) -> tuple[Ratings, dict[str, Any]]:
    """The rating log of ``ds`` under the item and person indices (grown in place).

    An item missing from ``items`` is appended when ``add_items``, else a bad
    row. Without ``rating_field`` every row is a positive; without
    ``time_field`` the file order is the time (pre-split files count on).
    """
    person_col, item_col, label_col, time_col, split_col = [], [], [], [], []
    notes: dict[str, Any] = {}
    row_clock = 0
    for split, file in ds.inter:
        users, item_ids = file.values[user_field], file.values[item_field]
        ratings = file.values.get(rating_field) if file.types.get(rating_field) == "float" else None
        times = file.values.get(time_field) if file.types.get(time_field) == "float" else None
        if ratings is None:
            notes["labels"] = (
                f"implicit: no float field {rating_field!r} in {file.path.name}, every interaction is a positive"
            )
        if times is None:
            notes["time"] = f"no float field {time_field!r} in {file.path.name}: the row order is the time"
        for row, (user, item) in enumerate(zip(users, item_ids, strict=True)):
            index = items.get(item)
            if index is None:
                if not add_items:
                    errors.bad(
                        file.path,
                        file.lines[row],
                        f"{item_field} {item!r} is not in {ds.name}.item",
                        f"an {item_field} listed in {ds.name}.item",
                    )
                    continue
                index = items[item] = len(items)
            rating = 1.0 if ratings is None else ratings[row]
            if math.isnan(rating) or (times is not None and math.isnan(times[row])):
                errors.bad(
                    file.path,
                    file.lines[row],
                    f"empty {rating_field if math.isnan(rating) else time_field}",
                    "a number",
                )
                continue
            person_col.append(persons.setdefault(user, len(persons)))
            item_col.append(index)
            label_col.append(ratings is None or rating >= threshold)
            time_col.append(times[row] if times is not None else row_clock + row)
            split_col.append(-1 if split is None else split)
        row_clock += len(file)
    times_array = np.asarray(time_col, dtype=np.float64)
    if len(times_array) and np.all(times_array == np.floor(times_array)):
        times_array = times_array.astype(np.int64)
    presplit = ds.inter[0][0] is not None
    return Ratings(
        person=np.asarray(person_col, dtype=np.int64),
        item=np.asarray(item_col, dtype=np.int64),
        time=times_array,
        label=np.asarray(label_col, dtype=np.float32),
        split=np.asarray(split_col, dtype=np.int8) if presplit else None,
    ), notes
