"""A single run's curves in the terminal: one row per epoch, and a sparkline per column.

Example:
    >>> sparkline([0.5, 0.6, 0.7, 0.8])
    '▁▃▆█'
    >>> sparkline([0.3, None, 0.3])
    '▁ ▁'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from lego_core.study.runs import RunRecord

TICKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """A curve in one line of text, from the lowest value (``▁``) to the highest (``█``); gaps as spaces."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    return "".join(
        " " if v is None or math.isnan(v) else TICKS[min(7, int((v - low) / span * 7 + 0.5))] for v in values
    )


def curve_table(run: RunRecord) -> Table:
    """Epoch, steps, training loss and every validation metric, then the curve of each column."""
    valid: list[str] = []
    for record in run.epochs:
        valid.extend(k for k in record.get("valid", {}) if k not in valid)
    table = Table(
        title=escape(f"{run.path.name}: {len(run.epochs)} epochs" + ("" if run.finished else " (unfinished)"))
    )
    for column in ("epoch", "step", "loss", *(f"valid {m}" for m in valid), "seconds"):
        table.add_column(escape(column), justify="right")

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    columns: list[list[float | None]] = [[r.get("loss") for r in run.epochs]]
    columns += [[r.get("valid", {}).get(m) for r in run.epochs] for m in valid]
    for i, record in enumerate(run.epochs):
        table.add_row(
            str(record.get("epoch", "")),
            str(record.get("steps", "")),
            *(cell(c[i]) for c in columns),
            str(record.get("seconds", "")),
        )
    if len(run.epochs) > 1:
        table.add_section()
        table.add_row("curve", "", *(sparkline(c) for c in columns), "")
    return table
