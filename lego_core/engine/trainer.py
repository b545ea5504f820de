"""The training loop: epochs of planned batches, validation, checkpoints, early stopping.

The trainer knows no loss and no file format beyond its checkpoints: the
:class:`~lego_core.engine.task.Task` gives the plan and the loss, the bricks
add their auxiliary terms, an :class:`~lego_core.engine.evaluate.Evaluator`
validates, and a :class:`TrainingEvents` object (the run) hears about every
step, evaluation and epoch.

Everything the loop needs to continue is in the checkpoint: a resumed run
rebuilds the epoch plan from ``(seed, epoch)``, skips the steps already
done, restores model, optimizer, scheduler and RNG states, and reaches the
same final metrics as a run that was never stopped.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from lego_core import faults
from lego_core.config.schema import ExperimentConfig
from lego_core.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from lego_core.engine.distributed import SINGLE, Distributed
from lego_core.engine.evaluate import Evaluator, autocast
from lego_core.engine.optim import clip_gradients, make_optimizer, make_scheduler
from lego_core.engine.plan import TrainingPlan
from lego_core.engine.stop import StopRequest
from lego_core.engine.task import Task
from lego_core.errors import TrainingError
from lego_core.model.recommender import Recommender


class Interrupted(Exception):
    """SIGINT or SIGTERM during training; ``last.pt`` holds the state of the step boundary it stopped at."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TrainingEvents(Protocol):
    """What the trainer reports (a :class:`~lego_core.engine.run.Run` implements it)."""

    def step_end(self, step: int, epoch: int, loss: float, lr: float) -> None: ...

    def evaluated(self, split: str, metrics: dict[str, float]) -> None: ...

    def epoch_end(self, epoch: int, record: dict[str, Any]) -> None: ...


class NoEvents:
    """Events nobody listens to (benchmarks, tests)."""

    def step_end(self, step: int, epoch: int, loss: float, lr: float) -> None:
        pass

    def evaluated(self, split: str, metrics: dict[str, float]) -> None:
        pass

    def epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        pass


