"""The ID embedding table: an item is its own learned vector, no content read.

Used for ID-only models (``use_item_content = false``) and for the decoupled
design, where item vectors were computed once by a bigger model (``lego
embed``) and loaded here, frozen or fine-tuned.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import torch
from torch import Tensor, nn

from lego_core.errors import ConfigError
from lego_core.model.bricks import ContentOperator
from lego_core.model.context import ModelContext
from lego_core.model.inputs import ItemBatch


@attrs.define(kw_only=True, frozen=True)
class IDConfig:
    pretrained: str | None = attrs.field(
        default=None,
        metadata={
            "doc": "A .npy file of shape (num_items, E) to initialise the table from; a relative path is read from "
            "the depot folder."
        },
    )
    freeze: bool = attrs.field(
        default=False,
        metadata={
            "doc": "Keep the loaded vectors fixed (a projection to hidden_size is still trained when E differs)."
        },
    )
    sparse: bool = attrs.field(
        default=True,
        metadata={
            "doc": "Sparse gradients: a step updates only the rows its batch touches (lazy Adam), so its cost does "
            "not grow with the catalogue; false: dense AdamW over the whole table (and train.weight_decay on "
            "it)."
        },
    )


class IDOperator(ContentOperator):
    """Item vectors from an embedding table indexed by item.

    Args:
        options: :class:`IDConfig`.
        context: the model context (``num_items``, ``hidden_size``, ``depot_path``).

    Example:
        >>> from lego_core.model.context import ModelContext
        >>> op = IDOperator(context=ModelContext(hidden_size=8, num_items=5, num_users=2))
        >>> op(ItemBatch(index=torch.tensor([0, 4]))).shape
        torch.Size([2, 8])
    """

    name = "id"
    uses_content = False
    Options = IDConfig

    def __init__(self, *, options: IDConfig | None = None, context: ModelContext) -> None:
        super().__init__(options=options, context=context)
        opts: IDConfig = self.options
        hidden = context.hidden_size
        self.projection: nn.Module = nn.Identity()
        if opts.pretrained is None:
            if opts.freeze:
                raise ConfigError("content_options.freeze = true needs content_options.pretrained (a .npy file)")
            self.table = nn.Embedding(context.num_items, hidden, sparse=opts.sparse)
            nn.init.normal_(self.table.weight, std=0.1)
            return
        vectors = self._load(opts.pretrained)
        self.table = nn.Embedding.from_pretrained(
            torch.from_numpy(vectors), freeze=opts.freeze, sparse=opts.sparse and not opts.freeze
        )
        if vectors.shape[1] != hidden:
            self.projection = nn.Linear(vectors.shape[1], hidden)

    def _load(self, pretrained: str) -> np.ndarray:
        path = Path(pretrained).expanduser()
        if not path.is_absolute() and self.context.depot_path is not None:
            path = Path(self.context.depot_path) / path
        if not path.is_file():
            raise ConfigError(f"content_options.pretrained: no file {path}; write one with `lego embed` or give a path")
        vectors = np.load(path).astype(np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != self.context.num_items:
            raise ConfigError(
                f"content_options.pretrained: {path} has shape {vectors.shape}, expected "
                f"({self.context.num_items}, E): one row per item of the depot"
            )
        return vectors

    def forward(self, items: ItemBatch) -> Tensor:
        return self.projection(self.table(items.index))  # (N, D)
