"""Turning one cell of a user's file into an id, a number, a label, a time, a split or an attribute.

Cells come as strings (delimited text) or as JSON/parquet values (numbers,
booleans, lists, dates). Each parser returns ``None`` for a value it cannot
read; the importer turns that into a ``file:line`` error naming the column.

Example:
    >>> id_text(7.0), id_text(" 0042 "), number("4.5"), label("yes"), split_level("Validation")
    ('7', '0042', 4.5, 1.0, 1)
    >>> seconds("2024-03-01T12:00:00Z", "iso"), seconds("1700000000123", "unix_ms")
    (1709294400.0, 1700000000.123)
    >>> tags("Action| Comedy |Action", "|"), category(24.0)
    (['Action', 'Comedy'], '24')
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

TRUE = frozenset({"1", "1.0", "true", "t", "yes", "y"})
FALSE = frozenset({"0", "0.0", "false", "f", "no", "n"})
SPLIT_LEVELS = {"train": 0, "valid": 1, "validation": 1, "val": 1, "dev": 1, "test": 2}
UTC = datetime.timezone.utc


def id_text(value: Any) -> str | None:
    """An id as text: ``7`` and ``7.0`` are ``"7"``, strings are stripped (leading zeros kept)."""
    if type(value) is str:  # the common case first: every cell of a delimited file
        return value.strip() or None
    if value is None or isinstance(value, (list, dict)):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def number(value: Any) -> float | None:
    """A finite number, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def label(value: Any) -> float | None:
    """1.0 / 0.0 from 1/0, true/false, yes/no (any case), or None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    text = str(value).strip().lower() if value is not None else ""
    return 1.0 if text in TRUE else 0.0 if text in FALSE else None


def split_level(value: Any) -> int | None:
    """0/1/2 for train / valid (validation, val, dev) / test, any case; else None."""
    return SPLIT_LEVELS.get(str(value).strip().lower()) if value is not None else None


def seconds(value: Any, fmt: str) -> float | None:
    """Unix seconds of a time cell under ``fmt`` (unix, unix_ms, iso or a strptime pattern), or None.

    Native dates and date-times (parquet) are read whatever ``fmt`` says; a
    date-time without a time zone is UTC.
    """
    if isinstance(value, datetime.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if value is None:
        return None
    if fmt in ("unix", "unix_ms"):
        found = number(value)
        return None if found is None else (found / 1000.0 if fmt == "unix_ms" else found)
    text = str(value).strip()
    try:
        if fmt == "iso":
            parsed = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        else:
            parsed = datetime.datetime.strptime(text, fmt)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def text(value: Any) -> str:
    """A text cell: lists are joined with spaces, an object is its JSON text, a missing value is ``""``."""
    if value is None:
        return ""
    if isinstance(value, dict):  # a JSON object or a parquet struct: JSON, as inference judged it
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, (list, tuple)):
        return " ".join(str(x) for x in value if x is not None)
    return str(value).strip()


def category(value: Any) -> str | None:
    """A categorical cell as text (``24.0`` -> ``"24"``), or None when missing."""
    return id_text(value)


def tags(value: Any, separator: str) -> list[str]:
    """The values of a multi-valued cell: a list as is, a string split on ``separator``; repeats dropped."""
    if value is None:
        return []
    parts = value if isinstance(value, (list, tuple)) else str(value).split(separator)
    cleaned = (id_text(p) for p in parts)
    return list(dict.fromkeys(p for p in cleaned if p))
