"""Reading a user's file for ``lego data import``: delimited text, JSON lines or parquet, row by row.

:class:`SourceFile` opens one file under its :class:`~lego_datasets.import_spec.FileSpec`
and yields ``(line, values)`` for the columns asked for, in that order, with
missing values as ``None``. Delimited text goes through :mod:`csv` (so a
quoted field may hold the delimiter and line breaks) over
:func:`lego_datasets.reader.read_lines` (compressed files, BOM, CRLF, a bad
byte named by its line); JSON lines through
:func:`~lego_datasets.reader.read_json_lines`; parquet through pyarrow,
imported only here. For parquet the "line" of an error is the row number
(1-based). A malformed row goes to :class:`~lego_datasets.reader.RowErrors`
(raise, or count with ``skip_bad_rows``); a missing column is always an error.

Example:
    >>> import tempfile, pathlib
    >>> from lego_datasets.import_spec import FileSpec
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = path.write_text('user,item,title\\n1,10,"Up, up and away"\\n2,11,NA\\n')
    >>> source = SourceFile(path, FileSpec(format="csv"), RowErrors(path.parent, skip=False))
    >>> source.columns, list(source.rows(["item", "title"]))
    (['user', 'item', 'title'], [(2, ['10', 'Up, up and away']), (3, ['11', None])])
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lego_core.errors import DataError
from lego_datasets.import_spec import FileSpec
from lego_datasets.reader import RowErrors, read_json_lines, read_lines

PARQUET_HINT = "pip install 'lego-datasets[parquet]'"
MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL"})  # what pandas and R write for a missing value
MAX_RECORD_LINES = 1000  # a quoted field spanning more lines is a quote that is never closed
PARQUET_BATCH = 65536
DELIMITER_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "pipes"}


def parquet_module(path: Path) -> Any:
    """``pyarrow.parquet``, imported on first use; a :class:`DataError` naming the extra when it is missing."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading parquet needs pyarrow, the reference reader of the format: {PARQUET_HINT}"
        ) from None
    return pq


class _Runaway(Exception):
    """A record grew past MAX_RECORD_LINES lines."""


def _delimited(path: Path, f: FileSpec, errors: RowErrors, expected: str) -> Iterator[tuple[int, list[str]]]:
    """Records of a delimited file as ``(first line, fields)``, the header included."""
    sep = f.separator
    if len(sep) > 1 or not f.quote:  # no quoting: a record is a line
        for number, line in read_lines(path, errors, encoding=f.encoding):
            yield number, line.split(sep)
        return
    start: list[int] = []  # the first line of the record being parsed, and how many lines it has taken

    def feed() -> Iterator[str]:
        for number, line in read_lines(path, errors, encoding=f.encoding):
            if not start:
                start.extend((number, 0))
            start[1] += 1
            if start[1] > MAX_RECORD_LINES:
                raise _Runaway
            yield line + "\n"

    reader = csv.reader(feed(), delimiter=sep, quotechar=f.quote, strict=True)
    while True:
        start.clear()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except (_Runaway, csv.Error) as err:
            at = start[0] if start else 0
            if isinstance(err, csv.Error) and "end of data" not in str(err).lower():
                errors.bad(path, at, f"unreadable {f.format.upper()} ({err})", expected)
                continue
            # a quote that is never closed swallows the rest of the file: never skipped
            within = f"within {MAX_RECORD_LINES:,} lines" if isinstance(err, _Runaway) else "before the end"
            raise DataError(
                f"{path}:{at}: a quoted field opened on this line is not closed {within}; if the "
                f'file does not quote fields, set quote = "" in its table of the spec'
            ) from None
        yield start[0], fields


def sniff_delimiter(line: str) -> str | None:
    """The delimiter among commas, tabs, semicolons and pipes that splits ``line`` into the most fields."""
    counts = {d: len(next(csv.reader([line], delimiter=d))) for d in DELIMITER_NAMES}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 1 else None


