"""The field embedding every CTR predictor of lego-ctr works on.

A CTR model sees a set of fields, each embedded into one shared size ``E``:

1. the user vector ``(B, D)`` (from the behavior operator),
2. the candidate item vector ``(B, K, D)`` (from the content operator),
3. one field per categorical item attribute in ``fields.item`` (``(B, K)`` ids),
4. one field per categorical user attribute in ``fields.user`` (``(B,)`` ids).

The experiment picks 3 and 4 with ``model.item_fields`` / ``model.user_fields``;
the predictor owns their embedding tables. Any categorical column can be a
field, the user and item IDs (``user_id``, ``item_id``) included. A
multi-valued column (kind ``tokens``: genres, tags) is one field too: its ids
come padded with 0 (``(B, K, L)`` or ``(B, L)``) and the field's vector is the
mean of its values' embeddings (zeros when it has none), as RecBole embeds a
``token_seq`` field. With ``field_dim`` equal to ``D`` the two vectors are used
as they are, otherwise each is projected with a Linear. User-side fields are
broadcast over the ``K`` candidates, so every model scores each candidate on
its own ``(F, E)`` matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from lego_core.model.context import Attribute, ModelContext
from lego_core.model.inputs import FieldInputs
from lego_core.model.table_ops import lookup, padded_bag

EMBEDDING_STD = 0.1  # the scale of the core's ID embedding table, so all fields start alike


def field_dim_option() -> Any:
    """The ``field_dim`` attrs field every predictor's config shares."""
    return attrs.field(
        default=None,
        validator=v.optional([v.instance_of(int), v.gt(0)]),
        metadata={
            "doc": "Embedding size E shared by all fields; unset uses hidden_size (the user and item "
            "vectors then enter unprojected), any other size projects them with a Linear."
        },
    )


def pair_indices(num_fields: int) -> tuple[Tensor, Tensor]:
    """Row and column indices of the ``F (F - 1) / 2`` field pairs ``i < j``, in row-major order.

    Example:
        >>> pair_indices(3)
        (tensor([0, 0, 1]), tensor([1, 2, 2]))
    """
    rows, cols = torch.triu_indices(num_fields, num_fields, offset=1)
    return rows, cols


def field_ids(given: Mapping[str, Tensor], name: str, side: str, multi_valued: bool = False) -> Tensor:
    """The ids of field ``name`` in ``fields.item`` or ``fields.user`` (``side``), or a clear error.

    Item ids are ``(B, K)`` and user ids ``(B,)``; a multi-valued field has one more dimension.
    """
    try:
        ids = given[name]
    except KeyError:
        raise ValueError(
            f"the predictor was built with the {side} field {name!r} (model.{side}_fields) but "
            f"fields.{side} holds {sorted(given)}; the engine must pass every configured field"
        ) from None
    expected = (2 if side == "item" else 1) + int(multi_valued)
    if ids.dim() != expected:
        kind = "multi-valued (a tokens column)" if multi_valued else "single-valued (a category column)"
        raise ValueError(
            f"the {side} field {name!r} is {kind}, so its ids need {expected} dimensions, but they "
            f"have {ids.dim()} (shape {tuple(ids.shape)})"
        )
    return ids


def is_multi_valued(attribute: Attribute) -> bool:
    """Whether a field's column holds several values per row (kind ``tokens``)."""
    return attribute.kind == "tokens"


