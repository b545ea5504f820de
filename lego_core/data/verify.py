"""Depots that verify themselves: meta.json's shape, every column file's size, shape, dtype, ids, checksum.

``write_depot`` records every file's size and sha256 in ``meta.json``
(``files``); :func:`check_meta` runs when a depot is opened (is ``meta.json``
well formed, are its names plain names that cannot escape the folder?), and
:func:`verify_depot` checks the files:

- fast (the default, and what every run and ``lego data info`` does): every
  listed file exists with its recorded size; each column's array header has
  the row count and dtype the schema says (ragged columns: ``offsets`` of
  rows + 1 entries from 0 to the number of values, never decreasing);
  interaction ``user``/``item`` and ``users.history`` point at existing rows;
  categorical and token ids fit their vocabulary; every split listed is there;
- full (``lego data verify --full``): also re-hashes every file.

Problems come back as one line each, ``file: what is wrong``, so a damaged
depot is a one-line error instead of a traceback deep in training.
``leftovers`` finds the hidden folders an interrupted ``prepare`` leaves next
to a depot.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from lego_core.testing import tiny_depot
    >>> from lego_core.data.depot import Depot
    >>> depot = Depot(tiny_depot(Path(tempfile.mkdtemp()) / "d", num_items=60, num_users=15))
    >>> verify_depot(depot)
    []
    >>> with open(depot.path / "items" / "category.npy", "r+b") as f:
    ...     _ = f.truncate(100)
    >>> verify_depot(depot)[0].endswith("items/category.npy: 100 bytes, meta.json says 368; re-create the depot")
    True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lego_core.data.layout import KINDS, RAGGED_KINDS
from lego_core.errors import DataError

if TYPE_CHECKING:
    from lego_core.data.depot import Depot

PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CHUNK = 1 << 20
ID_COLUMNS = {"user": "users", "item": "items"}  # interaction column -> the table its ids index


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_records(folder: Path) -> dict[str, dict[str, Any]]:
    """``relative path -> {"bytes", "sha256"}`` of every file under ``folder`` but meta.json and caches."""
    records = {}
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder).as_posix()
        if file.is_file() and relative != "meta.json" and not relative.startswith(("cache/", "embeddings/", ".")):
            records[relative] = {"bytes": file.stat().st_size, "sha256": sha256_file(file)}
    return records


def column_files(name: str, kind: str) -> list[str]:
    return [f"{name}.values.npy", f"{name}.offsets.npy"] if kind in RAGGED_KINDS else [f"{name}.npy"]


def check_meta(meta: Any, meta_file: Path) -> None:
    """Raise :class:`DataError` (one line) unless ``meta.json`` has the depot's shape with plain names."""

    def bad(what: str) -> DataError:
        return DataError(f"{meta_file}: {what}; the depot is damaged, re-create it with `lego data prepare`")

    if not isinstance(meta, dict):
        raise bad("not a JSON object")
    tables = meta.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise bad("no 'tables'")
    for table, schema in tables.items():
        if not isinstance(table, str) or not PLAIN_NAME.match(table):
            raise bad(f"table name {table!r} is not a plain name (letters, digits, _)")
        if not isinstance(schema, dict) or not isinstance(schema.get("rows"), int) or schema["rows"] < 0:
            raise bad(f"table {table!r} has no row count ('rows' must be a non-negative integer)")
        columns = schema.get("columns")
        if not isinstance(columns, dict):
            raise bad(f"table {table!r} has no 'columns'")
        for column, entry in columns.items():
            if not isinstance(column, str) or not PLAIN_NAME.match(column):
                raise bad(f"column name {table}.{column!r} is not a plain name")
            if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
                raise bad(
                    f"column {table}.{column} has kind {entry.get('kind') if isinstance(entry, dict) else entry!r}"
                    f", not one of {', '.join(KINDS)}"
                )
            vocab = entry.get("vocab")
            if vocab is not None and (not isinstance(vocab, str) or not PLAIN_NAME.match(vocab)):
                raise bad(f"column {table}.{column} names vocabulary {vocab!r}, not a plain name")
    vocabs = meta.get("vocabs", {})
    if not isinstance(vocabs, dict) or not all(
        isinstance(k, str) and PLAIN_NAME.match(k) and isinstance(v, int) and v >= 0 for k, v in vocabs.items()
    ):
        raise bad("'vocabs' must map plain names to sizes")
    for name in ("items", "users"):
        if name not in tables:
            raise bad(f"no {name!r} table")
    if "history" not in tables["users"]["columns"]:
        raise bad("the users table has no 'history' column")


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype[Any]]:
    array = np.load(path, mmap_mode="r")
    return tuple(array.shape), array.dtype


def _check_file(depot: Depot, relative: str, records: Mapping[str, Any], full: bool) -> str | None:
    path = depot.path / relative
    if not path.is_file():
        return f"{path}: missing; re-create the depot"
    record = records.get(relative)
    if record is None:
        return None  # a depot written before checksums were recorded
    size = path.stat().st_size
    if size != record.get("bytes"):
        return f"{path}: {size} bytes, meta.json says {record.get('bytes')}; re-create the depot"
    if full and sha256_file(path) != record.get("sha256"):
        return f"{path}: its content changed (sha256 differs from meta.json); re-create the depot"
    return None


