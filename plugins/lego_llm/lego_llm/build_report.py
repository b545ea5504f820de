"""Plain progress lines on stderr while a one-off cache is built (the split cache of every item).

Building a split cache runs the frozen layers over the whole catalogue before
the first training step, minutes for a large one; without a word the run
looks hung. A line goes to stderr when the build starts, at most every
``every_seconds`` while it runs, and when it ends; ``LEGO_PROGRESS=0`` turns
the lines off (the same switch as lego-datasets' reading progress).

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> clock = iter([0.0, 5.0, 12.0, 20.0]).__next__
    >>> report = BuildReport("split cache of 100 items", 100, every_seconds=10, stream=out, clock=clock)
    >>> report.advance(40); report.advance(60); report.done()
    >>> print(out.getvalue().strip())
    building split cache of 100 items
    split cache of 100 items: 100/100 (100%), 0:00:12 so far
    built split cache of 100 items in 0:00:20
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO


class BuildReport:
    """Counts units done; prints a start line, timed progress lines and an end line."""

    def __init__(
        self,
        what: str,
        total: int,
        *,
        every_seconds: float = 10.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.total = total
        self.every_seconds = every_seconds
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.enabled = os.environ.get("LEGO_PROGRESS", "1") != "0"
        self.done_units = 0
        self.started = self.clock()
        self.last = self.started
        self._say(f"building {what}")

    def _say(self, line: str) -> None:
        if self.enabled:
            print(line, file=self.stream, flush=True)

    def _elapsed(self, now: float) -> str:
        return str(datetime.timedelta(seconds=round(now - self.started)))

    def advance(self, units: int) -> None:
        self.done_units += units
        now = self.clock()
        if now - self.last >= self.every_seconds:
            self.last = now
            share = self.done_units / self.total if self.total else 1.0
            self._say(f"{self.what}: {self.done_units:,}/{self.total:,} ({share:.0%}), {self._elapsed(now)} so far")

    def done(self) -> None:
        self._say(f"built {self.what} in {self._elapsed(self.clock())}")
