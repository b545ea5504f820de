"""Fast reading of the Netflix Prize block files: a ``MovieID:`` line, then one row per line.

The rating files (``combined_data_1.txt`` .. ``_4.txt``, or the official
``training_set/mv_*.txt``) hold 100,480,507 rows; ``probe.txt`` has the same
blocks with a bare ``CustomerID`` per row. Python spends about a microsecond a
line just splitting and converting, so :class:`BlockReader` reads 16 MB of
bytes at a time and parses the usual row shape with NumPy, column by column:
``CustomerID,Rating,Date`` with 1-9 digits, a rating 1-5 and a valid
``YYYY-MM-DD`` (a probe row: 1-9 digits). Every other line (the ``MovieID:``
headers, blank lines, a BOM, spaces, CRLF, a malformed row) goes through a
slow path in Python that decides what it is and, for a bad row, names the
file and line; so the fast path only ever accepts lines the slow path would
read the same. Rows are appended in file order to typed arrays (13 bytes a
rating: customer and movie int32, day int32, rating int8).

Blocks. A header's movie must be in the titles file and have one block only
(over all files read by one reader); otherwise the header is a bad row and,
with ``skip_bad_rows``, every row of its block is skipped and counted too.
A row before the first header is a bad row.

Example:
    >>> import io, tempfile, pathlib
    >>> from lego_datasets.reader import RowErrors
    >>> raw = pathlib.Path(tempfile.mkdtemp())
    >>> reader = BlockReader("rating", {"1": 0, "2": 1}, RowErrors(raw, skip=False), "CustomerID,Rating,Date")
    >>> text = b"1:\\r\\n1488844,3,2005-09-06\\r\\n822109,5,2005-05-13\\r\\n2:\\r\\n 7 , 4 ,2001-01-01\\r\\n"
    >>> reader.read_stream(io.BytesIO(text), raw / "combined_data_1.txt")
    >>> reader.arrays()["customer"].tolist(), reader.arrays()["item"].tolist(), reader.arrays()["day"].tolist()
    ([1488844, 822109, 7], [0, 0, 1], [13032, 12916, 11323])
"""

from __future__ import annotations

import datetime
import re
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lego_datasets.progress import ReadProgress
from lego_datasets.rawio import CountingReader, open_binary
from lego_datasets.reader import RowErrors

CHUNK_BYTES = 1 << 24
KINDS = ("rating", "probe")
EPOCH = datetime.date(1970, 1, 1).toordinal()
NO_BLOCK, BAD_BLOCK = -2, -1
MAX_ID = 2**31 - 1
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_BOM = b"\xef\xbb\xbf"
_DIGITS = 9  # the fast path reads ids of 1-9 digits
_TAIL_LOW = np.frombuffer(b",1,0000-00-00", np.uint8)  # the bytes allowed in ",R,YYYY-MM-DD", column by column
_TAIL_HIGH = np.frombuffer(b",5,9999-19-39", np.uint8)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int32)
_MONTH_START = np.array([0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334], np.int32)


