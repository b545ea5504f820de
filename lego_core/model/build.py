"""Build a :class:`Recommender` from a resolved experiment and its depot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from lego_core.config.resolve import ResolvedExperiment
from lego_core.data.depot import Depot
from lego_core.errors import CompatibilityError, DataError
from lego_core.model.context import Attribute, ModelContext
from lego_core.model.recommender import Recommender
from lego_core.model.stores import ItemStore, UserStore, attribute_of


def _attributes(
    depot: Depot, table: str, names: Sequence[str], lengths: Callable[[str], int], where: str, problems: list[str]
) -> dict[str, Attribute]:
    out = {}
    for name in names:
        try:
            out[name] = attribute_of(depot, table, name, lengths(name), where)
        except (DataError, CompatibilityError) as err:
            problems.append(str(err))
    return out


def model_context(resolved: ResolvedExperiment, depot: Depot) -> ModelContext:
    """The facts bricks are built with; every column problem is reported at once (a :class:`DataError`)."""
    config = resolved.config
    data, model = config.data, config.model
    where = resolved.source
    problems: list[str] = []

    def length(name: str) -> int:  # tokens kept per row of a text or multi-valued column
        return data.max_lengths.get(name, data.max_length)

    item_attributes = _attributes(
        depot, "items", data.item_attributes, length, f"{where} [data] item_attributes", problems
    )
    user_attributes = _attributes(
        depot, "users", data.user_attributes, length, f"{where} [data] user_attributes", problems
    )
    # a multi-valued column (kind "tokens": genres, tags, a title's words) is a field too; the
    # predictor pools its values' embeddings (lego-ctr: their mean), as RecBole does for token_seq
    item_fields = _attributes(depot, "items", model.item_fields, length, f"{where} [model] item_fields", problems)
    missing_users = [n for n in model.user_fields if n not in user_attributes]
    user_attributes.update(_attributes(depot, "users", missing_users, length, f"{where} [model] user_fields", problems))
    user_fields = {n: user_attributes[n] for n in model.user_fields if n in user_attributes}
    behavior_cls = resolved.bricks["behavior"].cls
    if behavior_cls.needs_user_index and "user_id" not in depot.users:
        problems.append(
            f"behavior operator {behavior_cls.name!r} needs a user id (a long-term user embedding), "
            f"but the depot {depot.path} has no users.user_id column; pick another behavior operator"
        )
    if problems:
        raise DataError(
            problems[0]
            if len(problems) == 1
            else f"{len(problems)} problems with the depot {depot.path}:\n  - " + "\n  - ".join(problems)
        )
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


def build_model(
    resolved: ResolvedExperiment, depot: Depot, device: torch.device | str = "cpu", seed: int | None = None
) -> Recommender:
    """Bricks built from the registries with their options, on ``device``; parameters seeded."""
    context = model_context(resolved, depot)
    bricks = resolved.bricks
    behavior_cls = bricks["behavior"].cls
    if seed is not None:
        torch.manual_seed(seed)
    content_cls = bricks["content"].cls
    content = content_cls(options=bricks["content"].options, context=context)
    behavior = behavior_cls(options=bricks["behavior"].options, context=context)
    predictor = bricks["predictor"].cls(options=bricks["predictor"].options, context=context)
    item_attributes = {**(context.item_attributes if content_cls.uses_content else {}), **context.item_fields}
    items = ItemStore(depot, item_attributes, device)
    users = UserStore(depot, context.user_attributes, context.max_history, device)
    model = Recommender(
        content,
        behavior,
        predictor,
        items,
        users,
        item_fields=list(context.item_fields),
        user_fields=list(context.user_fields),
        page_size=resolved.config.model.item_page_size,
        names={kind: choice.entry.qualified for kind, choice in bricks.items()},
    )
    model.to(device)
    content.prepare(items)
    model.to(device)
    return model
