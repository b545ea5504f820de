"""The ``lego`` command.

Every subcommand, the built-in ones included, comes from the command kind
(``lego_register_commands()``). ``lego --version`` answers from package
metadata before any plugin is loaded; ``--help`` loads the plugins' hook
modules and command modules but no component (and no torch).

User errors (:class:`~lego_core.errors.LegoError`) print one line and exit
with code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib.metadata as md
import os
import sys
import warnings
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

import lego_core
from lego_core.cli import text
from lego_core.cli.command import COMMAND, Command, CommandContext
from lego_core.errors import LegoError, Stopped
from lego_core.plugin.host import ENTRY_POINT_GROUP, PluginHost, PluginWarning
from lego_core.registry import Registries

# the machine, not lego: a full disk, a read-only or forbidden folder (one line, exit 2)
ENVIRONMENT_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
DESCRIPTION = "Content-based recommendation from three bricks, assembled from one TOML file."


def version_text() -> str:
    """``lego-core X`` and one line per installed plugin distribution, from metadata (nothing imported)."""
    lines = [f"lego-core {lego_core.__version__}"]
    seen = {"lego-core"}
    for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist
        if dist is None or dist.name in seen:
            continue
        seen.add(dist.name)
        lines.append(f"{dist.name} {dist.version} (plugin {ep.name})")
    return "\n".join(lines)


def build_parser(registries: Registries) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lego", description=DESCRIPTION)
    parser.add_argument("--version", action="store_true", help="print the versions of lego-core and its plugins")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    commands: list[Command] = [e.obj for e in registries[COMMAND]]
    for command in sorted(commands, key=lambda c: len(c.path)):  # groups before their subcommands
        *group, name = command.path
        if len(group) > 1:
            continue  # one level of nesting; Kind checks keep names short
        if group:
            if group[0] not in groups:
                holder = sub.add_parser(group[0], help=f"{group[0]} commands")
                groups[group[0]] = holder.add_subparsers(dest=f"{group[0]}_command", metavar="SUBCOMMAND")
                holder.set_defaults(handler=None, group_parser=holder)
            target = groups[group[0]]
        else:
            target = sub
        p = target.add_parser(name, help=command.help, description=command.description or command.help)
        command.add_arguments(p)
        if command.run is None:  # a group
            groups[name] = p.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
            p.set_defaults(handler=None, group_parser=p)
        else:
            p.set_defaults(handler=command.run)
    return parser


def _complete(parser: argparse.ArgumentParser) -> None:
    """Answer a shell's completion request through argcomplete, the usual completer of argparse CLIs."""
    try:
        import argcomplete
    except ImportError:  # not installed: the shell gets no completions, lego still works
        return
    argcomplete.autocomplete(parser)  # writes the completions and exits


def _warn(caught: list[warnings.WarningMessage], err_console: Console) -> None:
    for w in caught:
        if issubclass(w.category, PluginWarning):
            err_console.print(Text("warning: ", style="yellow") + Text(str(w.message)), highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    console = text.console()
    err_console = text.console(stderr=True)
    if argv[:1] == ["--version"]:  # answered before any plugin is loaded
        console.print(version_text(), markup=False, highlight=False, soft_wrap=True)
        return 0
    debug = "--debug" in argv
    # `lego plugins` shows broken plugins itself (also with options: `lego --debug plugins --json`)
    is_plugins_command = next((a for a in argv if not a.startswith("-")), None) == "plugins"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        host = PluginHost()
        registries = Registries(host)
        try:
            parser = build_parser(registries)
            if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (lego-core[completion])
                _complete(parser)
        except LegoError as err:
            err_console.print(Text("error: ", style="red") + Text(str(err)), highlight=False, soft_wrap=True)
            return 2
    if not is_plugins_command:
        _warn(caught, err_console)
    try:
        with warnings.catch_warnings(record=True) as later:  # registration failures found while working
            warnings.simplefilter("always", PluginWarning)
            args = parser.parse_args(argv)
            if args.version:
                console.print(version_text(), markup=False, highlight=False, soft_wrap=True)
                return 0
            handler = getattr(args, "handler", None)
            if handler is None:
                (getattr(args, "group_parser", None) or parser).print_help()
                return 0
            code = handler(
                args,
                CommandContext(
                    host=host, registries=registries, console=console, err_console=err_console, argv=tuple(argv)
                ),
            )
        if not is_plugins_command:
            _warn(later, err_console)
        return int(code or 0)
    except Stopped as err:  # SIGINT/SIGTERM with a resumable checkpoint: 130/143, as the signal would
        err_console.print(Text("stopped: ", style="yellow") + Text(str(err)), highlight=False, soft_wrap=True)
        return err.exit_code
    except LegoError as err:
        if debug:
            raise
        err_console.print(Text("error: ", style="red") + Text(str(err)), highlight=False, soft_wrap=True)
        return 2
    except OSError as err:
        if debug or err.errno not in ENVIRONMENT_ERRORS:
            raise
        where = f" ({err.filename})" if err.filename else ""
        err_console.print(
            Text("error: ", style="red")
            + Text(f"{err.strerror}{where}; free space or choose a folder you can write (--output, --out)"),
            highlight=False,
            soft_wrap=True,
        )
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
