"""``lego sweep`` and ``lego report`` (the engine is imported when they run, not when ``lego --help`` does)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lego_core.cli.command import Command, CommandContext
from lego_core.errors import LegoError

FORMATS = ("rich", "markdown", "csv", "json")


# ------------------------------------------------------------------ sweep
def _sweep_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", help="the experiment TOML file (its [sweep] table, if any, is the default space)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of a config key; the cells are the product of every --grid (repeatable)",
    )
    p.add_argument(
        "--range",
        dest="ranges",
        action="append",
        default=[],
        metavar="KEY=LOW:HIGH[:log]",
        help="a range for random search (needs --samples); :log draws log-uniformly (repeatable)",
    )
    p.add_argument(
        "--samples",
        type=int,
        metavar="K",
        help="random search: K points drawn from --grid values and --range ranges instead of the grid's product",
    )
    p.add_argument("--search-seed", type=int, metavar="S", help="the seed of the random search (default 0)")
    p.add_argument(
        "--seeds", metavar="N|S1,S2", help="run every point with N seeds (train.seed, +1, ...) or with the seeds listed"
    )
    p.add_argument(
        "--jobs", type=int, metavar="J", help="worker processes (default 1); train.threads is split between them"
    )
    p.add_argument(
        "--output",
        metavar="DIR",
        help="the sweep directory (default sweeps/<experiment name>); the same command again resumes it",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value of every cell (repeatable)",
    )
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (overrides train.device of every cell)")


def cmd_sweep(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.study.report import build_report
    from lego_core.study.runs import find_runs
    from lego_core.study.sweep import Sweep

    sweep = Sweep.from_toml(
        args.experiment,
        grid=args.grid,
        ranges=args.ranges,
        seeds=args.seeds,
        samples=args.samples,
        search_seed=args.search_seed,
        jobs=args.jobs,
        output=args.output,
        overrides=args.overrides,
        device=args.device,
        host=context.host,
    )
    result = sweep.run(context.console)
    if result.interrupted:
        return 130
    names = {p.name for p in sweep.folder.iterdir()} & {c.name for c in sweep.space.cells()}
    runs = [r for r in find_runs([sweep.folder]) if r.path.name in names and r.finished]
    if runs:
        print_table(context.console, _directed(build_report(runs), context).table())
    if result.failed:
        first = result.failed[0]
        raise LegoError(
            f"{len(result.failed)} of {len(sweep.space.cells())} cells failed (first: {first.name}: "
            f"{first.error.strip().splitlines()[-1] if first.error else ''}); each run directory's "
            f"log/console.log has the details; run the same command again to retry them"
        )
    return 0


def print_table(console: Any, table: Any) -> None:
    """A table at its natural width when the output is not a terminal (a file, a pipe, a cluster log)."""
    if console.is_terminal:
        console.print(table)
        return
    from rich.measure import Measurement

    needed = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
    width = console.width
    console.width = max(width, needed)  # print(width=) is capped at the console's width
    try:
        console.print(table)
    finally:
        console.width = width


def _directed(report: Any, context: CommandContext) -> Any:
    import attrs

    from lego_core.study.report import metric_directions

    return attrs.evolve(report, higher_is_better=metric_directions(report.metrics, context.registries))


# ------------------------------------------------------------------ report
def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories, sweep directories, or folders of runs")
    p.add_argument("--split", help="the split whose metrics are compared (default: test)")
    p.add_argument(
        "--part",
        help="a cold-start part of the split instead of all its pairs: cold, warm, or history:LABEL (e.g. history:1-4)",
    )
    p.add_argument("--metrics", help="comma-separated metric columns (default: every metric of the split)")
    p.add_argument("--format", choices=FORMATS, default="rich", help="rich (default), markdown, csv or json")
    p.add_argument("--out", metavar="FILE", help="write the table to FILE instead of standard output")
    p.add_argument("--figures", metavar="DIR", help="write PNG figures there (needs matplotlib: the plot extra)")


def cmd_report(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core import atomic
    from lego_core.study.report import build_report
    from lego_core.study.runs import find_runs, is_run_dir

    if args.figures:
        from lego_core.study.figures import require_matplotlib

        require_matplotlib()
    runs = find_runs(args.dirs)
    single = len(runs) == 1 and len(args.dirs) == 1 and is_run_dir(Path(args.dirs[0]))
    if single and args.format == "rich" and not args.out:
        return _single_run(runs[0], args, context)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    report = _directed(build_report(runs, split=args.split, part=args.part, metrics=metrics), context)
    if args.format == "rich" and not args.out:
        print_table(context.console, report.table())
        if report.unfinished:
            context.console.print(
                f"{len(report.unfinished)} unfinished runs (not averaged): " + ", ".join(report.unfinished),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    else:
        text = {
            "markdown": report.markdown,
            "csv": report.csv,
            "json": lambda: json.dumps(report.to_dict(), indent=2) + "\n",
        }.get(args.format, report.markdown)()
        if args.out:
            atomic.write_text(Path(args.out), text)
            context.err_console.print(f"wrote {args.out}", markup=False, highlight=False)
        else:
            context.console.out(text, end="", highlight=False)
    if args.figures:
        from lego_core.study.figures import study_figures

        for path in study_figures(report, args.figures):
            context.err_console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _single_run(run: Any, args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.engine.tables import cold_start_tables, results_table
    from lego_core.study.curves import curve_table

    print_table(context.console, curve_table(run))
    if run.results is not None:
        context.console.print(results_table(run.results, title=run.path.name))
        for table in cold_start_tables(run.results):
            context.console.print(table)
    if args.figures:
        from lego_core.study.figures import run_figures

        for path in run_figures(run, args.figures):
            context.err_console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    return 0


SWEEP = Command(
    name="sweep",
    help="run an experiment over a grid, random samples and seeds",
    add_arguments=_sweep_arguments,
    run=cmd_sweep,
    description="Run every cell of a search space (a grid's product, or random samples, times seeds) "
    "as a run directory under one sweep directory, in J worker processes. Running the "
    "same command again finishes only the cells that are missing.",
)
REPORT = Command(
    name="report",
    help="compare runs: grouped mean ± std, bootstrap intervals, figures",
    add_arguments=_report_arguments,
    run=cmd_report,
    description="One table over many runs (sweep directories, run directories, folders of runs), "
    "grouped by the config keys that differ, each metric as mean ± std with a 95% "
    "bootstrap interval and the best group marked; a single run shows its curves.",
)
