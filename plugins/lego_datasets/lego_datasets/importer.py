"""The processor behind ``lego data import``: a user's files under a spec become a depot.

:class:`ImportProcessor` is not registered by name (``lego data prepare``
cannot name it): ``lego data import`` builds it from a spec and the files'
names and runs it through :func:`lego_core.data.prepare.prepare`, so an
imported depot gets what every depot gets: raw checksums, an atomic write,
the depot lock and the no-op re-run. Its raw folder is the deepest folder
that holds all the given files (:func:`raw_layout`); the options record the
files relative to it, and ``expected_files`` lists exactly them.

Reading: the items and users tables first (one row per id; a repeated id is a
bad row), then the interactions row by row into an :class:`EventLog` (typed
arrays, not a list of dicts). An interaction whose item (user) is not in a
given items (users) table is a bad row, as are empty ids, unreadable
ratings, labels, timestamps or split names: ``file:line: what (expected
...)``, or counted with ``skip_bad_rows``. The split protocol is
:mod:`lego_datasets.splits` (with :mod:`lego_datasets.import_splits` for the
random, leave-one-out and column splits); columns follow
:mod:`lego_datasets.columns`.

Example:
    >>> from pathlib import Path
    >>> from lego_datasets.import_spec import InteractionsSpec, ImportSpec
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "import-basic"
    >>> spec = ImportSpec(interactions=InteractionsSpec(format="csv", delimiter=",", user="user_id",
    ...                   item="item_id", rating="rating", timestamp="timestamp"))
    >>> content = ImportProcessor(ImportOptions(spec=spec, interactions="ratings.csv")).build(raw)
    >>> content.info["interactions_read"], content.info["items"], content.info["persons"]
    (24, 8, 4)
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets import import_values as cell
from lego_datasets.builders import EventLog, IdIndex, _one_per_pair
from lego_datasets.columns import category_column, id_column, text_columns, token_list_column
from lego_datasets.import_read import SourceFile
from lego_datasets.import_spec import FileSpec, ImportSpec, TableSpec, attribute_plan
from lego_datasets.import_splits import leave_one_out, random_split
from lego_datasets.reader import RowErrors
from lego_datasets.splits import Ratings, rating_depot

MAX_SECONDS = 9e11  # about the year 30,000: a larger "second" is a millisecond or a microsecond
TIME_WORDS = {"unix": "Unix seconds", "unix_ms": "Unix milliseconds", "iso": "an ISO 8601 date or date-time"}


@attrs.define(kw_only=True, frozen=True)
class ImportOptions:
    """The spec and the files' names relative to the raw folder (all of it is in the depot's fingerprint)."""

    spec: ImportSpec = attrs.field(validator=v.instance_of(ImportSpec))
    interactions: str = attrs.field(validator=v.instance_of(str))
    items: str = attrs.field(default="", validator=v.instance_of(str))
    users: str = attrs.field(default="", validator=v.instance_of(str))


def raw_layout(files: Mapping[str, Path]) -> tuple[Path, dict[str, str]]:
    """The deepest folder holding every file, and each file's name relative to it (forward slashes).

    Example:
        >>> raw_layout({"interactions": Path("/data/a/r.csv"), "items": Path("/data/b/i.csv")})
        (PosixPath('/data'), {'interactions': 'a/r.csv', 'items': 'b/i.csv'})
    """
    resolved = {role: Path(os.path.abspath(p)) for role, p in files.items()}
    raw = Path(os.path.commonpath([str(p.parent) for p in resolved.values()]))
    return raw, {role: p.relative_to(raw).as_posix() for role, p in resolved.items()}


class Entities:
    """The ids of items (or users) and their attribute values, row ``i`` for index ``i``.

    Args:
        kind: ``"item"`` or ``"user"`` (for messages).
        closed: a table listed the ids; an id found elsewhere is a bad row.
    """

    def __init__(self, kind: str, closed: bool = False) -> None:
        self.kind = kind
        self.closed = closed
        self.ids = IdIndex()
        self.values: dict[str, list[Any]] = {}  # depot column -> one value per row (table columns)
        self.carried: dict[str, dict[int, Any]] = {}  # depot column -> first value per index (interaction rows)

    def column_values(self, name: str, empty: Any) -> list[Any]:
        """One value per id of a table column or a column carried by the interactions."""
        if name in self.values:
            return self.values[name]
        carried = self.carried.get(name, {})
        return [carried.get(i, empty) for i in range(len(self.ids))]


def _convert(role: str, value: Any, separator: str) -> Any:
    if role == "text":
        return cell.text(value)
    if role == "tags":
        return cell.tags(value, separator)
    return cell.category(value)


def read_table(
    path: Path, spec: TableSpec, errors: RowErrors, kind: str, plan: list[tuple[str, str, str, str]]
) -> Entities:
    """An items or users table: ids in file order and the attribute columns of ``plan``."""
    mine = [(source, role, name) for table, source, role, name in plan if table == f"{kind}s"]
    source_file = SourceFile(path, spec, errors, expected=f"one row per {kind}: {spec.id} and its attributes")
    source_file.require([spec.id, *(s for s, _, _ in mine)], f"{kind}s.id or {kind}s.columns")
    entities = Entities(kind, closed=True)
    for _, _, name in mine:
        entities.values[name] = []
    seen = [False] * len(mine)
    for number, row in source_file.rows([spec.id, *(s for s, _, _ in mine)]):
        ident = cell.id_text(row[0])
        if ident is None:
            errors.bad(path, number, f"no {kind} id in column {spec.id!r}", source_file.expected)
            continue
        if ident in entities.ids:
            errors.bad(path, number, f"{kind} {ident!r} is listed twice (its first row is kept)", f"one row per {kind}")
            continue
        entities.ids.add(ident)
        for k, ((_, role, name), value) in enumerate(zip(mine, row[1:], strict=True)):
            seen[k] = seen[k] or value is not None
            entities.values[name].append(_convert(role, value, spec.list_separator))
    _check_seen(path, spec, [s for s, _, _ in mine], seen)
    if not len(entities.ids):
        raise DataError(f"{path}: no {kind} rows were read (skipped rows: {errors.counts}); check the file")
    return entities


def _check_seen(path: Path, spec: FileSpec, columns: list[str], seen: list[bool]) -> None:
    """JSON lines: a column of the spec that no row has is a typo, not an empty attribute."""
    if spec.format == "jsonl":
        never = [c for c, s in zip(columns, seen, strict=True) if not s]
        if never:
            raise DataError(
                f"{path}: no row has a value for {', '.join(map(repr, never))}; check the column names in the spec"
            )


class _Interactions:
    """What the interactions file gives: the event log, given split levels, row counts."""

    def __init__(self, items: Entities, users: Entities) -> None:
        self.items = items
        self.users = users
        self.log = EventLog(persons=users.ids, items=items.ids)
        self.levels = array("b")
        self.rows = 0


def read_interactions(
    path: Path,
    spec: ImportSpec,
    errors: RowErrors,
    items: Entities,
    users: Entities,
    plan: list[tuple[str, str, str, str]],
    names: Mapping[str, str],
) -> _Interactions:
    """The interactions in file order into an event log (time in microseconds, or the row position)."""
    i = spec.interactions
    expected = (
        f"one row per interaction with {i.user} and {i.item}"
        + (f", a numeric {i.rating}" if spec.label_rule == "threshold" else "")
        + (f", a 0/1 {i.label}" if spec.label_rule == "column" else "")
        + (f", {i.timestamp} as {TIME_WORDS.get(i.timestamp_format, repr(i.timestamp_format))}" if i.timestamp else "")
    )
    source = SourceFile(path, i, errors, expected=expected)
    carried = [(table, s, role, name) for table, s, role, name in plan if table.startswith("interactions")]
    keys = {
        "user": i.user,
        "item": i.item,
        "rating": i.rating if spec.label_rule == "threshold" else "",
        "label": i.label if spec.label_rule == "column" else "",
        "timestamp": i.timestamp,
        "split": i.split if spec.split_rule == "column" else "",
    }
    wanted = [c for c in keys.values() if c] + [s for _, s, _, _ in carried]
    source.require(wanted, "the interactions table")
    at = {key: wanted.index(c) for key, c in keys.items() if c}
    out = _Interactions(items, users)
    for table, _, _, name in carried:
        (items if table == "interactions.item_columns" else users).carried.setdefault(name, {})
    seen = [False] * len(carried)
    for number, row in source.rows(wanted):
        problem, values = _parse(row, at, spec)
        if problem is not None:
            errors.bad(path, number, problem, expected)
            continue
        user, item, value, seconds, level = values
        item_index, person = items.ids.get(item), users.ids.get(user)
        unlisted = [
            (kind, ident)
            for kind, ident, index, known in (("item", item, item_index, items), ("user", user, person, users))
            if index is None and known.closed
        ]
        if unlisted:  # checked before either id is added, so a bad row adds no item and no user
            kind, ident = unlisted[0]
            errors.bad(
                path,
                number,
                f"{kind} {ident!r} is not in the {kind}s table {names[kind + 's']}",
                f"a {kind} id listed in the {kind}s table",
            )
            continue
        item_index = items.ids.add(item) if item_index is None else item_index
        person = users.ids.add(user) if person is None else person
        time = out.rows if seconds is None else int(round(seconds * 1e6))
        out.log.add_indexed(person, item_index, time, value)
        out.levels.append(level)
        out.rows += 1
        for k, ((table, _, role, name), raw_value) in enumerate(zip(carried, row[len(at) :], strict=True)):
            seen[k] = seen[k] or raw_value is not None
            owner, index = (items, item_index) if table == "interactions.item_columns" else (users, person)
            store = owner.carried[name]
            if index not in store and raw_value is not None:  # the first row that has a value
                store[index] = _convert(role, raw_value, i.list_separator)
    _check_seen(path, i, [s for _, s, _, _ in carried], seen)
    return out


def _parse(row: list[Any], at: Mapping[str, int], spec: ImportSpec) -> tuple[str | None, tuple[Any, ...]]:
    """``(problem, (user, item, value, seconds, level))`` of one interaction row; problem is None when fine."""
    i = spec.interactions
    user, item = cell.id_text(row[at["user"]]), cell.id_text(row[at["item"]])
    if user is None or item is None:
        column = i.user if user is None else i.item
        return f"no {'user' if user is None else 'item'} id in column {column!r}", ()
    value: float | None = 1.0
    if "rating" in at:
        value = cell.number(row[at["rating"]])
        if value is None:
            return f"rating {row[at['rating']]!r} in column {i.rating!r} is not a number", ()
    elif "label" in at:
        value = cell.label(row[at["label"]])
        if value is None:
            return f"label {row[at['label']]!r} in column {i.label!r} is not 0/1, true/false or yes/no", ()
    seconds = None
    if "timestamp" in at:
        seconds = cell.seconds(row[at["timestamp"]], i.timestamp_format)
        if seconds is None:
            what = TIME_WORDS.get(i.timestamp_format, f"in the format {i.timestamp_format!r}")
            return (
                f"timestamp {row[at['timestamp']]!r} in column {i.timestamp!r} is not {what}; set "
                "interactions.timestamp_format",
                (),
            )
        if abs(seconds) > MAX_SECONDS:
            return (
                f"timestamp {row[at['timestamp']]!r} in column {i.timestamp!r} is after the year 30,000 as "
                f"{TIME_WORDS.get(i.timestamp_format, 'a time')}: milliseconds or microseconds? set "
                "interactions.timestamp_format",
                (),
            )
    level = 0
    if "split" in at:
        found = cell.split_level(row[at["split"]])
        if found is None:
            return f"split {row[at['split']]!r} in column {i.split!r} is not train, valid or test", ()
        level = found
    return None, (user, item, value, seconds, level)


class ImportProcessor(Processor):
    """A user's interactions (+ items and users tables) under an :class:`ImportSpec`."""

    name = "import"
    description = "Your own interactions file (+ items and users tables) under an import spec: lego data import."
    files = ()
    Options = ImportOptions

    def expected_files(self, raw: Path) -> list[RawFile]:
        o: ImportOptions = self.options
        given = (
            ("interactions", o.interactions, o.spec.interactions),
            ("items", o.items, o.spec.items),
            ("users", o.users, o.spec.users),
        )
        return [
            RawFile(name, f"your {role} file ({spec.format})", "the command line of lego data import")
            for role, name, spec in given
            if name and spec is not None
        ]

    def build(self, raw: Path) -> DepotContent:
        o: ImportOptions = self.options
        spec = o.spec
        raw = Path(raw)
        errors = RowErrors(raw, spec.skip_bad_rows)
        plan = attribute_plan(spec)
        names = {"items": o.items or "(none)", "users": o.users or "(none)"}
        items = (
            read_table(raw / o.items, spec.items, errors, "item", plan) if o.items and spec.items else Entities("item")
        )
        users = (
            read_table(raw / o.users, spec.users, errors, "user", plan) if o.users and spec.users else Entities("user")
        )
        read = read_interactions(raw / o.interactions, spec, errors, items, users, plan, names)
        ratings, notes = self._ratings(read)
        item_columns, user_columns, vocabs = _columns(items, users, plan, spec)
        info: dict[str, Any] = {
            "files": {k: getattr(o, k) for k in ("interactions", "items", "users") if getattr(o, k)},
            "interactions_read": read.rows,
            "label_rule": spec.label_rule,
            "split_rule": spec.split_rule,
            **notes,
            "skipped_rows": errors.counts,
        }
        return rating_depot(
            items=item_columns,
            vocabs=vocabs,
            persons=users.ids.ids,
            person_columns=user_columns,
            ratings=ratings,
            options=spec.rating_options(),
            info=info,
        )

    def _ratings(self, read: _Interactions) -> tuple[Ratings, dict[str, Any]]:
        spec = self.options.spec
        person, item, time, value = read.log.arrays()
        levels = np.frombuffer(read.levels, dtype=np.int8) if len(read.levels) else np.zeros(0, np.int8)
        notes: dict[str, Any] = {}
        if spec.dedupe != "none" and len(person):
            keep = _one_per_pair(person, item, time, latest=spec.dedupe == "last")
            notes["repeated_pairs_dropped"] = int(len(person) - len(keep))
            person, item, time, value, levels = person[keep], item[keep], time[keep], value[keep], levels[keep]
        if spec.interactions.timestamp:
            seconds = time / 1e6
            times = seconds.astype(np.int64) if np.all(seconds == np.floor(seconds)) else seconds
        else:
            times = np.asarray(time, dtype=np.int64)
            notes["time"] = "no timestamp column: the time is the row's position in the interactions file"
        label = (value >= spec.positive_threshold) if spec.label_rule == "threshold" else value > 0
        r = Ratings(
            person=np.asarray(person, dtype=np.int64),
            item=np.asarray(item, dtype=np.int64),
            time=times,
            label=label.astype(np.float32),
        )
        if spec.split_rule == "column":
            r = attrs.evolve(r, split=np.array(levels, dtype=np.int8))
        elif spec.split_rule == "random":
            r = attrs.evolve(r, split=random_split(r, spec.valid_fraction, spec.test_fraction, spec.seed))
        elif spec.split_rule == "leave_one_out":
            r = attrs.evolve(r, split=leave_one_out(r))
        return r, notes


