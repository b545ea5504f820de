"""Plugin settings: a plugin's own table in the experiment file, typed like the rest.

A plugin registers an attrs class (a subclass of :class:`PluginSettings`)
through ``lego_register_settings()``. Its ``name`` is the table
``[plugins.NAME]`` of the experiment file; a class may also claim a
top-level table of its own (``table = "log"`` makes ``[log]`` its table), which
must not clash with the core's tables or another plugin's claim. The table is
structured into the class with the same strict converter as ``[model]`` and
``[train]`` (unknown keys and wrong types are errors naming the key path),
and every registered class is instantiated, from its defaults when the file
has no table for it, so a plugin always finds its settings.

Plugins read them in lifecycle hooks through the ``settings`` argument
(name -> object)::

    @attrs.define(kw_only=True, frozen=True)
    class ShoutSettings(PluginSettings):
        name = "shout"
        loud: bool = attrs.field(default=False, metadata={"doc": "Shout the results."})

    @hookimpl
    def lego_experiment_end(results, settings):
        if settings["shout"].loud:
            print(results)
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from lego_core.registry import Kind

CORE_TABLES = ("data", "model", "train", "plugins", "sweep")


@attrs.define(kw_only=True, frozen=True)
class PluginSettings:
    """Base of settings classes.

    Class attributes:
        name: the key under ``[plugins]`` (and in the ``settings`` mapping).
        table: a top-level table claimed instead of ``[plugins.NAME]`` (optional).
        description: one line for ``lego list settings``.
    """

    name: ClassVar[str] = ""
    table: ClassVar[str | None] = None
    description: ClassVar[str] = ""

    @classmethod
    def where(cls) -> str:
        """The table's name as a user writes it."""
        return cls.table or f"plugins.{cls.name}"


SETTINGS: Kind[type[PluginSettings]] = Kind(
    "settings", hook="lego_register_settings", base=PluginSettings, noun="settings table"
)
