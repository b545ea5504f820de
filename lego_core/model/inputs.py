"""The tensors that flow between bricks.

Items reach a content operator as an :class:`ItemBatch`: every text attribute
is a padded matrix of token ids with its mask, every categorical attribute a
vector of ids. Users reach a behavior operator as history vectors plus a
:class:`UserBatch` (row index and categorical attributes). Predictors also see
:class:`FieldInputs`: the categorical attributes an experiment asked to feed
them as fields of their own (CTR models).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import torch
from torch import Tensor


@attrs.frozen
class ItemBatch:
    """N items, each attribute as its own tensor.

    Args:
        index: ``(N,)`` depot item indices (the row in the item table).
        tokens: text attribute name -> ``(N, L)`` token ids, 0 is padding.
        masks: text attribute name -> ``(N, L)`` bool, True on real tokens.
        categories: categorical attribute name -> ``(N,)`` ids, 0 is unknown.
    """

    index: Tensor
    tokens: Mapping[str, Tensor] = attrs.field(factory=dict)
    masks: Mapping[str, Tensor] = attrs.field(factory=dict)
    categories: Mapping[str, Tensor] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def to(self, device: torch.device | str) -> ItemBatch:
        return ItemBatch(
            index=self.index.to(device),
            tokens={k: v.to(device) for k, v in self.tokens.items()},
            masks={k: v.to(device) for k, v in self.masks.items()},
            categories={k: v.to(device) for k, v in self.categories.items()},
        )


@attrs.frozen
class UserBatch:
    """B user rows (history contexts).

    Args:
        index: ``(B,)`` row indices in the depot's user table (a row is a
            history context, not necessarily a person).
        person: ``(B,)`` ids of the person behind each row (the ``user_id``
            vocabulary; 0 is unknown); operators with a per-user embedding
            (LSTUR) index it with this.
        categories: categorical user attribute name -> ``(B,)`` ids.
    """

    index: Tensor
    person: Tensor | None = None
    categories: Mapping[str, Tensor] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return int(self.index.shape[0])


@attrs.frozen
class FieldInputs:
    """Categorical attributes fed to a predictor as fields of their own, and the pairs' identities.

    A multi-valued attribute (a ``tokens`` column: genres, tags) carries one
    more dimension, its values padded with id 0 (see ``Attribute.kind`` in the
    model context); the predictor pools them.

    Args:
        item: attribute name -> ``(B, K)`` ids of each candidate's attribute (``(B, K, L)`` multi-valued).
        user: attribute name -> ``(B,)`` ids of the user's attribute (``(B, L)`` multi-valued).
        rows: ``(B,)`` the users' rows in the depot's user table, or None.
        candidates: ``(B, K)`` the candidates' item indices, or None. A predictor
            that reads the pair's raw data itself (a language model scoring a prompt
            made of the user's history and the candidate's text) needs these two;
            the engine always fills them.
    """

    item: Mapping[str, Tensor] = attrs.field(factory=dict)
    user: Mapping[str, Tensor] = attrs.field(factory=dict)
    rows: Tensor | None = None
    candidates: Tensor | None = None

    @property
    def names(self) -> list[str]:
        return [f"item.{n}" for n in self.item] + [f"user.{n}" for n in self.user]
