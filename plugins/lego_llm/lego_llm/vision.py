"""The ``vision`` content operator: item images through a transformers vision backbone, optionally fused with text.

Papers: Ni et al., "A Content-Driven Micro-Video Recommendation Dataset at
Scale" (MicroLens), 2023, https://arxiv.org/abs/2309.15379 (ViT and CLIP
image encoders trained end to end with the recommender); Fu et al., IISAN,
SIGIR 2024 (text and image towers of one item fused).

Idea: each item's image (an ``image`` column of the depot: the files' bytes
or their paths; :mod:`lego_llm.images` decodes them with Pillow, the
``lego-llm[vision]`` extra) goes through the checkpoint's image processor and
a vision backbone (ViT, a CLIP vision tower, any ``AutoModel`` vision model;
:mod:`lego_llm.vision_backbone`), is pooled (the CLS token by default) and
projected to D. What trains is chosen as for ``lm``:

- ``freeze = true``: nothing of the backbone; ``prepare()`` encodes every
  image once and caches the pooled vectors (the decoupled design; only the
  projection trains);
- ``tune_from`` / ``lora_r``: the top layers and/or LoRA adapters train
  (:mod:`lego_llm.tuning`); with ``split = true`` the frozen lower layers run
  once per image in ``prepare()`` and their states are cached
  (``cache/vision-split-*``, bf16 by default), so training runs only the upper
  layers;
- otherwise the whole backbone trains; ``prepare()`` decodes and preprocesses
  every image once into a pixel cache (``cache/vision-pixels-*``, float16),
  so no image is decoded twice.

Every cache is keyed by the model, its frozen weights, the image processor's
configuration, the mode and the image column's content digest.

Fusion (``text``, a table of ``lm`` options): the item's text goes through an
``lm`` operator, and the two vectors become one: ``"concat"`` (a Linear over
``[image; text]``), ``"sum"``, or ``"gate"`` (``g * image + (1 - g) * text``
with ``g = sigmoid(W [image; text])``).

Example:
    >>> VisionConfig(model="/models/vit", tune_from=-1, split=True).split
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.data.depot import cache_key
from lego_core.errors import DataError
from lego_core.model.bricks import ContentOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import ItemBatch
from lego_llm.backbone import enable_checkpointing, evaluating
from lego_llm.checkpoint import keep_only_trained
from lego_llm.images import image_column_of, pixel_pages, require_pillow
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.loading import DTYPES, config_digest, weights_digest
from lego_llm.state_cache import CACHE_DTYPES, StateCache, write_state_cache
from lego_llm.tuning import _fraction, _non_empty, _targets, tune
from lego_llm.vision_backbone import (
    VISION_POOLINGS,
    full_forward,
    load_vision,
    pool_vision,
    runner_for_vision,
)

FORMAT = 1
FUSIONS = ("concat", "sum", "gate")


@attrs.define(kw_only=True, frozen=True)
class VisionConfig:
    model: str = attrs.field(
        default="",
        validator=[v.instance_of(str), _non_empty],
        metadata={
            "doc": "A vision backbone: a local checkpoint folder with its preprocessor_config.json, or a hub id (ViT, "
            "CLIP, ...)."
        },
    )
    revision: str | None = attrs.field(default=None, metadata={"doc": "Hub revision of a hub id; ignored for folders."})
    image: str | None = attrs.field(
        default=None,
        metadata={
            "doc": "The item image column; default the experiment's image attribute, else the depot's only image "
            "column."
        },
    )
    dtype: str = attrs.field(
        default="float32",
        validator=v.in_(tuple(DTYPES)),
        metadata={"doc": 'Weights dtype: "float32", "bfloat16" or "float16".'},
    )
    pooling: str | None = attrs.field(
        default=None,
        validator=v.optional(v.in_(VISION_POOLINGS)),
        metadata={
            "doc": 'Image tokens -> vector: "cls", "mean" (patch tokens) or "pooler" (the model\'s pooler_output); '
            "default per family."
        },
    )
    freeze: bool = attrs.field(
        default=False,
        metadata={
            "doc": "Freeze the whole backbone: every image is encoded once in prepare() and only the projection trains."
        },
    )
    tune_from: int | None = attrs.field(
        default=None,
        metadata={
            "doc": "Layers from this index up train (negative counts from the top); lower layers and embeddings are "
            "frozen."
        },
    )
    split: bool = attrs.field(
        default=False,
        metadata={
            "doc": "Compute the frozen layers below tune_from once per image in prepare() and cache their states."
        },
    )
    split_dtype: str = attrs.field(
        default="bfloat16",
        validator=v.in_(CACHE_DTYPES),
        metadata={"doc": 'Storage dtype of the split-mode (and frozen) cache: "bfloat16", "float16" or "float32".'},
    )
    pixel_dtype: str = attrs.field(
        default="float16",
        validator=v.in_(("float16", "float32")),
        metadata={"doc": "Storage dtype of the preprocessed pixels (full fine-tuning)."},
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
        metadata={
            "doc": "Module names LoRA adapts (last name component); default per family (ViT: query, value; CLIP: "
            "q_proj, v_proj)."
        },
    )
    gradient_checkpointing: bool = attrs.field(
        default=False, metadata={"doc": "Recompute activations in the backward pass: less memory, more time."}
    )
    projection: str = attrs.field(
        default="auto",
        validator=v.in_(("auto", "always")),
        metadata={
            "doc": '"auto": a Linear to hidden_size only when the model\'s size differs; "always": even when equal.'
        },
    )
    prepare_batch_size: int = attrs.field(
        default=32, validator=[v.instance_of(int), v.gt(0)], metadata={"doc": "Images per forward pass in prepare()."}
    )
    text: LMConfig | None = attrs.field(
        default=None,
        metadata={
            "doc": "Fuse with the item's text: a table of lm options ([model.content_options.text]); unset: image only."
        },
    )
    fusion: str = attrs.field(
        default="concat",
        validator=v.in_(FUSIONS),
        metadata={"doc": 'How image and text vectors become one: "concat" (a Linear over both), "sum", "gate".'},
    )

    def __attrs_post_init__(self) -> None:
        if self.split and self.tune_from is None:
            raise ValueError(
                "split = true needs tune_from (the first trained layer): the layers below it are the ones computed once"
            )
        if self.freeze and (self.lora_r or self.tune_from is not None or self.split):
            raise ValueError("freeze = true trains nothing of the backbone; leave lora_r, tune_from and split out")


class VisionOperator(ContentOperator):
    """Item vectors from the items' images (and, with ``text``, their text).

    Args:
        options: :class:`VisionConfig`.
        context: the model context (``hidden_size`` D, ``item_attributes``).

    The engine calls :meth:`prepare` with the item store; it reads the image
    column from ``store.depot`` and builds the cache the chosen mode needs.
    """

    name = "vision"
    paper = "Ni et al., 2023 (MicroLens). https://arxiv.org/abs/2309.15379; Fu et al., SIGIR 2024 (IISAN)"
    Options = VisionConfig

    def __init__(self, *, options: VisionConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        o: VisionConfig = self.options
        require_pillow()  # before any weight is loaded
        backbone = load_vision(o.model, o.revision, o.dtype)
        self.backbone = backbone
        self.model = backbone.model
        self.family = backbone.family
        self.pooling = o.pooling or self.family.pooling
        self.runner = runner_for_vision(backbone) if o.split else None
        if o.freeze:
            self.model.requires_grad_(False)
            self.start: int | None = None
            self.frozen: list[nn.Module] = [self.model]
            self.lora_modules: list[str] = []
        else:
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
            self.start, self.frozen, self.lora_modules = tuning.start, tuning.frozen, tuning.lora_modules
        if o.gradient_checkpointing:
            enable_checkpointing(self.model)
        size = backbone.hidden_size
        self.projection: nn.Module = nn.Identity()
        if size != context.hidden_size or o.projection == "always":
            self.projection = nn.Linear(size, context.hidden_size)
        self.text: LMOperator | None = LMOperator(options=o.text, context=context) if o.text is not None else None
        d = context.hidden_size
        self.fuse: nn.Module | None = nn.Linear(2 * d, d) if self.text is not None and o.fusion != "sum" else None
        self.excluded = keep_only_trained(self, "model.")
        self.cache: StateCache | None = None
        self.mode = "pooled" if o.freeze else ("split" if o.split else "pixels")
        self.train()

    def train(self, mode: bool = True) -> VisionOperator:
        """Like ``nn.Module.train``, but the frozen parts of the backbone stay in eval mode."""
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    # ------------------------------------------------------------------ prepare
    def _parts(self, depot: Any, column: str) -> dict[str, Any]:
        o: VisionConfig = self.options
        processor = self.backbone.processor
        frozen = [(f"{i}.", m) for i, m in enumerate(self.frozen)] if self.mode != "pixels" else []
        return {
            "format": FORMAT,
            "mode": self.mode,
            "model": self.backbone.source.label,
            "revision": self.backbone.source.revision,
            "config": config_digest(self.model.config),
            "weights": weights_digest(frozen),
            "model_dtype": o.dtype,
            "processor": processor.to_json_string() if hasattr(processor, "to_json_string") else repr(processor),
            "column": column,
            "source": depot.items.digest(column),
            "layer": self.start,
            "pooling": self.pooling if self.mode == "pooled" else None,
            "dtype": o.pixel_dtype if self.mode == "pixels" else o.split_dtype,
        }

    def prepare(self, store: Any) -> None:
        """Build the cache of the mode (pooled vectors, lower-layer states or pixels); prepare the text side."""
        o: VisionConfig = self.options
        depot = store.depot
        attributes = [n for n, a in self.context.item_attributes.items() if a.kind == "image"]
        column = image_column_of(depot, o.image, attributes, "content_options.image")
        parts = self._parts(depot, column)
        folder = depot.path / "cache" / cache_key(f"vision-{self.mode}", **parts)
        device = next(self.model.parameters()).device
        pages = pixel_pages(depot, column, self.backbone.processor, o.prepare_batch_size)
        with evaluating(self):
            if (folder / "meta.json").is_file():
                self.cache = StateCache(folder)
            else:
                self.cache = self._write(folder, pages, depot.items.num_rows, device, parts)
        if self.text is not None:
            self.text.prepare(store)

    def _encode(self, pixels: Tensor) -> Tensor:
        """A page's cached form: pooled vectors (N, 1, H), lower states (N, T, H) or pixels (N, 1, C*H*W)."""
        if self.mode == "pooled":
            return full_forward(self.backbone, pixels, self.pooling)[:, None]
        if self.mode == "split":
            assert self.runner is not None and self.start is not None
            return self.runner.lower(pixels, self.start)
        return pixels.reshape(len(pixels), 1, -1)

    def _write(
        self, folder: Any, pages: Iterator[Any], rows: int, device: torch.device, parts: dict[str, Any]
    ) -> StateCache:
        dtype = parts["dtype"]

        shape: list[int] = []

        def encoded() -> Iterator[tuple[np.ndarray, Tensor, Tensor]]:
            for index, pixels in pages:
                shape[:] = list(pixels.shape[1:])
                with torch.inference_mode():
                    states = self._encode(pixels.to(device))
                yield index, states, torch.ones(states.shape[:2], dtype=torch.bool)

        stream = encoded()
        first = next(stream)  # the first page tells the cached rows' length and width
        length, hidden = first[1].shape[1], first[1].shape[2]
        lengths = np.full(rows, length, dtype=np.int64)
        return write_state_cache(
            folder,
            lengths,
            int(hidden),
            dtype,
            itertools.chain([first], stream),
            {**parts, "what": f"vision {self.mode}", "pixel_shape": shape},
        )

    # ------------------------------------------------------------------ forward
    def image_vectors(self, index: Tensor) -> Tensor:
        """``(N, H)`` pooled image vectors of the items ``index`` (before the projection)."""
        if self.cache is None:
            raise DataError(
                f"content operator {self.name!r}: prepare(store) builds the image cache and must run "
                "first (the engine calls it)"
            )
        states, _ = self.cache.gather(index)
        device = next(self.model.parameters()).device
        states = states.to(device=device, dtype=self.model.dtype)
        if self.mode == "pooled":
            return states[:, 0].float()
        if self.mode == "split":
            assert self.runner is not None and self.start is not None
            return pool_vision(self.model, self.family, self.runner.upper(states, self.start), self.pooling)
        pixels = states.reshape(len(index), *self.cache.meta["pixel_shape"])  # (N, C, H, W)
        return full_forward(self.backbone, pixels, self.pooling)

    def forward(self, items: ItemBatch) -> Tensor:
        image = self.projection(self.image_vectors(items.index))  # (N, D)
        if self.text is None:
            return image
        text = self.text(items)  # (N, D)
        if self.options.fusion == "sum":
            return image + text
        assert self.fuse is not None
        both = torch.cat([image, text], dim=-1)  # (N, 2D)
        if self.options.fusion == "concat":
            return self.fuse(both)
        gate = torch.sigmoid(self.fuse(both))
        return gate * image + (1 - gate) * text
