"""What a component may know about the data when it is built."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs


@attrs.frozen
class Attribute:
    """One item or user attribute as the model sees it.

    Args:
        name: column name in the depot.
        kind: ``"tokens"`` (text, padded to ``max_length``) or ``"category"``.
        vocab_size: number of ids, padding/unknown (0) included.
        max_length: tokens kept per item for text attributes, else 1.
        vocabulary: the depot vocabulary name (several columns may share one).
    """

    name: str
    kind: str
    vocab_size: int
    max_length: int = 1
    vocabulary: str = ""


@attrs.frozen
class ModelContext:
    """Facts every brick may use in its constructor; nothing here is mutable.

    Args:
        hidden_size: the size D of item and user vectors.
        num_items: rows in the item table.
        num_users: rows in the user table (history contexts).
        num_persons: ids in the user table's ``user_id`` vocabulary (0 = unknown).
        item_attributes: the attributes the experiment selected, in order.
        user_attributes: categorical user attributes available to the model.
        item_fields: categorical item attributes fed to the predictor as fields; one of kind
            ``"tokens"`` is multi-valued (genres, tags: up to ``max_length`` ids per item).
        user_fields: categorical user attributes fed to the predictor as fields (the same).
        max_history: history length H after truncation.
        depot_path: the depot directory (for caches kept next to the data).
        task: ``"matching"`` or ``"ranking"``.
    """

    hidden_size: int
    num_items: int
    num_users: int
    num_persons: int = 1
    item_attributes: Mapping[str, Attribute] = attrs.field(factory=dict)
    user_attributes: Mapping[str, Attribute] = attrs.field(factory=dict)
    item_fields: Mapping[str, Attribute] = attrs.field(factory=dict)
    user_fields: Mapping[str, Attribute] = attrs.field(factory=dict)
    max_history: int = 50
    depot_path: Path | None = None
    task: str = "matching"

    @property
    def text_attributes(self) -> dict[str, Attribute]:
        return {k: a for k, a in self.item_attributes.items() if a.kind == "tokens"}

    @property
    def categorical_attributes(self) -> dict[str, Attribute]:
        return {k: a for k, a in self.item_attributes.items() if a.kind == "category"}
