"""The ``llmrec`` predictor: a causal language model asked whether the user would like the candidate.

Papers: Bao et al., "TALLRec: An Effective and Efficient Tuning Framework to
Align Large Language Model with Recommendation", RecSys 2023,
https://doi.org/10.1145/3604915.3608857 (LoRA fine-tuning on Yes/No answers);
Liu et al., "Benchmarking LLMs as recommenders" (RecBench, the KDD'24
Legommenders slides): language models scoring user-item pairs directly,
zero-shot and fine-tuned, on the same depots and metrics as every other model.

Idea: for a pair (user row, candidate) write a prompt: the user's recent
items, the candidate, a question (``prompt``, a template with the fields
``{history}`` and ``{candidate}``, and any user column such as a generated
``{profile}``). The causal LM reads it, and the score is how much more it
would answer the affirmative word than the negative one:
``score = log P(yes | prompt) - log P(no | prompt)`` (``score = "contrast"``),
so ``sigmoid(score)`` is ``P(yes) / (P(yes) + P(no))``; or ``score = "yes"``,
the logit of ``P(yes)`` over the whole vocabulary. Scores are logits, so
every task and metric applies: zero-shot (``train.epochs = 0``), or
fine-tuned with LoRA (``lora_r``) on the training pairs with the
``pointwise`` task (binary cross-entropy on the positive and its sampled
negatives: the Yes/No answer) or any other.

The prompt is assembled from pieces tokenised once (:mod:`lego_llm.sequences`:
every item's text once, in a depot cache), within ``max_length`` tokens (the
oldest history items go first); with a chat template (``chat_template``) the
prompt is the user's message and the answer starts the assistant's turn.

**Batched and cached.** The engine hands the predictor many pairs at a time
(a training batch, or ``train.eval_batch_size`` pairs in evaluation), in
groups of ``pair_batch_size``. In each group the part of the prompt before
``{candidate}`` (the user's part) runs once per distinct user row with
``use_cache``; its key-value cache is copied to the row's pairs and only the
candidate's part runs per pair (``share_prefix``). A user in an impression
with 20 candidates thus pays for the history once, not 20 times. The model's
head is applied to the last position only (``logits_to_keep = 1``).

The predictor reads the pair itself (``fields.rows`` and
``fields.candidates``): the user and candidate vectors of the other bricks
are not used, so the presets pair it with the cheapest ones (``id`` and
``mean``).

Example:
    >>> LLMRecConfig(model="/models/llama", lora_r=8).score
    'contrast'
"""

from __future__ import annotations

import inspect
import string
from typing import Any

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from lego_core.errors import ConfigError, DataError
from lego_core.model.bricks import Predictor
from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_llm.backbone import enable_checkpointing
from lego_llm.checkpoint import keep_only_trained
from lego_llm.families import family_of
from lego_llm.generation import CHAT_CHOICES, check_generative
from lego_llm.layout import make_layout, text_attributes
from lego_llm.loading import load_model, load_tokenizer, resolve_source
from lego_llm.runners import position_ids
from lego_llm.sequences import Pieces, fill_history, framing, pad_left, text_ids
from lego_llm.tokens import pad_id_of
from lego_llm.tuning import LanguageModelOptions, tune

DEFAULT_PROMPT = (
    "A user engaged with these items, oldest first:\n{history}\n"
    "Will the user like this item?\n{candidate}\nAnswer Yes or No.\nAnswer:"
)
SENTINEL = "\u241f"  # a character no prompt holds, to split a rendered chat template around the message


