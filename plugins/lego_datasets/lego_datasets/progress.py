"""Progress while a processor reads a big raw file: bytes, rows and their rate, on stderr.

On a terminal the line is redrawn in place (about ten times a second at
most); elsewhere (a cluster log, CI, a pipe) a plain line is printed every
``LEGO_PROGRESS_SECONDS`` seconds (default 5), so a long prepare is never
silent and the log stays readable. ``LEGO_PROGRESS=0`` turns it off. Small
files finish before the first line is due, so tests and small datasets
print nothing.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> progress = ReadProgress("u.data", total_bytes=2_000_000, stream=out, every=0.0, terminal=False)
    >>> progress.update(bytes_read=1_000_000, rows=50_000)
    >>> out.getvalue().split(":")[0]
    'reading u.data'
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _count(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else (f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}")


class ReadProgress:
    """Reports how far the reading of one file is.

    Args:
        label: what is read (a file name relative to the raw folder).
        total_bytes: the file's size on disk (0 when unknown).
        stream: where lines go (default: stderr).
        every: seconds between plain lines when not on a terminal
            (default: ``LEGO_PROGRESS_SECONDS`` or 5).
        terminal: redraw one line in place (default: whether ``stream`` is a tty).
    """

    def __init__(
        self,
        label: str,
        total_bytes: int = 0,
        *,
        stream: TextIO | None = None,
        every: float | None = None,
        terminal: bool | None = None,
    ) -> None:
        self.label = label
        self.total = total_bytes
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = os.environ.get("LEGO_PROGRESS", "1") != "0"
        self.terminal = self.stream.isatty() if terminal is None else terminal
        default_every = float(os.environ.get("LEGO_PROGRESS_SECONDS", "5"))
        self.every = 0.1 if self.terminal else (default_every if every is None else every)
        self.started = time.perf_counter()
        self.last = self.started
        self.shown = False
        self.bytes_read = 0
        self.rows = 0

    def update(self, *, bytes_read: int | None = None, rows: int | None = None) -> None:
        """Record the totals so far; print when a line is due."""
        if bytes_read is not None:
            self.bytes_read = bytes_read
        if rows is not None:
            self.rows = rows
        now = time.perf_counter()
        if self.enabled and now - self.last >= self.every:
            self.last = now
            self._show(now)

    def _show(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        parts = [f"reading {self.label}: {_size(self.bytes_read)}"]
        if self.total:
            parts[0] += f" of {_size(self.total)} ({100 * self.bytes_read / self.total:.0f}%)"
        parts.append(f"{_count(self.rows)} rows")
        parts.append(f"{_size(self.bytes_read / elapsed)}/s, {_count(self.rows / elapsed)} rows/s")
        line = ", ".join(parts)
        if self.terminal:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the in-place line (a terminal) after the last update."""
        if self.shown and self.terminal:
            self.stream.write("\n")
            self.stream.flush()
