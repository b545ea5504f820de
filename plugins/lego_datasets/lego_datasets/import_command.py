"""``lego data import``: a user's own interactions file (+ items, users tables) becomes a depot.

This module is imported by ``lego --help``, so it stays light (argparse and
the core's command class): the work is imported when the command runs.

Without ``--spec`` the spec is inferred from the files and printed (on stdout,
as TOML); ``--dry-run`` stops there, so ``--dry-run > spec.toml`` gives a spec to
edit. With ``--spec FILE`` nothing is inferred. ``--set key=value`` changes a
spec key either way (``--set split_rule=random``, ``--set interactions.rating=stars``).
The depot is written by :func:`lego_core.data.prepare.prepare` with an
:class:`~lego_datasets.importer.ImportProcessor`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lego_core.cli.command import Command, CommandContext

DESCRIPTION = (
    "Turn your own interactions file (CSV, TSV, JSON lines or parquet; plain or compressed) and "
    "optional items and users tables into a depot, without writing a processor. The column roles "
    "are inferred and printed as a spec (TOML); edit it and pass it back with --spec. Rules and "
    "keys: plugins/lego_datasets/docs/your-own-data.md"
)


def import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("interactions", metavar="INTERACTIONS", help="the interactions file: one row per event")
    parser.add_argument("--items", metavar="FILE", help="an items table: one row per item id, with attributes")
    parser.add_argument("--users", metavar="FILE", help="a users table: one row per user id, with attributes")
    parser.add_argument("--out", metavar="DEPOT", help="the depot folder to write (required unless --dry-run)")
    parser.add_argument("--spec", metavar="FILE", help="a spec (TOML) to use as is: nothing is inferred")
    parser.add_argument("--dry-run", action="store_true", help="print the spec and stop; nothing is written")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a spec key, e.g. --set split_rule=random or --set interactions.timestamp=ts",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the files and the spec are unchanged")


def _files(args: argparse.Namespace) -> dict[str, Path]:
    from lego_core.errors import DataError

    files = {"interactions": Path(args.interactions)}
    files.update({k: Path(getattr(args, k)) for k in ("items", "users") if getattr(args, k)})
    for role, path in files.items():
        flag = "INTERACTIONS" if role == "interactions" else f"--{role}"
        if not path.exists():
            raise DataError(f"{flag} {path}: no such file")
        if not path.is_file():
            raise DataError(f"{flag} {path}: not a file (a folder?); give the file itself")
    return files


def run_import(args: argparse.Namespace, context: CommandContext) -> int:
    import json

    from lego_core.config.converter import format_problems
    from lego_core.config.resolve import apply_overrides
    from lego_core.config.tomlio import load_toml
    from lego_core.data.prepare import prepare
    from lego_core.errors import ConfigError
    from lego_datasets.import_infer import infer_spec
    from lego_datasets.import_spec import render_spec, spec_problems, structure_spec
    from lego_datasets.importer import ImportOptions, ImportProcessor, raw_layout

    if not args.out and not args.dry_run:
        raise ConfigError("--out DEPOT is required (or --dry-run to only print the inferred spec)")
    files = _files(args)
    overrides = apply_overrides({}, args.overrides)
    for table in ("items", "users"):
        if table in overrides and table not in files:
            raise ConfigError(f"--set {table}.…: there is no {table} table without --{table} FILE")
    notes: dict[str, str] = {}
    if args.spec:
        if Path(args.spec).is_dir():  # load_toml reports a missing file, not a folder
            raise ConfigError(f"--spec {args.spec}: a folder, not a spec file; give the TOML file itself")
        data: dict[str, Any] = load_toml(args.spec)
        source = f"{args.spec}" + (" with --set" if args.overrides else "")
    else:
        data, notes = infer_spec(files, overrides)
        source = "the inferred spec" + (" with --set" if args.overrides else "")
    spec = structure_spec(apply_overrides(data, args.overrides), source=source)
    problems = spec_problems(spec, has_items="items" in files, has_users="users" in files)
    if not args.spec or args.dry_run:
        names = {role: path.name for role, path in files.items()} if not args.spec else {}
        context.console.print(
            render_spec(spec, notes, names), end="", markup=False, highlight=False, emoji=False, soft_wrap=True
        )
    if problems:
        hint = (
            ""
            if args.spec
            else "; save the spec with --dry-run > spec.toml, fix it and pass it with --spec (or use --set)"
        )
        raise ConfigError(format_problems(problems, source) + hint)
    if args.dry_run:
        return 0
    raw, names = raw_layout(files)
    options = ImportOptions(spec=spec, **names)
    result = prepare(ImportProcessor(options), raw, Path(args.out), force=args.force)
    if result.skipped:
        context.console.print(
            f"{result.path}: up to date (same files and spec); use --force to rebuild",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        context.console.print(
            f"wrote {result.path} in {result.seconds:.1f}s from {raw} ({', '.join(names.values())})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        context.console.print_json(json.dumps(result.info, default=str))
    return 0


IMPORT = Command(
    name="data import",
    help="turn your own interactions file (+ items, users) into a depot",
    add_arguments=import_arguments,
    run=run_import,
    description=DESCRIPTION,
)
