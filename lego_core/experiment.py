"""The Python API: ``Experiment.from_toml(path).run()`` does what ``lego run`` does.

An :class:`Experiment` owns its plugin host, config, model and run
directory; nothing is global, so two experiments can run in one process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from lego_core.config.resolve import ResolvedExperiment, load_experiment, resolve
from lego_core.data.depot import Depot
from lego_core.engine import rundir
from lego_core.engine.checkpoint import load_checkpoint
from lego_core.engine.evaluate import SplitPairs, compute_metrics, score_split
from lego_core.engine.plan import TrainingPlan
from lego_core.engine.progress import progress_factory
from lego_core.engine.trainer import Interrupted, Trainer
from lego_core.errors import ConfigError, LegoError
from lego_core.model.build import build_model
from lego_core.model.recommender import Recommender
from lego_core.plugin.host import PluginHost


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f'train.device = "{name}" but CUDA is not available here; use "cpu" or "auto"')
    return device


class Experiment:
    """A resolved experiment, ready to run or evaluate.

    Args:
        resolved: the checked config (see :func:`lego_core.config.resolve.resolve`).
        host: the plugin host it was resolved with (for lifecycle hooks).
        name: used in the run directory's name.
    """

    def __init__(self, resolved: ResolvedExperiment, host: PluginHost, name: str = "experiment") -> None:
        self.resolved = resolved
        self.config = resolved.config
        self.host = host
        self.name = name
        self.model: Recommender | None = None
        self.run_dir: Path | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_toml(cls, path: str | Path, overrides: Sequence[str] = (), host: PluginHost | None = None) -> Experiment:
        host = host or PluginHost()
        resolved = load_experiment(path, host.registries, overrides)
        return cls(resolved, host, name=Path(path).stem)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], overrides: Sequence[str] = (), host: PluginHost | None = None,
                  base_dir: str | Path | None = None, name: str = "experiment") -> Experiment:
        host = host or PluginHost()
        resolved = resolve(data, host.registries, source=name, overrides=overrides,
                           base_dir=Path(base_dir).resolve() if base_dir else None)
        return cls(resolved, host, name=name)

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, overrides: Sequence[str] = (), host: PluginHost | None = None) -> Experiment:
        run_dir = Path(run_dir)
        config = run_dir / rundir.CONFIG_FILE
        if not config.is_file():
            raise LegoError(f"{run_dir}: not a run directory (no {rundir.CONFIG_FILE})")
        experiment = cls.from_toml(config, overrides, host)
        experiment.name = run_dir.name
        return experiment

    # ------------------------------------------------------------------ pieces
    def build(self, device: torch.device) -> Recommender:
        depot = Depot(self.config.data.path)
        self.depot = depot
        self.model = build_model(self.resolved, depot, device, seed=self.config.train.seed)
        return self.model

    def evaluate_split(self, split: str, cache: bool | None = None) -> dict[str, float]:
        assert self.model is not None, "build() the model first"
        pairs = SplitPairs.from_depot(self.depot, split, self.config.data.group_by)
        train = self.config.train
        scores = score_split(self.model, pairs, cache=train.cache if cache is None else cache,
                             batch_size=train.eval_batch_size, amp=train.amp)
        return compute_metrics(self.resolved.metrics, scores, pairs.labels, pairs.groups)

    # ------------------------------------------------------------------ run
    def run(self, output: str | Path = "runs", resume: str | Path | None = None, device: str | None = None,
            console: Console | None = None) -> dict[str, Any]:
        """Train, validate, test; return (and write) the results.

        Args:
            output: the folder that receives the run directory.
            resume: a run directory to continue from its ``last.pt``.
            device: overrides ``train.device``.
            console: where tables and progress go (a quiet one by default in the API).
        """
        console = console or Console(quiet=True)
        train = self.config.train
        if train.threads:
            torch.set_num_threads(train.threads)
        device_obj = pick_device(device or train.device)
        if resume is not None:
            run_dir = Path(resume)
            if not (run_dir / rundir.CHECKPOINTS / "last.pt").is_file():
                raise LegoError(f"{run_dir}: nothing to resume (no {rundir.CHECKPOINTS}/last.pt)")
        else:
            run_dir = rundir.new_run_dir(Path(output), self.name, train.seed)
            (run_dir / rundir.CONFIG_FILE).write_text(self.resolved.to_toml())
            rundir.write_json(run_dir / rundir.ENVIRONMENT_FILE, rundir.environment())
        self.run_dir = run_dir
        started = time.perf_counter()
        model = self.build(device_obj)
        self.host.notify("lego_experiment_start", config=self.config, run_dir=run_dir)
        checkpoints = run_dir / rundir.CHECKPOINTS
        splits = [s for s in train.eval_splits if s in self.depot.splits]
        valid = splits[0] if splits else None
        monitor = next(m for m in self.resolved.metrics if m.key == train.monitor)

        def validate() -> dict[str, float]:
            assert valid is not None
            metrics = self.evaluate_split(valid)
            self.host.notify("lego_evaluation_end", split=valid, metrics=metrics, run_dir=run_dir)
            return metrics

        def on_epoch_end(epoch: int, record: dict[str, Any]) -> None:
            rundir.write_records(run_dir / rundir.METRICS_FILE, trainer.records)
            shown = " ".join(f"{k}={v:.4f}" for k, v in record.get("valid", {}).items())
            console.print(f"epoch {epoch}: loss={record['loss']:.4f} {shown}")
            self.host.notify("lego_epoch_end", epoch=epoch, metrics={"loss": record["loss"], **record.get("valid", {})},
                             run_dir=run_dir)

        trainer = Trainer(model, TrainingPlan(self.depot, self.config.model.neg_count, train.seed), self.config,
                          checkpoints, validate=validate if valid else None, on_epoch_end=on_epoch_end)
        if resume is not None:
            trainer.restore(checkpoints / "last.pt")
            rundir.write_records(run_dir / rundir.METRICS_FILE, trainer.records)
        with progress_factory(console) as progress:
            trainer.progress = progress
            try:
                trainer.fit(higher_is_better=monitor.higher_is_better)
            except Interrupted as err:
                raise LegoError(f"{err}; a checkpoint was saved. Continue with: lego run --resume {run_dir}") from None
        train_seconds = time.perf_counter() - started
        if (checkpoints / "best.pt").is_file():
            model.load_state_dict(load_checkpoint(checkpoints / "best.pt", device_obj)["model"])
        eval_started = time.perf_counter()
        results: dict[str, Any] = {}
        for split in splits:
            results[split] = self.evaluate_split(split)
            self.host.notify("lego_evaluation_end", split=split, metrics=results[split], run_dir=run_dir)
        results["run"] = {
            "seed": train.seed,
            "epochs": trainer.epoch - 1,
            "best_epoch": trainer.best_epoch,
            "steps": trainer.global_step,
            "stopped_early": trainer.stopped_early,
            "monitor": train.monitor,
            "task": self.config.model.task,
            "bricks": {k: b.entry.qualified for k, b in self.resolved.bricks.items()},
        }
        results["timing"] = {
            "train_seconds": round(train_seconds, 3),
            "eval_seconds": round(time.perf_counter() - eval_started, 3),
        }
        rundir.write_json(run_dir / rundir.RESULTS_FILE, results)
        self.host.notify("lego_experiment_end", results=results, run_dir=run_dir)
        return results

    def evaluate(self, run_dir: str | Path, checkpoint: str = "best.pt", device: str | None = None,
                 cache: bool | None = None) -> dict[str, Any]:
        """Re-evaluate a finished run's checkpoint on its evaluation splits."""
        run_dir = Path(run_dir)
        device_obj = pick_device(device or self.config.train.device)
        model = self.build(device_obj)
        path = run_dir / rundir.CHECKPOINTS / checkpoint
        if not path.is_file():
            path = run_dir / rundir.CHECKPOINTS / "last.pt"
        model.load_state_dict(load_checkpoint(path, device_obj)["model"])
        results = {}
        for split in [s for s in self.config.train.eval_splits if s in self.depot.splits]:
            results[split] = self.evaluate_split(split, cache=cache)
            self.host.notify("lego_evaluation_end", split=split, metrics=results[split], run_dir=run_dir)
        return results
