"""The depot: the one on-disk directory every experiment reads.

Layout::

    meta.json                      schema, counts, processor, options, raw checksums
    vocabs/<name>.json             id -> string lists (id 0 = padding / unknown)
    <table>/<column>.npy           a dense column
    <table>/<column>.values.npy    a ragged column's values
    <table>/<column>.offsets.npy   ... and its offsets (rows + 1)
    cache/<key>/...                derived item columns (a language model's tokens)

Tables: ``items`` (one row per item, content stored once), ``users`` (one row
per history context, with a ragged ``history`` of item indices and the
person's ``user_id``), and one interaction table per split (``train``,
``valid``, ``test``) with columns ``user`` (row in ``users``), ``item``,
``label``, ``group`` and optionally ``time``.

Column kinds: ``tokens`` (ragged word ids, with a vocabulary), ``category``
(one id per row, with a vocabulary), ``items`` (ragged item indices),
``int``, ``float``, ``text`` (raw UTF-8 strings as ragged bytes; by
convention a text attribute ``title`` keeps its original string in
``title_text``, for language-model tokenizers that need the real text), and
``image`` (ragged bytes: each row is either an encoded image file, PNG/JPEG/...,
``storage = "bytes"``, or its path, ``storage = "path"``, resolved against the
column's ``root``, the raw folder the processor read, else the depot folder).
The depot never decodes images: it hands out the file bytes
(:meth:`Table.image_bytes`), and a vision brick decodes them.

Caches derived from columns (a language model's tokens, its frozen states)
are keyed by :meth:`Table.digest`, a hash of the column's contents, so a
column that is replaced never feeds a cache built from its old contents.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from lego_core.atomic import publish_folder
from lego_core.data.layout import IMAGE_STORAGE, INTERACTION_COLUMNS, KINDS, RAGGED_KINDS, SPLITS
from lego_core.data.ragged import Ragged
from lego_core.data.verify import check_meta, file_records
from lego_core.errors import DataError

FORMAT_VERSION = 1
__all__ = [
    "FORMAT_VERSION",
    "INTERACTION_COLUMNS",
    "KINDS",
    "RAGGED_KINDS",
    "SPLITS",
    "Column",
    "Depot",
    "DepotContent",
    "Table",
    "cache_key",
    "decode_text",
    "text_column",
    "write_depot",
]


@attrs.frozen(eq=False)
class Column:
    """A column in memory, before writing or after opening.

    ``data`` is an ``np.ndarray`` for dense kinds and a :class:`Ragged` for
    ``tokens``/``items``/``text``/``image``; ``vocab`` names the vocabulary of
    ``tokens`` and ``category`` columns. Image columns say how rows are stored
    (``storage``: ``"bytes"`` or ``"path"``) and, for paths, the folder
    relative paths are resolved against (``root``; None: the depot folder).
    """

    kind: str
    data: Any
    vocab: str | None = None
    storage: str | None = None
    root: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if (self.kind in RAGGED_KINDS) != isinstance(self.data, Ragged):
            raise TypeError(f"a {self.kind!r} column holds {'a Ragged' if self.kind in RAGGED_KINDS else 'an ndarray'}")
        if (self.kind == "image") != (self.storage is not None):
            raise ValueError("an image column needs storage = 'bytes' or 'path'; other kinds take no storage")
        if self.storage is not None and self.storage not in IMAGE_STORAGE:
            raise ValueError(f"image storage {self.storage!r} is not one of {', '.join(IMAGE_STORAGE)}")
        if self.root is not None and self.storage != "path":
            raise ValueError("root is the folder of an image column's relative paths (storage = 'path')")

    def __len__(self) -> int:
        return len(self.data)


def text_column(strings: list[str]) -> Column:
    """A ``text`` column: each string stored as its UTF-8 bytes."""
    encoded = [s.encode("utf-8") for s in strings]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    return Column(kind="text", data=Ragged(values=values, offsets=offsets))


def _ragged_bytes(chunks: Sequence[bytes]) -> Ragged:
    lengths = np.fromiter((len(b) for b in chunks), dtype=np.int64, count=len(chunks))
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Ragged(values=np.frombuffer(b"".join(chunks), dtype=np.uint8).copy(), offsets=offsets)


def image_column(images: Sequence[bytes]) -> Column:
    """An ``image`` column holding each row's encoded image file (PNG, JPEG, ...) in the depot itself."""
    return Column(kind="image", data=_ragged_bytes(images), storage="bytes")


