"""Kinds of extension and their typed registries.

A :class:`Kind` is one extension point: its name (``"content"``), the hook
that plugins implement to register things of that kind, the base class (or
type) those things must have, and the noun error messages use. Each kind is
declared beside its base class (``CONTENT`` in :mod:`lego_core.model.bricks`,
``PROCESSOR`` in :mod:`lego_core.data.processor`, ...), so importing a kind
imports only what that kind needs.

A :class:`Registry` holds the :class:`Entry` objects of one kind; it is built
from what the plugin host collected for the kind's hook. :class:`Registries`
builds each registry the first time it is asked for it, so ``lego list
processor`` imports processor modules and nothing else.

A name is looked up bare (``"cnn"``) or qualified (``"text:cnn"``); a bare
name provided by two plugins is refused with both distributions named, and
an unknown name gets the closest matches. A plugin that registers something
invalid is marked broken and all of its entries disappear from every
registry, already built or not, so a half-broken plugin is ignored as a whole.

This module imports nothing of lego but its errors: the host is seen
through the small :class:`Collector` protocol.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs

from lego_core.errors import RegistryError

T = TypeVar("T")
PLUGIN_HINT = "If it comes from a plugin, install it (e.g. pip install lego-text) and check `lego plugins`."


@attrs.frozen
class Kind(Generic[T]):
    """One extension point.

    Args:
        name: the kind's key (``lego list NAME``).
        hook: the registration hook plugins implement.
        base: registered things must be subclasses of it, or instances of it
            when ``instances`` is true (presets, commands).
        noun: how messages call one of them (``"content operator"``).
        instances: registrations are objects, not classes.
    """

    name: str
    hook: str
    base: type[Any]
    noun: str
    instances: bool = False

    def check(self, obj: Any) -> T:
        """``obj`` if it is a valid registration of this kind, else a TypeError saying why."""
        if self.instances:
            ok = isinstance(obj, self.base)
            expected = f"a {self.base.__name__} object"
        else:
            ok = isinstance(obj, type) and issubclass(obj, self.base)
            expected = f"a subclass of {self.base.__name__}"
        if not ok:
            raise TypeError(f"registered {obj!r} as a {self.noun}, expected {expected}")
        name = getattr(obj, "name", "")
        if not isinstance(name, str) or not name or ":" in name or name != name.strip():
            raise TypeError(f"{obj!r} has no usable `name` (got {name!r}); set a short lowercase key")
        return obj


@attrs.frozen
class Collected:
    """What one plugin's implementation of a hook gave: a result or the error it raised."""

    plugin: str
    distribution: str
    version: str
    result: Any = None
    error: BaseException | None = None


class Collector(Protocol):
    """What a registry needs from a plugin host (``generation`` grows when a plugin is added)."""

    generation: int

    def collect(self, hook: str) -> list[Collected]: ...

    def is_ok(self, plugin: str) -> bool: ...

    def mark_broken(self, plugin: str, error: str) -> None: ...


@attrs.frozen
class Entry(Generic[T]):
    """One registered thing and where it came from."""

    kind: str
    name: str
    obj: T
    plugin: str
    distribution: str
    version: str

    @property
    def qualified(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def summary(self) -> str:
        """First line of the description or docstring."""
        text = getattr(self.obj, "description", "") or (getattr(self.obj, "__doc__", "") or "")
        return text.strip().splitlines()[0] if text.strip() else ""


class Registry(Generic[T]):
    """The entries of one kind.

    Args:
        kind: the kind.
        entries: every valid registration, in plugin order.
        is_ok: whether a plugin is still healthy (entries of broken plugins are hidden).
    """

    def __init__(
        self, kind: Kind[T], entries: Sequence[Entry[T]], is_ok: Callable[[str], bool] = lambda plugin: True
    ) -> None:
        self.kind = kind
        self.noun = kind.noun
        self._entries = list(entries)
        self._is_ok = is_ok

    @classmethod
    def build(cls, kind: Kind[T], host: Collector) -> Registry[T]:
        """Check what every plugin returned for ``kind.hook``; a plugin that raised or returned
        something invalid is marked broken and contributes nothing."""
        entries: list[Entry[T]] = []
        for got in host.collect(kind.hook):
            if not host.is_ok(got.plugin):
                continue
            try:
                if got.error is not None:
                    raise got.error
                objs = [kind.check(obj) for obj in (got.result or [])]
                _check_unique(objs, kind.noun)
            except Exception as err:  # report, and keep the other plugins working
                host.mark_broken(got.plugin, f"{kind.hook}() failed: {type(err).__name__}: {err}")
                continue
            entries.extend(
                Entry(
                    kind=kind.name,
                    name=obj.name,  # type: ignore[attr-defined]
                    obj=obj,
                    plugin=got.plugin,
                    distribution=got.distribution,
                    version=got.version,
                )
                for obj in objs
            )
        return cls(kind, entries, host.is_ok)

    @property
    def entries(self) -> list[Entry[T]]:
        return [e for e in self._entries if self._is_ok(e.plugin)]

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return sorted({e.name for e in self.entries})

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except RegistryError:
            return False
        return True

    def get(self, name: str, where: str = "") -> Entry[T]:
        """The entry for ``name`` or ``plugin:name``.

        Args:
            name: what the user wrote.
            where: where they wrote it (``"experiment.toml [model] content"``),
                quoted at the start of an error.
        """
        prefix = f"{where}: " if where else ""
        entries = self.entries
        plugin, sep, bare = name.rpartition(":")
        if sep:
            found = [e for e in entries if e.name == bare and e.plugin == plugin]
        else:
            found = [e for e in entries if e.name == name]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            which = " and ".join(f"{e.distribution} (as {e.qualified!r})" for e in found)
            raise RegistryError(
                f'{prefix}the {self.noun} name "{name}" is provided by {which}; write the qualified form to choose one.'
            )
        available = self.names()
        if sep:  # a qualified name: suggest qualified names (a bare one may be ambiguous)
            qualified = sorted(e.qualified for e in entries)
            close = sorted(e.qualified for e in entries if e.name == bare) or difflib.get_close_matches(
                name, qualified, n=3, cutoff=0.6
            )
        else:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(available) if available else "(none installed)"
        raise RegistryError(f'{prefix}no {self.noun} named "{name}". Available: {listing}.{hint} {PLUGIN_HINT}')


class Registries:
    """The registries of one plugin host, each built on first use.

    Example::

        registries = Registries(PluginHost())
        registries[CONTENT].get("cnn").obj      # a ContentOperator subclass
    """

    def __init__(self, host: Collector) -> None:
        self.host = host
        self._built: dict[str, Registry[Any]] = {}
        self._generation = host.generation

    def __getitem__(self, kind: Kind[T]) -> Registry[T]:
        if not isinstance(kind, Kind):
            raise TypeError(f"registries are looked up by Kind objects (e.g. CONTENT), not {kind!r}")
        if self.host.generation != self._generation:  # a plugin was added: rebuild what was built
            self._built.clear()
            self._generation = self.host.generation
        registry = self._built.get(kind.name)
        if registry is None or registry.kind is not kind:
            registry = self._built[kind.name] = Registry.build(kind, self.host)
        return registry

    def built(self) -> list[str]:
        """The kinds built so far (for tests of lazy loading)."""
        return sorted(self._built)


def _check_unique(objs: list[Any], noun: str) -> None:
    seen: dict[str, Any] = {}
    for obj in objs:
        if obj.name in seen:
            raise TypeError(f"registers two {noun}s named {obj.name!r}: {seen[obj.name]!r} and {obj!r}")
        seen[obj.name] = obj
