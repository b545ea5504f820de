"""A strict cattrs converter and error messages that name the key path.

cattrs on its own coerces quietly (``1.5`` into an ``int`` field becomes 1,
``[1]`` into ``list[str]`` becomes ``["1"]``); a config value of the wrong
type must be an error instead. Every problem found in one structuring pass
is collected and reported at once.
"""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from lego_core.errors import ConfigError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
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


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for kind in (int, float, str, bool):
        converter.register_structure_hook(kind, _strict(kind, kind.__name__))
    return converter


CONVERTER = make_converter()


def _format(exc: BaseException, tp: Any) -> str:
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        parts = []
        for key in sorted(exc.extra_fields):
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return f"unknown key {', '.join(parts)}; known keys: {', '.join(known)}"
    if isinstance(exc, KeyError):
        return "required key missing"
    if isinstance(exc, TypeError) and tp is not None:
        return f"wrong type: {exc}, expected {_type_name(tp)}"
    return _message(exc)


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
    except (ClassValidationError, IterableValidationError) as err:
        return None, cattrs.transform_error(err, path=path, format_exception=_format)
    except (TypeError, ValueError) as err:  # raised by a validator in __init__
        return None, [f"{_message(err)} @ {path}"]


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
