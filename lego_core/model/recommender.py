"""The assembled model: content operator -> behavior operator -> predictor.

Two ways to score, which must agree to float tolerance:

- :meth:`Recommender.forward` (training and the uncached evaluation): the
  distinct items of a batch, history and candidates together, go through the
  content operator once (in pages of ``item_page_size``) and are gathered back.
- :meth:`encode_items_read_by` (or :meth:`encode_all_items`) +
  :meth:`encode_users` + :meth:`score_pairs` (cached evaluation): every item
  the split reads once, every user row once, then only the predictor per pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lego_core.model.bricks import BehaviorOperator, ContentOperator, Predictor
from lego_core.model.checks import OutputCheck
from lego_core.model.inputs import FieldInputs
from lego_core.model.stores import ItemStore, UserStore
from lego_core.model.unique_ids import unique_ids


class Recommender(nn.Module):
    """Three bricks plus the stores they read.

    Args:
        content, behavior, predictor: the bricks.
        items, users: feature stores (not parameters; not saved in checkpoints).
        item_fields, user_fields: categorical attributes fed to the predictor.
        page_size: items per content-operator call.
    """

    def __init__(
        self,
        content: ContentOperator,
        behavior: BehaviorOperator,
        predictor: Predictor,
        items: ItemStore,
        users: UserStore,
        item_fields: Sequence[str] = (),
        user_fields: Sequence[str] = (),
        page_size: int = 1024,
        names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        # every brick's output is checked against its contract (lego_core.model.checks)
        self.check = OutputCheck(
            names or {"content": content.name, "behavior": behavior.name, "predictor": predictor.name}
        )
        self.content = content
        self.behavior = behavior
        self.predictor = predictor
        self.items = items
        self.users = users
        self.item_fields = list(item_fields)
        self.user_fields = list(user_fields)
        self.page_size = page_size

    # ----------------------------------------------------------------- pieces
    def encode_items(self, index: Tensor) -> Tensor:
        """Vectors ``(M, D)`` of the given items, encoded in pages of ``page_size``."""
        hidden = self.content.context.hidden_size
        if index.numel() == 0:
            return torch.zeros(0, hidden, device=self.items.device)
        pages = []
        for s in range(0, index.numel(), self.page_size):
            page = index[s : s + self.page_size]
            out = self.content(self.items.batch(page))
            self.check.content(out, page.numel(), hidden)
            pages.append(out)
        return pages[0] if len(pages) == 1 else torch.cat(pages)

    def behave(self, history_vectors: Tensor, mask: Tensor, rows: Tensor) -> tuple[Tensor, Tensor | None]:
        out: Any = self.behavior(history_vectors, mask, self.users.batch(rows))
        sequence = self.behavior.output == "sequence"
        if sequence and not (isinstance(out, tuple) and len(out) == 2):
            raise self.check._fail(
                "behavior", 'keeps a sequence (output = "sequence") but did not return (vectors, mask)'
            )
        user, user_mask = (out[0], out[1]) if sequence else (out, None)
        self.check.behavior(user, user_mask, rows.numel(), history_vectors.shape[-1], sequence)
        return user, user_mask

    def behave_bags(self, vectors: Tensor, index: Tensor, counts: Tensor, rows: Tensor) -> Tensor | None:
        """User vectors ``(B, D)`` through the behavior's flat-bag path, or None when it has none.

        ``index`` ``(N,)`` holds the real history items of ``rows`` (rows into ``vectors``), row
        after row, ``counts`` ``(B,)`` how many each row has (:meth:`UserStore.real_history`).
        """
        if not self.has_bags():
            return None
        user = self.behavior.pool_bags(vectors, index, counts.cumsum(0) - counts, self.users.batch(rows))
        if user is not None:
            self.check.behavior(user, None, rows.numel(), vectors.shape[-1], False)
        return user

    def has_bags(self) -> bool:
        """Whether the behavior operator has a flat-bag path (:meth:`BehaviorOperator.pool_bags`)."""
        return self.behavior.output == "vector" and type(self.behavior).pool_bags is not BehaviorOperator.pool_bags

    def fields(self, rows: Tensor, candidates: Tensor) -> FieldInputs:
        """The predictor's fields: ``(B, K)`` ids per item field (``(B, K, L)`` for a multi-valued one,
        padded with 0), ``(B,)`` per user field (``(B, L)``)."""
        return FieldInputs(
            item={
                n: (self.items.categories[n] if n in self.items.categories else self.items.tokens[n])[candidates]
                for n in self.item_fields
            },
            user={n: self.users.categories[n][rows] for n in self.user_fields},
            rows=rows,
            candidates=candidates,
        )

    def predict(
        self, user: Tensor, user_mask: Tensor | None, candidate_vectors: Tensor, rows: Tensor, candidates: Tensor
    ) -> Tensor:
        scores = self.predictor(user, candidate_vectors, self.fields(rows, candidates), user_mask)
        self.check.predictor(scores, candidates.shape[0], candidates.shape[1])
        return scores

    # ----------------------------------------------------------------- plain path
    def forward(self, rows: Tensor, candidates: Tensor) -> Tensor:
        """Scores ``(B, K)`` of candidates ``(B, K)`` for user rows ``(B,)``.

        Each distinct item among the real history items and the candidates is
        encoded once, and each distinct user row of the batch goes through the
        behavior operator once (a ranking batch holds each user many times);
        padded history slots are never encoded. A behavior with a flat-bag path
        (:meth:`BehaviorOperator.pool_bags`, e.g. ``mean``) pools straight from
        the distinct item vectors: no ``(U, H, D)`` history is built.
        """
        rows = rows.to(self.items.device)
        candidates = candidates.to(self.items.device)
        distinct, row_of = unique_ids(rows, self.users.num_users)  # (U,), (B,)
        history, counts = self.users.real_history(distinct)  # (N,), (U,)
        unique, inverse = unique_ids(torch.cat([history, candidates.reshape(-1)]), self.items.num_items)
        vectors = self.encode_items(unique)  # (I, D)
        n_hist = history.numel()
        candidate_vectors = vectors[inverse[n_hist:]].view(*candidates.shape, -1)  # (B, K, D)
        user_mask: Tensor | None = None
        bagged = self.behave_bags(vectors, inverse[:n_hist], counts, distinct)
        if bagged is not None:
            user = bagged
        else:
            mask = self.users.mask[distinct]  # (U, H)
            history_vectors = vectors.new_zeros(*mask.shape, vectors.shape[-1])  # (U, H, D)
            history_vectors[mask] = vectors[inverse[:n_hist]]
            user, user_mask = self.behave(history_vectors, mask, distinct)
        if distinct.numel() != rows.numel() or not torch.equal(distinct, rows):  # back to the batch's order
            user = user[row_of]
            user_mask = None if user_mask is None else user_mask[row_of]
        return self.predict(user, user_mask, candidate_vectors, rows, candidates)

    def auxiliary_loss(self) -> Tensor | None:
        """The sum of the bricks' auxiliary loss terms of the last forward pass, or None."""
        terms = [
            t
            for t in (self.content.auxiliary_loss(), self.behavior.auxiliary_loss(), self.predictor.auxiliary_loss())
            if t is not None
        ]
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else torch.stack([t.float() for t in terms]).sum()

    # ----------------------------------------------------------------- cached path
    @torch.no_grad()
    def encode_all_items(self) -> Tensor:
        """The item cache: every item encoded once, ``(num_items, D)``."""
        return self.encode_items(torch.arange(self.items.num_items, device=self.items.device))

    @torch.no_grad()
    def encode_items_read_by(self, rows: Tensor, items: Tensor) -> Tensor:
        """An item cache ``(num_items, D)`` holding only what pairs of ``rows`` x ``items`` read.

        The candidates and the real history items of the distinct user rows are
        encoded, once each; every other row stays zero and is never read (a
        test split touches a fraction of a large catalogue).
        """
        distinct = torch.unique(rows.to(self.items.device))
        history, _ = self.users.real_history(distinct)
        needed = torch.unique(torch.cat([history, items.to(self.items.device).reshape(-1)]))
        vectors = self.encode_items(needed)
        cache = vectors.new_zeros(self.items.num_items, vectors.shape[-1])
        cache[needed] = vectors
        return cache

    @torch.no_grad()
    def encode_users(self, rows: Tensor, item_cache: Tensor, page_size: int = 1024) -> tuple[Tensor, Tensor | None]:
        """The user cache for ``rows``: each row's representation computed once."""
        reps: list[Tensor] = []
        masks: list[Tensor | None] = []
        for s in range(0, rows.numel(), page_size):
            page = rows[s : s + page_size]
            if self.has_bags():
                items, counts = self.users.real_history(page)
                bagged = self.behave_bags(item_cache, items, counts, page)
                if bagged is not None:
                    reps.append(bagged)
                    masks.append(None)
                    continue
            history = self.users.history[page]
            mask = self.users.mask[page]
            vectors = item_cache[history] * mask.unsqueeze(-1).to(item_cache.dtype)
            rep, rep_mask = self.behave(vectors, mask, page)
            reps.append(rep)
            masks.append(rep_mask)
        user = torch.cat(reps)
        if masks[0] is None:
            return user, None
        return user, torch.cat([m for m in masks if m is not None])

    @torch.no_grad()
    def score_pairs(
        self, user: Tensor, user_mask: Tensor | None, item_cache: Tensor, rows: Tensor, items: Tensor
    ) -> Tensor:
        """Scores ``(P,)`` of pairs: ``user``/``user_mask`` are already gathered per pair."""
        candidates = items.unsqueeze(1)  # (P, 1)
        return self.predict(user, user_mask, item_cache[candidates], rows, candidates).squeeze(1)
