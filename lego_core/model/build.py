"""Build a :class:`Recommender` from a resolved experiment and its depot."""

from __future__ import annotations

from pathlib import Path

import torch

from lego_core.config.resolve import ResolvedExperiment
from lego_core.data.depot import Depot
from lego_core.errors import CompatibilityError
from lego_core.model.context import ModelContext
from lego_core.model.recommender import Recommender
from lego_core.model.stores import ItemStore, UserStore, attribute_of


def model_context(resolved: ResolvedExperiment, depot: Depot) -> ModelContext:
    config = resolved.config
    data, model = config.data, config.model
    item_attributes = {
        name: attribute_of(depot, "items", name, data.max_lengths.get(name, data.max_length),
                           f"{resolved.source} [data] item_attributes")
        for name in data.item_attributes
    }
    user_attributes = {
        name: attribute_of(depot, "users", name, 1, f"{resolved.source} [data] user_attributes")
        for name in data.user_attributes
    }
    item_fields = {
        name: attribute_of(depot, "items", name, 1, f"{resolved.source} [model] item_fields")
        for name in model.item_fields
    }
    for name, attr in item_fields.items():
        if attr.kind != "category":
            raise CompatibilityError(f"{resolved.source} [model] item_fields: {name!r} is a text column; "
                                     "only categorical columns can be predictor fields")
    user_fields = {}
    for name in model.user_fields:
        if name not in user_attributes:
            user_attributes[name] = attribute_of(depot, "users", name, 1, f"{resolved.source} [model] user_fields")
        user_fields[name] = user_attributes[name]
    users = depot.users
    num_persons = depot.vocab_size(users.vocab_name("user_id") or "user_id") if "user_id" in users else 1
    return ModelContext(
        hidden_size=model.hidden_size,
        num_items=depot.items.num_rows,
        num_users=users.num_rows,
        num_persons=num_persons,
        item_attributes=item_attributes,
        user_attributes=user_attributes,
        item_fields=item_fields,
        user_fields=user_fields,
        max_history=data.max_history,
        depot_path=Path(depot.path),
        task=model.task,
    )


def build_model(resolved: ResolvedExperiment, depot: Depot, device: torch.device | str = "cpu",
                seed: int | None = None) -> Recommender:
    """Bricks built from the registries with their options, on ``device``; parameters seeded."""
    context = model_context(resolved, depot)
    bricks = resolved.bricks
    behavior_cls = bricks["behavior"].cls
    if behavior_cls.needs_user_index and "user_id" not in depot.users:
        raise CompatibilityError(
            f"behavior operator {behavior_cls.name!r} needs a user id (a long-term user embedding), but the "
            f"depot {depot.path} has no users.user_id column; pick another behavior operator"
        )
    if seed is not None:
        torch.manual_seed(seed)
    content_cls = bricks["content"].cls
    content = content_cls(options=bricks["content"].options, context=context)
    behavior = behavior_cls(options=bricks["behavior"].options, context=context)
    predictor = bricks["predictor"].cls(options=bricks["predictor"].options, context=context)
    item_attributes = {**(context.item_attributes if content_cls.uses_content else {}), **context.item_fields}
    items = ItemStore(depot, item_attributes, device)
    users = UserStore(depot, context.user_attributes, context.max_history, device)
    model = Recommender(content, behavior, predictor, items, users, item_fields=list(context.item_fields),
                        user_fields=list(context.user_fields), page_size=resolved.config.model.item_page_size)
    model.to(device)
    content.prepare(items)
    model.to(device)
    return model