class Trainer:
    """Trains a :class:`Recommender` for a task.

    Args:
        model: the model (on its device).
        plan: the task's training plan of the depot.
        task: the task (its loss).
        config: the experiment config (``train`` and ``model`` tables).
        checkpoints: the folder of ``last.pt`` and ``best.pt``.
        evaluator: validates after each epoch on ``valid_split`` (None: no validation).
        valid_split: the split that drives early stopping and the best checkpoint.
        events: hears every step, evaluation and epoch end.
        progress: an optional ``(description, total, completed) -> advance(n)`` factory
            (:class:`~lego_core.engine.progress.Progress`).
        stop: the run's :class:`~lego_core.engine.stop.StopRequest` (SIGINT/SIGTERM), checked at step boundaries.
        dist: the process group under torchrun (:mod:`lego_core.engine.distributed`); each rank trains on its
            share of every global batch through DistributedDataParallel, and only rank 0 writes checkpoints.
    """

    def __init__(
        self,
        model: Recommender,
        plan: TrainingPlan,
        task: Task,
        config: ExperimentConfig,
        checkpoints: Path,
        evaluator: Evaluator | None = None,
        valid_split: str | None = None,
        events: TrainingEvents | None = None,
        progress: Any = None,
        stop: StopRequest | None = None,
        dist: Distributed = SINGLE,
    ) -> None:
        self.model = model
        self.dist = dist
        # DDP averages the gradients of the ranks' shares after every backward pass
        self.forward: torch.nn.Module = model
        if dist.active:
            from torch.nn.parallel import DistributedDataParallel

            ids = [model.items.device.index] if model.items.device.type == "cuda" else None
            self.forward = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        if config.train.compile:
            # the bricks, not the whole forward: its gathers and deduplication change shapes every batch; in
            # place (Module.compile) so state_dict keys, hence checkpoints, stay the same
            for brick in (model.content, model.behavior, model.predictor):
                brick.compile(dynamic=True)
        self.plan = plan
        self.task = task
        self.config = config
        self.train = config.train
        self.checkpoints = checkpoints
        self.evaluator = evaluator if valid_split is not None else None
        self.valid_split = valid_split
        self.events: TrainingEvents = events if events is not None else NoEvents()
        self.progress = progress
        self.stop = stop
        self.recent_losses: list[float] = []  # evidence for the NaN message
        self.device = model.items.device
        self.optimizer = make_optimizer(model, self.train)
        self.scheduler = make_scheduler(self.optimizer, self.train.warmup_steps)
        self.epoch = 1
        self.step_in_epoch = 0
        self.global_step = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0
        self.records: list[dict[str, Any]] = []
        self.epoch_loss = 0.0
        self.epoch_pairs = 0
        self.stopped_early = False
        self.higher_is_better = True

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "records": self.records,
            "epoch_loss": self.epoch_loss,
            "epoch_pairs": self.epoch_pairs,
            "stopped_early": self.stopped_early,
        }

    def restore(self, path: Path, require_digest: bool = False) -> None:
        state = load_checkpoint(path, self.device, require_digest=require_digest)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        for key in (
            "epoch",
            "step_in_epoch",
            "global_step",
            "best",
            "best_epoch",
            "bad_epochs",
            "records",
            "epoch_loss",
            "epoch_pairs",
            "stopped_early",
        ):
            setattr(self, key, state[key])

    def save(self, name: str) -> None:
        if self.dist.is_main:  # every rank holds the same state; one writes it
            save_checkpoint(self.checkpoints / name, self.state())
        self.dist.barrier()

    # ------------------------------------------------------------------ loop
    def loss(self, rows: torch.Tensor, candidates: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The task's loss of a batch plus the bricks' auxiliary terms."""
        with autocast(self.device, self.train.amp):
            scores = self.forward(rows, candidates).float()  # (B, K)
        loss = self.task.loss(scores, labels)
        extra = self.model.auxiliary_loss()
        return loss if extra is None else loss + extra.float()

    def steps_in(self, pairs: int) -> int:
        steps = math.ceil(pairs / self.train.batch_size)
        return min(steps, self.train.max_steps_per_epoch) if self.train.max_steps_per_epoch else steps

    def fit(self, higher_is_better: bool = True) -> None:
        self.higher_is_better = higher_is_better
        self.model.train()
        while self.epoch <= self.train.epochs and not self.stopped_early:
            self._run_epoch()
            self._stop_if_asked()  # after the epoch's validation and checkpoints

    def _stop_if_asked(self) -> None:
        # under torchrun every rank must stop at the same step: they agree on it
        if self.dist.any(self.stop is not None and self.stop.requested):
            signal_name = self.stop.name if self.stop is not None and self.stop.requested else "another rank's signal"
            exit_code = self.stop.exit_code if self.stop is not None and self.stop.requested else 143
            self.save("last.pt")
            raise Interrupted(
                f"stopped by {signal_name} at epoch {self.epoch}, step {self.step_in_epoch} "
                f"(global step {self.global_step})",
                exit_code,
            )

    def _non_finite(self, loss: torch.Tensor) -> TrainingError:
        """The NaN/inf message, blaming the learning rate only when the losses before it were climbing."""
        where = (
            f"the loss became {loss.item()} at epoch {self.epoch}, step {self.step_in_epoch + 1} "
            f"(global step {self.global_step + 1})"
        )
        kept = f"the last good checkpoint is kept in {self.checkpoints}"
        bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
        recent = self.recent_losses
        if bad:
            why = f"parameters are no longer finite ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
        elif not recent:
            why = (
                "it was not finite at the first step, with finite parameters: the bricks or the data give "
                "non-finite scores (check the depot with `lego data verify`)"
            )
        elif max(recent) > 10 * max(min(recent), 1e-8):
            why = (
                f"the loss climbed from {min(recent):.4g} to {max(recent):.4g} over the last {len(recent)} "
                "steps before: training diverged; a lower train.lr or a train.grad_clip usually helps"
            )
        else:
            why = (
                f"the previous {len(recent)} losses were finite and steady ({recent[-1]:.4g} last), so the "
                "scores of this batch were not finite: a brick gives NaN or inf for some inputs"
            )
        return TrainingError(f"{where}; {why}. {kept}")

    def _run_epoch(self) -> None:
        plan = self.plan.epoch(self.epoch)
        steps = self.steps_in(len(plan))
        bs = self.train.batch_size
        started = time.perf_counter()
        advance = (
            self.progress(f"epoch {self.epoch}/{self.train.epochs}", steps, completed=self.step_in_epoch)
            if self.progress
            else None
        )
        try:
            while self.step_in_epoch < steps:
                self._stop_if_asked()
                s = self.step_in_epoch * bs
                size = len(plan.rows[s : s + bs])  # the global batch (the last one may be short)
                mine = self.dist.share(size)  # this rank's share of it (all of it on one process)
                lo, hi = s + mine.start, s + mine.stop
                rows = torch.from_numpy(plan.rows[lo:hi]).to(self.device)
                candidates = torch.from_numpy(plan.candidates[lo:hi]).to(self.device)
                labels = torch.from_numpy(plan.labels[lo:hi]).to(self.device)
                loss = self.loss(rows, candidates, labels)
                # the global batch's mean loss, the same on every rank (and the one that is checked)
                value = self.dist.total(float(loss.detach()) * len(rows)) / size
                if not math.isfinite(value):
                    raise self._non_finite(torch.tensor(value))
                self.optimizer.zero_grad(set_to_none=True)
                (loss * self.dist.loss_weight(len(rows), size)).backward()
                if self.train.grad_clip > 0:
                    clip_gradients(self.model.parameters(), self.train.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.recent_losses = [*self.recent_losses[-19:], value]
                self.epoch_loss += value * size
                self.epoch_pairs += size
                self.step_in_epoch += 1
                self.global_step += 1
                self.events.step_end(self.global_step, self.epoch, value, self.optimizer.param_groups[0]["lr"])
                if advance:
                    advance(1)
                if self.train.checkpoint_every and self.global_step % self.train.checkpoint_every == 0:
                    self.save("last.pt")
                faults.point("step")
        except KeyboardInterrupt:  # no StopRequest (not the main thread): the state mid-step is not saved
            raise Interrupted(
                f"interrupted at epoch {self.epoch}, step {self.step_in_epoch}; the last checkpoint is from before it"
            ) from None
        self._stop_if_asked()  # before validation: a stop during the last step saves its state first
        self._end_epoch(time.perf_counter() - started)

    def _end_epoch(self, seconds: float) -> None:
        record: dict[str, Any] = {
            "epoch": self.epoch,
            "loss": self.epoch_loss / max(self.epoch_pairs, 1),
            "steps": self.global_step,
        }
        improved = True
        if self.evaluator is not None and self.valid_split is not None:
            metrics = self.evaluator.evaluate(self.valid_split)
            self.events.evaluated(self.valid_split, metrics)
            record["valid"] = metrics
            value = metrics[self.train.monitor]
            if not np.isnan(value) and (
                self.best is None or (value > self.best if self.higher_is_better else value < self.best)
            ):
                self.best, self.best_epoch, self.bad_epochs = value, self.epoch, 0
            else:
                improved = False
                self.bad_epochs += 1
        else:
            self.best_epoch = self.epoch
        record["seconds"] = round(seconds, 3)
        self.records.append(record)
        self.events.epoch_end(self.epoch, record)
        if self.train.patience and self.bad_epochs >= self.train.patience:
            self.stopped_early = True
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_loss = 0.0
        self.epoch_pairs = 0
        if improved:
            self.save("best.pt")
        self.save("last.pt")
