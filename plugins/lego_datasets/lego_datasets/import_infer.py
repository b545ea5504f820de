"""Inferring a spec for ``lego data import`` from the files' names, headers and first rows.

The rules (also in ``docs/your-own-data.md``), applied to the first
:data:`SAMPLE_ROWS` rows of each file:

- Format: by extension (``.csv``, ``.tsv``/``.tab``, ``.jsonl``/``.ndjson``/``.json``,
  ``.parquet``/``.pq``, after ``.gz``/``.bz2``/``.xz``/``.zip``), else by content
  (parquet's ``PAR1`` magic, a first line starting with ``{``, else delimited).
  Delimited: the delimiter among ``,`` tab ``;`` ``|`` that splits every sampled
  line into the same number (> 1) of fields (the extension's own first); no
  header when the first line has numbers where the second has them too;
  UTF-8, else cp1252, else Latin-1.
- Roles by column name, compared lower-cased without ``_``, ``-``, spaces and
  dots (``userId`` = ``user_id``): :data:`USER_NAMES`, :data:`ITEM_NAMES`,
  :data:`RATING_NAMES` (numeric values), :data:`LABEL_NAMES` (0/1 values),
  :data:`TIME_NAMES` (Unix seconds, milliseconds when the median is above
  1e11, or ISO 8601), :data:`SPLIT_NAMES` (train/valid/test values). A column
  of ISO dates is a timestamp whatever its name. A table's id is the
  interactions' item (user) column name, else a name of the lists, else its
  first column.
- Other columns: lists (JSON, parquet), or strings where at least 10% hold
  ``|`` and the pieces are short (``,`` or ``;``: short and repeating): ``tags``; mostly
  distinct strings with spaces: ``text``; few distinct values (at most half as
  many as rows, more than one): ``category``; anything else (one value
  everywhere, ids, URLs, prices): ``skip``. In
  the interactions file an attribute constant per item is an item attribute,
  else one constant per user a user attribute, else skipped.
- Protocol: a label column gives ``label_rule = "column"``, else a rating
  ``"threshold"`` at 80% of the largest rating seen (4 on a 1-5 scale), else
  ``"all"`` with 100 sampled evaluation negatives; a split column gives
  ``split_rule = "column"``, else a timestamp ``"user_time"``, else ``"random"``.

Example:
    >>> from pathlib import Path
    >>> raw = Path(__file__).parents[1] / "tests" / "fixtures" / "import-basic"
    >>> data, notes = infer_spec({"interactions": raw / "ratings.csv", "items": raw / "movies.csv"})
    >>> i = data["interactions"]
    >>> i["user"], i["item"], i["rating"], i["timestamp"], data["label_rule"], data["positive_threshold"]
    ('user_id', 'item_id', 'rating', 'timestamp', 'threshold', 4.0)
    >>> data["items"]["id"], data["items"]["columns"]
    ('item_id', {'title': 'text', 'genres': 'tags', 'year': 'category'})
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections.abc import Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from lego_core.config.converter import structure_or_raise
from lego_core.errors import ConfigError
from lego_datasets import import_values as cell
from lego_datasets.import_read import DELIMITER_NAMES, SourceFile
from lego_datasets.import_spec import FileSpec
from lego_datasets.rawio import open_binary
from lego_datasets.reader import RowErrors

SAMPLE_ROWS = 2000
SNIFF_BYTES = 1 << 16
USER_NAMES = (
    "user",
    "userid",
    "uid",
    "username",
    "customer",
    "customerid",
    "custid",
    "client",
    "clientid",
    "member",
    "memberid",
    "account",
    "accountid",
    "visitor",
    "visitorid",
    "viewer",
    "viewerid",
    "reader",
    "readerid",
    "reviewer",
    "reviewerid",
    "person",
    "personid",
    "buyer",
    "buyerid",
    "player",
    "playerid",
    "listener",
    "listenerid",
    "subscriber",
    "subscriberid",
)
ITEM_NAMES = (
    "item",
    "itemid",
    "iid",
    "movie",
    "movieid",
    "film",
    "filmid",
    "asin",
    "parentasin",
    "product",
    "productid",
    "sku",
    "article",
    "articleid",
    "news",
    "newsid",
    "book",
    "bookid",
    "isbn",
    "song",
    "songid",
    "track",
    "trackid",
    "video",
    "videoid",
    "business",
    "businessid",
    "game",
    "gameid",
    "app",
    "appid",
    "hotel",
    "hotelid",
    "restaurant",
    "restaurantid",
    "recipe",
    "recipeid",
    "post",
    "postid",
    "doc",
    "docid",
    "document",
    "documentid",
    "content",
    "contentid",
    "course",
    "courseid",
    "poi",
    "poiid",
    "venue",
    "venueid",
    "artist",
    "artistid",
    "album",
    "albumid",
    "show",
    "showid",
    "anime",
    "animeid",
)
RATING_NAMES = ("rating", "ratings", "rate", "score", "stars", "star", "overall", "preference", "grade")
LABEL_NAMES = (
    "label",
    "click",
    "clicked",
    "isclick",
    "clicks",
    "target",
    "y",
    "liked",
    "like",
    "purchased",
    "converted",
    "conversion",
)
TIME_NAMES = (
    "timestamp",
    "time",
    "ts",
    "datetime",
    "date",
    "eventtime",
    "createdat",
    "created",
    "unixreviewtime",
    "reviewtime",
    "ratedat",
    "watchedat",
    "clicktime",
)
SPLIT_NAMES = ("split", "fold", "set", "partition", "subset", "phase")
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
READING_KEYS = ("format", "delimiter", "quote", "header", "names", "encoding")
ROLE_KEYS = ("user", "item", "rating", "label", "timestamp", "split")  # interactions keys that name a column


def normalized(name: str) -> str:
    """``userId``, ``user_id``, ``User ID`` -> ``userid``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def present(values: Sequence[Any]) -> list[Any]:
    return [x for x in values if x is not None and x != "" and x != []]


