"""LSTUR's user encoder: a GRU over the history with a long-term user embedding."""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import UserBatch
from lego_text.masking import real_items_first


@attrs.define(kw_only=True, frozen=True)
class GRUConfig:
    mode: str = attrs.field(
        default="ini",
        validator=v.in_(["ini", "con"]),
        metadata={
            "doc": 'How the long-term embedding enters: "ini" (initial GRU state, LSTUR-ini) or "con" (concatenated '
            "with the GRU output, then projected, LSTUR-con)."
        },
    )
    user_dropout: float = attrs.field(
        default=0.5,
        validator=[v.ge(0.0), v.lt(1.0)],
        metadata={
            "doc": "Probability of masking a user's long-term embedding during training (LSTUR: 0.5); 0 disables."
        },
    )


class GRUOperator(BehaviorOperator):
    """Short-term interest from a GRU over clicked items, long-term interest from a user embedding.

    Paper: An et al., "Neural News Recommendation with Long- and Short-term
    User Representations", ACL 2019, https://aclanthology.org/P19-1033/.

    The GRU reads the real history items oldest to newest: rows are realigned
    (real items first, order kept, whichever side the padding is on) and
    packed, so padding never enters the GRU. The
    long-term representation is ``nn.Embedding(num_persons, D)`` indexed by
    ``user.person`` (id 0, an unknown person, has a zero vector); during
    training it is zeroed per user with probability ``user_dropout``.

    - ``mode = "ini"``: it is the GRU's initial state; the user vector is the last state.
    - ``mode = "con"``: ``[long-term; last state]`` is projected to ``hidden_size``.

    An empty history gives the long-term embedding (``ini``) or the projection
    of ``[long-term; 0]`` (``con``).

    Args:
        options: :class:`GRUConfig`.
        context: the model context (``hidden_size``, ``num_persons``).

    Example:
        >>> from lego_core.testing import make_context, random_users
        >>> context = make_context(hidden_size=16)
        >>> op = GRUOperator(options=GRUConfig(mode="con"), context=context)
        >>> mask = torch.tensor([[False, True, True], [False, False, True]])
        >>> op(torch.randn(2, 3, 16), mask, random_users(context, 2)).shape
        torch.Size([2, 16])
    """

    name = "gru"
    paper = "An et al., Neural News Recommendation with Long- and Short-term User Representations, ACL 2019. https://aclanthology.org/P19-1033/"
    Options = GRUConfig
    needs_user_index = True

    def __init__(self, *, options: GRUConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        hidden = context.hidden_size
        self.long_term = nn.Embedding(max(context.num_persons, 1), hidden, padding_idx=0)
        nn.init.normal_(self.long_term.weight, std=0.1)
        with torch.no_grad():
            self.long_term.weight[0].zero_()
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.projection = nn.Linear(2 * hidden, hidden) if self.options.mode == "con" else None

    def _long_term(self, user: UserBatch, batch: int) -> Tensor:
        if user is None or user.person is None:
            raise ValueError(
                "behavior operator 'gru' needs user.person (the depot's user_id column) for the "
                "long-term user embedding"
            )
        long_term = self.long_term(user.person)  # (B, D)
        p = self.options.user_dropout
        if self.training and p > 0:
            keep = torch.rand(batch, 1, device=long_term.device) >= p  # (B, 1)
            long_term = long_term * keep.to(long_term.dtype)
        return long_term

    def forward(self, history: Tensor, mask: Tensor, user: UserBatch) -> Tensor:
        batch = history.shape[0]
        long_term = self._long_term(user, batch)  # (B, D)
        ordered, lengths = real_items_first(history, mask)  # (B, H, D) real items first, (B,)
        has_history = (lengths > 0).unsqueeze(1)  # (B, 1)
        packed = pack_padded_sequence(ordered, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        initial = long_term if self.projection is None else torch.zeros_like(long_term)
        _, last = self.gru(packed, initial.unsqueeze(0).contiguous())  # (1, B, D)
        short_term = torch.where(has_history, last[0], initial)  # (B, D)
        if self.projection is None:
            return short_term
        return self.projection(torch.cat([long_term, short_term], dim=-1))  # (B, D)
