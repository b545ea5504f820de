"""The ``[log]`` table: what a run writes besides its results, and how it shows progress.

One settings class for the core's loggers, registered through
``lego_register_settings()`` like a plugin's, claiming the top-level table
``[log]``::

    [log]
    csv = true                    # log/steps.csv (every step's loss and lr), log/epochs.csv
    every_steps = 1               # one steps.csv row (and TensorBoard point) every N steps
    tensorboard = false           # log/tensorboard/ event files (pip install 'lego-core[tensorboard]')
    file = true                   # log/console.log: what the console showed, as plain text
    progress_every_seconds = 30   # off a terminal: a plain progress line at most this often
    progress_every_steps = 0      # ... and/or every N steps (0: not by count)

Every key may change on ``--resume`` (none changes what a run computes).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import validators as v

from lego_core.config.settings import PluginSettings
from lego_core.errors import ConfigError

TENSORBOARD_HINT = "pip install 'lego-core[tensorboard]' (or pip install tensorboard)"


@attrs.define(kw_only=True, frozen=True)
class LogSettings(PluginSettings):
    """Files the run directory gets besides metrics.jsonl, and progress lines off a terminal."""

    name = "log"
    table = "log"
    description = (
        "The core's loggers: CSV (log/*.csv), TensorBoard (log/tensorboard), the console log "
        "(log/console.log), and plain progress lines when the output is not a terminal."
    )

    csv: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Write log/steps.csv and log/epochs.csv in the run directory."},
    )
    every_steps: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.ge(1)],
        metadata={"doc": "Write one steps.csv row (and TensorBoard point) every N optimiser steps."},
    )
    tensorboard: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Write TensorBoard event files to log/tensorboard (needs the tensorboard extra)."},
    )
    file: bool = attrs.field(
        default=True,
        validator=v.instance_of(bool),
        metadata={"doc": "Write log/console.log: what the console showed, as plain text."},
    )
    progress_every_seconds: float = attrs.field(
        default=30.0,
        validator=[v.instance_of(float), v.ge(0.0)],
        metadata={
            "doc": "When the output is not a terminal, print a plain progress line at most every N "
            "seconds (0: not by time)."
        },
    )
    progress_every_steps: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "Also print a plain progress line every N steps (0: not by count)."},
    )


def log_settings(settings: Mapping[str, Any]) -> LogSettings:
    """The ``[log]`` settings of a run (the defaults when a caller passes none)."""
    found = settings.get("log")
    return found if isinstance(found, LogSettings) else LogSettings()


def check_available(settings: Mapping[str, Any]) -> None:
    """Refuse, before a run directory exists, a logger whose package is not installed."""
    if log_settings(settings).tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(
            f"[log] tensorboard = true needs the tensorboard package, which is not installed: "
            f"{TENSORBOARD_HINT}; or set log.tensorboard = false"
        )
