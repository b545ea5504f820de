"""``lego data prepare | synth | info | list``: the built-in subcommands of the ``data`` group.

Registered by the core plugin as :class:`~lego_core.cli.command.Command`
objects named ``"data prepare"`` and so on; a plugin adds ``lego data NAME``
the same way (lego-datasets adds ``data import``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from lego_core.cli.command import Command, CommandContext
from lego_core.config.converter import structure_or_raise, unstructure
from lego_core.config.resolve import apply_overrides
from lego_core.data.processor import PROCESSOR


def _prepare_arguments(prep: argparse.ArgumentParser) -> None:
    prep.add_argument("name", help="the processor (lego data list)")
    prep.add_argument("--raw", help="the folder holding the raw files")
    prep.add_argument("--out", required=True, help="the depot folder to write")
    prep.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a processor option, e.g. --set positive_threshold=4",
    )
    prep.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")


def cmd_prepare(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.data.prepare import prepare

    entry = context.registries[PROCESSOR].get(args.name, "lego data prepare")
    cls = entry.obj
    options = structure_or_raise(apply_overrides({}, args.overrides), cls.Options, "$", source=f"--set ({cls.name})")
    result = prepare(cls(options), Path(args.raw) if args.raw else None, Path(args.out), force=args.force)
    console = context.console
    if result.skipped:
        console.print(
            f"{result.path}: up to date (same raw files and options); use --force to rebuild",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"wrote {result.path} in {result.seconds:.1f}s with {cls.name} {unstructure(options)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if result.info:
            console.print_json(json.dumps(result.info, default=str))
    return 0


def _synth_arguments(synth: argparse.ArgumentParser) -> None:
    synth.add_argument("--out", required=True, help="the depot folder to write")
    synth.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a generator option, e.g. --set num_items=5000",
    )
    synth.add_argument("--force", action="store_true", help="rebuild even if the options are unchanged")
    synth.set_defaults(name="synthetic", raw=None)


def _info_arguments(info: argparse.ArgumentParser) -> None:
    info.add_argument("path", help="the depot folder")
    info.add_argument("--json", action="store_true", help="print the schema as JSON")


def cmd_info(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.data.depot import Depot
    from lego_core.data.info import info_dict, render_info

    depot = Depot(args.path)
    from lego_core.data.verify import raise_if_damaged

    raise_if_damaged(depot)  # a damaged depot is an error here too, not a table of wrong counts
    if args.json:
        context.console.print_json(json.dumps(info_dict(depot), default=str))
    else:
        render_info(depot, context.console)
    return 0


def _verify_arguments(verify: argparse.ArgumentParser) -> None:
    verify.add_argument("path", help="the depot folder")
    verify.add_argument("--full", action="store_true", help="also re-hash every file against meta.json (slower)")


def cmd_verify(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.data.depot import Depot
    from lego_core.data.verify import leftovers, verify_depot
    from lego_core.errors import DataError

    depot = Depot(args.path)
    problems = verify_depot(depot, full=args.full)
    for stale in leftovers(depot.path):
        context.err_console.print(
            f"note: {stale} is left over from an interrupted write of this depot; the next "
            "`lego data prepare` of it removes it (or delete it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if problems:
        raise DataError(
            f"{depot.path}: {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n  - " + "\n  - ".join(problems)
        )
    files = len(depot.meta.get("files", {}))
    checked = "sizes, shapes, dtypes, ids and checksums" if args.full else "sizes, shapes, dtypes and ids"
    context.console.print(f"{depot.path}: ok ({files} files; {checked})", markup=False, highlight=False, soft_wrap=True)
    return 0


def _list_arguments(ls: argparse.ArgumentParser) -> None:
    ls.add_argument("--json", action="store_true", help="print the list as JSON")


def cmd_list(args: argparse.Namespace, context: CommandContext) -> int:
    rows: list[dict[str, Any]] = [
        {
            "name": e.name,
            "plugin": e.plugin,
            "description": e.obj.description,
            "files": [
                {"name": f.name, "format": f.format, "source": f.source, "optional": f.optional} for f in e.obj.files
            ],
        }
        for e in sorted(context.registries[PROCESSOR], key=lambda e: e.name)
    ]
    if args.json:
        context.console.print_json(json.dumps(rows))
        return 0
    table = Table(title="dataset processors")
    for column in ("name", "plugin", "description", "raw files"):
        table.add_column(column, overflow="fold")
    for r in rows:
        files = "\n".join(f"{f['name']}{' (optional)' if f['optional'] else ''}: {f['format']}" for f in r["files"])
        table.add_row(escape(r["name"]), escape(r["plugin"]), escape(r["description"]), escape(files or "(none)"))
    context.console.print(table)
    return 0


DATA = Command(
    name="data",
    help="prepare, generate and inspect depots",
    description="Depots: the on-disk datasets every experiment reads.",
)
PREPARE = Command(
    name="data prepare",
    help="turn a dataset's raw files into a depot",
    add_arguments=_prepare_arguments,
    run=cmd_prepare,
    description="Run a dataset processor over a folder of raw files and write its "
    "depot (atomically; a no-op when the inputs are unchanged).",
)
SYNTH = Command(
    name="data synth",
    help="generate the synthetic demo dataset (the embedded default)",
    add_arguments=_synth_arguments,
    run=cmd_prepare,
    description="Generate the synthetic dataset: users with topic preferences, items whose text "
    "carries topic words, impressions with clicks.",
)
INFO = Command(
    name="data info",
    help="schema and counts of a depot",
    add_arguments=_info_arguments,
    run=cmd_info,
    description="Print a depot's provenance, options, tables, columns and vocabularies.",
)
VERIFY = Command(
    name="data verify",
    help="check a depot's files (sizes, shapes, ids; --full: checksums)",
    add_arguments=_verify_arguments,
    run=cmd_verify,
    description="Check every file of a depot against its meta.json: present, of the recorded size, "
    "shape and dtype, with ids that point at existing rows and vocabulary entries; with --full, "
    "also the sha256 of every file.",
)
LIST = Command(
    name="data list",
    help="dataset processors and the raw files each expects",
    add_arguments=_list_arguments,
    run=cmd_list,
    description="List the installed dataset processors with the raw files each one reads.",
)
