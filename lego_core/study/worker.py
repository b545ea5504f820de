"""One cell of a sweep, run where it is sent: in the sweep's process, or in a worker process.

Workers are started with ``spawn`` (a fresh interpreter: no state copied
from the parent, the same on every platform) and each runs cells one after
the other. A worker watches its parent: when the sweep process is killed, the
worker stops too, at once, leaving the cell's last checkpoint for the next
``lego sweep`` to resume, instead of training on as an orphan that holds the
cell's lock.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import attrs

PARENT_CHECK_SECONDS = 0.1  # getppid is cheap: an orphan stops within a tenth of a second


@attrs.frozen
class CellTask:
    """What a worker needs to run a cell (plain data: it is pickled to the worker).

    Args:
        name: the cell's name.
        data: the cell's experiment table (the file's, with the cell's values set).
        base_dir: the experiment file's folder (relative ``data.path`` is read from there).
        run_dir: the cell's run directory.
        resume: continue the run directory's ``last.pt``.
        threads: ``train.threads`` of this cell (already in ``data``; shown in the sweep's lines).
        device: overrides ``train.device`` (None: the config's).
    """

    name: str
    data: dict[str, Any]
    base_dir: str
    run_dir: str
    resume: bool
    threads: int | None = None
    device: str | None = None


@attrs.frozen
class CellOutcome:
    """How a cell ended: its results, or the error (one line for a user error, else a traceback)."""

    name: str
    results: dict[str, Any] | None
    error: str | None
    seconds: float
    # stopped by SIGINT/SIGTERM after saving a checkpoint: resumable, an interrupt of the sweep, not a failure
    stopped: bool = False


def run_cell(task: CellTask) -> CellOutcome:
    """Run (or resume) one cell; never raises for what the cell did wrong."""
    from rich.console import Console

    from lego_core.engine.run import Run
    from lego_core.errors import LegoError, Stopped
    from lego_core.experiment import Experiment

    started = time.perf_counter()
    console = Console(quiet=True)  # each cell's own log/console.log holds its lines
    try:
        experiment = Experiment.from_dict(task.data, base_dir=task.base_dir, name=task.name)
        bound = experiment.bind(task.device)
        if task.resume:  # the run checks that only resumable keys (epochs, threads, ...) differ
            run = Run.reopen(bound, Path(task.run_dir), console, build=experiment.build)
        else:
            run = Run.create(bound, Path(task.run_dir), console, build=experiment.build, run_dir=Path(task.run_dir))
        results = run.execute()
        return CellOutcome(name=task.name, results=results, error=None, seconds=time.perf_counter() - started)
    except Stopped as err:  # the run's own signal handler saved a checkpoint first
        return CellOutcome(
            name=task.name, results=None, error=str(err), seconds=time.perf_counter() - started, stopped=True
        )
    except LegoError as err:
        return CellOutcome(name=task.name, results=None, error=str(err), seconds=time.perf_counter() - started)
    except Exception:  # a bug in lego or a plugin: keep the whole traceback
        return CellOutcome(
            name=task.name, results=None, error=traceback.format_exc(), seconds=time.perf_counter() - started
        )


def _exit_now() -> None:
    """The last thing a worker does: skip the interpreter's teardown of torch (seconds per worker).

    Everything a cell writes is on disk by then (atomically), and results went back to the sweep.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def start_worker(parent: int) -> None:
    """Initialiser of a worker process: exit at once when the sweep process ``parent`` is gone, and fast."""
    atexit.register(_exit_now)

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(70)  # no cleanup: the cell's last checkpoint is what the next sweep resumes from
            time.sleep(PARENT_CHECK_SECONDS)

    threading.Thread(target=watch, name="lego-sweep-parent-watch", daemon=True).start()