# ------------------------------------------------------------------------------------------ reading a file


def _extension(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zip"):
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _head_lines(path: Path) -> list[bytes]:
    """The first complete lines of the (decompressed) file, BOM and line ends removed, blank ones dropped."""
    with open_binary(path) as handle:
        chunk = handle.read(SNIFF_BYTES)
        complete = len(chunk) < SNIFF_BYTES
    if chunk.startswith(b"\xef\xbb\xbf"):
        chunk = chunk[3:]
    lines = chunk.split(b"\n")
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    return [line.rstrip(b"\r") for line in lines if line.strip()]


def _encoding(lines: list[bytes]) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            for line in lines:
                line.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _fields(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration):  # an unreadable line is one field: it votes for no delimiter
        return [line]


def infer_reading(path: Path, hints: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """How to read ``path``: format and, for delimited text, delimiter, quote, header, names, encoding."""
    notes: dict[str, str] = {}
    ext = _extension(path)
    with open(path, "rb") as handle:
        magic = handle.read(4)
    fmt = hints.get("format") or EXTENSIONS.get(ext) or ("parquet" if magic == b"PAR1" else "")
    if fmt == "parquet":
        return {"format": "parquet", **{k: hints[k] for k in READING_KEYS if k in hints}}, notes
    lines = _head_lines(path)
    if not lines:
        return {"format": fmt or "csv", **{k: hints[k] for k in READING_KEYS if k in hints}}, notes
    encoding = hints.get("encoding") or _encoding(lines)
    if encoding != "utf-8" and "encoding" not in hints:
        notes["encoding"] = "the first lines are not valid UTF-8"
    text = [line.decode(encoding, errors="replace") for line in lines[:50]]
    if not fmt:
        fmt = "jsonl" if text[0].lstrip().startswith("{") else ""
    if fmt == "jsonl":
        return {"format": "jsonl", "encoding": encoding, **{k: hints[k] for k in READING_KEYS if k in hints}}, notes
    delimiter = hints.get("delimiter") or _sniff(text, {"csv": ",", "tsv": "\t"}.get(fmt, ","), notes, path)
    delimiter = "\t" if delimiter == "\\t" else delimiter  # typed as \t on a command line
    if not fmt or (fmt == "csv" and delimiter == "\t"):
        fmt = "tsv" if delimiter == "\t" else "csv"
    quote = hints.get("quote", '"' if delimiter != "\t" or any(f.startswith('"') for f in text[0].split("\t")) else "")
    first, second = _fields(text[0], delimiter), (_fields(text[1], delimiter) if len(text) > 1 else [])
    numeric = [cell.number(f) is not None for f in first]
    header = hints.get("header", not (any(numeric) and numeric == [cell.number(f) is not None for f in second]))
    reading: dict[str, Any] = {
        "format": fmt,
        "delimiter": delimiter,
        "quote": quote,
        "header": header,
        "encoding": encoding,
    }
    if not header:
        reading["names"] = hints.get("names") or [f"column_{i + 1}" for i in range(len(first))]
        if "names" not in hints:
            notes["header"] = "the first line holds data, not names: name the columns with names = [...]"
    return reading, notes


def _sniff(lines: list[str], preferred: str, notes: dict[str, str], path: Path) -> str:
    """The delimiter that splits every sampled line into the same number (> 1) of fields."""
    consistent = {}
    for delimiter in dict.fromkeys([preferred, *DELIMITER_NAMES]):
        counts = {len(_fields(line, delimiter)) for line in lines}
        if len(counts) == 1 and min(counts) > 1:
            consistent[delimiter] = counts.pop()
    if not consistent:
        return preferred
    chosen = preferred if preferred in consistent else max(consistent, key=lambda d: consistent[d])
    if chosen != preferred:
        notes["delimiter"] = (
            f"{path.name} is separated by {DELIMITER_NAMES[chosen]} "
            f"({consistent[chosen]} fields a line), not {DELIMITER_NAMES.get(preferred, preferred)}"
        )
    return chosen


def sample(
    path: Path, reading: Mapping[str, Any], table: str, hinted: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, list[Any]]]:
    """The column names and the first :data:`SAMPLE_ROWS` values of each column (bad rows left out).

    ``hinted`` maps spec keys to the columns ``--set`` named (``{"interactions.user": "uid"}``): a
    column the file lacks is a :class:`DataError` now, before inference reads it.
    """
    spec = structure_or_raise(dict(reading), FileSpec, f"$.{table}", source="--set")  # a hint may be wrong
    source = SourceFile(path, spec, RowErrors(path.parent, skip=True))
    for key, column in (hinted or {}).items():
        source.require([column], f"{key} (given by --set)")
    columns = source.columns
    values: dict[str, list[Any]] = {c: [] for c in [*source.columns, *(hinted or {}).values()]}  # JSON: maybe unseen
    for _, row in islice(source.rows(columns), SAMPLE_ROWS):
        for column, value in zip(columns, row, strict=True):
            values[column].append(_hashable(value))
    return columns, values


def _hashable(value: Any) -> Any:
    """A JSON or parquet object as its JSON text, so that inference can count distinct values.

    Example:
        >>> _hashable({"b": 1, "a": [2]}), _hashable(["x", {"y": 1}])
        ('{"a": [2], "b": 1}', ['x', '{"y": 1}'])
    """
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (list, tuple)):
        return [json.dumps(x, sort_keys=True, default=str) if isinstance(x, (dict, list, tuple)) else x for x in value]
    return value


