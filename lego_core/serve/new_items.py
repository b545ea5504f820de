"""Items that were never in the depot, encoded by a trained content operator from their attributes.

The content-based cold start made usable: a JSON Lines file, one object per
item, with its ``item_id`` and attributes named as the depot's item columns::

    {"item_id": "N90001", "title": "Velorin stadium final tonight", "category": "sports"}

Each value is read like ``lego data prepare`` reads it:

- a text column (``tokens``): a string is tokenised with
  :func:`lego_core.data.vocab.tokenize` and looked up in the column's
  vocabulary (unknown words become ``<unk>``); a list of strings is taken as
  the tokens themselves (multi-valued attributes such as genres);
- a ``title_text``-style raw text column is the string given for it, or else the
  string given for ``title`` (language-model operators read these);
- a categorical column: a string looked up in its vocabulary (an unseen value
  is the unknown id 0, and counted);
- ``int`` and ``float`` columns: a number.

The attributes the model reads (``data.item_attributes`` and
``model.item_fields``) are required; the others default to empty, 0 or ``""``;
a key that is not a column of the depot is an error, as is an ``item_id`` the
depot already has. Every problem is reported at once with ``file:line``.

The items are written as a small depot of their own in a temporary folder, so
that a content operator's ``prepare`` (a language model tokenising
``title_text``, its split-mode cache) sees them exactly as it sees a depot's
items; the operator is prepared for the depot's items again afterwards. The ID
embedding operator (``id``) learns a vector per depot item and cannot encode
a new one: that is an error saying so.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from lego_core.data.depot import Column, Depot, DepotContent, text_column, write_depot
from lego_core.data.ragged import Ragged
from lego_core.data.vocab import tokenize
from lego_core.errors import DataError
from lego_core.model.recommender import Recommender
from lego_core.model.stores import ItemStore

MAX_SHOWN = 20  # problems listed in one error


@attrs.frozen(eq=False)
class NewItems:
    """New items encoded by a model: their ids, vectors ``(M, D)`` and categorical fields ``(M,)``.

    ``unknown`` counts, per categorical column, the values its vocabulary did not know.
    """

    ids: list[str]
    vectors: Tensor
    categories: Mapping[str, Tensor]
    source: str
    unknown: Mapping[str, int] = attrs.field(factory=dict)
    titles: list[str | None] = attrs.field(factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def _lines(path: Path) -> list[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file of new items (JSON Lines, one item per line)") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            out.append((number, DataError(f"{path}:{number}: not JSON ({err.msg} at column {err.colno})")))
    return out


def _item_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        return None
    return str(value)


def _present(value: Any) -> bool:
    """A given value that is not empty: ``""``, ``[]`` and ``null`` count as missing."""
    return value is not None and value != "" and value != []


def read_new_items(path: str | Path, depot: Depot, required: Sequence[str]) -> tuple[DepotContent, dict[str, int]]:
    """The items of ``path`` as depot content (``items`` table under the depot's vocabularies).

    Returns the content and, per categorical column, how many values were not in its vocabulary.
    """
    path = Path(path)
    table = depot.items
    columns = list(table)
    known_ids = set(depot.vocab(table.vocab_name("item_id") or "item_id")) if "item_id" in table else set()
    problems: list[str] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    seen_ids: dict[str, int] = {}
    for number, obj in _lines(path):
        if isinstance(obj, DataError):
            problems.append(str(obj))
            continue
        where = f"{path}:{number}"
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected a JSON object (one item), got {type(obj).__name__}")
            continue
        item_id = _item_id(obj.get("item_id"))
        if item_id is None:
            problems.append(f'{where}: every item needs an "item_id" (a string), got {obj.get("item_id")!r}')
        elif item_id in known_ids:
            problems.append(
                f"{where}: item_id {item_id!r} is already in the depot {depot.path}; new items need "
                "new ids (depot items are recommended without --items)"
            )
        elif item_id in seen_ids:
            problems.append(f"{where}: item_id {item_id!r} is also on line {seen_ids[item_id]}")
        else:
            seen_ids[item_id] = number
        unknown = sorted(set(obj) - set(columns) - {"item_id"})
        if unknown:
            problems.append(
                f"{where}: {', '.join(map(repr, unknown))} not a column of the depot's items; "
                f"they are {', '.join(c for c in columns if c != 'item_id')}"
            )
        missing = [c for c in required if not _present(obj.get(c)) and not _present(obj.get(f"{c}_text"))]
        if missing:
            problems.append(f"{where}: the model reads {', '.join(map(repr, missing))}, which this item lacks")
        rows.append((number, obj))
    if not rows and not problems:
        problems.append(f"{path}: no items in the file (one JSON object per line)")
    data: dict[str, Column] = {}
    unknown_counts: dict[str, int] = {}
    if not problems:
        for column in (c for c in columns if c != "item_id"):
            data[column] = _column(
                column, table.kind(column), table.vocab_name(column), rows, depot, path, problems, unknown_counts
            )
    if problems:
        shown = problems[:MAX_SHOWN] + (
            [f"... and {len(problems) - MAX_SHOWN} more"] if len(problems) > MAX_SHOWN else []
        )
        raise DataError(
            shown[0]
            if len(shown) == 1
            else f"{path}: {len(problems)} problems with the new items:\n  - " + "\n  - ".join(shown)
        )
    vocabs = {name: depot.vocab(name) for c in columns if c != "item_id" and (name := table.vocab_name(c))}
    ids = [str(obj["item_id"]) for _, obj in rows]
    vocabs["item_id"] = ["<unk>", *ids]
    data["item_id"] = Column("category", np.arange(1, len(ids) + 1, dtype=np.int32), vocab="item_id")
    empty = np.zeros(0, dtype=np.int32)
    content = DepotContent(
        tables={
            "items": data,
            "users": {"history": Column("items", Ragged(values=empty, offsets=np.zeros(2, dtype=np.int64)))},
            "test": {
                "user": Column("int", empty),
                "item": Column("int", empty),
                "label": Column("float", np.zeros(0, dtype=np.float32)),
                "group": Column("int", empty),
            },
        },
        vocabs=vocabs,
        info={"new_items": len(ids), "source": str(path)},
    )
    return content, {k: v for k, v in unknown_counts.items() if v}


def _column(
    name: str,
    kind: str,
    vocab_name: str | None,
    rows: list[tuple[int, dict[str, Any]]],
    depot: Depot,
    path: Path,
    problems: list[str],
    unknown: dict[str, int],
) -> Column:
    """One depot column for the new items, read from their JSON values."""
    values = [obj.get(name) for _, obj in rows]
    if kind == "text":
        base = name.removesuffix("_text")
        strings: list[str] = []
        for value, (_, obj) in zip(values, rows):
            fallback = obj.get(base)
            strings.append(value if isinstance(value, str) else fallback if isinstance(fallback, str) else "")
        return text_column(strings)
    if kind in ("tokens", "category"):
        index = {w: i for i, w in enumerate(depot.vocab(vocab_name or name))}
    if kind == "tokens":
        lists: list[list[int]] = []
        for value, (number, _) in zip(values, rows):
            if value is None:
                lists.append([])
            elif isinstance(value, str):
                lists.append([index.get(w, 1) for w in tokenize(value)])
            elif isinstance(value, list) and all(isinstance(w, str) for w in value):
                lists.append([index.get(w, 1) for w in value])
            else:
                problems.append(
                    f"{path}:{number}: {name!r} is text: give a string (or a list of tokens), got {value!r}"
                )
                lists.append([])
        return Column("tokens", Ragged.from_lists(lists), vocab=vocab_name)
    if kind == "category":
        ids = []
        for value, (number, _) in zip(values, rows):
            if value is not None and not isinstance(value, str):
                problems.append(f"{path}:{number}: {name!r} is a category: give a string, got {value!r}")
            found = index.get(value, 0) if isinstance(value, str) else 0
            unknown[name] = unknown.get(name, 0) + (value is not None and found == 0)
            ids.append(found)
        return Column("category", np.asarray(ids, dtype=np.int32), vocab=vocab_name)
    if kind in ("int", "float"):
        numbers = []
        for value, (number, _) in zip(values, rows):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                problems.append(f"{path}:{number}: {name!r} is a number, got {value!r}")
                value = None
            numbers.append(0 if value is None else value)
        dtype = np.asarray(depot.items[name]).dtype
        return Column(kind, np.asarray(numbers, dtype=dtype))
    if any(v is not None for v in values):  # "items": ragged item indices of the depot
        problems.append(f"{path}: {name!r} holds depot item indices, which a new item cannot give; leave it out")
    return Column(kind, Ragged.from_lists([[] for _ in rows]))


@torch.no_grad()
def encode_new_items(model: Recommender, depot: Depot, path: str | Path, page_size: int = 256) -> NewItems:
    """Read ``path`` and encode its items with ``model``'s content operator (in eval mode)."""
    content_op = model.content
    context = content_op.context
    if not type(content_op).uses_content:
        raise DataError(
            f"the content operator {content_op.name!r} learns one vector per depot item and reads no "
            "attribute, so it cannot encode new items; train a content-based model (e.g. "
            'model.content = "attention" or "pooling") to score items from their text'
        )
    attributes = {**context.item_attributes, **context.item_fields}
    content, unknown = read_new_items(path, depot, list(attributes))
    folder = Path(tempfile.mkdtemp(prefix="lego-new-items-"))
    was_training = model.training
    model.eval()
    try:
        mini = Depot(write_depot(folder / "depot", content))
        store = ItemStore(mini, attributes, model.items.device)
        content_op.prepare(store)
        index = torch.arange(store.num_items, device=store.device)
        vectors = torch.cat(
            [content_op(store.batch(index[s : s + page_size])) for s in range(0, len(index), page_size)]
        )  # (M, D)
        ids = mini.vocab("item_id")[1:]
        titles = mini.items.strings("title_text") if "title_text" in mini.items else [None] * len(ids)
        return NewItems(
            ids=ids,
            vectors=vectors,
            source=str(path),
            unknown=unknown,
            titles=list(titles),
            categories={n: store.categories[n] for n in model.item_fields},
        )
    finally:
        content_op.prepare(model.items)  # back to the depot's items
        model.train(was_training)
        shutil.rmtree(folder, ignore_errors=True)
