"""Training progress: a rich bar on a terminal, plain lines everywhere else.

A bar is useless in a cluster log or a file (it is drawn with cursor moves, or
not at all), so when the console is not a terminal a plain line is printed
instead, at most every ``every_seconds`` seconds and/or every ``every_steps``
steps::

    epoch 1/3: step 120/400 (30%), loss 0.6931, 12.3 steps/s, 0:00:23 left

The same lines go to the run's console log (``log/console.log``) whatever the
console is, so the log reads like the output of a job without a terminal.

The trainer only knows ``progress(description, total, completed) -> advance(n)``;
the run feeds each step's loss in through :meth:`Progress.loss` (the trainer
reports a step to the run before it advances the bar). Other callers
(``lego embed``) get the same lines, without a loss.

Example:
    >>> import io
    >>> from rich.console import Console
    >>> out = io.StringIO()
    >>> clock = iter(range(0, 100, 10)).__next__
    >>> with Progress(Console(file=out, width=120), every_seconds=0, every_steps=2, clock=clock) as progress:
    ...     advance = progress("epoch 1/1", total=4)
    ...     for loss in (0.9, 0.7, 0.5, 0.3):
    ...         progress.loss(loss)
    ...         advance(1)
    >>> print(out.getvalue().strip())
    epoch 1/1: step 2/4 (50%), loss 0.8000, 0.1 steps/s, 0:00:20 left
    epoch 1/1: step 4/4 (100%), loss 0.6000, 0.1 steps/s, 0:00:00 left
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    """``progress(description, total) -> advance(n)``: what the trainer calls.

    Args:
        console: where bars (on a terminal) or plain lines (elsewhere) go.
        log: a second console that always gets the plain lines (the run's log file), or None.
        every_seconds: a plain line at most this often (0: not by time).
        every_steps: a plain line every N steps (0: not by count).
        clock: seconds, monotonic (a test passes a fake one).
    """

    def __init__(
        self,
        console: Console,
        log: Console | None = None,
        *,
        every_seconds: float = 30.0,
        every_steps: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.log = log
        self.every_seconds = every_seconds
        self.every_steps = every_steps
        self.clock = clock
        self.bars = console.is_terminal or console.is_jupyter
        self.plain = not self.bars and not console.quiet
        self._rich = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not self.bars or console.quiet,
        )
        self._losses: list[float] = []

    def __enter__(self) -> Progress:
        self._rich.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._rich.__exit__(kind, error, trace)

    def loss(self, value: float) -> None:
        """The loss of the step about to be advanced (a line shows the mean since the bar began)."""
        self._losses.append(value)

    def __call__(self, description: str, total: int, completed: int = 0) -> Callable[[int], None]:
        """A bar of ``total`` steps, ``completed`` of them done already (a resumed epoch)."""
        task = self._rich.add_task(description, total=total, completed=completed)
        self._losses = []
        started = self.clock()
        state = {"done": completed, "counted": 0, "last": started}

        def advance(n: int) -> None:
            self._rich.advance(task, n)
            state["done"] += n
            state["counted"] += n
            now = self.clock()
            due_by_time = self.every_seconds > 0 and now - state["last"] >= self.every_seconds
            due_by_steps = self.every_steps > 0 and state["done"] % self.every_steps == 0
            if due_by_time or due_by_steps:
                state["last"] = now
                self._line(description, int(state["done"]), total, int(state["counted"]), now - started)

        return advance

    def _line(self, description: str, done: int, total: int, steps: int, seconds: float) -> None:
        rate = steps / seconds if seconds > 0 else 0.0
        left = str(datetime.timedelta(seconds=round((total - done) / rate))) if rate > 0 else "?"
        loss = f", loss {sum(self._losses) / len(self._losses):.4f}" if self._losses else ""
        text = (
            f"{description}: step {done}/{total} ({100 * done // max(total, 1)}%){loss}, "
            f"{rate:.1f} steps/s, {left} left"
        )
        if self.plain:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        if self.log is not None:
            self.log.print(text, markup=False, highlight=False, soft_wrap=True)


def progress_factory(console: Console) -> Progress:
    """A :class:`Progress` with the default cadence (earlier versions' name)."""
    return Progress(console)
