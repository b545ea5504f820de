"""Model families: what differs between architectures, in one table.

A family gives the defaults a user would otherwise look up per architecture:
the pooling that fits it (encoders: mean over tokens; decoders: the last real
token, the only one that has seen the whole text), the linear layers LoRA
adapts, how position ids are made, the modules above the layer stack (trained
with the top layers when ``tune_from`` is set), and which split-mode runner
can run its layers one by one (:mod:`lego_llm.runners`).

``family = "auto"`` picks the family from the checkpoint's
``config.model_type``; an architecture not in the table still works in full
mode (``pooling`` from ``config.is_decoder``/``architectures``, LoRA targets
must be given), but not in split mode or IISAN.

Every architecture listed is native to transformers (no ``trust_remote_code``).

Example:
    >>> FAMILIES["llama"].pooling, FAMILIES["llama"].lora_targets
    ('last', ('q_proj', 'v_proj'))
    >>> family_of("roberta", "auto").name
    'roberta'
"""

from __future__ import annotations

from typing import Any

import attrs

from lego_core.errors import ConfigError


@attrs.frozen
class Family:
    """Per-architecture defaults.

    Args:
        name: the family key (``content_options.family``).
        model_types: ``config.model_type`` values that belong to it.
        decoder: causal language model (left-to-right attention).
        pooling: default pooling (``"cls"``, ``"mean"`` or ``"last"``).
        lora_targets: default LoRA target module names (last name component).
        positions: how position ids are passed: ``"absolute"`` (learned table,
            first real token at 0), ``"padding_offset"`` (RoBERTa: starts at
            ``pad_token_id + 1``), ``"rotary"`` (first real token at 0, left
            padding gets negative positions, which rotary embeddings accept),
            ``"model"`` (the model computes them itself from the mask).
        top: modules above the layer stack (a final norm).
        runner: the split-mode runner (``"bert"``, ``"llama"`` for rotary decoders, ``"gpt2"``,
            ``"opt"``; :mod:`lego_llm.runners`) or None.
    """

    name: str
    model_types: tuple[str, ...]
    decoder: bool
    pooling: str
    lora_targets: tuple[str, ...]
    positions: str
    top: tuple[str, ...] = ()
    runner: str | None = None


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("bert", ("bert",), False, "mean", ("query", "value"), "absolute", runner="bert"),
        Family(
            "roberta",
            ("roberta", "xlm-roberta", "camembert"),
            False,
            "mean",
            ("query", "value"),
            "padding_offset",
            runner="bert",
        ),
        Family("llama", ("llama",), True, "last", ("q_proj", "v_proj"), "rotary", ("norm",), runner="llama"),
        Family("mistral", ("mistral",), True, "last", ("q_proj", "v_proj"), "rotary", ("norm",), runner="llama"),
        Family("qwen", ("qwen2", "qwen3"), True, "last", ("q_proj", "v_proj"), "rotary", ("norm",), runner="llama"),
        Family("gpt2", ("gpt2",), True, "last", ("c_attn",), "absolute", ("ln_f",), runner="gpt2"),
        Family(
            "opt",
            ("opt",),
            True,
            "last",
            ("q_proj", "v_proj"),
            "absolute",
            ("decoder.final_layer_norm", "decoder.project_out"),
            runner="opt",
        ),
        Family("phi", ("phi",), True, "last", ("q_proj", "v_proj"), "rotary", ("final_layernorm",), runner="llama"),
        Family("phi3", ("phi3",), True, "last", ("qkv_proj",), "rotary", ("norm",), runner="llama"),
        Family("glm", ("glm", "glm4"), True, "last", ("q_proj", "v_proj"), "rotary", ("norm",), runner="llama"),
    )
}
FAMILY_NAMES = ("auto", *FAMILIES)


def family_of(model_type: str, choice: str = "auto", config: Any = None) -> Family:
    """The family named ``choice``, or (``"auto"``) the one whose model types include ``model_type``.

    An unknown ``model_type`` under ``"auto"`` gives a generic family: a decoder
    if the config says so, no LoRA targets, no split mode.
    """
    if choice != "auto":
        if choice not in FAMILIES:
            raise ConfigError(f"content_options.family = {choice!r} is not one of {', '.join(FAMILY_NAMES)}")
        return FAMILIES[choice]
    for family in FAMILIES.values():
        if model_type in family.model_types:
            return family
    decoder = bool(getattr(config, "is_decoder", False)) or any(
        str(a).endswith("ForCausalLM") for a in (getattr(config, "architectures", None) or [])
    )
    return Family(
        name=model_type or "generic",
        model_types=(model_type,),
        decoder=decoder,
        pooling="last" if decoder else "mean",
        lora_targets=(),
        positions="model",
    )
