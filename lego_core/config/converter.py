"""A strict cattrs converter and error messages that name the key path.

cattrs on its own coerces quietly (``1.5`` into an ``int`` field becomes 1,
``[1]`` into ``list[str]`` becomes ``["1"]``, ``"title"`` becomes its
characters); a config value of the wrong type must be an error instead.
Every problem found in one structuring pass is collected and reported at
once, each with its key path (a validator's error too: ``$.data.group_by``).
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mapping,
    is_mutable_sequence,
    list_structure_factory,
)
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, mapping_structure_factory

from lego_core.errors import ConfigError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    if typing.get_args(tp):  # list[str], float | None: the __name__ would drop the arguments
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _strict(kind: type, name: str) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"got a boolean ({value!r})")
        if kind is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, kind):
            raise TypeError(f"got {type(value).__name__} {value!r}")
        return value

    hook.__name__ = f"strict_{name}"
    return hook


def _checked(kinds: tuple[type, ...], make: Any) -> Any:
    """A hook factory that refuses values of the wrong container type before cattrs' own hook runs.

    Without it a string structures into ``list[str]`` as its characters and a
    string given for a table fails with ``'str' object has no attribute 'keys'``.
    """

    def factory(tp: Any, converter: cattrs.Converter) -> Any:
        inner = make(tp, converter)

        def hook(value: Any, cl: Any) -> Any:
            if not isinstance(value, kinds):
                raise TypeError(f"got {type(value).__name__} {value!r}")
            return inner(value, cl)

        return hook

    return factory


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _attrs_structure_fn(cl: Any, converter: cattrs.Converter) -> Any:
    attrs.resolve_types(cl)
    return make_dict_structure_fn(cl, converter)


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for kind in (int, float, str, bool):
        converter.register_structure_hook(kind, _strict(kind, kind.__name__))
    converter.register_structure_hook_factory(is_mutable_sequence, _checked((list, tuple), list_structure_factory))
    converter.register_structure_hook_factory(
        _is_homogeneous_tuple, _checked((list, tuple), homogenous_tuple_structure_factory)
    )
    converter.register_structure_hook_factory(is_mapping, _checked((dict,), mapping_structure_factory))
    converter.register_structure_hook_factory(attrs.has, _checked((dict,), _attrs_structure_fn))
    return converter


CONVERTER = make_converter()


def _format(exc: BaseException, tp: Any) -> str:
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        parts = []
        for key in sorted(exc.extra_fields):
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return f"unknown key {', '.join(parts)}; known keys: {', '.join(known) or '(none: it takes no options)'}"
    if isinstance(exc, KeyError):
        return "required key missing"
    if isinstance(exc, TypeError) and tp is not None:
        expected = "a table" if attrs.has(tp) or is_mapping(tp) else _type_name(tp)
        return f"wrong type: {exc}, expected {expected}"
    return _message(exc)


def _validated_field(exc: BaseException, cl: Any) -> str | None:
    """The field a validator of ``cl`` complained about, if the error says.

    attrs' ``in_`` raises ``ValueError(msg, attribute, ...)``; its ``gt``/``ge``
    and most hand-written validators start the message with the field name.
    """
    if not isinstance(exc, (ValueError, TypeError)) or not exc.args:
        return None
    if len(exc.args) > 1 and isinstance(exc.args[1], attrs.Attribute):
        return exc.args[1].name
    names = {f.name for f in attrs.fields(cl)} if attrs.has(cl) else set()
    match = re.match(r"'?([A-Za-z_]\w*)'?", str(exc.args[0]))
    return match[1] if match and match[1] in names else None


def _transform(exc: BaseException, path: str, tp: Any = None, cl: Any = None) -> list[str]:
    """``cattrs.transform_error``, except that a validator's error names its field in the path."""
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        errors = []
        for inner, note in with_notes:
            step = (
                f"[{getattr(note, 'index', '?')!r}]"
                if isinstance(exc, IterableValidationError)
                else f".{getattr(note, 'name', '?')}"
            )
            where = f"{path}{step}"
            errors.extend(_transform(inner, where, note.type))
        for inner in without:
            errors.extend(_transform(inner, path, cl=getattr(exc, "cl", None)))
        return errors
    field = _validated_field(exc, cl)
    if field is not None:
        return [f"{_message(exc)} @ {path}.{field}"]
    return [f"{_format(exc, tp)} @ {path}"]


def _message(exc: BaseException) -> str:
    # attrs validators raise ValueError(message, attribute, allowed, value): keep the message
    if exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)


def structure(data: Any, cls: type[T], path: str) -> tuple[T | None, list[str]]:
    """Structure ``data`` into ``cls``; return the object or the list of problems (each ``... @ path``)."""
    if not isinstance(data, dict):
        return None, [f"expected a table, got {type(data).__name__} {data!r} @ {path}"]
    try:
        return CONVERTER.structure(data, cls), []
    except (ClassValidationError, IterableValidationError, TypeError, ValueError) as err:
        # TypeError/ValueError: raised by a validator in the top-level class's __init__
        return None, _transform(err, path, cl=cls)


def structure_or_raise(data: Any, cls: type[T], path: str, source: str = "") -> T:
    obj, problems = structure(data, cls, path)
    if problems:
        raise ConfigError(format_problems(problems, source))
    assert obj is not None
    return obj


def format_problems(problems: list[str], source: str = "") -> str:
    where = f"{source}: " if source else ""
    if len(problems) == 1:
        return f"{where}{problems[0]}"
    return f"{where}{len(problems)} problems:\n  - " + "\n  - ".join(problems)


def unstructure(obj: Any) -> Any:
    return CONVERTER.unstructure(obj)