# -------------------------------------------------------------------------------------------- column roles


def by_name(columns: Sequence[str], names: Sequence[str], taken: set[str], check: Any = None) -> str:
    """The first column (in the priority of ``names``) whose normalized name is listed and whose values pass."""
    index = {normalized(c): c for c in reversed(columns) if c not in taken}
    for name in names:
        column = index.get(name)
        if column is not None and (check is None or check(column)):
            return column
    return ""


def time_format(values: Sequence[Any]) -> str:
    """``unix``, ``unix_ms`` or ``iso`` when every sampled value reads as one, else ``""``."""
    found = present(values)
    if not found:
        return ""
    if all(hasattr(x, "year") for x in found):  # parquet dates and timestamps
        return "iso"
    numbers = [cell.number(x) for x in found]
    if all(n is not None for n in numbers):
        return "unix_ms" if statistics.median(n for n in numbers if n is not None) > 1e11 else "unix"
    texts = [str(x) for x in found]
    if all("-" in t and cell.seconds(t, "iso") is not None for t in texts):
        return "iso"
    return ""


def classify(values: Sequence[Any], delimiter: str) -> tuple[str, str, str]:
    """``(role, note, list separator)`` of an attribute column from its sampled values."""
    found = present(values)
    if not found:
        return "skip", "empty in the sampled rows", ""
    if any(isinstance(x, (list, tuple)) for x in found):
        values_seen = {p for x in found for p in cell.tags(x, "|")}
        return "tags", f"lists, {len(values_seen):,} distinct values", ""
    strings = [str(cell.category(x) or "") for x in found]
    n, distinct = len(strings), len(set(strings))
    if distinct == 1 and n > 1:
        return "skip", f"the same value ({strings[0][:30]!r}) in every sampled row", ""
    numeric = all(cell.number(x) is not None for x in found)
    if not numeric:
        for separator in (s for s in ("|", ",", ";") if s != delimiter):
            if sum(separator in s for s in strings) < 0.1 * n:
                continue
            pieces = [p.strip() for s in strings for p in s.split(separator) if p.strip()]
            short = (
                bool(pieces)
                and statistics.mean(len(p) for p in pieces) <= 25
                and statistics.mean(len(p.split()) for p in pieces) <= 3
            )
            # a pipe rarely occurs in prose; a comma or semicolon does, so those pieces must also repeat
            if short and (separator == "|" or len(set(pieces)) <= 0.5 * len(pieces)):
                return "tags", f"values split by {separator!r}, {len(set(pieces)):,} distinct", separator
        spaced = sum(" " in s for s in strings) / n
        if spaced >= 0.5 and distinct > 0.5 * n:
            words = statistics.mean(len(s.split()) for s in strings)
            return "text", f"{distinct:,} distinct of {n:,}, {words:.1f} words on average", ""
    if distinct <= 0.5 * n:
        return "category", f"{distinct:,} distinct values in {n:,} rows", ""
    kind = "numbers" if numeric else "strings"
    return (
        "skip",
        (f"{kind} with {distinct:,} distinct values in {n:,} rows (an id? a price?): set category to keep it"),
        "",
    )


