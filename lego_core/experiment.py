"""The Python API: ``Experiment.from_toml(path).run()`` does what ``lego run`` does.

Data flows one way, in phases:

1. :meth:`Experiment.from_toml` / :meth:`~Experiment.from_dict` read and
   resolve the config (presets, registries, brick and task options, metrics,
   settings, brick fit); a mistake is a :class:`~lego_core.errors.ConfigError`
   naming every key path at once.
2. :meth:`Experiment.bind` checks the experiment against its depot and
   machine (columns, splits, device) with no side effect, reporting every
   problem at once, and returns a :class:`BoundExperiment`.
3. A :class:`~lego_core.engine.run.Run` is created from the bound experiment:
   only then does a run directory exist. It builds the model, trains it
   through the task with an evaluator, and writes the results.

An :class:`Experiment` owns its plugin host and registries; nothing is
global, so two experiments can run in one process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from rich.console import Console

from lego_core.config.resolve import ResolvedExperiment, load_experiment, resolve
from lego_core.config.schema import ExperimentConfig, TrainConfig
from lego_core.config.tomlio import load_toml
from lego_core.data.depot import Depot
from lego_core.engine import rundir
from lego_core.engine.checkpoint import load_checkpoint
from lego_core.engine.distributed import SINGLE, Distributed
from lego_core.engine.evaluate import Evaluator
from lego_core.engine.task import Task
from lego_core.errors import ConfigError, DataError, LegoError
from lego_core.lock import depot_lock, file_lock
from lego_core.model.build import build_model, model_context
from lego_core.model.recommender import Recommender
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries

DEFAULT_EVAL_SPLITS = TrainConfig().eval_splits


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f'train.device = "{name}" is not a device; use "cpu", "cuda", "cuda:N" or "auto"') from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f'train.device = "{name}": lego runs on "cpu" or "cuda" ("cuda:N"), or "auto"')
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f'train.device = "{name}" but CUDA is not available here; use "cpu" or "auto"')
    return device


@attrs.frozen
class BoundExperiment:
    """An experiment checked against its depot and device: everything a run needs, nothing written yet."""

    resolved: ResolvedExperiment
    host: PluginHost
    registries: Registries
    depot: Depot
    device: torch.device
    task: Task
    eval_splits: tuple[str, ...]
    valid_split: str | None
    name: str
    overrides: tuple[str, ...] = ()
    dist: Distributed = SINGLE

    @property
    def config(self) -> ExperimentConfig:
        return self.resolved.config


def _splits(config: ExperimentConfig, depot: Depot, problems: list[str]) -> tuple[str, ...]:
    """The evaluation splits: every one listed must exist and hold pairs (the default skips absent ones)."""
    listed = list(config.train.eval_splits)
    if not listed:
        problems.append('train.eval_splits is empty; list at least one split to evaluate, e.g. ["test"]')
        return ()
    default = listed == list(DEFAULT_EVAL_SPLITS)
    chosen = []
    for split in listed:
        if split not in depot.splits:
            if not default:
                problems.append(
                    f"train.eval_splits names {split!r}, but the depot {depot.path} has the splits "
                    f"{', '.join(depot.splits)}"
                )
            continue
        if depot.table(split).num_rows == 0:
            problems.append(f"the {split!r} split of {depot.path} is empty; remove it from train.eval_splits")
            continue
        chosen.append(split)
    if default and not chosen and not problems:
        problems.append(
            f"the depot {depot.path} has none of the evaluation splits {listed}; "
            f"set train.eval_splits to some of {depot.splits}"
        )
    return tuple(chosen)


def _recorded_depot(run_dir: Path, config: Path) -> list[str]:
    """``["data.path=..."]`` pointing at run.json's absolute depot path when config.toml's path finds no depot."""
    try:
        written = load_toml(config).get("data", {}).get("path")
        recorded = json.loads((run_dir / rundir.RUN_FILE).read_text())["depot"]["path"]
    except (LegoError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    if not isinstance(written, str) or (run_dir / written / "meta.json").is_file():
        return []
    if not (Path(recorded) / "meta.json").is_file():
        return []
    return [f"data.path={json.dumps(recorded)}"]


class Experiment:
    """A resolved experiment, ready to bind, run or evaluate.

    Args:
        resolved: the checked config (see :func:`lego_core.config.resolve.resolve`).
        host: the plugin host it was resolved with (for lifecycle hooks).
        name: used in the run directory's name.
        registries: the host's registries (built from ``host`` when omitted).
    """

    def __init__(
        self,
        resolved: ResolvedExperiment,
        host: PluginHost,
        name: str = "experiment",
        registries: Registries | None = None,
        overrides: Sequence[str] = (),
    ) -> None:
        self.resolved = resolved
        self.overrides = tuple(overrides)
        self.config = resolved.config
        self.host = host
        self.registries = registries or Registries(host)
        self.name = name
        self.model: Recommender | None = None
        self.run_dir: Path | None = None
        self.dist: Distributed = SINGLE  # the process group of the last run (torchrun)
        self._depot: Depot | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_toml(cls, path: str | Path, overrides: Sequence[str] = (), host: PluginHost | None = None) -> Experiment:
        host = host or PluginHost()
        registries = Registries(host)
        if Path(path).is_dir():
            raise ConfigError(f"{path} is a folder; give the experiment's TOML file (lego run experiment.toml)")
        resolved = load_experiment(path, registries, overrides)
        return cls(resolved, host, name=Path(path).stem, registries=registries, overrides=overrides)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        overrides: Sequence[str] = (),
        host: PluginHost | None = None,
        base_dir: str | Path | None = None,
        name: str = "experiment",
    ) -> Experiment:
        host = host or PluginHost()
        registries = Registries(host)
        resolved = resolve(
            data, registries, source=name, overrides=overrides, base_dir=Path(base_dir).resolve() if base_dir else None
        )
        return cls(resolved, host, name=name, registries=registries, overrides=overrides)

    @classmethod
    def from_run_dir(
        cls, run_dir: str | Path, overrides: Sequence[str] = (), host: PluginHost | None = None
    ) -> Experiment:
        """The experiment of a run directory (its ``config.toml``).

        The depot is found where ``config.toml`` says, relative to the run directory; when nothing is
        there (the run directory was moved without its data), at the absolute path ``run.json`` recorded.
        """
        run_dir = Path(run_dir)
        config = run_dir / rundir.CONFIG_FILE
        if not config.is_file():
            raise LegoError(f"{run_dir}: not a run directory (no {rundir.CONFIG_FILE})")
        overrides = list(overrides)
        if not any(o.strip().startswith("data.path=") for o in overrides):
            overrides += _recorded_depot(run_dir, config)
        experiment = cls.from_toml(config, overrides, host)
        experiment.name = run_dir.name
        return experiment

    # ------------------------------------------------------------------ phases
    def bind(self, device: str | None = None) -> BoundExperiment:
        """Check the experiment against its depot and the machine; no file is written.

        Raises one :class:`~lego_core.errors.LegoError` listing every problem: a
        missing depot or column, an absent or empty split, a device that is not there.
        """
        config = self.config
        problems: list[str] = []
        try:
            device_obj = pick_device(device or config.train.device)
        except ConfigError as err:
            problems.append(str(err))
            device_obj = torch.device("cpu")
        try:
            depot = Depot(config.data.path)
        except DataError as err:
            raise DataError("; ".join([*problems, str(err)])) from None
        damaged = depot.verify()  # sizes, shapes, dtypes, ids: cheap next to training
        if damaged:
            raise DataError(
                damaged[0]
                + (
                    f" (and {len(damaged) - 1} more; `lego data verify {depot.path}` lists them)"
                    if len(damaged) > 1
                    else ""
                )
            )
        try:
            model_context(self.resolved, depot)
        except DataError as err:
            problems.append(str(err))
        if config.train.epochs > 0 and "train" not in depot.splits:
            problems.append(
                f"{depot.path}: the depot has no train split (it has {', '.join(depot.splits)}); "
                "set train.epochs = 0 to only evaluate"
            )
        eval_splits = _splits(config, depot, problems)
        if problems:
            raise DataError(
                problems[0]
                if len(problems) == 1
                else f"{self.resolved.source}: {len(problems)} problems:\n  - " + "\n  - ".join(problems)
            )
        assert self.resolved.task is not None
        task = self.resolved.task.cls(options=self.resolved.task.options, neg_count=config.model.neg_count)
        dist = Distributed.from_environment(device_obj)  # a world of one outside torchrun
        device_obj = dist.device(device_obj)
        self._depot = depot
        return BoundExperiment(
            resolved=self.resolved,
            host=self.host,
            registries=self.registries,
            depot=depot,
            device=device_obj,
            task=task,
            eval_splits=eval_splits,
            valid_split=eval_splits[0] if eval_splits else None,
            name=self.name,
            overrides=self.overrides,
            dist=dist,
        )

    # ------------------------------------------------------------------ pieces
    @property
    def depot(self) -> Depot:
        if self._depot is None:
            self._depot = Depot(self.config.data.path)
        return self._depot

    def build(self, device: torch.device | str = "cpu") -> Recommender:
        """The model with fresh, seeded parameters (no run directory)."""
        self.model = build_model(self.resolved, self.depot, device, seed=self.config.train.seed)
        return self.model

    def evaluator(self, cache: bool | None = None) -> Evaluator:
        assert self.model is not None, "build() the model first"
        train = self.config.train
        return Evaluator(
            self.model,
            self.depot,
            self.resolved.metrics,
            group_by=self.config.data.group_by,
            batch_size=train.eval_batch_size,
            cache=train.cache if cache is None else cache,
            amp=train.amp,
        )

    def evaluate_split(self, split: str, cache: bool | None = None) -> dict[str, float]:
        return self.evaluator(cache).evaluate(split)

    # ------------------------------------------------------------------ run
    def run(
        self,
        output: str | Path = "runs",
        resume: str | Path | None = None,
        device: str | None = None,
        console: Console | None = None,
        progress: bool = False,
    ) -> dict[str, Any]:
        """Train, validate, test; return (and write) the results.

        Args:
            output: the folder that receives the run directory.
            resume: a run directory to continue from its ``last.pt``.
            device: overrides ``train.device``.
            console: where epoch lines and progress go (default: nowhere, unless ``progress``).
            progress: show progress and epoch lines on standard error (a bar on a terminal or in
                Jupyter, plain lines every ``[log] progress_every_seconds`` elsewhere).
        """
        from lego_core.engine.run import Run

        console = console or Console(stderr=True, quiet=not progress)
        bound = self.bind(device)
        self.dist = bound.dist
        if resume is not None:
            run = Run.reopen(bound, Path(resume), console, build=self.build)
        else:
            run = Run.create(bound, Path(output), console, build=self.build)
        self.run_dir = run.run_dir
        try:
            return run.execute()
        finally:
            self.model = run.model

    def evaluate(
        self,
        run_dir: str | Path,
        checkpoint: str = "best.pt",
        device: str | None = None,
        cache: bool | None = None,
        splits: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Re-evaluate a run's checkpoint on its evaluation splits (or on ``splits``).

        Returns the metrics per split and, under ``"checkpoint"``, which file was evaluated and the
        epoch it was saved at. A missing checkpoint is an error listing the ones there; nothing falls
        back silently.
        """
        run_dir = Path(run_dir)
        bound = self.bind(device)
        folder = run_dir / rundir.CHECKPOINTS
        path = folder / checkpoint
        if not path.is_file():
            present = sorted(p.name for p in folder.glob("*.pt")) if folder.is_dir() else []
            raise LegoError(
                f"{run_dir}: no checkpoint {checkpoint!r} (present: {', '.join(present) or 'none'}); "
                "pick one with --checkpoint"
            )
        chosen = list(splits) if splits else list(bound.eval_splits)
        unknown = [s for s in chosen if s not in bound.depot.splits]
        if unknown:
            raise LegoError(
                f"{run_dir}: the depot {bound.depot.path} has no split {', '.join(map(repr, unknown))}; "
                f"it has {', '.join(bound.depot.splits)}"
            )
        from lego_core.engine.run import evaluate_splits

        def notify(split: str, metrics: dict[str, float]) -> None:
            self.host.notify(
                "lego_evaluation_end", split=split, metrics=metrics, run_dir=run_dir, settings=self.resolved.settings
            )

        train = self.config.train
        with file_lock(
            depot_lock(bound.depot.path),
            shared=True,
            blocking=False,
            what=f"the depot {bound.depot.path} (a prepare or augment is rewriting it)",
        ):
            model = self.build(bound.device)
            state = load_checkpoint(path, bound.device, require_digest=(run_dir / rundir.RUN_FILE).is_file())
            model.load_state_dict(state["model"])
            results = evaluate_splits(
                self.evaluator(cache),
                chosen,
                cold_start=train.cold_start,
                history_buckets=train.history_buckets,
                notify=notify,
            )
        # the epoch the checkpoint was saved after (its "epoch" is the next one to train)
        results["checkpoint"] = {"file": str(path.relative_to(run_dir)), "epoch": int(state["epoch"]) - 1}
        return results


__all__ = ["BoundExperiment", "Experiment", "pick_device"]
