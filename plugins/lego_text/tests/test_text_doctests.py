"""Run the Example sections of every lego-text module as doctests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lego_text

MODULES = sorted(m.name for m in pkgutil.iter_modules(lego_text.__path__, "lego_text."))


@pytest.mark.parametrize("name", MODULES)
def test_text_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} doctest(s) failed"
