"""A loaded language model with its tokenizer and family, shared by the ``lm`` and ``iisan`` operators.

Example:
    >>> import torch
    >>> mask = torch.tensor([[True, True, False]])
    >>> page_order(mask, 2)
    [array([0])]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor, nn

from lego_core.errors import ConfigError
from lego_llm.families import Family, family_of
from lego_llm.loading import Source, load_model, load_tokenizer, resolve_source
from lego_llm.runners import position_ids

TOKENS = "lm"  # the ItemStore / ItemBatch token column the operators add in prepare()


@attrs.define
class Backbone:
    """``source`` (where it came from), ``tokenizer``, ``model`` (an ``AutoModel``), ``family``."""

    source: Source
    tokenizer: Any
    model: Any
    family: Family

    @property
    def output_size(self) -> int:
        """Size of the model's last hidden states (OPT projects them to ``word_embed_proj_dim``)."""
        config = self.model.config
        if getattr(config, "model_type", "") == "opt":
            return int(config.word_embed_proj_dim)
        return int(config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def load_backbone(
    model: str, revision: str | None, family: str, dtype: str, where: str = "content_options.model"
) -> Backbone:
    """Resolve ``model`` (folder, bundled copy or hub id), load tokenizer and model, pick the family."""
    source = resolve_source(model, revision, where)
    tokenizer = load_tokenizer(source, where)
    loaded = load_model(source, dtype, where)
    return Backbone(
        source=source,
        tokenizer=tokenizer,
        model=loaded,
        family=family_of(getattr(loaded.config, "model_type", ""), family, loaded.config),
    )


def run_model(backbone: Backbone, ids: Tensor, mask: Tensor, all_layers: bool = False) -> Any:
    """The model's own forward with position ids from the mask (padding side does not matter)."""
    kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask.long()}
    pos = position_ids(mask, backbone.family, backbone.model.config)
    if pos is not None:
        kwargs["position_ids"] = pos
    if all_layers:
        kwargs["output_hidden_states"] = True
    return backbone.model(**kwargs)


def enable_checkpointing(model: Any) -> None:
    try:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    except ValueError as err:
        raise ConfigError(
            f"content_options.gradient_checkpointing: {type(model).__name__} does not support it ({err})"
        ) from err


def page_order(mask: Tensor, batch_size: int) -> list[np.ndarray]:
    """Item indices in pages of ``batch_size``, shortest texts first (less padding per page)."""
    lengths = mask.sum(1).cpu().numpy()
    order = np.argsort(lengths, kind="stable")
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode inside the block, the previous mode (through ``module.train``) after it."""
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)
