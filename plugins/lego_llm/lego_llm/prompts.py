"""The prompts ``lego augment`` sends: one per item, or one per user row built from the user's history.

Items: ``template`` over item columns, written exactly as the ``lm`` operator
writes item text (:mod:`lego_llm.layout`).

Users (``lego augment --users``, ONCE's user profiler): ``template`` may name
user columns and the field ``{history}``, which is the user's most recent
``max_history`` items (oldest first, as ``users.history`` keeps them), each
written with ``item_template`` (default ``"{title}"``) and joined with
``separator``. A user row is a history context (MIND writes one per
impression), so many rows share one prompt: every distinct prompt is
generated once and its answer given to every row that has it.

Example:
    >>> import tempfile
    >>> from lego_core.testing import tiny_depot
    >>> from lego_core.data.depot import Depot
    >>> depot = Depot(tiny_depot(tempfile.mkdtemp() + "/d", num_items=60, num_users=15))
    >>> source = user_prompts(depot, "Read: {history}", "{category}", separator=", ", max_history=2)
    >>> source.table, len(source.prompts), source.prompts[0].count(",")
    ('users', 15, 1)
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from lego_core.data.depot import Depot
from lego_core.errors import ConfigError
from lego_llm.layout import Layout, column_strings, item_texts, make_layout, source_digests

HISTORY = "history"


@attrs.frozen
class PromptSource:
    """What is generated: one prompt per row of ``table``, and what the prompts depend on.

    Args:
        table: ``"items"`` or ``"users"``.
        prompts: one per table row.
        layout: the template (and its fields).
        item_layout: the layout each history item is written with (users), or None.
        parts: what the prompts depend on besides the template (part of the cache key).
    """

    table: str
    prompts: list[str]
    layout: Layout
    item_layout: Layout | None = None
    parts: dict[str, Any] = attrs.field(factory=dict)


def item_prompts(depot: Depot, template: str, where: str = "lego augment --template") -> PromptSource:
    layout = make_layout([], template, where=where)
    return PromptSource(
        table="items",
        prompts=item_texts(depot, layout),
        layout=layout,
        parts={"sources": source_digests(depot, layout.fields, where=where)},
    )


def history_lists(depot: Depot, max_history: int) -> list[np.ndarray]:
    """Each user row's last ``max_history`` item indices, oldest first."""
    history = depot.users["history"]
    offsets = np.asarray(history.offsets)
    values = np.asarray(history.values)
    return [values[max(offsets[r], offsets[r + 1] - max_history) : offsets[r + 1]] for r in range(len(history))]


def user_prompts(
    depot: Depot,
    template: str,
    item_template: str = "{title}",
    *,
    separator: str = "\n",
    max_history: int = 20,
    where: str = "lego augment --template",
) -> PromptSource:
    """One prompt per user row: ``template`` over user columns and ``{history}`` (see the module doc)."""
    if max_history <= 0:
        raise ConfigError(f"lego augment --max-history {max_history}: must be positive")
    layout = make_layout([], template, where=where)
    if HISTORY not in layout.fields:
        raise ConfigError(
            f"{where} = {template!r}: a user prompt needs the field {{{HISTORY}}} (the user's "
            "history, each item written with --item-template), e.g. "
            '"Describe this reader\'s interests. They read: {history}"'
        )
    item_layout = make_layout([], item_template, where="lego augment --item-template")
    user_fields = [f for f in layout.fields if f != HISTORY]
    items = item_texts(depot, item_layout)
    users = {f: column_strings(depot, f, where, table="users") for f in user_fields}
    prompts = []
    for row, history in enumerate(history_lists(depot, max_history)):
        values = {f: users[f][row] for f in user_fields}
        prompts.append(layout.template.format(**values, history=separator.join(items[i] for i in history)))
    parts = {
        "sources": source_digests(depot, item_layout.fields, where="lego augment --item-template"),
        "user_sources": source_digests(depot, user_fields, table="users", where=where),
        "history": depot.users.digest("history"),
        "item_template": item_layout.template,
        "separator": separator,
        "max_history": max_history,
    }
    return PromptSource(table="users", prompts=prompts, layout=layout, item_layout=item_layout, parts=parts)


def distinct(prompts: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct prompts in order of first appearance, and each row's index among them."""
    first: dict[str, int] = {}
    inverse = np.fromiter((first.setdefault(p, len(first)) for p in prompts), dtype=np.int64, count=len(prompts))
    return list(first), inverse


__all__ = ["HISTORY", "PromptSource", "distinct", "history_lists", "item_prompts", "user_prompts"]
