"""The search space of a sweep and the cells it expands to.

A sweep varies config keys of one experiment. Values come from the
``[sweep]`` table of the experiment file, the command line, or both (the
command line wins key by key)::

    [sweep]
    seeds = 3                      # train.seed, train.seed + 1, train.seed + 2; or a list [1, 7, 9]
    jobs = 2                       # worker processes
    samples = 0                    # 0: the grid's product; K > 0: random search, K points
    search_seed = 0                # the random search's own seed

    [sweep.grid]                   # dotted keys, quoted or not
    model.hidden_size = [32, 64]
    "train.lr" = [0.001, 0.003]

    [sweep.range]                  # random search only
    "train.lr" = {low = 1e-4, high = 1e-2, log = true}
    "model.hidden_size" = {low = 16, high = 128}      # integer bounds: a uniform integer

    lego sweep exp.toml --grid model.hidden_size=32,64 --seeds 3
    lego sweep exp.toml --range train.lr=1e-4:1e-2:log --samples 8

Without ``samples`` the cells are the product of the grid's values (in the
order written), times the seeds. With ``samples = K`` each of K points draws
every grid key uniformly from its values and every range key from its range
(log-uniform with ``log``; floats kept to 4 significant digits, so names stay
short), with ``numpy.random.default_rng(search_seed)``: the same command
draws the same points, which is what lets a killed random search resume.
Points drawn twice are kept once.

A cell's name (its directory in the sweep) spells its values:
``hidden_size=32,lr=0.001,seed=2024``, with the full dotted key where two
keys end alike, and a hash where the name would be long.

Example:
    >>> space = SearchSpace(grid={"model.hidden_size": [32, 64], "train.lr": [0.001]}, seeds=(1, 2))
    >>> [c.name for c in space.cells()]
    ['hidden_size=32,lr=0.001,seed=1', 'hidden_size=32,lr=0.001,seed=2', 'hidden_size=64,lr=0.001,seed=1', \
'hidden_size=64,lr=0.001,seed=2']
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from lego_core.config.tomlio import parse_value
from lego_core.errors import ConfigError

SEED_KEY = "train.seed"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+@-]")
MAX_NAME = 100
SWEEP_KEYS = ("grid", "range", "seeds", "samples", "search_seed", "jobs")


@attrs.frozen
class Range:
    """``low..high`` for random search: uniform, log-uniform, or uniform over integers."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: np.random.Generator) -> Any:
        if self.integer:
            if self.log:
                return int(round(math.exp(rng.uniform(math.log(self.low), math.log(self.high)))))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        value = (
            math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
            if self.log
            else rng.uniform(self.low, self.high)
        )
        return float(f"{value:.4g}")


@attrs.frozen
class Cell:
    """One run of a sweep: its values (dotted key -> value, ``train.seed`` last) and directory name."""

    name: str
    values: Mapping[str, Any]

    @property
    def seed(self) -> int:
        return int(self.values[SEED_KEY])


@attrs.frozen
class SearchSpace:
    """What a sweep varies.

    Args:
        grid: dotted key -> values (the product, or choices drawn by random search).
        ranges: dotted key -> :class:`Range` (random search only).
        seeds: the seeds every point runs with.
        samples: 0 for the grid's product, K > 0 for K random points.
        search_seed: the seed of the random search.
    """

    grid: Mapping[str, Sequence[Any]] = attrs.field(factory=dict)
    ranges: Mapping[str, Range] = attrs.field(factory=dict)
    seeds: tuple[int, ...] = (0,)
    samples: int = 0
    search_seed: int = 0

    def points(self) -> list[dict[str, Any]]:
        """The distinct points (key -> value), before seeds."""
        if not self.samples:
            keys = list(self.grid)
            return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]
        rng = np.random.default_rng(self.search_seed)
        found: dict[str, dict[str, Any]] = {}
        for _ in range(self.samples):
            point: dict[str, Any] = {}
            for key, values in self.grid.items():
                point[key] = values[int(rng.integers(len(values)))]
            for key, spec in self.ranges.items():
                point[key] = spec.draw(rng)
            found.setdefault(json.dumps(point, sort_keys=True, default=str), point)
        return list(found.values())

    def cells(self) -> list[Cell]:
        keys = [*self.grid, *self.ranges]
        short = _short_names(keys)
        cells, names = [], set()
        for point in self.points():
            for seed in self.seeds:
                values = {**point, SEED_KEY: seed}
                name = cell_name({short[k]: v for k, v in point.items()} | {"seed": seed})
                if name in names:  # two values spelled alike after cleaning: keep both apart
                    name = f"{name[: MAX_NAME - 9]}-{_digest(values)}"
                names.add(name)
                cells.append(Cell(name=name, values=values))
        return cells

    def describe(self) -> dict[str, Any]:
        """Plain data for ``sweep.json``."""
        return {
            "grid": {k: list(v) for k, v in self.grid.items()},
            "ranges": {k: attrs.asdict(r) for k, r in self.ranges.items()},
            "seeds": list(self.seeds),
            "samples": self.samples,
            "search_seed": self.search_seed,
        }


