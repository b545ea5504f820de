"""What there is to know about one registered thing: description, paper, options, what it fits with.

:func:`describe` turns a registry entry into plain data (``lego show NAME
--json`` prints it, ``lego show NAME`` renders it, and
``scripts/make_reference.py`` writes the reference pages in docs/reference/
from it). Options come from the attrs fields of the thing's ``Options`` class
(settings: the class itself), with their type, default and
``metadata["doc"]``.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import attrs

from lego_core.cli.text import plain
from lego_core.registry import Entry, Registries


def _type_name(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    args = typing.get_args(tp)
    if type(None) in args and len(args) == 2:
        return f"{_type_name(next(a for a in args if a is not type(None)))}, optional"
    if args:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _default(field: Any) -> Any:
    if field.default is attrs.NOTHING:
        return "required"
    return field.default.factory() if isinstance(field.default, attrs.Factory) else field.default  # type: ignore[arg-type]


def options_of(cls: Any) -> list[dict[str, Any]]:
    """``[{"name", "type", "default", "doc"}]`` of an attrs class (empty for no options)."""
    if cls is None or not attrs.has(cls):
        return []
    fields = attrs.fields(attrs.resolve_types(cls))
    return [
        {"name": f.name, "type": _type_name(f.type), "default": _default(f), "doc": f.metadata.get("doc", "")}
        for f in fields
    ]


def _doc(obj: Any) -> str:
    text = getattr(obj, "description", "") or ""
    doc = inspect.getdoc(obj) or ""
    if doc and (not text or doc.startswith(text.rstrip("."))):
        text = doc
    elif doc and text:
        text = f"{text}\n\n{doc}"
    # arguments and examples are for the API docs; the description ends where they start
    for section in ("\nArgs:", "\nExample", "\n    >>>", "\nClass attributes:"):
        text = text.split(section, 1)[0]
    return plain(text.strip())


def _fits(kind: str, obj: Any, registries: Registries) -> dict[str, Any]:
    from lego_core.kinds import kind_named

    def names(of: str, test: Any) -> list[str]:
        return sorted(e.name for e in registries[kind_named(of)] if test(e.obj))

    if kind == "content":
        return {"reads item attributes": bool(obj.uses_content)}
    if kind == "behavior":
        return {
            "output": obj.output,
            "needs a user id": bool(obj.needs_user_index),
            "predictors that fit": names("predictor", lambda p: p.input == obj.output),
        }
    if kind == "predictor":
        return {
            "input": obj.input,
            "tasks": sorted(obj.tasks),
            "behavior operators that fit": names("behavior", lambda b: b.output == obj.input),
            "tasks that fit": names("task", lambda t: t.name in obj.tasks or t.like in obj.tasks),
        }
    if kind == "task":
        return {
            "like": obj.like,
            "predictors that fit": names("predictor", lambda p: obj.name in p.tasks or obj.like in p.tasks),
        }
    if kind == "metric":
        return {
            "cut-off": f"write it {obj.name}@K" if obj.needs_k else "none",
            "grouped": bool(obj.grouped),
            "higher is better": bool(obj.higher_is_better),
        }
    return {}


def describe(kind: str, entry: Entry[Any], registries: Registries) -> dict[str, Any]:
    """Plain data about ``entry`` (of kind ``kind``)."""
    obj = entry.obj
    out: dict[str, Any] = {
        "name": entry.name,
        "kind": kind,
        "qualified": entry.qualified,
        "plugin": entry.plugin,
        "distribution": entry.distribution,
        "version": entry.version,
    }
    if kind == "preset":
        out.update(
            description=obj.description,
            paper=obj.paper,
            requires=list(obj.requires),
            missing=obj.missing(),
            tables=dict(obj.tables),
        )
        return out
    if kind == "command":
        out.update(description=obj.description or obj.help)
        return out
    out["description"] = _doc(obj)
    paper = getattr(obj, "paper", "")
    if paper:
        out["paper"] = paper
    out["options"] = options_of(obj if kind == "settings" else getattr(obj, "Options", None))
    if kind == "settings":
        out["table"] = obj.where()
    if kind == "processor":
        out["files"] = [
            {"name": f.name, "format": f.format, "source": f.source, "optional": f.optional} for f in obj.files
        ]
    fits = _fits(kind, obj, registries)
    if fits:
        out["fits"] = fits
    return out
