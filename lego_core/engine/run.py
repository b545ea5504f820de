"""A run: one run directory, and everything that happens in it.

A :class:`Run` exists only after :meth:`lego_core.experiment.Experiment.bind`
has checked the whole experiment, so a mistake never leaves an empty run
directory behind. The run owns its directory (``config.toml``,
``environment.json``, ``run.json``, ``metrics.jsonl``, ``results.json``,
``checkpoints/``), holds a lock on it while it works, builds the model,
hands the trainer an :class:`~lego_core.engine.evaluate.Evaluator`, hears the
trainer's events (it implements :class:`~lego_core.engine.trainer.TrainingEvents`)
and forwards them to the plugins' lifecycle hooks.

``run.json`` records what the run is bound to: the bricks and the task by
qualified name, the depot's fingerprint and the resolved config. ``--resume``
refuses a depot that was rebuilt and a config whose keys changed, except the
keys listed in :data:`RESUMABLE_KEYS`.

A run directory is portable: ``config.toml`` names the depot by a path
relative to the run directory whenever the two share a folder below the
filesystem root (move the project folder, runs and data together, and the
run still finds its depot); ``run.json`` keeps the absolute path as well.
What the console showed goes to ``log/console.log`` too (``[log] file``),
progress lines included, and the final splits get a cold-start report
(:mod:`lego_core.engine.cold_start`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rich.console import Console

import lego_core
from lego_core import atomic, faults
from lego_core.builtins.log_settings import check_available, log_settings
from lego_core.config.toml_writer import dumps
from lego_core.data.depot import Depot
from lego_core.engine import rundir
from lego_core.engine.checkpoint import load_checkpoint
from lego_core.engine.cold_start import breakdown, seen_in_training
from lego_core.engine.evaluate import Evaluator, compute_metrics
from lego_core.engine.memory_pool import keep_freed_memory
from lego_core.engine.progress import Progress
from lego_core.engine.stop import StopRequest
from lego_core.engine.tables import cold_start_tables, results_table
from lego_core.engine.trainer import Interrupted, Trainer
from lego_core.errors import LegoError, Stopped
from lego_core.lock import depot_lock, file_lock
from lego_core.model.build import build_model
from lego_core.model.recommender import Recommender

if TYPE_CHECKING:
    from lego_core.experiment import BoundExperiment

# keys a resumed run may change (they do not change what the run computes, or only extend it)
RESUMABLE_KEYS = (
    "train.epochs",
    "train.patience",
    "train.eval_batch_size",
    "train.cache",
    "train.threads",
    "train.keep_freed_memory",
    "train.device",
    "train.checkpoint_every",
    "train.cold_start",
    "train.history_buckets",
    "data.path",
    "log",
)
LOCK_FILE = ".lock"
CONSOLE_LOG = "console.log"  # in the log/ folder of the run directory


def portable_path(target: Path, start: Path) -> str:
    """``target`` relative to ``start`` when both lie below one folder other than the root, else absolute.

    Example:
        >>> portable_path(Path("/work/proj/data/synth"), Path("/work/proj/runs/a"))
        '../../data/synth'
        >>> portable_path(Path("/data/synth"), Path("/work/runs/a"))
        '/data/synth'
    """
    target, start = Path(os.path.abspath(target)), Path(os.path.abspath(start))
    common = Path(os.path.commonpath([target, start]))
    if common == Path(common.anchor):
        return str(target)
    return os.path.relpath(target, start)


def reported_splits(splits: Sequence[str]) -> tuple[str, ...]:
    """The splits a cold-start report covers: all but the validation split (the first), unless it is the only one."""
    return tuple(splits[1:]) if len(splits) > 1 else tuple(splits)


def evaluate_splits(
    evaluator: Evaluator,
    splits: Sequence[str],
    *,
    cold_start: bool,
    history_buckets: Sequence[int],
    notify: Callable[[str, dict[str, float]], None] | None = None,
    before_each: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Every split's metrics and, with ``cold_start``, the cold-start report (``results["cold_start"]``).

    The report covers :func:`reported_splits` (``test`` of the default ``["valid", "test"]``). Each
    split is scored once; the report reuses the scores.
    """
    results: dict[str, Any] = {}
    reports: dict[str, Any] = {}
    depot: Depot = evaluator.depot
    seen: np.ndarray | None = None
    for split in splits:
        if before_each is not None:  # a stop request between splits
            before_each()
        pairs = evaluator.pairs(split)
        scores = evaluator.scores(split)
        results[split] = compute_metrics(evaluator.metrics, scores, pairs.labels, pairs.groups)
        if notify is not None:
            notify(split, results[split])
        if cold_start and "train" in depot.splits and split in reported_splits(splits):
            seen = seen_in_training(depot) if seen is None else seen
            reports[split] = breakdown(depot, pairs, scores, evaluator.metrics, history_buckets, seen=seen)
    if reports:
        results["cold_start"] = reports
    return results


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
    return out


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The dotted keys whose values differ, ``"key: old -> new"``, except the resumable ones."""
    old, new = _flatten(before), _flatten(after)
    lines = []
    for key in sorted(set(old) | set(new)):
        if any(key == k or key.startswith(k + ".") for k in RESUMABLE_KEYS):
            continue
        if old.get(key, "<unset>") != new.get(key, "<unset>"):
            lines.append(f"{key}: {old.get(key, '<unset>')!r} -> {new.get(key, '<unset>')!r}")
    return lines


class Run:
    """One run directory of a bound experiment.

    Use :meth:`create` for a new run and :meth:`reopen` to resume one; then :meth:`execute`.
    """

    def __init__(
        self,
        bound: BoundExperiment,
        run_dir: Path,
        *,
        resumed: bool,
        console: Console,
        build: Callable[[torch.device], Recommender] | None = None,
    ) -> None:
        self.bound = bound
        self.build = build or (
            lambda device: build_model(bound.resolved, bound.depot, device, seed=bound.config.train.seed)
        )
        self.run_dir = run_dir
        self.resumed = resumed
        self.console = console
        self.checkpoints = run_dir / rundir.CHECKPOINTS
        self.model: Recommender | None = None
        self.trainer: Trainer | None = None
        self.log: Console | None = None  # log/console.log while the run executes
        self.progress: Progress | None = None
        self.stop = StopRequest()

    # ------------------------------------------------------------------ directories
    def facts(self) -> dict[str, Any]:
        """What ``run.json`` records."""
        bound = self.bound
        resolved = bound.resolved
        config = resolved.to_dict(qualified=True)
        return {
            "name": bound.name,
            "lego_version": lego_core.__version__,
            "bricks": {k: c.entry.qualified for k, c in resolved.bricks.items()},
            "task": resolved.task.entry.qualified if resolved.task else None,
            "depot": {
                "path": str(Path(bound.depot.path).resolve()),
                "relative": portable_path(bound.depot.path, self.run_dir),
                "fingerprint": bound.depot.meta.get("fingerprint"),
            },
            "config_sha256": config_hash(config),
            "config": config,
        }

    @classmethod
    def create(
        cls,
        bound: BoundExperiment,
        output: Path,
        console: Console,
        build: Callable[[torch.device], Recommender] | None = None,
        run_dir: Path | None = None,
    ) -> Run:
        """A new run directory under ``output`` with the resolved config, environment and run facts.

        ``build(device)`` makes the model (default: the bricks with the experiment's seed).
        ``run_dir``: this exact directory instead of a new name under ``output`` (a sweep's cell); it
        may exist, but must hold no checkpoint and no results.
        """
        check_available(bound.resolved.settings)
        if Path(output).exists() and not Path(output).is_dir():
            raise LegoError(f"--output {output} is a file; give a folder for run directories")
        dist = bound.dist
        if not dist.is_main:  # rank 0 makes the directory; the other ranks learn its name
            run_dir = None
        elif run_dir is None:
            run_dir = rundir.new_run_dir(Path(output), bound.name, bound.config.train.seed, bound.overrides)
        else:
            run_dir = Path(run_dir)
            if (run_dir / rundir.RESULTS_FILE).exists() or (run_dir / rundir.CHECKPOINTS / "last.pt").exists():
                raise LegoError(f"{run_dir} already holds a run; resume it or pick another directory")
            run_dir.mkdir(parents=True, exist_ok=True)
        run_dir = Path(dist.broadcast(str(run_dir)))
        run = cls(bound, run_dir, resumed=False, console=console, build=build)
        if dist.is_main:
            rundir.write_json(run_dir / rundir.ENVIRONMENT_FILE, rundir.environment())
            run.write_config()
        dist.barrier()
        return run

    @classmethod
    def reopen(
        cls,
        bound: BoundExperiment,
        run_dir: Path,
        console: Console,
        build: Callable[[torch.device], Recommender] | None = None,
    ) -> Run:
        """An interrupted run, checked against what it was bound to."""
        run_dir = Path(run_dir)
        if not (run_dir / rundir.CHECKPOINTS / "last.pt").is_file():
            raise LegoError(f"{run_dir}: nothing to resume (no {rundir.CHECKPOINTS}/last.pt)")
        check_available(bound.resolved.settings)
        run = cls(bound, run_dir, resumed=True, console=console, build=build)
        facts_file = run_dir / rundir.RUN_FILE
        if facts_file.is_file():  # run directories of earlier versions have none
            recorded = json.loads(facts_file.read_text())
            now = run.facts()
            if recorded["depot"].get("fingerprint") != now["depot"]["fingerprint"]:
                raise LegoError(
                    f"{run_dir}: the depot changed since this run started ({recorded['depot']['path']} fingerprint "
                    f"{str(recorded['depot'].get('fingerprint'))[:12]}..., now {bound.depot.path} "
                    f"{str(now['depot']['fingerprint'])[:12]}...); a resumed run must read the same data. "
                    "Start a new run instead."
                )
            changed = changed_keys(recorded["config"], now["config"])
            if changed:
                raise LegoError(
                    f"{run_dir}: the experiment changed since this run started ("
                    + "; ".join(changed)
                    + "). Only "
                    + ", ".join(RESUMABLE_KEYS)
                    + " may change on resume; start a new run for anything else."
                )
            if recorded["config"] != now["config"] and bound.dist.is_main:  # resumable keys changed: the
                run.write_config()  # directory says what it became
        return run

    def write_config(self) -> None:
        """``config.toml`` (the depot named portably) and ``run.json`` of the bound experiment."""
        config = self.bound.resolved.to_dict(qualified=True)
        config["data"]["path"] = portable_path(self.bound.depot.path, self.run_dir)
        notes = "".join(f"# note: {note}\n" for note in self.bound.resolved.notes)  # what resolving changed
        atomic.write_text(self.run_dir / rundir.CONFIG_FILE, notes + ("\n" if notes else "") + dumps(config))
        rundir.write_json(self.run_dir / rundir.RUN_FILE, self.facts())

    # ------------------------------------------------------------------ events (TrainingEvents)
    def _notify(self, hook: str, **kwargs: Any) -> None:
        if self.bound.dist.is_main:  # plugins hear a run once, from rank 0
            self.bound.host.notify(hook, run_dir=self.run_dir, settings=self.bound.resolved.settings, **kwargs)

    def say(self, text: str) -> None:
        """A line for the console and the console log (rank 0 speaks for a torchrun group)."""
        if not self.bound.dist.is_main:
            return
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        if self.log is not None:
            self.log.print(text, markup=False, highlight=False, soft_wrap=True)

    def step_end(self, step: int, epoch: int, loss: float, lr: float) -> None:
        if self.progress is not None:
            self.progress.loss(loss)
        self._notify("lego_train_step_end", step=step, epoch=epoch, loss=loss, lr=lr)

    def evaluated(self, split: str, metrics: dict[str, float]) -> None:
        self._notify("lego_evaluation_end", split=split, metrics=metrics)

    def epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        assert self.trainer is not None
        if not self.bound.dist.is_main:
            return
        rundir.write_records(self.run_dir / rundir.METRICS_FILE, self.trainer.records)
        shown = " ".join(f"{k}={v:.4f}" for k, v in record.get("valid", {}).items())
        self.say(f"epoch {epoch}: loss={record['loss']:.4f} {shown}")
        self._notify(
            "lego_epoch_end",
            epoch=epoch,
            step=record["steps"],
            metrics={"loss": record["loss"], **record.get("valid", {})},
        )

    # ------------------------------------------------------------------ the run
    def execute(self) -> dict[str, Any]:
        """Train, validate, test; write and return the results.

        Holds the run directory's lock (one process group per run) and the depot's shared lock (no
        ``prepare --force`` under a running experiment); SIGINT and SIGTERM stop it at a step boundary
        with a resumable checkpoint (:class:`~lego_core.errors.Stopped`, exit code 130 or 143).
        """
        depot = self.bound.depot.path
        main = self.bound.dist.is_main
        run_lock = (
            file_lock(self.run_dir / LOCK_FILE, blocking=False, what=f"the run directory {self.run_dir}")
            if main
            else contextlib.nullcontext()
        )
        with (
            run_lock,
            file_lock(
                depot_lock(depot),
                shared=True,
                blocking=False,
                what=f"the depot {depot} (a prepare or augment is rewriting it)",
            ),
            StopRequest() as stop,
            self._console_log(),
        ):
            self.stop = stop
            try:
                return self._execute()
            except Interrupted as err:
                stopped = Stopped(
                    f"{err}; a checkpoint was saved. Continue with: lego run --resume {self.run_dir}", err.exit_code
                )
                if self.log is not None:
                    self.log.print(f"stopped: {stopped}", markup=False, highlight=False, soft_wrap=True)
                raise stopped from None
            except (LegoError, KeyboardInterrupt) as err:
                if self.log is not None:
                    self.log.print(
                        f"error: {err}" if str(err) else "interrupted", markup=False, highlight=False, soft_wrap=True
                    )
                raise

    def _stop_if_asked(self) -> None:
        if self.bound.dist.any(self.stop.requested):
            raise Interrupted(
                f"stopped by {self.stop.name or 'another rank'} during the final evaluation", self.stop.exit_code or 143
            )

    @contextlib.contextmanager
    def _console_log(self) -> Iterator[None]:
        """``log/console.log`` (appended to on resume) while the run executes, when ``[log] file`` is on."""
        if not log_settings(self.bound.resolved.settings).file or not self.bound.dist.is_main:
            yield
            return
        folder = self.run_dir / "log"
        folder.mkdir(exist_ok=True)
        with open(folder / CONSOLE_LOG, "a", encoding="utf-8") as handle:
            self.log = Console(
                file=handle, width=120, no_color=True, force_terminal=False, force_jupyter=False, soft_wrap=False
            )
            try:
                yield
            finally:
                self.log = None

    def _execute(self) -> dict[str, Any]:
        bound = self.bound
        config, train = bound.config, bound.config.train
        if train.threads:
            torch.set_num_threads(train.threads)
        if train.keep_freed_memory:
            keep_freed_memory()
        started = time.perf_counter()
        model = self.model = self.build(bound.device)
        dist = bound.dist
        evaluator = Evaluator(
            model,
            bound.depot,
            bound.resolved.metrics,
            group_by=config.data.group_by,
            batch_size=train.eval_batch_size,
            cache=train.cache,
            amp=train.amp,
            dist=dist,
        )
        trainer = self.trainer = Trainer(
            model,
            bound.task.plan(bound.depot, train.seed),
            bound.task,
            config,
            self.checkpoints,
            evaluator=evaluator,
            valid_split=bound.valid_split,
            events=self,
            stop=self.stop,
            dist=dist,
        )
        if self.resumed:
            trainer.restore(self.checkpoints / "last.pt", require_digest=(self.run_dir / rundir.RUN_FILE).is_file())
            if dist.is_main:
                rundir.write_records(self.run_dir / rundir.METRICS_FILE, trainer.records)
        if self.log is not None:
            bricks = ", ".join(f"{k}={b.entry.qualified}" for k, b in bound.resolved.bricks.items())
            self.log.print(
                f"{time.strftime('%Y-%m-%d %H:%M:%S')} lego-core {lego_core.__version__}: "
                f"{'resuming at step ' + str(trainer.global_step) if self.resumed else 'starting'} "
                f"{self.run_dir} ({bricks}; task {config.model.task}; device {bound.device})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        self._notify("lego_experiment_start", config=config, step=trainer.global_step)
        monitor = next(m for m in bound.resolved.metrics if m.key == train.monitor)
        options = log_settings(bound.resolved.settings)
        shown = self.console if dist.is_main else Console(quiet=True)
        with Progress(
            shown, self.log, every_seconds=options.progress_every_seconds, every_steps=options.progress_every_steps
        ) as progress:
            trainer.progress = self.progress = progress
            try:
                trainer.fit(higher_is_better=monitor.higher_is_better)
            finally:
                self.progress = None
        train_seconds = time.perf_counter() - started
        if (self.checkpoints / "best.pt").is_file():
            model.load_state_dict(
                load_checkpoint(self.checkpoints / "best.pt", bound.device, require_digest=True)["model"]
            )
        eval_started = time.perf_counter()
        results = evaluate_splits(
            evaluator,
            bound.eval_splits,
            cold_start=train.cold_start,
            history_buckets=train.history_buckets,
            notify=self.evaluated,
            before_each=self._stop_if_asked,
        )
        self._stop_if_asked()
        faults.point("results")
        resolved = bound.resolved
        results["run"] = {
            "seed": train.seed,
            "epochs": trainer.epoch - 1,
            "best_epoch": trainer.best_epoch,
            "steps": trainer.global_step,
            "stopped_early": trainer.stopped_early,
            "monitor": train.monitor,
            "task": config.model.task,
            "bricks": {k: b.entry.qualified for k, b in resolved.bricks.items()},
        }
        results["timing"] = {
            "train_seconds": round(train_seconds, 3),
            "eval_seconds": round(time.perf_counter() - eval_started, 3),
        }
        if dist.active:
            results["run"]["processes"] = dist.world
        if dist.is_main:
            rundir.write_json(self.run_dir / rundir.RESULTS_FILE, results)
        if self.log is not None:
            for table in [results_table(results, title=bound.name), *cold_start_tables(results)]:
                self.log.print(table)
            self.log.print(f"run directory: {self.run_dir}", markup=False, highlight=False, soft_wrap=True)
        self._notify("lego_experiment_end", results=results)
        dist.barrier()
        return results
