"""The plugin registers its processors through the entry point, and its docstring examples run."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from lego_core.data.processor import Processor
from lego_core.plugin.host import PluginHost

MODULES = ["reader", "columns", "splits", "atomic", "grouplens", "movielens", "recbole", "mind"]


def test_processors_are_registered_by_the_entry_point() -> None:
    registry = PluginHost().registries["processor"]
    for name in ("movielens", "mind", "recbole"):
        entry = registry.get(name)
        assert entry.distribution == "lego-datasets" and issubclass(entry.obj, Processor)
        assert entry.obj.description and entry.obj.files


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"lego_datasets.{module}"))
    assert result.failed == 0


@pytest.mark.parametrize("name", ["movielens", "mind", "recbole"])
def test_every_option_is_documented(name: str) -> None:
    import attrs

    processor = PluginHost().registries["processor"].get(name).obj
    for field in attrs.fields(processor.Options):
        assert field.metadata.get("doc"), f"{name}.{field.name} has no doc"


@pytest.mark.parametrize("name", ["movielens", "mind", "recbole"])
def test_every_option_is_in_the_readme(name: str) -> None:
    import attrs

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    processor = PluginHost().registries["processor"].get(name).obj
    assert f"`{name}`" in readme
    for field in attrs.fields(processor.Options):
        assert f"`{field.name}`" in readme, f"{name}.{field.name} is not in README.md"
