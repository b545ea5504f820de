"""The experiment file's schema: ``[data]``, ``[model]``, ``[train]`` (plugins' tables: ``config.settings``).

Each field carries its documentation in ``metadata["doc"]`` (the reference in
docs/config.md is checked against it). Brick options (``content_options``
...) stay plain tables here; :mod:`lego_core.config.resolve` structures them
into the chosen brick's own ``Options`` class.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
from attrs import validators as v


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


def _finite(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite number, got {value!r}")


def _increasing(name: str, values: list[int]) -> None:
    if any(not isinstance(x, int) or x < 1 for x in values) or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"{name} must be increasing positive integers, e.g. [1, 5, 10, 20, 50]; got {values!r}")


positive = v.gt(0)
non_negative = v.ge(0)
positive_float = [_finite, v.gt(0.0)]
non_negative_float = [_finite, v.ge(0.0)]
# numpy's and torch's generators both take seeds in 0 .. 2**32 - 1 (a negative seed is an error in numpy)
seed_range = [v.ge(0), v.lt(2**32)]


@attrs.define(kw_only=True, frozen=True)
class DataConfig:
    path: str = attrs.field(
        metadata=_doc(
            "A depot written by `lego data prepare` or `lego data synth`; relative paths are read from the experiment "
            "file's folder."
        )
    )
    item_attributes: list[str] = attrs.field(
        factory=list, metadata=_doc("Item columns the content operator reads (text and categorical).")
    )
    user_attributes: list[str] = attrs.field(
        factory=list, metadata=_doc("Categorical user columns made available to bricks (and to `model.user_fields`).")
    )
    group_by: str = attrs.field(
        default="impression",
        validator=v.in_(["impression", "user"]),
        metadata=_doc('How grouped metrics group pairs: "impression" (MIND protocol) or "user".'),
    )
    max_history: int = attrs.field(
        default=50, validator=positive, metadata=_doc("Most recent history items kept per user.")
    )
    max_length: int = attrs.field(default=32, validator=positive, metadata=_doc("Tokens kept per text attribute."))
    max_lengths: dict[str, int] = attrs.field(
        factory=dict, metadata=_doc("Per-attribute override of max_length, e.g. {abstract = 64}.")
    )


@attrs.define(kw_only=True, frozen=True)
class ModelConfig:
    preset: str | None = attrs.field(
        default=None, metadata=_doc("A named recipe (`lego list preset`); keys set here override it.")
    )
    content: str = attrs.field(default="id", metadata=_doc('Content operator by name or "plugin:name".'))
    behavior: str = attrs.field(default="mean", metadata=_doc("Behavior operator by name."))
    predictor: str = attrs.field(default="dot", metadata=_doc("Predictor by name."))
    use_item_content: bool = attrs.field(
        default=True,
        metadata=_doc(
            'false replaces the content operator by the ID embedding table ("id"), dropping the replaced operator\'s '
            "content_options (a note in the resolved config says so)."
        ),
    )
    hidden_size: int = attrs.field(default=64, validator=positive, metadata=_doc("Size D of item and user vectors."))
    neg_count: int = attrs.field(
        default=4,
        validator=non_negative,
        metadata=_doc("Negatives per positive in matching; 0 trains ranking (binary cross-entropy)."),
    )
    task: str = attrs.field(
        default="auto",
        metadata=_doc(
            'The task (`lego list task`): "matching", "ranking", "pairwise" or a plugin\'s; "auto" is matching when '
            "neg_count > 0, else ranking."
        ),
    )
    task_options: dict[str, Any] = attrs.field(
        factory=dict, metadata=_doc("Options of the task (its own Options class).")
    )
    item_page_size: int = attrs.field(
        default=1024, validator=positive, metadata=_doc("Items encoded per content-operator call (bounds memory).")
    )
    item_fields: list[str] = attrs.field(
        factory=list,
        metadata=_doc("Categorical item columns fed to the predictor as fields of their own (CTR models)."),
    )
    user_fields: list[str] = attrs.field(
        factory=list, metadata=_doc("Categorical user columns fed to the predictor as fields.")
    )
    content_options: dict[str, Any] = attrs.field(
        factory=dict, metadata=_doc("Options of the content operator (its own Options class).")
    )
    behavior_options: dict[str, Any] = attrs.field(factory=dict, metadata=_doc("Options of the behavior operator."))
    predictor_options: dict[str, Any] = attrs.field(factory=dict, metadata=_doc("Options of the predictor."))


@attrs.define(kw_only=True, frozen=True)
class TrainConfig:
    epochs: int = attrs.field(
        default=5, validator=non_negative, metadata=_doc("Training epochs (0 evaluates the untrained model).")
    )
    batch_size: int = attrs.field(
        default=64, validator=positive, metadata=_doc("Positives (matching) or pairs (ranking) per step.")
    )
    eval_batch_size: int = attrs.field(default=512, validator=positive, metadata=_doc("Users per evaluation step."))
    lr: float = attrs.field(default=1e-3, validator=positive_float, metadata=_doc("AdamW learning rate."))
    content_lr: float | None = attrs.field(
        default=None,
        validator=v.optional([_finite, v.gt(0.0)]),
        metadata=_doc("Separate learning rate for the content operator (language models want a smaller one)."),
    )
    weight_decay: float = attrs.field(default=0.0, validator=non_negative_float, metadata=_doc("AdamW weight decay."))
    warmup_steps: int = attrs.field(
        default=0, validator=non_negative, metadata=_doc("Linear learning-rate warm-up steps.")
    )
    grad_clip: float = attrs.field(
        default=0.0, validator=non_negative_float, metadata=_doc("Clip the gradient norm to this (0 disables).")
    )
    metrics: list[str] = attrs.field(
        factory=lambda: ["auc", "gauc", "mrr", "ndcg@5", "ndcg@10"],
        metadata=_doc("Metrics to report (`lego list metric`); cut-offs as name@k."),
    )
    monitor: str = attrs.field(
        default="gauc",
        metadata=_doc(
            "Validation metric for the best checkpoint and early stopping; unset, the first of `metrics` when those "
            "are set, else gauc."
        ),
    )
    patience: int = attrs.field(
        default=0,
        validator=non_negative,
        metadata=_doc("Stop after this many epochs without improvement (0 never stops early)."),
    )
    seed: int = attrs.field(
        default=2023, validator=seed_range, metadata=_doc("Seed of everything random: init, sampling, order.")
    )
    device: str = attrs.field(default="auto", metadata=_doc('"cpu", "cuda", "cuda:1" or "auto" (CUDA when available).'))
    cache: bool = attrs.field(
        default=True, metadata=_doc("Evaluate with item and user caches (every item and user encoded once).")
    )
    threads: int = attrs.field(
        default=0,
        validator=non_negative,
        metadata=_doc(
            "CPU threads torch may use (0: torch's default). On a busy machine 1 is often fastest; this is "
            "process-wide."
        ),
    )
    keep_freed_memory: bool = attrs.field(
        default=False,
        metadata=_doc(
            "Keep memory freed between CPU steps for reuse (glibc malloc's trim and mmap thresholds raised, "
            "process-wide) instead of page-faulting it in again each step; the resident set stays near its peak. "
            "On in the lego-ctr presets; the measured effect (docs/benchmarks.md) is mixed. Linux/glibc only."
        ),
    )
    amp: bool = attrs.field(default=True, metadata=_doc("bf16 autocast on CUDA (ignored on CPU)."))
    compile: bool = attrs.field(
        default=False,
        metadata=_doc(
            "Run the bricks through torch.compile(dynamic=True), in place (checkpoints unchanged); on the CPU it does "
            "not pay for NRMS (docs/benchmarks.md, train.compile); needs a C++ compiler."
        ),
    )
    checkpoint_every: int = attrs.field(
        default=0,
        validator=non_negative,
        metadata=_doc("Also save a resumable checkpoint every N steps (0: at epoch ends only)."),
    )
    max_steps_per_epoch: int = attrs.field(
        default=0,
        validator=non_negative,
        metadata=_doc("Cut epochs to this many steps (0: whole epochs); for smoke runs."),
    )
    eval_splits: list[str] = attrs.field(
        factory=lambda: ["valid", "test"],
        metadata=_doc("Splits evaluated at the end; the first one also drives early stopping."),
    )
    cold_start: bool = attrs.field(
        default=True,
        metadata=_doc(
            "Also report the final splits (train.eval_splits but the first, validation) on cold items (never seen in "
            "training), warm items and history-length buckets (results.json `cold_start`)."
        ),
    )
    history_buckets: list[int] = attrs.field(
        factory=lambda: [1, 5, 10, 20, 50],
        validator=lambda inst, attr, value: _increasing(attr.name, value),
        metadata=_doc("Edges of the history-length buckets of the cold-start report: [1, 5] gives 0, 1-4, 5+."),
    )


@attrs.define(kw_only=True, frozen=True)
class ExperimentConfig:
    data: DataConfig
    model: ModelConfig = attrs.field(factory=ModelConfig)
    train: TrainConfig = attrs.field(factory=TrainConfig)
