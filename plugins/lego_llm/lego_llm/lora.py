"""LoRA adapters through peft, injected in place.

:func:`peft.inject_adapter_in_model` adds the adapters to the model's own
modules (no ``PeftModel`` wrapper), so the model keeps its forward and its
layer attributes, which split mode runs one by one. Targets are the last
name components of linear layers (``query``/``value`` for BERT,
``q_proj``/``v_proj`` for LLaMA; :mod:`lego_llm.families` has the defaults);
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
            index = name[len(layers_name) + 1:].split(".", 1)[0]
            if not index.isdigit() or int(index) < start:
                continue
        names.append(name)
    return names


def apply_lora(model: nn.Module, *, r: int, alpha: int, dropout: float, targets: Sequence[str],
               layers_name: str, start: int | None) -> list[str]:
    """Inject LoRA adapters of rank ``r`` into ``model``; return the adapted module names."""
    from peft import LoraConfig, inject_adapter_in_model

    if not targets:
        raise ConfigError(f"content_options.lora_targets: {type(model).__name__} has no default LoRA targets; name "
                          f"its attention projections, e.g. lora_targets = {_linear_names(model)[:4]}")
    names = target_names(model, targets, layers_name, start)
    if not names:
        raise ConfigError(f"content_options.lora_targets = {list(targets)} match no module of {type(model).__name__}"
                          f"{' in the trained layers' if start is not None else ''}; its linear layers are "
                          f"named {_linear_names(model)}")
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=names, bias="none")
    inject_adapter_in_model(config, model)
    return names


def _linear_names(model: nn.Module) -> list[str]:
    return sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
