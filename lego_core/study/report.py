"""``lego report``: one table over many runs, grouped by the config keys that differ.

Runs are grouped by every resolved config key whose value differs between
them, except the seed (runs that differ only in ``train.seed`` are replicates)
and the keys that do not change what a run computes (threads, device, caches,
evaluation batch size, checkpointing, the cold-start report, ``[log]``, the
depot's path). Each metric of a split (``test`` by default) is shown per group
as mean ± std over its runs with a 95% bootstrap interval of the mean
(:mod:`lego_core.study.stats`); the best group of each column is marked,
following the metric's direction (``logloss``: lower is better).

Outputs: a rich table (the terminal), Markdown, CSV and JSON
(:meth:`Report.markdown`, :meth:`Report.csv`, :meth:`Report.to_dict`).
Unfinished runs (no ``results.json``) are listed, not averaged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from rich.markup import escape
from rich.table import Table

from lego_core.study.runs import RunRecord
from lego_core.study.space import cell_name
from lego_core.study.stats import Summary, summarise

# keys that never make two runs different studies
NOT_COMPARED = (
    "train.seed",
    "train.threads",
    "train.device",
    "train.eval_batch_size",
    "train.cache",
    "train.checkpoint_every",
    "train.cold_start",
    "train.history_buckets",
    "data.path",
    "log",
)


def _compared(key: str) -> bool:
    return not any(key == k or key.startswith(k + ".") for k in NOT_COMPARED)


def _same(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def differing_keys(runs: Sequence[RunRecord]) -> list[str]:
    """The compared config keys whose values are not the same in every run, in config order."""
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run.config if k not in keys)
    return [k for k in keys if _compared(k) and len({_same(r.config.get(k, "<unset>")) for r in runs}) > 1]


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each key by its last part (``hidden_size``) unless two keys end alike."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


@attrs.frozen
class Group:
    """The runs sharing one value of every differing key, and their metric summaries."""

    values: Mapping[str, Any]
    runs: tuple[RunRecord, ...]
    summaries: Mapping[str, Summary]

    @property
    def label(self) -> str:
        short = short_names(list(self.values))
        return cell_name({short[k]: v for k, v in self.values.items()}) if self.values else "all runs"


@attrs.frozen
class Report:
    """Groups of finished runs with one summary per metric, the best group of each marked.

    Args:
        keys: the differing config keys (the group columns).
        groups: one per distinct combination of their values, sorted by them (numbers as numbers).
        metrics: the metric columns.
        split: the split (and ``part``, a cold-start part) the metrics come from.
        higher_is_better: per metric (unknown metrics: True).
        unfinished: run directories without results.
    """

    keys: tuple[str, ...]
    groups: tuple[Group, ...]
    metrics: tuple[str, ...]
    split: str
    part: str | None
    higher_is_better: Mapping[str, bool]
    unfinished: tuple[str, ...] = ()

    def best(self, metric: str) -> set[int]:
        """Indices of the groups with the best mean (ties: all of them)."""
        means = [g.summaries[metric].mean for g in self.groups if g.summaries[metric].n]
        if not means:
            return set()
        target = max(means) if self.higher_is_better.get(metric, True) else min(means)
        return {i for i, g in enumerate(self.groups) if g.summaries[metric].n and g.summaries[metric].mean == target}

    @property
    def title(self) -> str:
        runs = sum(len(g.runs) for g in self.groups)
        where = f"{self.split}" + (f", {self.part} part" if self.part else "")
        return f"{where}: {runs} runs in {len(self.groups)} groups (mean ± std, 95% bootstrap interval)"

    # ------------------------------------------------------------------ outputs
    def table(self) -> Table:
        """The rich table: one row per group, the best cell of each metric in bold with a ``*``."""
        table = Table(title=escape(self.title))
        short = short_names(self.keys)
        for key in self.keys:
            table.add_column(escape(short[key]), overflow="fold")
        table.add_column("runs", justify="right")
        for metric in self.metrics:
            arrow = "↑" if self.higher_is_better.get(metric, True) else "↓"
            table.add_column(escape(f"{metric} {arrow}"), justify="right", no_wrap=True)
        best = {m: self.best(m) for m in self.metrics}
        for i, group in enumerate(self.groups):
            cells = [escape(_spell(group.values[k])) for k in self.keys] + [str(len(group.runs))]
            for metric in self.metrics:
                text = _mean_std(group.summaries[metric])
                interval = _interval(group.summaries[metric])
                cell = f"[bold]{text} *[/bold]" if i in best[metric] else text
                cells.append(cell + (f"\n[dim]{interval}[/dim]" if interval else ""))
            table.add_row(*cells)
        return table

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table; the best cell of each metric in bold."""
        short = short_names(self.keys)
        head = (
            [short[k] for k in self.keys]
            + ["runs"]
            + [f"{m} {'↑' if self.higher_is_better.get(m, True) else '↓'}" for m in self.metrics]
        )
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(head) + " |",
            "| " + " | ".join(["---"] * len(self.keys) + ["---:"] * (1 + len(self.metrics))) + " |",
        ]
        best = {m: self.best(m) for m in self.metrics}
        for i, group in enumerate(self.groups):
            cells = [_spell(group.values[k]) for k in self.keys] + [str(len(group.runs))]
            for metric in self.metrics:
                summary = group.summaries[metric]
                text = _mean_std(summary) + (f" {_interval(summary)}" if _interval(summary) else "")
                cells.append(f"**{text}**" if i in best[metric] else text)
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if self.unfinished:
            lines += ["", f"Unfinished (not averaged): {', '.join(self.unfinished)}"]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        """One row per group: the keys (full names), runs, then mean, std, low, high, best per metric."""
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        columns = [*self.keys, "runs"]
        for metric in self.metrics:
            columns += [f"{metric}_mean", f"{metric}_std", f"{metric}_ci_low", f"{metric}_ci_high", f"{metric}_best"]
        writer.writerow(columns)
        best = {m: self.best(m) for m in self.metrics}
        for i, group in enumerate(self.groups):
            row: list[Any] = [_spell(group.values[k]) for k in self.keys] + [len(group.runs)]
            for metric in self.metrics:
                s = group.summaries[metric]
                row += [_number(s.mean), _number(s.std), _number(s.low), _number(s.high), i in best[metric]]
            writer.writerow(row)
        return out.getvalue()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every group with its runs (paths) and per-metric summaries, and the best groups."""
        return {
            "split": self.split,
            "part": self.part,
            "keys": list(self.keys),
            "metrics": list(self.metrics),
            "higher_is_better": dict(self.higher_is_better),
            "groups": [
                {
                    "values": dict(g.values),
                    "runs": [str(r.path) for r in g.runs],
                    "metrics": {
                        m: {
                            "mean": _number(s.mean),
                            "std": _number(s.std),
                            "ci_low": _number(s.low),
                            "ci_high": _number(s.high),
                            "n": s.n,
                            "values": list(s.values),
                        }
                        for m, s in g.summaries.items()
                    },
                }
                for g in self.groups
            ],
            "best": {m: sorted(self.best(m)) for m in self.metrics},
            "unfinished": list(self.unfinished),
        }


def _number(value: float | None) -> float | None:
    return None if value is None or value != value else value


def _spell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _mean_std(s: Summary) -> str:
    if not s.n:
        return "-"
    return f"{s.mean:.4f}" + (f" ± {s.std:.4f}" if s.std is not None else "")


def _interval(s: Summary) -> str:
    return f"[{s.low:.4f}, {s.high:.4f}]" if s.n > 1 else ""


def _natural(value: Any) -> tuple[int, Any]:
    """Sort numbers as numbers (8 before 16), before anything else, which sorts as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, _spell(value))


