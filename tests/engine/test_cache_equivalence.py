"""Cached evaluation (items once, users once, predictor per pair) equals the plain path.

The combinations are every installed content x behavior x predictor that fit
together, so the test grows as plugins land. Bricks whose options have no
usable defaults (a language model needs a checkpoint) are given options by
the plugin through ``lego_core.testing.COMBINATION_OPTIONS`` -like tables;
those without any are skipped with a reason.
"""

from __future__ import annotations

import itertools

import attrs
import numpy as np
import pytest
import torch

from lego_core.config.resolve import BrickChoice
from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.errors import CompatibilityError, LegoError
from lego_core.experiment import Experiment
from lego_core.plugin.host import PluginHost

HOST = PluginHost()
REG = HOST.registries


def _default_options(entry):
    try:
        return entry.obj.Options()
    except TypeError:  # required options: not testable without a fixture
        return None


def _fits(content, behavior, predictor, task):
    return behavior.obj.output == predictor.obj.input and task in predictor.obj.tasks


def combinations(task: str):
    for c, b, p in itertools.product(REG.content, REG.behavior, REG.predictor):
        if _fits(c, b, p, task) and all(_default_options(e) is not None for e in (c, b, p)):
            yield pytest.param(c, b, p, id=f"{c.qualified}-{b.qualified}-{p.qualified}")


def _check(experiment_dict, content, behavior, predictor, neg_count):
    data = experiment_dict(model={"neg_count": neg_count, "item_fields": ["category"]},
                           train={"batch_size": 16})
    exp = Experiment.from_dict(data, host=HOST)
    bricks = {k: BrickChoice(entry=e, options=_default_options(e))
              for k, e in (("content", content), ("behavior", behavior), ("predictor", predictor))}
    exp.resolved = attrs.evolve(exp.resolved, bricks=bricks)
    try:
        model = exp.build(torch.device("cpu"))
    except (CompatibilityError, LegoError) as err:
        pytest.skip(f"not buildable on the tiny depot: {err}")
    # one training step so that nothing is at its initial value
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad] or [torch.zeros(1, requires_grad=True)], lr=0.05)
    rows = torch.arange(8)
    candidates = torch.randint(0, model.items.num_items, (8, max(neg_count, 0) + 1))
    model.train()
    model(rows, candidates).sum().backward()
    optimizer.step()
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    pairs = SplitPairs(rows=pairs.rows[:300], items=pairs.items[:300], labels=pairs.labels[:300], groups=pairs.groups[:300])
    cached = score_split(model, pairs, cache=True, batch_size=64)
    plain = score_split(model, pairs, cache=False, batch_size=64)
    assert np.isfinite(cached).all()
    np.testing.assert_allclose(cached, plain, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("content", "behavior", "predictor"), list(combinations("matching")))
def test_cached_scores_equal_uncached_matching(experiment_dict, content, behavior, predictor):
    _check(experiment_dict, content, behavior, predictor, neg_count=2)


@pytest.mark.parametrize(("content", "behavior", "predictor"),
                         [c for c in combinations("ranking") if "ranking" in c.values[2].obj.tasks
                          and "matching" not in c.values[2].obj.tasks])
def test_cached_scores_equal_uncached_ranking_only(experiment_dict, content, behavior, predictor):
    _check(experiment_dict, content, behavior, predictor, neg_count=0)


def test_every_brick_is_covered():
    covered = {e.qualified for combo in combinations("matching") for e in combo.values}
    covered |= {e.qualified for combo in combinations("ranking") for e in combo.values}
    for kind in ("content", "behavior", "predictor"):
        for entry in REG[kind]:
            if _default_options(entry) is not None:
                assert entry.qualified in covered, f"{entry.qualified} fits no combination"
