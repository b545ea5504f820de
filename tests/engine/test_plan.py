import numpy as np

from lego_core.data.depot import Depot
from lego_core.engine.plan import TrainingPlan


def test_matching_negatives_come_from_the_impression_first(depot_path):
    depot = Depot(depot_path)
    train = depot.table("train")
    groups, items, labels = (np.asarray(train[c]) for c in ("group", "item", "label"))
    plan = TrainingPlan(depot, neg_count=3, seed=1).epoch(1)
    assert plan.candidates.shape[1] == 4
    impression_negatives = {}
    for g, i, lab in zip(groups, items, labels):
        if lab < 0.5:
            impression_negatives.setdefault(int(g), set()).add(int(i))
    positive_group = {}
    for g, i, lab in zip(groups, items, labels):
        if lab > 0.5:
            positive_group.setdefault(int(i), set()).add(int(g))
    # every impression here has >= 3 non-clicked items, so all negatives come from some impression of that positive
    for cands in plan.candidates[:200]:
        pos, negs = int(cands[0]), [int(c) for c in cands[1:]]
        pools = [impression_negatives.get(g, set()) for g in positive_group[pos]]
        assert any(set(negs) <= pool for pool in pools)
        assert len(set(negs)) == len(negs), "drawn without replacement"


def test_sampled_negatives_exclude_the_users_positives(depot_path):
    depot = Depot(depot_path)
    plan = TrainingPlan(depot, neg_count=40, seed=3)  # more than any impression holds: the rest is sampled
    order = np.arange(min(300, len(plan.users)))
    negatives = plan._negatives(order, np.random.default_rng(0))
    positives = set(zip(plan.owner.tolist(), plan.items.tolist()))
    for i, negs in zip(order, negatives):
        pool = set(plan.neg_items[plan.neg_lo[i] : plan.neg_hi[i]].tolist())
        sampled = [int(c) for c in negs if int(c) not in pool]
        assert not any((int(plan.owner[i]), c) in positives for c in sampled)


def test_epoch_plan_depends_only_on_seed_and_epoch(depot_path):
    depot = Depot(depot_path)
    a, b = TrainingPlan(depot, 4, seed=5), TrainingPlan(depot, 4, seed=5)
    assert np.array_equal(a.epoch(2).candidates, b.epoch(2).candidates)
    assert not np.array_equal(a.epoch(1).rows, a.epoch(2).rows)
    assert not np.array_equal(a.epoch(1).candidates, TrainingPlan(depot, 4, seed=6).epoch(1).candidates)


def test_ranking_plan_keeps_labels(depot_path):
    depot = Depot(depot_path)
    epoch = TrainingPlan(depot, neg_count=0, seed=1).epoch(1)
    assert epoch.candidates.shape == (depot.table("train").num_rows, 1)
    assert set(np.unique(epoch.labels)) == {0.0, 1.0}
