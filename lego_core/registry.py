"""Typed registries of everything plugins provide, with helpful lookups.

Each kind (content, behavior, predictor, processor, metric, preset, command)
has a :class:`Registry` of :class:`Entry` objects that remember the plugin
and distribution they came from. A name is looked up bare (``"cnn"``) or
qualified (``"text:cnn"``); a bare name provided by two plugins is refused
with both distributions named, and an unknown name gets the closest matches.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from lego_core.errors import RegistryError

if TYPE_CHECKING:
    from lego_core.plugin.host import PluginHost

# kind -> (hook name, base class path, noun for messages, the plugin that ships the usual ones)
KINDS: dict[str, tuple[str, str, str]] = {
    "content": ("lego_register_content_operators", "lego_core.model.bricks:ContentOperator", "content operator"),
    "behavior": ("lego_register_behavior_operators", "lego_core.model.bricks:BehaviorOperator", "behavior operator"),
    "predictor": ("lego_register_predictors", "lego_core.model.bricks:Predictor", "predictor"),
    "processor": ("lego_register_processors", "lego_core.data.processor:Processor", "dataset processor"),
    "metric": ("lego_register_metrics", "lego_core.metrics.base:Metric", "metric"),
    "preset": ("lego_register_presets", "lego_core.config.preset:Preset", "preset"),
    "command": ("lego_register_commands", "lego_core.cli.command:Command", "command"),
}
PLUGIN_HINT = "If it comes from a plugin, install it (e.g. pip install lego-text) and check `lego plugins`."


def _resolve(path: str) -> type:
    module, _, attr = path.partition(":")
    return getattr(__import__(module, fromlist=[attr]), attr)


@attrs.frozen
class Entry:
    """One registered component and where it came from."""

    kind: str
    name: str
    obj: Any
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


class Registry:
    """Entries of one kind."""

    def __init__(self, kind: str, entries: list[Entry]) -> None:
        self.kind = kind
        self.noun = KINDS[kind][2]
        self.entries = entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def names(self) -> list[str]:
        return sorted({e.name for e in self.entries})

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except RegistryError:
            return False
        return True

    def get(self, name: str, where: str = "") -> Entry:
        """The entry for ``name`` or ``plugin:name``.

        Args:
            name: what the user wrote.
            where: where they wrote it (``"experiment.toml [model] content"``),
                quoted at the start of an error.
        """
        prefix = f"{where}: " if where else ""
        plugin, sep, bare = name.rpartition(":")
        if sep:
            found = [e for e in self.entries if e.name == bare and e.plugin == plugin]
        else:
            found = [e for e in self.entries if e.name == name]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            which = " and ".join(f"{e.distribution} (as {e.qualified!r})" for e in found)
            raise RegistryError(
                f'{prefix}the {self.noun} name "{name}" is provided by {which}; '
                f"write the qualified form to choose one."
            )
        available = self.names()
        if sep:  # a qualified name: suggest qualified names (a bare one may be ambiguous)
            close = sorted(e.qualified for e in self.entries if e.name == bare) or difflib.get_close_matches(
                name, sorted(e.qualified for e in self.entries), n=3, cutoff=0.6)
        else:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
        hint = f' Did you mean {" or ".join(repr(c) for c in close)}?' if close else ""
        listing = ", ".join(available) if available else "(none installed)"
        raise RegistryError(
            f'{prefix}no {self.noun} named "{name}". Available: {listing}.{hint} {PLUGIN_HINT}'
        )


class Registries:
    """All registries of a plugin host."""

    def __init__(self, registries: dict[str, Registry]) -> None:
        self._by_kind = registries

    def __getitem__(self, kind: str) -> Registry:
        return self._by_kind[kind]

    def __getattr__(self, kind: str) -> Registry:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise AttributeError(kind) from None

    @classmethod
    def from_host(cls, host: PluginHost) -> Registries:
        registries: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        for kind, (hook_name, base_path, noun) in KINDS.items():
            base = _resolve(base_path)
            hook = getattr(host.manager.hook, hook_name)
            for impl in hook.get_hookimpls():
                info = host.plugins.get(impl.plugin_name)
                if info is None or not info.ok:
                    continue
                try:
                    returned = impl.function()
                    entries = [_check(obj, kind, base, noun, impl.plugin_name) for obj in returned or []]
                    _check_unique(entries, noun)
                except Exception as err:  # report, and keep the other plugins working
                    host.mark_broken(impl.plugin_name, f"{hook_name}() failed: {type(err).__name__}: {err}")
                    continue
                registries[kind].extend(
                    Entry(kind=kind, name=o.name, obj=o, plugin=info.name,
                          distribution=info.distribution, version=info.version)
                    for o in entries
                )
        # a plugin that broke in a later hook is ignored as a whole, like one that failed to import
        return cls({kind: Registry(kind, [e for e in entries if host.plugins[e.plugin].ok])
                    for kind, entries in registries.items()})


def _check_unique(objs: list[Any], noun: str) -> None:
    seen: dict[str, Any] = {}
    for obj in objs:
        if obj.name in seen:
            raise TypeError(f"registers two {noun}s named {obj.name!r}: {seen[obj.name]!r} and {obj!r}")
        seen[obj.name] = obj


def _check(obj: Any, kind: str, base: type, noun: str, plugin: str) -> Any:
    is_instance_kind = kind in ("preset", "command")
    ok = isinstance(obj, base) if is_instance_kind else isinstance(obj, type) and issubclass(obj, base)
    if not ok:
        expected = f"a {base.__name__} object" if is_instance_kind else f"a subclass of {base.__name__}"
        raise TypeError(f"registered {obj!r} as a {noun}, expected {expected}")
    name = getattr(obj, "name", "")
    if not isinstance(name, str) or not name or ":" in name or name != name.strip():
        raise TypeError(f"{obj!r} has no usable `name` (got {name!r}); set a short lowercase key")
    return obj
