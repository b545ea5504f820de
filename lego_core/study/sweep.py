"""``lego sweep``: every cell of a search space as a normal run directory under one sweep directory.

Phases, as for a single run: :meth:`Sweep.plan` resolves and binds every cell
(config, bricks, depot, device) and reports every problem at once before
anything is written; :meth:`Sweep.run` then writes ``sweep.json`` and runs
the cells that are not finished, in ``jobs`` worker processes (each cell's
``train.threads`` is the thread budget divided between them), printing a line
per finished cell.

Resuming is the same command again: a cell whose directory holds
``results.json`` is done and skipped (unless the file now asks for more
``train.epochs`` or another ``train.patience``: then it is continued), one
holding ``checkpoints/last.pt`` continues from it (``lego run --resume``), any
other starts afresh. A cell
directory run with a different config (the experiment file changed since) is
refused, naming the keys, rather than mixed into the study. One process at a
time works in a sweep directory (its ``.lock``).

Layout::

    sweeps/exp/
      sweep.json                          the experiment, the space and the cells of the last invocation
      sweep.log                           the lines the sweep printed
      hidden_size=32,seed=2023/           a run directory (config.toml, results.json, log/, checkpoints/)
      hidden_size=32,seed=2024/
      ...
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console

import lego_core
from lego_core import atomic
from lego_core.config.resolve import apply_overrides
from lego_core.config.tomlio import load_toml
from lego_core.engine import rundir
from lego_core.errors import ConfigError, LegoError
from lego_core.lock import file_lock
from lego_core.plugin.host import PluginHost
from lego_core.study.space import Cell, SearchSpace, search_space, set_dotted
from lego_core.study.worker import CellOutcome, CellTask, run_cell, start_worker

MANIFEST = "sweep.json"
# resumable keys that change what a finished cell computes: a finished cell whose value differs is continued
EXTENDING_KEYS = ("train.epochs", "train.patience")
SWEEP_LOG = "sweep.log"
THREADS_KEY = "train.threads"


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform says, else the count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@attrs.frozen
class PlannedCell:
    """A cell checked against its directory: ``state`` is ``"done"``, ``"resume"`` or ``"new"``."""

    cell: Cell
    run_dir: Path
    state: str
    data: dict[str, Any]
    threads: int | None


@attrs.frozen
class SweepResult:
    """What :meth:`Sweep.run` did: every cell's outcome this time, the cells skipped as done."""

    folder: Path
    outcomes: list[CellOutcome]
    skipped: list[str]
    interrupted: bool = False

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes if o.error is not None and not o.stopped]