def _digest(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each key by its last part, unless another key ends the same way."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def _spell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def cell_name(values: Mapping[str, Any]) -> str:
    """``key=value,key=value``, cleaned for a file name, with a hash when longer than 100 characters."""
    name = _UNSAFE.sub("_", ",".join(f"{k}={_spell(v)}" for k, v in values.items()))
    if len(name) > MAX_NAME:
        name = f"{name[: MAX_NAME - 9]}-{_digest(dict(values))}"
    return name


# ------------------------------------------------------------------ reading it from a file and the command line


def _flatten(table: Any, prefix: str, leaf: Any, where: str, problems: list[str]) -> dict[str, Any]:
    """Dotted keys of a nested table down to the values ``leaf(value)`` accepts."""
    out: dict[str, Any] = {}
    if not isinstance(table, dict):
        problems.append(f"expected a table, got {type(table).__name__} {table!r} @ {where}")
        return out
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not leaf(value):
            out.update(_flatten(value, dotted, leaf, where, problems))
        else:
            out[dotted] = value
    return out


def _range_of(key: str, spec: Any, where: str, problems: list[str]) -> Range | None:
    if not isinstance(spec, dict) or not {"low", "high"} <= set(spec) or set(spec) - {"low", "high", "log"}:
        problems.append(
            f"{key}: a range is a table {{low = ..., high = ...}} with an optional log = true, got {spec!r} @ {where}"
        )
        return None
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (low, high)) or not isinstance(
        log, bool
    ):
        problems.append(f"{key}: low and high must be numbers and log a boolean, got {spec!r} @ {where}")
        return None
    if not low < high or (log and low <= 0):
        problems.append(f"{key}: needs low < high{' and low > 0 (log)' if log else ''}, got {spec!r} @ {where}")
        return None
    return Range(low=low, high=high, log=log, integer=isinstance(low, int) and isinstance(high, int))


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """``--grid KEY=V1,V2`` (each value read as TOML, bare words as strings) or ``KEY=[v1, v2]``."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise ConfigError(f"--grid {text!r}: expected KEY=V1,V2,..., e.g. --grid model.hidden_size=32,64")
    values = values.strip()
    if values.startswith("["):
        parsed = parse_value(values)
        if not isinstance(parsed, list):
            raise ConfigError(f"--grid {text!r}: {values!r} is not a TOML array")
        return key, parsed
    return key, [parse_value(v.strip()) for v in values.split(",")]


def parse_range_option(text: str) -> tuple[str, dict[str, Any]]:
    """``--range KEY=LOW:HIGH`` or ``KEY=LOW:HIGH:log``."""
    key, sep, spec = text.partition("=")
    parts = spec.strip().split(":")
    if not sep or not key.strip() or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
        raise ConfigError(
            f"--range {text!r}: expected KEY=LOW:HIGH or KEY=LOW:HIGH:log, e.g. --range train.lr=1e-4:1e-2:log"
        )
    low, high = (parse_value(p.strip()) for p in parts[:2])
    return key.strip(), {"low": low, "high": high, "log": len(parts) == 3}


def search_space(
    table: Mapping[str, Any],
    *,
    base_seed: int,
    grid: Sequence[str] = (),
    ranges: Sequence[str] = (),
    seeds: str | None = None,
    samples: int | None = None,
    search_seed: int | None = None,
    source: str = "experiment",
) -> SearchSpace:
    """The space from a ``[sweep]`` table and command-line options (which win key by key).

    Every problem is collected and raised once, as a :class:`~lego_core.errors.ConfigError`.
    """
    problems: list[str] = []
    unknown = sorted(set(table) - set(SWEEP_KEYS))
    if unknown:
        problems.append(f"unknown key {', '.join(map(repr, unknown))}; known keys: {', '.join(SWEEP_KEYS)} @ $.sweep")
    values = _flatten(table.get("grid", {}), "", lambda v: False, "$.sweep.grid", problems)
    for key, listed in values.items():
        if not isinstance(listed, list) or not listed:
            problems.append(f"{key}: expected a non-empty list of values, got {listed!r} @ $.sweep.grid")
    for option in grid:
        try:
            key, listed = parse_grid_option(option)
        except ConfigError as err:
            problems.append(str(err))
            continue
        values[key] = listed
    raw_ranges = _flatten(table.get("range", {}), "", lambda v: "low" in v, "$.sweep.range", problems)
    for option in ranges:
        try:
            key, spec = parse_range_option(option)
        except ConfigError as err:
            problems.append(str(err))
            continue
        raw_ranges[key] = spec
    parsed_ranges = {k: r for k, spec in raw_ranges.items() if (r := _range_of(k, spec, "$.sweep.range", problems))}
    both = sorted(set(values) & set(raw_ranges))
    if both:
        problems.append(f"{', '.join(both)}: given both values (grid) and a range; keep one")
    if SEED_KEY in values or SEED_KEY in raw_ranges:
        problems.append(f"{SEED_KEY} is not swept with --grid or --range; use --seeds N (or [sweep] seeds)")

    chosen_samples = table.get("samples", 0) if samples is None else samples
    if not isinstance(chosen_samples, int) or isinstance(chosen_samples, bool) or chosen_samples < 0:
        problems.append(f"samples must be a whole number >= 0, got {chosen_samples!r} @ $.sweep.samples")
        chosen_samples = 0
    if raw_ranges and not chosen_samples:
        problems.append(
            f"{', '.join(sorted(raw_ranges))}: a range is drawn by random search; add --samples K "
            "(or [sweep] samples = K)"
        )
    chosen_search_seed = table.get("search_seed", 0) if search_seed is None else search_seed
    if not isinstance(chosen_search_seed, int) or isinstance(chosen_search_seed, bool):
        problems.append(f"search_seed must be an integer, got {chosen_search_seed!r} @ $.sweep.search_seed")
        chosen_search_seed = 0
    seed_list = _seeds(table.get("seeds", 1) if seeds is None else seeds, base_seed, problems)
    if problems:
        raise ConfigError(
            f"{source} [sweep]: "
            + (problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n  - " + "\n  - ".join(problems))
        )
    return SearchSpace(
        grid=values, ranges=parsed_ranges, seeds=seed_list, samples=chosen_samples, search_seed=chosen_search_seed
    )


def _seeds(value: Any, base_seed: int, problems: list[str]) -> tuple[int, ...]:
    """``N`` -> the base seed and the N - 1 after it; ``"1,2"`` or ``[1, 2]`` -> those seeds."""
    if isinstance(value, str):
        parsed = [parse_value(v.strip()) for v in value.split(",")]
        value = parsed[0] if len(parsed) == 1 else parsed
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            problems.append(f"seeds must be at least 1, got {value} @ $.sweep.seeds")
            return (base_seed,)
        return tuple(base_seed + i for i in range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        if len(set(value)) != len(value):
            problems.append(f"seeds lists a seed twice: {value} @ $.sweep.seeds")
        return tuple(value)
    problems.append(f"seeds is a count (3) or a list of integers ([1, 2, 3]), got {value!r} @ $.sweep.seeds")
    return (base_seed,)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``data[a][b][c] = value`` for ``"a.b.c"``, creating tables on the way."""
    node = data
    *parents, last = key.split(".")
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {'.'.join(parents[: i + 1])} is a value, not a table")
        node = child
    node[last] = value
