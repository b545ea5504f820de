"""The plugin's own settings table and command: ``[plugins.someone]`` and ``lego someone-summary RUN_DIR``.

With ``[plugins.someone] summary = true`` the plugin writes ``someone.txt``
into the run directory when the run ends (through the lifecycle hook
``lego_experiment_end``, which receives every plugin's settings); ``lego
someone-summary RUN_DIR`` prints that file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v

from lego_core.cli.command import Command, CommandContext
from lego_core.config.settings import PluginSettings
from lego_core.errors import LegoError

SUMMARY_FILE = "someone.txt"


@attrs.define(kw_only=True, frozen=True)
class SomeoneSettings(PluginSettings):
    """lego-someone's settings: a one-line summary file per run."""

    name = "someone"
    description = "lego-someone: write a one-line summary (someone.txt) when a run ends."

    summary: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Write someone.txt into the run directory at the end."},
    )
    metric: str = attrs.field(
        default="auc", validator=v.instance_of(str), metadata={"doc": "The test metric the summary quotes."}
    )


def write_summary(results: dict[str, Any], run_dir: Path, settings: SomeoneSettings) -> None:
    if not settings.summary:
        return
    value = results.get("test", {}).get(settings.metric)
    shown = "n/a" if value is None else f"{value:.4f}"
    (run_dir / SUMMARY_FILE).write_text(
        f"{run_dir.name}: task {results['run']['task']}, test {settings.metric} {shown}\n"
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory of a run made with [plugins.someone] summary = true")


def _run(args: argparse.Namespace, context: CommandContext) -> int:
    path = Path(args.run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise LegoError(f"{args.run_dir}: no {SUMMARY_FILE}; run the experiment with [plugins.someone] summary = true")
    context.console.print(path.read_text().strip(), markup=False, highlight=False, soft_wrap=True)
    return 0


SUMMARY = Command(
    name="someone-summary", help="print the summary lego-someone wrote for a run", add_arguments=_arguments, run=_run
)