class BlockReader:
    """Reads ``MovieID:`` block files into typed arrays.

    Args:
        kind: ``"rating"`` (rows ``CustomerID,Rating,Date``) or ``"probe"`` (rows ``CustomerID``).
        movies: movie id (as written in the titles file, without leading zeros) -> item index.
        errors: where bad rows go.
        expected: the row format, quoted in error messages.
        keep_lines: also keep each row's line number (for messages about rows found bad later).
        titles: the name of the titles file, for the message about an unknown movie.
    """

    def __init__(
        self,
        kind: str,
        movies: Mapping[str, int],
        errors: RowErrors,
        expected: str,
        *,
        keep_lines: bool = False,
        titles: str = "the titles file",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.movies, self.errors, self.expected = kind, movies, errors, expected
        self.keep_lines, self.titles = keep_lines, titles
        self.customer, self.item, self.rating, self.day, self.line = (
            array("i"),
            array("i"),
            array("b"),
            array("i"),
            array("q"),
        )
        self.seen: set[int] = set()

    def __len__(self) -> int:
        return len(self.customer)

    def read(self, path: Path, *, listed: bool = True) -> None:
        """Read one file (plain or compressed); ``listed``: show it in the skipped-row counts even at 0."""
        if listed:
            self.errors.seen(path)
        counter: list[CountingReader] = []
        with open_binary(path, counter) as handle:
            self.read_stream(handle, path, Path(path).stat().st_size, counter[0])

    def read_stream(
        self, handle: IO[bytes], path: Path, total_bytes: int = 0, counter: CountingReader | None = None
    ) -> None:
        """Read a binary stream; ``path`` names it in messages (a tar member: ``archive.tar/member``)."""
        progress = ReadProgress(self.errors.name(path), total_bytes=total_bytes)
        state, number, carry = NO_BLOCK, 0, b""
        while True:
            data = handle.read(CHUNK_BYTES)
            if not data:
                if carry:
                    state, number = self._chunk(path, memoryview(carry + b"\n"), number, state)
                break
            data = carry + data
            cut = data.rfind(b"\n") + 1
            if not cut:  # a line longer than a chunk
                carry = data
                continue
            state, number = self._chunk(path, memoryview(data)[:cut], number, state)
            carry = data[cut:]
            progress.update(bytes_read=counter.count if counter is not None else 0, rows=number)
        progress.close()

    def arrays(self) -> dict[str, np.ndarray]:
        """Views of the rows read so far: customer, item, day (days since 1970), rating, line."""
        return {
            "customer": np.frombuffer(self.customer, np.int32),
            "item": np.frombuffer(self.item, np.int32),
            "day": np.frombuffer(self.day, np.int32),
            "rating": np.frombuffer(self.rating, np.int8),
            "line": np.frombuffer(self.line, np.int64),
        }

    # ---- one chunk of whole lines ------------------------------------------------------------------------------

    def _chunk(self, path: Path, buf: memoryview, number: int, state: int) -> tuple[int, int]:
        a = np.frombuffer(buf, np.uint8)
        ends = np.flatnonzero(a == 10)
        starts = np.zeros(len(ends), np.int64)
        starts[1:] = ends[:-1] + 1
        stop = ends.copy()
        stop[(ends > starts) & (a[ends - 1] == 13)] -= 1  # CRLF
        length = stop - starts
        fast, customer, rating, day = self._fast(a, starts, stop, length)
        special = ~fast & (length > 0)
        if state == NO_BLOCK:  # rows before the file's first header: the slow path reports them
            headers = np.flatnonzero(special & (a[np.maximum(stop - 1, 0)] == ord(":")))
            upto = int(headers[0]) if len(headers) else len(ends)
            special[:upto] = length[:upto] > 0
            fast[:upto] = False
        at_start, header_at, header_value = state, [], []
        for j in np.flatnonzero(special).tolist():
            line = number + j + 1
            kind, value = self._slow(bytes(buf[starts[j] : stop[j]]), line)
            if kind == "header":
                state = self._header(path, line, value)
                header_at.append(j)
                header_value.append(state)
            elif kind == "row":
                if state == NO_BLOCK:
                    self.errors.bad(path, line, "a row before the first MovieID: header", self.expected)
                    continue
                customer[j], rating[j], day[j] = value
                fast[j] = True
            elif kind == "bad":
                self.errors.bad(path, line, value, self.expected)
        rows = np.flatnonzero(fast)
        block = np.searchsorted(np.array(header_at, np.int64), rows, "right") - 1
        movie = np.where(block >= 0, np.array(header_value + [0], np.int64)[block], at_start)
        keep = movie >= 0
        skipped = int(np.count_nonzero(movie == BAD_BLOCK))
        if skipped:  # rows of a block whose header was bad (only reached with skip_bad_rows)
            name = self.errors.name(path)
            self.errors.counts[name] = self.errors.counts.get(name, 0) + skipped
        rows = rows[keep]
        self.customer.frombytes(customer[rows].astype(np.int32).tobytes())
        self.item.frombytes(movie[keep].astype(np.int32).tobytes())
        if self.kind == "rating":
            self.rating.frombytes(rating[rows].astype(np.int8).tobytes())
            self.day.frombytes(day[rows].astype(np.int32).tobytes())
        if self.keep_lines:
            self.line.frombytes((rows + number + 1).astype(np.int64).tobytes())
        return state, number + len(ends)

    def _fast(
        self, a: np.ndarray, starts: np.ndarray, stop: np.ndarray, length: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Lines of the usual shape, and their customer, rating and day (garbage elsewhere).

        The last bytes of every line, right-aligned on its end, are copied into
        one column of a small byte matrix (a sliding window over the chunk,
        transposed so that each byte position is contiguous); the checks and
        the digit arithmetic then run over whole rows of it in int32.
        """
        count = len(starts)
        tail = len(_TAIL_LOW) if self.kind == "rating" else 0
        width = _DIGITS + tail
        id_length = (length - tail).astype(np.int32)
        ok = (id_length >= 1) & (id_length <= _DIGITS) & (stop >= width)  # a chunk's first bytes: slow path
        if len(a) < width:
            return (
                np.zeros(count, bool),
                np.zeros(count, np.int32),
                np.zeros(count, np.int32),
                np.zeros(count, np.int32),
            )
        columns = np.ascontiguousarray(sliding_window_view(a, width)[np.maximum(stop - width, 0)].T)
        customer = np.zeros(count, np.int32)
        for k in range(_DIGITS):  # the id's digits end where the tail starts
            digit = columns[k] - np.uint8(48)  # a non-digit wraps to more than 9
            inside = id_length >= _DIGITS - k
            ok &= (digit <= 9) | ~inside
            customer = np.where(inside, customer * 10 + digit, customer)
        ok &= customer > 0
        if self.kind != "rating":
            return ok, customer, np.zeros(count, np.int32), np.zeros(count, np.int32)
        t = columns[_DIGITS:]
        for c in range(tail):
            ok &= (t[c] >= _TAIL_LOW[c]) & (t[c] <= _TAIL_HIGH[c])
        d = {c: (t[c] - np.uint8(48)).astype(np.int32) for c in (1, 3, 4, 5, 6, 8, 9, 11, 12)}
        rating = d[1]
        year = d[3] * 1000 + d[4] * 100 + d[5] * 10 + d[6]
        month, dom = d[8] * 10 + d[9], d[11] * 10 + d[12]
        ok &= (year >= 1) & (month >= 1) & (month <= 12) & (dom >= 1)
        month = np.clip(month, 0, 12)  # for the table lookups (rows that are not ok are dropped)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        ok &= dom <= _MONTH_DAYS[month] + ((month == 2) & leap)
        y = year - 1  # days since 1970-01-01 = date.toordinal() - EPOCH
        day = y * 365 + y // 4 - y // 100 + y // 400 + _MONTH_START[month] + ((month > 2) & leap) + dom - EPOCH
        return ok, customer, rating, day

    # ---- the slow path, one line at a time ---------------------------------------------------------------------

    def _slow(self, raw: bytes, line: int) -> tuple[str, Any]:
        """``("blank", None)``, ``("header", id text)``, ``("row", (customer, rating, day))`` or ``("bad", why)``."""
        if line == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError as err:
            return "bad", f"byte {raw[err.start : err.start + 1]!r} at column {err.start + 1} is not ASCII"
        if not text:
            return "blank", None
        if text.endswith(":"):
            return "header", text[:-1].strip()
        fields = [f.strip() for f in text.split(",")]
        want = 3 if self.kind == "rating" else 1
        if len(fields) != want:
            return "bad", f"{len(fields)} fields where {want} {'were' if want > 1 else 'was'} expected"
        if not (fields[0].isdigit() and 0 < int(fields[0]) <= MAX_ID):
            return "bad", f"customer id {fields[0]!r} is not a positive integer"
        if self.kind == "probe":
            return "row", (int(fields[0]), 0, 0)
        if fields[1] not in ("1", "2", "3", "4", "5"):
            return "bad", f"rating {fields[1]!r} is not a whole number from 1 to 5"
        found = _DATE.fullmatch(fields[2])
        try:
            if not found:
                raise ValueError(fields[2])
            date = datetime.date(int(found[1]), int(found[2]), int(found[3]))
        except ValueError:
            return "bad", f"date {fields[2]!r} is not a YYYY-MM-DD date"
        return "row", (int(fields[0]), int(fields[1]), date.toordinal() - EPOCH)

    def _header(self, path: Path, line: int, text: str) -> int:
        """The item index of a block header's movie, or BAD_BLOCK."""
        expected = "a MovieID: line opening each movie's block"
        if not text.isdigit():
            self.errors.bad(path, line, f"block header {text + ':'!r} is not a movie id", expected)
            return BAD_BLOCK
        movie = str(int(text))
        item = self.movies.get(movie)
        if item is None:
            self.errors.bad(path, line, f"movie {movie} is not in {self.titles}", expected)
            return BAD_BLOCK
        if item in self.seen:
            self.errors.bad(path, line, f"movie {movie} has a second block", "one MovieID: block per movie")
            return BAD_BLOCK
        self.seen.add(item)
        return item
