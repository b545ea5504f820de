"""``lego show NAME``: one brick, task, preset, processor, metric or settings table, in full.

The name is looked up in every kind (bare or ``plugin:name``); a name that
several kinds use (``attention`` is a content and a behavior operator) shows
each, or one with ``--kind``. Options are listed with their type, default and
meaning, so the options of ``dcnv2`` are one command away.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape
from rich.table import Table

from lego_core.cli.command import Command, CommandContext
from lego_core.errors import RegistryError
from lego_core.kinds import KIND_NAMES, kind_named

SHOWN = [k for k in KIND_NAMES if k != "command"]


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a name from `lego list` (bare or plugin:name)")
    parser.add_argument("--kind", choices=SHOWN, help="look only in this kind")
    parser.add_argument("--json", action="store_true", help="print the description as JSON")


def _value(value: Any) -> str:
    from lego_core.config.toml_writer import _value as toml_value

    try:
        return toml_value(value)
    except Exception:  # a default TOML cannot spell: show it as Python does
        return repr(value)


def _render(info: dict[str, Any], context: CommandContext) -> None:
    console = context.console
    title = f"{info['kind']} {info['qualified']}  ({info['distribution']} {info['version']})".rstrip()
    console.print(title, style="bold", markup=False, highlight=False, soft_wrap=True)
    if info.get("description"):
        console.print(info["description"], markup=False, highlight=False)
    if info.get("paper"):
        console.print(f"paper: {info['paper']}", markup=False, highlight=False, soft_wrap=True)
    if info.get("table"):
        console.print(f"table: [{info['table']}]", markup=False, highlight=False)
    if "options" in info:
        where = {
            "content": "[model.content_options]",
            "behavior": "[model.behavior_options]",
            "predictor": "[model.predictor_options]",
            "task": "[model.task_options]",
            "processor": "lego data prepare NAME --set KEY=VALUE",
            "settings": f"[{info.get('table')}]",
            "metric": "no options",
        }.get(info["kind"], "")
        if info["options"]:
            table = Table(title=escape(f"options ({where})"))
            for column in ("option", "type", "default", "meaning"):
                table.add_column(column, overflow="fold")
            for option in info["options"]:
                table.add_row(
                    escape(option["name"]),
                    escape(option["type"]),
                    escape(_value(option["default"])),
                    escape(option["doc"]),
                )
            console.print(table)
        else:
            console.print("options: none", markup=False)
    for key, value in info.get("fits", {}).items():
        shown = (
            ", ".join(value)
            if isinstance(value, list)
            else (str(value).lower() if isinstance(value, bool) else str(value))
        )
        console.print(f"{key}: {shown or 'none installed'}", markup=False, highlight=False, soft_wrap=True)
    for file in info.get("files", []):
        optional = " (optional)" if file["optional"] else ""
        console.print(f"file {file['name']}{optional}: {file['format']}", markup=False, highlight=False, soft_wrap=True)
    if info["kind"] == "preset":
        requires = ", ".join(info["requires"]) or "-"
        missing = f" (missing: pip install {' '.join(info['missing'])})" if info["missing"] else ""
        console.print(f"requires: {requires}{missing}", markup=False, highlight=False, soft_wrap=True)
        from lego_core.config.toml_writer import dumps

        console.print(dumps(info["tables"]).rstrip(), markup=False, highlight=False)


def cmd_show(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.cli.describe import describe

    kinds = [args.kind] if args.kind else SHOWN
    found = []
    errors = []
    for kind in kinds:
        registry = context.registries[kind_named(kind)]
        try:
            found.append(describe(kind, registry.get(args.name), context.registries))
        except RegistryError as err:
            errors.append(str(err))
    if not found:
        close = [e for e in errors if "Did you mean" in e or "provided by" in e]
        raise RegistryError(
            close[0]
            if close
            else f'nothing is named "{args.name}" in any kind ({", ".join(kinds)}); `lego list` shows what is installed'
        )
    if args.json:
        context.console.print_json(json.dumps(found, default=str))
        return 0
    for i, info in enumerate(found):
        if i:
            context.console.print()
        _render(info, context)
    return 0


SHOW = Command(
    name="show",
    help="describe one brick, task, preset, processor, metric or settings table",
    add_arguments=_arguments,
    run=cmd_show,
    description="Describe a registered thing: what it does, its paper, its options (type, default, "
    "meaning), what it fits with, and the plugin it comes from.",
)