def _first_values(values: Sequence[Any], ids: Sequence[Any]) -> tuple[list[Any], bool, bool]:
    """``(first value per id, constant within every id, some id has two values)``."""
    first: dict[Any, Any] = {}
    constant, repeated = True, False
    for raw_id, value in zip(ids, values, strict=True):
        ident = cell.id_text(raw_id)  # as the import reads it: 7 is "7", a JSON list is no id
        if value is None or ident is None:
            continue
        if ident in first:
            repeated = True
            constant = constant and first[ident] == value
        else:
            first[ident] = value
    return list(first.values()), constant, repeated


def _owner(values: Sequence[Any], items: Sequence[Any], users: Sequence[Any]) -> tuple[str, list[Any]]:
    """``("item" | "user" | "", first value per id)``: the id the column's value depends on.

    Constant per item wins unless only the user side has the repeats to show it; a sample
    without repeats of either is taken as an item attribute.
    """
    by_item, item_constant, item_repeated = _first_values(values, items)
    by_user, user_constant, user_repeated = _first_values(values, users)
    if item_constant and (item_repeated or not (user_constant and user_repeated)):
        return "item", by_item
    if user_constant:
        return "user", by_user
    return "", []


def infer_interactions(
    columns: list[str],
    values: dict[str, list[Any]],
    reading: Mapping[str, Any],
    hints: Mapping[str, Any],
    notes: dict[str, str],
) -> tuple[dict[str, Any], list[float]]:
    """The interactions table of the spec (reading keys, roles, carried attributes) and the sampled ratings."""
    spec: dict[str, Any] = dict(reading)
    taken = {hints[k] for k in ROLE_KEYS if hints.get(k)}

    def numeric(column: str) -> bool:
        found = present(values[column])
        return bool(found) and all(cell.number(x) is not None for x in found)

    def of(check: Any) -> Any:
        return lambda column: (
            bool(present(values[column])) and all(check(x) is not None for x in present(values[column]))
        )

    finders = {
        "user": (USER_NAMES, None),
        "item": (ITEM_NAMES, None),
        "rating": (RATING_NAMES, numeric),
        "label": (LABEL_NAMES, of(cell.label)),
        "timestamp": (TIME_NAMES, lambda c: bool(time_format(values[c]))),
        "split": (SPLIT_NAMES, of(cell.split_level)),
    }
    for key, (names, check) in finders.items():
        if key in hints:
            spec[key] = hints[key]
            continue
        spec[key] = by_name(columns, names, taken, check)
        if not spec[key] and key == "timestamp":  # ISO dates under any name
            spec[key] = next((c for c in columns if c not in taken and time_format(values[c]) == "iso"), "")
        taken.add(spec[key])
        if spec[key] and key in ("user", "item"):
            distinct = {cell.id_text(x) for x in values[spec[key]]} - {None}  # ids as the import reads them
            notes[f"interactions.{key}"] = f"{len(distinct):,} distinct in the sampled rows"
    for key in ("user", "item"):
        if not spec[key]:
            notes[f"interactions.{key}"] = f"no column is named like a {key} id ({', '.join(columns)}): set it"
    if spec["timestamp"] and "timestamp_format" not in hints:
        spec["timestamp_format"] = time_format(values[spec["timestamp"]]) or "unix"
    ratings = (
        [n for x in present(values[spec["rating"]]) if (n := cell.number(x)) is not None] if spec["rating"] else []
    )
    if ratings:
        notes["interactions.rating"] = f"{min(ratings):g} to {max(ratings):g} in the sampled rows"
    item_columns: dict[str, str] = {}
    user_columns: dict[str, str] = {}
    separators: list[str] = []
    for column in columns:
        if column in taken:
            continue
        kind, per_entity = (
            ("item", values[column])
            if not (spec["item"] and spec["user"])
            else _owner(values[column], values[spec["item"]], values[spec["user"]])
        )
        target = item_columns if kind == "item" else user_columns
        if not kind:
            role, note = "skip", "varies within an item and within a user: a per-interaction value"
            target = item_columns
        else:
            role, note, separator = classify(per_entity, reading.get("delimiter", ""))
            separators += [separator] if separator else []
        target[column] = role
        notes[f"interactions.{kind or 'item'}_columns.{column}"] = note
    spec["item_columns"], spec["user_columns"] = item_columns, user_columns
    if separators:
        spec["list_separator"] = separators[0]
    return spec, ratings


