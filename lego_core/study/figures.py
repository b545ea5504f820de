"""PNG figures of a report (the optional ``plot`` extra: ``pip install 'lego-core[plot]'``, matplotlib).

For a study (:func:`study_figures`):

- ``loss.png``: the training loss per epoch of every run, one colour per group;
- ``valid.png``: every validation metric per epoch of every run;
- ``<split>.png`` (``test.png``): one bar per group for each metric, the bar at the
  mean, the error bar the 95% bootstrap interval, a dot per run.

For a single run (:func:`run_figures`), ``curves.png``: the loss of every step
(``log/steps.csv``) with each epoch's mean, and the validation metrics per epoch.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg
canvas (no pyplot, no display, no global state) and written atomically.
"""

from __future__ import annotations

import importlib.util
import io
import math
from pathlib import Path
from typing import Any

from lego_core import atomic
from lego_core.errors import LegoError
from lego_core.study.report import Report
from lego_core.study.runs import RunRecord

PLOT_HINT = "pip install 'lego-core[plot]' (or pip install matplotlib)"
DPI = 120


def require_matplotlib() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise LegoError(f"--figures needs matplotlib, which is not installed: {PLOT_HINT}")


def _figure(panels: int, width: float = 5.0, height: float = 3.6) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    columns = min(panels, 3)
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[panels:]:
        extra.set_visible(False)
    return figure, axes[:panels]


def _save(figure: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    atomic.replace_atomically(path, lambda handle: handle.write(buffer.getvalue()))
    return path


def _colours(count: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _curves(axis: Any, report: Report, value: Any, ylabel: str) -> bool:
    """One line per run of ``value(record)`` over epochs, coloured by group; False if nothing to draw."""
    drawn = False
    for group, colour in zip(report.groups, _colours(len(report.groups))):
        labelled = False
        for run in group.runs:
            points = [(r["epoch"], value(r)) for r in run.epochs if value(r) is not None]
            if not points:
                continue
            epochs, values = zip(*points)
            axis.plot(
                epochs,
                values,
                marker="o",
                markersize=3,
                color=colour,
                alpha=0.85,
                label=None if labelled else group.label,
            )
            labelled = drawn = True
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    if drawn:
        axis.legend(fontsize="small")
        axis.xaxis.get_major_locator().set_params(integer=True)
    return drawn


def study_figures(report: Report, folder: str | Path) -> list[Path]:
    """``loss.png``, ``valid.png`` and ``<split>.png`` of a report, in ``folder``; the paths written."""
    require_matplotlib()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    figure, (axis,) = _figure(1, width=6.5)
    if _curves(axis, report, lambda r: r.get("loss"), "training loss"):
        axis.set_title("training loss per epoch")
        written.append(_save(figure, folder / "loss.png"))

    valid: list[str] = []
    for group in report.groups:
        for run in group.runs:
            for record in run.epochs:
                valid.extend(k for k in record.get("valid", {}) if k not in valid)
    if valid:
        figure, axes = _figure(len(valid))
        for axis, metric in zip(axes, valid):
            _curves(axis, report, lambda r, m=metric: r.get("valid", {}).get(m), metric)
            axis.set_title(f"validation {metric} per epoch")
        written.append(_save(figure, folder / "valid.png"))

    figure, axes = _figure(len(report.metrics), width=max(4.0, 0.9 * len(report.groups) + 2.0), height=4.2)
    labels = [g.label for g in report.groups]
    colours = _colours(len(report.groups))
    for axis, metric in zip(axes, report.metrics):
        summaries = [g.summaries[metric] for g in report.groups]
        positions = range(len(summaries))
        means = [s.mean for s in summaries]
        errors = [[s.mean - s.low for s in summaries], [s.high - s.mean for s in summaries]]
        axis.bar(positions, means, color=colours, alpha=0.75, yerr=errors, capsize=5, ecolor="black")
        for x, s in zip(positions, summaries):
            spread = [x + 0.3 * (j - (len(s.values) - 1) / 2) / max(len(s.values) - 1, 1) for j in range(len(s.values))]
            axis.scatter(spread, s.values, color="black", s=10, zorder=3)
        finite = [v for s in summaries for v in (s.low, s.high, *s.values) if not math.isnan(v)]
        if finite:
            low, high = min(finite), max(finite)
            pad = (high - low) * 0.25 or abs(high) * 0.05 or 0.05
            axis.set_ylim(low - pad, high + pad)
        axis.set_xticks(list(positions), labels, rotation=30, ha="right", fontsize="small")
        direction = "higher is better" if report.higher_is_better.get(metric, True) else "lower is better"
        axis.set_title(f"{report.split} {metric} ({direction})")
        axis.set_ylabel(f"{metric}: mean, 95% bootstrap interval")
        axis.grid(axis="y", alpha=0.3)
    name = report.split if report.part is None else f"{report.split}-{report.part.replace(':', '-')}"
    written.append(_save(figure, folder / f"{name}.png"))
    return written


def run_figures(run: RunRecord, folder: str | Path) -> list[Path]:
    """``curves.png`` of one run: step and epoch loss, validation metrics per epoch."""
    require_matplotlib()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    valid: list[str] = []
    for record in run.epochs:
        valid.extend(k for k in record.get("valid", {}) if k not in valid)
    figure, axes = _figure(1 + bool(valid), width=6.0)
    axis = axes[0]
    if run.steps:
        steps, losses = zip(*run.steps)
        axis.plot(steps, losses, color="tab:blue", alpha=0.35, linewidth=0.8, label="every step")
    epoch_points = [(r["steps"], r["loss"]) for r in run.epochs if "steps" in r and "loss" in r]
    if epoch_points:
        x, y = zip(*epoch_points)
        axis.plot(x, y, color="tab:blue", marker="o", label="epoch mean")
    axis.set_xlabel("step")
    axis.set_ylabel("training loss")
    axis.set_title(f"training loss: {run.path.name}", fontsize="small")
    axis.grid(alpha=0.3)
    if run.steps or epoch_points:
        axis.legend(fontsize="small")
    if valid:
        axis = axes[1]
        for metric, colour in zip(valid, _colours(len(valid))):
            points = [(r["epoch"], r["valid"][metric]) for r in run.epochs if metric in r.get("valid", {})]
            epochs, values = zip(*points)
            axis.plot(epochs, values, marker="o", color=colour, label=metric)
        axis.set_xlabel("epoch")
        axis.set_ylabel("validation metric")
        axis.set_title("validation metrics per epoch", fontsize="small")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    return [_save(figure, folder / "curves.png")]