def _range(values: np.ndarray, low: int, high: int) -> tuple[int, int] | None:
    if not len(values):
        return None
    lo, hi = int(np.min(values)), int(np.max(values))
    return (lo, hi) if lo < low or hi >= high else None


def verify_depot(depot: Depot, full: bool = False) -> list[str]:
    """Every problem of the depot's files, one line each (empty: the depot is sound)."""
    meta = depot.meta
    records = meta.get("files", {}) if isinstance(meta.get("files"), dict) else {}
    problems: list[str] = []
    for table, schema in meta["tables"].items():
        rows = int(schema["rows"])
        for column, entry in schema["columns"].items():
            files = [f"{table}/{f}" for f in column_files(column, entry["kind"])]
            found = [p for p in (_check_file(depot, f, records, full) for f in files) if p]
            if found:
                problems.extend(found)
                continue
            problems.extend(_check_column(depot, table, column, entry, rows, files))
    for relative in sorted(records):
        if relative.startswith("vocabs/"):
            problem = _check_file(depot, relative, records, full)
            if problem:
                problems.append(problem)
    return problems


def _check_column(
    depot: Depot, table: str, column: str, entry: Mapping[str, Any], rows: int, files: list[str]
) -> list[str]:
    where = depot.path / files[0]
    try:
        headers = [_header(depot.path / f) for f in files]
    except (ValueError, OSError, EOFError) as err:
        return [f"{where}: not a readable .npy array ({err}); re-create the depot"]
    dtype = entry.get("dtype")
    if len(files) == 2:  # ragged: values, offsets
        (values_shape, values_dtype), (offsets_shape, _) = headers
        if offsets_shape != (rows + 1,):
            return [
                f"{depot.path / files[1]}: {offsets_shape[0] if offsets_shape else 0} offsets for "
                f"{rows} rows (meta.json); re-create the depot"
            ]
        offsets = np.load(depot.path / files[1], mmap_mode="r")
        if int(offsets[0]) != 0 or int(offsets[-1]) != values_shape[0] or bool(np.any(np.diff(offsets) < 0)):
            return [
                f"{depot.path / files[1]}: offsets do not run from 0 to the {values_shape[0]} values; "
                "re-create the depot"
            ]
        if dtype is not None and str(values_dtype) != dtype:
            return [f"{where}: dtype {values_dtype}, meta.json says {dtype}; re-create the depot"]
        values = np.load(depot.path / files[0], mmap_mode="r")
    else:
        shape, array_dtype = headers[0]
        if not shape or shape[0] != rows:
            return [f"{where}: {shape[0] if shape else 0} rows, the {table} table has {rows}; re-create the depot"]
        if dtype is not None and str(array_dtype) != dtype:
            return [f"{where}: dtype {array_dtype}, meta.json says {dtype}; re-create the depot"]
        values = np.load(where, mmap_mode="r")
    return _check_ids(depot, table, column, entry, values, where)


def _check_ids(
    depot: Depot, table: str, column: str, entry: Mapping[str, Any], values: np.ndarray, where: Path
) -> list[str]:
    tables = depot.meta["tables"]
    target = None
    if table not in ("items", "users") and column in ID_COLUMNS:
        target = ID_COLUMNS[column]
    elif table == "users" and column == "history":
        target = "items"
    if target is not None:
        bad = _range(values, 0, int(tables[target]["rows"]))
        if bad:
            return [
                f"{where}: ids {bad[0]}..{bad[1]} outside the {tables[target]['rows']} rows of {target}; "
                "re-create the depot"
            ]
    vocab = entry.get("vocab")
    if vocab is not None and entry["kind"] in ("tokens", "category"):
        size = depot.meta.get("vocabs", {}).get(vocab)
        if size is None:
            return [f"{where}: names vocabulary {vocab!r}, which meta.json does not list; re-create the depot"]
        if not (depot.path / "vocabs" / f"{vocab}.json").is_file():
            return [f"{depot.path / 'vocabs' / f'{vocab}.json'}: missing; re-create the depot"]
        bad = _range(values, 0, int(size))
        if bad:
            return [f"{where}: ids {bad[0]}..{bad[1]} outside vocabulary {vocab!r} of {size}; re-create the depot"]
    return []


def leftovers(out: Path) -> list[Path]:
    """Hidden temporary or old copies of the depot ``out`` that an interrupted write left beside it."""
    out = Path(out)
    if not out.parent.is_dir():
        return []
    return sorted(p for p in out.parent.iterdir() if p.name.startswith((f".{out.name}.tmp-", f".{out.name}.old-")))


def raise_if_damaged(depot: Depot, full: bool = False) -> None:
    problems = verify_depot(depot, full)
    if problems:
        more = (
            f" (and {len(problems) - 1} more problems; `lego data verify {depot.path}` lists them)"
            if len(problems) > 1
            else ""
        )
        raise DataError(problems[0] + more)
