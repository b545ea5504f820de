"""From item attributes to one text per item, the input of a language model.

A layout is a :meth:`str.format` template whose fields are item columns:
``"Title: {title} Category: {category}"``. Without a template the selected
attributes are joined as ``"title: ...; category: ..."``. A field's string
comes from, in order:

- a ``text`` column of that name (raw UTF-8 strings);
- the ``<name>_text`` column (by convention the original string of the text
  attribute ``<name>``, which language-model tokenizers need);
- a ``tokens`` column: its word ids joined through the depot vocabulary (the
  fallback when a depot keeps no raw text: lower-cased, re-tokenised words);
- a ``category`` column: its vocabulary entry (unknown, id 0, gives "");
- ``int``/``float`` columns: the number.

:func:`source_digests` names the columns (and vocabularies) a layout really
reads with a hash of their contents; every cache built from item text puts it
in its key, so a column replaced under the same name is never read through a
cache of its old contents.

Example:
    >>> make_layout(["title", "category"], None).template
    'title: {title}; category: {category}'
    >>> make_layout([], "News: {title}").fields
    ('title',)
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from lego_core.data.depot import Depot
from lego_core.errors import ConfigError


@attrs.frozen
class Layout:
    """A template and the item columns it reads."""

    template: str
    fields: tuple[str, ...]


def text_attributes(context: Any) -> list[str]:
    """The experiment's item attributes that can be text (image columns are not)."""
    return [name for name, attribute in context.item_attributes.items() if attribute.kind != "image"]


def make_layout(attributes: Sequence[str], template: str | None, where: str = "content_options.template") -> Layout:
    """The layout of ``template``, or the default one joining ``attributes`` as ``name: value``."""
    if template is None:
        if not attributes:
            raise ConfigError(
                f"{where}: no template and no item attributes; list some in data.item_attributes "
                'or set a template such as "Title: {title}"'
            )
        template = "; ".join(f"{a}: {{{a}}}" for a in attributes)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ConfigError(
            f"{where} = {template!r}: not a valid format string ({err}); write fields as "
            "{title} and literal braces as {{ }}"
        ) from None
    fields = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field or not field.isidentifier() or spec or conversion:
            raise ConfigError(
                f"{where} = {template!r}: field {{{field}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} must be a plain column name like {{title}}"
            )
        if field not in fields:
            fields.append(field)
    if not fields:
        raise ConfigError(f"{where} = {template!r} names no item column; add fields such as {{title}}")
    return Layout(template=template, fields=tuple(fields))


TEXT_KINDS = ("text", "tokens", "category", "int", "float")


def source_column(depot: Depot, name: str, where: str = "content_options.template", table: str = "items") -> str:
    """The column a template field ``{name}`` reads: ``name`` if it is text, else ``<name>_text``, else ``name``."""
    rows = depot.table(table)
    if name in rows and rows.kind(name) == "text":
        return name
    if f"{name}_text" in rows and rows.kind(f"{name}_text") == "text":
        return f"{name}_text"
    if name not in rows:
        usable = sorted(c for c in rows if rows.kind(c) in TEXT_KINDS)
        noun = "item" if table == "items" else "user"
        raise ConfigError(
            f"{where}: the depot {depot.path} has no {noun} column {name!r}; usable: "
            f"{', '.join(usable)} (a generated column comes from `lego augment --column {name}`"
            f"{' --users' if table == 'users' else ''})"
        )
    if rows.kind(name) not in TEXT_KINDS:
        raise ConfigError(f"{where}: {table} column {name!r} is of kind {rows.kind(name)!r}, which has no text")
    return name


def source_digests(
    depot: Depot, fields: Sequence[str], table: str = "items", where: str = "content_options.template"
) -> dict[str, str]:
    """``{column: content digest}`` of the columns ``fields`` read (with their vocabulary's, for ids)."""
    rows = depot.table(table)
    out = {}
    for field in fields:
        column = source_column(depot, field, where, table)
        digest = rows.digest(column)
        vocab = rows.vocab_name(column) if rows.kind(column) in ("tokens", "category") else None
        if vocab:
            words = json.dumps(depot.vocab(vocab), ensure_ascii=False).encode()
            digest += ":" + hashlib.sha256(words).hexdigest()[:16]
        out[column] = digest
    return out


def column_strings(depot: Depot, name: str, where: str = "content_options.template", table: str = "items") -> list[str]:
    """One string per row of ``table`` for the column ``name`` (see the module doc for the order of sources)."""
    items = depot.table(table)
    column = source_column(depot, name, where, table)
    if items.kind(column) == "text":
        return items.strings(column)
    kind = items.kind(name)
    if kind == "tokens":
        words = depot.vocab(items.vocab_name(name) or "")
        column = items[name]
        values = np.asarray(column.values)
        return [
            " ".join(words[i] for i in values[column.offsets[r] : column.offsets[r + 1]] if i > 0)
            for r in range(len(column))
        ]
    if kind == "category":
        words = depot.vocab(items.vocab_name(name) or "")
        return [words[i] if i > 0 else "" for i in np.asarray(items[name]).tolist()]
    return [str(v) for v in np.asarray(items[name]).tolist()]  # int, float


def item_texts(depot: Depot, layout: Layout) -> list[str]:
    """The text of every item, in item order."""
    columns = {f: column_strings(depot, f) for f in layout.fields}
    return [layout.template.format(**{f: columns[f][i] for f in layout.fields}) for i in range(depot.items.num_rows)]
