"""One error hierarchy for everything a user can get wrong.

The CLI prints a ``LegoError`` as one line (no traceback unless ``--debug``) and
exits with code 2; anything else is a bug in lego or a plugin and keeps its
traceback.
"""

from __future__ import annotations


class LegoError(Exception):
    """Base of every error caused by user input: config, data, names, plugins."""


class ConfigError(LegoError):
    """An experiment file or override is wrong; the message names the key path."""


class RegistryError(LegoError):
    """A component name is unknown or ambiguous; the message lists what exists."""


class PluginError(LegoError):
    """A plugin failed to load or registered something invalid."""


class DataError(LegoError):
    """Raw files or a depot are missing or malformed; the message names file and line."""


class CompatibilityError(ConfigError):
    """Bricks that cannot work together; the message says which ones fit."""


class LockedError(LegoError):
    """Another process holds a lock on a depot, run directory or cache; the message names it."""


class Stopped(LegoError):
    """A run stopped on SIGINT or SIGTERM after saving a resumable checkpoint; the CLI exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TrainingError(LegoError):
    """Training cannot go on (for example a NaN loss); the last good checkpoint is kept."""
