"""A CLI subcommand, registered through ``lego_register_commands()`` like every other kind.

The built-in commands (``run``, ``eval``, ``list``, ``data prepare``, ...)
are registered by the core plugin through the same hook as a plugin's
commands, with the same signature, so a plugin can add ``lego mything`` or
``lego data mything`` exactly as the core does.

A command's module should be cheap to import (argparse setup only): ``lego
--help`` imports every command module, so heavy imports (torch, a model
library) belong inside ``run``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from lego_core.registry import Kind

if TYPE_CHECKING:
    from rich.console import Console

    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries


@attrs.frozen
class CommandContext:
    """What every command's ``run`` receives besides its arguments.

    Args:
        host: the plugin host (for lifecycle hooks).
        registries: the registries of that host (build them on use: ``registries[PROCESSOR]``).
        console: standard output.
        err_console: standard error (progress, warnings).
        argv: the arguments of ``lego`` as given.
    """

    host: PluginHost
    registries: Registries
    console: Console
    err_console: Console
    argv: tuple[str, ...] = ()  # the command line as given (a command may start itself again, e.g. under torchrun)


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command without arguments."""


@attrs.frozen
class Command:
    """``lego <name> ...``, or ``lego <group> <name> ...`` when ``name`` has two words.

    Args:
        name: the subcommand (``"embed"``), or ``"GROUP NAME"`` (``"data import"``)
            for a subcommand of a group.
        help: one line for ``lego --help``.
        add_arguments: adds the command's arguments to its argparse parser.
        run: called as ``run(args, context)`` with the parsed arguments and a
            :class:`CommandContext`; returns the exit code (None = 0). Raise
            :class:`~lego_core.errors.LegoError` for user errors: the CLI prints
            it as one line and exits with 2. A group (``"data"``) has ``run =
            None``: it only holds subcommands, and prints its help when called alone.
        description: a longer text for ``lego NAME --help`` (default: ``help``).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    run: Callable[[argparse.Namespace, CommandContext], Any] | None = None
    description: str = ""

    @property
    def path(self) -> list[str]:
        return self.name.split()


COMMAND: Kind[Command] = Kind("command", hook="lego_register_commands", base=Command, noun="command", instances=True)
