"""LoRA adapters through peft, injected in place.

:func:`peft.inject_adapter_in_model` adds the adapters to the model's own
modules (no ``PeftModel`` wrapper), so the model keeps its forward and its
layer attributes, which split mode runs one by one. Targets are the last
name components of linear layers (``query``/``value`` for BERT,
``q_proj``/``v_proj`` for LLaMA, the fused ``c_attn`` for GPT-2, whose
projections are transformers ``Conv1D`` modules; :mod:`lego_llm.families` has
the defaults); when they are missing or match nothing, the error lists the
modules LoRA can adapt in the layers concerned;
with ``tune_from`` they are limited to the trained layers, so the frozen lower
part stays exactly the pretrained model (and split mode can cache it).

Example:
    >>> from torch import nn
    >>> net = nn.Module(); net.layers = nn.ModuleList([nn.ModuleDict({"q_proj": nn.Linear(4, 4)}) for _ in range(3)])
    >>> target_names(net, ["q_proj"], "layers", start=1)
    ['layers.1.q_proj', 'layers.2.q_proj']
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from lego_core.errors import ConfigError


def target_names(model: nn.Module, targets: Sequence[str], layers_name: str, start: int | None) -> list[str]:
    """Full names of the modules to adapt: last component in ``targets``, inside layers ``start..``."""
    wanted = set(targets)
    names = []
    for name, _ in model.named_modules():
        if name.rsplit(".", 1)[-1] not in wanted:
            continue
        if start is not None:
            if not name.startswith(layers_name + "."):
                continue
            index = name[len(layers_name) + 1 :].split(".", 1)[0]
            if not index.isdigit() or int(index) < start:
                continue
        names.append(name)
    return names


def apply_lora(
    model: nn.Module,
    *,
    r: int,
    alpha: int,
    dropout: float,
    targets: Sequence[str],
    layers_name: str,
    start: int | None,
    where: str = "content_options.lora_targets",
) -> list[str]:
    """Inject LoRA adapters of rank ``r`` into ``model``; return the adapted module names.

    ``targets`` are last name components of ``nn.Linear`` or transformers ``Conv1D`` modules
    (GPT-2's ``c_attn``; their transposed weights are handled with peft's ``fan_in_fan_out``).
    """
    from peft import LoraConfig, inject_adapter_in_model

    if not targets:
        raise ConfigError(
            f"{where}: {type(model).__name__} has no default LoRA targets; name the projections "
            f"to adapt, {_hint(model, layers_name, start)}"
        )
    names = target_names(model, targets, layers_name, start)
    if not names:
        raise ConfigError(
            f"{where} = {list(targets)} match no module of {type(model).__name__}"
            f"{' in the trained layers' if start is not None else ''}; {_hint(model, layers_name, start)}"
        )
    conv1d = [n for n in names if _is_conv1d(model.get_submodule(n))]
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=names,
        bias="none",
        fan_in_fan_out=bool(conv1d) and len(conv1d) == len(names),
    )
    inject_adapter_in_model(config, model)
    return names


def _is_conv1d(module: nn.Module) -> bool:
    """transformers' ``Conv1D`` (GPT-2's projections: a Linear with transposed weights), which LoRA adapts too."""
    return type(module).__name__ == "Conv1D" and type(module).__module__.startswith("transformers")


def adaptable_names(model: nn.Module, layers_name: str = "", start: int | None = None) -> list[str]:
    """Last name components of the modules LoRA can adapt (``nn.Linear``, transformers' ``Conv1D``),
    inside the layer stack (from ``start``) when it is known."""
    names = set()
    for name, module in model.named_modules():
        if not (isinstance(module, nn.Linear) or _is_conv1d(module)):
            continue
        if layers_name and not name.startswith(layers_name + "."):
            continue
        names.add(name.rsplit(".", 1)[-1])
    if start is not None and layers_name:
        names &= {n.rsplit(".", 1)[-1] for n in target_names(model, sorted(names), layers_name, start)}
    return sorted(names)


def _hint(model: nn.Module, layers_name: str, start: int | None) -> str:
    names = adaptable_names(model, layers_name, start)
    if not names:
        return (
            "it has no Linear or Conv1D module LoRA could adapt there; train without LoRA (lora_r = 0) "
            "and choose the trained layers with tune_from"
        )
    return f"e.g. lora_targets = {names[:4]} (the modules LoRA can adapt are named {names})"
