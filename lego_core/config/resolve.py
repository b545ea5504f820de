"""From an experiment file to a checked, typed configuration.

Order: read the TOML, apply ``--set`` overrides, merge the preset under the
explicit keys, take out the plugin settings tables, structure the rest into
:class:`ExperimentConfig`, then structure each brick's options table into
that brick's ``Options`` class, the task's options into the task's, every
settings table into its plugin's settings class, and check that bricks and
task fit together. Every problem found on the way is collected and raised
once, each with its key path. Nothing here touches the disk beyond reading
the file: the depot is checked by :meth:`lego_core.experiment.Experiment.bind`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from lego_core.config.converter import format_problems, structure, unstructure
from lego_core.config.preset import PRESET, merge_under
from lego_core.config.schema import ExperimentConfig
from lego_core.config.settings import CORE_TABLES, SETTINGS, PluginSettings
from lego_core.config.toml_writer import dumps
from lego_core.config.tomlio import load_toml, parse_value
from lego_core.errors import CompatibilityError, ConfigError, PluginError, RegistryError
from lego_core.registry import Entry, Kind, Registries

MAX_CUTOFF = 1_000_000  # beyond any group's size; bigger numbers are typos (and overflow int64 arrays)
_METRIC = re.compile(r"^(?P<name>[A-Za-z_][\w:-]*?)(?:@(?P<k>\d+))?$")


def brick_kinds() -> dict[str, Kind[Any]]:
    """The three brick kinds by their ``[model]`` key (imported here: they bring torch)."""
    from lego_core.model.bricks import BEHAVIOR, CONTENT, PREDICTOR

    return {"content": CONTENT, "behavior": BEHAVIOR, "predictor": PREDICTOR}


BRICKS = ("content", "behavior", "predictor")


@attrs.frozen
class Choice:
    """A registry entry and its structured options (a brick, or the task)."""

    entry: Entry[Any]
    options: Any

    @property
    def cls(self) -> Any:
        return self.entry.obj


BrickChoice = Choice  # the name earlier versions used


@attrs.frozen
class ResolvedExperiment:
    """A checked experiment: typed config, chosen bricks and task, metric and settings objects."""

    config: ExperimentConfig
    bricks: Mapping[str, Choice]
    metrics: Sequence[Any]
    source: str
    task: Choice | None = None
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    settings_tables: Mapping[str, str] = attrs.field(factory=dict)  # settings name -> its table
    notes: tuple[str, ...] = ()  # what resolving changed on its own, written as comments by to_toml

    def to_dict(self, qualified: bool = False) -> dict[str, Any]:
        """The resolved experiment as TOML data; every plugin's settings under its own table.

        ``qualified``: bricks and task by their qualified names (``text:attention``), as a run
        directory stores them, so a plugin installed later that reuses a name cannot change them.
        """
        data: dict[str, Any] = unstructure(self.config)
        if qualified:
            for kind, choice in self.bricks.items():
                data["model"][kind] = choice.entry.qualified
            if self.task is not None:
                data["model"]["task"] = self.task.entry.qualified
        for name, settings in self.settings.items():
            table = self.settings_tables.get(name, f"plugins.{name}")
            node = data
            *parents, last = table.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = unstructure(settings)
        return data

    def to_toml(self, qualified: bool = False) -> str:
        notes = "".join(f"# note: {note}\n" for note in self.notes)
        return notes + ("\n" if notes else "") + dumps(self.to_dict(qualified))


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
            raise ConfigError(
                f"--set {item!r}: empty part in the key {key.strip()!r}; write dotted keys like model.hidden_size"
            )
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[: i + 1])} is a value, not a table")
            node = child
        node[parts[-1]] = parse_value(text.strip())
    return out


def parse_metric(key: str, registries: Registries, where: str) -> Any:
    from lego_core.metrics.base import METRIC

    match = _METRIC.match(key.strip())
    if not match:
        raise ConfigError(f"{where}: {key!r} is not a metric key; write name or name@k, e.g. ndcg@10")
    entry = registries[METRIC].get(match["name"], where)
    if match["k"] and not 1 <= int(match["k"]) <= MAX_CUTOFF:
        raise ConfigError(f"{where}: {key!r}: the cut-off must be between 1 and {MAX_CUTOFF:,}")
    try:
        return entry.obj(k=int(match["k"]) if match["k"] else None)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


def settings_tables(registries: Registries) -> dict[str, Entry[type[PluginSettings]]]:
    """Table name (``"log"``, ``"plugins.shout"``) -> settings entry; a clash names both plugins."""
    tables: dict[str, Entry[type[PluginSettings]]] = {}
    for entry in registries[SETTINGS]:
        table = entry.obj.where()
        if entry.obj.table is not None and entry.obj.table in CORE_TABLES:
            raise PluginError(
                f"plugin {entry.plugin!r} ({entry.distribution}) claims the table [{table}] for its "
                f"settings {entry.name!r}, but [{table}] belongs to lego-core; the plugin must "
                "use [plugins.NAME] or another name"
            )
        other = tables.get(table)
        if other is not None:
            raise PluginError(
                f"the table [{table}] is claimed by {other.distribution} ({other.qualified!r}) and by "
                f"{entry.distribution} ({entry.qualified!r}); uninstall one of them"
            )
        tables[table] = entry
    return tables


def _take_settings(
    raw: dict[str, Any], registries: Registries, problems: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Structure every settings table (defaults where absent); remove them from ``raw``."""
    tables = settings_tables(registries)
    plugin_tables = raw.pop("plugins", {})
    if not isinstance(plugin_tables, dict):
        problems.append(f"expected a table, got {type(plugin_tables).__name__} {plugin_tables!r} @ $.plugins")
        plugin_tables = {}
    settings: dict[str, Any] = {}
    where: dict[str, str] = {}
    for table, entry in tables.items():
        if entry.obj.table is not None:
            data = raw.pop(table, {})
        else:
            data = plugin_tables.pop(entry.name, {})
        obj, more = structure(data, entry.obj, f"$.{table}")
        problems.extend(more)
        if obj is not None:
            settings[entry.name] = obj
            where[entry.name] = table
    known = sorted(e.name for e in tables.values() if e.obj.table is None)
    for name in sorted(plugin_tables):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        problems.append(
            f"no installed plugin has settings named {name!r} "
            f"(known: {', '.join(known) or 'none'}).{hint} Install the plugin that reads it, "
            f"or remove the table @ $.plugins.{name}"
        )
    return settings, where