def image_path_column(paths: Sequence[str | Path], root: str | Path | None = None) -> Column:
    """An ``image`` column of file paths; relative ones are resolved against ``root`` (the raw folder).

    ``root`` None resolves relative paths against the depot folder. The files are
    read when a brick asks for the bytes, so they must stay where they are.
    """
    encoded = [str(p).encode("utf-8") for p in paths]
    return Column(
        kind="image",
        data=_ragged_bytes(encoded),
        storage="path",
        root=None if root is None else str(Path(root).resolve()),
    )


def decode_text(column: Ragged, rows: Any = None) -> list[str]:
    """The strings of a ``text`` column (all rows, or the given ones)."""
    rows = range(len(column)) if rows is None else rows
    raw = column.values
    return [bytes(raw[column.offsets[i] : column.offsets[i + 1]]).decode("utf-8") for i in rows]


@attrs.define
class DepotContent:
    """Everything a processor produces, written at once by :func:`write_depot`."""

    tables: dict[str, dict[str, Column]]
    vocabs: dict[str, list[str]] = attrs.field(factory=dict)
    info: dict[str, Any] = attrs.field(factory=dict)

    def validate(self) -> None:
        """Check the shape of record; raise :class:`DataError` naming every problem."""
        problems = []
        for required in ("items", "users"):
            if required not in self.tables:
                problems.append(f"table {required!r} is missing")
        splits = [s for s in SPLITS if s in self.tables]
        if not splits:
            problems.append(f"no interaction table (expected some of {', '.join(SPLITS)})")
        for name, table in self.tables.items():
            lengths = {c: len(col) for c, col in table.items()}
            if len(set(lengths.values())) > 1:
                problems.append(f"table {name!r} has columns of different lengths: {lengths}")
            for cname, col in table.items():
                if col.vocab is not None and col.vocab not in self.vocabs:
                    problems.append(f"{name}.{cname} names vocabulary {col.vocab!r}, which is not in the depot")
        if "users" in self.tables and "history" not in self.tables["users"]:
            problems.append("table 'users' has no 'history' column")
        num_items = len(next(iter(self.tables["items"].values()))) if self.tables.get("items") else 0
        num_users = len(next(iter(self.tables["users"].values()))) if self.tables.get("users") else 0
        for split in splits:
            table = self.tables[split]
            missing = [c for c in INTERACTION_COLUMNS if c not in table]
            if missing:
                problems.append(f"table {split!r} lacks columns {missing}")
                continue
            if len(table["item"]) and (table["item"].data.min() < 0 or table["item"].data.max() >= num_items):
                problems.append(f"table {split!r} has item indices outside 0..{num_items - 1}")
            if len(table["user"]) and (table["user"].data.min() < 0 or table["user"].data.max() >= num_users):
                problems.append(f"table {split!r} has user rows outside 0..{num_users - 1}")
        if problems:
            raise DataError("the depot content is invalid:\n  - " + "\n  - ".join(problems))


def _write_column(folder: Path, name: str, column: Column) -> dict[str, Any]:
    if isinstance(column.data, Ragged):
        np.save(folder / f"{name}.values.npy", np.ascontiguousarray(column.data.values))
        np.save(folder / f"{name}.offsets.npy", np.ascontiguousarray(column.data.offsets, dtype=np.int64))
        dtype = str(column.data.values.dtype)
    else:
        np.save(folder / f"{name}.npy", np.ascontiguousarray(column.data))
        dtype = str(column.data.dtype)
    return column_entry(column, dtype)


def column_entry(column: Column, dtype: str) -> dict[str, Any]:
    """A column's schema entry in ``meta.json``: kind, dtype, and its vocabulary or image storage."""
    entry: dict[str, Any] = {"kind": column.kind, "dtype": dtype}
    if column.vocab is not None:
        entry["vocab"] = column.vocab
    if column.storage is not None:
        entry["storage"] = column.storage
    if column.root is not None:
        entry["root"] = column.root
    return entry


