"""Running a Hugging Face model in two parts: the layers below a cut, then the layers above.

Split mode computes ``embed`` + layers ``[0, k)`` once per item and later
runs layers ``[k, L)`` + ``finish`` on the stored states. That needs the
per-architecture pieces a model's own ``forward`` hides, all reached through
public module attributes and :mod:`transformers.masking_utils`:

- BERT-like (``bert``, ``roberta``): ``model.embeddings(input_ids=...,
  position_ids=..., token_type_ids=...)``, then each
  ``model.encoder.layer[i](hidden, attention_mask)`` with the mask from
  ``create_bidirectional_mask``; no final module.
- rotary decoders (``llama``, ``mistral``, ``qwen``, ``phi``, ``phi3``,
  ``glm``): ``model.embed_tokens`` (Phi: then its ``embed_dropout``), then each
  ``model.layers[i](hidden, attention_mask=..., position_ids=...,
  position_embeddings=model.rotary_emb(hidden, position_ids))`` with the mask
  from ``create_causal_mask``, then the final norm the family names
  (``norm``; Phi: ``final_layernorm``).
- GPT-2: ``model.wte(ids) + model.wpe(positions)`` and ``model.drop``, then
  each block ``model.h[i](hidden, None, causal_mask, position_ids=...)``, then
  ``model.ln_f``.
- OPT: ``decoder.embed_tokens`` (+ ``project_in`` when the embedding width
  differs) plus ``decoder.embed_positions(mask, 0, position_ids=...)``, then
  each ``decoder.layers[i](hidden, attention_mask=..., position_ids=...)``,
  then ``decoder.final_layer_norm`` and ``decoder.project_out`` where the
  checkpoint has them.

Each gives the same states as ``model(input_ids, attention_mask,
position_ids)`` (a test holds this for every family, with and without
LoRA). Position ids come from the mask (:func:`position_ids`), so left and
right padding give the same vectors. Arguments whose names changed inside
transformers 5 (``past_key_values`` became ``cache``) are passed by position
or not at all, so the runners work across 5.x.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lego_core.errors import ConfigError
from lego_llm.families import FAMILIES, Family
from lego_llm.pooling import first_index

SPLIT_FAMILIES = tuple(n for n, f in FAMILIES.items() if f.runner)


def position_ids(mask: Tensor, family: Family, config: Any) -> Tensor | None:
    """``(N, L)`` position ids that put each row's first real token at the family's start position.

    None for families whose model computes positions itself.
    """
    if family.positions == "model":
        return None
    pos = torch.arange(mask.shape[1], device=mask.device)[None, :] - first_index(mask)[:, None]
    if family.positions == "rotary":
        return pos  # left padding gets negative positions: masked out, and rotary accepts them
    pos = pos.clamp(min=0)
    if family.positions == "padding_offset":
        pos = pos + int(config.pad_token_id if config.pad_token_id is not None else 1) + 1
    return pos


class Runner:
    """Embeddings, a range of layers, and the final module of one model."""

    def __init__(self, model: Any, family: Family) -> None:
        self.model = model
        self.family = family

    @property
    def num_layers(self) -> int:
        return len(self.layer_list())

    def layer_list(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def layers(self, hidden: Tensor, mask: Tensor, start: int, stop: int) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def finish(self, hidden: Tensor) -> Tensor:
        return hidden

    def lower(self, ids: Tensor, mask: Tensor, stop: int) -> Tensor:
        """Embeddings + layers ``[0, stop)``: ``(N, L, H)``."""
        return self.layers(self.embed(ids, mask), mask, 0, stop)

    def upper(self, hidden: Tensor, mask: Tensor, start: int) -> Tensor:
        """Layers ``[start, L)`` + the final module on states from :meth:`lower`."""
        return self.finish(self.layers(hidden, mask, start, self.num_layers))


class BertRunner(Runner):
    def layer_list(self) -> Any:
        return self.model.encoder.layer

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self.model.embeddings(
            input_ids=ids,
            token_type_ids=torch.zeros_like(ids),
            position_ids=position_ids(mask, self.family, self.model.config),
        )

    def layers(self, hidden: Tensor, mask: Tensor, start: int, stop: int) -> Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        attention = create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden, attention_mask=mask)
        for layer in self.model.encoder.layer[start:stop]:
            hidden = layer(hidden, attention)
        return hidden


def _causal_mask(config: Any, hidden: Tensor, mask: Tensor, pos: Tensor | None) -> Any:
    from transformers.masking_utils import create_causal_mask

    # the fourth argument is the (absent) key-value cache: past_key_values or cache, by transformers version
    return create_causal_mask(config, hidden, mask, None, position_ids=pos)


def _state(out: Any) -> Tensor:
    """A layer's hidden states (some transformers versions return a tuple)."""
    return out[0] if isinstance(out, tuple) else out


