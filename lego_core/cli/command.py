"""A CLI subcommand that a plugin adds through ``lego_register_commands()``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import attrs


@attrs.frozen
class Command:
    """``lego <name> ...``.

    Args:
        name: the subcommand (``"embed"``).
        help: one line for ``lego --help``.
        add_arguments: adds the command's arguments to its argparse parser.
        run: called with the parsed arguments; returns the exit code (None = 0).
            Raise :class:`~lego_core.errors.LegoError` for user errors: the CLI
            prints it as one line and exits with 2.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
