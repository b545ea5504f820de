"""``lego data info DIR``: what a depot holds, as rich tables or as JSON-ready data."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from lego_core.data.depot import Depot

_HEADER_KEYS = ("name", "processor", "format_version", "created", "lego_version", "build_seconds")


def info_dict(depot: Depot) -> dict[str, Any]:
    """Everything ``lego data info --json`` prints: provenance, options, schema, vocabularies, counts."""
    meta = depot.meta
    tables: dict[str, Any] = {}
    for name, schema in meta.get("tables", {}).items():
        columns = {}
        for column, entry in schema["columns"].items():
            columns[column] = dict(entry)
            if entry.get("vocab") is not None:
                columns[column]["vocab_size"] = meta.get("vocabs", {}).get(entry["vocab"])
        tables[name] = {"rows": schema["rows"], "columns": columns}
    return {
        "path": str(depot.path),
        **{key: meta[key] for key in _HEADER_KEYS if key in meta},
        "options": meta.get("options", {}),
        "raw_files": meta.get("raw_files", {}),
        "tables": tables,
        "vocabs": meta.get("vocabs", {}),
        "info": meta.get("info", {}),
    }


def describe(depot: Depot) -> Table:
    """One row per column: table, rows, column, kind, dtype, vocabulary (size)."""
    data = info_dict(depot)
    table = Table(title=f"{data.get('name', depot.path.name)} ({data.get('processor', '?')})")
    for header, justify in (
        ("table", "left"),
        ("rows", "right"),
        ("column", "left"),
        ("kind", "left"),
        ("dtype", "left"),
        ("vocab", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for name, schema in data["tables"].items():
        for i, (column, entry) in enumerate(schema["columns"].items()):
            vocab = f"{entry['vocab']} ({entry['vocab_size']:,})" if entry.get("vocab") else ""
            table.add_row(
                name if i == 0 else "",
                f"{schema['rows']:,}" if i == 0 else "",
                column,
                entry["kind"],
                entry["dtype"],
                vocab,
                end_section=i == len(schema["columns"]) - 1,
            )
    return table


def render_info(depot: Depot, console: Console | None = None) -> None:
    """Print a depot's provenance, options, schema and counts."""
    console = console or Console()
    data = info_dict(depot)
    console.print(f"[bold]{data['path']}[/bold]")
    for key in _HEADER_KEYS:
        if key in data:
            console.print(f"  {key}: {data[key]}", markup=False, highlight=False)
    if data["options"]:
        console.print(
            "  options: " + ", ".join(f"{k}={v!r}" for k, v in data["options"].items()), markup=False, highlight=False
        )
    for name, digest in data["raw_files"].items():
        console.print(f"  raw file {name}: sha256 {digest[:16]}…", markup=False, highlight=False)
    console.print(describe(depot))
    if data["info"]:
        console.print("info:")
        for key, value in data["info"].items():
            text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            console.print(f"  {key}: {text}", markup=False, highlight=False)
