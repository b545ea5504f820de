"""Loading plugins from entry points, one failure never taking the others down.

A :class:`PluginHost` is an ordinary object (no global state): each
experiment may build its own, and tests build hosts from inline plugin
modules. It loads every entry point of the group ``lego``, registers the
module with a pluggy ``PluginManager``, and records, per plugin, its
distribution, version and status; a plugin that raises on import or whose
hooks do not match the specs is recorded as broken (with the cause) and
reported by ``lego plugins`` and as a warning.

The host knows pluggy and entry points and nothing else: :meth:`collect`
calls one hook of every healthy plugin and returns, per plugin, what it
returned or the error it raised; :class:`lego_core.registry.Registries`
turns that into typed registries. Loading an entry point imports only the
plugin's hook module (its ``plugin.py``), which by convention imports its
components inside the hook functions, so a host is cheap to build.
"""

from __future__ import annotations

import importlib.metadata as md
import warnings
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import attrs
import pluggy

import lego_core
from lego_core.plugin import spec
from lego_core.plugin.markers import PROJECT
from lego_core.registry import Collected

ENTRY_POINT_GROUP = "lego"


class PluginWarning(UserWarning):
    """A plugin could not be loaded; the others keep working."""


@attrs.define
class PluginInfo:
    """One plugin as ``lego plugins`` shows it."""

    name: str
    distribution: str
    version: str
    module: str
    status: str = "ok"
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".strip()


class PluginHost:
    """A pluggy manager plus what is known about each plugin.

    Args:
        modules: extra plugins as ``(name, module_or_object)`` pairs, registered
            as if they came from an entry point (tests, notebooks).
        entry_points: whether to load the installed entry points of the group
            ``lego`` (False gives a host with only ``modules``).
    """

    def __init__(self, modules: Iterable[tuple[str, Any]] = (), *, entry_points: bool = True) -> None:
        self.manager = pluggy.PluginManager(PROJECT)
        self.manager.add_hookspecs(spec)
        self.plugins: dict[str, PluginInfo] = {}
        self.generation = 0  # grows with every plugin added (registries rebuild)
        if entry_points:
            for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                self._load_entry_point(ep)
        for name, module in modules:
            self.add(name, module)

    def _load_entry_point(self, ep: md.EntryPoint) -> None:
        dist = ep.dist.name if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else "?"
        info = PluginInfo(name=ep.name, distribution=dist, version=version, module=ep.value)
        if ep.name in self.plugins:
            other = self.plugins[ep.name]
            self._mark_broken(info, f"the plugin name {ep.name!r} is already used by {other.distribution}")
            self.plugins[f"{ep.name}@{dist}"] = info
            return
        self.plugins[ep.name] = info
        try:
            module = ep.load()
        except Exception as err:  # a broken plugin must not take lego down
            self._mark_broken(info, _describe(err))
            return
        self._register(info, module)

    def add(self, name: str, module: Any, *, distribution: str = "<inline>", version: str = "") -> PluginInfo:
        """Register an in-process plugin (a module or any object with hookimpls)."""
        module_name = module.__name__ if isinstance(module, ModuleType) else type(module).__name__
        info = PluginInfo(name=name, distribution=distribution, version=version, module=module_name)
        if name in self.plugins:
            raise ValueError(f"a plugin named {name!r} is already registered ({self.plugins[name].distribution})")
        self.plugins[name] = info
        self._register(info, module)
        self.generation += 1
        return info

    def _register(self, info: PluginInfo, module: Any) -> None:
        try:
            self.manager.register(module, name=info.name)
            self.manager.check_pending()
        except Exception as err:
            if self.manager.is_registered(module):
                self.manager.unregister(module)
            self._mark_broken(info, _describe(err))

    def _mark_broken(self, info: PluginInfo, error: str) -> None:
        info.status = "broken"
        info.error = error
        release = f"{info.distribution} {info.version}".strip()
        warnings.warn(
            f"lego plugin {info.name!r} ({release}, lego-core {lego_core.__version__}) "
            f"failed to load and is ignored: {error}",
            PluginWarning,
            stacklevel=3,
        )

    def mark_broken(self, name: str, error: str) -> None:
        """Record that a loaded plugin misbehaved later (an invalid registration)."""
        info = self.plugins[name]
        if info.ok:
            self._mark_broken(info, error)
        if self.manager.get_plugin(name) is not None:  # an ignored plugin observes no lifecycle hooks either
            self.manager.unregister(name=name)

    def is_ok(self, plugin: str) -> bool:
        info = self.plugins.get(plugin)
        return info is not None and info.ok

    def collect(self, hook: str) -> list[Collected]:
        """Call ``hook`` (a registration hook, no arguments) of every healthy plugin, one by one.

        Returns one :class:`~lego_core.registry.Collected` per implementing
        plugin, in load order, holding its result or the exception it raised.
        """
        out = []
        for impl in getattr(self.manager.hook, hook).get_hookimpls():
            info = self.plugins.get(impl.plugin_name)
            if info is None or not info.ok:
                continue
            try:
                out.append(
                    Collected(
                        plugin=info.name, distribution=info.distribution, version=info.version, result=impl.function()
                    )
                )
            except Exception as err:  # the registry marks the plugin broken
                out.append(Collected(plugin=info.name, distribution=info.distribution, version=info.version, error=err))
        order = {name: i for i, name in enumerate(self.plugins)}
        return sorted(out, key=lambda c: order[c.plugin])

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a lifecycle hook with keyword arguments."""
        getattr(self.manager.hook, hook)(**kwargs)