class LlamaRunner(Runner):
    """Decoders with rotary position embeddings computed once by ``model.rotary_emb``."""

    def layer_list(self) -> Any:
        return self.model.layers

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:
        hidden = self.model.embed_tokens(ids)
        dropout = getattr(self.model, "embed_dropout", None)  # Phi
        return dropout(hidden) if dropout is not None else hidden

    def layers(self, hidden: Tensor, mask: Tensor, start: int, stop: int) -> Tensor:
        pos = position_ids(mask, self.family, self.model.config)
        attention = _causal_mask(self.model.config, hidden, mask, pos)
        rotary = self.model.rotary_emb(hidden, position_ids=pos)
        for layer in self.model.layers[start:stop]:
            hidden = _state(layer(hidden, attention_mask=attention, position_ids=pos, position_embeddings=rotary))
        return hidden

    def finish(self, hidden: Tensor) -> Tensor:
        return getattr(self.model, self.family.top[0])(hidden)


class GPT2Runner(Runner):
    """GPT-2: learned absolute positions added to the token embeddings, blocks in ``model.h``."""

    def layer_list(self) -> Any:
        return self.model.h

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:
        pos = position_ids(mask, self.family, self.model.config)
        return self.model.drop(self.model.wte(ids) + self.model.wpe(pos))

    def layers(self, hidden: Tensor, mask: Tensor, start: int, stop: int) -> Tensor:
        pos = position_ids(mask, self.family, self.model.config)
        attention = _causal_mask(self.model.config, hidden, mask, pos)
        for block in self.model.h[start:stop]:
            hidden = _state(block(hidden, None, attention, position_ids=pos))
        return hidden

    def finish(self, hidden: Tensor) -> Tensor:
        return self.model.ln_f(hidden)


class OPTRunner(Runner):
    """OPT: everything under ``model.decoder``; positions offset by 2 inside ``embed_positions``."""

    def layer_list(self) -> Any:
        return self.model.decoder.layers

    def embed(self, ids: Tensor, mask: Tensor) -> Tensor:
        decoder = self.model.decoder
        pos = position_ids(mask, self.family, self.model.config)
        hidden = decoder.embed_tokens(ids)
        if decoder.project_in is not None:
            hidden = decoder.project_in(hidden)
        return hidden + decoder.embed_positions(mask.long(), 0, position_ids=pos)

    def layers(self, hidden: Tensor, mask: Tensor, start: int, stop: int) -> Tensor:
        pos = position_ids(mask, self.family, self.model.config)
        attention = _causal_mask(self.model.config, hidden, mask, pos)
        for layer in self.model.decoder.layers[start:stop]:
            hidden = _state(layer(hidden, attention_mask=attention, position_ids=pos))
        return hidden

    def finish(self, hidden: Tensor) -> Tensor:
        decoder = self.model.decoder
        if decoder.final_layer_norm is not None:
            hidden = decoder.final_layer_norm(hidden)
        if decoder.project_out is not None:
            hidden = decoder.project_out(hidden)
        return hidden


# runner name -> (class, the model attributes it reaches; a family's final norm is checked as well)
_RUNNERS: dict[str, tuple[type[Runner], tuple[str, ...]]] = {
    "bert": (BertRunner, ("embeddings", "encoder")),
    "llama": (LlamaRunner, ("embed_tokens", "layers", "rotary_emb")),
    "gpt2": (GPT2Runner, ("wte", "wpe", "drop", "h", "ln_f")),
    "opt": (OPTRunner, ("decoder",)),
}


def runner_for(model: Any, family: Family, max_length: int, what: str = "split mode") -> Runner:
    """The runner of ``model``, or a :class:`ConfigError` saying which architectures ``what`` supports."""
    config = model.config
    model_type = getattr(config, "model_type", "?")
    supported = ", ".join(f"{n} ({'/'.join(FAMILIES[n].model_types)})" for n in SPLIT_FAMILIES)
    if family.runner is None:
        raise ConfigError(
            f"{what} is not supported for architecture {model_type!r} (family {family.name!r}) yet; "
            f"it works with {supported}. Use split = false (full model) instead."
        )
    cls, needed = _RUNNERS[family.runner]
    if family.runner == "llama":
        needed = (*needed, family.top[0])
    missing = [a for a in needed if not hasattr(model, a)]
    if missing:
        raise ConfigError(
            f"{what}: the {model_type!r} model has no {', '.join(missing)} attribute(s), which the "
            f"{family.runner} runner needs; is content_options.family = {family.name!r} right?"
        )
    if family.runner == "bert" and getattr(config, "is_decoder", False):
        raise ConfigError(
            f"{what}: {model_type!r} is configured as a decoder (is_decoder = true); only "
            "bidirectional BERT-like encoders are supported"
        )
    window = getattr(config, "sliding_window", None)
    if family.runner == "llama" and getattr(config, "use_sliding_window", True) and window and window < max_length:
        raise ConfigError(
            f"{what}: the model's sliding_window ({window}) is shorter than max_length "
            f"({max_length}); lower max_length to at most {window} or use split = false"
        )
    return cls(model, family)
