"""The rich tables a run's results are shown in (terminal, ``log/console.log``).

Only rich is imported here: the CLI's command modules use these and must stay
cheap to import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table

NOT_SPLITS = ("run", "timing", "cold_start", "checkpoint")


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def results_table(results: Mapping[str, Any], title: str = "results") -> Table:
    """One row per metric, one column per evaluated split."""
    splits = [s for s, v in results.items() if isinstance(v, dict) and s not in NOT_SPLITS]
    keys: list[str] = []
    for s in splits:
        keys.extend(k for k in results[s] if k not in keys)
    table = Table(title=escape(title))
    table.add_column("metric")
    for s in splits:
        table.add_column(s, justify="right")
    for k in keys:
        table.add_row(k, *(_cell(results[s][k]) if k in results[s] else "" for s in splits))
    return table


def cold_start_tables(results: Mapping[str, Any]) -> list[Table]:
    """Per split of ``results["cold_start"]``: one row per part (cold, warm, history buckets)."""
    tables = []
    for split, report in (results.get("cold_start") or {}).items():
        if not report:
            continue
        parts = [(f"{name} items", part) for name, part in report["items"].items()]
        parts += [(f"history {label}", part) for label, part in report.get("history", {}).items()]
        keys = list(parts[0][1]["metrics"]) if parts else []
        table = Table(title=escape(f"{split}: cold start and history length"))
        for column in ("part", "pairs", "positives", *keys):
            table.add_column(column, justify="left" if column == "part" else "right", no_wrap=column == "part")
        for name, part in parts:
            table.add_row(
                name, str(part["pairs"]), str(part["positives"]), *(_cell(part["metrics"].get(k)) for k in keys)
            )
        tables.append(table)
    return tables
