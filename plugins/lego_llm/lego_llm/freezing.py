"""Which parameters of a language model train, chosen by name.

``tune_from`` cuts the layer stack: layers ``tune_from .. L-1`` train (a
negative value counts from the top: ``-1`` is the top layer only), the
embeddings and the layers below stay frozen. Then:

============  ================  =================================================
LoRA (r > 0)  tune_from         trainable
============  ================  =================================================
off           None              everything (full fine-tuning)
off           k                 layers k.. and the modules above them (final norm)
on            None              LoRA adapters in every layer; base weights frozen
on            k                 LoRA adapters in layers k.. only; base weights frozen
============  ================  =================================================

A BERT pooler is never trained (no pooling here reads it). Frozen subtrees
(embeddings, lower layers) are also kept in eval mode while the operator
trains (:func:`frozen_subtrees`), so they behave as a fixed feature
extractor: no dropout, the same output as the split-mode cache.

Example:
    >>> resolve_tune_from(-1, 6), resolve_tune_from(2, 6), resolve_tune_from(None, 6)
    (5, 2, None)
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from lego_core.errors import ConfigError

UNUSED = ("pooler",)  # modules no pooling here reads


def find_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The model's stack of transformer layers: ``(name, ModuleList)``.

    It is the ``ModuleList`` with ``config.num_hidden_layers`` entries (the one
    holding the most parameters if several match).
    """
    count = getattr(model.config, "num_hidden_layers", None)
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) == count and n]
    if not found:
        raise ConfigError(
            f"cannot find the layer stack of the {type(model).__name__} model (no ModuleList of "
            f"num_hidden_layers = {count} layers); tune_from, split and LoRA need it"
        )
    return max(found, key=lambda nm: sum(p.numel() for p in nm[1].parameters()))


def resolve_tune_from(tune_from: int | None, num_layers: int, where: str = "content_options.tune_from") -> int | None:
    """``tune_from`` as a layer index in ``[0, num_layers)`` (None stays None)."""
    if tune_from is None:
        return None
    if not -num_layers <= tune_from < num_layers:
        raise ConfigError(
            f"{where} = {tune_from}: the model has {num_layers} layers, so it must be in "
            f"[{-num_layers}, {num_layers - 1}] (-1 trains only the top layer)"
        )
    return tune_from % num_layers


def trained_prefixes(layers_name: str, num_layers: int, start: int | None, top: Sequence[str]) -> list[str]:
    """Module names whose whole subtree trains when ``start`` is set (before LoRA)."""
    if start is None:
        return [""]
    return [f"{layers_name}.{i}" for i in range(start, num_layers)] + list(top)


def _under(name: str, prefixes: Sequence[str]) -> bool:
    return any(p == "" or name == p or name.startswith(p + ".") for p in prefixes)


def set_trainable(
    model: nn.Module, *, lora: bool, start: int | None, layers_name: str, num_layers: int, top: Sequence[str]
) -> None:
    """Set ``requires_grad`` on every parameter of ``model`` following the table in the module doc."""
    prefixes = trained_prefixes(layers_name, num_layers, start, top)
    for name, param in model.named_parameters():
        if lora:
            param.requires_grad_("lora_" in name)
        else:
            param.requires_grad_(_under(name, prefixes) and not _under(name, UNUSED))


def frozen_subtrees(model: nn.Module, trained: Sequence[str]) -> list[nn.Module]:
    """The largest submodules that hold nothing of ``trained`` (and are not above it): kept in eval mode."""
    if "" in trained:
        return []
    out: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if not name or _under(name, trained) or any(t.startswith(name + ".") for t in trained):
            continue
        if out and _under(name, [n for n, _ in out]):
            continue
        out.append((name, module))
    return [m for _, m in out]
