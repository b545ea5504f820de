"""Every docstring example in lego_llm runs (torchrec's style guide: examples are doctests)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lego_llm

MODULES = sorted(m.name for m in pkgutil.iter_modules(lego_llm.__path__, "lego_llm."))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} doctest(s) failed"


def test_every_option_is_documented() -> None:
    import attrs

    from lego_llm.flatten import FlattenConfig
    from lego_llm.green import GreenSettings
    from lego_llm.iisan import IISANConfig
    from lego_llm.llmrec import LLMRecConfig
    from lego_llm.lm_operator import LMConfig
    from lego_llm.vision import VisionConfig

    for cls in (LMConfig, IISANConfig, FlattenConfig, LLMRecConfig, VisionConfig, GreenSettings):
        undocumented = [f.name for f in attrs.fields(cls) if not f.metadata.get("doc")]
        assert not undocumented, f"{cls.__name__}: {undocumented}"
