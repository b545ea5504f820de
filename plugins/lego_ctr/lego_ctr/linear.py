"""The first-order (logistic regression) term over the raw fields.

``w0 + <w_u, u> + <w_c, c> + sum_f w_f[id_f]``: a bias, one weight vector for
each dense field (the user and the candidate vectors, before any projection)
and one scalar weight per id of each categorical field. A multi-valued field
adds the weights of all its values (a logistic regression over the multi-hot
encoding, as RecBole's first-order term of a ``token_seq`` field). This is the
"wide" or "linear" part of Wide&Deep, FM, DeepFM, xDeepFM and FiBiNET.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lego_core.model.context import ModelContext
from lego_core.model.inputs import FieldInputs
from lego_ctr.fields import embed_field, field_ids, is_multi_valued


class FieldLinear(nn.Module):
    """First-order term of the fields, one logit per candidate.

    Args:
        context: the model context (``hidden_size``, ``item_fields``, ``user_fields``).

    Example:
        >>> from lego_core.testing import make_context, random_fields
        >>> context = make_context()
        >>> linear = FieldLinear(context)
        >>> linear(torch.randn(2, 16), torch.randn(2, 3, 16), random_fields(context, 2, 3)).shape
        torch.Size([2, 3])
    """

    def __init__(self, context: ModelContext) -> None:
        super().__init__()
        hidden = context.hidden_size
        self.bias = nn.Parameter(torch.zeros(1))
        self.user = nn.Linear(hidden, 1, bias=False)
        self.item = nn.Linear(hidden, 1, bias=False)
        self.item_weights = nn.ModuleDict({n: nn.Embedding(a.vocab_size, 1) for n, a in context.item_fields.items()})
        self.user_weights = nn.ModuleDict({n: nn.Embedding(a.vocab_size, 1) for n, a in context.user_fields.items()})
        for table in [*self.item_weights.values(), *self.user_weights.values()]:
            nn.init.zeros_(table.get_parameter("weight"))
        self.item_multi = {n: is_multi_valued(a) for n, a in context.item_fields.items()}
        self.user_multi = {n: is_multi_valued(a) for n, a in context.user_fields.items()}

    def forward(self, user: Tensor, candidates: Tensor, fields: FieldInputs) -> Tensor:
        """``user`` ``(B, D)``, ``candidates`` ``(B, K, D)`` -> ``(B, K)``."""
        out = self.item(candidates).squeeze(-1) + self.user(user) + self.bias  # (B, K)
        for name, table in self.item_weights.items():
            ids = field_ids(fields.item, name, "item", self.item_multi[name])  # (B, K) or (B, K, L)
            out = out + embed_field(table, ids, self.item_multi[name], "sum").squeeze(-1)  # (B, K)
        for name, table in self.user_weights.items():
            ids = field_ids(fields.user, name, "user", self.user_multi[name])  # (B,) or (B, L)
            out = out + embed_field(table, ids, self.user_multi[name], "sum")  # (B, 1) broadcast over K
        return out