def write_depot(out: str | Path, content: DepotContent, meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``content`` to ``out`` atomically: a temporary sibling folder, renamed when complete.

    An existing ``out`` is replaced only after the new one is fully written, so
    a failure at any point leaves the old depot (or nothing) in place.
    """
    content.validate()
    out = Path(out)

    def fill(tmp: Path) -> None:
        schema: dict[str, Any] = {}
        for table, columns in content.tables.items():
            (tmp / table).mkdir()
            schema[table] = {
                "rows": len(next(iter(columns.values()))) if columns else 0,
                "columns": {name: _write_column(tmp / table, name, col) for name, col in columns.items()},
            }
        (tmp / "vocabs").mkdir()
        for name, words in content.vocabs.items():
            (tmp / "vocabs" / f"{name}.json").write_text(json.dumps(words, ensure_ascii=False))
        full_meta = {
            "format_version": FORMAT_VERSION,
            **dict(meta or {}),
            "info": content.info,
            "tables": schema,
            "vocabs": {name: len(words) for name, words in content.vocabs.items()},
            "files": file_records(tmp),  # size and sha256 of every file: `lego data verify`
        }
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=2, ensure_ascii=False, default=str))

    publish_folder(out, fill)
    return out


class Table(Mapping[str, Any]):
    """An opened table: ``table["title"]`` is an ndarray or a :class:`Ragged` (memory-mapped)."""

    def __init__(self, folder: Path, schema: Mapping[str, Any]) -> None:
        self.folder = folder
        self.schema = schema
        self.num_rows = int(schema["rows"])
        self._cache: dict[str, Any] = {}
        self._digests: dict[str, str] = {}

    def kind(self, column: str) -> str:
        return str(self.schema["columns"][column]["kind"])

    def vocab_name(self, column: str) -> str | None:
        return self.schema["columns"][column].get("vocab")

    def strings(self, column: str) -> list[str]:
        """The strings of a ``text`` column."""
        kind = self.kind(column)
        if kind != "text":
            raise DataError(f"column {column!r} is of kind {kind!r}, not text")
        return decode_text(self[column])

    def image_bytes(self, column: str, rows: Sequence[int] | None = None) -> list[bytes]:
        """The encoded image files of an ``image`` column (all rows, or ``rows``), undecoded.

        Rows stored as paths are read from disk; a missing file is a :class:`DataError`
        naming the row, the path and the folder it was resolved against.
        """
        entry = self.schema["columns"][column]
        if entry["kind"] != "image":
            raise DataError(f"column {column!r} is of kind {entry['kind']!r}, not image")
        data = self[column]
        rows = range(len(data)) if rows is None else rows
        raw = [bytes(data.values[data.offsets[i] : data.offsets[i + 1]]) for i in rows]
        if entry.get("storage", "bytes") == "bytes":
            return raw
        out = []
        for row, path in zip(rows, raw, strict=True):
            file = self.image_path(column, path.decode("utf-8"))
            try:
                out.append(file.read_bytes())
            except OSError as err:
                raise DataError(
                    f"{self.folder}/{column}: row {row}: cannot read the image {file} ({err.strerror}); "
                    f"the column stores paths relative to {self._image_root(column)}: put the files "
                    "back, or add the column again from where they are now"
                ) from None
        return out

    def _image_root(self, column: str) -> Path:
        root = self.schema["columns"][column].get("root")
        return Path(root) if root else self.folder.parent

    def image_path(self, column: str, stored: str) -> Path:
        """Where a path stored in an image column points: absolute, or under the column's root."""
        path = Path(stored)
        return path if path.is_absolute() else self._image_root(column) / path

    def digest(self, column: str) -> str:
        """A hash of the column's contents (its values, offsets and schema entry), computed once per table.

        Caches derived from a column put this in their key, so replacing the column
        (same name, new contents) builds new caches. Image columns stored as paths
        also hash each file's size and modification time, so a file replaced on disk counts too.
        """
        if column not in self._digests:
            entry = self.schema["columns"][column]
            h = hashlib.sha256(json.dumps(entry, sort_keys=True).encode())
            data = self[column]
            arrays = [data.values, data.offsets] if isinstance(data, Ragged) else [data]
            for array in arrays:
                flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
                for start in range(0, len(flat), 1 << 24):
                    h.update(flat[start : start + (1 << 24)].tobytes())
            if entry["kind"] == "image" and entry.get("storage") == "path":
                for stored in decode_text(data):
                    try:
                        stat = os.stat(self.image_path(column, stored))
                        h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
                    except OSError:
                        h.update(b"missing")
            self._digests[column] = h.hexdigest()[:16]
        return self._digests[column]

    def __getitem__(self, column: str) -> Any:
        if column not in self.schema["columns"]:
            raise KeyError(column)
        if column not in self._cache:
            if self.kind(column) in RAGGED_KINDS:
                self._cache[column] = Ragged(
                    values=np.load(self.folder / f"{column}.values.npy", mmap_mode="r"),
                    offsets=np.load(self.folder / f"{column}.offsets.npy", mmap_mode="r"),
                )
            else:
                self._cache[column] = np.load(self.folder / f"{column}.npy", mmap_mode="r")
        return self._cache[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self.schema["columns"])

    def __len__(self) -> int:
        return len(self.schema["columns"])


class Depot:
    """A depot opened for reading; columns are memory-mapped on first access."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        meta_file = self.path / "meta.json"
        if not meta_file.is_file():
            raise DataError(
                f"{self.path}: not a depot (no meta.json). Create one with "
                f"`lego data synth --out {self.path}` or `lego data prepare NAME --raw DIR --out {self.path}`."
            )
        try:
            self.meta: dict[str, Any] = json.loads(meta_file.read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{meta_file}:{err.lineno}: invalid JSON ({err.msg}); re-create the depot") from err
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"{meta_file}: unreadable ({err}); re-create the depot") from err
        version = self.meta.get("format_version") if isinstance(self.meta, dict) else None
        if version != FORMAT_VERSION:
            raise DataError(
                f"{meta_file}: depot format version {version!r}, this lego reads {FORMAT_VERSION}; "
                "re-create the depot with this version's `lego data prepare`"
            )
        check_meta(self.meta, meta_file)
        self._tables: dict[str, Table] = {}
        self._vocabs: dict[str, list[str]] = {}

    @property
    def table_names(self) -> list[str]:
        return list(self.meta["tables"])

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLITS if s in self.meta["tables"]]

    def table(self, name: str) -> Table:
        if name not in self.meta["tables"]:
            raise DataError(f"{self.path}: no table {name!r}; it has {', '.join(self.table_names)}")
        if name not in self._tables:
            self._tables[name] = Table(self.path / name, self.meta["tables"][name])
        return self._tables[name]

    @property
    def items(self) -> Table:
        return self.table("items")

    @property
    def users(self) -> Table:
        return self.table("users")

    def verify(self, full: bool = False) -> list[str]:
        """The problems of the depot's files, one line each (see :mod:`lego_core.data.verify`)."""
        from lego_core.data.verify import verify_depot

        return verify_depot(self, full)

    def vocab(self, name: str) -> list[str]:
        if name not in self._vocabs:
            file = self.path / "vocabs" / f"{name}.json"
            if not file.is_file():
                raise DataError(f"{self.path}: no vocabulary {name!r}")
            self._vocabs[name] = json.loads(file.read_text())
        return self._vocabs[name]

    def vocab_size(self, name: str) -> int:
        return int(self.meta["vocabs"][name])

    def cached_column(self, key: str, build: Callable[[Depot], Column]) -> Column:
        """A derived item column stored under ``cache/<key>``, built once.

        ``key`` must cover everything the column depends on (for a language
        model tokenizer: its name, revision, the columns, template and maximum
        length); use :func:`cache_key`. Writing is atomic, so an interrupted
        build leaves no half-written cache.
        """
        folder = self.path / "cache" / key
        entry_file = folder / "column.json"
        if entry_file.is_file():
            entry = json.loads(entry_file.read_text())
            table = Table(folder, {"rows": entry["rows"], "columns": {"column": entry}})
            return Column(kind=entry["kind"], data=table["column"], vocab=entry.get("vocab"))
        column = build(self)
        if len(column) != self.items.num_rows:
            raise DataError(f"cached column {key!r} has {len(column)} rows, the item table {self.items.num_rows}")

        def fill(tmp: Path) -> None:
            entry = _write_column(tmp, "column", column)
            entry["rows"] = len(column)
            (tmp / "column.json").write_text(json.dumps(entry))

        publish_folder(folder, fill, replace=False)  # another process finishing first keeps its copy
        return self.cached_column(key, build)


def cache_key(prefix: str, **parts: Any) -> str:
    """``prefix-<sha256 of parts>``: a cache name that changes whenever any part does."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{prefix}-{digest}"
