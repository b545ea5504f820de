"""``lego data prepare | synth | info | list``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lego_core.config.converter import structure_or_raise, unstructure
from lego_core.config.resolve import apply_overrides
from lego_core.plugin.host import PluginHost


def add(sub: Any) -> None:
    data = sub.add_parser("data", help="prepare, generate and inspect depots")
    dsub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")

    prep = dsub.add_parser("prepare", help="turn a dataset's raw files into a depot")
    prep.add_argument("name", help="the processor (lego data list)")
    prep.add_argument("--raw", help="the folder holding the raw files")
    prep.add_argument("--out", required=True, help="the depot folder to write")
    prep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="a processor option, e.g. --set positive_threshold=4")
    prep.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    prep.set_defaults(handler=cmd_prepare)

    synth = dsub.add_parser("synth", help="generate the synthetic demo dataset (the embedded default)")
    synth.add_argument("--out", required=True)
    synth.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="a generator option, e.g. --set num_items=5000")
    synth.add_argument("--force", action="store_true")
    synth.set_defaults(handler=cmd_synth, name="synthetic", raw=None)

    info = dsub.add_parser("info", help="schema and counts of a depot")
    info.add_argument("path")
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=cmd_info)

    ls = dsub.add_parser("list", help="dataset processors and the raw files each expects")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)
    data.set_defaults(handler=lambda args, host, console: data.print_help())


def cmd_prepare(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    from lego_core.data.prepare import prepare

    entry = host.registries.processor.get(args.name, "lego data prepare")
    cls = entry.obj
    options = structure_or_raise(apply_overrides({}, args.overrides), cls.Options, "$", source=f"--set ({cls.name})")
    result = prepare(cls(options), Path(args.raw) if args.raw else None, Path(args.out), force=args.force)
    if result.skipped:
        console.print(f"{result.path}: up to date (same raw files and options); use --force to rebuild")
    else:
        console.print(f"wrote {result.path} in {result.seconds:.1f}s with {cls.name} {unstructure(options)}")
        if result.info:
            console.print_json(json.dumps(result.info, default=str))
    return 0


def cmd_synth(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    return cmd_prepare(args, host, console)


def cmd_info(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    from lego_core.data.depot import Depot
    from lego_core.data.info import info_dict, render_info

    depot = Depot(args.path)
    if args.json:
        console.print_json(json.dumps(info_dict(depot), default=str))
    else:
        render_info(depot, console)
    return 0


def cmd_list(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    rows = [{"name": e.name, "plugin": e.plugin, "description": e.obj.description,
             "files": [{"name": f.name, "format": f.format, "source": f.source, "optional": f.optional}
                       for f in e.obj.files]}
            for e in sorted(host.registries.processor, key=lambda e: e.name)]
    if args.json:
        console.print_json(json.dumps(rows))
        return 0
    table = Table(title="dataset processors")
    for column in ("name", "plugin", "description", "raw files"):
        table.add_column(column, overflow="fold")
    for r in rows:
        files = "\n".join(f"{f['name']}{' (optional)' if f['optional'] else ''}: {f['format']}" for f in r["files"])
        table.add_row(r["name"], r["plugin"], r["description"], files or "(none)")
    console.print(table)
    return 0