def infer_table(
    kind: str,
    columns: list[str],
    values: dict[str, list[Any]],
    reading: Mapping[str, Any],
    hints: Mapping[str, Any],
    id_hint: str,
    notes: dict[str, str],
) -> dict[str, Any]:
    """An items or users table of the spec: its id column and the role of every other column."""
    table = f"{kind}s"
    spec: dict[str, Any] = dict(reading)
    names = ITEM_NAMES if kind == "item" else USER_NAMES
    spec["id"] = (
        hints.get("id")
        or (id_hint if id_hint in columns else "")
        or by_name(columns, names, set())
        or (columns[0] if columns else "")
    )
    if spec["id"] and "id" not in hints and spec["id"] != id_hint and not by_name(columns, names, set()):
        notes[f"{table}.id"] = "no column is named like an id: the first column was taken"
    spec["columns"] = {}
    separators = []
    for column in columns:
        if column == spec["id"]:
            continue
        role, note, separator = classify(values[column], reading.get("delimiter", ""))
        spec["columns"][column] = role
        notes[f"{table}.columns.{column}"] = note
        separators += [separator] if separator else []
    if separators:
        spec["list_separator"] = separators[0]
    return spec


def infer_spec(
    files: Mapping[str, Path], hints: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Spec data (for :func:`~lego_datasets.import_spec.structure_spec`) and a note per key saying why.

    Args:
        files: ``interactions`` and optionally ``items``, ``users``: their paths.
        hints: values the user set (``--set``), nested like the spec; inference keeps
            them and infers around them (a delimiter given is used to read the file).
    """
    hints = hints or {}
    notes: dict[str, str] = {}
    data: dict[str, Any] = {}
    ratings: list[float] = []
    for table in ("interactions", "items", "users"):
        if table not in files:
            continue
        path = Path(files[table])
        table_hints = hints.get(table, {}) if isinstance(hints.get(table), Mapping) else {}
        reading, reading_notes = infer_reading(path, table_hints)
        notes.update({f"{table}.{k}": note for k, note in reading_notes.items()})
        keys = [k for k in (ROLE_KEYS if table == "interactions" else ("id",)) if k in table_hints]
        for key in keys:  # inference indexes the sample by these: a number or a list must stop here
            if not isinstance(table_hints[key], str):
                value = table_hints[key]
                raise ConfigError(
                    f"--set: wrong type: got {type(value).__name__} {value!r}, expected a column "
                    f"name (str) @ $.{table}.{key}"
                )
        hinted = {f"{table}.{k}": table_hints[k] for k in keys if table_hints[k]}
        columns, values = sample(path, reading, table, hinted)
        if table == "interactions":
            data[table], ratings = infer_interactions(columns, values, reading, table_hints, notes)
        else:
            hint = data["interactions"].get("item" if table == "items" else "user", "")
            data[table] = infer_table(table[:-1], columns, values, reading, table_hints, hint, notes)
    i = data["interactions"]
    if i.get("label"):
        data["label_rule"] = "column"
    elif i.get("rating"):
        data["label_rule"] = "threshold"
        if ratings:
            data["positive_threshold"] = round(0.8 * max(ratings), 2)
            notes["positive_threshold"] = "80% of the largest rating seen: label 1 when rating >= this"
    else:
        data["label_rule"] = "all"
        data["eval_negatives"] = 100
        notes["label_rule"] = "no rating or label column: every interaction is a positive"
        notes["eval_negatives"] = "implicit data: 100 unseen items per user for valid and test, sampled once"
    data["split_rule"] = "column" if i.get("split") else ("user_time" if i.get("timestamp") else "random")
    if not i.get("timestamp") and not i.get("split"):
        notes["split_rule"] = "no timestamp column: a seeded random split per user"
    return data, notes
