"""Fixtures of lego-ctr's tests (fixtures only: conftest modules are not imported by name)."""

from __future__ import annotations

import pytest
import torch

from lego_core.testing import make_context, random_fields


@pytest.fixture
def context():
    """The core's tiny context: D = 16, item field "category", user field "age"."""
    return make_context()


@pytest.fixture
def make_inputs():
    """``make_inputs(context, b, k, seed)`` -> random user vectors ``(b, D)``, candidates ``(b, k, D)``, fields."""

    def make(context, b: int = 3, k: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        user = torch.randn(b, context.hidden_size, generator=g)
        candidates = torch.randn(b, k, context.hidden_size, generator=g)
        return user, candidates, random_fields(context, b, k, generator=g)

    return make