class Sweep:
    """A search space over one experiment file, bound to a sweep directory.

    Args:
        experiment: the experiment TOML file.
        folder: the sweep directory (created by :meth:`run`).
        space: the search space (:func:`lego_core.study.space.search_space`).
        data: the experiment's table, ``[sweep]`` removed and ``--set`` overrides applied.
        jobs: worker processes (1: cells run one after the other in this process).
        device: overrides every cell's ``train.device``.
        host: the plugin host cells are checked with.
    """

    def __init__(
        self,
        experiment: Path,
        folder: Path,
        space: SearchSpace,
        data: dict[str, Any],
        *,
        jobs: int = 1,
        device: str | None = None,
        host: PluginHost | None = None,
        overrides: Sequence[str] = (),
    ) -> None:
        self.experiment = Path(experiment)
        self.folder = Path(folder)
        self.space = space
        self.data = data
        self.jobs = jobs
        self.device = device
        self.host = host or PluginHost()
        self.overrides = list(overrides)
        self._interrupted = False

    @classmethod
    def from_toml(
        cls,
        path: str | Path,
        *,
        grid: Sequence[str] = (),
        ranges: Sequence[str] = (),
        seeds: str | None = None,
        samples: int | None = None,
        search_seed: int | None = None,
        jobs: int | None = None,
        output: str | Path | None = None,
        overrides: Sequence[str] = (),
        device: str | None = None,
        host: PluginHost | None = None,
    ) -> Sweep:
        """The sweep of an experiment file: its ``[sweep]`` table, then these options (which win)."""
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"{path} is a folder; give the experiment's TOML file (lego sweep experiment.toml)")
        raw = load_toml(path)
        table = raw.pop("sweep", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: expected a table, got {type(table).__name__} {table!r} @ $.sweep")
        data = apply_overrides(raw, overrides)
        base_seed = data.get("train", {}).get("seed", 2023) if isinstance(data.get("train"), dict) else 2023
        if not isinstance(base_seed, int) or isinstance(base_seed, bool):
            raise ConfigError(f"{path}: train.seed must be an integer, got {base_seed!r} @ $.train.seed")
        space = search_space(
            table,
            base_seed=base_seed,
            grid=grid,
            ranges=ranges,
            seeds=seeds,
            samples=samples,
            search_seed=search_seed,
            source=str(path),
        )
        chosen_jobs = table.get("jobs", 1) if jobs is None else jobs
        if not isinstance(chosen_jobs, int) or isinstance(chosen_jobs, bool) or chosen_jobs < 1:
            raise ConfigError(f"{path} [sweep]: jobs must be a whole number >= 1, got {chosen_jobs!r} @ $.sweep.jobs")
        folder = Path(output) if output is not None else Path("sweeps") / path.stem
        return cls(path, folder, space, data, jobs=chosen_jobs, device=device, host=host, overrides=overrides)

    # ------------------------------------------------------------------ plan
    def _threads(self, cell: Cell, data: dict[str, Any]) -> int | None:
        """``train.threads`` of a cell: the budget (the config's, else every CPU) split between the workers."""
        if THREADS_KEY in cell.values:
            return None  # the study varies it itself
        configured = data.get("train", {}).get("threads", 0)
        if self.jobs == 1 and not configured:
            return None
        budget = configured if isinstance(configured, int) and configured > 0 else available_cpus()
        return max(1, budget // self.jobs)

    def plan(self) -> list[PlannedCell]:
        """Every cell resolved, bound and matched with its directory; one error listing every problem."""
        from lego_core.engine.run import changed_keys
        from lego_core.experiment import Experiment

        planned, problems = [], []
        for cell in self.space.cells():
            data = copy.deepcopy(self.data)
            run_dir = self.folder / cell.name
            try:
                for key, value in cell.values.items():
                    set_dotted(data, key, value)
                threads = self._threads(cell, data)
                if threads is not None:
                    set_dotted(data, THREADS_KEY, threads)
                experiment = Experiment.from_dict(
                    data, host=self.host, base_dir=self.experiment.parent.resolve(), name=cell.name
                )
                experiment.bind(self.device)
            except LegoError as err:
                problems.append((cell.name, str(err).removeprefix(f"{cell.name}: ")))
                continue
            state = "new"
            if (run_dir / rundir.RESULTS_FILE).is_file() or (run_dir / rundir.CHECKPOINTS / "last.pt").is_file():
                state = "done" if (run_dir / rundir.RESULTS_FILE).is_file() else "resume"
                try:
                    recorded = json.loads((run_dir / rundir.RUN_FILE).read_text())["config"]
                except (OSError, ValueError, KeyError):
                    problems.append(
                        (
                            cell.name,
                            f"{run_dir} holds a run without a readable {rundir.RUN_FILE}; "
                            "move it away or give another --output",
                        )
                    )
                    continue
                wanted = experiment.resolved.to_dict(qualified=True)
                changed = changed_keys(recorded, wanted)
                if changed:
                    problems.append(
                        (
                            cell.name,
                            f"{run_dir} was run with another config ({'; '.join(changed)}); "
                            "give another --output, or move that directory away to re-run it",
                        )
                    )
                    continue
                if state == "done" and any(_get(recorded, k) != _get(wanted, k) for k in EXTENDING_KEYS):
                    state = "resume"  # more epochs (or patience) asked of a finished cell: continue it
            planned.append(PlannedCell(cell=cell, run_dir=run_dir, state=state, data=data, threads=threads))
        if problems:
            raise ConfigError(_summarise(problems, len(planned) + len(problems), self.experiment))
        return planned

    # ------------------------------------------------------------------ run
    def run(self, console: Console | None = None) -> SweepResult:
        """Plan, then run every cell that is not done; a line per finished cell on ``console``."""
        console = console or Console(quiet=True)
        planned = self.plan()
        self.folder.mkdir(parents=True, exist_ok=True)
        with (
            file_lock(self.folder / ".lock", blocking=False, what=f"the sweep directory {self.folder}"),
            open(self.folder / SWEEP_LOG, "a", encoding="utf-8") as log,
        ):
            self._write_manifest(planned)

            def say(text: str) -> None:
                console.print(text, markup=False, highlight=False, soft_wrap=True)
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
                log.flush()

            done = [p.cell.name for p in planned if p.state == "done"]
            todo = [p for p in planned if p.state != "done"]
            threads = {p.threads for p in todo if p.threads is not None}
            say(
                f"sweep {self.folder}: {len(planned)} cells; {len(done)} done, "
                f"{sum(p.state == 'resume' for p in todo)} to resume, {sum(p.state == 'new' for p in todo)} to run; "
                f"{self.jobs} worker{'s' if self.jobs > 1 else ''}"
                + (f", {min(threads)} thread{'s' if min(threads) > 1 else ''} each" if threads else "")
            )
            outcomes: list[CellOutcome] = []
            tasks = [
                CellTask(
                    name=p.cell.name,
                    data=p.data,
                    base_dir=str(self.experiment.parent.resolve()),
                    run_dir=str(p.run_dir),
                    resume=p.state == "resume",
                    threads=p.threads,
                    device=self.device,
                )
                for p in todo
            ]

            def finished(outcome: CellOutcome, running: int, waiting: int) -> None:
                outcomes.append(outcome)
                position = f"[{len(done) + len(outcomes)}/{len(planned)}]"
                state = f" ({running} running, {waiting} waiting)" if running or waiting else ""
                say(f"{position} {outcome.name}: {_outcome_text(outcome)}{state}")

            interrupted = False
            try:
                if self.jobs == 1 or len(tasks) <= 1:
                    self._run_here(tasks, finished)
                else:
                    self._run_in_workers(tasks, finished)
            except KeyboardInterrupt:
                interrupted = True
            # a run catches the signal itself (it saves a checkpoint and stops): its outcome says so
            interrupted = interrupted or self._interrupted or any(o.stopped for o in outcomes)
            failed = [o for o in outcomes if o.error is not None and not o.stopped]
            if interrupted:
                say(
                    f"interrupted: {len(done) + len(outcomes) - len(failed)} of {len(planned)} cells done; "
                    "run the same command again to continue"
                )
            else:
                say(
                    f"sweep finished: {len(planned) - len(failed)} of {len(planned)} cells done"
                    + (f", {len(failed)} failed" if failed else "")
                    + f" ({self.folder})"
                )
        return SweepResult(folder=self.folder, outcomes=outcomes, skipped=done, interrupted=interrupted)

    def _write_manifest(self, planned: list[PlannedCell]) -> None:
        atomic.write_json(
            self.folder / MANIFEST,
            {
                "experiment": str(self.experiment.resolve()),
                "overrides": self.overrides,
                "lego_version": lego_core.__version__,
                "jobs": self.jobs,
                "space": self.space.describe(),
                "cells": [{"name": p.cell.name, "values": dict(p.cell.values)} for p in planned],
            },
        )

    @contextlib.contextmanager
    def _note_interrupts(self) -> Iterator[None]:
        """Remember a Ctrl-C even where a run turns it into an error (it saves a checkpoint first)."""
        try:
            previous = signal.getsignal(signal.SIGINT)

            def handler(signum: int, frame: Any) -> None:
                self._interrupted = True
                signal.default_int_handler(signum, frame)

            signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: no handler, Ctrl-C is the caller's business
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _run_here(self, tasks: list[CellTask], finished: Any) -> None:
        with self._note_interrupts():
            for i, task in enumerate(tasks):
                outcome = run_cell(task)
                finished(outcome, 0, len(tasks) - i - 1)
                if self._interrupted or outcome.stopped:
                    return

    def _run_in_workers(self, tasks: list[CellTask], finished: Any) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: nothing inherited
        with cf.ProcessPoolExecutor(
            max_workers=min(self.jobs, len(tasks)),
            mp_context=context,
            initializer=start_worker,
            initargs=(os.getpid(),),
        ) as pool:
            futures = {pool.submit(run_cell, task): task for task in tasks}
            pending = set(futures)
            try:
                workers = min(self.jobs, len(tasks))
                for future in cf.as_completed(futures):
                    pending.discard(future)
                    # Future.running() is no help here: the pool marks every queued call running
                    running = min(workers, len(pending))
                    try:
                        outcome = future.result()
                    except cf.process.BrokenProcessPool:
                        outcome = CellOutcome(
                            name=futures[future].name,
                            results=None,
                            seconds=0.0,
                            error="its worker process died (killed, or out of memory?); "
                            "run the same command again to resume it",
                        )
                    finished(outcome, running, len(pending) - running)
            except KeyboardInterrupt:
                # a Ctrl-C reaches the workers too (one process group); one sent to this process alone is
                # passed on, so each running cell saves its checkpoint before the pool closes
                for process in list(getattr(pool, "_processes", {}).values()):
                    with contextlib.suppress(OSError):
                        os.kill(process.pid, signal.SIGINT)
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def _get(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _outcome_text(outcome: CellOutcome) -> str:
    if outcome.stopped:
        return f"stopped after {outcome.seconds:.1f} s, a checkpoint saved (resumed by the same command)"
    if outcome.error is not None:
        first = outcome.error.strip().splitlines()[-1] if "Traceback" in outcome.error else outcome.error
        return f"failed after {outcome.seconds:.1f} s: {first}"
    results = outcome.results or {}
    monitor = results.get("run", {}).get("monitor")
    splits = [s for s in results if s not in ("run", "timing", "cold_start")]
    shown = ""
    if splits and monitor in results[splits[-1]]:
        value = results[splits[-1]][monitor]
        shown = f", {splits[-1]} {monitor}=" + ("nan" if value is None else f"{value:.4f}")
    return f"done in {outcome.seconds:.1f} s{shown}"


def _summarise(problems: list[tuple[str, str]], cells: int, source: Path) -> str:
    """Cells sharing one problem are named together."""
    by_message: dict[str, list[str]] = {}
    for name, message in problems:
        by_message.setdefault(message, []).append(name)
    lines = []
    for message, names in by_message.items():
        who = f"all {cells} cells" if len(names) == cells else ", ".join(names)
        lines.append(f"{who}: {message}".replace("\n  - ", "\n      - "))
    return f"{source}: the sweep cannot start; " + (
        lines[0] if len(lines) == 1 else f"{len(lines)} problems:\n  - " + "\n  - ".join(lines)
    )
