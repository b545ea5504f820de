"""The docstring examples of the study and engine modules this feature added run and pass."""

import doctest

import pytest

from lego_core.engine import cold_start, progress, run
from lego_core.study import curves, space, stats


@pytest.mark.parametrize(
    "module", [space, stats, curves, cold_start, progress, run], ids=lambda m: m.__name__.rsplit(".", 1)[-1]
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
