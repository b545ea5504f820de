"""Shared fixtures: tiny random checkpoints and a tiny depot, built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Tiny tensors: one thread is many times faster than several fighting over shared cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lego_llm.testing import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lego_llm.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="session")
def depot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lego_core.testing import tiny_depot

    return tiny_depot(tmp_path_factory.mktemp("depot") / "tiny", num_items=60, num_users=15)


@pytest.fixture()
def depot_copy(depot_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny depot without its caches (for tests that count cache folders)."""
    import shutil

    return Path(shutil.copytree(depot_dir, tmp_path / "depot", ignore=shutil.ignore_patterns("cache")))
