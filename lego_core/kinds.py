"""Every kind of extension lego has, for the commands that go over all of them.

Each :class:`~lego_core.registry.Kind` is declared beside its base class;
this module only lists them, importing each one when asked (the brick kinds
bring torch, the processor kind does not), so ``lego list processor`` stays
light. The import of each kind is an ordinary static import inside a
function, visible to static analysis, and nothing below this module imports it.
"""

from __future__ import annotations

from typing import Any

from lego_core.registry import Kind

KIND_NAMES = ("content", "behavior", "predictor", "task", "processor", "metric", "preset", "settings", "command")


def kind_named(name: str) -> Kind[Any]:
    """The kind called ``name`` (one of :data:`KIND_NAMES`)."""
    if name in ("content", "behavior", "predictor"):
        from lego_core.model.bricks import BEHAVIOR, CONTENT, PREDICTOR

        bricks: dict[str, Kind[Any]] = {"content": CONTENT, "behavior": BEHAVIOR, "predictor": PREDICTOR}
        return bricks[name]
    if name == "task":
        from lego_core.engine.task import TASK

        return TASK
    if name == "processor":
        from lego_core.data.processor import PROCESSOR

        return PROCESSOR
    if name == "metric":
        from lego_core.metrics.base import METRIC

        return METRIC
    if name == "preset":
        from lego_core.config.preset import PRESET

        return PRESET
    if name == "settings":
        from lego_core.config.settings import SETTINGS

        return SETTINGS
    if name == "command":
        from lego_core.cli.command import COMMAND

        return COMMAND
    raise KeyError(f"no kind named {name!r}; kinds: {', '.join(KIND_NAMES)}")


def all_kinds() -> list[Kind[Any]]:
    return [kind_named(name) for name in KIND_NAMES]
