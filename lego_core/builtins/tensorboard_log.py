"""TensorBoard event files through the lifecycle hooks (``[log] tensorboard = true``).

The optional extra ``tensorboard`` provides the package that
``torch.utils.tensorboard`` writes with (``pip install 'lego-core[tensorboard]'``);
a run that asks for it without the package is refused before its run
directory exists. Events go to ``RUN_DIR/log/tensorboard``
(``tensorboard --logdir runs`` shows every run). Scalars, all against the
global step:

- ``train/loss`` and ``train/lr``: every ``[log] every_steps`` optimiser steps;
- ``epoch/loss`` and ``valid/<metric>``: at each epoch end;
- ``<split>/<metric>`` (``test/gauc``): the final evaluation of every split.

A resumed run opens its writer with ``purge_step`` at the checkpoint's step,
so TensorBoard hides the points the interrupted run wrote after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lego_core.builtins.log_settings import log_settings

FOLDER = "tensorboard"
_WRITERS: dict[Path, Any] = {}  # run directory -> its SummaryWriter while the run is going
_STEPS: dict[Path, int] = {}  # run directory -> the last global step seen


def _writer(run_dir: Path) -> Any:
    return _WRITERS.get(Path(run_dir))


def start(run_dir: Path, settings: Mapping[str, Any], step: int) -> None:
    if not log_settings(settings).tensorboard:
        return
    from torch.utils.tensorboard import SummaryWriter

    run_dir = Path(run_dir)
    old = _WRITERS.pop(run_dir, None)
    if old is not None:
        old.close()
    # purge_step drops events at or after it that an interrupted run left behind
    _WRITERS[run_dir] = SummaryWriter(
        log_dir=str(run_dir / "log" / FOLDER), purge_step=step + 1 if step else None, flush_secs=10
    )
    _STEPS[run_dir] = step


def step_end(run_dir: Path, settings: Mapping[str, Any], step: int, loss: float, lr: float) -> None:
    writer = _writer(run_dir)
    if writer is None:
        return
    _STEPS[Path(run_dir)] = step
    if step % log_settings(settings).every_steps:
        return
    writer.add_scalar("train/loss", loss, step)
    writer.add_scalar("train/lr", lr, step)


def epoch_end(run_dir: Path, step: int, metrics: Mapping[str, float]) -> None:
    writer = _writer(run_dir)
    if writer is None:
        return
    for key, value in metrics.items():
        writer.add_scalar("epoch/loss" if key == "loss" else f"valid/{key}", value, step)
    writer.flush()  # an epoch's points survive a crash of the process


def experiment_end(run_dir: Path, results: Mapping[str, Any]) -> None:
    writer = _WRITERS.pop(Path(run_dir), None)
    if writer is None:
        return
    step = _STEPS.pop(Path(run_dir), 0)
    for split, metrics in results.items():
        if split in ("run", "timing", "cold_start") or not isinstance(metrics, Mapping):
            continue
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                writer.add_scalar(f"{split}/{key}", value, step)
    writer.close()
