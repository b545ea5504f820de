"""A vision backbone from transformers, its image processor, and running it in two parts.

``vision.model`` is a folder or a hub id of any transformers vision
backbone. ``AutoModel`` loads it; for a dual encoder (CLIP, SigLIP) the vision
tower is loaded by itself (``CLIPVisionModel``), and a checkpoint whose
weights do not fill the loaded model is refused (no silently random tower).
``AutoImageProcessor`` (the checkpoint's ``preprocessor_config.json``) turns
images into ``pixel_values``.

Families (``config.model_type``; the rest runs in full mode only):

- ``vit``: ``embeddings``, each layer, ``layernorm``; default pooling the CLS
  token; LoRA targets ``q_proj``/``v_proj`` (``query``/``value`` in the
  transformers releases that name them so);
- ``clip_vision_model``: ``embeddings``, ``pre_layrnorm``, each layer, and
  ``post_layernorm`` on the pooled vector (so ``cls`` pooling is the model's own
  ``pooler_output``); LoRA targets ``q_proj``/``v_proj``.

Pooling: ``cls`` (the first token), ``mean`` (the patch tokens' mean) or
``pooler`` (the model's own ``pooler_output``). The split runner and the full
forward agree (a test holds this), as for the language models.

Example:
    >>> VISION_FAMILIES["clip_vision_model"].lora_targets
    ('q_proj', 'v_proj')
"""

from __future__ import annotations

import inspect
from typing import Any

import attrs
from torch import Tensor

from lego_core.errors import ConfigError
from lego_llm.families import Family
from lego_llm.freezing import find_layers
from lego_llm.loading import DTYPES, Source, _load_failure, resolve_source

VISION_POOLINGS = ("cls", "mean", "pooler")
DUAL_ENCODERS = ("clip", "siglip", "siglip2")

VISION_FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        # ViT's projections are query/value up to some transformers 5 releases and q_proj/v_proj after
        Family(
            "vit", ("vit",), False, "cls", ("query", "value", "q_proj", "v_proj"), "model", ("layernorm",), runner="vit"
        ),
        Family(
            "clip_vision_model",
            ("clip_vision_model",),
            False,
            "cls",
            ("q_proj", "v_proj"),
            "model",
            ("post_layernorm",),
            runner="clip",
        ),
    )
}


def vision_family(model_type: str) -> Family:
    """The family of ``model_type``, or a generic one (full mode, ``pooler`` pooling, no LoRA defaults)."""
    for family in VISION_FAMILIES.values():
        if model_type in family.model_types:
            return family
    return Family(model_type or "generic", (model_type,), False, "pooler", (), "model")


@attrs.define
class VisionBackbone:
    source: Source
    processor: Any
    model: Any
    family: Family

    @property
    def hidden_size(self) -> int:
        config = self.model.config
        size = getattr(config, "hidden_size", None) or (getattr(config, "hidden_sizes", None) or [0])[-1]
        return int(size)


def load_vision(model: str, revision: str | None, dtype: str, where: str = "content_options.model") -> VisionBackbone:
    """Resolve and load a vision backbone and its image processor (see the module doc)."""
    from transformers import MODEL_MAPPING, AutoConfig, AutoImageProcessor, AutoModel

    source = resolve_source(model, revision, where)
    try:
        config = AutoConfig.from_pretrained(source.location, revision=source.revision)
        processor = AutoImageProcessor.from_pretrained(source.location, revision=source.revision)
    except (OSError, ValueError) as err:
        raise _load_failure(source, "image processor and config", err, where) from err
    cls: Any = AutoModel
    if getattr(config, "model_type", "") in DUAL_ENCODERS and hasattr(config, "vision_config"):
        cls = MODEL_MAPPING[type(config.vision_config)]  # the vision tower alone
    try:
        loaded, info = cls.from_pretrained(
            source.location, revision=source.revision, dtype=DTYPES[dtype], output_loading_info=True
        )
    except (OSError, ValueError) as err:
        raise _load_failure(source, "model", err, where) from err
    missing = [k for k in info.get("missing_keys", []) if "position_ids" not in k]
    if missing:
        raise ConfigError(
            f"{where} = {model!r}: the checkpoint does not hold {len(missing)} weights of the "
            f"{type(loaded).__name__} it loads as (e.g. {missing[:3]}); point it at a vision "
            "backbone checkpoint"
        )
    if not hasattr(loaded.config, "num_hidden_layers") and not hasattr(loaded, "embeddings"):
        raise ConfigError(f"{where} = {model!r}: {type(loaded).__name__} is not a vision backbone")
    return VisionBackbone(
        source=source, processor=processor, model=loaded, family=vision_family(getattr(loaded.config, "model_type", ""))
    )


