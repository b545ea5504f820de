"""The built-in commands ``run``, ``eval``, ``list`` and ``plugins``.

Each is a :class:`~lego_core.cli.command.Command` registered by the core
plugin through ``lego_register_commands()``, like a plugin's command. This
module imports no torch: ``run`` and ``eval`` import the engine when they run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from lego_core.cli.command import Command, CommandContext
from lego_core.cli.text import first_line
from lego_core.engine.tables import cold_start_tables, results_table
from lego_core.errors import LegoError
from lego_core.kinds import KIND_NAMES, kind_named


# ------------------------------------------------------------------ run
def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("experiment", nargs="?", help="the experiment TOML file (omit with --resume)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set model.hidden_size=256 (repeatable)",
    )
    run.add_argument("--output", default="runs", help="folder for run directories (default: runs)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    run.add_argument("--device", help="cpu, cuda, cuda:N or auto (overrides train.device)")
    run.add_argument("--no-cache", action="store_true", help="evaluate without item/user caches")
    run.add_argument("--json", action="store_true", help="print results as JSON")
    run.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train on N processes of this machine with DistributedDataParallel (starts torchrun: "
        "the same as `torchrun --standalone --nproc-per-node N -m lego run ...`)",
    )


def _without_nproc(argv: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def cmd_run(args: argparse.Namespace, context: CommandContext) -> int:
    if args.nproc:
        import subprocess

        from lego_core.engine.distributed import torchrun_command

        return subprocess.run(torchrun_command(args.nproc, _without_nproc(context.argv)), check=False).returncode
    from lego_core.experiment import Experiment

    overrides = list(args.overrides) + (["train.cache=false"] if args.no_cache else [])
    if args.resume:
        if args.experiment:
            raise LegoError("--resume continues the run's own config; drop the experiment file argument")
        experiment = Experiment.from_run_dir(args.resume, overrides, context.host)
    elif args.experiment:
        experiment = Experiment.from_toml(args.experiment, overrides, context.host)
    else:
        raise LegoError("lego run needs an experiment file (lego run experiment.toml) or --resume RUN_DIR")
    # with --json, stdout holds only the JSON document: epoch lines and progress go to stderr
    progress_console = context.err_console if args.json else context.console
    results = experiment.run(output=args.output, resume=args.resume, device=args.device, console=progress_console)
    if not experiment.dist.is_main:  # under torchrun, rank 0 prints for everyone
        return 0
    if args.json:
        context.console.print_json(json.dumps(results))
    else:
        context.console.print(f"run directory: {experiment.run_dir}", highlight=False, soft_wrap=True, markup=False)
        context.console.print(results_table(results, title=experiment.name))
        for table in cold_start_tables(results):
            context.console.print(table)
    return 0


# ------------------------------------------------------------------ eval
def _eval_arguments(ev: argparse.ArgumentParser) -> None:
    ev.add_argument("run_dir", help="the run directory to evaluate")
    ev.add_argument("--checkpoint", default="best.pt", help="best.pt (default) or last.pt")
    ev.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value of the run, e.g. --set train.eval_batch_size=1024",
    )
    ev.add_argument("--device", help="cpu, cuda, cuda:N or auto (overrides train.device)")
    ev.add_argument("--no-cache", action="store_true", help="evaluate without item/user caches")
    ev.add_argument(
        "--split",
        dest="splits",
        action="append",
        metavar="NAME",
        help="evaluate this split (repeatable; default: the run's train.eval_splits)",
    )
    ev.add_argument("--out", metavar="FILE", help="also write the results as JSON to FILE")
    ev.add_argument("--json", action="store_true", help="print results as JSON")


def cmd_eval(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.atomic import write_json
    from lego_core.experiment import Experiment

    experiment = Experiment.from_run_dir(args.run_dir, args.overrides, context.host)
    results = experiment.evaluate(
        args.run_dir,
        checkpoint=args.checkpoint,
        device=args.device,
        cache=False if args.no_cache else None,
        splits=args.splits,
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out), results)
    if args.json:
        context.console.print_json(json.dumps(results))
    else:
        used = results["checkpoint"]
        context.console.print(
            f"evaluated {used['file']} (saved after epoch {used['epoch']})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        context.console.print(results_table(results, title=f"eval: {Path(args.run_dir)}"))
        for table in cold_start_tables(results):
            context.console.print(table)
    return 0


# ------------------------------------------------------------------ list
LISTED = [k for k in KIND_NAMES if k != "command"]


def _list_arguments(ls: argparse.ArgumentParser) -> None:
    ls.add_argument("kind", nargs="?", choices=LISTED, help="one kind (default: all of them)")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")


def _row(kind: str, entry: Any) -> dict[str, Any]:
    doc = first_line(getattr(entry.obj, "description", "") or getattr(entry.obj, "__doc__", "") or "")
    row = {
        "name": entry.name,
        "kind": kind,
        "plugin": entry.plugin,
        "distribution": entry.distribution,
        "qualified": entry.qualified,
        "doc": doc,
    }
    paper = getattr(entry.obj, "paper", "")
    if paper:
        row["paper"] = paper
    if kind == "preset":
        row["requires"] = list(entry.obj.requires)
        missing = entry.obj.missing()
        if missing:
            row["missing"] = missing
            row["install"] = entry.obj.install_hint()
    return row


def cmd_list(args: argparse.Namespace, context: CommandContext) -> int:
    kinds = [args.kind] if args.kind else LISTED
    rows = [_row(name, e) for name in kinds for e in sorted(context.registries[kind_named(name)], key=lambda e: e.name)]
    if args.json:
        context.console.print_json(json.dumps(rows))
        return 0
    table = Table(title="lego components")
    columns = ["kind", "name", "plugin", "doc"] + (["paper", "requires"] if args.kind == "preset" else [])
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in rows:
        cells = [r["kind"], r["name"], r["plugin"], r["doc"]]
        if args.kind == "preset":
            needs = ", ".join(r["requires"]) or "-"
            if r.get("missing"):
                needs += f" (missing: {r['install']})"
            cells += [r.get("paper", ""), needs]
        table.add_row(*(escape(c) for c in cells))
    context.console.print(table)
    return 0


# ------------------------------------------------------------------ plugins
def _plugins_arguments(plugins: argparse.ArgumentParser) -> None:
    plugins.add_argument("--json", action="store_true", help="print the list as JSON")
    plugins.add_argument(
        "--check",
        action="store_true",
        help="also call every registration hook (imports every component) and report failures",
    )


def cmd_plugins(args: argparse.Namespace, context: CommandContext) -> int:
    if args.check:
        for name in KIND_NAMES:
            _ = context.registries[kind_named(name)].entries
    rows: list[dict[str, Any]] = [
        {"name": p.name, "distribution": p.distribution, "version": p.version, "status": p.status, "error": p.error}
        for p in context.host.plugins.values()
    ]
    if args.json:
        context.console.print_json(json.dumps(rows))
        return 0
    table = Table(title="lego plugins")
    for column in ("plugin", "distribution", "version", "status", "error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        status = "[green]ok[/]" if r["status"] == "ok" else "[red]broken[/]"
        table.add_row(
            escape(r["name"]), escape(r["distribution"]), escape(r["version"] or ""), status, escape(r["error"] or "")
        )
    context.console.print(table)
    return 0


RUN = Command(
    name="run",
    help="train and evaluate an experiment",
    add_arguments=_run_arguments,
    run=cmd_run,
    description="Train and evaluate an experiment file; results go to a new run directory.",
)
EVAL = Command(
    name="eval",
    help="re-evaluate a finished run",
    add_arguments=_eval_arguments,
    run=cmd_eval,
    description="Evaluate a run directory's best checkpoint on its evaluation splits.",
)
LIST = Command(
    name="list",
    help="list components (" + ", ".join(LISTED) + ")",
    add_arguments=_list_arguments,
    run=cmd_list,
    description="List the installed components of one kind, or of every kind.",
)
PLUGINS = Command(
    name="plugins",
    help="installed plugins and their status",
    add_arguments=_plugins_arguments,
    run=cmd_plugins,
    description="List the installed lego plugins, their versions, and the error of any that failed to load.",
)
