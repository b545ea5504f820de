"""The ``lego`` command.

User errors (:class:`~lego_core.errors.LegoError`) print one line and exit
with code 2; ``--debug`` shows the traceback. Plugins add subcommands
through ``lego_register_commands()``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

import lego_core
from lego_core.cli import commands
from lego_core.errors import LegoError
from lego_core.plugin.host import PluginHost, PluginWarning


def build_parser(host: PluginHost) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lego", description="Content-based recommendation from three bricks, "
                                     "assembled from one TOML file.")
    parser.add_argument("--version", action="version", version=f"lego-core {lego_core.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_builtin_commands(sub)
    for entry in host.registries.command:
        p = sub.add_parser(entry.obj.name, help=entry.obj.help, description=entry.obj.help)
        entry.obj.add_arguments(p)
        p.set_defaults(handler=lambda args, host, console, cmd=entry.obj: cmd.run(args))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    console = Console()
    err_console = Console(stderr=True)
    debug = "--debug" in argv
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        host = PluginHost()
        _ = host.registries  # a plugin whose registration hooks fail is reported here too, like one that fails to import
    # `lego plugins` shows broken plugins itself (also with options: `lego --debug plugins --json`)
    is_plugins_command = next((a for a in argv if not a.startswith("-")), None) == "plugins"
    for w in caught:
        if issubclass(w.category, PluginWarning) and not is_plugins_command:
            err_console.print(Text("warning: ", style="yellow") + Text(str(w.message)), highlight=False,
                              soft_wrap=True)
    try:
        parser = build_parser(host)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return 0
        code = args.handler(args, host, console)
        return int(code or 0)
    except LegoError as err:
        if debug:
            raise
        err_console.print(Text("error: ", style="red") + Text(str(err)), highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
