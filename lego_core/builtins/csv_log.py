"""The built-in CSV logger: every step's loss and learning rate, every epoch's metrics.

It is an ordinary plugin feature: its settings are the ``[log]`` table
(:class:`~lego_core.builtins.log_settings.LogSettings`, ``csv = true`` by
default, one row every ``every_steps`` steps), and the core plugin's
lifecycle hooks call the functions below.

``log/steps.csv``: ``step,epoch,loss,lr,seconds`` (seconds since the run
started or resumed). ``log/epochs.csv``: ``epoch,step,loss`` then the
validation metrics. A resumed run first drops the rows written after its
checkpoint's step, so the files read as if the run had never stopped.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lego_core import atomic
from lego_core.builtins.log_settings import LogSettings, log_settings

__all__ = ["EPOCHS", "LOG_DIR", "STEPS", "LogSettings", "epoch_end", "start", "step_end"]

LOG_DIR = "log"
STEPS = "steps.csv"
EPOCHS = "epochs.csv"
_STARTED: dict[Path, float] = {}


def _settings(settings: Mapping[str, Any]) -> LogSettings:
    return log_settings(settings)


def _truncate(path: Path, step: int) -> None:
    """Keep the header and the rows whose ``step`` column is at most ``step``."""
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    column = rows[0].index("step")
    kept = [rows[0]] + [r for r in rows[1:] if len(r) > column and r[column].isdigit() and int(r[column]) <= step]
    if len(kept) != len(rows):  # replaced whole, so a crash here cannot leave half a file
        text = io.StringIO(newline="")
        csv.writer(text).writerows(kept)
        atomic.write_text(path, text.getvalue())


def start(run_dir: Path, settings: Mapping[str, Any], step: int) -> None:
    if not _settings(settings).csv:
        return
    folder = run_dir / LOG_DIR
    folder.mkdir(exist_ok=True)
    for name in (STEPS, EPOCHS):
        _truncate(folder / name, step)
    _STARTED[run_dir] = time.perf_counter()


def _append(path: Path, header: list[str], row: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(header)
        writer.writerow(row)


def step_end(run_dir: Path, settings: Mapping[str, Any], step: int, epoch: int, loss: float, lr: float) -> None:
    options = _settings(settings)
    if not options.csv or step % options.every_steps:
        return
    seconds = time.perf_counter() - _STARTED.get(run_dir, time.perf_counter())
    _append(
        run_dir / LOG_DIR / STEPS,
        ["step", "epoch", "loss", "lr", "seconds"],
        [step, epoch, f"{loss:.6g}", f"{lr:.6g}", f"{seconds:.3f}"],
    )


def epoch_end(run_dir: Path, settings: Mapping[str, Any], epoch: int, step: int, metrics: Mapping[str, float]) -> None:
    if not _settings(settings).csv:
        return
    path = run_dir / LOG_DIR / EPOCHS
    keys = ["loss", *sorted(k for k in metrics if k != "loss")]
    if path.is_file() and path.stat().st_size:  # keep the columns of the first epoch
        with open(path, newline="") as handle:
            header = next(csv.reader(handle))
        keys = header[2:]
    _append(path, ["epoch", "step", *keys], [epoch, step, *(f"{metrics[k]:.6g}" if k in metrics else "" for k in keys)])
