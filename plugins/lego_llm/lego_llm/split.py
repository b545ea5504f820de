"""Split mode: the frozen lower layers run once per item, training runs only the upper ones.

With ``tune_from = k`` the embeddings and layers ``0..k-1`` are frozen, so
their output for an item never changes. ``prepare(store)`` computes it once
for every item (:func:`build_split_cache`) and stores it in
``depot/cache/lm-split-<hash>/`` (:mod:`lego_llm.state_cache`: ragged, no
padding, bfloat16/float16, memory-mapped). A forward pass then gathers the
batch's states by item index and runs layers ``k..L-1`` (+ LoRA) and the
final norm on them (:mod:`lego_llm.runners`): the cost of the frozen part is
paid once instead of once per epoch and per occurrence.

The cache key (:func:`split_key_parts`) covers everything the states depend
on: the model (path or hub id, revision, full config, a fingerprint of the
frozen weights, the dtype it runs in), the tokenizer (its full definition),
the item columns and a digest of their contents, the template,
``max_length``, the layer index ``k`` and the storage dtype. A cache is therefore never reused for different input;
delete ``depot/cache/`` to reclaim the space.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from lego_core.data.depot import Depot, cache_key
from lego_llm.backbone import Backbone, page_order
from lego_llm.build_report import BuildReport
from lego_llm.layout import Layout
from lego_llm.loading import config_digest, tokenizer_digest, weights_digest
from lego_llm.pooling import trim
from lego_llm.runners import Runner
from lego_llm.state_cache import StateCache, write_state_cache

FORMAT = 1


def split_key_parts(
    backbone: Backbone,
    frozen: list[tuple[str, Any]],
    *,
    layout: Layout,
    max_length: int,
    layer: int,
    dtype: str,
    model_dtype: str,
    what: str = "lower-layer states",
    sources: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything a cache of frozen states depends on (the parts of its key, also kept in its meta.json)."""
    return {
        "format": FORMAT,
        "what": what,
        "model": backbone.source.label,
        "revision": backbone.source.revision,
        "config": config_digest(backbone.model.config),
        "weights": weights_digest(frozen),
        "model_dtype": model_dtype,
        "family": backbone.family.name,  # decides position ids
        "runner": backbone.family.runner,
        "tokenizer": tokenizer_digest(backbone.tokenizer),
        "tokenizer_name": backbone.tokenizer.name_or_path,
        "columns": list(layout.fields),
        "sources": sources,  # the contents of the columns read (lego_llm.layout.source_digests)
        "template": layout.template,
        "max_length": max_length,
        "layer": layer,
        "dtype": dtype,
    }


def build_split_cache(
    depot: Depot,
    ids: Tensor,
    mask: Tensor,
    runner: Runner,
    layer: int,
    parts: dict[str, Any],
    batch_size: int,
    prefix: str = "lm-split",
) -> StateCache:
    """The states after layer ``layer - 1`` (the embeddings for 0) of every item, cached in the depot.

    ``ids``/``mask``: ``(N, L)`` every item's tokens, as the store holds them.
    The model must be in eval mode.
    """
    folder = depot.path / "cache" / cache_key(prefix, **parts)
    device = next(runner.model.parameters()).device

    def pages() -> Iterator[Any]:
        # reached only when the cache is built (an existing one is opened without reading pages)
        report = BuildReport(f"split cache: layers 0-{layer - 1} of {len(mask):,} items into {folder.name}", len(mask))
        for rows in page_order(mask, batch_size):
            index = torch.from_numpy(rows).to(ids.device)
            b_ids, b_mask = trim(ids[index], mask[index])
            with torch.inference_mode():
                states = runner.lower(b_ids.to(device), b_mask.to(device), layer)
            yield rows, states, b_mask
            report.advance(len(rows))
        report.done()

    hidden = int(runner.model.config.hidden_size)
    return write_state_cache(folder, mask.sum(1).cpu().numpy(), hidden, parts["dtype"], pages(), parts)