class VisionRunner:
    """Embeddings, a range of layers and the final norm of a ViT or CLIP vision tower."""

    def __init__(self, backbone: VisionBackbone) -> None:
        self.model = backbone.model
        self.family = backbone.family
        self.layers_name, self.layer_list = find_layers(self.model)
        # CLIP's layers take the attention mask as a required positional argument, ViT's as an optional one
        self.positional = [
            p
            for p in inspect.signature(self.layer_list[0].forward).parameters.values()
            if p.default is inspect.Parameter.empty and p.kind == p.POSITIONAL_OR_KEYWORD
        ][1:]

    @property
    def num_layers(self) -> int:
        return len(self.layer_list)

    def embed(self, pixels: Tensor) -> Tensor:
        hidden = self.model.embeddings(pixels.to(self.model.dtype))
        norm = getattr(self.model, "pre_layrnorm", None)  # CLIP
        return norm(hidden) if norm is not None else hidden

    def layers(self, hidden: Tensor, start: int, stop: int) -> Tensor:
        extra = [None] * len(self.positional)
        for layer in self.layer_list[start:stop]:
            out = layer(hidden, *extra)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def finish(self, hidden: Tensor) -> Tensor:
        """The last hidden state as the model returns it (ViT: layer-normed; CLIP: as it is)."""
        norm = getattr(self.model, "layernorm", None) if self.family.runner == "vit" else None
        return norm(hidden) if norm is not None else hidden

    def lower(self, pixels: Tensor, stop: int) -> Tensor:
        return self.layers(self.embed(pixels), 0, stop)

    def upper(self, hidden: Tensor, start: int) -> Tensor:
        return self.finish(self.layers(hidden, start, self.num_layers))


def runner_for_vision(backbone: VisionBackbone) -> VisionRunner:
    if backbone.family.runner is None:
        supported = ", ".join(VISION_FAMILIES)
        raise ConfigError(
            f"split mode is not supported for the vision architecture {backbone.family.name!r} yet; it "
            f"works with {supported}. Use split = false (the full model) instead."
        )
    return VisionRunner(backbone)


def pool_vision(model: Any, family: Family, hidden: Tensor, how: str, pooler: Tensor | None = None) -> Tensor:
    """``(N, H)`` float32 from a last hidden state ``(N, T, H)`` (or a conv map ``(N, C, h, w)``)."""
    if how == "pooler":
        if pooler is None:
            pooled = getattr(model, "pooler", None)
            if pooled is None and family.runner == "clip":
                return model.post_layernorm(hidden[:, 0]).float()
            if pooled is None:
                raise ConfigError(f'pooling = "pooler": the {family.name!r} model has no pooler; use cls or mean')
            pooler = pooled(hidden)
        return pooler.reshape(pooler.shape[0], -1).float()
    if hidden.dim() == 4:  # a convolutional backbone: (N, C, h, w)
        return hidden.float().mean(dim=(2, 3))
    vector = hidden[:, 0] if how == "cls" else hidden[:, 1:].mean(1)
    if family.runner == "clip":  # CLIP normalises the pooled vector, not the sequence
        vector = model.post_layernorm(vector)
    return vector.float()


def full_forward(backbone: VisionBackbone, pixels: Tensor, how: str) -> Tensor:
    """The model's own forward, pooled: what a split pass must reproduce."""
    out = backbone.model(pixel_values=pixels.to(backbone.model.dtype))
    pooler = getattr(out, "pooler_output", None) if how == "pooler" else None
    return pool_vision(backbone.model, backbone.family, out.last_hidden_state, how, pooler)


__all__ = [
    "VISION_FAMILIES",
    "VISION_POOLINGS",
    "VisionBackbone",
    "VisionRunner",
    "full_forward",
    "load_vision",
    "pool_vision",
    "runner_for_vision",
    "vision_family",
]
