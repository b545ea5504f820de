"""Line-numbered reading of delimited raw files, with errors that name the file and line.

Every processor reads its raw files through :func:`read_rows` (delimited
text) or :func:`read_json_lines` (JSON lines, also Python-literal lines),
which yield ``(line_number, fields)`` and hand malformed rows to a :class:`RowErrors`.
That object either raises ``DataError("file:line: what is wrong (expected
FORMAT)")`` or, with the processor option ``skip_bad_rows``, counts the row
and moves on; the counts end up in ``content.info["skipped_rows"]``.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "u.data").write_text("1\\t10\\t4\\t881250949\\n2\\t10\\n")
    >>> errors = RowErrors(folder, skip=True)
    >>> list(read_rows(folder / "u.data", errors, sep="\\t", columns=4, expected="user item rating time"))
    [(1, ['1', '10', '4', '881250949'])]
    >>> errors.counts
    {'u.data': 1}
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lego_core.errors import DataError
from lego_datasets.progress import ReadProgress
from lego_datasets.rawio import CountingReader, open_binary

SKIP_HINT = "fix the row, or set the option skip_bad_rows=true to skip and count such rows"


class RowErrors:
    """Raise on a malformed row, or count it when ``skip`` is true.

    Args:
        raw: the raw folder; counts are keyed by paths relative to it.
        skip: count bad rows instead of raising (the ``skip_bad_rows`` option).
    """

    def __init__(self, raw: Path, skip: bool) -> None:
        self.raw = Path(raw)
        self.skip = skip
        self.counts: dict[str, int] = {}

    def name(self, path: Path) -> str:
        """``path`` relative to the raw folder, with forward slashes."""
        try:
            return Path(path).relative_to(self.raw).as_posix()
        except ValueError:
            return Path(path).name

    def seen(self, path: Path) -> None:
        """Record that ``path`` was read, so its count (maybe 0) appears in the info."""
        self.counts.setdefault(self.name(path), 0)

    def bad(self, path: Path, line: int, what: str, expected: str) -> None:
        """A malformed row at ``path:line``: raise :class:`DataError`, or count it."""
        if not self.skip:
            raise DataError(f"{path}:{line}: {what} (expected {expected}); {SKIP_HINT}")
        name = self.name(path)
        self.counts[name] = self.counts.get(name, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def read_lines(
    path: Path, errors: RowErrors, *, encoding: str = "utf-8", latin1_fallback: bool = False
) -> Iterator[tuple[int, str]]:
    """Non-blank lines of ``path`` with their 1-based numbers, line endings removed.

    The file may be compressed (gzip, bzip2, xz, a one-member zip; see
    :mod:`lego_datasets.rawio`); a UTF-8 byte-order mark and CRLF endings are
    removed. Each line is decoded on its own, so a bad byte names its line.
    With ``latin1_fallback`` a line that is not valid ``encoding`` is read as
    ISO-8859-1 (the official encoding of the older MovieLens files, which
    also accepts copies re-saved as UTF-8); without it the line is a bad row.
    Reading a big file shows progress on stderr (:mod:`lego_datasets.progress`).
    """
    errors.seen(path)
    counter: list[CountingReader] = []
    progress = ReadProgress(errors.name(path), total_bytes=Path(path).stat().st_size)
    with open_binary(path, counter) as handle:
        for number, raw in enumerate(handle, start=1):
            if not number & 0x3FFF:
                progress.update(bytes_read=counter[0].count, rows=number)
            raw = raw.rstrip(b"\r\n")
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as err:
                if latin1_fallback:
                    line = raw.decode("latin-1")
                else:
                    errors.bad(
                        path,
                        number,
                        f"byte {raw[err.start : err.start + 1]!r} at column {err.start + 1} "
                        f"is not valid {encoding.upper()}",
                        f"{encoding.upper()} text",
                    )
                    continue
            yield number, line
    progress.close()


def read_json_lines(
    path: Path, errors: RowErrors, *, expected: str, python_literals: bool = False, required: Sequence[str] = ()
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Objects of a JSON-lines file as ``(line_number, dict)``.

    Args:
        path: the file (compressed or not).
        errors: where malformed rows go.
        expected: the row format, quoted in error messages.
        python_literals: the lines may be Python dict literals (single quotes,
            ``True``/``None``), as in the UCSD Amazon-2014 and Steam dumps; each
            line is tried as JSON first (fast) and then with ``ast.literal_eval``.
        required: keys every object must have; an object without one is a bad row.
    """
    for number, line in read_lines(path, errors):
        try:
            value = json.loads(line)
        except ValueError as err:
            if not python_literals:
                where = f"{err.msg} at column {err.colno}" if isinstance(err, json.JSONDecodeError) else str(err)
                errors.bad(path, number, f"not a JSON object ({where})", expected)
                continue
            try:
                value = ast.literal_eval(line)
            except (ValueError, SyntaxError, MemoryError, RecursionError) as literal_err:
                errors.bad(path, number, f"neither JSON nor a Python literal ({type(literal_err).__name__})", expected)
                continue
        if not isinstance(value, dict):
            errors.bad(path, number, f"a JSON {type(value).__name__}, not an object", expected)
            continue
        missing = [key for key in required if key not in value]
        if missing:
            errors.bad(path, number, f"no {', '.join(repr(k) for k in missing)}", expected)
            continue
        yield number, value


def split_csv(line: str) -> list[str]:
    """One RFC-4180 CSV line (quoted fields may hold commas); raises :class:`csv.Error`."""
    if '"' not in line:
        return line.split(",")
    return next(csv.reader([line], strict=True))


def read_rows(
    path: Path,
    errors: RowErrors,
    *,
    sep: str,
    columns: int | tuple[int, int],
    expected: str,
    header: Sequence[str] | None = None,
    encoding: str = "utf-8",
    latin1_fallback: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """Rows of a delimited file as ``(line_number, fields)``.

    Args:
        path: the file.
        errors: where malformed rows go.
        sep: the separator: ``"\\t"``, ``"|"``, ``"::"``, or ``","`` for CSV with
            RFC-4180 quoting.
        columns: the number of fields, or an inclusive ``(min, max)`` range.
        expected: the row format, quoted in error messages.
        header: the exact header fields of the first line, if the file has one;
            a different header is an error even with ``skip_bad_rows``.
        encoding, latin1_fallback: see :func:`read_lines`.
    """
    low, high = (columns, columns) if isinstance(columns, int) else columns
    want = str(low) if low == high else f"{low} to {high}"
    lines = read_lines(path, errors, encoding=encoding, latin1_fallback=latin1_fallback)
    for number, line in lines:
        if sep == ",":
            try:
                fields = split_csv(line)
            except csv.Error as err:
                errors.bad(path, number, f"unreadable CSV ({err})", expected)
                continue
        else:
            fields = line.split(sep)
        if header is not None:
            if [f.strip() for f in fields] != list(header):
                raise DataError(
                    f"{path}:{number}: header {sep.join(fields)!r} is not the expected "
                    f"{sep.join(header)!r}; is this the right file?"
                )
            header = None
            continue
        if not low <= len(fields) <= high:
            errors.bad(path, number, f"{len(fields)} fields where {want} were expected", expected)
            continue
        yield number, fields
