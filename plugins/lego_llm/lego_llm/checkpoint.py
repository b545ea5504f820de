"""Checkpoints that hold only what trains.

A language-model operator holds a pretrained model, most of it frozen. Its
frozen weights come from the checkpoint folder every time the operator is
built, so saving them with every run checkpoint would only waste disk (a 7B
model is 14 GB). :func:`keep_only_trained` installs two public ``nn.Module``
hooks on the operator:

- a state-dict post-hook (``register_state_dict_post_hook``) drops the keys
  of frozen parameters and buffers of the base model, wherever the operator
  sits in the model tree (the engine calls ``model.state_dict()`` on the
  whole model; PyTorch runs each submodule's hooks with its prefix);
- a load pre-hook records the operator's prefix and a load post-hook
  (``register_load_state_dict_post_hook``) removes those same keys from the
  missing keys, so a strict ``load_state_dict`` of such a checkpoint into a
  freshly built model succeeds and keeps the pretrained values.

What remains: LoRA adapters, the trained layers (``tune_from``), the
projection, and the operator's own modules (IISAN's adapters). Which keys are
frozen follows from the options alone, so a model rebuilt with the same
options expects exactly the saved keys. A checkpoint that does contain base
weights (saved by other code) still loads them.

Example:
    >>> from torch import nn
    >>> op = nn.Module(); op.model = nn.Linear(2, 2); op.head = nn.Linear(2, 1)
    >>> op.model.requires_grad_(False)  # doctest: +ELLIPSIS
    Linear(...)
    >>> sorted(keep_only_trained(op, "model."))
    ['model.bias', 'model.weight']
    >>> sorted(op.state_dict())
    ['head.bias', 'head.weight']
"""

from __future__ import annotations

from typing import Any

from torch import nn


def frozen_keys(module: nn.Module, base_prefix: str) -> set[str]:
    """State-dict keys under ``base_prefix`` that are not trainable parameters."""
    return {
        k
        for k, v in module.state_dict(keep_vars=True).items()
        if k.startswith(base_prefix) and not (isinstance(v, nn.Parameter) and v.requires_grad)
    }


def keep_only_trained(module: nn.Module, base_prefix: str = "model.") -> set[str]:
    """Leave the frozen keys under ``base_prefix`` out of ``module``'s checkpoints; return those keys.

    Call it once, after freezing is final.
    """
    excluded = frozen_keys(module, base_prefix)
    load_prefix = {"value": ""}

    def drop(mod: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
        for key in excluded:
            state_dict.pop(prefix + key, None)

    def remember_prefix(mod: nn.Module, state_dict: Any, prefix: str, *args: Any) -> None:
        load_prefix["value"] = prefix

    def allow_missing(mod: nn.Module, incompatible: Any) -> None:
        skip = {load_prefix["value"] + key for key in excluded}
        incompatible.missing_keys[:] = [k for k in incompatible.missing_keys if k not in skip]

    module.register_state_dict_post_hook(drop)
    module.register_load_state_dict_pre_hook(remember_prefix)
    module.register_load_state_dict_post_hook(allow_missing)
    return excluded