@attrs.define(kw_only=True, frozen=True)
class LLMRecConfig(LanguageModelOptions):
    prompt: str = attrs.field(
        default=DEFAULT_PROMPT,
        metadata={"doc": "The question, a template with {history} and {candidate} (and user columns, e.g. {profile})."},
    )
    item_template: str | None = attrs.field(
        default=None,
        metadata={
            "doc": 'How an item is written in the prompt, e.g. "{title}"; default: the item attributes joined as '
            '"name: value".'
        },
    )
    separator: str = attrs.field(default="\n", metadata={"doc": "Between the history items."})
    max_history: int = attrs.field(
        default=20,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Most recent history items in the prompt."},
    )
    item_max_length: int = attrs.field(
        default=32, validator=[v.instance_of(int), v.gt(0)], metadata={"doc": "Tokens kept per item text."}
    )
    user_max_length: int = attrs.field(
        default=64,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Tokens kept per user column in the prompt."},
    )
    max_length: int = attrs.field(
        default=512,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Tokens of the whole prompt; the oldest history items are dropped first."},
    )
    yes: str | None = attrs.field(
        default=None,
        metadata={
            "doc": 'The affirmative answer as it follows the prompt; default " Yes" (with a chat template "Yes"). Its '
            "first token is scored."
        },
    )
    no: str | None = attrs.field(
        default=None, metadata={"doc": 'The negative answer; default " No" (with a chat template "No").'}
    )
    score: str = attrs.field(
        default="contrast",
        validator=v.in_(("contrast", "yes")),
        metadata={"doc": '"contrast": log P(yes) - log P(no); "yes": the logit of P(yes) over the whole vocabulary.'},
    )
    chat_template: str = attrs.field(
        default="auto",
        validator=v.in_(CHAT_CHOICES),
        metadata={
            "doc": '"auto": wrap the prompt as a user message when the tokenizer has a chat template; "on" requires '
            'one; "off".'
        },
    )
    share_prefix: bool = attrs.field(
        default=True,
        metadata={
            "doc": "Run the user's part of the prompt once per distinct user row and reuse its key-value cache for "
            "each candidate."
        },
    )
    pair_batch_size: int = attrs.field(
        default=32,
        validator=[v.instance_of(int), v.gt(0)],
        metadata={"doc": "Pairs per forward pass of the language model (bounds memory)."},
    )


def _cache_names(model: Any) -> tuple[str, str]:
    """The keyword a model's forward takes its key-value cache by, and the output attribute that returns it."""
    name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    return name, name


