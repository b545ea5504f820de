"""Stopping a run cleanly on SIGINT (Ctrl-C) and SIGTERM (a scheduler's kill), at a step boundary.

While a run works, :class:`StopRequest` replaces the two handlers with one
that only records the signal. The trainer looks at it after every optimiser
step and after each epoch's validation; when a signal has arrived it writes
``last.pt`` with the state of that boundary and stops, and the command exits
with 130 (SIGINT) or 143 (SIGTERM), as a process killed by that signal would.
Because nothing is interrupted half-way (no step, no checkpoint write, no
evaluation), ``lego run --resume`` continues to exactly the result of a run
that was never stopped. A second Ctrl-C while stopping restores the default
behaviour (an immediate KeyboardInterrupt), for a process that does not stop.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequest:
    """Records SIGINT/SIGTERM while active (a context manager; a no-op outside the main thread)."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self._previous: dict[signal.Signals, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signal, 1) if self.signal is not None else 0

    @property
    def name(self) -> str:
        return self.signal.name if self.signal is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None and signum == signal.SIGINT:  # asked twice: stop now
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in EXIT_CODES:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
