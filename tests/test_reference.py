"""docs/reference/ is generated from the registries and must not be stale (scripts/make_reference.py)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from lego_core.kinds import KIND_NAMES, kind_named
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "reference"


def _generator():
    spec = importlib.util.spec_from_file_location("make_reference", ROOT / "scripts" / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _installed() -> list[str]:
    registries = Registries(PluginHost())
    return sorted({e.distribution for k in KIND_NAMES if k != "command" for e in registries[kind_named(k)]})


def test_the_reference_pages_are_up_to_date():
    header = (PAGES / "README.md").read_text().splitlines()[0]
    described = re.search(r"from (.*); do not edit", header)[1].split(", ")
    if described != _installed():
        pytest.skip(
            f"the pages describe {described}; this environment has {_installed()} (the 'all' session has exactly those)"
        )
    stale = [name for name, text in _generator().pages().items() if (PAGES / name).read_text() != text]
    assert not stale, f"run python scripts/make_reference.py: {stale} changed"