def embed_field(table: nn.Module, ids: Tensor, multi_valued: bool, reduce: str = "mean") -> Tensor:
    """A field's rows of ``table`` for ``ids`` ``(..., [L])`` -> ``(..., W)``; a multi-valued field pooled.

    For a multi-valued field ``ids`` are ``(..., L)`` with 0 as padding; ``reduce`` is ``"mean"``
    (the embedding of the field) or ``"sum"`` (its first-order weight: a logistic regression over
    the multi-hot values). A row with no value gives zeros. The pooling is one bag reduction
    (:func:`lego_core.model.table_ops.padded_bag`: padding excluded from the sum and the count), not
    a gather, a mask multiply and a sum, each with its ``(..., L, W)`` temporary and its backward;
    the lookups and bags of :mod:`lego_core.model.table_ops` have the faster CPU backward.

    Example:
        >>> ids = torch.tensor([[2, 1, 0], [0, 0, 0]])
        >>> table = nn.Embedding.from_pretrained(torch.tensor([[9.0], [1.0], [3.0]]))  # row 0: padding
        >>> embed_field(table, ids, True).tolist(), embed_field(table, ids, True, "sum").tolist()
        ([[2.0], [0.0]], [[4.0], [0.0]])
    """
    weight = table.get_parameter("weight")
    return padded_bag(weight, ids, reduce) if multi_valued else lookup(weight, ids)


class FieldEmbedding(nn.Module):
    """Embeds the user vector, the candidate vectors and the categorical fields as ``(B, K, F, E)``.

    Args:
        context: the model context; ``hidden_size`` is ``D``, ``item_fields`` and
            ``user_fields`` name the categorical fields and their vocabulary sizes.
        field_dim: the embedding size ``E`` (None: ``D``).

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()  # D = 16, item field "category", user field "age"
        >>> embed = FieldEmbedding(context, field_dim=8)
        >>> embed.names
        ['user', 'item', 'item.category', 'user.age']
        >>> embed(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3, 4, 8])
    """

    def __init__(self, context: ModelContext, field_dim: int | None = None) -> None:
        super().__init__()
        hidden = context.hidden_size
        self.field_dim = field_dim or hidden
        self.user_projection: nn.Module = nn.Identity()
        self.item_projection: nn.Module = nn.Identity()
        if self.field_dim != hidden:
            self.user_projection = nn.Linear(hidden, self.field_dim)
            self.item_projection = nn.Linear(hidden, self.field_dim)
        self.item_tables = nn.ModuleDict(
            {n: nn.Embedding(a.vocab_size, self.field_dim) for n, a in context.item_fields.items()}
        )
        self.user_tables = nn.ModuleDict(
            {n: nn.Embedding(a.vocab_size, self.field_dim) for n, a in context.user_fields.items()}
        )
        for table in [*self.item_tables.values(), *self.user_tables.values()]:
            nn.init.normal_(table.get_parameter("weight"), std=EMBEDDING_STD)
        self.item_multi = {n: is_multi_valued(a) for n, a in context.item_fields.items()}
        self.user_multi = {n: is_multi_valued(a) for n, a in context.user_fields.items()}
        self.names = (
            ["user", "item"] + [f"item.{n}" for n in self.item_tables] + [f"user.{n}" for n in self.user_tables]
        )

    @property
    def num_fields(self) -> int:
        return len(self.names)

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs) -> Tensor:
        """``user`` ``(B, D)`` (or ``(B, K, D)``, one per candidate), ``candidates`` ``(B, K, D)``.

        Returns ``(B, K, F, E)``.
        """
        b, k, _ = candidates.shape
        user_vec = self.user_projection(user)  # (B, E) or (B, K, E)
        if user_vec.dim() == 2:
            user_vec = user_vec.unsqueeze(1).expand(b, k, self.field_dim)
        parts = [user_vec, self.item_projection(candidates)]  # (B, K, E) each
        for name, table in self.item_tables.items():
            ids = field_ids(fields.item, name, "item", self.item_multi[name])  # (B, K) or (B, K, L)
            parts.append(embed_field(table, ids, self.item_multi[name]))  # (B, K, E)
        for name, table in self.user_tables.items():
            ids = field_ids(fields.user, name, "user", self.user_multi[name])  # (B,) or (B, L)
            parts.append(embed_field(table, ids, self.user_multi[name]).unsqueeze(1).expand(b, k, self.field_dim))
        return torch.stack(parts, dim=2)  # (B, K, F, E)