def default_split(runs: Sequence[RunRecord]) -> str:
    """``test`` when the runs have it, else the last split of the first run."""
    splits = [s for s in (runs[0].results or {}) if s not in ("run", "timing", "cold_start")] if runs else []
    return "test" if "test" in splits or not splits else splits[-1]


def build_report(
    runs: Sequence[RunRecord],
    *,
    split: str | None = None,
    part: str | None = None,
    metrics: Sequence[str] | None = None,
    higher_is_better: Mapping[str, bool] | None = None,
) -> Report:
    """Group the finished runs and summarise each metric of ``split`` (and cold-start ``part``)."""
    from lego_core.errors import LegoError

    finished = [r for r in runs if r.finished]
    unfinished = tuple(str(r.path) for r in runs if not r.finished)
    if not finished:
        raise LegoError("no finished run to report on (no results.json): " + (", ".join(unfinished) or "nothing given"))
    split = split or default_split(finished)
    without = [str(r.path) for r in finished if not r.metrics(split, part)]
    if without:
        what = f"split {split!r}" + (f" (part {part!r})" if part else "")
        raise LegoError(
            f"{len(without)} runs have no {what} in results.json, e.g. {without[0]}; "
            "pick one with --split (and --part: cold, warm, history:LABEL)"
        )
    available: list[str] = []
    for run in finished:
        available.extend(k for k in run.metrics(split, part) if k not in available)
    if metrics:
        unknown = [m for m in metrics if m not in available]
        if unknown:
            raise LegoError(
                f"--metrics: {', '.join(unknown)} not in the runs' results; they have {', '.join(available)}"
            )
        chosen = list(metrics)
    else:
        chosen = available
    keys = differing_keys(finished)
    grouped: dict[str, list[RunRecord]] = {}
    values: dict[str, dict[str, Any]] = {}
    for run in finished:
        point = {k: run.config.get(k) for k in keys}
        identity = _same(point)
        grouped.setdefault(identity, []).append(run)
        values.setdefault(identity, point)
    ordered = sorted(grouped, key=lambda identity: [_natural(values[identity][k]) for k in keys])
    groups = tuple(
        Group(
            values=values[identity],
            runs=tuple(grouped[identity]),
            summaries={m: summarise([r.metrics(split, part).get(m) for r in grouped[identity]]) for m in chosen},
        )
        for identity in ordered
    )
    return Report(
        keys=tuple(keys),
        groups=groups,
        metrics=tuple(chosen),
        split=split,
        part=part,
        higher_is_better={m: (higher_is_better or {}).get(m, True) for m in chosen},
        unfinished=unfinished,
    )


def metric_directions(metrics: Sequence[str], registries: Any) -> dict[str, bool]:
    """``higher_is_better`` of each metric key from the installed metrics (unknown ones: True)."""
    from lego_core.config.resolve import parse_metric
    from lego_core.errors import LegoError

    out = {}
    for key in metrics:
        try:
            out[key] = bool(parse_metric(key, registries, "report").higher_is_better)
        except LegoError:  # a metric of a plugin that is not installed here
            out[key] = True
    return out
