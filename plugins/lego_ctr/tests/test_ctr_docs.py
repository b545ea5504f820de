"""The docstring examples run, and every option carries its documentation."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import attrs
import pytest

import lego_ctr
from lego_ctr.plugin import lego_register_predictors

MODULES = sorted(m.name for m in pkgutil.iter_modules(lego_ctr.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(f"lego_ctr.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("cls", lego_register_predictors(), ids=lambda c: c.name)
def test_options_are_documented(cls):
    assert cls.Options.__name__ == cls.__name__.removesuffix("Predictor") + "Config"
    for field in attrs.fields(cls.Options):
        assert field.metadata.get("doc"), f"{cls.Options.__name__}.{field.name} has no doc"