def _brick_names_problems(raw: Mapping[str, Any], registries: Registries) -> list[str]:
    model: dict[str, Any] = raw["model"] if isinstance(raw.get("model"), dict) else {}
    problems = []
    for kind, brick_kind in brick_kinds().items():  # report unknown brick names in the same pass
        name = model.get(kind)
        if isinstance(name, str):
            try:
                registries[brick_kind].get(name, f"[model] {kind}")
            except RegistryError as err:
                problems.append(str(err))
    return problems


def _apply_preset(raw: dict[str, Any], registries: Registries, source: str) -> dict[str, Any]:
    preset_name = (raw.get("model") or {}).get("preset") if isinstance(raw.get("model"), dict) else None
    if not preset_name or not isinstance(preset_name, str):  # another type is reported by structure()
        return raw
    preset = registries[PRESET].get(preset_name, f"{source} [model] preset").obj
    missing = preset.missing()
    if missing:
        raise ConfigError(
            f"{source} [model] preset = {preset_name!r} needs {', '.join(missing)}, which is not "
            f"installed: {preset.install_hint()}"
        )
    return merge_under(preset.tables, raw)


def _without_item_content(config: ExperimentConfig) -> tuple[ExperimentConfig, tuple[str, ...]]:
    """``use_item_content = false``: the ID table replaces the content operator, whose options go with it.

    The options belong to the operator that is no longer used (a preset's ``attention_dim`` ...), so
    they are dropped, not handed to the ID table, and a note says so. Options for the ID table itself
    (``pretrained``) need ``content = "id"`` written out, which keeps them.
    """
    model = config.model
    if model.use_item_content or model.content == "id":
        return config, ()
    note = f'model.use_item_content = false: the content operator {model.content!r} is replaced by "id"'
    if model.content_options:
        note += (
            f"; its content_options ({', '.join(sorted(model.content_options))}) are dropped "
            '(options for the ID table need model.content = "id")'
        )
    return attrs.evolve(config, model=attrs.evolve(model, content="id", content_options={})), (note,)


def _monitor_first_metric(raw: dict[str, Any]) -> dict[str, Any]:
    """``train.monitor`` defaults to the first of ``train.metrics`` when only the metrics are set.

    With neither set the schema's defaults hold (``gauc``, which the default metrics include).
    A CTR experiment writing ``metrics = ["auc", "logloss"]`` then monitors AUC instead of
    failing on a ``gauc`` it never asked for.
    """
    train = raw.get("train")
    if isinstance(train, dict) and "monitor" not in train:
        metrics = train.get("metrics")
        if isinstance(metrics, list) and metrics and isinstance(metrics[0], str):
            raw = {**raw, "train": {**train, "monitor": metrics[0]}}
    return raw


