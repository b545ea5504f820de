"""Streaming the LFM-1b listening events (``LFM-1b_LEs.txt``, 1.09 billion lines) into typed arrays.

Each line is ``user_id artist_id album_id track_id timestamp``: five whole
numbers separated by TABs. The file is read in blocks of whole lines; a block
is parsed by NumPy in one go (about 70 MB/s, so the whole file takes minutes,
not hours) and checked exactly: every line must rebuild to its own length from
its five numbers (so no field is empty, signed, padded or split), and the
block must hold four TABs a line. A block that fails the check is parsed line
by line, so a malformed row is still reported as ``file:line`` (or skipped
and counted). Blank lines, a byte-order mark and CRLF endings are accepted
(on the slow path).

Rows are filtered as they stream (a seeded user sample, a time window), so
only the kept events are ever held: 16 bytes each.

Example:
    >>> import tempfile, pathlib
    >>> from lego_datasets.reader import RowErrors
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "LEs.txt").write_text("7\\t1\\t2\\t3\\t1400000000\\n7\\t1\\t2\\t\\t1400000001\\n")
    >>> errors = RowErrors(folder, skip=True)
    >>> [(lines.tolist(), rows.tolist()) for lines, rows in event_blocks(folder / "LEs.txt", errors)]
    [([1], [[7, 1, 2, 3, 1400000000]])]
    >>> errors.counts
    {'LEs.txt': 1}
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lego_datasets.progress import ReadProgress
from lego_datasets.rawio import CountingReader, open_binary
from lego_datasets.reader import RowErrors

LES_FORMAT = (
    "TAB-separated, 5 whole numbers: user_id, artist_id, album_id, track_id, timestamp (Unix seconds); no header"
)
BLOCK_BYTES = 1 << 25
LIMIT = 2**31  # ids and times are stored as int32
_POWERS = 10 ** np.arange(1, 19, dtype=np.int64)
_BOM = b"\xef\xbb\xbf"


def digits(values: np.ndarray) -> np.ndarray:
    """The number of decimal digits of each non-negative value."""
    return 1 + np.searchsorted(_POWERS, values, side="right")


def parse_block(data: bytes, first: int, path: Path, errors: RowErrors) -> tuple[np.ndarray, np.ndarray]:
    """``(line numbers, rows (n, 5) int64)`` of the good rows of ``data``, whole lines starting at line ``first``."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    lines = len(ends) + (not data.endswith(b"\n"))
    try:
        values = np.fromstring(data, dtype=np.int64, sep="\t")
    except ValueError:
        values = None
    if values is not None and len(values) == 5 * lines and data.count(b"\t") == 4 * lines:
        rows = values.reshape(lines, 5)
        if rows.min(initial=0) >= 0 and rows.max(initial=0) < LIMIT:
            line_ends = np.cumsum(digits(rows).sum(axis=1) + 5) - 1  # 4 tabs and a newline a line
            if not data.endswith(b"\n"):
                ends = np.append(ends, len(data))
            if np.array_equal(line_ends, ends):
                return first + np.arange(lines, dtype=np.int64), rows
    return _parse_lines(data, first, path, errors)


def _parse_lines(data: bytes, first: int, path: Path, errors: RowErrors) -> tuple[np.ndarray, np.ndarray]:
    """The slow path: each line on its own, malformed ones to ``errors``."""
    numbers, values = array("q"), array("q")
    for offset, raw in enumerate(data.split(b"\n")):
        number = first + offset
        raw = raw.rstrip(b"\r")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        if not raw.strip():
            continue
        fields = raw.split(b"\t")
        text = raw.decode("utf-8", errors="replace")
        if len(fields) != 5:
            errors.bad(path, number, f"{len(fields)} fields where 5 were expected", LES_FORMAT)
            continue
        wrong = next((f for f in fields if not f.isdigit() or int(f) >= LIMIT), None)
        if wrong is not None:
            what = wrong.decode("utf-8", errors="replace")
            errors.bad(path, number, f"field {what!r} of {text!r} is not a whole number below 2^31", LES_FORMAT)
            continue
        numbers.append(number)
        values.extend(int(f) for f in fields)
    return (
        np.frombuffer(numbers, np.int64) if numbers else np.zeros(0, np.int64),
        (np.frombuffer(values, np.int64) if values else np.zeros(0, np.int64)).reshape(-1, 5),
    )


def user_hash(users: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per user id, fixed by ``seed`` (splitmix64), for sampling users."""
    with np.errstate(over="ignore"):
        x = users.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / 2.0**53


def event_blocks(
    path: Path,
    errors: RowErrors,
    *,
    user_fraction: float = 1.0,
    seed: int = 0,
    start_time: int = 0,
    end_time: int = 0,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(line numbers, rows)`` per block of the kept events, in file order.

    Args:
        path: the events file (plain or compressed).
        errors: where malformed rows go.
        user_fraction: keep a user when :func:`user_hash` of its id is below this.
        seed: the seed of the user sample.
        start_time, end_time: keep events with ``start_time <= timestamp < end_time``; 0 leaves a side open.
        block_bytes: bytes read at a time.
    """
    errors.seen(path)
    counter: list[CountingReader] = []
    progress = ReadProgress(errors.name(path), total_bytes=Path(path).stat().st_size)
    first, rest, rows_read = 1, b"", 0
    with open_binary(path, counter) as handle:
        while True:
            block = handle.read(block_bytes)
            data = rest + block
            cut = data.rfind(b"\n") + 1 if block else len(data)  # whole lines; at the end, all that is left
            data, rest = data[:cut], data[cut:]
            if data:
                numbers, rows = parse_block(data, first, path, errors)
                first += data.count(b"\n")
                rows_read += len(rows)
                progress.update(bytes_read=counter[0].count, rows=rows_read)
                keep = np.ones(len(rows), bool)
                if user_fraction < 1.0:
                    keep &= user_hash(rows[:, 0], seed) < user_fraction
                if start_time:
                    keep &= rows[:, 4] >= start_time
                if end_time:
                    keep &= rows[:, 4] < end_time
                yield (numbers, rows) if keep.all() else (numbers[keep], rows[keep])
            if not block:
                break
    progress.close()
