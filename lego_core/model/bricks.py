"""Base classes of the three bricks: content operator, behavior operator, predictor.

A brick is an ``nn.Module`` with a ``name`` (the key a TOML file uses) and a
nested attrs ``Options`` class (its options table is structured into it). The
engine builds it as ``cls(options=..., context=...)``: options are the
brick's own knobs, the :class:`~lego_core.model.context.ModelContext` holds
facts about the data. Class attributes declare what a brick consumes and
produces, so an incompatible combination is refused before training.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs, ItemBatch, UserBatch
from lego_core.options import NoOptions
from lego_core.registry import Kind

__all__ = ["BEHAVIOR", "CONTENT", "PREDICTOR", "BehaviorOperator", "Brick", "ContentOperator", "NoOptions", "Predictor"]


class Brick(nn.Module):
    """What every brick shares: name, options, context.

    Subclasses set ``name`` and, if they have knobs, a nested ``Options``
    attrs class. ``paper`` is a citation shown by ``lego list``.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    Options: ClassVar[type[Any]] = NoOptions

    def __init__(self, *, options: Any = None, context: ModelContext) -> None:
        super().__init__()
        self.options = self.Options() if options is None else options
        self.context = context

    def auxiliary_loss(self) -> Tensor | None:
        """An extra training-loss term from the last forward pass, or None (the default).

        The trainer adds the terms of all three bricks to the task's loss after
        every training forward pass (never during evaluation), so a brick with a
        regulariser computes it in ``forward`` (when ``self.training``), keeps
        it, and returns it here, already weighted (MINER's disagreement term).
        """
        return None


class ContentOperator(Brick):
    """Item inputs -> item vectors ``(N, D)``.

    ``uses_content = False`` marks operators that ignore item attributes (the
    ID embedding table); the engine then loads no text for them.
    """

    kind: ClassVar[str] = "content"
    uses_content: ClassVar[bool] = True

    def forward(self, items: ItemBatch) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward(items) -> (N, D)")

    def prepare(self, store: Any) -> None:
        """Called once with the whole item store before training or evaluation.

        Operators that precompute something over every item (a frozen language
        model's lower layers in split mode) do it here. The default does nothing.
        """


class BehaviorOperator(Brick):
    """History vectors ``(B, H, D)`` + mask ``(B, H)`` -> user representation.

    A row holds the user's last ``H`` items in time order (oldest first, most
    recent last), then padding: ``mask`` is True on real items, which always
    come first. Padded vectors are zeros; an operator's output must not depend
    on them, and an all-padding row (an empty history) must give finite values.

    ``output = "vector"``: return ``(B, D)``.
    ``output = "sequence"``: return ``(vectors (B, S, D), mask (B, S))`` for a
    predictor that attends over the history itself (DIN) or over several
    interest vectors (MINER).
    ``needs_user_index = True``: the operator reads ``user.person`` (LSTUR's
    long-term user embedding), so the depot's user table must have a
    ``user_id`` column.
    """

    kind: ClassVar[str] = "behavior"
    output: ClassVar[str] = "vector"
    needs_user_index: ClassVar[bool] = False

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Any:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} must implement forward(history, mask, user)")

    def pool_bags(self, vectors: Tensor, index: Tensor, offsets: Tensor, user: UserBatch) -> Tensor | None:
        """Optional fast path for an operator that pools a bag of items, order and padding aside.

        ``vectors`` ``(I, D)`` are item vectors; ``index`` ``(N,)`` lists every row's real history
        items (rows into ``vectors``), row after row in history order; row ``b`` starts at
        ``offsets[b]`` (``(B,)``). Return the user vectors ``(B, D)`` equal to what ``forward`` gives
        on the padded history; the engine then never builds the ``(B, H, D)`` history (one of a CTR
        training step's largest costs). None (the default): use ``forward``.
        """
        return None


class Predictor(Brick):
    """User representation + candidates ``(B, K, D)`` -> scores ``(B, K)`` (logits).

    ``input = "vector"``: ``user`` is ``(B, D)`` and ``user_mask`` is None.
    ``input = "sequence"``: ``user`` is ``(B, S, D)`` with ``user_mask (B, S)``.
    ``tasks``: the tasks it can train: ``matching`` (softmax over one
    positive and ``neg_count`` negatives) and/or ``ranking`` (binary
    cross-entropy per pair).
    """

    kind: ClassVar[str] = "predictor"
    input: ClassVar[str] = "vector"
    tasks: ClassVar[frozenset[str]] = frozenset({"matching", "ranking"})

    def forward(
        self, user: Tensor, candidates: Tensor, fields: FieldInputs, user_mask: Tensor | None = None
    ) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward(user, candidates, fields)")


CONTENT: Kind[type[ContentOperator]] = Kind(
    "content", hook="lego_register_content_operators", base=ContentOperator, noun="content operator"
)
BEHAVIOR: Kind[type[BehaviorOperator]] = Kind(
    "behavior", hook="lego_register_behavior_operators", base=BehaviorOperator, noun="behavior operator"
)
PREDICTOR: Kind[type[Predictor]] = Kind("predictor", hook="lego_register_predictors", base=Predictor, noun="predictor")