def resolve(
    data: Mapping[str, Any],
    registries: Registries,
    *,
    source: str = "experiment",
    base_dir: Path | None = None,
    overrides: Sequence[str] = (),
) -> ResolvedExperiment:
    """Turn raw TOML data into a :class:`ResolvedExperiment` or raise one :class:`ConfigError`."""
    from lego_core.engine.task import TASK

    raw = _monitor_first_metric(_apply_preset(apply_overrides(dict(data), overrides), registries, source))
    raw.pop("sweep", None)  # the table of `lego sweep` (lego_core.study); a single run is its base point
    if base_dir is not None and isinstance(raw.get("data"), dict) and isinstance(raw["data"].get("path"), str):
        path = Path(raw["data"]["path"]).expanduser()
        raw["data"]["path"] = str(path if path.is_absolute() else (base_dir / path).resolve())
    problems: list[str] = []
    settings, where = _take_settings(raw, registries, problems)
    config, more = structure(raw, ExperimentConfig, "$")
    problems.extend(more)
    if config is None:
        raise ConfigError(format_problems(problems + _brick_names_problems(raw, registries), source))
    config, notes = _without_item_content(config)

    bricks: dict[str, Choice] = {}
    for kind, brick_kind in brick_kinds().items():
        name = getattr(config.model, kind)
        try:
            entry = registries[brick_kind].get(name, f"[model] {kind}")
        except RegistryError as err:
            problems.append(str(err))
            continue
        options, more = structure(
            getattr(config.model, f"{kind}_options"), entry.obj.Options, f"$.model.{kind}_options"
        )
        problems.extend(more)
        if options is not None:
            bricks[kind] = Choice(entry=entry, options=options)

    task: Choice | None = None
    task_name = config.model.task
    if task_name == "auto":
        task_name = "matching" if config.model.neg_count > 0 else "ranking"
    try:
        task_entry = registries[TASK].get(task_name, "[model] task")
    except RegistryError as err:
        problems.append(str(err))
    else:
        options, more = structure(config.model.task_options, task_entry.obj.Options, "$.model.task_options")
        problems.extend(more)
        problem = task_entry.obj.problem(config.model.neg_count)
        if problem:
            problems.append(f"{problem} @ $.model.neg_count")
        if options is not None:
            task = Choice(entry=task_entry, options=options)
            config = attrs.evolve(config, model=attrs.evolve(config.model, task=task_entry.name))

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
        problems.append(
            f"train.monitor = {monitor!r} is not one of train.metrics "
            f"{config.train.metrics}; add it there or pick one of them @ $.train.monitor"
        )
    else:  # results are keyed by the metric's key ("auc"), also when the file wrote "core:auc"
        chosen = written.get(monitor)
        if chosen is not None and chosen.key != monitor:
            config = attrs.evolve(config, train=attrs.evolve(config.train, monitor=chosen.key))
    if problems:
        raise ConfigError(format_problems(problems, source))
    assert task is not None
    try:
        check_compatibility(bricks, task, config, registries)
    except CompatibilityError as err:
        raise CompatibilityError(f"{source}: {err}") from None
    return ResolvedExperiment(
        config=config,
        bricks=bricks,
        metrics=metrics,
        source=source,
        task=task,
        settings=settings,
        settings_tables=where,
        notes=notes,
    )


def _fits(task: Any, predictor: Any) -> bool:
    return task.name in predictor.tasks or task.like in predictor.tasks


def check_compatibility(
    bricks: Mapping[str, Choice], task: Choice, config: ExperimentConfig, registries: Registries
) -> None:
    """Refuse bricks and a task that cannot work together, saying which ones would fit."""
    from lego_core.engine.task import TASK

    content, behavior, predictor = (bricks[k].cls for k in BRICKS)
    kinds = brick_kinds()
    if not _fits(task.cls, predictor):
        fitting = sorted(e.name for e in registries[kinds["predictor"]] if _fits(task.cls, e.obj))
        tasks = sorted(e.name for e in registries[TASK] if _fits(e.obj, predictor))
        raise CompatibilityError(
            f"predictor {predictor.name!r} does not train the {task.cls.name} task "
            f"(model.task = {config.model.task!r}, neg_count = {config.model.neg_count}); it trains "
            f"{', '.join(tasks) or 'no installed task'}. Predictors for {task.cls.name}: {', '.join(fitting)}."
        )
    if behavior.output != predictor.input:
        behaviors = sorted(e.name for e in registries[kinds["behavior"]] if e.obj.output == predictor.input)
        predictors = sorted(e.name for e in registries[kinds["predictor"]] if e.obj.input == behavior.output)
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
    return resolve(load_toml(path), registries, source=str(path), base_dir=path.parent.resolve(), overrides=overrides)
