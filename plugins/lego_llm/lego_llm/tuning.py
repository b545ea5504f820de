"""What trains in a pretrained language model: LoRA and ``tune_from``, applied in one place.

The ``lm`` content operator, the ``flatten`` behavior operator, the ``vision``
operator and the ``llmrec`` predictor all hold a pretrained model of which
only a part trains. :func:`tune` finds the layer stack, resolves
``tune_from``, injects LoRA (:mod:`lego_llm.lora`), sets ``requires_grad``
(:mod:`lego_llm.freezing`) and returns what the brick needs afterwards: the
first trained layer, the trained prefixes and the frozen subtrees it keeps in
eval mode. :class:`LanguageModelOptions` holds the options they share.

Example:
    >>> from torch import nn
    >>> net = nn.Module(); net.config = type("C", (), {"num_hidden_layers": 2})()
    >>> net.layers = nn.ModuleList([nn.ModuleDict({"q_proj": nn.Linear(4, 4)}) for _ in range(2)])
    >>> from lego_llm.families import family_of
    >>> tuning = tune(net, family_of("demo"), lora_r=0, tune_from=-1, where="demo")
    >>> tuning.start, tuning.trained, [n for n, p in net.named_parameters() if p.requires_grad]
    (1, ['layers.1'], ['layers.1.q_proj.weight', 'layers.1.q_proj.bias'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from attrs import validators as v
from torch import nn

from lego_llm.families import FAMILY_NAMES, Family
from lego_llm.freezing import find_layers, frozen_subtrees, resolve_tune_from, set_trainable, trained_prefixes
from lego_llm.loading import DTYPES
from lego_llm.lora import apply_lora


@attrs.frozen
class Tuning:
    """What :func:`tune` decided.

    Args:
        start: the first trained layer (None: every layer).
        layers_name: the layer stack's module name ("" when not looked up).
        num_layers: its length.
        lora_modules: the modules LoRA adapted.
        trained: module names whose subtree trains (before LoRA).
        frozen: the largest frozen submodules, kept in eval mode.
    """

    start: int | None
    layers_name: str
    num_layers: int
    lora_modules: list[str]
    trained: list[str]
    frozen: list[nn.Module]


def tune(
    model: nn.Module,
    family: Family,
    *,
    lora_r: int,
    lora_alpha: int = 16,
    lora_dropout: float = 0.0,
    lora_targets: Sequence[str] | None = None,
    tune_from: int | None = None,
    need_layers: bool = False,
    where: str = "content_options",
) -> Tuning:
    """Apply LoRA and ``tune_from`` to ``model`` (see :mod:`lego_llm.freezing` for the table of what trains)."""
    start: int | None = None
    layers_name, num_layers = "", 0
    if tune_from is not None or lora_r or need_layers:
        layers_name, layers = find_layers(model)
        num_layers = len(layers)
        start = resolve_tune_from(tune_from, num_layers, where=f"{where}.tune_from")
    lora_modules: list[str] = []
    if lora_r:
        targets = list(lora_targets) if lora_targets is not None else list(family.lora_targets)
        lora_modules = apply_lora(
            model,
            r=lora_r,
            alpha=lora_alpha,
            dropout=lora_dropout,
            targets=targets,
            layers_name=layers_name,
            start=start,
            where=f"{where}.lora_targets",
        )
    set_trainable(model, lora=lora_r > 0, start=start, layers_name=layers_name, num_layers=num_layers, top=family.top)
    trained = trained_prefixes(layers_name, num_layers, start, family.top)
    return Tuning(
        start=start,
        layers_name=layers_name,
        num_layers=num_layers,
        lora_modules=lora_modules,
        trained=trained,
        frozen=frozen_subtrees(model, trained),
    )


def _non_empty(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value.strip():
        raise ValueError(
            f"{attribute.name} is empty: set it to a local checkpoint folder or a Hugging Face hub id "
            "(this preset needs you to choose the model)"
        )


def _fraction(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1), got {value!r}")


def _targets(instance: Any, attribute: attrs.Attribute, value: list[str] | None) -> None:
    if value is not None and not value:
        raise ValueError("lora_targets is an empty list; leave it out for the family's default targets")


@attrs.define(kw_only=True, frozen=True)
class LanguageModelOptions:
    """The options of a brick that holds a pretrained language model (flatten, llmrec)."""

    model: str = attrs.field(
        default="",
        validator=[v.instance_of(str), _non_empty],
        metadata={"doc": "A local checkpoint folder (save_pretrained) or a Hugging Face hub id."},
    )
    revision: str | None = attrs.field(
        default=None, metadata={"doc": "Hub revision (branch, tag or commit) of a hub id; ignored for folders."}
    )
    family: str = attrs.field(
        default="auto",
        validator=v.in_(FAMILY_NAMES),
        metadata={
            "doc": 'Architecture family whose defaults apply (pooling, LoRA targets); "auto" reads config.model_type.'
        },
    )
    dtype: str = attrs.field(
        default="float32",
        validator=v.in_(tuple(DTYPES)),
        metadata={"doc": 'Weights dtype: "float32", "bfloat16" or "float16".'},
    )
    lora_r: int = attrs.field(
        default=0,
        validator=[v.instance_of(int), v.ge(0)],
        metadata={"doc": "LoRA rank; 0 turns LoRA off. With LoRA the base weights are frozen."},
    )
    lora_alpha: int = attrs.field(
        default=16,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "LoRA scaling numerator (the update is scaled by alpha / r)."},
    )
    lora_dropout: float = attrs.field(
        default=0.0, validator=_fraction, metadata={"doc": "Dropout on the LoRA branch input."}
    )
    lora_targets: list[str] | None = attrs.field(
        default=None,
        validator=_targets,
        metadata={"doc": "Module names LoRA adapts (last name component); default per family."},
    )
    tune_from: int | None = attrs.field(
        default=None,
        metadata={
            "doc": "Layers from this index up train (negative counts from the top); embeddings and lower layers are "
            "frozen. Unset: everything trains (or only LoRA when lora_r > 0)."
        },
    )
    gradient_checkpointing: bool = attrs.field(
        default=False, metadata={"doc": "Recompute activations in the backward pass: less memory, about 30% more time."}
    )


__all__ = ["LanguageModelOptions", "Tuning", "tune"]
