"""From an experiment file to a checked, typed configuration.

Order: read the TOML, apply ``--set`` overrides, merge the preset under the
explicit keys, structure into :class:`ExperimentConfig`, then structure each
brick's options table into that brick's ``Options`` class and check that the
bricks fit together. Every problem found on the way is collected and raised
once, each with its key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from lego_core.config.converter import format_problems, structure, unstructure
from lego_core.config.preset import merge_under
from lego_core.config.schema import ExperimentConfig
from lego_core.config.toml_writer import dumps
from lego_core.config.tomlio import load_toml, parse_value
from lego_core.errors import CompatibilityError, ConfigError, RegistryError
from lego_core.registry import Entry, Registries

BRICKS = ("content", "behavior", "predictor")
_METRIC = re.compile(r"^(?P<name>[A-Za-z_][\w:-]*?)(?:@(?P<k>\d+))?$")


@attrs.frozen
class BrickChoice:
    """A brick's registry entry and its structured options."""

    entry: Entry
    options: Any

    @property
    def cls(self) -> Any:
        return self.entry.obj


@attrs.frozen
class ResolvedExperiment:
    """A checked experiment: typed config, chosen bricks, metric objects."""

    config: ExperimentConfig
    bricks: Mapping[str, BrickChoice]
    metrics: Sequence[Any]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return unstructure(self.config)

    def to_toml(self) -> str:
        return dumps(self.to_dict())


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` overrides (values parsed as TOML, bare words as strings)."""
    out = merge_under({}, data)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set model.hidden_size=256")
        node = out
        parts = key.strip().split(".")
        if not all(part.strip() for part in parts):
            raise ConfigError(f"--set {item!r}: empty part in the key {key.strip()!r}; write dotted keys like model.hidden_size")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[: i + 1])} is a value, not a table")
            node = child
        node[parts[-1]] = parse_value(text.strip())
    return out


def parse_metric(key: str, registries: Registries, where: str) -> Any:
    match = _METRIC.match(key.strip())
    if not match:
        raise ConfigError(f"{where}: {key!r} is not a metric key; write name or name@k, e.g. ndcg@10")
    entry = registries.metric.get(match["name"], where)
    try:
        return entry.obj(k=int(match["k"]) if match["k"] else None)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


def resolve(data: Mapping[str, Any], registries: Registries, *, source: str = "experiment",
            base_dir: Path | None = None, overrides: Sequence[str] = ()) -> ResolvedExperiment:
    """Turn raw TOML data into a :class:`ResolvedExperiment` or raise one :class:`ConfigError`."""
    raw = apply_overrides(dict(data), overrides)
    preset_name = (raw.get("model") or {}).get("preset") if isinstance(raw.get("model"), dict) else None
    if preset_name and isinstance(preset_name, str):  # another type is reported by structure() below
        preset = registries.preset.get(preset_name, f"{source} [model] preset").obj
        raw = merge_under(preset.tables, raw)
    if base_dir is not None and isinstance(raw.get("data"), dict) and isinstance(raw["data"].get("path"), str):
        path = Path(raw["data"]["path"]).expanduser()
        raw["data"]["path"] = str(path if path.is_absolute() else (base_dir / path).resolve())
    config, problems = structure(raw, ExperimentConfig, "$")
    if config is None:
        model: dict[str, Any] = raw["model"] if isinstance(raw.get("model"), dict) else {}
        for kind in BRICKS:  # report unknown brick names in the same pass
            name = model.get(kind)
            if isinstance(name, str):
                try:
                    registries[kind].get(name, f"[model] {kind}")
                except RegistryError as err:
                    problems.append(str(err))
        raise ConfigError(format_problems(problems, source))
    if not config.model.use_item_content and config.model.content != "id":
        config = attrs.evolve(config, model=attrs.evolve(config.model, content="id"))

    bricks: dict[str, BrickChoice] = {}
    for kind in BRICKS:
        name = getattr(config.model, kind)
        try:
            entry = registries[kind].get(name, f"[model] {kind}")
        except RegistryError as err:
            problems.append(str(err))
            continue
        options, more = structure(getattr(config.model, f"{kind}_options"), entry.obj.Options,
                                  f"$.model.{kind}_options")
        problems.extend(more)
        if options is not None:
            bricks[kind] = BrickChoice(entry=entry, options=options)

    metrics = []
    written: dict[str, Any] = {}  # what the file wrote -> the metric
    for key in config.train.metrics:
        try:
            metrics.append(parse_metric(key, registries, "[train] metrics"))
            written[key] = metrics[-1]
        except (ConfigError, RegistryError) as err:
            problems.append(str(err))
    monitor = config.train.monitor
    if monitor not in config.train.metrics and monitor not in [m.key for m in metrics]:
        problems.append(f"train.monitor = {monitor!r} is not one of train.metrics "
                        f"{config.train.metrics}; add it there or pick one of them @ $.train.monitor")
    else:  # results are keyed by the metric's key ("auc"), also when the file wrote "core:auc"
        chosen = written.get(monitor)
        if chosen is not None and chosen.key != monitor:
            config = attrs.evolve(config, train=attrs.evolve(config.train, monitor=chosen.key))
    if problems:
        raise ConfigError(format_problems(problems, source))
    try:
        check_compatibility(bricks, config, registries)
    except CompatibilityError as err:
        raise CompatibilityError(f"{source}: {err}") from None
    return ResolvedExperiment(config=config, bricks=bricks, metrics=metrics, source=source)


def check_compatibility(bricks: Mapping[str, BrickChoice], config: ExperimentConfig, registries: Registries) -> None:
    """Refuse bricks that cannot work together, saying which ones would fit."""
    content, behavior, predictor = (bricks[k].cls for k in BRICKS)
    task = config.model.task
    if task not in predictor.tasks:
        fitting = sorted(e.name for e in registries.predictor if task in e.obj.tasks)
        raise CompatibilityError(
            f"predictor {predictor.name!r} does not train the {task} task "
            f"({'neg_count = 0' if task == 'ranking' else f'neg_count = {config.model.neg_count}'}); "
            f"it supports {', '.join(sorted(predictor.tasks))}. Predictors for {task}: {', '.join(fitting)}."
        )
    if behavior.output != predictor.input:
        behaviors = sorted(e.name for e in registries.behavior if e.obj.output == predictor.input)
        predictors = sorted(e.name for e in registries.predictor if e.obj.input == behavior.output)
        raise CompatibilityError(
            f"behavior operator {behavior.name!r} produces a user {behavior.output} but predictor "
            f"{predictor.name!r} needs a user {predictor.input}. Behavior operators that fit "
            f"{predictor.name!r}: {', '.join(behaviors) or 'none installed'}; predictors that fit "
            f"{behavior.name!r}: {', '.join(predictors) or 'none installed'}."
        )
    if content.uses_content and not config.data.item_attributes:
        raise CompatibilityError(
            f"content operator {content.name!r} reads item attributes but data.item_attributes is empty; "
            'list some (e.g. item_attributes = ["title"]) or set model.use_item_content = false'
        )


def load_experiment(path: str | Path, registries: Registries, overrides: Sequence[str] = ()) -> ResolvedExperiment:
    path = Path(path)
    return resolve(load_toml(path), registries, source=str(path), base_dir=path.parent.resolve(),
                   overrides=overrides)
