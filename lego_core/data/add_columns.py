"""Adding item (or user) columns to an existing depot (what ``lego augment`` writes).

A depot is written once by :func:`lego_core.data.depot.write_depot`; a new
attribute (an LLM-rewritten title, a generated user profile, an image) is one
new column, added by :func:`add_item_columns` (:func:`add_user_columns`,
:func:`add_columns` for any table) under the depot's own layout and rules:

1. every new column has one row per table row, a known kind, and a vocabulary
   that exists (or is written along with it); a name the table already has is
   an error unless ``replace=True``, which swaps in new contents of the same
   kind. Caches derived from a column (``cache/lm-tokens-*``, ...) are keyed by
   its content digest (:meth:`lego_core.data.depot.Table.digest`), so a
   replaced column is never read through a cache of its old contents;
2. new vocabularies go to ``vocabs/<name>.json`` and the column files to
   ``<table>/``, each written to a temporary file and moved into place with
   :func:`os.replace`;
3. only then is ``meta.json`` updated (temporary file + :func:`os.replace`):
   the column enters ``tables.<table>.columns`` with its kind, dtype and
   vocabulary, the vocabulary its size in ``vocabs``, and what made the column
   goes to ``added_columns`` (keyed ``name`` for items, ``<table>.<name>``
   otherwise). A failure before this step leaves the depot as it was (at
   most some unlisted files in ``<table>/``); readers never see a listed
   column whose files are missing. A replaced column's files are swapped one
   by one, so a reader that opens the depot during the swap may see a mix:
   replace columns while no experiment reads them.

The read-modify-write of ``meta.json`` runs under the depot's exclusive lock
(:func:`lego_core.lock.depot_lock`): a run reading the depot holds it shared,
so columns are never added under a running experiment, and two processes adding
columns never lose each other's entry; the second one is told the depot is busy.

Example:
    >>> import tempfile
    >>> from lego_core.data.depot import Depot, text_column
    >>> from lego_core.testing import tiny_depot
    >>> path = tiny_depot(Path(tempfile.mkdtemp()) / "d", num_items=60, num_users=15)
    >>> depot = add_item_columns(path, {"note_text": text_column(["x"] * 60)}, provenance={"by": "doctest"})
    >>> depot.items.kind("note_text"), depot.items.strings("note_text")[:2]
    ('text', ['x', 'x'])
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lego_core.atomic import replace_atomically
from lego_core.atomic import write_text as _write_text
from lego_core.data.depot import KINDS, Column, Depot, column_entry
from lego_core.data.ragged import Ragged
from lego_core.data.verify import column_files, sha256_file
from lego_core.errors import DataError
from lego_core.lock import depot_lock, file_lock

PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def save_array(target: Path, array: np.ndarray) -> None:
    replace_atomically(target, lambda handle: np.save(handle, np.ascontiguousarray(array)))


def save_json(target: Path, data: Any) -> None:
    _write_text(target, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _meta_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    # exclusive and without waiting: a run reading the depot holds it shared
    return file_lock(
        depot_lock(path), blocking=False, what=f"the depot {path} (a run reads it, or another process adds columns)"
    )


def _vocab_users(depot: Depot, vocab: str) -> list[str]:
    return [
        f"{t}.{c}"
        for t, schema in depot.meta["tables"].items()
        for c, e in schema["columns"].items()
        if e.get("vocab") == vocab
    ]


def _check(
    depot: Depot, table: str, columns: Mapping[str, Column], vocabs: Mapping[str, list[str]], replace: bool = False
) -> None:
    problems = []
    items = depot.table(table)
    noun = "item table" if table == "items" else f"{table} table"
    known_vocabs = set(depot.meta.get("vocabs", {}))
    replaced = {f"{table}.{n}" for n in columns if n in items}
    for name in vocabs:
        if name in known_vocabs:
            others = sorted(set(_vocab_users(depot, name)) - replaced)
            if not replace or others:
                used = f" (used by {', '.join(others)})" if others else ""
                problems.append(f"vocabulary {name!r} already exists in the depot{used}; give the new one another name")
        elif not PLAIN_NAME.match(name):
            problems.append(f"vocabulary name {name!r} is not a plain name (letters, digits, _)")
    for name, column in columns.items():
        if not PLAIN_NAME.match(name):
            problems.append(f"column name {name!r} is not a plain name (letters, digits, _)")
        if name in items and not replace:
            problems.append(
                f"the {noun} already has a column {name!r}; choose another name, or replace it "
                "(caches derived from the old contents are not reused: their keys hash the contents)"
            )
        elif name in items and items.kind(name) != column.kind:
            problems.append(
                f"column {name!r} is of kind {items.kind(name)!r}; a replacement must be too, not {column.kind!r}"
            )
        if column.kind not in KINDS:
            problems.append(f"column {name!r}: kind {column.kind!r} is not one of {', '.join(KINDS)}")
        if len(column) != items.num_rows:
            problems.append(f"column {name!r} has {len(column)} rows, the {noun} {items.num_rows}")
        if column.vocab is not None and column.vocab not in known_vocabs and column.vocab not in vocabs:
            problems.append(
                f"column {name!r} names vocabulary {column.vocab!r}, which is neither in the depot nor written with it"
            )
        elif column.vocab is not None and column.kind in ("tokens", "category"):
            size = len(vocabs[column.vocab]) if column.vocab in vocabs else depot.vocab_size(column.vocab)
            values = column.data.values if isinstance(column.data, Ragged) else column.data
            if len(values) and (int(np.min(values)) < 0 or int(np.max(values)) >= size):
                problems.append(f"column {name!r} holds ids outside 0..{size - 1} of vocabulary {column.vocab!r}")
    if problems:
        raise DataError(f"{depot.path}: cannot add item columns:\n  - " + "\n  - ".join(problems))


def _write_column(folder: Path, name: str, column: Column) -> dict[str, Any]:
    if isinstance(column.data, Ragged):
        save_array(folder / f"{name}.values.npy", np.asarray(column.data.values))
        save_array(folder / f"{name}.offsets.npy", np.asarray(column.data.offsets, dtype=np.int64))
        dtype = str(np.asarray(column.data.values).dtype)
    else:
        save_array(folder / f"{name}.npy", np.asarray(column.data))
        dtype = str(np.asarray(column.data).dtype)
    return column_entry(column, dtype)


def add_columns(
    path: str | Path,
    table: str,
    columns: Mapping[str, Column],
    vocabs: Mapping[str, list[str]] | None = None,
    provenance: Mapping[str, Any] | None = None,
    replace: bool = False,
) -> Depot:
    """Add ``columns`` (and the new ``vocabs`` they name) to ``table`` of the depot at ``path``.

    Args:
        path: the depot folder.
        table: ``"items"``, ``"users"`` (or another table of the depot).
        columns: column name -> :class:`~lego_core.data.depot.Column`, one row per table row.
        vocabs: new vocabularies (id -> string lists, id 0 = padding/unknown) by name.
        provenance: what made the columns, recorded under ``added_columns`` in ``meta.json``.
        replace: a column the table already has gets the new contents (same kind); its
            vocabulary may be rewritten too when no other column uses it.

    Returns:
        The depot, opened again (its schema lists the new columns).

    Raises:
        DataError: a name is taken or not plain, a row count or id range is wrong, a vocabulary is missing.
    """
    path = Path(path)
    vocabs = dict(vocabs or {})
    with _meta_lock(path):
        depot = Depot(path)
        _check(depot, table, columns, vocabs, replace)
        for name, words in vocabs.items():
            save_json(path / "vocabs" / f"{name}.json", list(words))
        entries = {name: _write_column(path / table, name, column) for name, column in columns.items()}
        meta = json.loads((path / "meta.json").read_text())  # fresh: under the lock
        meta["tables"][table]["columns"].update(entries)
        if isinstance(meta.get("files"), dict):  # the checksums of the new files (`lego data verify`)
            added_files = [f"{table}/{f}" for name, column in columns.items() for f in column_files(name, column.kind)]
            added_files += [f"vocabs/{name}.json" for name in vocabs]
            for relative in added_files:
                meta["files"][relative] = {
                    "bytes": (path / relative).stat().st_size,
                    "sha256": sha256_file(path / relative),
                }
        meta.setdefault("vocabs", {}).update({name: len(words) for name, words in vocabs.items()})
        added = meta.setdefault("added_columns", {})
        for name in columns:
            added[name if table == "items" else f"{table}.{name}"] = dict(provenance or {})
        save_json(path / "meta.json", meta)
    return Depot(path)


def add_item_columns(
    path: str | Path,
    columns: Mapping[str, Column],
    vocabs: Mapping[str, list[str]] | None = None,
    provenance: Mapping[str, Any] | None = None,
    replace: bool = False,
) -> Depot:
    """:func:`add_columns` to the item table (one row per item)."""
    return add_columns(path, "items", columns, vocabs, provenance, replace)


def add_user_columns(
    path: str | Path,
    columns: Mapping[str, Column],
    vocabs: Mapping[str, list[str]] | None = None,
    provenance: Mapping[str, Any] | None = None,
    replace: bool = False,
) -> Depot:
    """:func:`add_columns` to the user table (one row per history context, as ``users.history``)."""
    return add_columns(path, "users", columns, vocabs, provenance, replace)
