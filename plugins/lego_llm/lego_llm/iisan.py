"""The ``iisan`` content operator: a side adapter network over a frozen language model (text side).

Paper: Fu et al., "IISAN: Efficiently Adapting Multimodal Representation for
Sequential Recommendation with Decoupled PEFT", SIGIR 2024,
https://doi.org/10.1145/3626772.3657725

Idea: instead of adapters *inside* the language model (LoRA), whose gradients
must flow back through every layer, IISAN trains a small network *beside* it.
The frozen model's hidden states of every layer feed the side network, which
never backpropagates into the model; the model's states can therefore be
computed once per item and cached. This operator implements the intra-modal
(text) side adapter network:

- ``prepare(store)`` runs the frozen model once over every item and keeps,
  per layer (embeddings + each of the L layers), one pooled vector (``cls``,
  ``mean`` or ``last``, the family default): ``(N, L + 1, H)`` in
  ``depot/cache/iisan-<hash>/`` (bf16 by default; the key covers model,
  weights, tokenizer, columns, template, max_length, pooling and dtype).
- The side network starts from the embedding layer's vector and, for each
  selected layer i, applies an adapter block (LayerNorm, down-projection to
  ``adapter_size``, GELU, dropout, up-projection, residual) and fuses the
  result with layer i's frozen vector through a learned gate:
  ``s_i = g_i * block_i(s_{i-1}) + (1 - g_i) * norm(h_i)``, ``g_i = sigmoid(w_i)``.
  ``norm`` is a parameter-free layer norm that puts every layer's states on
  one scale (decoder layers grow along the residual stream).
- A Linear maps the last side state to D.

``layer_stride = 2`` fuses every other layer (the paper's LayerDrop, which
halves the side network). Differences from the paper: text only (no image
tower, no inter-modal SAN), and the side network works on one pooled vector
per layer instead of every token, which makes the cache N x (L + 1) x H
rather than N x L x tokens x H.

Example:
    >>> IISANConfig(adapter_size=32, layer_stride=2).layer_stride
    2
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.nn import functional as F

from lego_core.data.depot import cache_key
from lego_core.errors import DataError
from lego_core.model.bricks import ContentOperator
from lego_core.model.context import ModelContext
from lego_core.model.dropout import Dropout
from lego_core.model.inputs import ItemBatch
from lego_llm.backbone import TOKENS, load_backbone, page_order, run_model
from lego_llm.checkpoint import keep_only_trained
from lego_llm.families import FAMILY_NAMES
from lego_llm.layout import make_layout, source_digests, text_attributes
from lego_llm.lm_operator import _non_empty
from lego_llm.loading import DEFAULT_MODEL, DTYPES
from lego_llm.pooling import POOLINGS, pool, trim
from lego_llm.split import split_key_parts
from lego_llm.state_cache import CACHE_DTYPES, StateCache, write_state_cache
from lego_llm.tokens import tokenize_items


@attrs.define(kw_only=True, frozen=True)
class IISANConfig:
    model: str = attrs.field(
        default=DEFAULT_MODEL,
        validator=[v.instance_of(str), _non_empty],
        metadata={"doc": "A local checkpoint folder or a Hugging Face hub id (frozen; never trained)."},
    )
    revision: str | None = attrs.field(default=None, metadata={"doc": "Hub revision of a hub id; ignored for folders."})
    family: str = attrs.field(
        default="auto",
        validator=v.in_(FAMILY_NAMES),
        metadata={"doc": 'Family whose default pooling applies; "auto" reads config.model_type.'},
    )
    pooling: str | None = attrs.field(
        default=None,
        validator=v.optional(v.in_(POOLINGS)),
        metadata={
            "doc": 'How each layer\'s token states become one vector: "cls", "mean", "last"; default per family.'
        },
    )
    dtype: str = attrs.field(
        default="float32", validator=v.in_(tuple(DTYPES)), metadata={"doc": "Dtype the frozen model runs in."}
    )
    max_length: int = attrs.field(
        default=64, validator=[v.instance_of(int), v.gt(0)], metadata={"doc": "Tokens kept per item."}
    )
    template: str | None = attrs.field(
        default=None,
        metadata={"doc": 'Item text, e.g. "Title: {title}"; default: the item attributes joined as "name: value".'},
    )
    adapter_size: int = attrs.field(
        default=64,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Bottleneck width of each side adapter block."},
    )
    layer_stride: int = attrs.field(
        default=1,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Fuse every k-th layer (the top layer always); 2 is the paper's LayerDrop."},
    )
    dropout: float = attrs.field(
        default=0.1,
        validator=[v.instance_of(float), v.ge(0.0), v.lt(1.0)],
        metadata={"doc": "Dropout inside the adapter blocks."},
    )
    cache_dtype: str = attrs.field(
        default="bfloat16",
        validator=v.in_(CACHE_DTYPES),
        metadata={"doc": 'Storage dtype of the per-layer cache: "bfloat16", "float16" or "float32".'},
    )
    prepare_batch_size: int = attrs.field(
        default=64,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Items per forward pass of the frozen model in prepare()."},
    )


class SideBlock(nn.Module):
    """One side adapter block: ``x + up(dropout(gelu(down(norm(x)))))``; starts as the identity."""

    def __init__(self, hidden: int, bottleneck: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.down = nn.Linear(hidden, bottleneck)
        self.up = nn.Linear(bottleneck, hidden)
        self.dropout = Dropout(dropout)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.up(self.dropout(F.gelu(self.down(self.norm(x)))))  # (N, H)


class IISANOperator(ContentOperator):
    """Item vectors from a side adapter network over a frozen LM's per-layer states.

    Args:
        options: :class:`IISANConfig`.
        context: the model context (``hidden_size`` D, ``item_attributes``).

    Example:
        >>> import tempfile, torch
        >>> from lego_core.model.context import ModelContext
        >>> from lego_llm.testing import tiny_bert
        >>> op = IISANOperator(options=IISANConfig(model=str(tiny_bert(tempfile.mkdtemp())), template="{title}"),
        ...                    context=ModelContext(hidden_size=8, num_items=3, num_users=1))
        >>> ids = torch.tensor([[2, 10, 11, 3], [2, 12, 3, 0]])
        >>> op(ItemBatch(index=torch.tensor([0, 1]), tokens={"lm": ids}, masks={"lm": ids > 0})).shape
        torch.Size([2, 8])
    """

    name = "iisan"
    paper = "Fu et al., SIGIR 2024. https://doi.org/10.1145/3626772.3657725"
    Options = IISANConfig

    def __init__(self, *, options: IISANConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        o: IISANConfig = self.options
        backbone = load_backbone(o.model, o.revision, o.family, o.dtype)
        self.backbone = backbone
        self.model = backbone.model
        self.model.requires_grad_(False)
        self.pooling = o.pooling or backbone.family.pooling
        self.layout = make_layout(text_attributes(context), o.template)
        hidden = int(self.model.config.hidden_size)
        num_layers = int(self.model.config.num_hidden_layers)
        picked = list(range(o.layer_stride, num_layers + 1, o.layer_stride))
        self.fused_layers = picked if picked and picked[-1] == num_layers else [*picked, num_layers]
        self.blocks = nn.ModuleList(SideBlock(hidden, o.adapter_size, o.dropout) for _ in self.fused_layers)
        self.gates = nn.Parameter(torch.zeros(len(self.fused_layers)))
        self.projection = nn.Linear(hidden, context.hidden_size)
        self.excluded = keep_only_trained(self, "model.")
        self.cache: StateCache | None = None
        self.train()

    def train(self, mode: bool = True) -> IISANOperator:
        """The side network follows ``mode``; the language model always stays in eval mode."""
        super().train(mode)
        self.model.eval()
        return self

    def layer_states(self, ids: Tensor, mask: Tensor) -> Tensor:
        """``(N, L + 1, H)``: each layer's (embeddings included) token states pooled, no gradient."""
        with torch.no_grad():
            out = run_model(self.backbone, ids, mask, all_layers=True)
            return torch.stack([pool(h, mask, self.pooling) for h in out.hidden_states], dim=1)

    def prepare(self, store: Any) -> None:
        """Tokenise every item once and cache the frozen model's per-layer pooled states in the depot."""
        o: IISANConfig = self.options
        tokens = tokenize_items(
            store.depot, self.backbone.tokenizer, self.layout, o.max_length, self.backbone.source.revision
        )
        store.add_tokens(TOKENS, tokens.ids, o.max_length, pad_value=tokens.pad_id)
        parts = split_key_parts(
            self.backbone,
            [("", self.model)],
            layout=self.layout,
            max_length=o.max_length,
            layer=-1,
            dtype=o.cache_dtype,
            model_dtype=o.dtype,
            what="pooled states per layer",
            sources=source_digests(store.depot, self.layout.fields),
        )
        parts["pooling"] = self.pooling
        ids, mask = store.tokens[TOKENS], store.masks[TOKENS]
        device = self.backbone.device
        depth = int(self.model.config.num_hidden_layers) + 1

        def pages() -> Iterator[Any]:
            for rows in page_order(mask, o.prepare_batch_size):
                index = torch.from_numpy(rows).to(ids.device)
                b_ids, b_mask = trim(ids[index], mask[index])
                states = self.layer_states(b_ids.to(device), b_mask.to(device))
                yield rows, states, torch.ones(len(rows), depth, dtype=torch.bool)

        folder = store.depot.path / "cache" / cache_key("iisan", **parts)
        lengths = torch.full((len(mask),), depth).numpy()
        self.cache = write_state_cache(
            folder, lengths, int(self.model.config.hidden_size), o.cache_dtype, pages(), parts
        )

    def forward(self, items: ItemBatch) -> Tensor:
        if self.cache is None and TOKENS not in items.tokens:
            raise DataError(
                f"content operator {self.name!r}: the item batch has no {TOKENS!r} tokens; "
                "prepare(store) adds them and must run first (the engine calls it)"
            )
        if self.cache is not None:
            states = self.cache.gather(items.index)[0].to(self.projection.weight.device)
        else:  # no prepare(): compute now, rounded like the cache
            ids, mask = trim(items.tokens[TOKENS], items.masks[TOKENS])
            states = self.layer_states(ids, mask).to(getattr(torch, self.options.cache_dtype))
        states = states.float()  # (N, L + 1, H)
        normed = F.layer_norm(states, states.shape[-1:])
        side = normed[:, 0]
        gates = torch.sigmoid(self.gates)
        for j, (layer, block) in enumerate(zip(self.fused_layers, self.blocks, strict=True)):
            side = gates[j] * block(side) + (1 - gates[j]) * normed[:, layer]  # (N, H)
        return self.projection(side)  # (N, D)
