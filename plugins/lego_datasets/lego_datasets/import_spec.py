"""The spec of ``lego data import``: which column of the user's files plays which role.

A spec is a small TOML file. ``lego data import`` infers one from the files
(:mod:`lego_datasets.import_infer`) and prints it; passed back with ``--spec``
it is the contract and nothing is inferred. The top-level keys are the
protocol (labels, splits, negatives, histories); ``[interactions]``,
``[items]`` and ``[users]`` say how to read each file and which column holds
what. The file names are not in the spec: they come from the command line, so
one spec serves every file of the same layout.

Example:
    >>> from lego_core.config.tomlio import loads_toml
    >>> spec = structure_spec({"interactions": {"format": "csv", "user": "u", "item": "i"},
    ...                        "label_rule": "all", "split_rule": "random"})
    >>> spec.interactions.separator, spec.split_rule, spec_problems(spec, has_items=False, has_users=False)
    (',', 'random', [])
    >>> print(render_spec(spec).splitlines()[5])
    label_rule = "all"  # threshold | all | column
    >>> structure_spec(loads_toml(render_spec(spec))) == spec
    True
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import validators as v

from lego_core.config.converter import structure_or_raise, unstructure
from lego_datasets.splits import RatingOptions, one_of, unit_fraction

SPEC_VERSION = 1
FORMATS = ("csv", "tsv", "jsonl", "parquet")
DEFAULT_DELIMITERS = {"csv": ",", "tsv": "\t"}
LABEL_RULES = ("threshold", "all", "column")
SPLIT_RULES = ("user_time", "global_time", "random", "leave_one_out", "column")
DEDUPE = ("none", "first", "last")
ROLES = ("text", "category", "tags", "skip")
TIME_FORMATS = ("unix", "unix_ms", "iso")
SPEC_DOCS = "plugins/lego_datasets/docs/your-own-data.md"


def _role_map(instance: object, attribute: attrs.Attribute, value: dict[str, str]) -> None:
    bad = {name: role for name, role in value.items() if role not in ROLES}
    if bad:
        raise ValueError(
            f"{attribute.name}: roles must be one of {', '.join(map(repr, ROLES))}, got "
            + ", ".join(f"{name} = {role!r}" for name, role in bad.items())
        )


def _encoding(instance: object, attribute: attrs.Attribute, value: str) -> None:
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"encoding {value!r} is not an encoding Python knows (e.g. utf-8, latin-1, cp1252)") from None


def _time_format(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value and value not in TIME_FORMATS and "%" not in value:
        raise ValueError(
            f"timestamp_format must be one of {', '.join(map(repr, TIME_FORMATS))} or a strptime "
            f"pattern such as '%d/%m/%Y %H:%M', got {value!r}"
        )


def _tab(value: str) -> str:
    r"""``\t`` typed on a command line (two characters) is a tab."""
    return "\t" if value == "\\t" else value


@attrs.define(kw_only=True, frozen=True)
class FileSpec:
    """How one file is read: its format and, for delimited text, its dialect."""

    format: str = attrs.field(
        validator=one_of(FORMATS),
        metadata={
            "doc": "csv, tsv (delimited text, plain or gzip/bzip2/xz/zip), jsonl (one JSON object a line) or parquet."
        },
    )
    delimiter: str = attrs.field(
        default="",
        converter=_tab,
        validator=v.instance_of(str),
        metadata={"doc": 'csv/tsv: the field separator; empty means "," for csv and a tab for tsv ("\\t" is a tab).'},
    )
    quote: str = attrs.field(
        default='"',
        validator=[v.instance_of(str), v.max_len(1)],
        metadata={
            "doc": 'csv/tsv: the quote character (a quoted field may hold separators and line breaks); "" for none.'
        },
    )
    header: bool = attrs.field(
        default=True, validator=v.instance_of(bool), metadata={"doc": "csv/tsv: the first line names the columns."}
    )
    names: list[str] = attrs.field(
        factory=list,
        validator=v.deep_iterable(v.instance_of(str)),
        metadata={"doc": "csv/tsv without a header: the column names, in order."},
    )
    encoding: str = attrs.field(
        default="utf-8",
        validator=[v.instance_of(str), _encoding],
        metadata={"doc": "csv/tsv/jsonl: the text encoding (a UTF-8 byte-order mark is always removed)."},
    )
    list_separator: str = attrs.field(
        default="|",
        validator=[v.instance_of(str), v.min_len(1)],
        metadata={
            "doc": 'What splits a "tags" value written as one string ("Action|Comedy"); lists in JSON/parquet need '
            "none."
        },
    )

    @property
    def separator(self) -> str:
        """The delimiter in effect."""
        return self.delimiter or DEFAULT_DELIMITERS.get(self.format, "")


@attrs.define(kw_only=True, frozen=True)
class InteractionsSpec(FileSpec):
    """The interactions file: one row per (user, item) event."""

    user: str = attrs.field(
        default="", validator=v.instance_of(str), metadata={"doc": "The column of the user id (required)."}
    )
    item: str = attrs.field(
        default="", validator=v.instance_of(str), metadata={"doc": "The column of the item id (required)."}
    )
    rating: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={"doc": 'The column of a numeric rating; label_rule = "threshold" reads it. Empty: none.'},
    )
    label: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={
            "doc": 'The column of an explicit 0/1 label (also true/false, yes/no); label_rule = "column". Empty: none.'
        },
    )
    timestamp: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={"doc": "The column of the event time. Empty: the row order is the time."},
    )
    timestamp_format: str = attrs.field(
        default="unix",
        validator=[v.instance_of(str), _time_format],
        metadata={
            "doc": "unix (seconds), unix_ms (milliseconds), iso (ISO 8601 dates or date-times; naive ones are UTC) "
            "or a strptime pattern with % codes. Native parquet dates and timestamps need none."
        },
    )
    split: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={
            "doc": "The column of a given split (train, valid or validation or val or dev, test); split_rule = "
            '"column".'
        },
    )
    item_columns: dict[str, str] = attrs.field(
        factory=dict,
        validator=_role_map,
        metadata={
            "doc": "Item attributes carried by the interaction rows: column -> text, category, tags or skip "
            "(an item takes the value of its first row that has one)."
        },
    )
    user_columns: dict[str, str] = attrs.field(
        factory=dict,
        validator=_role_map,
        metadata={
            "doc": "User attributes carried by the interaction rows: column -> role (a user takes the value of its "
            "first row that has one)."
        },
    )


@attrs.define(kw_only=True, frozen=True)
class TableSpec(FileSpec):
    """An items or users table: one row per id, with attribute columns."""

    id: str = attrs.field(
        default="",
        validator=v.instance_of(str),
        metadata={"doc": "The column of the id, the same ids as in the interactions (required)."},
    )
    columns: dict[str, str] = attrs.field(
        factory=dict,
        validator=_role_map,
        metadata={
            "doc": "Attribute columns: column -> text (words + the raw string), category (one value), "
            "tags (several values) or skip."
        },
    )


@attrs.define(kw_only=True, frozen=True)
class ImportSpec:
    """A whole spec: the protocol keys, then one table per file."""

    version: int = attrs.field(
        default=SPEC_VERSION, validator=v.in_((SPEC_VERSION,)), metadata={"doc": f"The spec format; {SPEC_VERSION}."}
    )
    label_rule: str = attrs.field(
        default="threshold",
        validator=one_of(LABEL_RULES),
        metadata={
            "doc": '"threshold": label 1 when rating >= positive_threshold, else 0; "all": every interaction is a '
            'positive; "column": the label column.'
        },
    )
    positive_threshold: float = attrs.field(
        default=4.0,
        validator=v.instance_of((int, float)),
        metadata={"doc": 'label_rule = "threshold": the smallest rating that is a positive.'},
    )
    split_rule: str = attrs.field(
        default="user_time",
        validator=one_of(SPLIT_RULES),
        metadata={
            "doc": '"user_time": each user\'s last interactions in time; "global_time": global time cut points; '
            '"random": a seeded random share of each user\'s; "leave_one_out": each user\'s last in test and '
            'the one before in valid; "column": the split column.'
        },
    )
    valid_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "user_time, global_time, random: the share of interactions (per user, or in time) in valid."},
    )
    test_fraction: float = attrs.field(
        default=0.1,
        validator=[v.instance_of((int, float)), unit_fraction],
        metadata={"doc": "user_time, global_time, random: the share of interactions in test."},
    )
    eval_negatives: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={
            "doc": "Items a user never interacted with, sampled once per user for valid and for test (label 0), "
            "seeded and stored in the depot; 0 samples none."
        },
    )
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": 'Seed of the sampled negatives and of split_rule = "random"; same seed, same depot.'},
    )
    max_history: int = attrs.field(
        default=50,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Most recent positives kept in a history row; 0 keeps all."},
    )
    context_size: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Train interactions per history row; 1 gives each its own history."},
    )
    dedupe: str = attrs.field(
        default="none",
        validator=one_of(DEDUPE),
        metadata={"doc": "Repeated (user, item) pairs: none keeps all, first/last keeps the earliest/latest."},
    )
    skip_bad_rows: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Skip malformed rows and count them in info.skipped_rows instead of failing."},
    )
    interactions: InteractionsSpec = attrs.field(metadata={"doc": "How to read the interactions file."})
    items: TableSpec | None = attrs.field(default=None, metadata={"doc": "How to read the --items table."})
    users: TableSpec | None = attrs.field(default=None, metadata={"doc": "How to read the --users table."})

    def rating_options(self) -> RatingOptions:
        """The options of the shared split protocol (:mod:`lego_datasets.splits`)."""
        return RatingOptions(
            positive_threshold=float(self.positive_threshold),
            max_history=self.max_history,
            split_by="time" if self.split_rule == "global_time" else "user",
            valid_fraction=float(self.valid_fraction),
            test_fraction=float(self.test_fraction),
            context_size=self.context_size,
            eval_negatives=self.eval_negatives,
            seed=self.seed,
            skip_bad_rows=self.skip_bad_rows,
        )


def structure_spec(data: Mapping[str, Any], source: str = "spec") -> ImportSpec:
    """A spec from TOML data; a wrong key or type is a :class:`~lego_core.errors.ConfigError` naming its path."""
    return structure_or_raise(dict(data), ImportSpec, "$", source=source)


def spec_data(spec: ImportSpec) -> dict[str, Any]:
    """The spec as plain TOML data (None tables left out)."""
    data: dict[str, Any] = unstructure(spec)
    return {key: value for key, value in data.items() if value is not None}


def spec_problems(spec: ImportSpec, *, has_items: bool, has_users: bool) -> list[str]:
    """What makes the spec unusable with the given files, each naming the key to set (empty when fine)."""
    problems: list[str] = []
    i = spec.interactions
    for key in ("user", "item"):
        if not getattr(i, key):
            problems.append(f"interactions.{key} is empty: name the column of the {key} id")
    needs = {
        "threshold": ("rating", 'label_rule = "threshold" needs a rating column'),
        "column": ("label", 'label_rule = "column" needs a label column'),
    }
    if spec.label_rule in needs and not getattr(i, needs[spec.label_rule][0]):
        key, why = needs[spec.label_rule]
        problems.append(f"{why}: set interactions.{key}, or another label_rule ({', '.join(LABEL_RULES)})")
    if spec.split_rule == "column" and not i.split:
        problems.append('split_rule = "column" needs interactions.split, the column of train/valid/test')
    if spec.split_rule in ("user_time", "global_time") and not i.timestamp:
        problems.append(
            f'split_rule = "{spec.split_rule}" needs interactions.timestamp; without times use '
            '"random" or "leave_one_out" (in file order)'
        )
    if spec.valid_fraction + spec.test_fraction >= 1:
        problems.append(
            f"valid_fraction + test_fraction must be below 1, got {spec.valid_fraction} + {spec.test_fraction}"
        )
    for table, given, flag in (("items", spec.items, has_items), ("users", spec.users, has_users)):
        if given is not None and not flag:
            problems.append(f"the spec has an [{table}] table but no --{table} FILE was given")
        if given is None and flag:
            problems.append(f"--{table} was given but the spec has no [{table}] table (format, id, columns)")
        if given is not None and not given.id:
            problems.append(f"{table}.id is empty: name the column of the id")
    for name, f in (("interactions", i), ("items", spec.items), ("users", spec.users)):
        if f is not None:
            problems.extend(_file_problems(name, f))
    problems.extend(_role_clashes(spec))
    problems.extend(_name_clashes(spec))
    return problems


def _file_problems(name: str, f: FileSpec) -> list[str]:
    problems = []
    delimited = f.format in ("csv", "tsv")
    if delimited and not f.header and not f.names:
        problems.append(f"{name}.header = false needs {name}.names, the column names in order")
    if delimited and f.header and f.names:
        problems.append(f"{name}.names is for files without a header; with header = true the header names them")
    if delimited and len(f.separator) > 1 and f.quote:
        problems.append(
            f'{name}.delimiter {f.separator!r} has several characters: set {name}.quote = "" '
            "(quoting works with one-character delimiters only)"
        )
    if delimited and f.quote and f.quote == f.separator:
        problems.append(f"{name}.quote and {name}.delimiter are both {f.quote!r}")
    if not delimited and (f.delimiter or not f.header or f.names):
        problems.append(f"{name}: delimiter, header and names are for csv/tsv files, not {f.format}")
    return problems


def _role_clashes(spec: ImportSpec) -> list[str]:
    """A column named for two roles of one file."""
    problems = []
    i = spec.interactions
    keyed = {
        "user": i.user,
        "item": i.item,
        "rating": i.rating,
        "label": i.label,
        "timestamp": i.timestamp,
        "split": i.split,
    }
    files: list[tuple[str, dict[str, str], list[dict[str, str]]]] = [
        ("interactions", {k: c for k, c in keyed.items() if c}, [i.item_columns, i.user_columns])
    ]
    for name, table in (("items", spec.items), ("users", spec.users)):
        if table is not None:
            files.append((name, {"id": table.id} if table.id else {}, [table.columns]))
    for name, roles, attribute_maps in files:
        uses: dict[str, list[str]] = {}
        for key, column in roles.items():
            uses.setdefault(column, []).append(f"{name}.{key}")
        for attributes in attribute_maps:
            for column, role in attributes.items():
                if role != "skip":
                    uses.setdefault(column, []).append(f"an attribute ({role})")
        for column, keys in uses.items():
            if len(keys) > 1:
                problems.append(f"{name}: column {column!r} is named twice ({' and '.join(keys)}); give it one role")
    return problems


def depot_name(column: str) -> str:
    """The depot column of a file's column: characters other than ASCII letters, digits and _ become _.

    Example:
        >>> depot_name("Movie Title"), depot_name("2nd-genre")
        ('Movie_Title', 'c_2nd_genre')
    """
    name = re.sub(r"[^0-9A-Za-z_]", "_", column)
    return name if name and not name[0].isdigit() else f"c_{name}"


def attribute_plan(spec: ImportSpec) -> list[tuple[str, str, str, str]]:
    """``(table, column, role, depot column)`` of every attribute that is not skipped.

    ``table`` is ``items``, ``interactions.item_columns``, ``users`` or
    ``interactions.user_columns``; the first two become item columns, the others user columns.
    """
    sources = [
        ("items", spec.items.columns if spec.items else {}),
        ("interactions.item_columns", spec.interactions.item_columns),
        ("users", spec.users.columns if spec.users else {}),
        ("interactions.user_columns", spec.interactions.user_columns),
    ]
    return [
        (table, column, role, depot_name(column))
        for table, columns in sources
        for column, role in columns.items()
        if role != "skip"
    ]


def _name_clashes(spec: ImportSpec) -> list[str]:
    """Two attributes that would write one depot column, or one that takes a reserved name."""
    problems = []
    reserved = {"items": {"item_id"}, "users": {"user_id", "history"}}
    written: dict[str, dict[str, str]] = {"items": {}, "users": {}}
    for table, column, role, name in attribute_plan(spec):
        owner = "users" if table in ("users", "interactions.user_columns") else "items"
        for depot in (name, f"{name}_text") if role == "text" else (name,):
            where = f"{table}.{_key(column)}" if table.startswith("interactions") else f"{table}.columns.{_key(column)}"
            if depot in reserved[owner]:
                problems.append(
                    f'{where}: the depot\'s {owner} table keeps {depot!r} for itself; set the column to "skip"'
                )
            elif depot in written[owner]:
                problems.append(
                    f"{where} and {written[owner][depot]} would both write the {owner} column "
                    f"{depot!r}; skip one of them"
                )
            else:
                written[owner][depot] = where
    return problems


# ---------------------------------------------------------------------------------------------------- TOML text

KEY_HINTS = {
    "label_rule": " | ".join(LABEL_RULES),
    "split_rule": " | ".join(SPLIT_RULES),
    "dedupe": " | ".join(DEDUPE),
    "format": " | ".join(FORMATS),
    "timestamp_format": "unix | unix_ms | iso | a strptime pattern",
    "eval_negatives": "sampled once per user for valid and test, stored",
}
PROTOCOL_KEYS = tuple(f.name for f in attrs.fields(ImportSpec) if f.name not in ("interactions", "items", "users"))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # a JSON string is a TOML basic string (DEL aside)
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_value(x) for x in value) + "]"
    raise TypeError(f"cannot write {value!r} in a spec")


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _line(key: str, value: Any, note: str) -> str:
    text = f"{_key(key)} = {_value(value)}"
    return f"{text}  # {' '.join(note.split())}" if note else text


def render_spec(
    spec: ImportSpec, notes: Mapping[str, str] | None = None, sources: Mapping[str, str] | None = None
) -> str:
    """The spec as commented TOML that :func:`structure_spec` reads back to the same spec.

    Args:
        spec: the spec.
        notes: a comment per dotted key (``"interactions.user"``): what inference saw.
        sources: file name per table, named in the heading comments.
    """
    notes = notes or {}
    sources = sources or {}
    data = spec_data(spec)
    lines = [
        f"# lego data import spec, version {SPEC_VERSION}"
        + (f" (inferred from {', '.join(sources.values())})" if sources else ""),
        "# Edit it and pass it back with --spec FILE: nothing is inferred then.",
        f"# Every key: {SPEC_DOCS}",
        "",
    ]
    for key in PROTOCOL_KEYS:
        lines.append(_line(key, data[key], notes.get(key, KEY_HINTS.get(key, ""))))
    for table in ("interactions", "items", "users"):
        if table not in data:
            continue
        lines += ["", f"[{table}]" + (f"  # {sources[table]}" if table in sources else "")]
        body = dict(data[table])
        delimited = body["format"] in ("csv", "tsv")
        for key, value in body.items():
            if isinstance(value, dict) or (not delimited and key in ("delimiter", "quote", "header", "names")):
                continue
            if key == "names" and not value:
                continue
            lines.append(_line(key, value, notes.get(f"{table}.{key}", KEY_HINTS.get(key, ""))))
        for key, value in body.items():
            if isinstance(value, dict) and value:
                lines += ["", f"[{table}.{key}]"]
                lines += [
                    _line(column, role, notes.get(f"{table}.{key}.{column}", "")) for column, role in value.items()
                ]
    return "\n".join(lines) + "\n"