class LLMRecPredictor(Predictor):
    """Scores ``(B, K)``: how much a causal LM prefers answering Yes for each (user row, candidate) pair.

    Args:
        options: :class:`LLMRecConfig`.
        context: the model context (``depot_path`` for histories and texts, ``item_attributes`` for the
            default item template).
    """

    name = "llmrec"
    paper = "Bao et al., RecSys 2023 (TALLRec). https://doi.org/10.1145/3604915.3608857; RecBench (LLMs as RS)"
    Options = LLMRecConfig

    def __init__(self, *, options: LLMRecConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        o: LLMRecConfig = self.options
        where = "predictor_options"
        if context.depot_path is None:
            raise ValueError(
                "the llmrec predictor reads histories and item text from the depot; the model context has no depot_path"
            )
        from lego_core.data.depot import Depot

        source = resolve_source(o.model, o.revision, f"{where}.model")
        check_generative(source, f"{where}.model")
        self.tokenizer = load_tokenizer(source, f"{where}.model")
        self.model = load_model(source, o.dtype, f"{where}.model", causal_lm=True)
        config = self.model.config
        self.family = family_of(getattr(config, "model_type", ""), o.family, config)
        base = getattr(self.model, "base_model_prefix", "")
        top = tuple(f"{base}.{t}" for t in self.family.top) if base and hasattr(self.model, base) else self.family.top
        tuning = tune(
            self.model,
            attrs.evolve(self.family, top=top),
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
        self._compile_prompt(o, Depot(context.depot_path), text_attributes(context), source.revision, where)
        self.cache_arg, self.cache_out = _cache_names(self.model)
        self.excluded = keep_only_trained(self, "model.")
        self.train()

    # ------------------------------------------------------------------ the prompt
    def _compile_prompt(
        self, o: LLMRecConfig, depot: Any, attributes: list[str], revision: str | None, where: str
    ) -> None:
        tokenizer = self.tokenizer
        layout = make_layout([], o.prompt, where=f"{where}.prompt")
        for needed in ("history", "candidate"):
            if needed not in layout.fields:
                raise ConfigError(f"{where}.prompt = {o.prompt!r} needs the field {{{needed}}}")
        user_fields = [f for f in layout.fields if f not in ("history", "candidate")]
        item_layout = make_layout(attributes, o.item_template, where=f"{where}.item_template")
        self.pieces = Pieces(
            depot,
            tokenizer,
            item_layout,
            item_max_length=o.item_max_length,
            max_history=o.max_history,
            user_fields=user_fields,
            user_max_length=o.user_max_length,
            revision=revision,
            where=f"{where}.prompt",
        )
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if o.chat_template == "on" and not has_template:
            raise ConfigError(f'{where}.chat_template = "on": the tokenizer of {o.model!r} has no chat template')
        self.chat = has_template and o.chat_template != "off"
        if self.chat:
            rendered = str(
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": SENTINEL}], tokenize=False, add_generation_prompt=True
                )
            )
            before, _, after = rendered.partition(SENTINEL)
            head, tail = text_ids(tokenizer, before), text_ids(tokenizer, after)
        else:
            head, tail = framing(tokenizer)[0], []
        # parts: ("ids", list) | ("history", None) | ("candidate", None) | ("user", field)
        parts: list[tuple[str, Any]] = [("ids", head)]
        for literal, field, _, _ in string.Formatter().parse(layout.template):
            parts.append(("ids", text_ids(tokenizer, literal)))
            if field:
                parts.append((field if field in ("history", "candidate") else "user", field))
        parts.append(("ids", tail))
        cut = next(i for i, (kind, _) in enumerate(parts) if kind == "candidate")
        self.prefix_parts, self.suffix_parts = parts[:cut], parts[cut:]
        fixed = (
            sum(len(p) for kind, p in parts if kind == "ids") + o.item_max_length + o.user_max_length * len(user_fields)
        )
        if fixed >= o.max_length:
            raise ConfigError(
                f"{where}.max_length = {o.max_length}: the prompt's fixed text, the candidate "
                f"({o.item_max_length} tokens) and the user columns need {fixed}; raise max_length "
                "or shorten the prompt"
            )
        self.fixed = fixed
        yes = o.yes if o.yes is not None else ("Yes" if self.chat else " Yes")
        no = o.no if o.no is not None else ("No" if self.chat else " No")
        yes_ids, no_ids = text_ids(tokenizer, yes), text_ids(tokenizer, no)
        if not yes_ids or not no_ids or yes_ids[0] == no_ids[0]:
            raise ConfigError(
                f"{where}.yes / no = {yes!r} / {no!r}: their first tokens must exist and differ "
                f"(got {yes_ids[:1]} and {no_ids[:1]})"
            )
        self.yes_id, self.no_id = yes_ids[0], no_ids[0]
        self.separator = text_ids(tokenizer, o.separator)
        self.pad_id = pad_id_of(tokenizer)

    def _ids(self, parts: list[tuple[str, Any]], row: int, item: int | None, history: list[int]) -> list[int]:
        out: list[int] = []
        for kind, value in parts:
            if kind == "ids":
                out.extend(value)
            elif kind == "history":
                out.extend(history)
            elif kind == "candidate":
                assert item is not None
                out.extend(self.pieces.item(item))
            else:
                out.extend(self.pieces.user(value, row))
        return out

    def prompt_ids(self, row: int, item: int | None = None) -> tuple[list[int], list[int]]:
        """The prompt of ``(row, item)`` as (the user's part, the candidate's part) of token ids."""
        o: LLMRecConfig = self.options
        used = self.fixed - o.item_max_length - o.user_max_length * len(self.pieces.user_fields)
        used += sum(len(self.pieces.user(f, row)) for f in self.pieces.user_fields)
        used += len(self.pieces.item(item)) if item is not None else o.item_max_length
        history = fill_history(self.pieces.history(row), self.separator, o.max_length - used)
        prefix = self._ids(self.prefix_parts, row, item, history)
        suffix = self._ids(self.suffix_parts, row, item, history) if item is not None else []
        return prefix, suffix

    # ------------------------------------------------------------------ scoring
    def train(self, mode: bool = True) -> LLMRecPredictor:
        """Like ``nn.Module.train``, but the frozen subtrees of the language model stay in eval mode."""
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None) -> Tensor:
        if fields.rows is None or fields.candidates is None:
            raise DataError(
                "the llmrec predictor scores the pair itself and needs fields.rows and "
                "fields.candidates (the engine fills them; a caller of the predictor must too)"
            )
        b, k = fields.candidates.shape
        rows = fields.rows[:, None].expand(b, k).reshape(-1).tolist()
        items = fields.candidates.reshape(-1).tolist()
        size = self.options.pair_batch_size
        scores = [self.score_pairs(rows[s : s + size], items[s : s + size]) for s in range(0, len(rows), size)]
        return torch.cat(scores).view(b, k).to(candidates.device)

    def _logits(self, **kwargs: Any) -> Any:
        return self.model(logits_to_keep=1, **kwargs).logits[:, -1, :].float()  # (P, V)

    def score_pairs(self, rows: list[int], items: list[int]) -> Tensor:
        """Scores ``(P,)`` of the pairs ``(rows[i], items[i])``."""
        device = next(self.model.parameters()).device
        distinct = sorted(set(rows))
        slot = {r: i for i, r in enumerate(distinct)}
        prompts = [self.prompt_ids(r, i) for r, i in zip(rows, items, strict=True)]
        share = (
            self.options.share_prefix
            and not (self.options.gradient_checkpointing and self.training)
            and self.family.positions != "model"
        )
        if share:
            first: dict[int, list[int]] = {}
            for (prefix, _), row in zip(prompts, rows, strict=True):
                first.setdefault(row, prefix)
            prefixes = [first[d] for d in distinct]
            ids, mask = (torch.from_numpy(a).to(device) for a in pad_left(prefixes, self.pad_id))
            pos = position_ids(mask, self.family, self.model.config)
            # the user's part: its key-value cache is what counts; one position of logits is the least the head
            # computes (a whole prompt's logits over a 150k vocabulary would be gigabytes)
            out = self.model(
                input_ids=ids, attention_mask=mask.long(), position_ids=pos, use_cache=True, logits_to_keep=1
            )
            cache = getattr(out, self.cache_out)
            index = torch.tensor([slot[r] for r in rows], device=device)
            cache.batch_select_indices(index)  # one copy of the user's part per pair
            suffix, suffix_mask = (
                torch.from_numpy(a).to(device) for a in pad_left([s for _, s in prompts], self.pad_id)
            )
            full_mask = torch.cat([mask[index], suffix_mask], dim=1)
            lengths = mask.sum(1)[index]  # the suffix continues the numbering of the user's part
            suffix_pos = (lengths[:, None] + suffix_mask.long().cumsum(1) - 1).clamp(min=0)
            logits = self._logits(
                input_ids=suffix, attention_mask=full_mask.long(), position_ids=suffix_pos, **{self.cache_arg: cache}
            )
        else:
            ids, mask = (torch.from_numpy(a).to(device) for a in pad_left([p + s for p, s in prompts], self.pad_id))
            pos = position_ids(mask, self.family, self.model.config)
            kwargs = {"position_ids": pos} if pos is not None else {}
            logits = self._logits(input_ids=ids, attention_mask=mask.long(), **kwargs)
        if self.options.score == "contrast":
            return logits[:, self.yes_id] - logits[:, self.no_id]
        log_yes = torch.log_softmax(logits, dim=-1)[:, self.yes_id]
        return log_yes - torch.log(-torch.expm1(log_yes).clamp(max=-1e-12))  # log p - log(1 - p)


__all__ = ["DEFAULT_PROMPT", "LLMRecConfig", "LLMRecPredictor"]
