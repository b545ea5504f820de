"""The plugin registers its processors through the entry point, and its docstring examples run."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from lego_core.data.processor import PROCESSOR, Processor
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries

PACKAGE = Path(__file__).parents[1] / "lego_datasets"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "plugin"))


# processors whose fixture folders are not named after them
FIXTURE_PREFIXES = {"movielens": ("ml-",), "recbole": ("recbole-",), "mind": ("mind-",)}
FIXTURES = Path(__file__).parent / "fixtures"
README = Path(__file__).parents[1] / "README.md"


def _own_processors() -> list:
    return sorted(
        (e for e in Registries(PluginHost())[PROCESSOR] if e.distribution == "lego-datasets"), key=lambda e: e.name
    )


@pytest.mark.parametrize("entry", _own_processors(), ids=lambda e: e.name)
def test_every_processor_has_a_fixture_a_test_file_and_a_readme_row(entry) -> None:
    """A new processor cannot land without a fixture in its format, its own tests and its docs row."""
    prefixes = FIXTURE_PREFIXES.get(entry.name, (entry.name,))
    folders = [p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name.startswith(prefixes)]
    assert folders, f"no fixture folder fixtures/{prefixes[0]}* for processor {entry.name!r}"
    assert (Path(__file__).parent / f"test_datasets_{entry.name}.py").is_file(), (
        f"processor {entry.name!r} needs tests/test_datasets_{entry.name}.py"
    )
    assert f"| `{entry.name}` |" in README.read_text(), f"README.md has no table row for {entry.name!r}"


def test_processors_are_registered_by_the_entry_point() -> None:
    registry = Registries(PluginHost())[PROCESSOR]
    for name in ("movielens", "mind", "recbole"):
        entry = registry.get(name)
        assert entry.distribution == "lego-datasets" and issubclass(entry.obj, Processor)
        assert entry.obj.description and entry.obj.files


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    # the examples read tests/fixtures beside the package; an installed wheel has no tests folder, so
    # they are pointed at this checkout's copy of the module (the one these tests sit beside)
    beside_the_tests = Path(__file__).resolve().parents[1] / "lego_datasets" / f"{module}.py"
    result = doctest.testmod(
        importlib.import_module(f"lego_datasets.{module}"), extraglobs={"__file__": str(beside_the_tests)}
    )
    assert result.failed == 0


@pytest.mark.parametrize("name", ["movielens", "mind", "recbole"])
def test_every_option_is_documented(name: str) -> None:
    import attrs

    processor = Registries(PluginHost())[PROCESSOR].get(name).obj
    for field in attrs.fields(processor.Options):
        assert field.metadata.get("doc"), f"{name}.{field.name} has no doc"


@pytest.mark.parametrize("name", ["movielens", "mind", "recbole"])
def test_every_option_is_in_the_readme(name: str) -> None:
    import attrs

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    processor = Registries(PluginHost())[PROCESSOR].get(name).obj
    assert f"`{name}`" in readme
    for field in attrs.fields(processor.Options):
        assert f"`{field.name}`" in readme, f"{name}.{field.name} is not in README.md"
