"""Run directories read back: config, results, per-epoch records and per-step losses.

:func:`find_runs` takes what a user types after ``lego report``: run
directories, sweep directories, or any folder holding run directories at any
depth (``runs/``). A run directory is a folder with a ``config.toml`` and a
``run.json`` (or, from earlier versions, a ``results.json``). Nothing here
imports torch.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from lego_core.config.tomlio import load_toml
from lego_core.engine import rundir
from lego_core.errors import LegoError


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted keys: ``{"model": {"hidden_size": 64}}`` -> ``{"model.hidden_size": 64}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted))
        else:
            out[dotted] = value
    return out


@attrs.frozen
class RunRecord:
    """One run directory as the report sees it.

    Args:
        path: the run directory.
        config: its resolved config as dotted keys (``run.json``, else ``config.toml``).
        results: ``results.json``, or None while the run is unfinished (or failed).
        epochs: ``metrics.jsonl``, one record per finished epoch.
        steps: ``(step, loss)`` of ``log/steps.csv`` where the CSV logger wrote it.
    """

    path: Path
    config: Mapping[str, Any]
    results: Mapping[str, Any] | None
    epochs: list[dict[str, Any]]
    steps: list[tuple[int, float]]

    @property
    def finished(self) -> bool:
        return self.results is not None

    @property
    def seed(self) -> Any:
        return self.config.get("train.seed")

    def metrics(self, split: str, part: str | None = None) -> dict[str, float | None]:
        """Metric -> value of ``split`` (or of one cold-start part of it: ``cold``, ``warm``, ``history:1-4``)."""
        results = self.results or {}
        if part is None:
            found = results.get(split)
            return dict(found) if isinstance(found, Mapping) else {}
        report = (results.get("cold_start") or {}).get(split) or {}
        kind, _, label = part.partition(":")
        node = report.get("history", {}).get(label) if kind == "history" else report.get("items", {}).get(kind)
        return dict(node["metrics"]) if node else {}


def is_run_dir(path: Path) -> bool:
    return (path / rundir.CONFIG_FILE).is_file() and (
        (path / rundir.RUN_FILE).is_file() or (path / rundir.RESULTS_FILE).is_file()
    )


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise LegoError(f"{path}: cannot read it ({err}); it may be damaged") from None


def read_run(path: Path) -> RunRecord:
    """A run directory's record; an unfinished run has ``results = None``."""
    facts = _json(path / rundir.RUN_FILE)
    config = facts["config"] if isinstance(facts, dict) and "config" in facts else load_toml(path / rundir.CONFIG_FILE)
    epochs = []
    metrics_file = path / rundir.METRICS_FILE
    if metrics_file.is_file():
        for number, line in enumerate(metrics_file.read_text().splitlines(), 1):
            if line.strip():
                try:
                    epochs.append(json.loads(line))
                except ValueError:
                    raise LegoError(f"{metrics_file}:{number}: not a JSON record; the file is damaged") from None
    steps: list[tuple[int, float]] = []
    steps_file = path / "log" / "steps.csv"
    if steps_file.is_file():
        with open(steps_file, newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    steps.append((int(row["step"]), float(row["loss"])))
                except (KeyError, TypeError, ValueError):
                    continue  # a row cut short by a crash
    return RunRecord(
        path=path, config=flatten(config), results=_json(path / rundir.RESULTS_FILE), epochs=epochs, steps=steps
    )


def find_runs(paths: Iterable[str | Path]) -> list[RunRecord]:
    """Every run directory given or found below the given folders, sorted by path, each once."""
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise LegoError(f"{path}: no such run or sweep directory")
        if is_run_dir(path):
            found.setdefault(path.resolve(), None)
            continue
        below = sorted(p.parent for p in path.rglob(rundir.CONFIG_FILE) if is_run_dir(p.parent))
        if not below:
            raise LegoError(
                f"{path}: holds no run directory (a folder with {rundir.CONFIG_FILE} and "
                f"{rundir.RUN_FILE}); give run or sweep directories"
            )
        for run in below:
            found.setdefault(run.resolve(), None)
    return [read_run(p) for p in sorted(found)]