def _columns(
    items: Entities, users: Entities, plan: list[tuple[str, str, str, str]], spec: ImportSpec
) -> tuple[dict[str, Column], dict[str, Column], dict[str, list[str]]]:
    """The items and users columns of the plan, text under one shared word vocabulary."""
    item_ids, item_vocab = id_column(items.ids.ids, "item_id")
    tables: dict[str, dict[str, Column]] = {"items": {"item_id": item_ids}, "users": {}}
    vocabs: dict[str, list[str]] = {"item_id": item_vocab}
    texts: dict[str, list[str]] = {}
    vocab_names = vocabulary_names(plan)
    for table, _, role, name in plan:
        owner = "users" if table == "users" or table == "interactions.user_columns" else "items"
        entities = users if owner == "users" else items
        if role == "text":
            texts[f"{owner}:{name}"] = entities.column_values(name, "")
        elif role == "tags":
            vocab = vocab_names[(owner, name)]
            tables[owner][name], vocabs[vocab] = token_list_column(entities.column_values(name, []), vocab)
        elif role == "category":
            vocab = vocab_names[(owner, name)]
            tables[owner][name], vocabs[vocab] = category_column(entities.column_values(name, None), vocab)
    if texts:
        columns, vocabs["words"] = text_columns(texts)
        for key, column in columns.items():
            owner, name = key.split(":", 1)
            tables[owner][name] = column
    return tables["items"], tables["users"], vocabs


def vocabulary_names(plan: list[tuple[str, str, str, str]]) -> dict[tuple[str, str], str]:
    """The vocabulary of each category or tags column: its name, prefixed with item_/user_ when taken."""
    taken = {"item_id", "user_id", "words"}
    out: dict[tuple[str, str], str] = {}
    for table, _, role, name in plan:
        if role not in ("category", "tags"):
            continue
        owner = "users" if table in ("users", "interactions.user_columns") else "items"
        vocab = name if name not in taken else f"{owner[:-1]}_{name}"
        taken.add(vocab)
        out[(owner, name)] = vocab
    return out
