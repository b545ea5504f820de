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

Example:
    >>> make_layout(["title", "category"], None).template
    'title: {title}; category: {category}'
    >>> make_layout([], "News: {title}").fields
    ('title',)
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import attrs
import numpy as np

from lego_core.data.depot import Depot
from lego_core.errors import ConfigError


@attrs.frozen
class Layout:
    """A template and the item columns it reads."""

    template: str
    fields: tuple[str, ...]


def make_layout(attributes: Sequence[str], template: str | None, where: str = "content_options.template") -> Layout:
    """The layout of ``template``, or the default one joining ``attributes`` as ``name: value``."""
    if template is None:
        if not attributes:
            raise ConfigError(f"{where}: no template and no item attributes; list some in data.item_attributes "
                              'or set a template such as "Title: {title}"')
        template = "; ".join(f"{a}: {{{a}}}" for a in attributes)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ConfigError(f"{where} = {template!r}: not a valid format string ({err}); write fields as "
                          "{title} and literal braces as {{ }}") from None
    fields = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field or not field.isidentifier() or spec or conversion:
            raise ConfigError(f"{where} = {template!r}: field {{{field}{'!' + conversion if conversion else ''}"
                              f"{':' + spec if spec else ''}}} must be a plain column name like {{title}}")
        if field not in fields:
            fields.append(field)
    if not fields:
        raise ConfigError(f"{where} = {template!r} names no item column; add fields such as {{title}}")
    return Layout(template=template, fields=tuple(fields))


def column_strings(depot: Depot, name: str, where: str = "content_options.template") -> list[str]:
    """One string per item for the column ``name`` (see the module doc for the order of sources)."""
    items = depot.items
    if name in items and items.kind(name) == "text":
        return items.strings(name)
    if f"{name}_text" in items and items.kind(f"{name}_text") == "text":
        return items.strings(f"{name}_text")
    if name not in items:
        usable = sorted(c for c in items if items.kind(c) in ("text", "tokens", "category", "int", "float"))
        raise ConfigError(f"{where}: the depot {depot.path} has no item column {name!r}; usable: {', '.join(usable)}")
    kind = items.kind(name)
    if kind == "tokens":
        words = depot.vocab(items.vocab_name(name) or "")
        column = items[name]
        values = np.asarray(column.values)
        return [" ".join(words[i] for i in values[column.offsets[r]:column.offsets[r + 1]] if i > 0)
                for r in range(len(column))]
    if kind == "category":
        words = depot.vocab(items.vocab_name(name) or "")
        return [words[i] if i > 0 else "" for i in np.asarray(items[name]).tolist()]
    if kind in ("int", "float"):
        return [str(v) for v in np.asarray(items[name]).tolist()]
    raise ConfigError(f"{where}: item column {name!r} is of kind {kind!r}, which has no text")


def item_texts(depot: Depot, layout: Layout) -> list[str]:
    """The text of every item, in item order."""
    columns = {f: column_strings(depot, f) for f in layout.fields}
    return [layout.template.format(**{f: columns[f][i] for f in layout.fields}) for i in range(depot.items.num_rows)]
