"""The built-in subcommands: run, eval, list, plugins, data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lego_core.cli import data_commands
from lego_core.errors import LegoError
from lego_core.plugin.host import PluginHost
from lego_core.registry import KINDS


def add_builtin_commands(sub: Any) -> None:
    run = sub.add_parser("run", help="train and evaluate an experiment", description="Train and evaluate an "
                         "experiment file; results go to a new run directory.")
    run.add_argument("experiment", nargs="?", help="the experiment TOML file (omit with --resume)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value, e.g. --set model.hidden_size=256 (repeatable)")
    run.add_argument("--output", default="runs", help="folder for run directories (default: runs)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    run.add_argument("--device", help="cpu, cuda, cuda:N or auto (overrides train.device)")
    run.add_argument("--no-cache", action="store_true", help="evaluate without item/user caches")
    run.add_argument("--json", action="store_true", help="print results as JSON")
    run.set_defaults(handler=cmd_run)

    ev = sub.add_parser("eval", help="re-evaluate a finished run", description="Evaluate a run directory's "
                        "best checkpoint on its evaluation splits.")
    ev.add_argument("run_dir")
    ev.add_argument("--checkpoint", default="best.pt", help="best.pt (default) or last.pt")
    ev.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ev.add_argument("--device")
    ev.add_argument("--no-cache", action="store_true", help="evaluate without item/user caches")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=cmd_eval)

    ls = sub.add_parser("list", help="list components (content, behavior, predictor, processor, metric, preset)")
    ls.add_argument("kind", nargs="?", choices=[k for k in KINDS if k != "command"])
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)

    plugins = sub.add_parser("plugins", help="installed plugins and their status")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(handler=cmd_plugins)

    data_commands.add(sub)


def results_table(results: dict[str, Any], title: str = "results") -> Table:
    splits = [s for s, v in results.items() if isinstance(v, dict) and s not in ("run", "timing")]
    keys: list[str] = []
    for s in splits:
        keys.extend(k for k in results[s] if k not in keys)
    table = Table(title=title)
    table.add_column("metric")
    for s in splits:
        table.add_column(s, justify="right")
    for k in keys:
        table.add_row(k, *(f"{results[s][k]:.4f}" if k in results[s] else "" for s in splits))
    return table


def cmd_run(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    from lego_core.experiment import Experiment

    overrides = list(args.overrides) + (["train.cache=false"] if args.no_cache else [])
    if args.resume:
        if args.experiment:
            raise LegoError("--resume continues the run's own config; drop the experiment file argument")
        experiment = Experiment.from_run_dir(args.resume, overrides, host)
    elif args.experiment:
        experiment = Experiment.from_toml(args.experiment, overrides, host)
    else:
        raise LegoError("lego run needs an experiment file (lego run experiment.toml) or --resume RUN_DIR")
    # with --json, stdout holds only the JSON document: epoch lines and progress go to stderr
    progress_console = Console(stderr=True) if args.json else console
    results = experiment.run(output=args.output, resume=args.resume, device=args.device, console=progress_console)
    if args.json:
        console.print_json(json.dumps(results))
    else:
        console.print(f"run directory: {experiment.run_dir}", highlight=False, soft_wrap=True)
        console.print(results_table(results, title=experiment.name))
    return 0


def cmd_eval(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    from lego_core.experiment import Experiment

    experiment = Experiment.from_run_dir(args.run_dir, args.overrides, host)
    results = experiment.evaluate(args.run_dir, checkpoint=args.checkpoint, device=args.device,
                                  cache=False if args.no_cache else None)
    if args.json:
        console.print_json(json.dumps(results))
    else:
        console.print(results_table(results, title=f"eval: {Path(args.run_dir)}"))
    return 0


def cmd_list(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    kinds = [args.kind] if args.kind else [k for k in KINDS if k != "command"]
    rows = [
        {"name": e.name, "kind": kind, "plugin": e.plugin, "distribution": e.distribution,
         "qualified": e.qualified, "doc": e.summary, **({"paper": e.obj.paper} if getattr(e.obj, "paper", "") else {})}
        for kind in kinds for e in sorted(host.registries[kind], key=lambda e: e.name)
    ]
    if args.json:
        console.print_json(json.dumps(rows))
        return 0
    table = Table(title="lego components")
    for column in ("kind", "name", "plugin", "doc"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["kind"], r["name"], r["plugin"], r["doc"])
    console.print(table)
    return 0


def cmd_plugins(args: argparse.Namespace, host: PluginHost, console: Console) -> int:
    _ = host.registries  # registration errors mark plugins broken too
    rows = [{"name": p.name, "distribution": p.distribution, "version": p.version, "status": p.status,
             "error": p.error} for p in host.plugins.values()]
    if args.json:
        console.print_json(json.dumps(rows))
        return 0
    table = Table(title="lego plugins")
    for column in ("plugin", "distribution", "version", "status", "error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        status = "[green]ok[/]" if r["status"] == "ok" else "[red]broken[/]"
        table.add_row(r["name"], r["distribution"], r["version"], status, r["error"] or "")
    console.print(table)
    return 0
