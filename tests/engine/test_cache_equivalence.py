"""Cached evaluation (items once, users once, predictor per pair) equals the plain path.

The combinations are every installed content x behavior x predictor that fit
together, so the test grows as plugins land. Each brick is built with its
registered example options (``lego_core.testing.example_options``: a language
model points at a tiny stand-in).
The default run covers every brick at least once; the full product is marked
``slow`` (CI runs it).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import attrs
import numpy as np
import pytest
import torch

from lego_core.config.resolve import BrickChoice
from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.errors import CompatibilityError, LegoError
from lego_core.experiment import Experiment
from lego_core.kinds import kind_named
from lego_core.model.bricks import BEHAVIOR, CONTENT, PREDICTOR
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries
from lego_core.testing import example_options

HOST = PluginHost()
REG = Registries(HOST)
KINDS = ("content", "behavior", "predictor")


def _fits(content, behavior, predictor, task):
    return behavior.obj.output == predictor.obj.input and task in predictor.obj.tasks


def _task(predictor):
    return "matching" if "matching" in predictor.obj.tasks else "ranking"


def all_combinations():
    return [
        (c, b, p)
        for c, b, p in itertools.product(REG[CONTENT], REG[BEHAVIOR], REG[PREDICTOR])
        if _fits(c, b, p, _task(p))
    ]


def covering_combinations():
    """A few combinations in which every brick appears at least once."""
    chosen, covered = [], set()
    for combo in all_combinations():
        if any(e.qualified not in covered for e in combo):
            chosen.append(combo)
            covered.update(e.qualified for e in combo)
    return chosen


def _params(combos):
    return [pytest.param(*c, id="-".join(e.qualified for e in c)) for c in combos]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("bricks")


@pytest.fixture(scope="module")
def image_depot(depot_path, tmp_path_factory):
    """The shared depot plus an image column, for content operators that read images (lego-llm's vision)."""
    import shutil

    testing = pytest.importorskip("lego_llm.testing")
    copy = Path(shutil.copytree(depot_path, tmp_path_factory.mktemp("images") / "depot"))
    return testing.add_sample_images(copy)


def _reads_images(content) -> bool:
    return content.qualified == "llm:vision"


def _check(experiment_dict, workdir, content, behavior, predictor, request):
    neg_count = 2 if _task(predictor) == "matching" else 0
    data = {"path": str(request.getfixturevalue("image_depot"))} if _reads_images(content) else {}
    exp = Experiment.from_dict(
        experiment_dict(
            data=data, model={"neg_count": neg_count, "item_fields": ["category"]}, train={"batch_size": 16}
        ),
        host=HOST,
    )
    bricks = {
        k: BrickChoice(entry=e, options=example_options(e.obj, workdir))
        for k, e in zip(KINDS, (content, behavior, predictor))
    }
    exp.resolved = attrs.evolve(exp.resolved, bricks=bricks)
    try:
        model = exp.build(torch.device("cpu"))
    except (CompatibilityError, LegoError) as err:
        pytest.skip(f"not buildable on the tiny depot: {err}")
    # one training step so that nothing is at its initial value
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params or [torch.zeros(1, requires_grad=True)], lr=0.05)
    rows = torch.arange(8)
    candidates = torch.randint(0, model.items.num_items, (8, neg_count + 1))
    model.train()
    model(rows, candidates).sum().backward()
    optimizer.step()
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    keep = slice(0, 200)
    pairs = SplitPairs(
        rows=pairs.rows[keep], items=pairs.items[keep], labels=pairs.labels[keep], groups=pairs.groups[keep]
    )
    cached = score_split(model, pairs, cache=True, batch_size=64)
    plain = score_split(model, pairs, cache=False, batch_size=64)
    assert np.isfinite(cached).all()
    np.testing.assert_allclose(cached, plain, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("content", "behavior", "predictor"), _params(covering_combinations()))
def test_cached_equals_uncached_for_every_brick(experiment_dict, workdir, content, behavior, predictor, request):
    _check(experiment_dict, workdir, content, behavior, predictor, request)


@pytest.mark.slow
@pytest.mark.parametrize(("content", "behavior", "predictor"), _params(all_combinations()))
def test_cached_equals_uncached_for_every_combination(experiment_dict, workdir, content, behavior, predictor, request):
    _check(experiment_dict, workdir, content, behavior, predictor, request)


def _has_partner(kind, entry):
    """Whether the installed plugins hold a brick this one can be combined with."""
    if kind == "predictor":
        return any(b.obj.output == entry.obj.input for b in REG[BEHAVIOR])
    if kind == "behavior":
        return any(p.obj.input == entry.obj.output for p in REG[PREDICTOR])
    return True


def test_every_brick_is_covered():
    covered = {e.qualified for combo in covering_combinations() for e in combo}
    for kind in KINDS:
        for entry in REG[kind_named(kind)]:
            if _has_partner(kind, entry):  # e.g. DIN needs a sequence behavior (lego-text) to be installed
                assert entry.qualified in covered, f"{entry.qualified} fits no combination"
