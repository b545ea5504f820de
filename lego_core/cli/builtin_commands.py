"""The commands lego-core registers (through ``lego_register_commands()``, as a plugin would)."""

from __future__ import annotations

from lego_core.cli import commands, data_commands, serve_commands, show, study_commands

BUILTIN_COMMANDS = (
    commands.RUN,
    commands.EVAL,
    commands.LIST,
    show.SHOW,
    commands.PLUGINS,
    data_commands.DATA,
    data_commands.PREPARE,
    data_commands.SYNTH,
    data_commands.INFO,
    data_commands.VERIFY,
    data_commands.LIST,
    study_commands.SWEEP,
    study_commands.REPORT,
    serve_commands.RECOMMEND,
    serve_commands.EXPORT,
)