class SourceFile:
    """One user file under its spec: its column names and its rows.

    Args:
        path: the file.
        spec: how to read it.
        errors: where malformed rows go.
        expected: the row format quoted in errors (default: from the spec).
    """

    def __init__(self, path: Path, spec: FileSpec, errors: RowErrors, expected: str = "") -> None:
        self.path = Path(path)
        self.spec = spec
        self.errors = errors
        self.expected = expected or (
            f"{spec.format} with the columns of the spec"
            if spec.format != "csv"
            else f"CSV separated by {spec.separator!r}"
        )
        self._header_fields: list[str] = []
        self.columns = self._columns()

    # ---------------------------------------------------------------------------------------- columns

    def _columns(self) -> list[str]:
        f = self.spec
        if f.format == "parquet":
            try:
                schema = parquet_module(self.path).read_schema(self.path)
            except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
                raise DataError(f"{self.path}: not a readable parquet file ({err})") from None
            return list(schema.names)
        if f.format == "jsonl":
            seen: dict[str, None] = {}
            quiet = RowErrors(self.errors.raw, skip=True)
            for count, (_, obj) in enumerate(read_json_lines(self.path, quiet, expected=self.expected)):
                seen.update(dict.fromkeys(obj))
                if count >= 1000:
                    break
            return list(seen)
        if not f.header:
            return list(f.names)
        first = next(_delimited(self.path, f, RowErrors(self.errors.raw, skip=True), self.expected), None)
        if first is None:
            raise DataError(f"{self.path}: the file is empty; expected a header line naming the columns")
        self._header_fields = first[1]
        names = [name.strip() or f"column_{i + 1}" for i, name in enumerate(first[1])]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DataError(
                f"{self.path}:{first[0]}: the header names {', '.join(map(repr, repeated))} more than "
                "once; rename the columns"
            )
        return names

    def require(self, wanted: Sequence[str], where: str) -> None:
        """Every column in ``wanted`` exists; else a :class:`DataError` at the header that says what to do."""
        missing = [c for c in wanted if c and c not in self.columns]
        if not missing or self.spec.format == "jsonl":  # JSON lines: a key missing from a row is a bad row
            return
        what = ", ".join(map(repr, missing))
        if self.spec.format == "parquet":
            raise DataError(
                f"{self.path}: no column {what} (columns: {', '.join(self.columns)}); fix {where} in the spec"
            )
        at = f"{self.path}:1" if self.spec.header else str(self.path)
        message = f"{at}: no column {what} (columns: {', '.join(map(repr, self.columns))}); fix {where} in the spec"
        sniffed = sniff_delimiter(self._header_fields[0]) if len(self._header_fields) == 1 else None
        if sniffed and sniffed != self.spec.separator:
            message = (
                f"{at}: the header has one column {self.columns[0]!r}: the file looks separated by "
                f"{DELIMITER_NAMES[sniffed]}, not {self.spec.separator!r}; set delimiter = "
                f"{sniffed!r} in the spec's table of this file (or --set TABLE.delimiter=...)"
            )
        raise DataError(message)

    # ------------------------------------------------------------------------------------------- rows

    def rows(self, wanted: Sequence[str]) -> Iterator[tuple[int, list[Any]]]:
        """``(line, values)`` per row: the values of ``wanted`` in order, ``None`` where missing or empty."""
        f = self.spec
        if f.format == "parquet":
            yield from self._parquet_rows(wanted)
        elif f.format == "jsonl":
            for number, obj in read_json_lines(self.path, self.errors, expected=self.expected):
                yield number, [obj.get(c) for c in wanted]
        else:
            yield from self._delimited_rows(wanted)

    def _delimited_rows(self, wanted: Sequence[str]) -> Iterator[tuple[int, list[Any]]]:
        positions = [self.columns.index(c) if c in self.columns else -1 for c in wanted]
        width = len(self.columns)
        records = _delimited(self.path, self.spec, self.errors, self.expected)
        if self.spec.header:
            next(records, None)
        for number, fields in records:
            if len(fields) != width:
                extra = (
                    f" (is the delimiter right? the row looks separated by {DELIMITER_NAMES[sniffed]})"
                    if len(fields) == 1 and width > 1 and (sniffed := sniff_delimiter(fields[0]))
                    else ""
                )
                self.errors.bad(
                    self.path, number, f"{len(fields)} fields where the header has {width}{extra}", self.expected
                )
                continue
            values: list[Any] = []
            for p in positions:
                text = fields[p].strip() if p >= 0 else ""
                values.append(None if text in MISSING else text)
            yield number, values

    def _parquet_rows(self, wanted: Sequence[str]) -> Iterator[tuple[int, list[Any]]]:
        pq = parquet_module(self.path)
        present = [c for c in dict.fromkeys(wanted) if c in self.columns]
        self.errors.seen(self.path)
        number = 0
        try:
            handle = pq.ParquetFile(self.path)
            for batch in handle.iter_batches(batch_size=PARQUET_BATCH, columns=present):
                values = {c: batch.column(c).to_pylist() for c in present}
                blank = [None] * batch.num_rows
                columns = [values.get(c, blank) for c in wanted]
                for row in zip(*columns, strict=True) if columns else ([] for _ in range(batch.num_rows)):
                    number += 1
                    yield number, list(row)
        except (OSError, ValueError) as err:
            raise DataError(f"{self.path}: not a readable parquet file after row {number} ({err})") from None
